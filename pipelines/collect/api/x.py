"""X (Twitter) API v2 collector: a user's tweets with public metrics.

``GET {base}/2/users/{id}/tweets`` with ``expansions=author_id,attachments.media_keys``
pages via ``meta.next_token`` → ``pagination_token``; ``since`` becomes ``start_time``.
Rate limits come back as ``x-rate-limit-remaining`` / ``x-rate-limit-reset`` headers,
which :class:`~pipelines.collect.api.http_client.ApiClient` honours.

``tweet.fields`` asks for ``referenced_tweets``, which the API leaves out of an original
tweet; so here (unlike a ``twitter_v2`` file, where it may not have been asked for) a
tweet without it is ``original``, and ``replied_to`` / ``quoted`` / ``retweeted`` make it a
reply / quote / share (:func:`~pipelines.collect.post_kinds.tweet_kind`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pandas as pd
import requests

from pipelines.collect.api.errors import ApiResponseError
from pipelines.collect.api.http_client import ApiClient, HttpSettings
from pipelines.collect.api.records import (
    ApiResult,
    FieldReader,
    ResultBuilder,
    check_page_size,
    text_counts,
)
from pipelines.collect.post_kinds import referenced_tweets_kind

logger = logging.getLogger(__name__)

SOURCE = "x_api_v2"
TWEET_PARAMS = {
    "tweet.fields": "created_at,public_metrics,entities,attachments,referenced_tweets",
    "expansions": "author_id,attachments.media_keys",
    "user.fields": "public_metrics",
    "media.fields": "type",
}
#: public_metrics key → canonical column (quotes and bookmarks are kept too).
METRIC_COLUMNS = {"like_count": "likes", "reply_count": "comments", "retweet_count": "shares",
                  "bookmark_count": "saves", "impression_count": "impressions"}


def fetch_x_posts(
    *,
    token: str,
    base_url: str,
    account_id: str,
    collected_at: pd.Timestamp,
    since: pd.Timestamp | None = None,
    page_size: int = 100,
    max_pages: int | None = None,
    settings: HttpSettings | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
) -> ApiResult:
    """Collect an X user's tweets as canonical posts (platform ``twitter``).

    ``shares`` counts retweets (quotes go to ``extra``); ``followers_at_post_time`` is
    the author's follower count from the ``includes.users`` expansion at collection time.

    Args:
        token: App or user bearer token.
        base_url: e.g. ``https://api.x.com``.
        account_id: The numeric user id.
        collected_at: When this collection runs (UTC).
        since: Only tweets at or after this UTC instant (sent as ``start_time``).
        page_size: Tweets per page (``max_results``), 5-100.
        max_pages: Stop after this many pages (None: all).
        settings, session, sleep, seed: Passed to :class:`ApiClient`.

    Raises:
        ValueError: on a bad argument.
        ApiAuthError: if the token is refused.
        ApiRequestError: if a request still fails after retries.
        ApiResponseError: if a page is malformed.
    """
    check_page_size("fetch_x_posts", page_size, 100)
    if page_size < 5:
        raise ValueError(f"fetch_x_posts: 'page_size' must be in [5, 100]; got {page_size}.")
    builder = ResultBuilder(api="x", source=SOURCE, collected_at=collected_at, since=since)
    path = f"/2/users/{account_id}/tweets"
    params: dict[str, Any] = {**TWEET_PARAMS, "max_results": page_size}
    if builder.since is not None:
        params["start_time"] = builder.since.strftime("%Y-%m-%dT%H:%M:%SZ")
    with ApiClient(api="x", base_url=base_url, token=token, token_in="bearer",
                   settings=settings, session=session, sleep=sleep, seed=seed) as client:
        endpoint = client.endpoint(path)
        token_seen: set[str] = set()
        number = 0
        while True:
            number += 1
            body = client.get_json(path, params, page=number)
            tweets, meta = _page_parts(body, endpoint, number)
            users, media = _includes(body)
            for record in tweets:
                builder.add(record, endpoint,
                            partial(_map_tweet, account_id=account_id, users=users, media=media))
            next_token = meta.get("next_token")
            if not next_token:
                break
            if next_token in token_seen:
                raise ApiResponseError(
                    f"x: page {number} of GET {endpoint} repeats meta.next_token "
                    f"{str(next_token)[:40]!r}; paging does not advance."
                )
            if max_pages is not None and number >= max_pages:
                logger.warning("x: stopping after max_pages=%d; more tweets remain", max_pages)
                break
            token_seen.add(next_token)
            params = {**params, "pagination_token": next_token}
        return builder.build()


def _page_parts(
    body: dict[str, Any], endpoint: str, number: int
) -> tuple[list[Any], Mapping[str, Any]]:
    meta = body.get("meta")
    tweets = body.get("data", [])  # absent when meta.result_count is 0
    if not isinstance(meta, Mapping) or not isinstance(tweets, list):
        raise ApiResponseError(
            f"x: page {number} of GET {endpoint} must hold a 'meta' object and, when "
            f"there are tweets, a 'data' list; got keys {sorted(body)}."
        )
    return tweets, meta


def _includes(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    includes = body.get("includes") if isinstance(body.get("includes"), Mapping) else {}
    users = {str(u.get("id")): u for u in includes.get("users", []) if isinstance(u, Mapping)}
    media = {str(m.get("media_key")): str(m.get("type")) for m in includes.get("media", [])
             if isinstance(m, Mapping)}
    return users, media


def _map_tweet(
    r: FieldReader, account_id: str, users: Mapping[str, Any], media: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    post_id = r.get("id", "post_id")
    posted_at = r.timestamp("created_at", "posted_at")
    text = r.get("text", "caption", default="")
    counts: dict[str, int | None] = {}
    for key, column in METRIC_COLUMNS.items():
        if column in ("likes", "comments", "shares"):  # required canonical counts
            counts[column] = r.count(f"public_metrics.{key}", column)
        else:
            counts[column] = r.count(f"public_metrics.{key}", column, default=None)
    author = str(r.record.get("author_id") or account_id)
    followers = FieldReader(users.get(author, {})).count(
        "public_metrics.followers_count", "followers_at_post_time", default=None)
    if followers is None:
        r.fail("expect_field_present", "followers_at_post_time",
               f"<no includes.users entry with public_metrics for author {author}>")
    keys = r.get("attachments.media_keys", "media_count", default=[])
    if not isinstance(keys, list):
        r.fail("expect_list", "media_count", keys)
    references = r.get("referenced_tweets", "post_kind", default=[])
    if not isinstance(references, list) or not all(isinstance(x, Mapping) for x in references):
        r.fail("expect_list", "post_kind", references)
        references = []
    r.check()
    ref_types = [str(ref.get("type")) for ref in references]
    types = [media.get(str(key), "unknown") for key in keys]
    entities = r.record.get("entities") if isinstance(r.record.get("entities"), Mapping) else {}
    urls = [u for u in entities.get("urls", []) if isinstance(u, Mapping)
            and not u.get("media_key")]
    fallback = text_counts(str(text))
    row = {
        "post_id": str(post_id), "platform": "twitter", "account_id": author,
        "posted_at": posted_at, "content_type": _content_type(types, urls),
        "post_kind": referenced_tweets_kind(ref_types), "caption": str(text),
        "hashtags_count": len(entities["hashtags"]) if "hashtags" in entities else fallback[0],
        "mentions_count": len(entities["mentions"]) if "mentions" in entities else fallback[1],
        "urls_count": len(urls) if "urls" in entities else fallback[2],
        "media_count": len(types), "followers_at_post_time": followers, **counts,
    }
    quotes = r.record["public_metrics"].get("quote_count")
    extra: dict[str, Any] = {"quote_count": quotes} if quotes is not None else {}
    if references:
        extra["referenced_tweets"] = references
    if "unknown" in types:
        extra["media_types"] = types
    return row, extra


def _content_type(media_types: list[str], urls: list[Any]) -> str:
    if any(t in ("video", "animated_gif") for t in media_types):
        return "video"
    if media_types:
        return "image"
    return "link" if urls else "text"
