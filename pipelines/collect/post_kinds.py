"""What a post is to other posts (``post_kind``), from what each source says.

The mappings several collectors share, in one place: X / Twitter reference types (the API's
``referenced_tweets[].type`` and the tweets CSV's ``referenced`` column use the same words,
so the file formats and the API client map them with the same function) and reposts (a
Facebook post with a ``parent_id``, a LinkedIn post with a ``reshareContext``). A source
that does not say leaves ``post_kind`` null; nothing here guesses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

#: X API v2 reference type -> post kind, strongest first: a reply that quotes a tweet is a
#: reply (it sits in a conversation), and a retweet carries no text of its own.
TWEET_REFERENCE_KINDS: dict[str, str] = {
    "replied_to": "reply", "retweeted": "share", "quoted": "quote",
}


def tweet_kind(types: Iterable[str]) -> str | None:
    """The post kind of a tweet that references tweets of ``types`` (API words).

    No reference → ``original``; ``replied_to`` (with or without ``quoted``) → ``reply``;
    ``retweeted`` → ``share``; ``quoted`` → ``quote``. Returns None when a type is none of
    these: the caller passes its raw value on, so the posts row contract quarantines it
    naming the value instead of the post being filed under a guessed kind.
    """
    found = set(types)
    if not found:
        return "original"
    if not found <= set(TWEET_REFERENCE_KINDS):
        return None
    return next(kind for word, kind in TWEET_REFERENCE_KINDS.items() if word in found)


def referenced_tweets_kind(types: list[str]) -> str:
    """The post kind of a tweet whose ``referenced_tweets`` have these ``types``, or, when
    a type is unknown, the types comma-joined: passed on for the posts row contract to
    quarantine, naming the value."""
    return tweet_kind(types) or ",".join(types)


def referenced_kind(value: object) -> object:
    """The post kind for one value of the tweets CSV's ``referenced`` column.

    The value lists the tweet's reference types, comma-separated (``""``, ``quoted``,
    ``replied_to``, ``quoted,replied_to``); blanks around a type are ignored, and an empty
    value (blank, None, NaN: what an empty cell becomes in JSON or Parquet) is an
    ``original`` tweet. A value holding any other word is returned unchanged (see
    :func:`tweet_kind`).
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "original"
    if not isinstance(value, str):
        return value
    kind = tweet_kind(t.strip() for t in value.split(",") if t.strip())
    return value if kind is None else kind


def repost_kind(reposted: bool, text: object) -> str:
    """``original`` for a post of the account's own; for a repost of another post, ``quote``
    when it carries text of its own (a repost with a comment) and ``share`` when not."""
    if not reposted:
        return "original"
    return "quote" if isinstance(text, str) and text.strip() else "share"
