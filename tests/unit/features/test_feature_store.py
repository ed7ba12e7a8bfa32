"""The Feast-backed history source on a real Feast repo (SQLite online store, file offline
store) in tmp_path: materialization, exactness against FrameHistory, no leakage."""

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.features.engagement_features import EngagementFeaturizer
from pipelines.features.feature_store import (
    FeastHistory,
    account_rows,
    materialize_history,
    online_store_config,
    posts_from_rows,
)
from pipelines.features.history_cache import CachedHistory
from pipelines.features.history_source import (
    KIND_COLUMN,
    OUTCOME_COLUMNS,
    AccountPosts,
    FrameHistory,
)
from pipelines.validate.partition import partition_paths

MATURITY = 48
WRITTEN = datetime(2026, 7, 1, tzinfo=UTC)


def featurizer(train: pd.DataFrame) -> EngagementFeaturizer:
    return EngagementFeaturizer(MATURITY, True, True, None, "onnx_int8", False).fit(
        train, np.log1p(train["likes"].astype(float)))


@pytest.fixture(scope="module")
def split(demo_posts):
    posts = demo_posts.sort_values("posted_at", kind="stable").reset_index(drop=True)
    later = posts.iloc[600:1300].copy()
    # a fifth of the later posts were read young: their counts are not outcomes yet
    young = later.index[::5]
    later.loc[young, "collected_at"] = later.loc[young, "posted_at"] + pd.Timedelta(hours=3)
    return posts.iloc[:600], later, posts.iloc[1300:]


@pytest.fixture(scope="module")
def materialized(tmp_path_factory, split):
    root = tmp_path_factory.mktemp("feast")
    _, later, _ = split
    for day, part in later.groupby(later["posted_at"].dt.strftime("%Y-%m")):
        target = partition_paths(root / "data", f"{day}-01")["validated"]
        target.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(target)
    store_dir, url = root / "store", f"sqlite:///{root / 'store' / 'online.db'}"
    result = materialize_history(store_dir=store_dir, online_url=url,
                                 validated_root=root / "data", maturity_hours=MATURITY,
                                 written_at=WRITTEN)
    return result, FeastHistory(store_dir, url, maturity_hours=MATURITY)


def test_materialization_counts(materialized, split):
    result, _ = materialized
    later = split[1]
    assert result["posts_read"] == result["posts_written"] == len(later)
    assert result["accounts"] == later["account_id"].nunique()
    assert result["online_store"] == "sqlite" and result["seconds"] > 0


def test_materialization_logs_what_it_read_and_wrote(tmp_path, split, caplog):
    later = split[1].head(50)
    target = partition_paths(tmp_path / "data", "2026-01-01")["validated"]
    target.parent.mkdir(parents=True)
    later.to_parquet(target)
    with caplog.at_level(logging.INFO, logger="pipelines.features.feature_store"):
        materialize_history(store_dir=tmp_path / "s", online_url=str(tmp_path / "s" / "o.db"),
                            validated_root=tmp_path / "data", maturity_hours=MATURITY,
                            written_at=WRITTEN)
    assert (f"read 50 validated posts; wrote 50 posts of {later['account_id'].nunique()} "
            "accounts") in caplog.text


def test_outcomes_equal_frame_history(materialized, split):
    _, history = materialized
    later = split[1]
    accounts = sorted(later["account_id"].unique())[:7] + ["never-seen"]
    got = history.outcomes(accounts).sort_values(["account_id", "post_id"]).reset_index(
        drop=True)
    want = FrameHistory(later, maturity_hours=MATURITY).outcomes(accounts).sort_values(
        ["account_id", "post_id"]).reset_index(drop=True)
    assert list(got.columns) == list(want.columns) == [*OUTCOME_COLUMNS, KIND_COLUMN]
    assert len(got) == len(want) > 0
    assert got[KIND_COLUMN].nunique() > 1          # the demo posts carry several kinds
    for column in got.columns:
        left, right = got[column], want[column]
        if column in ("account_id", "platform", "post_id", KIND_COLUMN):
            assert left.astype(str).tolist() == right.astype(str).tolist(), column
        elif column == "posted_at":
            assert (left == right).all()
        else:
            np.testing.assert_array_equal(left.to_numpy(float, na_value=np.nan),
                                          right.to_numpy(float, na_value=np.nan), column)


