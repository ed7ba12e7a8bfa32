"""Collection watermarks: per (source, account), the latest ``posted_at`` collected.

Stored in a small SQLite file so incremental collections ask each API only for newer
posts. A watermark only moves forward: the update is a single
``INSERT … ON CONFLICT DO UPDATE SET … = MAX(old, new)`` statement, so concurrent or
re-run tasks can never move it backwards.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

_CREATE = """
CREATE TABLE IF NOT EXISTS watermarks (
    source      TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    posted_at_ns INTEGER NOT NULL,  -- UTC epoch nanoseconds: exact and orderable
    posted_at   TEXT    NOT NULL,   -- the same instant as ISO 8601, for people
    PRIMARY KEY (source, account)
)
"""
_ADVANCE = """
INSERT INTO watermarks (source, account, posted_at_ns, posted_at) VALUES (?, ?, ?, ?)
ON CONFLICT (source, account) DO UPDATE SET
    posted_at    = CASE WHEN excluded.posted_at_ns > posted_at_ns
                        THEN excluded.posted_at ELSE posted_at END,
    posted_at_ns = MAX(posted_at_ns, excluded.posted_at_ns)
"""


def _connect(db_path: str | Path) -> sqlite3.Connection:
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    connection.execute(_CREATE)
    return connection


def _check_key(where: str, source: str, account: str) -> None:
    for name, value in (("source", source), ("account", account)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: '{name}' must be a non-empty string; got {value!r}.")


def _utc(where: str, ts: object) -> pd.Timestamp:
    try:
        value = pd.Timestamp(ts)
    except (TypeError, ValueError):
        value = pd.NaT
    if value is pd.NaT or value.tzinfo is None:
        raise ValueError(
            f"{where}: 'ts' must be a timezone-aware timestamp (UTC, e.g. "
            f"pd.Timestamp('2026-01-01T00:00Z')); got {ts!r}."
        )
    return value.tz_convert("UTC")


def get_watermark(db_path: str | Path, source: str, account: str) -> pd.Timestamp | None:
    """The latest ``posted_at`` collected for (``source``, ``account``), or None if never.

    Raises:
        ValueError: if ``source`` or ``account`` is empty.
    """
    _check_key("get_watermark", source, account)
    with closing(_connect(db_path)) as connection:
        row = connection.execute(
            "SELECT posted_at_ns FROM watermarks WHERE source = ? AND account = ?",
            (source, account),
        ).fetchone()
    return None if row is None else pd.Timestamp(row[0], unit="ns", tz="UTC")


def advance_watermark(
    db_path: str | Path, source: str, account: str, ts: pd.Timestamp
) -> pd.Timestamp:
    """Move the watermark of (``source``, ``account``) to ``ts`` unless it is already later.

    Returns:
        The watermark after the update (``ts`` or the later stored value).

    Raises:
        ValueError: if ``source``/``account`` is empty or ``ts`` is not timezone-aware.
    """
    _check_key("advance_watermark", source, account)
    value = _utc("advance_watermark", ts)
    with closing(_connect(db_path)) as connection, connection:
        connection.execute(_ADVANCE, (source, account, value.value, value.isoformat()))
        stored = connection.execute(
            "SELECT posted_at_ns FROM watermarks WHERE source = ? AND account = ?",
            (source, account),
        ).fetchone()[0]
    result = pd.Timestamp(stored, unit="ns", tz="UTC")
    if result > value:
        logger.info("watermark %s/%s stays at %s (offered %s is older)", source, account,
                    result, value)
    else:
        logger.info("watermark %s/%s advanced to %s", source, account, result)
    return result


def list_watermarks(db_path: str | Path) -> pd.DataFrame:
    """Every stored watermark: columns source, account, posted_at (UTC), sorted."""
    with closing(_connect(db_path)) as connection:
        rows = connection.execute(
            "SELECT source, account, posted_at_ns FROM watermarks ORDER BY source, account"
        ).fetchall()
    frame = pd.DataFrame(rows, columns=["source", "account", "posted_at"])
    frame["posted_at"] = pd.to_datetime(frame["posted_at"].astype("int64"), unit="ns", utc=True)
    return frame
