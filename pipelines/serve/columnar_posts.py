"""Batch scoring's columnar read of a canonical Parquet file of posts (pyarrow).

The collect readers (:func:`pipelines.collect.formats.read_posts`) take any layout and
coerce, quarantine and explain every value with per-value Python; on a file that is
already canonical (typed columns, canonical spellings, nothing missing that is required)
every one of those steps is the identity, and reading it costs far more than scoring it.
:func:`read_canonical_parquet` checks that with vectorized pyarrow compute, one column at
a time, and reads such a file straight into the canonical frame; a file that needs any
coercion or would lose any record returns None, and the caller reads it with the collect
reader, so what is scored and what is quarantined never depends on which path read it.

One implementation per idea: the rules are the collect reader's
(:mod:`pipelines.collect.formats.reader` ``_finish``, :mod:`.values`), restated here as
"would the reader change or reject this value?" checks. A test reads the same files
both ways and compares the frames.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pipelines import schema

logger = logging.getLogger(__name__)

#: Id columns the reader strips (``reader._TEXT_COLUMNS``).
_STRIPPED = ("post_id", "account_id", "campaign_id")
_ENUMS = {"platform": schema.PLATFORMS, "content_type": schema.CONTENT_TYPES}
#: The reader parses counts through float64: exact below 2**53.
_EXACT_INT = 2**53


def read_canonical_parquet(path: Path, fmt: str) -> pd.DataFrame | None:
    """The canonical posts of ``path`` when it is a canonical Parquet file the collect
    reader would read unchanged; None when the reader must read it.

    ``source`` is set to ``fmt`` and ``extra`` is left empty (a file's own ``source`` and
    ``extra`` columns are not read: batch scoring writes neither), and a missing
    ``collected_at`` is the file's modification time, as the reader sets it.
    """
    file, columns = _canonical_file(path, fmt)
    if file is None:
        return None
    table = file.read(columns=columns)
    if _reader_needed(table, path):
        return None
    return _canonical_frame(table, path, fmt)


#: The column of a part that holds each row's 0-based row number in the scored file.
SOURCE_ROW = "__source_row"


def partition_canonical_parquet(path: Path, fmt: str, *, group: str, part_rows: int,
                                workdir: Path) -> list[Path] | None:
    """Split a canonical Parquet file of more than ``part_rows`` rows (one
    :func:`read_canonical_parquet` would read) into parts of whole ``group`` groups, about
    ``part_rows`` rows each, written to ``workdir`` as Arrow files; None when the file is
    not such a file or is not larger (read it whole).

    One batch of ``part_rows`` rows is in memory at a time: each batch's rows go to the part
    a fixed hash of their ``group`` value names (a group's rows all land in one part, in
    file order), with their row numbers in :data:`SOURCE_ROW`. Read a part back with
    :func:`read_part`.
    """
    import numpy as np
    import pyarrow as pa

    file, columns = _canonical_file(path, fmt)
    if file is None or file.metadata.num_rows <= part_rows or group not in columns:
        return None
    parts = -(-file.metadata.num_rows // part_rows)
    paths = [workdir / f"part-{k:05d}.arrow" for k in range(parts)]
    writers: list = [None] * parts
    offset = 0
    try:
        for batch in file.iter_batches(batch_size=part_rows, columns=columns):
            table = pa.Table.from_batches([batch])
            if _reader_needed(table, path):
                return None
            labels = _part_labels(table.column(group), parts)
            table = table.append_column(
                SOURCE_ROW, pa.array(np.arange(offset, offset + len(table), dtype=np.int64)))
            offset += len(table)
            order = np.argsort(labels, kind="stable")
            bounds = np.searchsorted(labels[order], np.arange(parts + 1))
            table = table.take(pa.array(order))
            for k in np.flatnonzero(np.diff(bounds)):
                if writers[k] is None:
                    writers[k] = pa.ipc.new_file(paths[k], table.schema)
                writers[k].write_table(table.slice(bounds[k], bounds[k + 1] - bounds[k]))
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    written = [p for p, w in zip(paths, writers, strict=True) if w is not None]
    logger.info("score: %s (%d rows) split into %d parts of whole %s groups (~%d rows each)",
                path, offset, len(written), group, part_rows)
    return written


def read_part(part: Path, path: Path, fmt: str) -> tuple[pd.DataFrame, object]:
    """(the canonical posts of a part of ``path``, their 0-based row numbers in ``path``
    as a numpy array)."""
    import pyarrow as pa

    with pa.memory_map(str(part)) as source:
        table = pa.ipc.open_file(source).read_all()
    rows = table.column(SOURCE_ROW).to_numpy()
    return _canonical_frame(table.drop_columns([SOURCE_ROW]), path, fmt), rows


def _part_labels(values, parts: int):  # noqa: ANN001, ANN202  (pyarrow, numpy)
    """The part of each value: a fixed hash of the value (pandas' SipHash with its fixed
    key: the same in every batch and every run), modulo ``parts``."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values).combine_chunks()
    uniques = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    labels = (pd.util.hash_array(uniques) % np.uint64(parts)).astype(np.int64)
    return labels[encoded.indices.to_numpy(zero_copy_only=False)]


