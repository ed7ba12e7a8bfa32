"""File containers: turn the bytes of one file into records, before any format mapping.

Containers, chosen by suffix: ``.csv``/``.tsv`` (delimiter sniffed from the header line among
``, ; TAB |``), ``.json`` (an array of records, one record object, or an envelope object whose
``data``/``posts``/``elements``/``items`` key holds the array), ``.jsonl``/``.ndjson`` (one
record per line), ``.parquet``/``.pq``; any of them gzip-compressed with a trailing ``.gz``.
Files are read whole into memory. Text must be UTF-8 (a BOM is fine): a record containing
bytes that are not UTF-8 is quarantined with rule ``decode_utf8`` (the bytes are shown as
``\\xNN`` in ``value`` and ``record``); nothing is silently replaced, so a latin-1 export is
never turned into mojibake. A 0-byte file raises ``empty_file`` except for JSONL, where it is
a valid file of zero records.

Whole-file problems (unreadable container, broken CSV quoting, invalid JSON) raise
:class:`~pipelines.collect.formats.rejects.CollectError`; a record that cannot even be split
into fields (wrong CSV field count, a bad JSONL line) is kept in :attr:`Loaded.broken` to be
quarantined, never dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.collect.formats.rejects import SURROGATES, error, to_json

logger = logging.getLogger(__name__)

_SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}


@dataclass
class Loaded:
    """One file's records before format mapping.

    Either ``frame`` (flat: CSV or Parquet; index = 1-based record number, object values)
    or ``records`` (JSON/JSONL/Parquet rows as Python objects, keyed by record number).
    ``broken`` holds records that could not even be split into fields: row -> (rule,
    detail, value, record JSON).
    """

    frame: pd.DataFrame | None = None
    records: dict[int, object] | None = None
    broken: dict[int, tuple[str, str, object, str]] = field(default_factory=dict)
    bad_bytes: bool = False
    has_header: bool = False


def allowed_suffixes() -> list[str]:
    """Every supported suffix, plain and gzip-compressed (for error messages)."""
    return sorted(_SUFFIXES) + [s + ".gz" for s in sorted(_SUFFIXES)]


def container_of(path: Path) -> str | None:
    """Return csv/json/jsonl/parquet from the suffix (``.gz`` stripped), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def _read_bytes(path: Path) -> bytes:
    """Read a file, gunzipping ``.gz``; a broken archive raises rule ``gzip``."""
    data = path.read_bytes()
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise error(str(path), "gzip", f"not a complete gzip archive ({exc})",
                    value=data[:40]) from None


