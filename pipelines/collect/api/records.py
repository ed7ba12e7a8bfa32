"""Turning API records into canonical rows, and the rows that cannot be into quarantine.

A collector maps each record with a :class:`FieldReader`, which collects every problem
of the record (missing field, non-count value, unparseable time) before the record is
rejected, so a quarantine row lists all of its reasons at once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines import schema

logger = logging.getLogger(__name__)

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<![\w.])@\w+")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_MISSING = object()


@dataclass
class ApiResult:
    """What one API collection produced (same field names as the file connector's result).

    Attributes:
        posts: Canonical posts (:func:`pipelines.schema.conform`).
        rejects: Records that could not be mapped (:func:`pipelines.schema.quarantine_frame`).
        records_read: Records considered: ``len(posts) + len(rejects)``. Records skipped
            because they are older than ``since`` are not counted.
    """

    posts: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


class RecordRejected(Exception):
    """Raised by a mapper when a record has problems; carries every reason found."""

    def __init__(self, reasons: list[dict[str, str]]) -> None:
        super().__init__(f"{len(reasons)} problem(s)")
        self.reasons = reasons


def text_counts(text: str) -> tuple[int, int, int]:
    """Hashtags, @mentions and links in ``text`` (used where the API gives no entities)."""
    return len(_HASHTAG.findall(text)), len(_MENTION.findall(text)), len(_URL.findall(text))


class FieldReader:
    """Reads fields of one record, noting every problem instead of stopping at the first.

    Args:
        record: The record (a JSON object from the API).
    """

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self.reasons: list[dict[str, str]] = []

    def fail(self, rule: str, column: str, value: object) -> None:
        """Note one problem: the failed ``rule``, the canonical ``column``, the ``value``."""
        self.reasons.append({"rule": rule, "column": column, "value": _short(value)})

    def get(self, path: str, column: str, default: Any = _MISSING) -> Any:
        """The value at dotted ``path``; a missing one fails ``expect_field_present``
        unless ``default`` is given."""
        value: Any = self.record
        for key in path.split("."):
            if not isinstance(value, Mapping) or value.get(key) is None:
                if default is _MISSING:
                    self.fail("expect_field_present", column, f"<missing {path}>")
                    return None
                return default
            value = value[key]
        return value

    def count(self, path: str, column: str, default: Any = _MISSING) -> int | None:
        """A non-negative integer count at ``path`` (ints and digit strings accepted)."""
        value = self.get(path, column, default)
        if value is None:
            return None
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
        ) or int(value) < 0:
            self.fail("expect_count_non_negative_int", column, value)
            return None
        return int(value)

    def timestamp(self, path: str, column: str, *, epoch_ms: bool = False) -> pd.Timestamp | None:
        """A UTC timestamp at ``path``: ISO 8601 text, or epoch milliseconds."""
        value = self.get(path, column)
        if value is None:
            return None
        try:
            if epoch_ms:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError
                return pd.Timestamp(int(value), unit="ms", tz="UTC")
            if not isinstance(value, str):
                raise ValueError
            ts = pd.Timestamp(value)
            return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        except (ValueError, TypeError, OverflowError):
            self.fail("expect_timestamp_parseable", column, value)
            return None

    def check(self) -> None:
        """Raise :class:`RecordRejected` if any problem was noted.

        Raises:
            RecordRejected: with every noted reason.
        """
        if self.reasons:
            raise RecordRejected(self.reasons)


Mapper = Callable[[FieldReader], tuple[dict[str, Any], dict[str, Any]]]
#: Adds to a kept row and its extra dict (e.g. insights); may raise RecordRejected.
Enricher = Callable[[dict[str, Any], dict[str, Any]], None]


class ResultBuilder:
    """Accumulates canonical rows and quarantine rows for one collection.

    Args:
        api: API key, for log lines.
        source: Value of the canonical ``source`` column, e.g. ``instagram_graph_api``.
        collected_at: When the counts were read (passed in, for deterministic runs).
        since: Records posted before this instant are skipped (not counted).
    """

    def __init__(
        self, *, api: str, source: str, collected_at: pd.Timestamp, since: pd.Timestamp | None
    ) -> None:
        self.api = api
        self.source = source
        self.collected_at = utc_timestamp(collected_at, "collected_at")
        self.since = None if since is None else utc_timestamp(since, "since")
        self.rows: list[dict[str, Any]] = []
        self.rejects: list[dict[str, object]] = []
        self.skipped_old = 0
        self._record_no: dict[str, int] = {}

    def add(
        self, record: Any, source_file: str, mapper: Mapper, enrich: Enricher | None = None
    ) -> dict[str, Any] | None:
        """Map ``record`` with ``mapper`` and keep the row, or quarantine the record.

        Args:
            record: One record of a response page.
            source_file: The endpoint it came from (URL without query string).
            mapper: Returns ``(row, extra)`` for a :class:`FieldReader`; raises
                :class:`RecordRejected` (via ``FieldReader.check``) on problems.
            enrich: Called with ``(row, extra)`` for rows newer than ``since`` only, so
                follow-up requests (insights, social actions) are not made for old posts.

        Returns:
            The canonical row kept, or None if the record was quarantined or skipped.
        """
        number = self._record_no[source_file] = self._record_no.get(source_file, 0) + 1
        post_id = record.get("id") if isinstance(record, Mapping) else None
        try:
            if not isinstance(record, Mapping):
                raise RecordRejected([{"rule": "expect_record_is_object", "column": "",
                                       "value": _short(record)}])
            row, extra = mapper(FieldReader(record))
            if self.since is not None and row["posted_at"] < self.since:
                self.skipped_old += 1
                return None
            if enrich is not None:
                enrich(row, extra)
        except RecordRejected as rejected:
            first = rejected.reasons[0]
            self.rejects.append({
                "stage": "collect", "source_file": source_file, "source_row": number,
                "post_id": None if post_id is None else str(post_id),
                "rule": first["rule"], "column": first["column"], "value": first["value"],
                "reasons": json.dumps(rejected.reasons),
                "record": json.dumps(record, sort_keys=True, default=str),
            })
            return None
        row["extra"] = json.dumps(extra, sort_keys=True, default=str) if extra else None
        self.rows.append(row)
        return row

    def add_page(self, records: Iterable[Any], endpoint: str, mapper: Mapper, *,
                 posted_at: Callable[[Mapping[str, Any]], pd.Timestamp | None],
                 enrich: Enricher | None = None) -> bool:
        """Add every record of a page (as :meth:`add`); True when one of them was posted
        before ``since``, so paging (newest first) can stop after this page."""
        reached_since = False
        for record in records:
            self.add(record, endpoint, mapper, enrich=enrich)
            if self.since is not None and isinstance(record, Mapping):
                reached_since |= self.is_older_than_since(posted_at(record))
        return reached_since

    def is_older_than_since(self, posted_at: pd.Timestamp | None) -> bool:
        """Whether ``posted_at`` lies before ``since`` (paging can stop there)."""
        return self.since is not None and posted_at is not None and posted_at < self.since

    def build(self) -> ApiResult:
        """The canonical posts, the quarantine frame and the record count."""
        if self.rows:
            # Counts a source does not report (LinkedIn shares, say) become nulls.
            frame = pd.DataFrame(self.rows).reindex(columns=list(schema.COLUMN_NAMES))
            frame["collected_at"] = self.collected_at
            frame["source"] = self.source
            posts = schema.conform(frame).reset_index(drop=True)
        else:
            posts = schema.empty_posts()
        rejects = schema.quarantine_frame(self.rejects)
        logger.info(
            "%s: %d record(s) read -> %d post(s), %d quarantined, %d skipped as older "
            "than since=%s", self.api, len(posts) + len(rejects), len(posts), len(rejects),
            self.skipped_old, self.since,
        )
        return ApiResult(posts=posts, rejects=rejects, records_read=len(posts) + len(rejects))


def check_page_size(where: str, page_size: int, maximum: int) -> None:
    """Check a page size argument.

    Raises:
        ValueError: unless ``page_size`` is an int in ``[1, maximum]``.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
        1 <= page_size <= maximum
    ):
        raise ValueError(f"{where}: 'page_size' must be an int in [1, {maximum}]; "
                         f"got {page_size!r}.")


def utc_timestamp(value: object, name: str) -> pd.Timestamp:
    """``value`` as a timezone-aware UTC timestamp.

    Raises:
        ValueError: if it cannot be parsed or is naive (ambiguous), naming ``name``.
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"'{name}' must be a UTC timestamp; got {value!r} ({exc}).") from None
    if ts is pd.NaT or ts.tzinfo is None:
        raise ValueError(
            f"'{name}' must be a timezone-aware UTC timestamp, e.g. "
            f"pd.Timestamp('2026-01-01T00:00Z'); got {value!r}."
        )
    return ts.tz_convert("UTC")


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:200]
