"""The batch feature matrix equals ``EngagementFeaturizer.transform`` bit for bit, on fuzzed
posts (times across centuries and hours, unknown platforms, missing counts and captions,
negative followers), chunk by chunk as on the whole, and with every group switched off."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import schema
from pipelines.features.batch_features import civil_fields, feature_matrix
from pipelines.features.engagement_features import EngagementFeaturizer
from pipelines.features.model_input import model_input

_TEXT = st.one_of(st.none(), st.text(alphabet=st.one_of(
    st.sampled_from([" ", "\t", "\n", "\xa0", "\u3000", "#", "a"]),
    st.characters(blacklist_categories=("Cs",))), max_size=30))
_COUNT = st.one_of(st.none(), st.integers(-3, 10**6))
_POST = st.fixed_dictionaries({
    "account_id": st.sampled_from(["a1", "a2", "a3", "new"]),
    "platform": st.sampled_from([*schema.PLATFORMS, "myspace"]),
    "content_type": st.sampled_from([*schema.CONTENT_TYPES, "hologram"]),
    "post_kind": st.sampled_from([None, "", *schema.POST_KINDS, "Reply", "retweet"]),
    "posted_at": st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                              max_value=pd.Timestamp("2200-12-31").to_pydatetime()),
    "caption": _TEXT,
    "hashtags_count": _COUNT, "mentions_count": _COUNT, "urls_count": _COUNT,
    "media_count": _COUNT,
    "followers_at_post_time": st.one_of(st.none(), st.integers(-5, 10**9)),
})


def _history(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 60
    return pd.DataFrame({
        "post_id": [f"h{i}" for i in range(n)],
        "account_id": rng.choice(["a1", "a2", "a3"], n),
        "platform": rng.choice(schema.PLATFORMS, n),
        "content_type": rng.choice(schema.CONTENT_TYPES, n),
        "post_kind": rng.choice(schema.POST_KINDS, n),
        "posted_at": pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h"),
        "caption": "a caption #tag", "hashtags_count": 1, "mentions_count": 0,
        "urls_count": 0, "media_count": 1,
        "followers_at_post_time": rng.integers(10, 10**5, n),
        "likes": rng.integers(0, 500, n), "comments": rng.integers(0, 20, n),
        "shares": rng.integers(0, 10, n),
    })


def _featurizer(account_history: bool = True, interactions: bool = True
                ) -> EngagementFeaturizer:
    return EngagementFeaturizer(24.0, account_history, interactions, None, "hash",
                                False).fit(_history())


_FITTED = {(h, i): _featurizer(h, i) for h in (True, False) for i in (True, False)}


def _rows(posts: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(posts)
    frame["post_id"] = [f"p{i}" for i in range(len(frame))]
    frame["posted_at"] = pd.to_datetime(frame["posted_at"]).dt.tz_localize("UTC")
    for column in ("hashtags_count", "mentions_count", "urls_count", "media_count",
                   "followers_at_post_time"):
        frame[column] = frame[column].astype("Int64")
    frame["caption"] = frame["caption"].astype("string")
    return frame


def _assert_bitwise_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    assert same.all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_POST, min_size=1, max_size=25), st.sampled_from(sorted(_FITTED)))
def test_the_matrix_equals_transform_on_fuzzed_posts(posts, groups):
    featurizer = _FITTED[groups]
    rows = _rows(posts)
    inputs = model_input(rows)
    expected = featurizer.transform(inputs).to_numpy(dtype=float)
    _assert_bitwise_equal(feature_matrix(featurizer, inputs), expected)
    # batch scoring passes the canonical rows themselves (their ids are never null)
    _assert_bitwise_equal(feature_matrix(featurizer, rows), expected)


@settings(max_examples=25, deadline=None)
@given(st.lists(_POST, min_size=2, max_size=30), st.sets(st.sampled_from(["a1", "a2", "a3"])))
def test_chunks_dealt_by_account_give_the_rows_of_the_whole(posts, first):
    """Batch scoring deals chunks by whole accounts (a batch's own posts are known posts
    of their account): each row's features are then those of one call on all rows."""
    featurizer = _FITTED[(True, True)]
    inputs = model_input(_rows(posts))
    whole = feature_matrix(featurizer, inputs)
    mask = inputs["account_id"].isin(first).to_numpy()
    parts = np.empty_like(whole)
    for chunk in (mask, ~mask):
        if chunk.any():
            parts[chunk] = feature_matrix(featurizer, inputs[chunk])
    _assert_bitwise_equal(parts, whole)


def test_it_takes_the_canonical_dtypes_too():
    rows = _rows([{"account_id": "a1", "platform": "instagram", "content_type": "image",
                   "posted_at": pd.Timestamp("2025-03-01 13:00").to_pydatetime(),
                   "caption": None, "hashtags_count": None, "mentions_count": 2,
                   "urls_count": 0, "media_count": 1, "followers_at_post_time": 5000}])
    featurizer = _FITTED[(True, True)]
    _assert_bitwise_equal(feature_matrix(featurizer, rows),
                          featurizer.transform(model_input(rows)).to_numpy(dtype=float))


def test_a_missing_time_falls_back_to_transform():
    rows = model_input(_rows([{"account_id": "a1", "platform": "tiktok",
                               "content_type": "video",
                               "posted_at": pd.Timestamp("2025-03-01").to_pydatetime(),
                               "caption": "x", "hashtags_count": 0, "mentions_count": 0,
                               "urls_count": 0, "media_count": 0,
                               "followers_at_post_time": 1}]))
    rows["posted_at"] = pd.NaT
    featurizer = _FITTED[(False, True)]
    _assert_bitwise_equal(feature_matrix(featurizer, rows),
                          featurizer.transform(rows).to_numpy(dtype=float))


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="missing column"):
        feature_matrix(_FITTED[(True, True)], pd.DataFrame({"platform": ["x"]}))


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**62), 2**62))
def test_calendar_fields_equal_pandas(ns):
    stamp = pd.Series(pd.to_datetime([ns], unit="ns", utc=True))
    hour, weekday, month = civil_fields(np.array([ns], dtype=np.int64))
    assert (hour[0], weekday[0], month[0]) == (stamp.dt.hour[0], stamp.dt.weekday[0],
                                               stamp.dt.month[0])
