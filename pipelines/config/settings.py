"""params.yaml (+ a run's overrides) → one validated :class:`Settings`.

Only entry points (the CLI, the Airflow task wrappers, the DAG files for their forms) read
YAML; core functions receive the sections' fields as explicit arguments.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from pipelines.config.data import CollectConfig, CollectDailyConfig, FeatureSettings, ValidateConfig
from pipelines.config.errors import settings_error
from pipelines.config.monitoring import MonitorConfig
from pipelines.config.names import RUN_NOTE_KEYS, TASK_NAMES
from pipelines.config.section import SECTION_KEYS
from pipelines.config.serving import ChampionChallengerConfig, ServeConfig
from pipelines.config.session_segments import SessionSegmentsConfig
from pipelines.config.training import (
    PromoteConfig,
    RegisterConfig,
    SegmentsConfig,
    TrainConfig,
)
from pipelines.tasks import get_task

#: Placeholder of ``register.model_name`` and ``serve.score_model_uri``.
TASK_PLACEHOLDER = "{task}"

with warnings.catch_warnings():
    # sections named `validate` and `register` shadow BaseModel.validate (pydantic v1's,
    # deprecated) and ABCMeta.register; neither is used on settings
    warnings.filterwarnings("ignore", message='Field name "(validate|register)"',
                            category=UserWarning)

    class PlatformSettings(BaseModel):
        """The platform's sections of params.yaml, validated (:class:`Settings` adds the
        tasks' own sections). Sections absent from the file take the models' defaults,
        which equal params.yaml's."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        collect: CollectConfig = Field(default_factory=CollectConfig)
        collect_daily: CollectDailyConfig = Field(default_factory=CollectDailyConfig)
        validate: ValidateConfig = Field(default_factory=ValidateConfig)
        features: FeatureSettings = Field(default_factory=FeatureSettings)
        train: TrainConfig = Field(default_factory=TrainConfig)
        register: RegisterConfig = Field(default_factory=RegisterConfig)
        segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
        monitor: MonitorConfig = Field(default_factory=MonitorConfig)
        promote: PromoteConfig = Field(default_factory=PromoteConfig)
        champion_challenger: ChampionChallengerConfig = Field(
            default_factory=ChampionChallengerConfig)
        serve: ServeConfig = Field(default_factory=ServeConfig)
        session_segments: SessionSegmentsConfig = Field(default_factory=SessionSegmentsConfig)

        @model_validator(mode="before")
        @classmethod
        def _name_the_task(cls, data: Any) -> Any:
            """An empty section means its defaults; ``{task}`` in the registered model name
            and the scoring URI becomes ``train.task`` (each task has its own registered
            model)."""
            if not isinstance(data, Mapping):
                return data
            data = {k: {} if v is None else dict(v) if isinstance(v, Mapping) else v
                    for k, v in data.items()}
            train = data.get("train", {})
            task = (train.get("task", TrainConfig.model_fields["task"].default)
                    if isinstance(train, dict) else None)
            if not isinstance(task, str):
                return data
            for section, key, model in (("register", "model_name", RegisterConfig),
                                        ("serve", "score_model_uri", ServeConfig)):
                values = data.get(section, {})
                value = (values.get(key, model.model_fields[key].default)
                         if isinstance(values, dict) else None)
                if isinstance(value, str):
                    data[section] = {**values, key: value.replace(TASK_PLACEHOLDER, task)}
            return data

        @property
        def task_sections(self) -> dict[str, BaseModel]:
            """The tasks' own sections (``conversion``, ...), by task name."""
            return {name: getattr(self, name) for name in TASK_NAMES
                    if name in type(self).model_fields}

        def params(self) -> dict[str, dict[str, Any]]:
            """The effective settings as a plain JSON-able dict, section → key → value
            (what a training run logs to MLflow)."""
            return self.model_dump(mode="json")


def _task_section_fields() -> dict[str, Any]:
    """A field per task that declares its own params section (its ``settings_model``)."""
    fields: dict[str, Any] = {}
    for name in TASK_NAMES:
        model = get_task(name).settings_model
        if model is not None:
            fields[name] = (model, Field(default_factory=model))
    return fields


