"""The base of every params section model, and the value types the sections share.

A section model is frozen, forbids unknown keys and checks types strictly (``1.5`` is not
an int, ``"10"`` is not a number, ``1`` is not ``true``); lists from YAML become tuples.
An empty YAML value (``path:``) means the empty value of the field's type. Bounds, closed
sets, titles and descriptions are the fields' metadata: the error messages
(:mod:`pipelines.config.errors`) and the Airflow trigger forms (:mod:`pipelines.config.form`)
are read off them.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Strict, ValidationError, WithJsonSchema, model_validator

from pipelines.config.errors import settings_error

#: An int that is an int (not a float, bool or string).
Int = Annotated[int, Strict()]
#: A number: an int or a float (not a bool or a string).
Number = Annotated[float, Strict()]
Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
#: Text that may stay empty: the trigger form offers it as optional (its null means "").
OptionalText = Annotated[str, Strict(), WithJsonSchema({"type": ["null", "string"]})]


def _empty(annotation: Any) -> Any:
    """The empty value of a field type, or None when the type has none."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation) or annotation
    return {str: "", tuple: (), list: (), dict: {}}.get(origin)


#: Where each section model lives in params.yaml (``("train", "lightgbm")``), filled by
#: :mod:`pipelines.config.settings` once :class:`Settings` exists (so imports go one way).
SECTION_KEYS: dict[type, tuple[str, ...]] = {}


class Section(BaseModel):
    """A params.yaml section (or sub-section): frozen, no unknown keys, strict types.

    However it is built (``CollectConfig(demo_rows=0)``, or inside
    :func:`pipelines.config.load_settings`), an invalid value raises a ValueError naming its
    dotted key, the rule and the value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise settings_error(error, type(self), data,
                                 prefix=SECTION_KEYS.get(type(self), ())) from None

    @model_validator(mode="before")
    @classmethod
    def _empty_means_empty(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if value is None and field is not None:
                empty = _empty(field.annotation)
                if empty is not None:
                    out[name] = empty
        return out
