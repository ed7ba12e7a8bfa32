"""``canonical``: the canonical column names, in any container.

Every required column must be in the header; optional ones may be absent. Unknown columns
go to ``extra`` (merged into an existing ``extra`` JSON object column); an incoming
``source`` value is kept in ``extra["source"]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines import schema
from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.flat import extra_series, frame_record, require_columns
from pipelines.collect.formats.spec import FileFormat, Issue, Mapped
from pipelines.collect.formats.values import is_missing

NAME = "canonical"


def _map(loaded: Loaded, path: Path) -> Mapped:
    frame = require_columns(loaded, path, NAME, list(schema.REQUIRED_COLUMNS))
    known = [c for c in schema.COLUMN_NAMES if c in frame.columns and c not in ("source", "extra")]
    others = [c for c in frame.columns if c not in schema.COLUMN_NAMES]
    if "source" in frame.columns:
        others.append("source")
    extra = extra_series(frame, others, None)
    issues: list[Issue] = []
    if "extra" in frame.columns:
        merged = []
        for row, given, added in zip(frame.index, frame["extra"], extra, strict=True):
            base: object = {}
            if isinstance(given, dict):
                base = given
            elif not is_missing(given):
                try:
                    base = json.loads(given) if isinstance(given, str) else given
                except json.JSONDecodeError:
                    base = None
            if not isinstance(base, dict):
                issues.append((row, "json_shape", "extra", given,
                               "extra must be a JSON object"))
                base = {}
            merged.append({**base, **added})
        extra = pd.Series(merged, index=frame.index, dtype=object)
    extra = extra.map(lambda e: e or None)
    return Mapped(frame[known].copy(), {}, extra, issues,
                  frame_record(frame, loaded.records))


FORMAT = FileFormat(
    name=NAME,
    help="The canonical post columns (CSV, JSON, JSONL, Parquet); unknown columns go to extra.",
    map=_map,
)
