"""``tweets_csv``: the layout of ``shared/data/tweets_2022/tweets.csv``.

tweet_id, author_id (account), created_at, text, like/reply counts, retweet_count +
quote_count → shares, n_hashtags, n_mentions, n_urls, n_media, media_types (+ has_media) →
content_type as for ``twitter_v2``, author_followers → followers_at_post_time (measured at
collection time, noted in extra), snapshot_commit_date → collected_at; username,
retweet/quote counts, video_view_count, referenced, author_* and age/snapshot columns →
extra.

``referenced`` (the tweet's reference types, comma-separated) → post_kind: empty →
original, ``replied_to`` → reply (also with ``quoted``: a reply that quotes is a reply),
``quoted`` → quote, ``retweeted`` → share. A value with any other word passes through
unchanged, so the posts row contract quarantines the row naming post_kind and the value.
The raw value stays in ``extra["referenced"]`` (the mapping drops the quote of a quoting
reply). A file without the column leaves post_kind null (not reported), never original.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.collect.formats.containers import Loaded
from pipelines.collect.formats.flat import (
    combine_counts,
    extra_series,
    frame_record,
    require_columns,
)
from pipelines.collect.formats.spec import FileFormat, Mapped
from pipelines.collect.formats.twitter_v2 import twitter_content_type
from pipelines.collect.formats.values import is_missing
from pipelines.collect.post_kinds import referenced_kind

NAME = "tweets_csv"


def _map(loaded: Loaded, path: Path) -> Mapped:
    needed = ["tweet_id", "author_id", "created_at", "text", "like_count", "reply_count",
              "retweet_count", "n_hashtags", "n_mentions", "author_followers", "media_types"]
    frame = require_columns(loaded, path, NAME, needed)
    get = frame.get
    n_media = get("n_media", pd.Series(None, index=frame.index, dtype=object))
    has_media = get("has_media", pd.Series(None, index=frame.index, dtype=object))
    keys = pd.DataFrame({"t": frame["media_types"], "n": n_media, "h": has_media})
    keys = keys.map(lambda v: "" if is_missing(v) else str(v))
    combos = keys.drop_duplicates()
    lookup = {tuple(k): twitter_content_type(*k) for k in combos.itertuples(index=False)}
    content = pd.Series([lookup[tuple(k)] for k in keys.itertuples(index=False)],
                        index=frame.index, dtype=object)
    content = content.where(content != "", frame["media_types"])
    values = pd.DataFrame({
        "post_id": frame["tweet_id"], "platform": "twitter", "account_id": frame["author_id"],
        "posted_at": frame["created_at"], "content_type": content, "caption": frame["text"],
        "hashtags_count": frame["n_hashtags"], "mentions_count": frame["n_mentions"],
        "followers_at_post_time": frame["author_followers"],
        "likes": frame["like_count"], "comments": frame["reply_count"],
        "shares": combine_counts(frame, "retweet_count", "quote_count"),
    }, index=frame.index)
    source_of = {"post_id": "tweet_id", "account_id": "author_id", "posted_at": "created_at",
                 "content_type": "media_types", "caption": "text",
                 "hashtags_count": "n_hashtags", "mentions_count": "n_mentions",
                 "followers_at_post_time": "author_followers", "likes": "like_count",
                 "comments": "reply_count", "shares": "retweet_count+quote_count"}
    optional = {"n_urls": "urls_count", "n_media": "media_count",
                "snapshot_commit_date": "collected_at"}
    for src, dst in optional.items():
        if src in frame.columns:
            values[dst] = frame[src]
            source_of[dst] = src
    if "referenced" in frame.columns:
        values["post_kind"] = frame["referenced"].map(referenced_kind)
        source_of["post_kind"] = "referenced"
    used = set(needed) - {"retweet_count"} | set(optional)
    extra_cols = [c for c in frame.columns if c not in used]
    notes = {"followers_measured": "at_collection", "missing_in_source": ["impressions"]}
    extra = extra_series(frame, extra_cols, notes)
    return Mapped(values, source_of, extra, [], frame_record(frame, loaded.records))


FORMAT = FileFormat(
    name=NAME,
    help="The tweets_2022/tweets.csv layout: one tweet per row with counts and author "
         "followers (CSV, JSON, JSONL, Parquet).",
    map=_map,
)
