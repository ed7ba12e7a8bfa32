"""The quality benchmark's carving rules, references and metrics on tiny data built here."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from quality_carve import Dataset, carve, is_new_account  # noqa: E402
from quality_metrics import slice_metrics, within_account_spearman  # noqa: E402
from quality_references import account_mean_reference  # noqa: E402

TWEETS = Dataset("tiny", "tweets.csv", "tweets_csv", account="author_id",
                 posted="created_at", collected="snapshot_commit_date")


def _tweets(tmp_path: Path) -> Path:
    """40 tweets of 10 accounts over 10 days, read 3 days after the last one, except the
    last day's, read one hour after."""
    rows = []
    start = pd.Timestamp("2022-03-01", tz="UTC")
    for i in range(40):
        posted = start + pd.Timedelta(hours=6 * i)
        collected = posted + pd.Timedelta(hours=1) if i >= 36 else start + pd.Timedelta(days=13)
        rows.append({"tweet_id": str(1000 + i), "author_id": str(i % 10),
                     "created_at": str(posted), "text": f"tweet {i}", "like_count": 10 * i,
                     "reply_count": 1, "retweet_count": 2, "quote_count": 0,
                     "n_hashtags": 0, "n_mentions": 0, "author_followers": 1000,
                     "media_types": "", "snapshot_commit_date": str(collected)})
    path = tmp_path / "tweets.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_new_accounts_are_a_fixed_fifth() -> None:
    ids = [str(i) for i in range(5000)]
    share = np.mean([is_new_account(a) for a in ids])
    assert 0.17 < share < 0.23
    assert [is_new_account(a) for a in ids[:50]] == [is_new_account(a) for a in ids[:50]]


def test_carve_keeps_new_accounts_and_later_posts_out_of_training(tmp_path: Path) -> None:
    from pipelines.collect.formats import read_posts

    _tweets(tmp_path)
    carved = carve(TWEETS, tmp_path, tmp_path / "out", maturity_hours=48)
    train = read_posts(carved.train, "tweets_csv").posts
    assert not set(train["account_id"]) & carved.new_accounts
    assert (train["posted_at"] < carved.cutoff).all()
    for name, path in carved.slices.items():
        posts = read_posts(path, "tweets_csv").posts
        assert (posts["posted_at"] >= carved.cutoff).all()
        young = posts["collected_at"] - posts["posted_at"] < pd.Timedelta(hours=48)
        assert not young.any(), name
        assert set(posts["account_id"]) <= carved.new_accounts or name == "known_later"
    history = read_posts(carved.history, "tweets_csv").posts
    assert len(train) + len(history) == 40


def test_account_mean_reads_only_outcomes_matured_before_the_post() -> None:
    t0 = pd.Timestamp("2022-01-01", tz="UTC")
    pool = pd.DataFrame({
        "account_id": ["a", "a", "a", "b"],
        "posted_at": [t0, t0 + pd.Timedelta(hours=10), t0 + pd.Timedelta(hours=60), t0],
        "collected_at": [t0 + pd.Timedelta(days=9), t0 + pd.Timedelta(hours=20),
                         t0 + pd.Timedelta(days=9), t0 + pd.Timedelta(days=9)],
        "likes": [99, 9999, 999, 5],
    })
    scored = pd.DataFrame({"account_id": ["a", "a", "c"],
                           "posted_at": [t0 + pd.Timedelta(hours=47),
                                         t0 + pd.Timedelta(hours=120), t0]})
    predicted, has = account_mean_reference(scored, pool, maturity_hours=48, fallback_log=1.0)
    # the first post is 47 h after the only candidate: nothing had matured yet;
    # the second sees posts 1 and 3 (post 2 was read 10 h old: never an outcome)
    assert has.tolist() == [False, True, False]
    assert predicted[0] == pytest.approx(math.expm1(1.0))
    assert np.log1p(predicted[1]) == pytest.approx((math.log(100) + math.log(1000)) / 2)


def test_slice_metrics_bias_and_tenfold_misses() -> None:
    accounts = np.array(["a"] * 10 + ["b"] * 2)
    actual = np.arange(12, dtype=float) * 10
    predicted = actual.copy()
    predicted[0] = 100.0  # log1p(100) - log1p(0) > ln 10
    out = slice_metrics(accounts, actual, predicted)
    assert out["share_off_10x"] == pytest.approx(1 / 12)
    assert out["mean_log_error"] == pytest.approx(math.log1p(100) / 12)
    assert out["accounts_ranked"] == 1 and out["n_accounts"] == 2


def test_constant_predictions_rank_nothing() -> None:
    rho, ranked = within_account_spearman(np.array(["a"] * 10), np.arange(10.0), np.ones(10))
    assert (rho, ranked) == (0.0, 1)


def test_slice_metrics_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        slice_metrics(np.array(["a"]), np.array([1.0]), np.array([np.nan]))
