"""File containers: turn the bytes of one file into records, before any format mapping.

Containers, chosen by suffix: ``.csv``/``.tsv`` (delimiter sniffed from the header line among
``, ; TAB |``), ``.json`` (an array of records, one record object, or an envelope object whose
``data``/``posts``/``elements``/``items`` key holds the array), ``.jsonl``/``.ndjson`` (one
record per line), ``.parquet``/``.pq``; any of them gzip-compressed with a trailing ``.gz``.
The bytes come from :mod:`.source_file` (regular files only, under ``max_file_mb``). CSV is
parsed as a stream and handed on in chunks of ``chunk_rows`` records, so a large CSV never
sits in memory as text; JSON, JSONL and Parquet are read whole. Text must be UTF-8 (a BOM
is fine): a record containing bytes that are not UTF-8 is quarantined with rule
``decode_utf8`` (the bytes are shown as ``\\xNN`` in ``value`` and ``record``); nothing is
silently replaced, so a latin-1 export is never turned into mojibake. A 0-byte file raises
``empty_file`` except for JSONL, where it is a valid file of zero records. More than
``max_columns`` columns refuse the file (``max_columns``); a JSON record nested deeper than
``max_json_depth`` is quarantined alone (``json_depth``), never a ``RecursionError``.

Whole-file problems (unreadable container, broken CSV quoting, invalid JSON) raise
:class:`~pipelines.collect.formats.rejects.CollectError`; a record that cannot even be split
into fields (wrong CSV field count, a bad JSONL line) is kept in :attr:`Loaded.broken` to be
quarantined, never dropped.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.collect.formats.rejects import SURROGATES, error, to_json
from pipelines.collect.formats.source_file import ReadLimits, SourceFile

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
    detail, value, record JSON). ``surrogates``: the text may hold lone surrogates
    (undecodable bytes, or ``\\ud800``-style escapes), so values are checked for them.
    """

    frame: pd.DataFrame | None = None
    records: dict[int, object] | None = None
    broken: dict[int, tuple[str, str, object, str]] = field(default_factory=dict)
    bad_bytes: bool = False
    has_header: bool = False
    surrogates: bool = False


def allowed_suffixes() -> list[str]:
    """Every supported suffix, plain and gzip-compressed (for error messages)."""
    return sorted(_SUFFIXES) + [s + ".gz" for s in sorted(_SUFFIXES)]


def container_of(path: Path) -> str | None:
    """Return csv/json/jsonl/parquet from the suffix (``.gz`` stripped), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def _read_all(source: SourceFile) -> bytes:
    """The whole (gunzipped) content; a broken archive raises rule ``gzip``."""
    try:
        return source.stream.read()
    except (OSError, EOFError, zlib.error) as exc:
        if source.path.suffix.lower() != ".gz":
            raise
        raise _gzip_error(source.path, exc) from None


def _gzip_error(path: Path, exc: BaseException) -> Exception:
    return error(str(path), "gzip", f"not a complete gzip archive ({exc})",
                 value=path.name)


def _empty(path: Path, container: str, size: int) -> Exception:
    return error(str(path), "empty_file",
                 f"the file is empty ({size} bytes); a {container} file needs "
                 f"{'a header' if container == 'csv' else 'content'}")


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


def check_columns(path: Path, names: list[str], limits: ReadLimits) -> None:
    """Refuse more columns than ``max_columns`` before any record is mapped.

    Raises:
        CollectError: rule ``max_columns``.
    """
    if len(names) > limits.max_columns:
        raise error(str(path), "max_columns",
                    f"{len(names)} columns, over collect.max_columns = {limits.max_columns}; "
                    "drop the extra columns, or raise collect.max_columns in params.yaml "
                    "(or --set collect.max_columns=N)", value=names[:limits.max_columns + 3])


def load_chunks(source: SourceFile, container: str, nested: bool, pages: bool,
                limits: ReadLimits) -> Iterator[Loaded]:
    """Load a file's records, CSV in chunks of ``limits.chunk_rows`` records (numbered
    across the file); whole-file problems raise :class:`CollectError`.

    Args:
        source: The opened file (:func:`~.source_file.open_source`).
        container: What :func:`container_of` returned for it.
        nested: Keep Parquet rows as Python objects (nested formats) instead of a frame.
        pages: A JSON object document is one record (an API page), never an envelope.
        limits: Columns, JSON depth and CSV chunk size.

    Raises:
        CollectError: an empty or unreadable file (rules ``empty_file``, ``gzip``,
            ``parquet``, ``csv_syntax``, ``csv_header``, ``decode_utf8``, ``json_syntax``,
            ``json_shape``, ``max_columns``, ``max_file_mb``).
    """
    path = source.path
    if container == "csv":
        yield from _csv_chunks(source, limits)
        return
    data = _read_all(source)
    if not data.strip() and container != "jsonl":
        raise _empty(path, container, len(data))
    if container == "parquet":
        yield _load_parquet(path, data, nested, limits)
        return
    text, bad_bytes = _decode(path, data)
    del data
    if container == "json":
        loaded = _load_json(path, text, pages, limits.max_json_depth)
    else:
        loaded = _load_jsonl(text, limits.max_json_depth)
    loaded.bad_bytes = bad_bytes
    loaded.surrogates = bad_bytes or _SURROGATE_ESCAPE.search(text) is not None
    yield loaded


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


class _Lines:
    """The text lines fed to ``csv.reader``: remembers the first line of the current
    record (for syntax errors) and whether any line held undecodable bytes."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.first: str | None = None
        self.bad = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        if self.first is None:
            self.first = line
        if not self.bad and not line.isascii() and SURROGATES.search(line):
            self.bad = True
        return line


