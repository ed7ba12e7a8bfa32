"""Airflow trigger forms generated from the settings models.

A DAG lists the dotted params keys its form shows (``["collect.source",
"validate.min_rows"]``); each field's Param takes its type, bounds, closed set, title and
description from the model's JSON schema and its default from params.yaml. The form's
field names are the dotted keys, so a run's params are the overrides
:func:`pipelines.config.load_settings` takes, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pipelines.config.errors import settings_error
from pipelines.config.settings import Settings, override_keys, read_params

#: JSON-schema keywords a form field carries over from the model.
SCHEMA_KEYS: tuple[str, ...] = (
    "type", "format", "enum", "items", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "pattern", "minItems", "maxItems", "minLength", "maxLength", "properties",
    "additionalProperties", "title", "description",
)


def _inline(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref`` to a sub-section replaced by that section's schema."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    target = defs[ref.rsplit("/", 1)[-1]]
    return {**{k: v for k, v in target.items() if k != "title"},
            **{k: v for k, v in schema.items() if k != "$ref"}}


def field_schema(key: str) -> dict[str, Any]:
    """The JSON schema of the setting at dotted ``key`` (``section.key``), as a form field
    shows it (no default).

    Raises:
        ValueError: if ``key`` is not ``section.key`` of a known section and key.
    """
    allowed = override_keys()
    section, _, name = key.partition(".")
    if name not in allowed.get(section, ()):
        raise ValueError(f"trigger_form: unknown key {key!r}; keys are 'section.key' of "
                         f"params.yaml, e.g. 'collect.source'.")
    model: type[BaseModel] = Settings.model_fields[section].annotation
    schema = model.model_json_schema()
    prop = _inline(schema["properties"][name], schema.get("$defs", {}))
    options = prop.get("anyOf", ())
    if options and all(set(o) <= {"type"} for o in options):
        # an optional plain value (``str | None``): a form field of either type
        prop = {**prop, "type": [o["type"] for o in options]}
    return {k: prop[k] for k in SCHEMA_KEYS if k in prop}


def form_fields(keys: Sequence[str], params_file: str | Path) -> dict[str, dict[str, Any]]:
    """Dotted key → the keyword arguments of its Airflow ``Param``: ``default`` (from
    ``params_file``, each section validated; empty optional text is None, which the
    settings read back as empty) and the field's schema.

    Raises:
        ValueError: for an unknown key or an invalid params section.
    """
    params = read_params(params_file)
    sections: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        schema = field_schema(key)
        section, _, name = key.partition(".")
        if section not in sections:
            model: type[BaseModel] = Settings.model_fields[section].annotation
            raw = params.get(section) or {}
            try:
                # the section alone: `{task}` stays a placeholder the form can keep
                sections[section] = model.model_validate(raw).model_dump(mode="json")
            except ValidationError as error:
                raise settings_error(error, model, raw, prefix=(section,),
                                     source=Path(params_file).name) from None
        default = sections[section][name]
        if default == "" and "null" in schema.get("type", ()):
            # optional text left empty: the form shows an empty, not required, field (a
            # field with a format such as a date could not hold "")
            default = None
        out[key] = {"default": default, **schema}
    return out


def trigger_form(keys: Sequence[str], params_file: str | Path) -> dict[str, Any]:
    """Dotted key → Airflow ``Param`` for a DAG's ``params=`` (see :func:`form_fields`).

    Raises:
        ValueError: for an unknown key or an invalid params section.
    """
    from airflow.sdk import Param

    return {key: Param(fields.pop("default"), **fields)
            for key, fields in form_fields(keys, params_file).items()}


def task_section_keys() -> tuple[str, ...]:
    """The dotted keys of every task's own params section (``conversion.source``, ...):
    the training form shows them, so a task added to the registry gets its fields there
    with no edit to the DAG."""
    from pipelines.config.names import TASK_NAMES
    from pipelines.tasks import get_task

    return tuple(f"{name}.{field}" for name in TASK_NAMES
                 if (model := get_task(name).settings_model) is not None
                 for field in model.model_fields)