#: Every section of params.yaml: the platform's and each task's own (adding a task with a
#: section adds a field here, with no edit to this module).
Settings = create_model("Settings", __base__=PlatformSettings, __module__=__name__,
                        **_task_section_fields())


def section_key(model: type[BaseModel]) -> tuple[str, ...]:
    """Where a section model lives in params.yaml: ``("train",)``, ``("train", "lightgbm")``.

    Raises:
        LookupError: for a model that is no section of :class:`Settings`.
    """
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if section is model:
            return (name,)
        for key, sub in section.model_fields.items():
            if sub.annotation is model:
                return (name, key)
    raise LookupError(f"section_key: {model.__name__} is no section of Settings.")


SECTION_KEYS.update({field.annotation: (name,) for name, field in Settings.model_fields.items()})
SECTION_KEYS.update({sub.annotation: (name, key) for name, field in Settings.model_fields.items()
                     for key, sub in field.annotation.model_fields.items()
                     if isinstance(sub.annotation, type) and issubclass(sub.annotation, BaseModel)})


def read_params(params_file: str | Path) -> dict[str, Any]:
    """Read params.yaml as a plain dict (no validation).

    Raises:
        FileNotFoundError: if ``params_file`` does not exist.
        ValueError: if the file is not a YAML mapping.
    """
    with open(params_file, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{params_file}: expected a YAML mapping of stage sections; got "
                         f"{type(data).__name__}.")
    return data


def override_keys() -> dict[str, tuple[str, ...]]:
    """Section → the keys an override may set in it (``section.key``)."""
    return {name: tuple(field.annotation.model_fields)
            for name, field in Settings.model_fields.items()}


def apply_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """A copy of ``params`` with ``overrides`` (dotted ``section.key`` → value) applied.

    A sub-section's value (``train.lightgbm``, ``monitor.min_effect``) is merged into the
    params' one: the keys it does not name keep their params value. Run-note keys
    (:data:`RUN_NOTE_KEYS`, e.g. ``reason``) are ignored.

    Raises:
        ValueError: for a key that is not ``section.key`` of a known section and key,
            naming it and the allowed keys.
    """
    allowed = override_keys()
    merged = {k: dict(v) if isinstance(v, Mapping) else v for k, v in params.items()}
    for name, value in overrides.items():
        if name in RUN_NOTE_KEYS:
            continue
        section, _, key = name.partition(".")
        if section not in allowed:
            raise ValueError(f"overrides: unknown key {name!r}: no section {section!r}; "
                             f"keys are 'section.key' with a section among "
                             f"{sorted(allowed)}.")
        if key not in allowed[section]:
            raise ValueError(f"overrides: unknown key {name!r}; allowed in {section!r}: "
                             f"{[f'{section}.{k}' for k in allowed[section]]}.")
        current = merged.get(section)
        current = current if isinstance(current, dict) else {}
        model = Settings.model_fields[section].annotation.model_fields[key].annotation
        if (isinstance(model, type) and issubclass(model, BaseModel)
                and isinstance(value, Mapping) and isinstance(current.get(key), Mapping)):
            value = {**current[key], **value}   # a sub-section: keys not given stay as in params
        merged[section] = {**current, key: value}
    return merged


def settings_from_params(params: Mapping[str, Any], *, source: str = "params.yaml"
                         ) -> Settings:
    """Validate a params mapping (section → key → value).

    Raises:
        ValueError: one line per invalid entry, each naming the dotted key, the rule and
            the value (``params.yaml: 'collect.demo_rows' must be an int in [1, 10000000];
            got 0.``), and unknown keys with the allowed ones.
    """
    try:
        return Settings.model_validate(params)
    except ValidationError as error:
        raise settings_error(error, Settings, params, source=source) from None


def load_settings(params_file: str | Path, overrides: Mapping[str, Any] | None = None
                  ) -> Settings:
    """Read ``params_file``, apply ``overrides`` (dotted keys, e.g. a trigger form's
    ``{"validate.min_rows": 50}``) and validate.

    Raises:
        FileNotFoundError: if ``params_file`` does not exist.
        ValueError: for an unknown override key or an invalid value (see
            :func:`settings_from_params`).
    """
    params = apply_overrides(read_params(params_file), overrides or {})
    return settings_from_params(params, source=Path(params_file).name)
