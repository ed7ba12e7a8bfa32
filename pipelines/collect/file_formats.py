"""File-drop connector: read posts from CSV, JSON, JSONL or Parquet files into the canonical schema.

``read_posts(path, fmt)`` reads one file, or every supported file of a folder (not recursive,
sorted by name, hidden files skipped), and returns a :class:`ReadResult`: canonical posts plus
a quarantine frame of the records that could not be mapped. No record is ever dropped:
``records_read == len(posts) + len(rejects)``. Problems with a whole file (unreadable
container, broken CSV quoting, missing header column, invalid JSON) raise one
:class:`CollectError` whose message names the file, row, column, rule and the value seen.

Containers, chosen by suffix: ``.csv``/``.tsv`` (delimiter sniffed from the header line among
``, ; TAB |``), ``.json`` (an array of records, one record object, or an envelope object whose
``data``/``posts``/``elements``/``items`` key holds the array), ``.jsonl``/``.ndjson`` (one
record per line), ``.parquet``/``.pq``; any of them gzip-compressed with a trailing ``.gz``.
Files are read whole into memory. Text must be UTF-8 (a BOM is fine): a record containing
bytes that are not UTF-8 is quarantined with rule ``decode_utf8`` (the bytes are shown as
``\\xNN`` in ``value`` and ``record``); nothing is silently replaced, so a latin-1 export is
never turned into mojibake. A 0-byte file raises ``empty_file`` except for JSONL, where it is
a valid file of zero records.

Common value rules (every format):

* counts: integers; ``3.0`` is accepted, ``3.5``, ``inf``, ``"1,234"`` and text are rejected
  (``parse_int``). Negative counts pass (the validation stage judges them).
* empty strings and the tokens ``NA N/A NaN nan null None <NA>`` are missing values in count
  and time columns; a missing required value is rejected (``required_value``).
* times: ISO 8601 (``2021-02-28 11:05:34+00:00``, ``2021-02-28T11:05:34.000Z``,
  ``2017-05-01T12:00:00+0000``); naive times are taken as UTC; anything else, or a time
  outside 1677-2262, is rejected (``parse_datetime``). Future and 1970 dates pass.
* ``platform`` and ``content_type`` are lower-cased and a few aliases mapped (``x`` →
  twitter, ``photo`` → image, ``carousel_album`` → carousel, ``reel`` → video, ``status`` →
  text, ``article`` → link); other values are rejected (``enum_value``).
* caption text is kept byte-exact; ids are stripped of surrounding blanks.
* ``collected_at`` is the file's modification time (UTC) unless the format carries it;
  ``source`` is the format name; ``extra`` is a JSON object of every source field without a
  canonical column. Values the source does not have stay missing (never invented) and are
  listed in ``extra["missing_in_source"]``.

Formats:

``canonical``
    The canonical column names (any container). Every required column must be in the
    header; optional ones may be absent. Unknown columns go to ``extra`` (merged into an
    existing ``extra`` JSON object column); an incoming ``source`` value is kept in
    ``extra["source"]``.
``instagram_graph`` / ``linkedin_share``
    JSON post objects (JSON/JSONL/Parquet). ``id`` → post_id; caption from ``caption``
    (Instagram) or ``text``/``commentary`` (LinkedIn), absent → empty caption;
    ``account_id`` (else ``username`` for Instagram, ``author`` for LinkedIn) → account_id;
    ``posting_time`` (else ``timestamp``) → posted_at; ``audience_size`` →
    followers_at_post_time; ``engagement_metrics{likes, comments, shares, saves, reach,
    impressions}`` → the counts (likes/comments/shares required); ``media_type`` →
    content_type (Instagram IMAGE/VIDEO/REELS/CAROUSEL_ALBUM; LinkedIn
    IMAGE/VIDEO/CAROUSEL/DOCUMENT/MULTI_IMAGE/ARTICLE/LINK/NONE/TEXT); hashtag, mention and
    URL counts are counted in the caption; ``media_count`` from ``media_count`` or the length
    of ``children``. Every other field (LinkedIn ``clicks``, ``engagement_rate``,
    ``company_size``, ``industry``, unknown ``engagement_metrics`` keys) goes to ``extra``.
``twitter_v2``
    X API v2 responses (one object, a JSON array of them, or JSONL of them):
    ``data[]`` tweets, ``includes.users[]`` and ``includes.media[]``. like_count → likes,
    reply_count → comments, retweet_count + quote_count → shares, impression_count →
    impressions, bookmark_count → saves, ``includes.users[].public_metrics.followers_count``
    → followers_at_post_time (a count at collection time: ``extra["followers_measured"]``),
    ``entities`` list lengths → hashtag/mention/URL counts, ``attachments.media_keys`` →
    media_count and content_type (any video/animated_gif → video, several photos →
    carousel, one photo → image, none → text). An author or media key missing from
    ``includes`` rejects the tweet (``lookup_missing``). ``source_row`` numbers tweets across
    the pages of a file; a page that is not a response object is one rejected record.
``tweets_csv``
    The layout of ``shared/data/tweets_2022/tweets.csv``: tweet_id, author_id (account),
    created_at, text, like/reply counts, retweet_count + quote_count → shares, n_hashtags,
    n_mentions, n_urls, n_media, media_types (+ has_media) → content_type as for
    twitter_v2, author_followers → followers_at_post_time (measured at collection time,
    noted in extra), snapshot_commit_date → collected_at; username, retweet/quote counts,
    video_view_count, referenced, author_* and age/snapshot columns → extra.
``instagram_scrape_csv``
    The layout of ``shared/data/instagram_2017/instagram_posts.csv``: platform instagram,
    alias → account_id, the shortcode of ``url`` (``/p/<code>/``) → post_id, ``date`` →
    posted_at (day resolution), isVideo → video, multipleImage → carousel, else image,
    numberLikes → likes, numberFollowers → followers_at_post_time, n_tags →
    hashtags_count, n_mentions → mentions_count, description → caption,
    scrape_commit_date → collected_at, all other columns → extra. The file has no comment
    or share counts: ``comments`` and ``shares`` are left missing (<NA>), not 0, because 0
    would be a false observation; the validation stage decides what to do with them.
``facebook_uci``
    UCI "Facebook metrics" (``dataset_Facebook.csv``, ``;``-separated, one brand page):
    post_id ``<file stem>-<row>``, account_id ``uci_brand_page``, Page total likes →
    followers_at_post_time, Type Photo/Status/Link/Video → image/text/link/video,
    like/comment/share → likes/comments/shares, Lifetime Post Total Reach/Impressions →
    reach/impressions, every other column → extra. The file has no caption: caption,
    hashtags_count and mentions_count stay missing. It has only month, weekday and hour of
    2014, so posted_at is synthesized: the first day of that month in 2014 falling on that
    weekday, at that hour, UTC. Weekday 1 is Sunday, 7 Saturday (the file's month
    boundaries prove it: its first December post is weekday 2, and 2014-12-01 was a
    Monday). ``extra["posted_at_synthetic"]`` is true and the three source fields are kept.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import schema

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = (
    "canonical",
    "instagram_graph",
    "linkedin_share",
    "twitter_v2",
    "tweets_csv",
    "instagram_scrape_csv",
    "facebook_uci",
)
#: Formats whose records are nested JSON objects (a CSV file cannot carry them).
_NESTED_FORMATS = ("instagram_graph", "linkedin_share", "twitter_v2")
_SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
_NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>"})
_VALUE_CHARS = 200
_SURROGATES = re.compile("[\udc80-\udcff]")
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@\w+")
_URL = re.compile(r"https?://\S+")
_PLATFORM_ALIASES = {"x": "twitter", "ig": "instagram", "fb": "facebook"}
_CONTENT_ALIASES = {
    "photo": "image", "picture": "image", "album": "carousel", "carousel_album": "carousel",
    "reel": "video", "reels": "video", "animated_gif": "video", "gif": "video",
    "status": "text", "article": "link", "url": "link",
}
_GRAPH_MEDIA = {
    "instagram_graph": {
        "IMAGE": "image", "VIDEO": "video", "REELS": "video", "CAROUSEL_ALBUM": "carousel",
    },
    "linkedin_share": {
        "IMAGE": "image", "VIDEO": "video", "CAROUSEL": "carousel", "DOCUMENT": "carousel",
        "MULTI_IMAGE": "carousel", "ARTICLE": "link", "LINK": "link", "URL": "link",
        "NONE": "text", "TEXT": "text",
    },
}
_FACEBOOK_TYPES = {"Photo": "image", "Status": "text", "Link": "link", "Video": "video"}


class CollectError(ValueError):
    """A whole file (or the call) cannot be read; the message says where and why.

    Attributes:
        file: The file or folder concerned, if any.
        row: 1-based data record number, if the problem is at one record.
        column: The column or field concerned, if any.
        rule: Short rule code, e.g. ``csv_syntax``, ``missing_column``, ``json_shape``.
        value: The value seen (as text), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        rule: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file, self.row, self.column, self.rule, self.value = file, row, column, rule, value


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


