"""Stage runner for API collection: token → watermark → fetch → raw layer → watermark.

This is what the Airflow task, the CLI and DVC call (one logic path). The core
``fetch_*`` functions stay free of environment, files and clocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.collect import raw_store, watermarks
from pipelines.collect.api.credentials import resolve_token
from pipelines.collect.api.facebook import SOURCE as FACEBOOK_SOURCE
from pipelines.collect.api.facebook import fetch_facebook_posts
from pipelines.collect.api.http_client import HttpSettings
from pipelines.collect.api.instagram import SOURCE as INSTAGRAM_SOURCE
from pipelines.collect.api.instagram import fetch_instagram_posts
from pipelines.collect.api.linkedin import SOURCE as LINKEDIN_SOURCE
from pipelines.collect.api.linkedin import fetch_linkedin_posts
from pipelines.collect.api.records import ApiResult
from pipelines.collect.api.x import SOURCE as X_SOURCE
from pipelines.collect.api.x import fetch_x_posts

logger = logging.getLogger(__name__)

#: API key → (source name written to the raw layer, fetch function).
COLLECTORS: dict[str, tuple[str, Callable[..., ApiResult]]] = {
    "instagram": (INSTAGRAM_SOURCE, fetch_instagram_posts),
    "facebook": (FACEBOOK_SOURCE, fetch_facebook_posts),
    "linkedin": (LINKEDIN_SOURCE, fetch_linkedin_posts),
    "x": (X_SOURCE, fetch_x_posts),
}
#: Production base URLs, for configuration defaults (the fetchers require one explicitly).
DEFAULT_BASE_URLS = {
    "instagram": "https://graph.facebook.com/v23.0",
    "facebook": "https://graph.facebook.com/v23.0",
    "linkedin": "https://api.linkedin.com",
    "x": "https://api.x.com",
}


@dataclass(frozen=True)
class ApiCollection:
    """What one API collection run did.

    Attributes:
        result: The fetched posts and rejects.
        posts_file: The raw Parquet file holding the posts.
        rejects_file: The raw quarantine file, or None when nothing was rejected.
        since: The lower bound used (watermark minus lookback), or None for a full pull.
        watermark: The watermark after the run, or None if nothing was ever collected.
    """

    result: ApiResult
    posts_file: Path
    rejects_file: Path | None
    since: pd.Timestamp | None
    watermark: pd.Timestamp | None


def collect_api_posts(
    *,
    api: str,
    account_id: str,
    base_url: str,
    data_root: str | Path,
    watermark_db: str | Path,
    run_date: object,
    collected_at: pd.Timestamp,
    lookback: pd.Timedelta | None = None,
    settings: HttpSettings | None = None,
    options: Mapping[str, Any] | None = None,
    token: str | None = None,
) -> ApiCollection:
    """Collect one account's new posts from one API into the raw layer.

    Reads the watermark of (source, account), fetches posts since ``watermark -
    lookback`` (the lookback re-reads recent posts whose counts are still growing; the
    raw layer keeps the latest counts), appends posts and rejects to the raw layer, and
    only then advances the watermark, so a failed run is simply run again.

    Args:
        api: instagram, facebook, linkedin or x.
        account_id: The account (IG user id, page id, author URN, X user id).
        base_url: API base URL (see :data:`DEFAULT_BASE_URLS`).
        data_root: Data root holding ``01_raw``.
        watermark_db: SQLite file of the watermarks.
        run_date: The run's logical date (raw partition).
        collected_at: The run's timestamp, stored as ``collected_at``.
        lookback: How far before the watermark to re-read (None: not at all).
        settings: Timeouts and retry policy.
        options: Extra keyword arguments of the API's fetch function
            (e.g. ``insight_metrics``, ``linkedin_version``, ``page_size``).
        token: The token; resolved from env / Airflow connection when None.

    Raises:
        ValueError: if ``api`` is unknown or ``lookback`` is negative.
        ApiAuthError, ApiRequestError, ApiResponseError: from the fetch.
    """
    if api not in COLLECTORS:
        raise ValueError(
            f"collect_api_posts: 'api' must be one of {sorted(COLLECTORS)}; got {api!r}."
        )
    lookback = pd.Timedelta(0) if lookback is None else pd.Timedelta(lookback)
    if lookback < pd.Timedelta(0):
        raise ValueError(f"collect_api_posts: 'lookback' must be >= 0; got {lookback!r}.")
    source, fetch = COLLECTORS[api]
    mark = watermarks.get_watermark(watermark_db, source, account_id)
    since = None if mark is None else mark - lookback
    logger.info("%s: collecting account %s since %s", api, account_id, since or "the start")
    result = fetch(
        token=token or resolve_token(api), base_url=base_url, account_id=account_id,
        collected_at=collected_at, since=since, settings=settings, **dict(options or {}),
    )
    posts_file = raw_store.append_raw(data_root, result.posts, source, run_date)
    rejects_file = raw_store.append_raw_rejects(data_root, result.rejects, source, run_date)
    if not result.posts.empty:
        mark = watermarks.advance_watermark(
            watermark_db, source, account_id, result.posts["posted_at"].max()
        )
    return ApiCollection(result=result, posts_file=posts_file, rejects_file=rejects_file,
                         since=since, watermark=mark)
