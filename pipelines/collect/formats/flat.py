"""Helpers for flat formats: one record is one row of named fields (CSV, Parquet, JSON).

A flat format's ``map`` gets ``loaded.frame`` (JSON records already flattened into it),
checks its columns with :func:`require_columns`, renames source columns to canonical ones
and keeps every other column in ``extra`` with :func:`extra_series`. Values the source does
not have stay missing (never invented) and are listed in ``extra["missing_in_source"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.rejects import error, to_json
from pipelines.collect.formats.values import parse_int


def frame_record(frame: pd.DataFrame, records: dict[int, object] | None
                 ) -> Callable[[int], str]:
    """Record JSON: the original JSON object when there is one, else the row's fields."""
    if records is not None:
        return lambda row: to_json(records[row])
    return lambda row: to_json(frame.loc[row].to_dict())


def require_columns(loaded: Loaded, path: Path, fmt: str, needed: list[str]) -> pd.DataFrame:
    """Header check (CSV/Parquet); JSON records lacking a key are rejected one by one.

    Raises:
        CollectError: rule ``missing_column`` when a file with a header lacks a column.
    """
    frame = loaded.frame
    assert frame is not None
    missing = [c for c in needed if c not in frame.columns]
    if missing and loaded.has_header:
        raise error(str(path), "missing_column",
                    f"format {fmt!r} needs column(s) {missing} in the header",
                    column=missing[0], value=list(frame.columns))
    for column in missing:
        frame[column] = None
    return frame


def _infer_extra_column(series: pd.Series) -> pd.Series:
    """Type an extra text column: all-integer or all-float text becomes numbers, True/False
    becomes booleans, blanks become null; ids with leading zeros and mixed text stay text."""
    if not len(series) or not all(isinstance(v, str) for v in series.dropna()):
        return series
    text = series.fillna("")
    blank = text.str.strip() == ""
    present = text[~blank]
    out = series.where(~blank, None).astype(object)
    if present.empty:
        return out
    lowered = present.str.lower()
    if lowered.isin(("true", "false")).all():
        out[~blank] = lowered == "true"
        return out
    if present.str.fullmatch(r"-?(0|[1-9]\d{0,17})").all():
        out[~blank] = pd.to_numeric(present).astype(object)
        return out
    if present.str.fullmatch(r"-?\d+\.\d*([eE][-+]?\d+)?").all():
        out[~blank] = pd.to_numeric(present).astype(object)
    return out


def extra_series(frame: pd.DataFrame, columns: list[str], notes: dict[str, object] | None,
                 rename: dict[str, str] | None = None) -> pd.Series:
    """One dict per row: the given source columns (typed) plus constant notes."""
    rename = rename or {}
    typed = pd.DataFrame({rename.get(c, c): _infer_extra_column(frame[c]) for c in columns},
                         index=frame.index)
    rows = typed.to_dict(orient="records") if columns else [{} for _ in range(len(frame))]
    if notes:
        rows = [{**row, **notes} for row in rows]
    return pd.Series(rows, index=frame.index, dtype=object)


def combine_counts(frame: pd.DataFrame, first: str, second: str) -> pd.Series:
    """``first + second`` where both parse; else the raw value that will fail to parse.
    A missing ``second`` counts as 0; a missing ``first`` stays missing."""
    a, a_bad, a_missing = parse_int(frame[first])
    if second not in frame.columns:
        return frame[first]
    b, b_bad, b_missing = parse_int(frame[second])
    total = (a + b.fillna(0)).astype(object)
    combined = total.where(~a_missing, None)
    combined = combined.where(~a_bad, frame[first])
    return combined.where(~(b_bad & ~a_bad), frame[second])
