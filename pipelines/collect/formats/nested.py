"""Helpers for nested formats: one record is a JSON object with nested objects and arrays.

A nested format's ``map`` walks ``loaded.records`` and builds one dict of raw canonical
values per record; :func:`nested_mapped` turns those dicts into the frame the reader
coerces and quarantines a record holding bytes that are not UTF-8. A value with the wrong
nesting raises :class:`Shape` inside one record, which rejects that record (``json_shape``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines import schema
from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.rejects import SURROGATES, to_json
from pipelines.collect.formats.spec import Issue, Mapped


class Shape(Exception):
    """A JSON value has the wrong nesting (raised and caught inside one record)."""

    def __init__(self, column: str, value: object, detail: str) -> None:
        super().__init__(detail)
        self.column, self.value, self.detail = column, value, detail


def obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """``parent[key]`` as an object ({} when absent); anything else is a shape error."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Shape(path, value, f"{path} must be a JSON object")
    return value


def array(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    """``parent[key]`` as an array ([] when absent); anything else is a shape error."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Shape(path, value, f"{path} must be a JSON array")
    return value


def nested_mapped(loaded: Loaded, rows: dict[int, dict[str, object]],
                  extras: dict[int, object], originals: dict[int, object],
                  issues: list[Issue], skip: set[int], source_of: dict[str, str]) -> Mapped:
    """Per-record value dicts (keyed by record number) as a :class:`Mapped`.

    Args:
        loaded: The loaded file (its ``bad_bytes`` says whether to look for bad bytes).
        rows: record number -> canonical column -> raw value ({} for a rejected record).
        extras: record number -> the ``extra`` object (or None).
        originals: record number -> the original record, kept as JSON in quarantine.
        issues: Problems the format found; decode_utf8 issues are appended.
        skip: Records already rejected whole.
        source_of: canonical column -> source field path, for reject messages.
    """
    columns = [c for c in schema.COLUMN_NAMES if c not in ("campaign_id", "collected_at",
                                                            "source", "extra")]
    index = list(rows)
    values = pd.DataFrame(
        {c: pd.Series([rows[n].get(c) for n in index], index=index, dtype=object)
         for c in columns}, index=index, dtype=object)
    extra = pd.Series([extras[n] for n in index], index=index, dtype=object)
    if loaded.bad_bytes:
        for number in index:
            found_bytes = _surrogate_path(originals[number], "")
            if found_bytes is not None:
                issues.append((number, "decode_utf8", found_bytes[0] or None, found_bytes[1],
                               "bytes that are not UTF-8; re-export the file as UTF-8"))
    return Mapped(values, source_of, extra, issues,
                  lambda row: to_json(originals[row]), skip)


def _surrogate_path(value: object, path: str) -> tuple[str, str] | None:
    """The first field path holding undecodable bytes, with its text."""
    if isinstance(value, str):
        return (path, value) if SURROGATES.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _surrogate_path(item, f"{path}.{key}" if path else str(key))
            if found is None and isinstance(key, str) and SURROGATES.search(key):
                found = (path, key)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{i}]")
            if found:
                return found
    return None
