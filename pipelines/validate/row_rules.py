"""A task's row contract as it applies to one row a client sends: the rules batch scoring
applies and the pydantic model the online route validates with.

Both are read off the Great Expectations row suite in ``expectations/`` (the contract the
training data passes), so a rule changes in one place for validation, batch scoring and
serving. Only rules one row can be judged by, on the columns a client sends, carry over:

============================================  ==========================================
suite rule                                    request model
============================================  ==========================================
``expect_column_values_to_not_be_null``       the field is required (else it may be null)
``expect_column_values_to_be_between``        ``ge`` / ``le`` (numeric bounds)
``expect_column_values_to_be_in_set``         a ``Literal`` of the set
============================================  ==========================================

Rules that need run parameters (``{"$PARAMETER": ...}``, e.g. "not after the run's
date") or other rows (uniqueness) are left out of the model; batch scoring keeps the
uniqueness rules (a file is many rows) and leaves out the parameter ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

#: Row rules the request model reads.
_NOT_NULL = "expect_column_values_to_not_be_null"
_BETWEEN = "expect_column_values_to_be_between"
_IN_SET = "expect_column_values_to_be_in_set"

#: pandas dtype of a column -> the Python type a JSON client sends (strict: 1.5 is not an
#: int, "1" is not a number, 1 is not a bool; an int is a fine float).
_TYPES: dict[str, Any] = {
    "int64": Annotated[int, Strict()], "Int64": Annotated[int, Strict()],
    "float64": Annotated[float, Strict(), Field(allow_inf_nan=False)],
    "bool": Annotated[bool, Strict()], "boolean": Annotated[bool, Strict()],
    "object": Annotated[str, Strict()], "string": Annotated[str, Strict()],
}


def _has_parameter(kwargs: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Mapping) and "$PARAMETER" in v for v in kwargs.values())


def request_rules(suite: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """``suite`` keeping only the rules on ``columns`` that need no run parameter (what
    batch scoring checks a file of rows against)."""
    wanted = set(columns)
    kept = [e for e in suite["expectations"]
            if e["kwargs"].get("column") in wanted and not _has_parameter(e["kwargs"])]
    return {**suite, "name": f"{suite['name']}.request", "expectations": kept}


def request_model(name: str, dtypes: Mapping[str, str], suite: Mapping[str, Any], *,
                  doc: str) -> type[BaseModel]:
    """A pydantic model of one row with the fields ``dtypes`` (column -> pandas dtype, in
    order) and the one-row rules of ``suite`` on them (see the module table). Unknown
    fields are refused (422 naming the field).

    Raises:
        ValueError: for a dtype without a JSON type (naming the column and the dtypes
            known), or a set rule on a column whose values are not all of its type.
    """
    rules = request_rules(suite, dtypes)["expectations"]
    required = {e["kwargs"]["column"] for e in rules if e["type"] == _NOT_NULL}
    fields: dict[str, Any] = {}
    for column, dtype in dtypes.items():
        if dtype not in _TYPES:
            raise ValueError(f"request_model: column {column!r} of {name} has dtype {dtype!r}; "
                             f"a request field needs one of {sorted(_TYPES)}.")
        annotation: Any = _TYPES[dtype]
        constraints: dict[str, Any] = {}
        notes = []
        for rule in (e for e in rules if e["kwargs"]["column"] == column):
            kwargs, meta = rule["kwargs"], rule.get("meta") or {}
            if rule["type"] == _BETWEEN:
                if kwargs.get("min_value") is not None:
                    constraints["ge"] = kwargs["min_value"]
                if kwargs.get("max_value") is not None:
                    constraints["le"] = kwargs["max_value"]
            elif rule["type"] == _IN_SET:
                values = tuple(kwargs["value_set"])
                base = annotation.__origin__
                if not all(type(v) is base for v in values):
                    raise ValueError(f"request_model: {suite['name']} allows {list(values)} in "
                                     f"column {column!r}, which holds {dtype} values.")
                annotation = Literal[values]  # type: ignore[valid-type]
            if meta.get("notes"):
                notes.append(meta["notes"])
        if constraints:
            annotation = Annotated[annotation, Field(**constraints)]
        if column not in required:
            annotation = annotation | None
        default = ... if column in required else None
        fields[column] = (annotation, Field(default, description=" ".join(notes) or None))
    model = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
    model.__doc__ = doc
    return model

