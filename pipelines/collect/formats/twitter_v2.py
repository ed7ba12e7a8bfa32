"""``twitter_v2``: X API v2 responses (one object, a JSON array of them, or JSONL of them).

``data[]`` tweets, ``includes.users[]`` and ``includes.media[]``. like_count → likes,
reply_count → comments, retweet_count + quote_count → shares, impression_count →
impressions, bookmark_count → saves, ``includes.users[].public_metrics.followers_count``
→ followers_at_post_time (a count at collection time: ``extra["followers_measured"]``),
``entities`` list lengths → hashtag/mention/URL counts, ``attachments.media_keys`` →
media_count and content_type (any video/animated_gif → video, several photos →
carousel, one photo → image, none → text). An author or media key missing from
``includes`` rejects the tweet (``lookup_missing``). ``source_row`` numbers tweets across
the pages of a file; a page that is not a response object is one rejected record.

``referenced_tweets[].type`` → post_kind: ``replied_to`` → reply (also when it quotes too),
``retweeted`` → share, ``quoted`` → quote, an empty list → original; another type passes
through (the types comma-joined) and the posts row contract quarantines it. The API leaves
the key out of an original tweet, but only when ``tweet.fields`` asked for it, so a file
cannot be trusted on an absent key alone: in a file where some tweet carries
``referenced_tweets`` the field was requested, and there a tweet without it is original;
in a file where no tweet carries it, post_kind stays null (not reported). The references
stay in ``extra``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.nested import Shape, array, nested_mapped, obj
from pipelines.collect.formats.spec import FileFormat, Issue, Mapped
from pipelines.collect.post_kinds import referenced_tweets_kind

logger = logging.getLogger(__name__)

_SOURCE_OF = {
    "post_id": "id", "account_id": "author_id", "posted_at": "created_at", "caption": "text",
    "likes": "public_metrics.like_count", "comments": "public_metrics.reply_count",
    "shares": "public_metrics.retweet_count+quote_count",
    "impressions": "public_metrics.impression_count", "saves": "public_metrics.bookmark_count",
    "followers_at_post_time": "includes.users.public_metrics.followers_count",
    "content_type": "includes.media.type", "post_kind": "referenced_tweets.type",
}

#: One tweet's problem: (rule, column, value, detail); `_map` adds the tweet number.
_TweetIssue = tuple[str, str | None, object, str]
_Tweet = tuple[dict[str, object], object, object, list[_TweetIssue]]


def twitter_content_type(media_types: object, n_media: object, has_media: object) -> str:
    """photo×1 → image, photo×n → carousel, any video/gif → video, none → text.

    Shared with ``tweets_csv``, whose ``media_types`` column holds the same API types.
    """
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


def _map(loaded: Loaded, path: Path) -> Mapped:
    """Records are tweets, numbered across pages; a broken page counts as one record."""
    assert loaded.records is not None
    rows: dict[int, dict[str, object]] = {}
    extras: dict[int, object] = {}
    originals: dict[int, object] = {}
    issues: list[Issue] = []
    skip: set[int] = set()
    number = 0
    broken: dict[int, tuple[str, str, object, str]] = {}
    for page_number in sorted(set(loaded.records) | set(loaded.broken)):
        if page_number in loaded.broken:
            number += 1
            broken[number] = loaded.broken[page_number]
            continue
        for values, extra, original, found in _page(loaded.records[page_number]):
            number += 1
            rows[number], extras[number], originals[number] = values, extra, original
            issues += [(number, *issue) for issue in found]
            if not values:
                skip.add(number)
    loaded.broken = broken  # renumbered: the reader quarantines them at the tweet numbers
    if any(isinstance(o, dict) and o.get("referenced_tweets") is not None
           for o in originals.values()):
        for values in rows.values():
            if values and values.get("post_kind") is None:
                values["post_kind"] = "original"
    return nested_mapped(loaded, rows, extras, originals, issues, skip, _SOURCE_OF)


def _page(page: object) -> list[_Tweet]:
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
        includes = obj(page, "includes", "includes")
        users = {str(u["id"]): u for u in array(includes, "users", "includes.users")
                 if isinstance(u, dict) and "id" in u}
        media = {str(m["media_key"]): m for m in array(includes, "media", "includes.media")
                 if isinstance(m, dict) and "media_key" in m}
    except Shape as exc:
        shape = ("json_shape", exc.column, exc.value, exc.detail)
        return [({}, None, tweet, [shape]) for tweet in tweets] or [({}, None, page, [shape])]
    out: list[_Tweet] = []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            out.append(({}, None, tweet, [("json_shape", None, tweet,
                                           "a tweet must be a JSON object")]))
            continue
        try:
            out.append(_tweet(tweet, users, media, "includes" in page))
        except Shape as exc:
            out.append(({}, None, tweet, [("json_shape", exc.column, exc.value, exc.detail)]))
    return out


def _tweet(tweet: dict[str, Any], users: dict[str, Any], media: dict[str, Any],
           has_includes: bool) -> _Tweet:
    metrics = obj(tweet, "public_metrics", "public_metrics")
    entities = obj(tweet, "entities", "entities")
    attachments = obj(tweet, "attachments", "attachments")
    keys = array(attachments, "media_keys", "attachments.media_keys")
    issues: list[_TweetIssue] = []
    author = tweet.get("author_id")
    user = users.get(str(author)) if author is not None else None
    followers: object = None
    if user is not None:
        followers = obj(user, "public_metrics", "includes.users.public_metrics").get(
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
        content = twitter_content_type(",".join(str(t) for t in types), len(keys), bool(keys))
    references = array(tweet, "referenced_tweets", "referenced_tweets")
    if not all(isinstance(ref, dict) for ref in references):
        raise Shape("referenced_tweets", references,
                    "referenced_tweets must be an array of objects")
    ref_types = [str(ref.get("type")) for ref in references]
    kind: object = None  # absent: original only if the file shows it was requested (_map)
    if tweet.get("referenced_tweets") is not None:
        kind = referenced_tweets_kind(ref_types)
    retweets, quotes = metrics.get("retweet_count"), metrics.get("quote_count")
    shares: object = retweets
    if isinstance(retweets, int) and isinstance(quotes, int) \
            and not isinstance(retweets, bool) and not isinstance(quotes, bool):
        shares = retweets + quotes
    values: dict[str, object] = {
        "post_id": tweet.get("id"), "platform": "twitter", "account_id": author,
        "posted_at": tweet.get("created_at"), "content_type": content, "post_kind": kind,
        "caption": tweet.get("text"),
        "hashtags_count": len(array(entities, "hashtags", "entities.hashtags")),
        "mentions_count": len(array(entities, "mentions", "entities.mentions")),
        "urls_count": len(array(entities, "urls", "entities.urls")),
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


FORMAT = FileFormat(
    name="twitter_v2",
    help="X API v2 response pages: data[] tweets with includes.users/media (JSON, JSONL, "
         "Parquet).",
    map=_map,
    nested=True,
    json_pages=True,
)