def read_posts(path: str | Path, fmt: str) -> ReadResult:
    """Read posts of format ``fmt`` from a file or from every supported file of a folder.

    Args:
        path: A file (see module docstring for containers) or a folder of such files.
        fmt: One of :data:`FORMATS`.

    Returns:
        Canonical posts, quarantined records and the number of records read.

    Raises:
        CollectError: unknown ``fmt``, missing path, a folder without supported files, or a
            file that cannot be read as a whole (all failing files of a folder in one error).
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise _error(str(path), "unknown_format", f"fmt must be one of {FORMATS}", value=fmt)
    if not path.exists():
        raise _error(str(path), "missing_path", "no such file or folder")
    if not path.is_dir():
        return _read_file(path, fmt)

    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    supported = [p for p in files if _container_of(p) is not None]
    skipped = [p.name for p in files if p not in supported]
    if skipped:
        logger.info("read_posts: %s: skipping %d unsupported file(s): %s", path, len(skipped),
                    skipped)
    if not supported:
        raise _error(str(path), "empty_folder",
                     f"no file with a supported suffix {_allowed_suffixes()} in the folder",
                     value=str(skipped))
    results: list[ReadResult] = []
    failures: list[CollectError] = []
    for file in supported:
        try:
            results.append(_read_file(file, fmt))
        except CollectError as exc:
            failures.append(exc)
    if failures:
        listing = "\n".join(f"  - {exc}" for exc in failures)
        first = failures[0]
        raise CollectError(
            f"read_posts: folder {str(path)!r}: {len(failures)} of {len(supported)} file(s) "
            f"could not be read:\n{listing}",
            file=first.file, row=first.row, column=first.column, rule=first.rule,
            value=first.value,
        )
    posts = schema.conform(pd.concat([r.posts for r in results], ignore_index=True))
    rejects = schema.quarantine_frame([]) if not results else pd.concat(
        [r.rejects for r in results], ignore_index=True)
    return ReadResult(posts, rejects, sum(r.records_read for r in results))


# --------------------------------------------------------------------------- errors


def _error(
    file: str | None,
    rule: str,
    detail: str,
    *,
    row: int | None = None,
    column: str | None = None,
    value: object = None,
) -> CollectError:
    """Build a :class:`CollectError` whose message names file, row, column, rule and value."""
    where = [f"file {file!r}"] if file is not None else []
    if row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column {column!r}")
    where.append(f"rule {rule!r}")
    seen = None if value is None else _show(value)
    message = f"read_posts: {', '.join(where)}: {detail}"
    message += f"; got {seen}." if seen is not None else "."
    return CollectError(message, file=file, row=row, column=column, rule=rule, value=seen)


def _clean(text: str, escape: str = "\\") -> str:
    """Show undecodable bytes (lone surrogates from ``surrogateescape``) as ``\\xNN``;
    inside JSON text the backslash itself is escaped (``escape="\\\\"``)."""
    if not _SURROGATES.search(text):
        return text
    return _SURROGATES.sub(lambda m: f"{escape}x{ord(m.group()) - 0xDC00:02x}", text)


def _show(value: object) -> str:
    """A value as quarantine text: its repr, bytes escaped, truncated to 200 characters."""
    text = _clean(value) if isinstance(value, str) else value
    shown = repr(text)
    return shown if len(shown) <= _VALUE_CHARS else shown[: _VALUE_CHARS - 3] + "..."


def _json(value: object) -> str:
    """Serialize a record or extra object to JSON text (NaN/inf as null, undecodable bytes
    as ``\\xNN``)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=_json_default, allow_nan=False)
    except ValueError:  # a NaN or inf somewhere: not valid JSON, write null instead
        text = json.dumps(_jsonable(value), ensure_ascii=False, default=_json_default)
    return _clean(text, escape="\\\\")


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _jsonable(value: object) -> object:
    """Replace float NaN/inf (not valid JSON) by None, recursively for containers."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- containers


def _allowed_suffixes() -> list[str]:
    return sorted(_SUFFIXES) + [s + ".gz" for s in sorted(_SUFFIXES)]


def _container_of(path: Path) -> str | None:
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
        raise _error(str(path), "gzip", f"not a complete gzip archive ({exc})",
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


@dataclass
class _Loaded:
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


def _load(path: Path, container: str, nested: bool, pages: bool) -> _Loaded:
    """Load a file's records; whole-file problems raise :class:`CollectError`."""
    data = _read_bytes(path)
    if not data.strip() and container != "jsonl":
        raise _error(str(path), "empty_file",
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


def _load_csv(path: Path, text: str) -> _Loaded:
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
                raise _error(str(path), "csv_syntax",
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
                    _json(fields),
                )
    finally:
        csv.field_size_limit(old_limit)
    if header is None:
        raise _error(str(path), "empty_file", "the CSV file has no header line")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise _error(str(path), "csv_header", "duplicate column names in the header",
                     column=duplicates[0], value=header)
    if any(_SURROGATES.search(h) for h in header):
        raise _error(str(path), "decode_utf8", "the header is not valid UTF-8",
                     value=first_line)
    frame = pd.DataFrame(rows, columns=header, index=row_numbers, dtype=object)
    return _Loaded(frame=frame, broken=broken, has_header=True)


def _load_json(path: Path, text: str, pages: bool) -> _Loaded:
    """Records of a JSON document; with ``pages`` (twitter_v2) an object is one page."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(str(path), "json_syntax",
                     f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})",
                     value=text[max(0, exc.pos - 40): exc.pos + 40]) from None
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict):
        envelope = [k for k in ("data", "posts", "elements", "items")
                    if isinstance(document.get(k), list)]
        items = [document] if pages or not envelope else document[envelope[0]]
    else:
        raise _error(str(path), "json_shape",
                     "the JSON document must be an array of records or an object",
                     value=document)
    return _Loaded(records={i + 1: item for i, item in enumerate(items)})


class _BadLine:
    """A JSONL line that is not valid JSON (kept to be quarantined, not dropped)."""

    def __init__(self, line: str, message: str) -> None:
        self.line, self.message = line, message


def _load_jsonl(text: str) -> _Loaded:
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
                              _json({"line": line}))
    return _Loaded(records=records, broken=broken)


def _load_parquet(path: Path, data: bytes, nested: bool) -> _Loaded:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(str(path), "parquet", f"not a readable Parquet file ({exc})",
                     value=data[:40]) from None
    if nested:
        return _Loaded(records={i + 1: rec for i, rec in enumerate(table.to_pylist())})
    frame = table.to_pandas(integer_object_nulls=True, date_as_object=True).astype(object)
    frame.index = range(1, len(frame) + 1)
    return _Loaded(frame=frame, has_header=True)


def _records_to_frame(loaded: _Loaded) -> _Loaded:
    """Flatten JSON records into a frame (keys as columns); non-objects become broken."""
    assert loaded.records is not None
    good = {n: r for n, r in loaded.records.items() if isinstance(r, dict)}
    for number, rec in loaded.records.items():
        if not isinstance(rec, dict):
            loaded.broken[number] = ("json_shape", "a record must be a JSON object", rec,
                                     _json(rec))
    columns: dict[str, None] = {}
    for rec in good.values():
        columns.update(dict.fromkeys(rec))
    frame = pd.DataFrame(
        {c: pd.Series([rec.get(c) for rec in good.values()], index=list(good), dtype=object)
         for c in columns},
        index=list(good), dtype=object,
    )
    return _Loaded(frame=frame, records=loaded.records, broken=loaded.broken,
                   bad_bytes=loaded.bad_bytes)


# --------------------------------------------------------------------------- value parsing


def _all_text(series: pd.Series) -> bool:
    """Whether every value is a str or None (CSV columns), enabling the fast paths."""
    return series.dtype == object and bool(series.map(type).isin((str, type(None))).all())


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NULL_TOKENS


def _missing_mask(series: pd.Series) -> pd.Series:
    if _all_text(series):
        text = series.str.strip().str.lower()
        return series.isna() | text.isin(_NULL_TOKENS)
    return series.map(_is_missing).astype(bool)


def _parse_int(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse counts: (Int64 values, bad mask, missing mask), vectorized."""
    missing = _missing_mask(series)
    if _all_text(series):
        candidates = series.where(~missing).str.strip()
    else:
        is_bool = series.map(lambda v: isinstance(v, bool | np.bool_)).astype(bool)
        candidates = series.where(~missing & ~is_bool)
        candidates = candidates.map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(candidates, errors="coerce").astype("float64")
    finite = np.isfinite(numbers)
    in_range = numbers.abs() < 2**63
    ok = finite & in_range & (numbers == np.floor(numbers))
    bad = ~missing & ~ok
    values = pd.Series(pd.NA, index=series.index, dtype="Int64")
    if ok.any():
        exact = pd.to_numeric(candidates[ok], errors="coerce")
        values[ok] = exact.astype("float64").astype("Int64") if exact.dtype.kind == "f" \
            else exact.astype("Int64")
    return values, bad, missing


def _parse_time(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse ISO 8601 times to UTC: (datetime values, bad mask, missing mask)."""
    missing = _missing_mask(series)
    candidates = series.where(~missing)
    numeric = candidates.map(lambda v: isinstance(v, int | float | bool | np.number)).astype(bool)
    candidates = candidates.where(~numeric)
    text = candidates.map(lambda v: v.strip() if isinstance(v, str) else v)
    values = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = ~missing & values.isna()
    return values, bad, missing


def _text_value(value: object) -> object:
    """A scalar as text for id/enum/caption columns; nested values return a marker."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | np.ndarray):
        return _Nested
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


class _Nested:
    """Marker: a JSON object or array where a scalar was expected."""


def _parse_text(series: pd.Series, strip: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Text values: (string values, nested mask, missing mask); ids are stripped."""
    text = series.map(_text_value)
    nested = text.map(lambda v: v is _Nested).astype(bool)
    text = text.where(~nested)
    if strip:
        text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        missing = text.map(lambda v: v is None or v == "").astype(bool) & ~nested
    else:
        missing = text.isna() & ~nested
    return text.where(~missing, None), nested, missing


def _parse_enum(series: pd.Series, allowed: tuple[str, ...], aliases: dict[str, str]
                ) -> tuple[pd.Series, pd.Series, pd.Series]:
    text, nested, missing = _parse_text(series, strip=True)
    lowered = text.map(lambda v: aliases.get(v.lower(), v.lower()) if isinstance(v, str) else v)
    bad = nested | (~missing & ~lowered.isin(allowed))
    return lowered.where(~bad), bad, missing


def _parse_bool(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

    def one(value: object) -> object:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, str):
            return mapping.get(value.strip().lower())
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        return None

    missing = _missing_mask(series)
    values = series.map(one)
    bad = ~missing & values.isna()
    return values, bad, missing


# --------------------------------------------------------------------------- mapping


@dataclass
class _Mapped:
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
    issues: list[tuple[int, str, str | None, object, str]]
    record: Callable[[int], str]
    skip: set[int] = field(default_factory=set)


_TEXT_COLUMNS = ("post_id", "account_id", "campaign_id")


def _finish(mapped: _Mapped, *, path: Path, fmt: str, collected_at: pd.Timestamp
            ) -> ReadResult:
    """Coerce raw values, quarantine what does not parse, conform the rest."""
    values = mapped.values
    index = values.index
    issue_frames: list[pd.DataFrame] = []
    order = 0
    checked = ~index.isin(sorted(mapped.skip))

    def note(mask: pd.Series, rule: str, column: str, raw: pd.Series, detail: str) -> None:
        nonlocal order
        order += 1
        mask = mask.to_numpy(dtype=bool) & checked
        if mask.any():
            issue_frames.append(pd.DataFrame({
                "row": index[mask], "order": order, "rule": rule,
                "column": mapped.source_of.get(column, column),
                "value": raw[mask].to_numpy(), "detail": detail,
            }))

    if mapped.issues:
        issue_frames.append(pd.DataFrame(mapped.issues,
                                         columns=["row", "rule", "column", "value", "detail"])
                            .assign(order=0))
    out = pd.DataFrame(index=index)
    for column in schema.COLUMNS:
        name = column.name
        if name in ("source", "extra"):
            continue
        if name not in values.columns:
            fill = collected_at if name == "collected_at" else pd.NA
            out[name] = pd.Series(fill, index=index, dtype="object")
            continue
        raw = values[name]
        if column.dtype == "Int64":
            parsed, bad, missing = _parse_int(raw)
            note(bad, "parse_int", name, raw, "expected a whole number")
        elif column.dtype.startswith("datetime"):
            parsed, bad, missing = _parse_time(raw)
            note(bad, "parse_datetime", name, raw, "expected an ISO 8601 time in 1677-2262")
            if name == "collected_at":
                parsed = parsed.where(~missing, collected_at)
                missing = pd.Series(False, index=index)
        elif name in ("platform", "content_type"):
            allowed = schema.PLATFORMS if name == "platform" else schema.CONTENT_TYPES
            aliases = _PLATFORM_ALIASES if name == "platform" else _CONTENT_ALIASES
            parsed, bad, missing = _parse_enum(raw, allowed, aliases)
            note(bad, "enum_value", name, raw, f"expected one of {allowed}")
        else:
            parsed, bad, missing = _parse_text(raw, strip=name in _TEXT_COLUMNS)
            note(bad, "json_shape", name, raw, "expected text, got a JSON object or array")
        if column.required:
            note(missing, "required_value", name, raw, "a required value is missing")
        out[name] = parsed

    extras = mapped.extra
    out["source"] = fmt
    out["extra"] = extras.map(lambda e: None if e is None else _json(e))

    if issue_frames:
        issues = pd.concat(issue_frames, ignore_index=True).sort_values(
            ["row", "order"], kind="stable")
    else:
        issues = pd.DataFrame(columns=["row", "order", "rule", "column", "value", "detail"])
    rejected_rows = pd.unique(issues["row"])
    quarantine: list[dict[str, object]] = []
    for row, group in issues.groupby("row", sort=True):
        reasons = [
            {"rule": r, "column": c, "value": _show(v), "detail": d}
            for r, c, v, d in zip(group["rule"], group["column"], group["value"],
                                  group["detail"], strict=True)
        ]
        first = reasons[0]
        post_id = None
        if row in out.index and isinstance(out.at[row, "post_id"], str):
            post_id = _clean(out.at[row, "post_id"])
        quarantine.append({
            "stage": "collect", "source_file": str(path), "source_row": int(row),
            "post_id": post_id, "rule": first["rule"], "column": first["column"],
            "value": first["value"], "reasons": json.dumps(reasons, ensure_ascii=False),
            "record": mapped.record(int(row)),
        })
    kept = out.drop(index=[r for r in rejected_rows if r in out.index])
    posts = schema.conform(kept.reset_index(drop=True))
    rejects = schema.quarantine_frame(quarantine)
    result = ReadResult(posts, rejects, len(index))
    if len(rejects):
        top = rejects["rule"].value_counts().head(3).to_dict()
        logger.info("read_posts: %s (%s): %d records, %d posts, %d quarantined %s", path, fmt,
                    result.records_read, len(posts), len(rejects), top)
    else:
        logger.info("read_posts: %s (%s): %d records, %d posts", path, fmt,
                    result.records_read, len(posts))
    return result


def _read_file(path: Path, fmt: str) -> ReadResult:
    container = _container_of(path)
    if container is None:
        raise _error(str(path), "container",
                     f"unsupported file suffix; expected one of {_allowed_suffixes()}",
                     value=path.name)
    nested = fmt in _NESTED_FORMATS
    if nested and container == "csv":
        raise _error(str(path), "container",
                     f"format {fmt!r} holds nested JSON objects; use JSON, JSONL or Parquet",
                     value=path.name)
    loaded = _load(path, container, nested, pages=fmt == "twitter_v2")
    collected_at = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
    if nested:
        mapped = _map_nested(loaded, fmt)
    else:
        if loaded.frame is None:
            loaded = _records_to_frame(loaded)
        mapped = _FLAT_MAPPERS[fmt](loaded, path)
    if loaded.bad_bytes and loaded.frame is not None:
        mapped.issues += _bad_byte_issues(loaded.frame)
    _add_broken(mapped, loaded)
    return _finish(mapped, path=path, fmt=fmt, collected_at=collected_at)


def _bad_byte_issues(frame: pd.DataFrame) -> list[tuple[int, str, str | None, object, str]]:
    """One decode_utf8 issue per (record, source column) holding bytes that are not UTF-8."""
    issues = []
    for column in frame.columns:
        raw = frame[column]
        mask = raw.map(lambda v: isinstance(v, str) and bool(_SURROGATES.search(v)))
        issues += [(row, "decode_utf8", column, raw[row],
                    "bytes that are not UTF-8; re-export the file as UTF-8")
                   for row in raw.index[mask.astype(bool)]]
    return issues


def _add_broken(mapped: _Mapped, loaded: _Loaded) -> None:
    """Give records that could not be split into fields a row and a reject reason."""
    if not loaded.broken:
        return
    rows = sorted(loaded.broken)
    filler = pd.DataFrame(index=rows, columns=mapped.values.columns, dtype=object)
    mapped.values = pd.concat([mapped.values, filler]).sort_index()
    mapped.extra = pd.concat([mapped.extra, pd.Series(None, index=rows, dtype=object)]
                             ).sort_index()
    records = {r: loaded.broken[r][3] for r in rows}
    inner = mapped.record
    mapped.record = lambda row: records[row] if row in records else inner(row)
    mapped.skip.update(rows)
    for row in rows:
        rule, detail, value, _ = loaded.broken[row]
        mapped.issues.append((row, rule, None, value, detail))


# --------------------------------------------------------------------------- flat formats


def _frame_record(frame: pd.DataFrame, records: dict[int, object] | None
                  ) -> Callable[[int], str]:
    """Record JSON: the original JSON object when there is one, else the row's fields."""
    if records is not None:
        return lambda row: _json(records[row])
    return lambda row: _json(frame.loc[row].to_dict())


def _require_columns(loaded: _Loaded, path: Path, fmt: str, needed: list[str]) -> pd.DataFrame:
    """Header check (CSV/Parquet); JSON records lacking a key are rejected one by one."""
    frame = loaded.frame
    assert frame is not None
    missing = [c for c in needed if c not in frame.columns]
    if missing and loaded.has_header:
        raise _error(str(path), "missing_column",
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


def _extra_series(frame: pd.DataFrame, columns: list[str], notes: dict[str, object] | None,
                  rename: dict[str, str] | None = None) -> pd.Series:
    """One dict per row: the given source columns (typed) plus constant notes."""
    rename = rename or {}
    typed = pd.DataFrame({rename.get(c, c): _infer_extra_column(frame[c]) for c in columns},
                         index=frame.index)
    rows = typed.to_dict(orient="records") if columns else [{} for _ in range(len(frame))]
    if notes:
        rows = [{**row, **notes} for row in rows]
    return pd.Series(rows, index=frame.index, dtype=object)


def _map_canonical(loaded: _Loaded, path: Path) -> _Mapped:
    frame = _require_columns(loaded, path, "canonical", list(schema.REQUIRED_COLUMNS))
    known = [c for c in schema.COLUMN_NAMES if c in frame.columns and c not in ("source", "extra")]
    others = [c for c in frame.columns if c not in schema.COLUMN_NAMES]
    if "source" in frame.columns:
        others.append("source")
    extra = _extra_series(frame, others, None)
    issues: list[tuple[int, str, str | None, object, str]] = []
    if "extra" in frame.columns:
        merged = []
        for row, given, added in zip(frame.index, frame["extra"], extra, strict=True):
            base: object = {}
            if isinstance(given, dict):
                base = given
            elif not _is_missing(given):
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
    return _Mapped(frame[known].copy(), {}, extra, issues,
                   _frame_record(frame, loaded.records))


def _combine_counts(frame: pd.DataFrame, first: str, second: str) -> pd.Series:
    """``first + second`` where both parse; else the raw value that will fail to parse.
    A missing ``second`` counts as 0; a missing ``first`` stays missing."""
    a, a_bad, a_missing = _parse_int(frame[first])
    if second not in frame.columns:
        return frame[first]
    b, b_bad, b_missing = _parse_int(frame[second])
    total = (a + b.fillna(0)).astype(object)
    combined = total.where(~a_missing, None)
    combined = combined.where(~a_bad, frame[first])
    return combined.where(~(b_bad & ~a_bad), frame[second])


def _twitter_content_type(media_types: object, n_media: object, has_media: object) -> str:
    """photo×1 → image, photo×n → carousel, any video/gif → video, none → text."""
    types = [t for t in str(media_types or "").replace(";", ",").split(",") if t.strip()]
    types = [t.strip().lower() for t in types]
    if not types:
        return "" if str(has_media).strip().lower() == "true" else "text"
    if any(t in ("video", "animated_gif") for t in types):
        return "video"
    if all(t == "photo" for t in types):
        try:
            many = len(types) > 1 or int(float(n_media)) > 1  # type: ignore[arg-type]
        except (TypeError, ValueError):
            many = len(types) > 1
        return "carousel" if many else "image"
    return ",".join(types)  # unknown type: rejected as enum_value


def _map_tweets_csv(loaded: _Loaded, path: Path) -> _Mapped:
    needed = ["tweet_id", "author_id", "created_at", "text", "like_count", "reply_count",
              "retweet_count", "n_hashtags", "n_mentions", "author_followers", "media_types"]
    frame = _require_columns(loaded, path, "tweets_csv", needed)
    get = frame.get
    n_media = get("n_media", pd.Series(None, index=frame.index, dtype=object))
    has_media = get("has_media", pd.Series(None, index=frame.index, dtype=object))
    keys = pd.DataFrame({"t": frame["media_types"], "n": n_media, "h": has_media})
    keys = keys.map(lambda v: "" if _is_missing(v) else str(v))
    combos = keys.drop_duplicates()
    lookup = {tuple(k): _twitter_content_type(*k) for k in combos.itertuples(index=False)}
    content = pd.Series([lookup[tuple(k)] for k in keys.itertuples(index=False)],
                        index=frame.index, dtype=object)
    content = content.where(content != "", frame["media_types"])
    values = pd.DataFrame({
        "post_id": frame["tweet_id"], "platform": "twitter", "account_id": frame["author_id"],
        "posted_at": frame["created_at"], "content_type": content, "caption": frame["text"],
        "hashtags_count": frame["n_hashtags"], "mentions_count": frame["n_mentions"],
        "followers_at_post_time": frame["author_followers"],
        "likes": frame["like_count"], "comments": frame["reply_count"],
        "shares": _combine_counts(frame, "retweet_count", "quote_count"),
    }, index=frame.index)
    source_of = {"post_id": "tweet_id", "account_id": "author_id", "posted_at": "created_at",
                 "content_type": "media_types", "caption": "text",
                 "hashtags_count": "n_hashtags", "mentions_count": "n_mentions",
                 "followers_at_post_time": "author_followers", "likes": "like_count",
                 "comments": "reply_count", "shares": "retweet_count+quote_count"}
    optional = {"n_urls": "urls_count", "n_media": "media_count",
                "snapshot_commit_date": "collected_at"}
    for src, dst in optional.items():
        if src in frame.columns:
            values[dst] = frame[src]
            source_of[dst] = src
    used = set(needed) - {"retweet_count"} | set(optional)
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"followers_measured": "at_collection", "missing_in_source": ["impressions"]}
    extra = _extra_series(frame, extra_cols, notes)
    return _Mapped(values, source_of, extra, [], _frame_record(frame, loaded.records))


def _map_instagram_scrape(loaded: _Loaded, path: Path) -> _Mapped:
    needed = ["alias", "url", "date", "isVideo", "multipleImage", "numberLikes",
              "numberFollowers", "n_tags", "n_mentions", "description"]
    frame = _require_columns(loaded, path, "instagram_scrape_csv", needed)
    issues: list[tuple[int, str, str | None, object, str]] = []
    shortcode = frame["url"].map(lambda v: v if isinstance(v, str) else "").str.extract(
        r"/p/([A-Za-z0-9_-]+)", expand=False)
    no_code = shortcode.isna() & ~_missing_mask(frame["url"])
    issues += [(row, "parse_post_id", "url", frame.at[row, "url"],
                "no /p/<shortcode>/ in the post URL") for row in frame.index[no_code]]
    is_video, video_bad, _ = _parse_bool(frame["isVideo"])
    multiple, multiple_bad, _ = _parse_bool(frame["multipleImage"])
    for name, bad in (("isVideo", video_bad), ("multipleImage", multiple_bad)):
        issues += [(row, "parse_bool", name, frame.at[row, name], "expected True or False")
                   for row in frame.index[bad]]
    content = np.where(is_video.eq(True), "video",
                       np.where(multiple.eq(True), "carousel", "image"))
    values = pd.DataFrame({
        "post_id": shortcode.where(shortcode.notna(), None), "platform": "instagram",
        "account_id": frame["alias"], "posted_at": frame["date"], "content_type": content,
        "caption": frame["description"], "hashtags_count": frame["n_tags"],
        "mentions_count": frame["n_mentions"], "followers_at_post_time":
        frame["numberFollowers"], "likes": frame["numberLikes"],
    }, index=frame.index)
    source_of = {"post_id": "url", "account_id": "alias", "posted_at": "date",
                 "caption": "description", "hashtags_count": "n_tags",
                 "mentions_count": "n_mentions", "followers_at_post_time": "numberFollowers",
                 "likes": "numberLikes"}
    if "scrape_commit_date" in frame.columns:
        values["collected_at"] = frame["scrape_commit_date"]
        source_of["collected_at"] = "scrape_commit_date"
    used = set(needed) - {"url", "isVideo", "multipleImage"} | {"scrape_commit_date"}
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"followers_measured": "at_collection", "posted_at_resolution": "day",
             "missing_in_source": ["comments", "shares"]}
    extra = _extra_series(frame, extra_cols, notes, rename={"content_type": "source_content_type"})
    return _Mapped(values, source_of, extra, issues, _frame_record(frame, loaded.records))


def _facebook_posted_at(month: pd.Series, weekday: pd.Series, hour: pd.Series) -> pd.Series:
    """First day of ``month`` 2014 falling on UCI ``weekday`` (1=Sunday), at ``hour`` UTC."""
    first_weekday = month.map(lambda m: calendar.weekday(2014, int(m), 1))  # Monday = 0
    python_weekday = (weekday.astype("int64") + 5) % 7
    day = 1 + (python_weekday - first_weekday.astype("int64")) % 7
    return pd.to_datetime(pd.DataFrame({"year": 2014, "month": month.astype("int64"),
                                        "day": day, "hour": hour.astype("int64")}), utc=True)


def _map_facebook_uci(loaded: _Loaded, path: Path) -> _Mapped:
    needed = ["Page total likes", "Type", "Post Month", "Post Weekday", "Post Hour",
              "like", "comment", "share"]
    frame = _require_columns(loaded, path, "facebook_uci", needed)
    issues: list[tuple[int, str, str | None, object, str]] = []
    parts = {}
    ok = pd.Series(True, index=frame.index)
    for name, low, high in (("Post Month", 1, 12), ("Post Weekday", 1, 7), ("Post Hour", 0, 23)):
        parsed, bad, missing = _parse_int(frame[name])
        out_of_range = ~bad & ~missing & ~parsed.between(low, high).fillna(False)
        failed = bad | missing | out_of_range
        issues += [(row, "parse_datetime", name, frame.at[row, name],
                    f"posted_at needs {name} as a whole number in [{low}, {high}]")
                   for row in frame.index[failed]]
        ok &= ~failed
        parts[name] = parsed
    posted_at = pd.Series(None, index=frame.index, dtype=object)
    if ok.any():
        synthesized = _facebook_posted_at(*(parts[n][ok] for n in parts))
        posted_at[ok] = synthesized.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    type_text = frame["Type"].map(lambda v: v.strip() if isinstance(v, str) else v)
    content = type_text.map(lambda v: _FACEBOOK_TYPES.get(v, v))
    values = pd.DataFrame({
        "post_id": [f"{path.name.split('.')[0]}-{row}" for row in frame.index],
        "platform": "facebook", "account_id": "uci_brand_page",
        "posted_at": posted_at, "content_type": content,
        "followers_at_post_time": frame["Page total likes"], "likes": frame["like"],
        "comments": frame["comment"], "shares": frame["share"],
    }, index=frame.index)
    source_of = {"content_type": "Type", "followers_at_post_time": "Page total likes",
                 "likes": "like", "comments": "comment", "shares": "share",
                 "posted_at": "Post Month/Post Weekday/Post Hour"}
    optional = {"Lifetime Post Total Reach": "reach",
                "Lifetime Post Total Impressions": "impressions"}
    for src, dst in optional.items():
        if src in frame.columns:
            values[dst] = frame[src]
            source_of[dst] = src
    used = {"Page total likes", "Type", "like", "comment", "share"} | set(optional)
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"posted_at_synthetic": True, "post_weekday_convention": "1=Sunday",
             "missing_in_source": ["caption", "hashtags_count", "mentions_count"]}
    extra = _extra_series(frame, extra_cols, notes)
    return _Mapped(values, source_of, extra, issues, _frame_record(frame, loaded.records))


_FLAT_MAPPERS: dict[str, Callable[[_Loaded, Path], _Mapped]] = {
    "canonical": _map_canonical,
    "tweets_csv": _map_tweets_csv,
    "instagram_scrape_csv": _map_instagram_scrape,
    "facebook_uci": _map_facebook_uci,
}


# --------------------------------------------------------------------------- nested formats


class _Shape(Exception):
    """A JSON value has the wrong nesting (raised and caught inside one record)."""

    def __init__(self, column: str, value: object, detail: str) -> None:
        super().__init__(detail)
        self.column, self.value, self.detail = column, value, detail


def _obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """``parent[key]`` as an object ({} when absent); anything else is a shape error."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Shape(path, value, f"{path} must be a JSON object")
    return value


def _list(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(path, value, f"{path} must be a JSON array")
    return value


def _count_text(caption: object, pattern: re.Pattern[str]) -> int:
    """Occurrences of ``pattern`` in a caption (0 for no caption)."""
    return len(pattern.findall(caption)) if isinstance(caption, str) else 0


def _map_graph_post(post: dict[str, Any], fmt: str) -> tuple[dict[str, object], dict[str, Any]]:
    """Map one Instagram Graph / LinkedIn share object; returns (values, extra)."""
    instagram = fmt == "instagram_graph"
    metrics = _obj(post, "engagement_metrics", "engagement_metrics")
    caption_keys = ("caption",) if instagram else ("text", "commentary")
    account_keys = ("account_id", "username") if instagram else ("account_id", "author")
    caption_key = next((k for k in caption_keys if k in post), caption_keys[0])
    account_key = next((k for k in account_keys if k in post), account_keys[0])
    time_key = "posting_time" if "posting_time" in post or "timestamp" not in post \
        else "timestamp"
    caption = post.get(caption_key)
    caption = "" if caption is None else caption
    media_type = post.get("media_type")
    content = (_GRAPH_MEDIA[fmt].get(media_type.strip().upper(), media_type)
               if isinstance(media_type, str) else media_type)
    children = post.get("children")
    if isinstance(children, dict):
        children = children.get("data")
    media_count = post.get("media_count", len(children) if isinstance(children, list) else None)
    values: dict[str, object] = {
        "post_id": post.get("id"), "platform": "instagram" if instagram else "linkedin",
        "account_id": post.get(account_key), "posted_at": post.get(time_key),
        "content_type": content, "caption": caption,
        "hashtags_count": _count_text(caption, _HASHTAG),
        "mentions_count": _count_text(caption, _MENTION),
        "urls_count": _count_text(caption, _URL), "media_count": media_count,
        "followers_at_post_time": post.get("audience_size"),
    }
    for name in ("likes", "comments", "shares", "saves", "reach", "impressions"):
        values[name] = metrics.get(name)
    used = {"id", caption_key, account_key, time_key, "media_type", "audience_size",
            "engagement_metrics", "media_count", "children"}
    extra = {k: v for k, v in post.items() if k not in used}
    if isinstance(post.get("children"), dict | list):
        extra["children"] = post["children"]
    leftover = {k: v for k, v in metrics.items()
                if k not in ("likes", "comments", "shares", "saves", "reach", "impressions")}
    if leftover:
        extra["engagement_metrics"] = leftover
    return values, extra


_GRAPH_SOURCE_OF = {
    "followers_at_post_time": "audience_size", "content_type": "media_type",
    **{m: f"engagement_metrics.{m}"
       for m in ("likes", "comments", "shares", "saves", "reach", "impressions")},
}


def _map_nested(loaded: _Loaded, fmt: str) -> _Mapped:
    assert loaded.records is not None
    rows: dict[int, dict[str, object]] = {}
    extras: dict[int, object] = {}
    originals: dict[int, object] = {}
    issues: list[tuple[int, str, str | None, object, str]] = []
    skip: set[int] = set()
    if fmt == "twitter_v2":
        # Records are tweets, numbered across pages; a broken page counts as one record.
        number = 0
        broken: dict[int, tuple[str, str, object, str]] = {}
        for page_number in sorted(set(loaded.records) | set(loaded.broken)):
            if page_number in loaded.broken:
                number += 1
                broken[number] = loaded.broken[page_number]
                continue
            for values, extra, original, found in _twitter_page(loaded.records[page_number]):
                number += 1
                rows[number], extras[number], originals[number] = values, extra, original
                issues += [(number, *issue) for issue in found]
                if not values:
                    skip.add(number)
        loaded.broken = broken
    else:
        for number, post in sorted(loaded.records.items()):
            originals[number] = post
            rows[number], extras[number] = {}, None
            if not isinstance(post, dict):
                issues.append((number, "json_shape", None, post, "a post must be a JSON object"))
                skip.add(number)
                continue
            try:
                rows[number], extras[number] = _map_graph_post(post, fmt)
            except _Shape as exc:
                issues.append((number, "json_shape", exc.column, exc.value, exc.detail))
                skip.add(number)
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
    source_of = _TWITTER_SOURCE_OF if fmt == "twitter_v2" else _GRAPH_SOURCE_OF
    return _Mapped(values, source_of, extra, issues,
                   lambda row: _json(originals[row]), skip)


def _surrogate_path(value: object, path: str) -> tuple[str, str] | None:
    """The first field path holding undecodable bytes, with its text."""
    if isinstance(value, str):
        return (path, value) if _SURROGATES.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _surrogate_path(item, f"{path}.{key}" if path else str(key))
            if found is None and isinstance(key, str) and _SURROGATES.search(key):
                found = (path, key)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


_TWITTER_SOURCE_OF = {
    "post_id": "id", "account_id": "author_id", "posted_at": "created_at", "caption": "text",
    "likes": "public_metrics.like_count", "comments": "public_metrics.reply_count",
    "shares": "public_metrics.retweet_count+quote_count",
    "impressions": "public_metrics.impression_count", "saves": "public_metrics.bookmark_count",
    "followers_at_post_time": "includes.users.public_metrics.followers_count",
    "content_type": "includes.media.type",
}

_Issue = tuple[str, str | None, object, str]
_Tweet = tuple[dict[str, object], object, object, list[_Issue]]


def _twitter_page(page: object) -> list[_Tweet]:
    """Map one API response page to (values, extra, original, issues) per tweet."""
    if not isinstance(page, dict):
        return [({}, None, page, [("json_shape", None, page,
                                   "a twitter_v2 page must be a response object")])]
    data = page.get("data")
    if data is None:
        if "id" in page and "text" in page:
            return [({}, None, page, [("json_shape", "data", page,
                                       "expected a response page with 'data'; got a tweet")])]
        logger.info("read_posts: twitter_v2 page without data (meta %s, errors %s)",
                    page.get("meta"), page.get("errors"))
        return []
    tweets = [data] if isinstance(data, dict) else data
    if not isinstance(tweets, list):
        return [({}, None, page, [("json_shape", "data", data,
                                   "data must be an array of tweets")])]
    try:
        includes = _obj(page, "includes", "includes")
        users = {str(u["id"]): u for u in _list(includes, "users", "includes.users")
                 if isinstance(u, dict) and "id" in u}
        media = {str(m["media_key"]): m for m in _list(includes, "media", "includes.media")
                 if isinstance(m, dict) and "media_key" in m}
    except _Shape as exc:
        shape = ("json_shape", exc.column, exc.value, exc.detail)
        return [({}, None, tweet, [shape]) for tweet in tweets] or [({}, None, page, [shape])]
    out: list[_Tweet] = []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            out.append(({}, None, tweet, [("json_shape", None, tweet,
                                           "a tweet must be a JSON object")]))
            continue
        try:
            out.append(_twitter_tweet(tweet, users, media, "includes" in page))
        except _Shape as exc:
            out.append(({}, None, tweet, [("json_shape", exc.column, exc.value, exc.detail)]))
    return out


def _twitter_tweet(tweet: dict[str, Any], users: dict[str, Any], media: dict[str, Any],
                   has_includes: bool) -> _Tweet:
    metrics = _obj(tweet, "public_metrics", "public_metrics")
    entities = _obj(tweet, "entities", "entities")
    attachments = _obj(tweet, "attachments", "attachments")
    keys = _list(attachments, "media_keys", "attachments.media_keys")
    issues: list[_Issue] = []
    author = tweet.get("author_id")
    user = users.get(str(author)) if author is not None else None
    followers: object = None
    if user is not None:
        followers = _obj(user, "public_metrics", "includes.users.public_metrics").get(
            "followers_count")
    elif author is not None:
        where = "includes.users" if has_includes else "includes (absent from the page)"
        issues.append(("lookup_missing", "includes.users", author,
                       f"author_id not found in {where}; followers unknown"))
    types = [media[str(k)].get("type") if str(k) in media else None for k in keys]
    content: object = None
    if None in types:
        unknown = [k for k, t in zip(keys, types, strict=True) if t is None]
        issues.append(("lookup_missing", "includes.media", unknown,
                       "media_key not found in includes.media; content type unknown"))
    else:
        content = _twitter_content_type(",".join(str(t) for t in types), len(keys), bool(keys))
    retweets, quotes = metrics.get("retweet_count"), metrics.get("quote_count")
    shares: object = retweets
    if isinstance(retweets, int) and isinstance(quotes, int) \
            and not isinstance(retweets, bool) and not isinstance(quotes, bool):
        shares = retweets + quotes
    values: dict[str, object] = {
        "post_id": tweet.get("id"), "platform": "twitter", "account_id": author,
        "posted_at": tweet.get("created_at"), "content_type": content,
        "caption": tweet.get("text"),
        "hashtags_count": len(_list(entities, "hashtags", "entities.hashtags")),
        "mentions_count": len(_list(entities, "mentions", "entities.mentions")),
        "urls_count": len(_list(entities, "urls", "entities.urls")),
        "media_count": len(keys), "followers_at_post_time": followers,
        "likes": metrics.get("like_count"), "comments": metrics.get("reply_count"),
        "shares": shares, "impressions": metrics.get("impression_count"),
        "saves": metrics.get("bookmark_count"),
    }
    used = {"id", "author_id", "created_at", "text", "public_metrics"}
    extra: dict[str, Any] = {k: v for k, v in tweet.items() if k not in used}
    leftover = {k: v for k, v in metrics.items()
                if k not in ("like_count", "reply_count", "impression_count", "bookmark_count")}
    if leftover:
        extra["public_metrics"] = leftover
    if user is not None:
        extra["username"] = user.get("username")
        extra["followers_measured"] = "at_collection"
    if keys:
        extra["media_types"] = types
    return values, extra, tweet, issues