def _csv_chunks(source: SourceFile, limits: ReadLimits) -> Iterator[Loaded]:
    path = source.path
    text = io.TextIOWrapper(source.stream, encoding="utf-8", errors="surrogateescape",
                            newline="")
    try:
        raw = iter(text)
        first_line = next(raw, "")
        if first_line.startswith("\ufeff"):
            first_line = first_line[1:]
        if not first_line.strip() and not first_line.endswith(("\n", "\r")):
            raise _empty(path, "csv", source.before.st_size)
        delimiter = _sniff_delimiter(first_line.rstrip("\r\n"))
        lines = _Lines(itertools.chain([first_line], raw))
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        old_limit = csv.field_size_limit()
        csv.field_size_limit(2**31 - 1)  # captions can exceed the 128 KiB default
        try:
            yield from _csv_records(path, reader, lines, delimiter, limits)
        finally:
            csv.field_size_limit(old_limit)
    except (OSError, EOFError, zlib.error) as exc:
        if path.suffix.lower() != ".gz":
            raise
        raise _gzip_error(path, exc) from None
    finally:
        text.detach()


def _csv_records(path: Path, reader: Iterator[list[str]], lines: _Lines, delimiter: str,
                 limits: ReadLimits) -> Iterator[Loaded]:
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    broken: dict[int, tuple[str, str, object, str]] = {}
    header: list[str] | None = None
    record = 0
    chunks = 0
    while True:
        start_line = reader.line_num + 1
        lines.first = None
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise error(str(path), "csv_syntax",
                        f"malformed CSV in the record starting on line {start_line} "
                        f"({exc}); check for an unbalanced quote",
                        row=None if header is None else record + 1,
                        value=(lines.first or "").rstrip("\r\n")) from None
        if not fields:
            continue  # blank line
        if header is None:
            header = _csv_header(path, fields, lines, limits)
            continue
        record += 1
        if len(fields) == len(header):
            rows.append(fields)
            row_numbers.append(record)
        else:
            broken[record] = (
                "csv_field_count",
                f"expected {len(header)} fields (delimiter {delimiter!r}), got {len(fields)}",
                fields if len(fields) > 1 else fields[0],
                to_json(fields),
            )
        if len(rows) + len(broken) >= limits.chunk_rows:
            chunk = _csv_chunk(header, rows, row_numbers, broken, lines.bad)
            # drop the parsed rows before handing the chunk on: kept, they would double
            # the chunk's memory while it is mapped
            rows, row_numbers, broken = [], [], {}
            chunks += 1
            yield chunk
            del chunk
    if header is None:
        raise error(str(path), "empty_file", "the CSV file has no header line")
    if rows or broken or not chunks:
        chunk = _csv_chunk(header, rows, row_numbers, broken, lines.bad)
        rows, row_numbers, broken = [], [], {}
        yield chunk


def _csv_header(path: Path, fields: list[str], lines: _Lines, limits: ReadLimits
                ) -> list[str]:
    check_columns(path, fields, limits)
    header = [name.strip() or f"column_{i + 1}" for i, name in enumerate(fields)]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise error(str(path), "csv_header", "duplicate column names in the header",
                    column=duplicates[0], value=header)
    if lines.bad:
        raise error(str(path), "decode_utf8", "the header is not valid UTF-8",
                    value=(lines.first or "").rstrip("\r\n"))
    return header


def _csv_chunk(header: list[str], rows: list[list[str]], row_numbers: list[int],
               broken: dict[int, tuple[str, str, object, str]], bad_bytes: bool) -> Loaded:
    if bad_bytes:
        logger.debug("read_posts: undecodable bytes in this chunk")
    frame = pd.DataFrame(rows, columns=header, index=row_numbers, dtype=object)
    return Loaded(frame=frame, broken=broken, bad_bytes=bad_bytes, has_header=True,
                  surrogates=bad_bytes)


