"""The shared post-kind rules: X reference types, the tweets CSV's ``referenced``, reposts."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipelines.collect.post_kinds import referenced_kind, repost_kind, tweet_kind


@pytest.mark.parametrize(("types", "kind"), [
    ([], "original"), (["replied_to"], "reply"), (["quoted"], "quote"),
    (["retweeted"], "share"), (["quoted", "replied_to"], "reply"),
    (["retweeted", "quoted"], "share"), (["quoted", "quoted"], "quote"),
    (["quoted", "mentioned"], None), (["None"], None), (["Quoted"], None),
])
def test_tweet_kind(types: list[str], kind: str | None) -> None:
    assert tweet_kind(types) == kind


@pytest.mark.parametrize(("value", "kind"), [
    ("", "original"), ("  ", "original"), (None, "original"), (math.nan, "original"),
    (pd.NA, "original"), ("quoted,replied_to", "reply"), (" replied_to , quoted", "reply"),
    ("quoted,", "quote"), ("liked", "liked"), ("quoted;replied_to", "quoted;replied_to"),
    (3, 3),
])
def test_referenced_kind_maps_known_words_and_passes_others_on(value: object,
                                                               kind: object) -> None:
    assert referenced_kind(value) == kind


def test_repost_kind() -> None:
    assert repost_kind(False, "") == "original"
    assert repost_kind(True, "") == repost_kind(True, None) == repost_kind(True, " ") == "share"
    assert repost_kind(True, "my take") == "quote"
