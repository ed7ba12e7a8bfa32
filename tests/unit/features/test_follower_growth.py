import numpy as np
import pandas as pd
import pytest

from pipelines.features.follower_growth import (
    BASE_FEATURES,
    POST_FEATURES,
    TARGET,
    account_periods,
    daily_follower_series,
    follower_growth_features,
)

# Monday 2026-03-02 starts a "7D" period (periods are Monday-to-Sunday UTC weeks).
W0 = pd.Timestamp("2026-03-02T00:00:00Z")
D = pd.Timedelta(days=1)


def _posts(*rows: tuple) -> pd.DataFrame:
    """Rows of (account_id, posted_at, followers[, likes, content_type])."""
    records = []
    for row in rows:
        account, at, followers, *rest = row
        likes = rest[0] if rest else 10
        content = rest[1] if len(rest) > 1 else "image"
        records.append({"account_id": account, "platform": "twitter", "posted_at": at,
                        "followers_at_post_time": followers, "likes": likes,
                        "comments": 1, "shares": 2, "content_type": content})
    frame = pd.DataFrame(records)
    frame["posted_at"] = pd.to_datetime(frame["posted_at"], utc=True)
    return frame


def _row(periods: pd.DataFrame, account: str, start: pd.Timestamp) -> pd.Series:
    match = periods[(periods["account_id"] == account) & (periods["period_start"] == start)]
    assert len(match) == 1, f"expected one row for {account} at {start}; got {len(match)}"
    return match.iloc[0]


def test_period_boundaries_are_half_open_weeks_from_monday() -> None:
    posts = _posts(("a", W0, 100), ("a", W0 + 7 * D - pd.Timedelta("1ns"), 110),
                   ("a", W0 + 7 * D, 120))
    periods = account_periods(posts, period="7D")
    assert list(periods["period_start"]) == [W0, W0 + 7 * D]
    assert list(periods["period_end"]) == [W0 + 7 * D, W0 + 14 * D]
    assert list(periods["posts"]) == [2.0, 1.0]
    # Followers at the period's last post, not its first.
    assert list(periods["followers"]) == [110.0, 120.0]


def test_target_is_log_growth_to_next_period_last_post() -> None:
    posts = _posts(("a", W0, 100), ("a", W0 + D, 110), ("a", W0 + 8 * D, 150),
                   ("a", W0 + 9 * D, 200))
    periods = account_periods(posts, period="7D")
    first = _row(periods, "a", W0)
    assert first[TARGET] == pytest.approx(np.log1p(200) - np.log1p(110))
    assert first["follower_growth_within"] == pytest.approx(np.log1p(110) - np.log1p(100))
    # The last period of an account has no next period.
    assert np.isnan(_row(periods, "a", W0 + 7 * D)[TARGET])


def test_gap_gives_nan_target_and_growth_per_elapsed_period() -> None:
    posts = _posts(("a", W0, 100), ("a", W0 + 21 * D, 300), ("a", W0 + 28 * D, 330))
    periods = account_periods(posts, period="7D")
    assert len(periods) == 3  # the two empty weeks get no row: followers are not carried
    assert np.isnan(_row(periods, "a", W0)[TARGET])
    third = _row(periods, "a", W0 + 21 * D)
    assert third["periods_since_prev"] == 3
    assert third["follower_growth_prev"] == pytest.approx((np.log1p(300) - np.log1p(100)) / 3)
    assert third["active_periods"] == 2
    assert third[TARGET] == pytest.approx(np.log1p(330) - np.log1p(300))


def test_features_never_read_the_future() -> None:
    base = _posts(("a", W0, 100, 5, "image"), ("a", W0 + 8 * D, 120, 7, "video"),
                  ("a", W0 + 15 * D, 130, 9, "text"))
    changed = base.copy()
    changed.loc[2, ["followers_at_post_time", "likes"]] = [9_000, 10_000]
    changed.loc[2, "content_type"] = "link"
    extra = pd.concat([changed, _posts(("a", W0 + 16 * D, 9_500))], ignore_index=True)
    features = [*BASE_FEATURES, *POST_FEATURES]
    before = account_periods(base, period="7D")
    for after in (account_periods(changed, period="7D"), account_periods(extra, period="7D")):
        pd.testing.assert_frame_equal(before[features].iloc[:2], after[features].iloc[:2])
        # Only the target of the period just before the change moves.
        assert before[TARGET].iloc[0] == after[TARGET].iloc[0]
        assert before[TARGET].iloc[1] != after[TARGET].iloc[1]


def test_accounts_are_independent_and_order_free() -> None:
    a = _posts(("a", W0, 100), ("a", W0 + 8 * D, 150))
    b = _posts(("b", W0 + 2 * D, 7), ("b", W0 + 9 * D, 3), ("b", W0 + 30 * D, 9))
    alone = account_periods(a, period="7D")
    both = account_periods(pd.concat([b, a], ignore_index=True).sample(frac=1, random_state=0),
                           period="7D")
    pd.testing.assert_frame_equal(alone, both[both["account_id"] == "a"].reset_index(drop=True))
    assert len(both) == 5


