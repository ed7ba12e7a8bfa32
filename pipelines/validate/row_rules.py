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

:func:`with_row_contract` puts the same rules on a hand-typed request model (the post
body of ``POST /predict``, whose fields are the API's types, not a table's dtypes), with
the parameter rules bound per request (``as_of``: the time it arrives) and the length
rule too; a broken rule is a 422 naming the suite, rule, field and value:

============================================  ==========================================
suite rule                                    :func:`with_row_contract`
============================================  ==========================================
``expect_column_values_to_not_be_null``       required, and null refused
``expect_column_values_to_be_between``        min/max (numbers, or ISO times for a time
                                              field; a naive time is UTC)
``expect_column_values_to_be_in_set``         a ``Literal`` of the set (str fields)
``expect_column_value_lengths_to_be_between`` min/max length
============================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, create_model
from pydantic_core import PydanticCustomError

#: Row rules the request model reads.
_NOT_NULL = "expect_column_values_to_not_be_null"
_BETWEEN = "expect_column_values_to_be_between"
_IN_SET = "expect_column_values_to_be_in_set"
_LENGTHS = "expect_column_value_lengths_to_be_between"
#: Rules one row can be judged by, which :func:`with_row_contract` enforces.
ONE_ROW_RULES = (_NOT_NULL, _BETWEEN, _IN_SET, _LENGTHS)

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



# --- the row contract on a hand-typed request model ------------------------------------------

def contract_rules(suite: Mapping[str, Any], columns: Iterable[str], *,
                   parameters: Iterable[str]) -> list[dict[str, Any]]:
    """The rules of ``suite`` on ``columns`` that one row can be judged by
    (:data:`ONE_ROW_RULES`) and whose run parameters are all in ``parameters``."""
    wanted, bound = set(columns), set(parameters)
    kept = []
    for rule in suite["expectations"]:
        kwargs = rule["kwargs"]
        if rule["type"] not in ONE_ROW_RULES or kwargs.get("column") not in wanted:
            continue
        needed = {v["$PARAMETER"] for v in kwargs.values()
                  if isinstance(v, Mapping) and "$PARAMETER" in v}
        if needed <= bound:
            kept.append(rule)
    return kept


def _instant(value: datetime) -> datetime:
    """``value`` as UTC (naive = UTC). Raises OverflowError when UTC cannot hold it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bound(value: Any, parameters: Mapping[str, Callable[[], Any]]) -> Callable[[], Any] | None:
    """A bound of a between rule as a function of the moment it is checked."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return parameters[value["$PARAMETER"]]
    if isinstance(value, str):
        moment = _instant(datetime.fromisoformat(value))
        return lambda: moment
    return lambda: value


def _violation(suite: str, rule: dict[str, Any], requirement: str, value: Any
               ) -> PydanticCustomError:
    shown = value if isinstance(value, (int, float, bool)) or value is None \
        else str(value)[:80]
    return PydanticCustomError(
        "row_contract", "{suite}: {rule} on {column}: {requirement}; got {value}",
        {"suite": suite, "rule": rule["type"], "column": rule["kwargs"]["column"],
         "requirement": requirement, "value": shown})


def _check(suite: str, rule: dict[str, Any],
           parameters: Mapping[str, Callable[[], Any]]) -> AfterValidator:
    """The validator of one rule (nulls pass every rule but not-null, as in GE)."""
    kind, kwargs = rule["type"], rule["kwargs"]
    if kind == _NOT_NULL:
        def not_null(value: Any) -> Any:
            if value is None:
                raise _violation(suite, rule, "must not be null", value)
            return value
        return AfterValidator(not_null)
    if kind == _IN_SET:
        allowed = frozenset(kwargs["value_set"])

        def in_set(value: Any) -> Any:
            if value is not None and value not in allowed:
                raise _violation(suite, rule, f"must be one of {sorted(allowed)}", value)
            return value
        return AfterValidator(in_set)
    low, high = _bound(kwargs.get("min_value"), parameters), \
        _bound(kwargs.get("max_value"), parameters)
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    lengths = kind == _LENGTHS

    def requirement(lo: Any, hi: Any) -> str:
        parts = [f"{'>' if strict_low else '>='} {lo}"] * (lo is not None) + \
            [f"{'<' if strict_high else '<='} {hi}"] * (hi is not None)
        return ("length " if lengths else "") + " and ".join(parts)

    def between(value: Any) -> Any:
        if value is None:
            return value
        measured = len(value) if lengths else value
        lo, hi = low() if low else None, high() if high else None
        if isinstance(measured, datetime):
            try:
                measured = _instant(measured)
            except OverflowError:
                raise _violation(suite, rule, f"{requirement(lo, hi)} (this time is outside "
                                 f"what UTC can hold)", value) from None
        elif isinstance(lo, datetime) or isinstance(hi, datetime):
            raise _violation(suite, rule, f"a time {requirement(lo, hi)}", value)
        if (lo is not None and (measured <= lo if strict_low else measured < lo)) or \
                (hi is not None and (measured >= hi if strict_high else measured > hi)):
            raise _violation(suite, rule, requirement(lo, hi), value)
        return value
    return AfterValidator(between)


def with_row_contract(base: type[BaseModel], suite: Mapping[str, Any], *,
                      parameters: Mapping[str, Callable[[], Any]]) -> type[BaseModel]:
    """A subclass of ``base`` (same name) whose fields carry the one-row rules of ``suite``
    on them (:func:`contract_rules`; see the second module table), the run parameters bound
    by ``parameters`` (name -> a function giving its value when a row is checked, e.g.
    ``as_of`` -> now). ``base`` keeps the types and the API's own limits; the contract's
    rules come from the suite only, so they change in one place.

    Raises:
        ValueError: for a set rule on a field that is not a str (naming suite and field).
    """
    rules = contract_rules(suite, base.model_fields, parameters=parameters)
    fields: dict[str, Any] = {}
    for column, field in base.model_fields.items():
        own = [r for r in rules if r["kwargs"]["column"] == column]
        if not own:
            continue
        annotation: Any = field.annotation
        checks = []
        for rule in own:
            if rule["type"] == _IN_SET:
                values = tuple(rule["kwargs"]["value_set"])
                if annotation not in (str, str | None):
                    raise ValueError(f"with_row_contract: {suite['name']} allows {list(values)} "
                                     f"in {column!r}, a {annotation} field of {base.__name__}; "
                                     f"a set rule needs a str field.")
                annotation = Literal[values] | None  # type: ignore[valid-type]
            checks.append(_check(suite["name"], rule, parameters))
        required = field.is_required() or any(r["type"] == _NOT_NULL for r in own)
        fields[column] = (Annotated[(annotation, *field.metadata, *checks)],
                          Field(... if required else field.default,
                                description=field.description, title=field.title))
    model = create_model(base.__name__, __base__=base, __doc__=base.__doc__, **fields)
    model.__doc__ = (f"{base.__doc__ or ''}\n\nRules: {suite['name']} (required fields, "
                     f"bounds, allowed values, lengths).")
    return model
