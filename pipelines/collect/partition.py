"""Collect one day (the run's logical date) from every configured source into the raw layer.

The raw layer is append-only and partitioned ``01_raw/source=<source>/date=<YYYY-MM-DD>/``;
writing the same batch twice is a no-op (content-hashed file names), so a re-run of the
same date creates no duplicates. API sources are incremental through per-account watermarks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.collect import raw_store

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

API_SOURCES: tuple[str, ...] = ("instagram", "facebook", "linkedin", "x")
SOURCES: tuple[str, ...] = ("demo", "file", *API_SOURCES)


def day_bounds(run_date: str | pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC day ``[start, end)`` of a logical date."""
    start = pd.Timestamp(run_date)
    start = (start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC"))
    start = start.normalize()
    return start, start + pd.Timedelta(days=1)


def collect_partition(
    *,
    data_root: Path,
    run_date: str | pd.Timestamp,
    sources: Sequence[str],
    path: str,
    fmt: str,
    demo_rows: int,
    demo_accounts: int,
    seed: int,
    api_accounts: Mapping[str, Sequence[str]],
    api_base_urls: Mapping[str, str],
    lookback_hours: float,
    limits: ReadLimits,
    watermark_db: Path | None = None,
) -> dict[str, Any]:
    """Collect the day ``run_date`` from each source in ``sources``.

    Args:
        data_root: The folder holding ``01_raw``.
        run_date: The logical date; names the raw partition.
        sources: Any of :data:`SOURCES`. ``demo`` generates that day's posts (seeded by
            ``seed`` and the date); ``file`` reads ``path`` in format ``fmt``; an API name
            reads each account in ``api_accounts[name]``.
        lookback_hours: API sources re-read this far behind their watermark, so counts of
            recent posts (still growing) are refreshed; the raw layer keeps the latest.
        limits: What one file read of the ``file`` source may take.

    Returns:
        Per source: records read, posts, rejected, and the files written.

    Raises:
        ValueError: for an unknown source, or an API source without accounts.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(
            f"collect_partition: 'sources' must be a non-empty list drawn from "
            f"{list(SOURCES)}; got {list(sources)}."
        )
    start, end = day_bounds(run_date)
    summary: dict[str, Any] = {}
    for source in sources:
        if source == "demo":
            from pipelines.collect.demo_data import generate_posts

            posts = generate_posts(demo_rows, demo_accounts, seed + start.toordinal(), end=end,
                                   window_days=1, id_prefix=f"demo{start:%Y%m%d}")
            written = raw_store.append_raw(data_root, posts, "demo", start.date())
            summary[source] = {"records_read": len(posts), "posts": len(posts), "rejected": 0,
                               "files": [str(written)]}
        elif source == "file":
            from pipelines.collect.formats import read_posts

            result = read_posts(path, fmt, limits=limits)
            name = f"file-{fmt}"
            files = [raw_store.append_raw(data_root, result.posts, name, start.date()),
                     raw_store.append_raw_rejects(data_root, result.rejects, name, start.date())]
            summary[source] = {"records_read": result.records_read, "posts": len(result.posts),
                               "rejected": len(result.rejects),
                               "files": [str(f) for f in files if f is not None]}
        else:
            summary[source] = _collect_api(source, data_root, start, end, api_accounts or {},
                                           api_base_urls or {}, watermark_db, lookback_hours)
        logger.info("collect %s for %s: %s", source, start.date(), summary[source])
    return summary


def _collect_api(api: str, data_root: Path, start: pd.Timestamp, end: pd.Timestamp,
                 accounts: Mapping[str, Sequence[str]], base_urls: Mapping[str, str],
                 watermark_db: Path | None, lookback_hours: float) -> dict[str, Any]:
    from pipelines.collect.api.runner import DEFAULT_BASE_URLS, collect_api_posts

    if not accounts.get(api):
        raise ValueError(
            f"collect_partition: source '{api}' needs accounts; set api_accounts.{api} "
            f"(e.g. {{\"{api}\": [\"ACCOUNT_ID\"]}}); got {dict(accounts)}."
        )
    if watermark_db is None:
        raise ValueError("collect_partition: API sources need 'watermark_db'.")
    totals = {"records_read": 0, "posts": 0, "rejected": 0, "files": []}
    for account in accounts[api]:
        run = collect_api_posts(
            api=api, account_id=account, base_url=base_urls.get(api, DEFAULT_BASE_URLS[api]),
            data_root=data_root, watermark_db=watermark_db, run_date=start.date(),
            collected_at=min(end, pd.Timestamp.now(tz="UTC")),
            lookback=pd.Timedelta(hours=lookback_hours),
        )
        totals["records_read"] += run.result.records_read
        totals["posts"] += len(run.result.posts)
        totals["rejected"] += len(run.result.rejects)
        totals["files"] += [str(f) for f in (run.posts_file, run.rejects_file) if f]
    return totals