def test_featurizer_with_feast_equals_featurizer_with_frame_history(materialized, split):
    """The exactness proof: same posts, two sources, identical features."""
    train, later, queries = split
    _, history = materialized
    fitted = featurizer(train)
    with_feast = fitted.attach_history(history).transform(queries)
    with_frame = fitted.attach_history(FrameHistory(later, maturity_hours=MATURITY)
                                       ).transform(queries)
    pd.testing.assert_frame_equal(with_feast, with_frame, check_exact=True)
    frozen = fitted.attach_history(None).transform(queries)
    assert not frozen.equals(with_feast)      # the store's posts do reach the features


def test_account_posts_equal_outcomes_without_pandas(materialized, split):
    """The serving cache's numpy read holds exactly what ``outcomes`` returns."""
    _, history = materialized
    accounts = sorted(split[1]["account_id"].unique())[:7] + ["never-seen"]
    arrays = history.account_posts(accounts)
    assert sorted(arrays) == accounts[:7]
    outcomes = history.outcomes(accounts)
    assert outcomes["likes"].isna().any()                # young counts are nulled in both
    for account, frame in outcomes.groupby("account_id"):
        got, want = arrays[account], AccountPosts.from_frame(frame)
        for name in ("post_id", "platform", "post_kind", "t", "followers", "likes", "comments",
                     "shares"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)


def test_featurizer_through_the_cache_equals_featurizer_with_frame_history(materialized,
                                                                           split):
    train, later, queries = split
    _, history = materialized
    fitted = featurizer(train)
    cache = CachedHistory(history, max_age_seconds=30)
    with_cache = fitted.attach_history(cache).transform(queries)
    with_frame = fitted.attach_history(FrameHistory(later, maturity_hours=MATURITY)
                                       ).transform(queries)
    pd.testing.assert_frame_equal(with_cache, with_frame, check_exact=True)
    cache.close()


def test_write_posts_merges_the_latest_observation(tmp_path, split):
    later = split[1]
    account = later["account_id"].iloc[0]
    mine = later[later["account_id"] == account].head(3)
    history = FeastHistory(tmp_path, str(tmp_path / "online.db"), maturity_hours=MATURITY)
    assert history.write_posts(mine, written_at=WRITTEN) == {"accounts": 1, "posts": 3}
    newer = mine.head(1).assign(likes=10**6, collected_at=mine["collected_at"].iloc[0]
                                + pd.Timedelta(days=1))
    older = mine.iloc[[1]].assign(likes=0, collected_at=mine["collected_at"].iloc[1]
                                  - pd.Timedelta(days=400))
    history.write_posts(pd.concat([newer, older]), written_at=WRITTEN + timedelta(1))
    stored = history.posts([account]).set_index("post_id")["likes"]       # counts as read
    assert len(stored) == 3
    assert stored[mine["post_id"].iloc[0]] == 10**6                     # newer read wins
    assert stored[mine["post_id"].iloc[1]] == mine["likes"].iloc[1]      # older read loses


def test_counts_without_a_kind_keep_the_kind_an_earlier_read_said(tmp_path, split):
    """``POST /outcomes`` rows say counts, not what the post is: a later count must not
    make a reply read as a post of unknown kind."""
    later = split[1]
    mine = later[later[KIND_COLUMN].isin(["reply", "quote"])].head(2)
    history = FeastHistory(tmp_path, str(tmp_path / "online.db"), maturity_hours=MATURITY)
    history.write_posts(mine, written_at=WRITTEN)
    counts = mine.drop(columns=KIND_COLUMN).assign(
        likes=7, collected_at=mine["collected_at"] + pd.Timedelta(days=1))
    history.write_posts(counts, written_at=WRITTEN + timedelta(1))
    stored = history.posts(mine["account_id"].unique()).set_index("post_id")
    assert stored.loc[mine["post_id"], "likes"].tolist() == [7, 7]
    assert stored.loc[mine["post_id"], KIND_COLUMN].tolist() == mine[KIND_COLUMN].tolist()