def _decode(path: Path, data: bytes) -> tuple[str, bool]:
    """UTF-8 text without BOM, and whether undecodable bytes were kept as surrogates."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError as exc:
        logger.warning("read_posts: %s is not valid UTF-8 (first bad byte at offset %d); "
                       "records with bad bytes are quarantined", path, exc.start)
        return data.decode("utf-8", "surrogateescape"), True


def load(path: Path, container: str, nested: bool, pages: bool) -> Loaded:
    """Load a file's records; whole-file problems raise :class:`CollectError`.

    Args:
        path: The file.
        container: What :func:`container_of` returned for it.
        nested: Keep Parquet rows as Python objects (nested formats) instead of a frame.
        pages: A JSON object document is one record (an API page), never an envelope.

    Raises:
        CollectError: an empty or unreadable file (rules ``empty_file``, ``gzip``,
            ``parquet``, ``csv_syntax``, ``csv_header``, ``decode_utf8``, ``json_syntax``,
            ``json_shape``).
    """
    data = _read_bytes(path)
    if not data.strip() and container != "jsonl":
        raise error(str(path), "empty_file",
                    f"the file is empty ({len(data)} bytes); a {container} file needs "
                    f"{'a header' if container == 'csv' else 'content'}")
    if container == "parquet":
        return _load_parquet(path, data, nested)
    text, bad_bytes = _decode(path, data)
    if container == "csv":
        loaded = _load_csv(path, text)
    elif container == "json":
        loaded = _load_json(path, text, pages)
    else:
        loaded = _load_jsonl(text)
    loaded.bad_bytes = bad_bytes
    return loaded


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _load_csv(path: Path, text: str) -> Loaded:
    first_line = text.split("\n", 1)[0]
    delimiter = _sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    lines = None  # split lazily, only to show the line of a syntax error
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    broken: dict[int, tuple[str, str, object, str]] = {}
    header: list[str] | None = None
    record = 0
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # captions can exceed the 128 KiB default
    try:
        while True:
            start_line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                lines = lines or text.split("\n")
                seen = lines[start_line - 1] if start_line <= len(lines) else ""
                raise error(str(path), "csv_syntax",
                            f"malformed CSV in the record starting on line {start_line} "
                            f"({exc}); check for an unbalanced quote",
                            row=None if header is None else record + 1, value=seen) from None
            if not fields:
                continue  # blank line
            if header is None:
                header = [name.strip() or f"column_{i + 1}" for i, name in enumerate(fields)]
                continue
            record += 1
            if len(fields) == len(header):
                rows.append(fields)
                row_numbers.append(record)
            else:
                broken[record] = (
                    "csv_field_count",
                    f"expected {len(header)} fields (delimiter {delimiter!r}), "
                    f"got {len(fields)}",
                    fields if len(fields) > 1 else fields[0],
                    to_json(fields),
                )
    finally:
        csv.field_size_limit(old_limit)
    if header is None:
        raise error(str(path), "empty_file", "the CSV file has no header line")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise error(str(path), "csv_header", "duplicate column names in the header",
                    column=duplicates[0], value=header)
    if any(SURROGATES.search(h) for h in header):
        raise error(str(path), "decode_utf8", "the header is not valid UTF-8",
                    value=first_line)
    frame = pd.DataFrame(rows, columns=header, index=row_numbers, dtype=object)
    return Loaded(frame=frame, broken=broken, has_header=True)


def _load_json(path: Path, text: str, pages: bool) -> Loaded:
    """Records of a JSON document; with ``pages`` (twitter_v2) an object is one page."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(str(path), "json_syntax",
                    f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})",
                    value=text[max(0, exc.pos - 40): exc.pos + 40]) from None
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict):
        envelope = [k for k in ("data", "posts", "elements", "items")
                    if isinstance(document.get(k), list)]
        items = [document] if pages or not envelope else document[envelope[0]]
    else:
        raise error(str(path), "json_shape",
                    "the JSON document must be an array of records or an object",
                    value=document)
    return Loaded(records={i + 1: item for i, item in enumerate(items)})


def _load_jsonl(text: str) -> Loaded:
    """One record per non-blank line; a line that is not JSON becomes a broken record."""
    records: dict[int, object] = {}
    broken: dict[int, tuple[str, str, object, str]] = {}
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            records[number] = json.loads(line)
        except json.JSONDecodeError as exc:
            broken[number] = ("json_syntax", f"invalid JSON line ({exc.msg})", line,
                              to_json({"line": line}))
    return Loaded(records=records, broken=broken)


def _load_parquet(path: Path, data: bytes, nested: bool) -> Loaded:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise error(str(path), "parquet", f"not a readable Parquet file ({exc})",
                    value=data[:40]) from None
    if nested:
        return Loaded(records={i + 1: rec for i, rec in enumerate(table.to_pylist())})
    frame = table.to_pandas(integer_object_nulls=True, date_as_object=True).astype(object)
    frame.index = range(1, len(frame) + 1)
    return Loaded(frame=frame, has_header=True)


def records_to_frame(loaded: Loaded) -> Loaded:
    """Flatten JSON records into a frame (keys as columns); non-objects become broken."""
    assert loaded.records is not None
    good = {n: r for n, r in loaded.records.items() if isinstance(r, dict)}
    for number, rec in loaded.records.items():
        if not isinstance(rec, dict):
            loaded.broken[number] = ("json_shape", "a record must be a JSON object", rec,
                                     to_json(rec))
    columns: dict[str, None] = {}
    for rec in good.values():
        columns.update(dict.fromkeys(rec))
    frame = pd.DataFrame(
        {c: pd.Series([rec.get(c) for rec in good.values()], index=list(good), dtype=object)
         for c in columns},
        index=list(good), dtype=object,
    )
    return Loaded(frame=frame, records=loaded.records, broken=loaded.broken,
                  bad_bytes=loaded.bad_bytes)
