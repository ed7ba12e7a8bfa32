"""Instagram Graph API collector: an account's media with counts, followers and insights.

``GET {base}/{ig-user-id}/media?fields=...`` pages newest first via ``paging.cursors.after``;
``GET {base}/{ig-user-id}?fields=followers_count`` gives the follower count and
``GET {base}/{media-id}/insights?metric=...`` the optional reach/saves/shares.
The media edge lists the account's own media only, so every post is ``original``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import requests

from pipelines.collect.api.graph_api import collect_graph_posts
from pipelines.collect.api.http_client import HttpSettings
from pipelines.collect.api.records import (
    ApiResult,
    FieldReader,
    text_counts,
)

logger = logging.getLogger(__name__)

SOURCE = "instagram_graph_api"
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,timestamp,like_count,comments_count,"
    "permalink,children"
)
MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "CAROUSEL_ALBUM": "carousel"}
#: Insight metric → canonical column; other metrics requested go to ``extra``.
INSIGHT_COLUMNS = {"reach": "reach", "saved": "saves", "shares": "shares",
                   "impressions": "impressions"}
DEFAULT_INSIGHTS = ("reach", "saved", "shares")


def fetch_instagram_posts(
    *,
    token: str,
    base_url: str,
    account_id: str,
    collected_at: pd.Timestamp,
    since: pd.Timestamp | None = None,
    insight_metrics: Sequence[str] | None = DEFAULT_INSIGHTS,
    page_size: int = 50,
    max_pages: int | None = None,
    settings: HttpSettings | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
) -> ApiResult:
    """Collect an Instagram professional account's media as canonical posts.

    ``followers_at_post_time`` is the follower count at collection time (the API has no
    history). Shares are only reported by insights: without ``insight_metrics`` the
    ``shares``, ``saves`` and ``reach`` columns stay empty.

    Args:
        token: Graph API access token (see :func:`~pipelines.collect.api.resolve_token`).
        base_url: e.g. ``https://graph.facebook.com/v23.0``.
        account_id: The IG user id.
        collected_at: When this collection runs (UTC); stored in ``collected_at``.
        since: Only posts at or after this UTC instant; paging stops past it.
        insight_metrics: Metrics to read per media (one request each); None or () skips.
        page_size: Media per page (``limit``), 1-100.
        max_pages: Stop after this many pages (None: all).
        settings, session, sleep, seed: Passed to :class:`ApiClient`.

    Raises:
        ValueError: on a bad argument.
        ApiAuthError: if the token is refused.
        ApiRequestError: if a request still fails after retries.
        ApiResponseError: if a page is malformed.
    """
    return collect_graph_posts(
        api="instagram", source=SOURCE, edge="media", fields=MEDIA_FIELDS, use_cursor=True,
        time_field="timestamp", map_record=_map_media, insight_metrics=insight_metrics,
        insight_columns=INSIGHT_COLUMNS, token=token, base_url=base_url, account_id=account_id,
        collected_at=collected_at, since=since, page_size=page_size, max_pages=max_pages,
        settings=settings, session=session, sleep=sleep, seed=seed,
    )


def _map_media(
    r: FieldReader, account_id: str, followers: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    post_id = r.get("id", "post_id")
    posted_at = r.timestamp("timestamp", "posted_at")
    media_type = r.get("media_type", "content_type")
    content_type = MEDIA_TYPES.get(media_type) if isinstance(media_type, str) else None
    if media_type is not None and content_type is None:
        r.fail("expect_media_type_in_set", "content_type", media_type)
    likes = r.count("like_count", "likes")  # absent when the owner hid like counts
    comments = r.count("comments_count", "comments")
    caption = r.get("caption", "caption", default="")
    if not isinstance(caption, str):
        r.fail("expect_text", "caption", caption)
        caption = ""
    children = r.get("children.data", "media_count", default=[])
    if not isinstance(children, list):
        r.fail("expect_list", "media_count", children)
    r.check()
    hashtags, mentions, urls = text_counts(caption)
    row = {
        "post_id": str(post_id), "platform": "instagram", "account_id": str(account_id),
        "posted_at": posted_at, "content_type": content_type, "post_kind": "original",
        "caption": caption, "hashtags_count": hashtags, "mentions_count": mentions,
        "urls_count": urls,
        "media_count": len(children) if content_type == "carousel" else 1,
        "followers_at_post_time": followers, "likes": likes, "comments": comments,
    }
    extra = {k: r.record[k] for k in ("media_product_type", "permalink") if k in r.record}
    return row, extra