def test_post_features_summarise_the_period() -> None:
    posts = _posts(("a", W0, 100, 9, "image"), ("a", W0 + D, 100, 99, "video"),
                   ("a", W0 + 2 * D, 100, 0, "video"), ("a", W0 + 3 * D, 100, 3, "text"))
    row = account_periods(posts, period="7D").iloc[0]
    assert row["mean_log_likes"] == pytest.approx(np.mean(np.log1p([9, 99, 0, 3])))
    assert row["total_engagement"] == 111 + 4 * 3
    assert (row["share_image"], row["share_video"], row["share_text"]) == (0.25, 0.5, 0.25)
    assert row["share_carousel"] == 0


def test_features_select_known_targets_without_nan() -> None:
    posts = _posts(("a", W0, 100), ("a", W0 + 8 * D, 150), ("b", W0, 10))
    X, y = follower_growth_features(account_periods(posts, period="7D"))
    assert list(X.columns) == [*BASE_FEATURES, *POST_FEATURES]
    assert TARGET not in X.columns and len(X) == len(y) == 1
    assert not X.isna().any().any()
    X_all, y_all = follower_growth_features(account_periods(posts, period="7D"),
                                            labelled_only=False)
    assert len(X_all) == 3 and y_all.isna().sum() == 2


def test_daily_series_matches_posts_table_on_the_same_observations() -> None:
    daily = pd.DataFrame({"acct": ["a", "a", "a", "b"],
                          "day": ["2026-03-02", "2026-03-04", "2026-03-10", "2026-03-03"],
                          "fol": [100, 110, 130, 5], "n": [3, 1, 2, 4]})
    periods = daily_follower_series(daily, account_col="acct", date_col="day",
                                    followers_col="fol", posts_col="n", period="7D")
    assert list(periods.columns[:4]) == ["account_id", "period_start", "period_end",
                                         "followers"]
    first = _row(periods, "a", W0)
    assert first["posts"] == 4 and first["followers"] == 110
    assert first[TARGET] == pytest.approx(np.log1p(130) - np.log1p(110))
    counted = daily_follower_series(daily, account_col="acct", date_col="day",
                                    followers_col="fol", period="7D")
    assert _row(counted, "a", W0)["posts"] == 2  # observed days
    X, _ = follower_growth_features(periods, labelled_only=False)
    assert list(X.columns) == list(BASE_FEATURES)


@pytest.mark.parametrize("period", ["x", "1M", "-7D", "0D", 7, None])
def test_bad_period_is_named(period: object) -> None:
    with pytest.raises(ValueError, match=r"account_periods: 'period' must be a pandas offset "
                                         r"like '7D'"):
        account_periods(_posts(("a", W0, 1)), period=period)
    with pytest.raises(ValueError, match=r"daily_follower_series: 'period'"):
        daily_follower_series(pd.DataFrame({"a": ["x"], "d": ["2026-01-01"], "f": [1]}),
                              account_col="a", date_col="d", followers_col="f",
                              period=period)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"account_periods: input is missing column\(s\) "
                                         r"\['likes'\]"):
        account_periods(_posts(("a", W0, 1)).drop(columns="likes"), period="7D")
    with pytest.raises(ValueError, match="must be a pandas DataFrame; got list"):
        account_periods([1, 2], period="7D")
    with pytest.raises(ValueError, match="'followers_at_post_time' must be >= 0"):
        account_periods(_posts(("a", W0, -1)), period="7D")
    with pytest.raises(ValueError, match="'account_id' and 'posted_at' must be non-null"):
        account_periods(_posts(("a", W0, 1), (None, W0, 1)), period="7D")
    with pytest.raises(ValueError, match=r"daily_follower_series: 'd' must hold dates"):
        daily_follower_series(pd.DataFrame({"a": ["x"], "d": ["not a date"], "f": [1]}),
                              account_col="a", date_col="d", followers_col="f", period="7D")
    with pytest.raises(ValueError, match=r"follower_growth_features: input is missing"):
        follower_growth_features(pd.DataFrame({"posts": [1]}))


@pytest.mark.shared_data
def test_ira_followers_sample(shared_data_dir) -> None:
    """50 IRA accounts: the table is sound; what a linear model can and cannot do there.

    Measured (docs/follower_growth.md): on this sample a ridge does NOT beat predicting zero
    growth in MAE (the target is heavy-tailed: median ~0, rare jumps of several log units),
    so the test asserts only what holds: zero growth beats persisting last period's growth,
    and ridge gives finite predictions on a time-ordered holdout.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    daily = pd.read_csv(shared_data_dir / "ira_followers" / "ira_followers_daily.csv.gz")
    daily = daily[daily["author_id"].isin(daily["author_id"].unique()[:50])]
    periods = daily_follower_series(daily, account_col="author_id", date_col="date",
                                    followers_col="followers", posts_col="n_posts",
                                    period="7D")
    assert periods["account_id"].nunique() == 50
    assert not periods.duplicated(["account_id", "period_start"]).any()
    X, y = follower_growth_features(periods)
    assert len(X) > 500 and not X.isna().any().any() and np.isfinite(y).all()
    start = periods.loc[X.index, "period_start"]
    cut = start.quantile(0.8)
    train = start + pd.Timedelta("14D") <= cut  # train targets end before the cut
    test = start >= cut
    assert train.sum() > 300 and test.sum() > 50
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[train], y[train])
    predicted = model.predict(X[test])
    assert np.isfinite(predicted).all()
    mae = {"zero": np.mean(np.abs(y[test])),
           "last": np.mean(np.abs(y[test] - X.loc[test, "follower_growth_prev"])),
           "ridge": np.mean(np.abs(y[test] - predicted))}
    assert mae["zero"] < mae["last"], mae