def _too_deep(value: object, max_depth: int) -> bool:
    """Whether arrays/objects nest deeper than ``max_depth`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > max_depth:
                    return True
                stack.append((child, depth + 1))
    return False


def _depth_issue(max_depth: int, excerpt: str) -> tuple[str, str, object, str]:
    detail = (f"arrays/objects nested deeper than collect.max_json_depth = {max_depth} "
              "levels; the record is not kept")
    return ("json_depth", detail, excerpt[:80], to_json({"excerpt": excerpt[:200]}))


def _deep(value: object, max_depth: int) -> bool:
    return isinstance(value, dict | list) and _too_deep(value, max_depth)


def _load_json(path: Path, text: str, pages: bool, max_depth: int) -> Loaded:
    """Records of a JSON document; with ``pages`` (twitter_v2) an object is one page.

    A record nested deeper than ``max_depth`` is kept as a broken record (rule
    ``json_depth``), its neighbours are read; a document too deep for the parser is read
    element by element when it is an array, and is one broken record when it is an object.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_syntax(path, text, exc) from None
    except RecursionError:
        return _load_deep_json(path, text, max_depth)
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
    records: dict[int, object] = {}
    broken: dict[int, tuple[str, str, object, str]] = {}
    check = text.count("[") + text.count("{") > max_depth
    for number, item in enumerate(items, start=1):
        if check and _deep(item, max_depth):
            broken[number] = _depth_issue(max_depth, "(a record too deep to show)")
        else:
            records[number] = item
    return Loaded(records=records, broken=broken)


def _json_syntax(path: Path, text: str, exc: json.JSONDecodeError) -> Exception:
    return error(str(path), "json_syntax",
                 f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})",
                 value=text[max(0, exc.pos - 40): exc.pos + 40])


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _load_deep_json(path: Path, text: str, max_depth: int) -> Loaded:
    """The slow path for a document the parser cannot nest into: split the top-level
    array into its elements by scanning brackets outside strings, parse each alone."""
    body = text.lstrip()
    if not body.startswith("["):
        return Loaded(records={}, broken={1: _depth_issue(max_depth, body)})
    offset = len(text) - len(body)
    spans: list[tuple[int, int]] = []
    depth, start = 0, offset + 1
    for token in _JSON_TOKENS.finditer(text, offset + 1):
        char = token.group()
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                spans.append((start, token.start()))
                break
        elif char == "," and depth == 0:
            spans.append((start, token.start()))
            start = token.end()
    records: dict[int, object] = {}
    broken: dict[int, tuple[str, str, object, str]] = {}
    if len(spans) == 1 and not text[spans[0][0]:spans[0][1]].strip():
        spans = []  # an empty array
    for number, (begin, end) in enumerate(spans, start=1):
        element = text[begin:end]
        try:
            item = json.loads(element)
        except json.JSONDecodeError as exc:
            raise error(str(path), "json_syntax",
                        f"invalid JSON in array element {number} ({exc.msg})",
                        row=number, value=element[:80]) from None
        except RecursionError:
            broken[number] = _depth_issue(max_depth, element.strip())
            continue
        if _deep(item, max_depth):
            broken[number] = _depth_issue(max_depth, element.strip())
        else:
            records[number] = item
    return Loaded(records=records, broken=broken)


def _load_jsonl(text: str, max_depth: int) -> Loaded:
    """One record per non-blank line; a line that is not JSON, or nests deeper than
    ``max_depth``, becomes a broken record on its own (the next line is read as usual)."""
    records: dict[int, object] = {}
    broken: dict[int, tuple[str, str, object, str]] = {}
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            broken[number] = ("json_syntax", f"invalid JSON line ({exc.msg})", line,
                              to_json({"line": line}))
            continue
        except RecursionError:
            broken[number] = _depth_issue(max_depth, line)
            continue
        if line.count("[") + line.count("{") > max_depth and _deep(record, max_depth):
            broken[number] = _depth_issue(max_depth, line)
        else:
            records[number] = record
    return Loaded(records=records, broken=broken)


def _load_parquet(path: Path, data: bytes, nested: bool, limits: ReadLimits) -> Loaded:
    try:
        schema = pq.read_schema(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise error(str(path), "parquet", f"not a readable Parquet file ({exc})",
                    value=data[:40]) from None
    check_columns(path, list(schema.names), limits)
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


def records_to_frame(loaded: Loaded, path: Path, limits: ReadLimits) -> Loaded:
    """Flatten JSON records into a frame (keys as columns); non-objects become broken.

    Raises:
        CollectError: rule ``max_columns`` when the records hold more distinct keys.
    """
    assert loaded.records is not None
    good = {n: r for n, r in loaded.records.items() if isinstance(r, dict)}
    for number, rec in loaded.records.items():
        if not isinstance(rec, dict):
            loaded.broken[number] = ("json_shape", "a record must be a JSON object", rec,
                                     to_json(rec))
    columns: dict[str, None] = {}
    for rec in good.values():
        columns.update(dict.fromkeys(rec))
        if len(columns) > limits.max_columns:
            check_columns(path, list(columns), limits)
    frame = pd.DataFrame(
        {c: pd.Series([rec.get(c) for rec in good.values()], index=list(good), dtype=object)
         for c in columns},
        index=list(good), dtype=object,
    )
    return Loaded(frame=frame, records=loaded.records, broken=loaded.broken,
                  bad_bytes=loaded.bad_bytes, surrogates=loaded.surrogates)