def _canonical_file(path: Path, fmt: str):  # noqa: ANN202  (pyarrow's ParquetFile)
    """(the open Parquet file, the columns to read) when ``path`` may be a canonical
    Parquet file of posts; (None, []) when it cannot be."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt != "canonical" or not path.is_file() or path.suffix.lower() != ".parquet":
        return None, []
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        return None, []
    names = file.schema_arrow.names
    if (len(set(names)) != len(names) or not set(names) <= set(schema.COLUMN_NAMES)
            or not set(schema.REQUIRED_COLUMNS) <= set(names)):
        return None, []
    return file, [c for c in names if c not in ("source", "extra")]


def _reader_needed(table, path: Path) -> bool:  # noqa: ANN001  (a pyarrow Table)
    """True (logged) when the collect reader would change or reject a value of ``table``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in schema.COLUMNS:
        if column.name not in table.column_names:
            continue
        why = _needs_reader(column, table.column(column.name), pa, pc)
        if why:
            logger.info("score: %s is read by the collect reader (column %r: %s)", path,
                        column.name, why)
            return True
    return False


def _canonical_frame(table, path: Path, fmt: str) -> pd.DataFrame:  # noqa: ANN001
    """``table`` (checked by :func:`_reader_needed`) as the canonical frame."""
    import pyarrow as pa

    # straight to the canonical dtypes (conform's conversions are then no-ops)
    dtypes = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
              **{kind(): pd.Int64Dtype() for kind in (pa.int8, pa.int16, pa.int32, pa.int64,
                                                      pa.uint8, pa.uint16, pa.uint32,
                                                      pa.uint64)}}
    frame = table.to_pandas(types_mapper=dtypes.get, self_destruct=True)
    del table
    if "collected_at" not in frame.columns:
        frame["collected_at"] = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
    frame["source"] = fmt
    return schema.conform(frame)


def _needs_reader(column: schema.Column, values, pa, pc) -> str | None:  # noqa: ANN001
    """Why the collect reader would change or reject a value of ``values`` (None: it
    would keep every value as it is)."""
    kind = values.type
    if column.required and values.null_count:
        return "a required value is missing"
    if column.dtype == "Int64":
        if not pa.types.is_integer(kind):
            return f"type {kind}, not an integer"
        if len(values) and values.null_count < len(values):
            low, high = pc.min_max(values).values()
            if abs(low.as_py()) >= _EXACT_INT or abs(high.as_py()) >= _EXACT_INT:
                return "a count beyond 2**53"
        return None
    if column.dtype.startswith("datetime"):
        if not pa.types.is_timestamp(kind):
            return f"type {kind}, not a timestamp"
        if len(values) and values.null_count < len(values):
            nanos = pc.cast(values.cast(pa.timestamp(kind.unit, "UTC")), pa.int64())
            low, high = pc.min_max(nanos).values()
            per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[kind.unit]
            limit = 2**63 // per_ns
            if abs(low.as_py()) >= limit or abs(high.as_py()) >= limit:
                return "a time outside 1677-2262"
        return None
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return f"type {kind}, not text"
    if column.name in _ENUMS:
        present = pc.drop_null(values)
        if not pc.all(pc.is_in(present, value_set=pa.array(_ENUMS[column.name]))).as_py() \
                and len(present):
            return "a value not spelled as the contract spells it"
    elif column.name == "post_kind":   # the reader reads a blank kind as not said
        present = pc.drop_null(values)
        if len(present) and pc.any(pc.equal(pc.utf8_trim_whitespace(present), "")).as_py():
            return "a blank post kind"
    elif column.name in _STRIPPED:
        present = pc.drop_null(values)
        if len(present) and not pc.all(pc.and_(
                pc.equal(pc.utf8_trim_whitespace(present), present),
                pc.not_equal(present, ""))).as_py():
            return "an id with surrounding spaces or empty"
    return None
