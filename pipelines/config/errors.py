"""pydantic's validation errors → one ValueError naming each dotted key, its rule, the value.

``params.yaml: 'collect.demo_rows' must be an int in [1, 10000000]; got 0.`` — the rule is
read off the field (its type, bounds, closed set, or an explicit ``rule`` in its
``json_schema_extra``), so it says what is allowed, not only what went wrong. Every error of
one validation is reported, one line each.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

#: Error type of a rule that spans fields (see :func:`rule_error`).
RULE_ERROR = "settings_rule"
_MISSING = object()


class SettingsError(ValueError):
    """Invalid settings; ``lines`` holds one ``'<key>' must be <rule>; got <value>.`` per
    invalid entry (a section built inside another one reports through its parent)."""

    def __init__(self, lines: Sequence[str], source: str = "params.yaml") -> None:
        self.lines = list(lines)
        super().__init__("\n".join(f"{source}: {line}" for line in self.lines))


def rule_error(key: str, rule: str, value: Any) -> PydanticCustomError:
    """A validation error of a cross-field rule about the dotted params key ``key``.

    Raise it from a model validator; :func:`settings_error` turns it into
    ``'<key>' must be <rule>; got <value>.``
    """
    return PydanticCustomError(RULE_ERROR, "'{key}' must be {rule}",
                               {"key": key, "rule": rule, "value": value})


def settings_error(error: ValidationError, model: type[BaseModel], data: Any, *,
                   prefix: Sequence[str] = (), source: str = "params.yaml") -> SettingsError:
    """One ValueError listing every error of ``error`` (raised validating ``data`` as
    ``model``, the section at dotted ``prefix``), one line per error."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        inner = (item.get("ctx") or {}).get("error")
        found = (inner.lines if isinstance(inner, SettingsError)
                 else [_line(item, model, data, tuple(prefix))])
        lines.extend(line for line in found if line not in lines)
    return SettingsError(lines, source)


def _line(item: Mapping[str, Any], model: type[BaseModel], data: Any,
          prefix: tuple[str, ...]) -> str:
    ctx = item.get("ctx") or {}
    if item["type"] == RULE_ERROR:
        return f"'{ctx['key']}' must be {ctx['rule']}; got {ctx['value']!r}."
    loc = tuple(str(part) for part in item["loc"])
    if item["type"] == "extra_forbidden":
        parent = _walk(model, loc[:-1])
        allowed = sorted(parent.model_fields) if _is_model(parent) else []
        key = ".".join((*prefix, *loc))
        return f"unknown key '{key}'; allowed: {allowed}."
    consumed, annotation, metadata, rule = _resolve(model, loc)
    key = ".".join((*prefix, *consumed)) or ".".join(prefix) or "params"
    value = _dig(data, consumed)
    if value is _MISSING:
        value = item.get("input")
    if rule is None:
        rule = describe(annotation, metadata) if annotation is not None else item["msg"]
    return f"'{key}' must be {rule}; got {value!r}."


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, m1, m2]`` → ``(T, [m1, m2, ...])`` with FieldInfo metadata flattened."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        for m in extra:
            metadata.extend(getattr(m, "metadata", None) or [m])
    return annotation, metadata


def _walk(model: type[BaseModel], loc: tuple[str, ...]) -> Any:
    current: Any = model
    for part in loc:
        if not _is_model(current) or part not in current.model_fields:
            return None
        current = _unwrap(current.model_fields[part].annotation)[0]
    return current


def _resolve(model: type[BaseModel], loc: tuple[str, ...]
             ) -> tuple[tuple[str, ...], Any, list[Any], str | None]:
    """The deepest key of ``loc`` a rule can be said about: a field, or an entry of a
    mapping field (a list's items are judged as the whole list)."""
    current: Any = model
    consumed: list[str] = []
    annotation: Any = None
    metadata: list[Any] = []
    rule: str | None = None
    for part in loc:
        if _is_model(current) and part in current.model_fields:
            field = current.model_fields[part]
            annotation, metadata = _unwrap(field.annotation)
            metadata = [*field.metadata, *metadata]
            extra = field.json_schema_extra
            rule = extra.get("rule") if isinstance(extra, dict) else None
        elif typing.get_origin(current) is dict:
            annotation, metadata = _unwrap(typing.get_args(current)[1])
            rule = None
        else:
            break
        consumed.append(part)
        current = annotation
    return tuple(consumed), annotation, metadata, rule


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(metadata: list[Any]) -> str:
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = ("[", m.ge)
        elif isinstance(m, annotated_types.Gt):
            low = ("(", m.gt)
        elif isinstance(m, annotated_types.Le):
            high = ("]", m.le)
        elif isinstance(m, annotated_types.Lt):
            high = (")", m.lt)
    if low and high:
        return f" in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
    if low:
        return f" {'>=' if low[0] == '[' else '>'} {_number(low[1])}"
    if high:
        return f" {'<=' if high[0] == ']' else '<'} {_number(high[1])}"
    return ""


def describe(annotation: Any, metadata: list[Any] | None = None) -> str:
    """The rule a value of ``annotation`` (with constraints ``metadata``) must follow, in
    words: ``an int in [1, 100]``, ``'a', 'b' or 'c'``, ``a non-empty list drawn from
    [...]``."""
    annotation, extra = _unwrap(annotation)
    metadata = [*(metadata or []), *extra]
    origin = typing.get_origin(annotation)
    if origin is Literal:
        values = [repr(v) for v in typing.get_args(annotation)]
        return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an int" + _bounds(metadata)
    if annotation is float:
        return "a number" + _bounds(metadata)
    if annotation is str:
        pattern = next((m.pattern for m in metadata if hasattr(m, "pattern")), None)
        text = "a text"
        if any(isinstance(m, annotated_types.MinLen) and m.min_length > 0 for m in metadata):
            text = "a non-empty text"
        return f"{text} matching {pattern!r}" if pattern else text
    if origin in (tuple, list):
        item, _ = _unwrap(typing.get_args(annotation)[0])
        non_empty = any(isinstance(m, annotated_types.MinLen) and m.min_length > 0
                        for m in metadata)
        kind = "a non-empty list" if non_empty else "a list"
        if typing.get_origin(item) is Literal:
            return f"{kind} drawn from {list(typing.get_args(item))}"
        return f"{kind} of items each {describe(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"a mapping of names to values each {describe(typing.get_args(annotation)[1])}"
    if _is_model(annotation):
        return f"a mapping with keys among {sorted(annotation.model_fields)}"
    return f"a {getattr(annotation, '__name__', annotation)}"
