"""Facebook Page collector: a page's posts with reactions, comments, shares and insights.

``GET {base}/{page-id}/posts?fields=...`` pages newest first via the ``paging.next`` link;
``GET {base}/{page-id}?fields=followers_count`` gives followers and
``GET {base}/{post-id}/insights?metric=...`` the optional impressions/reach.

``parent_id`` (asked for in ``fields``; the API leaves a field without a value out) is the
post this one shares: with it the post is a ``quote`` when it has a message of its own and
a ``share`` when not; without it, ``original``. ``status_type`` does not decide:
``shared_story`` is also what a page's own link post is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
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
from pipelines.collect.post_kinds import repost_kind

logger = logging.getLogger(__name__)

SOURCE = "facebook_graph_api"
POST_FIELDS = (
    "id,message,created_time,status_type,shares,reactions.summary(true),"
    "comments.summary(true),attachments,parent_id"
)
#: attachments[0].media_type → canonical content type.
ATTACHMENT_TYPES = {"photo": "image", "video": "video", "album": "carousel", "link": "link",
                    "share": "link"}
#: status_type, used when a post has no attachment.
STATUS_TYPES = {"added_photos": "image", "added_video": "video", "shared_story": "link",
                "mobile_status_update": "text", "created_note": "text"}
INSIGHT_COLUMNS = {"post_impressions": "impressions", "post_impressions_unique": "reach"}
DEFAULT_INSIGHTS = ("post_impressions", "post_impressions_unique")


def fetch_facebook_posts(
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
    """Collect a Facebook Page's posts as canonical posts.

    ``likes`` is the total of all reactions; ``shares`` is 0 when the API omits the
    ``shares`` field (it does so for unshared posts). ``followers_at_post_time`` is the
    page's follower count at collection time.

    Args:
        token: Page access token.
        base_url: e.g. ``https://graph.facebook.com/v23.0``.
        account_id: The page id.
        collected_at: When this collection runs (UTC).
        since: Only posts at or after this UTC instant; paging stops past it.
        insight_metrics: Post insight metrics to read (one request per post); None skips.
        page_size: Posts per page (``limit``), 1-100.
        max_pages: Stop after this many pages (None: all).
        settings, session, sleep, seed: Passed to :class:`ApiClient`.

    Raises:
        ValueError: on a bad argument.
        ApiAuthError: if the token is refused.
        ApiRequestError: if a request still fails after retries.
        ApiResponseError: if a page is malformed.
    """
    return collect_graph_posts(
        api="facebook", source=SOURCE, edge="posts", fields=POST_FIELDS, use_cursor=False,
        time_field="created_time", map_record=_map_post, insight_metrics=insight_metrics,
        insight_columns=INSIGHT_COLUMNS, token=token, base_url=base_url, account_id=account_id,
        collected_at=collected_at, since=since, page_size=page_size, max_pages=max_pages,
        settings=settings, session=session, sleep=sleep, seed=seed,
    )


def _map_post(
    r: FieldReader, account_id: str, followers: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    post_id = r.get("id", "post_id")
    posted_at = r.timestamp("created_time", "posted_at")
    likes = r.count("reactions.summary.total_count", "likes")
    comments = r.count("comments.summary.total_count", "comments")
    shares = r.count("shares.count", "shares", default=0)
    message = r.get("message", "caption", default="")
    if not isinstance(message, str):
        r.fail("expect_text", "caption", message)
        message = ""
    attachments = r.get("attachments.data", "content_type", default=[])
    if not isinstance(attachments, list):
        r.fail("expect_list", "content_type", attachments)
        attachments = []
    content_type, media_count = _content(r, attachments)
    r.check()
    hashtags, mentions, urls = text_counts(message)
    parent = r.record.get("parent_id")
    row = {
        "post_id": str(post_id), "platform": "facebook", "account_id": str(account_id),
        "posted_at": posted_at, "content_type": content_type,
        "post_kind": repost_kind(parent is not None, message), "caption": message,
        "hashtags_count": hashtags, "mentions_count": mentions,
        # A link attachment is a link even when the message does not spell out the URL.
        "urls_count": max(urls, 1) if content_type == "link" else urls,
        "media_count": media_count, "followers_at_post_time": followers,
        "likes": likes, "comments": comments, "shares": shares,
    }
    extra = {"status_type": r.record.get("status_type")} if r.record.get("status_type") else {}
    if parent is not None:
        extra["parent_id"] = parent
    return row, extra


def _content(r: FieldReader, attachments: list[Any]) -> tuple[str | None, int]:
    """Content type and media count from the first attachment, else from status_type."""
    first = attachments[0] if attachments and isinstance(attachments[0], Mapping) else None
    if first is None:
        # Without an attachment the post is its text; status_type refines the odd case.
        return STATUS_TYPES.get(str(r.record.get("status_type")), "text"), 0
    media_type = first.get("media_type")
    content = ATTACHMENT_TYPES.get(media_type) if isinstance(media_type, str) else None
    if content is None:
        r.fail("expect_media_type_in_set", "content_type", media_type)
        return None, 0
    children = (first.get("subattachments") or {}).get("data")
    if isinstance(children, list) and children:
        return content, len(children)
    return content, 1 if content in ("image", "video") else 0
