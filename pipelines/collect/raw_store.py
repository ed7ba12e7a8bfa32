"""The raw layer: append-only, immutable, partitioned Parquet of collected posts.

Layout: ``ROOT/01_raw/source=<source>/date=<YYYY-MM-DD>/part-<hash>.parquet``, where the
date is the collection run's logical date and the hash is of the batch's content, so
writing the same batch again finds the file already there and writes nothing. Files
are created atomically, never overwritten, and made read-only. Readers take the latest
counts of each post, since engagement keeps growing after a post is published.
Quarantined records of a batch land the same way under ``ROOT/01_raw/_quarantine/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from pipelines import schema

logger = logging.getLogger(__name__)

RAW_LAYER = "01_raw"
QUARANTINE_DIR = "_quarantine"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HASH_CHARS = 20


def partition_dir(root: str | Path, source: str, run_date: object, *, quarantine: bool = False
                  ) -> Path:
    """The folder of one (source, run date) partition.

    Raises:
        ValueError: if ``source`` is not a safe folder name or ``run_date`` is not a date.
    """
    if not isinstance(source, str) or not _SAFE_NAME.fullmatch(source):
        raise ValueError(
            f"raw_store: 'source' must match {_SAFE_NAME.pattern} (it becomes a folder "
            f"name); got {source!r}."
        )
    base = Path(root) / RAW_LAYER
    if quarantine:
        base = base / QUARANTINE_DIR
    return base / f"source={source}" / f"date={_date_text(run_date)}"


def append_raw(root: str | Path, posts: pd.DataFrame, source: str, run_date: object) -> Path:
    """Append a batch of canonical posts to the raw layer, idempotently.

    The file name is a hash of the batch's content (rows in canonical order), so the
    same batch for the same (source, date) maps to the same file, which is left as is.

    Args:
        root: The data root (the folder holding ``01_raw``).
        posts: Canonical posts; conformed before writing.
        source: Partition source name, e.g. ``instagram_graph_api``.
        run_date: The run's logical date (date, datetime, Timestamp or ``YYYY-MM-DD``).

    Returns:
        The path of the (new or already present) Parquet file.

    Raises:
        ValueError: on a bad ``source``/``run_date`` or if ``posts`` lacks required columns.
    """
    frame = schema.conform(posts)
    frame = frame.sort_values(["platform", "post_id", "collected_at"], kind="mergesort")
    return _append(partition_dir(root, source, run_date), frame.reset_index(drop=True))


def append_raw_rejects(
    root: str | Path, rejects: pd.DataFrame, source: str, run_date: object
) -> Path | None:
    """Append a batch's quarantine rows under ``01_raw/_quarantine``; None if empty.

    Raises:
        ValueError: on a bad ``source``/``run_date`` or columns that are not the
            quarantine columns.
    """
    if list(rejects.columns) != list(schema.QUARANTINE_COLUMNS):
        raise ValueError(
            f"append_raw_rejects: 'rejects' must have columns {list(schema.QUARANTINE_COLUMNS)}"
            f"; got {list(rejects.columns)}."
        )
    if rejects.empty:
        return None
    return _append(partition_dir(root, source, run_date, quarantine=True),
                   rejects.reset_index(drop=True))


def read_latest_posts(root: str | Path, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """All raw posts, one row per (platform, post_id): the one collected last.

    Ties on ``collected_at`` go to the later partition date, then file name, so the
    result is deterministic. Rows are sorted by ``posted_at``.

    Args:
        root: The data root.
        sources: Only these sources (None: all).

    Returns:
        A canonical frame (empty when nothing was collected yet).
    """
    files = raw_files(root, sources)
    if not files:
        logger.info("raw_store: no raw files under %s for sources=%s", root, sources)
        return schema.empty_posts()
    frame = pd.concat([schema.conform(pd.read_parquet(f)) for f in files], ignore_index=True)
    latest = latest_per_post(frame)
    logger.info("raw_store: %d row(s) in %d file(s) -> %d latest post(s)", len(frame),
                len(files), len(latest))
    return latest


def latest_per_post(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (platform, post_id): the one collected last (ties: the later row),
    sorted by ``posted_at`` — engagement grows after posting, so later counts win."""
    return (
        frame.sort_values("collected_at", kind="mergesort", na_position="first")
        .drop_duplicates(subset=["platform", "post_id"], keep="last")
        .sort_values(["posted_at", "platform", "post_id"], kind="mergesort")
        .reset_index(drop=True)
    )


def raw_files(root: str | Path, sources: Iterable[str] | None = None) -> list[Path]:
    """The raw Parquet files, ordered by source, date and name."""
    base = Path(root) / RAW_LAYER
    wanted = None if sources is None else set(sources)
    files = []
    for source_dir in sorted(base.glob("source=*")):
        if wanted is None or source_dir.name.removeprefix("source=") in wanted:
            files += sorted(source_dir.glob("date=*/part-*.parquet"))
    if wanted is not None:
        found = {p.parent.parent.name.removeprefix("source=") for p in files}
        if wanted - found:
            logger.warning("raw_store: no raw data yet for source(s) %s under %s",
                           sorted(wanted - found), base)
    return files


def _append(directory: Path, frame: pd.DataFrame) -> Path:
    target = directory / f"part-{_content_hash(frame)}.parquet"
    if target.exists():
        logger.info("raw_store: %s already holds this batch (%d rows); nothing written",
                    target, len(frame))
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        frame.to_parquet(tmp, index=False)
        tmp.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        try:
            # link() fails if the target appeared meanwhile: never replace a file.
            os.link(tmp, target)
        except FileExistsError:
            logger.info("raw_store: %s was written concurrently; keeping it", target)
        except OSError:
            # No hard links on this file system: a rename is still atomic, and the name
            # is a content hash, so a concurrent writer would have written the same bytes.
            if not target.exists():
                os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("raw_store: wrote %d row(s) to %s", len(frame), target)
    return target


def _content_hash(frame: pd.DataFrame) -> str:
    """A stable hash of columns, dtypes and values (independent of the Parquet writer)."""
    digest = hashlib.sha256()
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(frame.to_json(orient="values", date_format="iso", date_unit="ns").encode())
    return digest.hexdigest()[:_HASH_CHARS]


def _date_text(run_date: object) -> str:
    if isinstance(run_date, dt.datetime | pd.Timestamp):
        return run_date.strftime("%Y-%m-%d")
    if isinstance(run_date, dt.date):
        return run_date.isoformat()
    if isinstance(run_date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_date):
        try:
            return dt.date.fromisoformat(run_date).isoformat()
        except ValueError:
            pass
    raise ValueError(
        f"raw_store: 'run_date' must be a date, datetime or 'YYYY-MM-DD' string (the "
        f"run's logical date); got {run_date!r}."
    )
