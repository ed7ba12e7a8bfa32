"""The interface between the reader and a format module.

A format module defines ``FORMAT = FileFormat(...)``: its name, its help text and its
``map`` function, which turns a loaded file (:class:`~pipelines.collect.formats.containers.
Loaded`) into :class:`Mapped` raw canonical values plus the problems it found. The reader
does everything else the same way for every format: containers, value parsing, quarantine,
:func:`schema.conform`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.collect.formats.containers import Loaded

#: A mapping problem at one record: (row, rule, column, value, detail).
Issue = tuple[int, str, str | None, object, str]


@dataclass(frozen=True, eq=False)
class ReadResult:
    """What one ``read_posts`` call produced.

    Attributes:
        posts: Canonical posts, exactly as :func:`schema.conform` returns them.
        rejects: Quarantine rows (``schema.QUARANTINE_COLUMNS``, stage ``collect``).
        records_read: Records seen; always ``len(posts) + len(rejects)``.
    """

    posts: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


@dataclass
class Mapped:
    """Source records mapped to raw canonical values, ready for coercion.

    Attributes:
        values: index = record number; canonical columns the format provides, raw values.
        source_of: canonical column -> source field name, used in reject messages.
        extra: index-aligned dicts of source fields without a column (or None).
        issues: mapping problems found by the format: (row, rule, column, value, detail).
        record: record number -> the original record as JSON text.
        skip: records already rejected whole (bad shape, broken line): their empty values
            are not checked again, so the only reason listed is the real one.
    """

    values: pd.DataFrame
    source_of: dict[str, str]
    extra: pd.Series
    issues: list[Issue]
    record: Callable[[int], str]
    skip: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class FileFormat:
    """One file layout, as a format module registers it.

    Attributes:
        name: What callers pass as ``fmt``; also written to each post's ``source``.
        help: One line for help texts: which files have this layout.
        map: ``map(loaded, path)``: the file's records as canonical values. Flat formats
            get ``loaded.frame`` (JSON records already flattened into it); nested ones get
            ``loaded.records``.
        nested: Records are nested JSON objects: CSV files are refused and Parquet rows
            are kept as objects instead of being flattened into a frame.
        json_pages: A JSON object document is one record (an API response page), never an
            envelope whose ``data``/``posts``/``elements``/``items`` array holds the records.
    """

    name: str
    help: str
    map: Callable[[Loaded, Path], Mapped]
    nested: bool = False
    json_pages: bool = False
