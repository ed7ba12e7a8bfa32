"""LinkedIn collector: an author's posts (Posts API) with their social action counts.

``GET {base}/rest/posts?author={urn}&q=author&count=..&start=..`` pages by start/count
(``paging.total`` when given); ``GET {base}/rest/socialActions/{post-urn}`` gives
``likesSummary.totalLikes`` and ``commentsSummary.aggregatedTotalComments``; for an
organization, ``GET {base}/rest/networkSizes/{org-urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER``
gives followers. Every request carries ``LinkedIn-Version`` and
``X-Restli-Protocol-Version: 2.0.0``.

A post with a ``reshareContext`` (its ``parent`` is the post it reshares) is a ``quote``
when its commentary has text of its own and a ``share`` when not; a post without one is
``original``. LinkedIn has no reply posts (comments are not posts).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests

from pipelines.collect.api.errors import ApiResponseError
from pipelines.collect.api.http_client import ApiClient, HttpSettings
from pipelines.collect.api.records import (
    ApiResult,
    FieldReader,
    RecordRejected,
    ResultBuilder,
    check_page_size,
    text_counts,
)
from pipelines.collect.post_kinds import repost_kind

logger = logging.getLogger(__name__)

SOURCE = "linkedin_api"
DEFAULT_LINKEDIN_VERSION = "202506"
# Commentary uses "little text": {hashtag|\#|tag} and @[Name](urn:li:...) markup.
_LITTLE_HASHTAG = re.compile(r"\{hashtag\|\\?#\|([^}]*)\}")
_LITTLE_MENTION = re.compile(r"@\[[^\]]*\]\(urn:li:[^)]*\)")
#: The URN kind of content.media.id → canonical content type.
MEDIA_URN_TYPES = {"image": "image", "video": "video", "document": "carousel"}


def fetch_linkedin_posts(
    *,
    token: str,
    base_url: str,
    account_id: str,
    collected_at: pd.Timestamp,
    since: pd.Timestamp | None = None,
    followers: int | None = None,
    linkedin_version: str = DEFAULT_LINKEDIN_VERSION,
    page_size: int = 50,
    max_pages: int | None = None,
    settings: HttpSettings | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
) -> ApiResult:
    """Collect a LinkedIn author's posts as canonical posts.

    LinkedIn reports no repost count through these endpoints, so ``shares`` stays empty.
    Followers are read for organization authors; for a person pass ``followers``.

    Args:
        token: OAuth bearer token.
        base_url: e.g. ``https://api.linkedin.com``.
        account_id: Author URN, ``urn:li:organization:…`` or ``urn:li:person:…``.
        collected_at: When this collection runs (UTC).
        since: Only posts at or after this UTC instant; paging stops past it.
        followers: Follower count to use instead of asking ``networkSizes``.
        linkedin_version: ``LinkedIn-Version`` header (YYYYMM).
        page_size: Posts per page (``count``), 1-100.
        max_pages: Stop after this many pages (None: all).
        settings, session, sleep, seed: Passed to :class:`ApiClient`.

    Raises:
        ValueError: on a bad argument.
        ApiAuthError: if the token is refused.
        ApiRequestError: if a request still fails after retries.
        ApiResponseError: if a page is malformed.
    """
    check_page_size("fetch_linkedin_posts", page_size, 100)
    if not re.fullmatch(r"urn:li:(organization|person):\S+", account_id or ""):
        raise ValueError(
            "fetch_linkedin_posts: 'account_id' must be an author URN like "
            f"urn:li:organization:123 or urn:li:person:abc; got {account_id!r}."
        )
    builder = ResultBuilder(api="linkedin", source=SOURCE, collected_at=collected_at,
                            since=since)
    headers = {"LinkedIn-Version": linkedin_version, "X-Restli-Protocol-Version": "2.0.0"}
    with ApiClient(api="linkedin", base_url=base_url, token=token, token_in="bearer",
                   headers=headers, settings=settings, session=session, sleep=sleep,
                   seed=seed) as client:
        if followers is None:
            followers = _organization_followers(client, account_id)

        def enrich(row: dict[str, Any], extra: dict[str, Any]) -> None:
            _add_social_actions(client, row, extra)

        start, number = 0, 0
        while True:
            number += 1
            params = {"author": account_id, "q": "author", "count": page_size, "start": start}
            body = client.get_json("/rest/posts", params, page=number)
            endpoint = client.endpoint("/rest/posts")
            elements, total = _page_parts(body, client.api, endpoint, number)
            reached_since = builder.add_page(
                elements, endpoint, lambda r: _map_post(r, account_id, followers),
                enrich=enrich, posted_at=lambda r: _posted_at(FieldReader(r)))
            # Pages may come back short (LinkedIn drops deleted posts after paging), so
            # advance by the count asked for and stop on an empty page or at the total.
            start += page_size
            if not elements or reached_since or (total is not None and start >= total):
                break
            if max_pages is not None and number >= max_pages:
                logger.warning("linkedin: stopping after max_pages=%d; more posts remain",
                               max_pages)
                break
        return builder.build()


def _page_parts(
    body: dict[str, Any], api: str, endpoint: str, number: int
) -> tuple[list[Any], int | None]:
    elements = body.get("elements")
    paging = body.get("paging", {})
    if not isinstance(elements, list) or not isinstance(paging, Mapping):
        raise ApiResponseError(
            f"{api}: page {number} of GET {endpoint} must hold an 'elements' list and a "
            f"'paging' object; got keys {sorted(body)}."
        )
    total = paging.get("total")
    return elements, total if isinstance(total, int) and not isinstance(total, bool) else None


def _organization_followers(client: ApiClient, author: str) -> int | None:
    if not author.startswith("urn:li:organization:"):
        logger.warning("linkedin: %s is not an organization; followers unknown (pass "
                       "'followers')", author)
        return None
    path = f"/rest/networkSizes/{quote(author, safe='')}"
    body = client.get_json(path, {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})
    size = body.get("firstDegreeSize")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ApiResponseError(
            f"linkedin: GET {client.endpoint(path)} must return a non-negative integer "
            f"'firstDegreeSize'; got {size!r} (keys {sorted(body)})."
        )
    return size


def _add_social_actions(client: ApiClient, row: dict[str, Any], extra: dict[str, Any]) -> None:
    body = client.get_json(f"/rest/socialActions/{quote(row['post_id'], safe='')}")
    reader = FieldReader(body)
    row["likes"] = reader.count("likesSummary.totalLikes", "likes")
    row["comments"] = reader.count("commentsSummary.aggregatedTotalComments", "comments")
    if reader.reasons:
        raise RecordRejected([{**reason, "value": f"socialActions: {reason['value']}"}
                              for reason in reader.reasons])
    first_level = reader.get("commentsSummary.totalFirstLevelComments", "", default=None)
    if first_level is not None:
        extra["first_level_comments"] = first_level


def _posted_at(r: FieldReader) -> pd.Timestamp | None:
    field = "publishedAt" if r.record.get("publishedAt") is not None else "createdAt"
    return r.timestamp(field, "posted_at", epoch_ms=True)


def _map_post(
    r: FieldReader, account_id: str, followers: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    post_id = r.get("id", "post_id")
    posted_at = _posted_at(r)
    commentary = r.get("commentary", "caption", default="")
    if not isinstance(commentary, str):
        r.fail("expect_text", "caption", commentary)
        commentary = ""
    content = r.get("content", "content_type", default={})
    content_type, media_count = _content(r, content)
    reshare = r.get("reshareContext", "post_kind", default=None)
    if reshare is not None and not isinstance(reshare, Mapping):
        r.fail("expect_object", "post_kind", reshare)
    r.check()
    plain = _LITTLE_MENTION.sub("@mention", _LITTLE_HASHTAG.sub(r"#\1", commentary))
    hashtags, mentions, urls = text_counts(plain)
    row = {
        "post_id": str(post_id), "platform": "linkedin", "account_id": account_id,
        "posted_at": posted_at, "content_type": content_type,
        "post_kind": repost_kind(reshare is not None, plain), "caption": plain,
        "hashtags_count": hashtags, "mentions_count": mentions,
        "urls_count": max(urls, 1) if content_type == "link" else urls,
        "media_count": media_count, "followers_at_post_time": followers,
    }
    extra = {k: r.record[k] for k in ("lifecycleState", "visibility", "reshareContext")
             if k in r.record}
    return row, extra


def _content(r: FieldReader, content: Any) -> tuple[str | None, int]:
    """Content type and media count of a post's ``content`` object."""
    if not isinstance(content, Mapping) or not content:
        return "text", 0
    if isinstance(content.get("multiImage"), Mapping):
        images = content["multiImage"].get("images")
        return "carousel", len(images) if isinstance(images, list) else 0
    if isinstance(content.get("carousel"), Mapping):
        cards = content["carousel"].get("cards")
        return "carousel", len(cards) if isinstance(cards, list) else 0
    if isinstance(content.get("article"), Mapping):
        return "link", 0
    if isinstance(content.get("poll"), Mapping):
        return "text", 0
    media_id = (content.get("media") or {}).get("id") if isinstance(
        content.get("media"), Mapping) else None
    kind = media_id.split(":")[2] if isinstance(media_id, str) and media_id.count(":") >= 3 \
        else None
    if kind in MEDIA_URN_TYPES:
        return MEDIA_URN_TYPES[kind], 1
    r.fail("expect_media_type_in_set", "content_type", content)
    return None, 0