def test_a_row_stored_before_kinds_reads_as_kinds_not_said():
    posts = pd.DataFrame({
        "account_id": ["a", "a"], "platform": ["x", "x"], "post_id": ["p1", "p2"],
        "posted_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
        "followers_at_post_time": [100.0, 100.0], "likes": [5.0, 6.0], "comments": [0.0, 0.0],
        "shares": [0.0, 0.0], KIND_COLUMN: ["reply", "original"]})
    rows = account_rows(posts, written_at=WRITTEN).drop(columns="event_timestamp")
    assert rows["post_kinds"].tolist() == [["reply", "original"]]
    old = rows.drop(columns="post_kinds").to_dict("list")
    old["post_kinds"] = [None]                # what Feast answers for a row written then
    back = posts_from_rows(old)
    assert back["likes"].tolist() == [5.0, 6.0] and back[KIND_COLUMN].isna().all()


def test_rows_round_trip_keeps_nulls():
    posts = pd.DataFrame({
        "account_id": ["a", "a"], "platform": ["x", "x"], "post_id": ["p1", "p2"],
        "posted_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
        "followers_at_post_time": pd.array([100, None], dtype="Int64"),
        "likes": pd.array([5, None], dtype="Int64"), "comments": [None, 1.0],
        "shares": [0.0, None],
        "collected_at": pd.to_datetime(["2026-02-01", None], utc=True)})
    rows = account_rows(posts, written_at=WRITTEN)
    back = posts_from_rows(rows.drop(columns="event_timestamp").to_dict("list"))
    assert back["collected_at"].isna().tolist() == [False, True]
    assert back["likes"].isna().tolist() == [False, True]
    assert back["followers_at_post_time"].tolist()[0] == 100


@pytest.mark.parametrize("url,want", [
    ("sqlite:////tmp/x/online.db", {"type": "sqlite", "path": "/tmp/x/online.db"}),
    ("redis://127.0.0.1:6380/2", {"type": "redis", "connection_string": "127.0.0.1:6380,db=2"}),
    ("redis://:pw@redis:6379", {"type": "redis",
                                "connection_string": "redis:6379,db=0,password=pw"}),
])
def test_online_store_config(url, want):
    assert online_store_config(url) == want


def test_online_store_config_rejects_other_schemes():
    with pytest.raises(ValueError, match="must be sqlite:///PATH or redis://"):
        online_store_config("postgresql://u:p@h/db")


# --- no leakage, through the store ---------------------------------------------------------


@pytest.fixture(scope="module")
def leak_case(tmp_path_factory, split):
    train, later, _ = split
    account = later["account_id"].value_counts().index[0]
    own = later[later["account_id"] == account].sort_values("posted_at")
    store_dir = tmp_path_factory.mktemp("leak")
    history = FeastHistory(store_dir, str(store_dir / "online.db"), maturity_hours=MATURITY)
    return featurizer(train), history, own


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=5, max_value=60),
       factor=st.floats(min_value=0.0, max_value=1000.0), drop=st.booleans(),
       extra_hours=st.floats(min_value=0.0, max_value=24 * 30))
def test_features_never_use_outcomes_not_matured_at_post_time(leak_case, position, factor,
                                                              drop, extra_hours):
    """Outcomes of posts published after t - maturity_hours (t = the scored post's time)
    can change or vanish in the store without changing that post's features; the posts
    themselves stay (that a post exists, its time and followers are known at once)."""
    fitted, history, own = leak_case
    query = own.iloc[[position % len(own)]]
    t = query["posted_at"].iloc[0]
    cutoff = t - pd.Timedelta(hours=MATURITY)
    known = own[own["posted_at"] <= cutoff]
    unripe = own[own["posted_at"] > cutoff]
    fitted.attach_history(history)
    stamp = WRITTEN + timedelta(seconds=extra_hours)
    history.store.write_to_online_store(
        "account_posts", account_rows(own, written_at=stamp))
    base = fitted.transform(query)
    if drop:        # the outcomes vanish (the posts' existence is known at once, by design)
        changed = pd.concat([known, unripe.assign(likes=pd.NA, comments=pd.NA, shares=pd.NA)])
    else:
        changed = pd.concat([known, unripe.assign(
            likes=(unripe["likes"].astype(float) * factor).round().astype("Int64"),
            comments=0, collected_at=unripe["posted_at"] + pd.Timedelta(hours=extra_hours
                                                                       + MATURITY))])
    history.store.write_to_online_store("account_posts",
                                        account_rows(changed, written_at=stamp))
    pd.testing.assert_frame_equal(fitted.transform(query), base, check_exact=True)
    fitted.attach_history(None)
