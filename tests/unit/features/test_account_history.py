import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from pipelines import schema
from pipelines.features.account_history import (
    HISTORY_COLUMNS,
    INTERACTION_COLUMNS,
    AccountHistory,
    HistoryFallback,
    account_history_features,
    interaction_features,
)

T0 = pd.Timestamp("2026-03-01T12:00:00Z")
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)


def _posts(*rows: tuple) -> pd.DataFrame:
    """Rows of (account_id, posted_at, likes, followers[, comments, shares, platform])."""
    names = ("account_id", "posted_at", "likes", "followers_at_post_time", "comments",
             "shares", "platform")
    defaults = (0, 0, "instagram")
    records = [{"post_id": f"p{i}", **dict(zip(names, (*row, *defaults[len(row) - 4:]),
                                                strict=True))}
               for i, row in enumerate(rows)]
    frame = pd.DataFrame(records)
    frame["posted_at"] = pd.to_datetime(frame["posted_at"], utc=True)
    for name in ("likes", "comments", "shares", "followers_at_post_time"):
        frame[name] = frame[name].astype("Int64")
    return frame


def _posts_per_30d(earlier: pd.Series, t: pd.Timestamp) -> float:
    """Known posts in (t - 30 d, t), read over the span since the first one (1 to 30 days)."""
    if not len(earlier):
        return 0.0
    month = pd.Timedelta(days=30)
    span = min(max(t - earlier.min(), pd.Timedelta(days=1)), month)
    return int((earlier > t - month).sum()) * (month / span)


def _reference(posts: pd.DataFrame, maturity_hours: float, fb: HistoryFallback) -> pd.DataFrame:
    """A slow, literal per-post loop over the documented definitions."""
    rows = []
    m = pd.Timedelta(hours=maturity_hours)
    for _, p in posts.iterrows():
        t = p["posted_at"]
        mine = posts[posts["account_id"] == p["account_id"]]
        earlier = mine[mine["posted_at"] < t]
        matured = earlier[(earlier["posted_at"] <= t - m) & earlier["likes"].notna()]
        ll = np.log1p(matured["likes"].astype(float))
        eng = (matured["likes"].astype(float) + matured["comments"].astype(float).fillna(0)
               + matured["shares"].astype(float).fillna(0))
        fol = matured["followers_at_post_time"].astype(float)
        rate = (eng / fol)[fol > 0]
        base_ll = fb.platform_mean_log_likes.get(p["platform"], fb.global_mean_log_likes)
        base_rate = fb.platform_mean_engagement_rate.get(p["platform"],
                                                         fb.global_mean_engagement_rate)
        all_ll = ll.mean() if len(ll) else base_ll
        all_rate = rate.mean() if len(rate) else base_rate
        row = {"prev_posts_count": len(earlier), "account_matured_posts": len(matured),
               "posts_per_30d": _posts_per_30d(earlier["posted_at"], t),
               "account_mean_log_likes_all": all_ll,
               "account_mean_engagement_rate_all": all_rate,
               "history_missing": float(len(matured) == 0)}
        kinds = matured["post_kind"] if "post_kind" in matured else pd.Series(dtype=object)
        for kind in ("reply", "quote", "share"):
            row[f"account_{kind}_frac_all"] = (float((kinds == kind).sum()) / len(matured)
                                               if len(matured) else 0.0)
        for w in (7, 30):
            inside = matured["posted_at"] > t - pd.Timedelta(days=w)
            row[f"roll_{w}d_matured_posts"] = inside.sum()
            row[f"roll_{w}d_mean_log_likes"] = ll[inside].mean() if inside.any() else all_ll
            r_in = rate[inside.reindex(rate.index)]
            row[f"roll_{w}d_mean_engagement_rate"] = r_in.mean() if len(r_in) else all_rate
        if len(earlier):
            last = earlier.sort_values(["posted_at", "followers_at_post_time"]).iloc[-1]
            row["hours_since_prev_post"] = (t - last["posted_at"]) / H
            g = np.log1p(float(p["followers_at_post_time"])) - np.log1p(
                float(last["followers_at_post_time"]))
            row["follower_growth_since_prev"] = g
        else:
            row["hours_since_prev_post"] = fb.hours_since_prev_post
            row["follower_growth_since_prev"] = 0.0
        rows.append(row)
    return pd.DataFrame(rows, index=posts.index)[list(HISTORY_COLUMNS)].astype(float)


def _random_posts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "post_id": [f"x{i}" for i in range(n)],
        "platform": rng.choice(["instagram", "twitter", "linkedin"], n),
        "account_id": rng.choice(["a", "b", "c", "d"], n),
        # Whole hours over 45 days: exact ties and exact 48 h / 7 d / 30 d gaps do occur.
        "posted_at": T0 + pd.to_timedelta(rng.integers(0, 45 * 24, n), unit="h"),
        "likes": pd.array(rng.integers(0, 5000, n), dtype="Int64"),
        "comments": pd.array(rng.integers(0, 50, n), dtype="Int64"),
        "shares": pd.array(rng.integers(0, 50, n), dtype="Int64"),
        "followers_at_post_time": pd.array(rng.integers(0, 10_000, n), dtype="Int64"),
        "post_kind": pd.array(rng.choice([*schema.POST_KINDS, None], n), dtype="string"),
    })
    frame.loc[rng.random(n) < 0.1, "comments"] = pd.NA
    frame.loc[rng.random(n) < 0.1, "shares"] = pd.NA
    frame.loc[rng.random(n) < 0.05, "likes"] = pd.NA
    return frame


@pytest.mark.parametrize("maturity_hours", [0.0, 48.0, 24 * 10])
def test_matches_a_literal_per_post_loop(maturity_hours):
    posts = _random_posts(250, seed=3)
    fb = HistoryFallback.from_posts(posts)
    got = account_history_features(posts, maturity_hours=maturity_hours, fallback=fb)
    pd.testing.assert_frame_equal(got, _reference(posts, maturity_hours, fb),
                                  rtol=1e-9, atol=1e-12)


def test_output_is_aligned_float_and_never_nan():
    posts = _random_posts(200, seed=5).set_index(pd.Index(range(1000, 1200)))
    out = account_history_features(posts, maturity_hours=48.0)
    assert list(out.columns) == list(HISTORY_COLUMNS)
    assert out.index.equals(posts.index)
    assert all(dtype == np.float64 for dtype in out.dtypes)
    assert not out.isna().any().any()


def test_a_posts_own_likes_never_affect_its_features():
    posts = _random_posts(300, seed=7)
    base = account_history_features(posts, maturity_hours=0.0)
    for row in (0, 57, 299):
        changed = posts.copy()
        changed.loc[row, ["likes", "comments", "shares"]] = [10**7, 10**5, 10**5]
        again = account_history_features(changed, maturity_hours=0.0,
                                          fallback=HistoryFallback.from_posts(posts))
        pd.testing.assert_series_equal(again.loc[row], base.loc[row], check_exact=True)


def test_a_ten_minute_old_post_counts_as_a_post_but_not_as_an_outcome():
    posts = _posts(("a", T0 - 3 * D, 100, 1000), ("a", T0 - pd.Timedelta(minutes=10), 10**6, 1000),
                   ("a", T0, 5, 1000))
    row = account_history_features(posts, maturity_hours=48.0).iloc[2]
    assert row["prev_posts_count"] == 2
    assert row["hours_since_prev_post"] == pytest.approx(10 / 60)
    assert row["account_matured_posts"] == 1 and row["roll_7d_matured_posts"] == 1
    assert row["roll_7d_mean_log_likes"] == pytest.approx(np.log1p(100))
    assert row["account_mean_log_likes_all"] == pytest.approx(np.log1p(100))
    assert row["roll_30d_mean_engagement_rate"] == pytest.approx(0.1)


def test_the_maturity_boundary_is_inclusive():
    exactly = _posts(("a", T0 - 48 * H, 100, 1000), ("a", T0, 5, 1000))
    just_short = _posts(("a", T0 - 48 * H + pd.Timedelta(seconds=1), 100, 1000), ("a", T0, 5, 1000))
    matured = account_history_features(exactly, maturity_hours=48.0).iloc[1]
    assert matured["account_matured_posts"] == 1
    row = account_history_features(just_short, maturity_hours=48.0).iloc[1]
    assert row["account_matured_posts"] == 0 and row["history_missing"] == 1
    assert row["prev_posts_count"] == 1


def test_zero_maturity_still_excludes_the_post_itself_and_same_instant_posts():
    posts = _posts(("a", T0 - H, 100, 1000), ("a", T0, 10**6, 1000), ("a", T0, 10**6, 1000))
    out = account_history_features(posts, maturity_hours=0)
    assert list(out["account_matured_posts"]) == [0, 1, 1]
    assert list(out["prev_posts_count"]) == [0, 1, 1]
    assert out["roll_7d_mean_log_likes"].iloc[1:].tolist() == [np.log1p(100)] * 2


def test_rolling_window_boundaries():
    posts = _posts(("a", T0 - 31 * D, 1, 1000), ("a", T0 - 8 * D, 100, 1000),
                   ("a", T0 - 7 * D, 10_000, 1000), ("a", T0 - 3 * D, 10, 1000),
                   ("a", T0, 5, 1000))
    row = account_history_features(posts, maturity_hours=48.0).iloc[-1]
    # 7-day window (T0 - 7 d, T0 - 48 h]: its start is exclusive, so only the 3-day-old post.
    assert row["roll_7d_matured_posts"] == 1
    assert row["roll_7d_mean_log_likes"] == pytest.approx(np.log1p(10))
    # 30-day window: the 8-day and 7-day-old posts are in, the 31-day-old one is not.
    assert row["roll_30d_matured_posts"] == 3
    assert row["roll_30d_mean_log_likes"] == pytest.approx(np.log1p([100, 10_000, 10]).mean())
    assert row["account_matured_posts"] == 4


def test_an_empty_window_falls_back_to_the_accounts_all_time_mean():
    posts = _posts(("a", T0 - 40 * D, 100, 1000), ("a", T0 - 20 * D, 300, 1000), ("a", T0, 5, 1000))
    row = account_history_features(posts, maturity_hours=48.0).iloc[-1]
    all_time = np.log1p([100, 300]).mean()
    assert row["roll_7d_matured_posts"] == 0 and row["history_missing"] == 0
    assert row["roll_7d_mean_log_likes"] == pytest.approx(all_time)
    assert row["roll_30d_mean_log_likes"] == pytest.approx(np.log1p(300))
    assert row["roll_7d_mean_engagement_rate"] == pytest.approx((0.1 + 0.3) / 2)


def test_shuffling_the_rows_gives_identical_output():
    posts = _random_posts(500, seed=11)
    base = account_history_features(posts, maturity_hours=48.0)
    shuffled = posts.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(
        account_history_features(shuffled, maturity_hours=48.0).loc[posts.index], base,
        check_exact=True)


def test_other_accounts_posts_do_not_change_an_accounts_features():
    posts = _random_posts(400, seed=13)
    only_a = posts[posts["account_id"] == "a"]
    fb = HistoryFallback.from_posts(posts)
    alone = account_history_features(only_a, maturity_hours=48.0, fallback=fb)
    together = account_history_features(posts, maturity_hours=48.0, fallback=fb).loc[only_a.index]
    pd.testing.assert_frame_equal(together, alone, check_exact=True)


def test_engagement_rate_uses_the_counts_reported_and_skips_zero_followers():
    posts = _posts(("a", T0 - 5 * D, 100, 1000, 20, None),   # shares not reported
                   ("a", T0 - 4 * D, 100, 0, 0, 0),          # no followers: no rate
                   ("a", T0 - 3 * D, None, 1000),            # no likes: no outcome
                   ("a", T0, 5, 1000))
    row = account_history_features(posts, maturity_hours=48.0).iloc[-1]
    assert row["account_matured_posts"] == 2 and row["prev_posts_count"] == 3
    assert row["account_mean_engagement_rate_all"] == pytest.approx(0.12)
    assert row["account_mean_log_likes_all"] == pytest.approx(np.log1p(100))


def test_follower_growth_sign_and_value():
    posts = _posts(("up", T0 - D, 1, 999), ("up", T0, 1, 1999),
                   ("down", T0 - D, 1, 1999), ("down", T0, 1, 999),
                   ("first", T0, 1, 500))
    growth = account_history_features(posts, maturity_hours=48.0)["follower_growth_since_prev"]
    assert growth.iloc[1] == pytest.approx(np.log(2))
    assert growth.iloc[3] == pytest.approx(-np.log(2))
    assert growth.iloc[0] == growth.iloc[2] == growth.iloc[4] == 0


def test_unseen_accounts_get_the_documented_fallback():
    train = _posts(("a", T0 - 9 * D, 99, 1000, 1, 0, "instagram"),
                   ("a", T0 - 8 * D, 999, 1000, 1, 0, "instagram"),
                   ("b", T0 - 9 * D, 9, 100, 1, 0, "twitter"))
    model = AccountHistory(maturity_hours=48.0).fit(train)
    new = _posts(("new", T0, 1, 10, 0, 0, "instagram"), ("new2", T0, 1, 10, 0, 0, "facebook"))
    out = model.transform(new)
    fb = model.fallback_
    assert fb.platform_mean_log_likes["instagram"] == pytest.approx(np.log1p([99, 999]).mean())
    assert fb.global_mean_log_likes == pytest.approx(np.log1p([99, 999, 9]).mean())
    assert fb.hours_since_prev_post == pytest.approx(24.0)
    assert out["history_missing"].tolist() == [1, 1]
    for col in ("account_mean_log_likes_all", "roll_7d_mean_log_likes", "roll_30d_mean_log_likes"):
        assert out[col].tolist() == pytest.approx([np.log1p([99, 999]).mean(),
                                                   fb.global_mean_log_likes])
    assert out["roll_7d_mean_engagement_rate"].tolist() == pytest.approx([0.55, 0.4])
    assert out["hours_since_prev_post"].tolist() == [24.0, 24.0]
    assert out["prev_posts_count"].tolist() == [0, 0]
    assert not out.isna().any().any()


def test_kind_fractions_count_the_matured_outcomes_of_each_kind():
    posts = _posts(("a", T0 - 9 * D, 10, 1000), ("a", T0 - 8 * D, 20, 1000),
                   ("a", T0 - 7 * D, 30, 1000), ("a", T0 - 6 * D, None, 1000),
                   ("a", T0 - 5 * D, 40, 1000), ("a", T0 - H, 50, 1000), ("a", T0, 1, 1000))
    posts["post_kind"] = pd.array(["reply", "reply", None, "share", "original", "quote",
                                   "original"], dtype="string")
    row = account_history_features(posts, maturity_hours=48.0).iloc[-1]
    # matured outcomes: 4 (the null-likes share is no outcome; the hour-old quote is young);
    # the post of unknown kind counts in the denominator as none of the kinds
    assert row["account_matured_posts"] == 4
    assert (row["account_reply_frac_all"], row["account_quote_frac_all"],
            row["account_share_frac_all"]) == (0.5, 0.0, 0.0)
    first = account_history_features(posts, maturity_hours=48.0).iloc[0]
    assert first[[f"account_{k}_frac_all" for k in ("reply", "quote", "share")]].tolist() \
        == [0.0, 0.0, 0.0]


def test_a_history_fitted_before_kinds_were_read_says_no_kind():
    """A model registered before schema 1.1 holds a history without kinds: its posts count
    as outcomes of no kind, and fresh outcomes with kinds add theirs."""
    train = _posts(("a", T0 - 9 * D, 10, 1000), ("a", T0 - 8 * D, 20, 1000))
    model = AccountHistory(maturity_hours=48.0).fit(train)
    model.history_ = model.history_.drop(columns="kind")
    fresh = _posts(("a", T0 - 7 * D, 30, 1000)).assign(post_id="fresh",
                                                       post_kind="reply")
    query = _posts(("a", T0, 1, 1000)).assign(post_id="q", post_kind="original")
    assert model.transform(query)["account_reply_frac_all"].iloc[0] == 0.0
    row = model.transform(query, outcomes=fresh).iloc[0]
    assert row["account_matured_posts"] == 3 and row["account_reply_frac_all"] == 1 / 3


def test_no_history_at_all_still_gives_numbers():
    out = account_history_features(_posts(("a", T0, None, None)), maturity_hours=48.0)
    assert not out.isna().any().any() and out["history_missing"].iloc[0] == 1


def test_transform_uses_only_the_fitted_history_as_outcomes():
    train = _posts(("a", T0 - 20 * D, 100, 1000), ("a", T0 - 10 * D, 100, 1000))
    model = AccountHistory(maturity_hours=48.0).fit(train)
    later = _posts(("a", T0, 10**6, 2000), ("a", T0 + 5 * D, 7, 4000)).assign(
        post_id=["n0", "n1"])
    out = model.transform(later)
    # The batch's first post is 5 days old at the second one, matured, but its likes are not
    # a known outcome at serving time; it does count as a post, with its followers.
    second = out.iloc[1]
    assert second["account_matured_posts"] == 2
    assert second["account_mean_log_likes_all"] == pytest.approx(np.log1p(100))
    assert second["prev_posts_count"] == 3
    assert second["hours_since_prev_post"] == pytest.approx(5 * 24)
    assert second["follower_growth_since_prev"] == pytest.approx(np.log1p(4000) - np.log1p(2000))
    relabelled = later.assign(likes=pd.array([1, None], dtype="Int64"))
    pd.testing.assert_frame_equal(model.transform(relabelled), out, check_exact=True)
    assert out.iloc[0]["roll_7d_matured_posts"] == 0 and out.iloc[0]["roll_30d_matured_posts"] == 2


def test_fit_then_transform_on_the_same_posts_equals_the_function():
    posts = _random_posts(300, seed=17)
    model = AccountHistory(maturity_hours=24.0).fit(posts)
    direct = account_history_features(posts, maturity_hours=24.0, fallback=model.fallback_)
    pd.testing.assert_frame_equal(model.transform(posts), direct, check_exact=True)
    pd.testing.assert_frame_equal(clone(model).fit_transform(posts), direct, check_exact=True)
    assert list(model.get_feature_names_out()) == list(HISTORY_COLUMNS)


def test_history_argument_adds_earlier_outcomes_once():
    history = _posts(("a", T0 - 10 * D, 100, 1000), ("a", T0 - 5 * D, 300, 1000))
    period = pd.concat([history.iloc[[1]], _posts(("a", T0, 5, 1000))], ignore_index=True)
    period.loc[1, "post_id"] = "new"
    out = account_history_features(period, maturity_hours=48.0, history=history)
    assert out.iloc[1]["account_matured_posts"] == 2 and out.iloc[1]["prev_posts_count"] == 2
    assert out.iloc[0]["account_matured_posts"] == 1


def test_transform_before_fit_raises():
    with pytest.raises(NotFittedError):
        AccountHistory(maturity_hours=48.0).transform(_posts(("a", T0, 1, 1)))


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), True, "48"])
def test_bad_maturity_hours_is_named(bad):
    with pytest.raises(ValueError, match=r"account_history_features: 'maturity_hours' must be a "
                                         r"number >= 0; got "):
        account_history_features(_posts(("a", T0, 1, 1)), maturity_hours=bad)


def test_maturity_message_shows_the_value():
    with pytest.raises(ValueError) as err:
        account_history_features(_posts(("a", T0, 1, 1)), maturity_hours=-1)
    assert str(err.value) == (
        "account_history_features: 'maturity_hours' must be a number >= 0; got -1.")
    with pytest.raises(ValueError, match=r"AccountHistory: 'maturity_hours' .* got -2"):
        AccountHistory(maturity_hours=-2).fit(_posts(("a", T0, 1, 1)))


def test_missing_columns_and_null_keys_are_named():
    posts = _posts(("a", T0, 1, 1))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['followers_at_post_time'\]"):
        account_history_features(posts.drop(columns=["followers_at_post_time"]),
                                 maturity_hours=48.0)
    with pytest.raises(ValueError, match=r"AccountHistory.fit: .*\['likes'\]"):
        AccountHistory(maturity_hours=48.0).fit(posts.drop(columns=["likes"]))
    with pytest.raises(ValueError, match="'account_id' and 'posted_at' must be non-null"):
        account_history_features(posts.assign(account_id=None), maturity_hours=48.0)
    with pytest.raises(ValueError, match="'history' must be a pandas DataFrame"):
        account_history_features(posts, maturity_hours=48.0, history=[1, 2])


def test_interaction_codes_indicators_and_harmonics():
    posts = pd.DataFrame({
        "platform": ["twitter", "instagram", "tiktok"],
        "content_type": ["video", "carousel", "image"],
        "posted_at": pd.to_datetime(["2026-03-01T06:30Z", "2026-03-01T18:00Z",
                                     "2026-03-01T00:00Z"]),
    }, index=[5, 6, 7])
    out = interaction_features(posts)
    assert list(out.columns) == list(INTERACTION_COLUMNS) and out.index.equals(posts.index)
    tw, ig = schema.PLATFORMS.index("twitter"), schema.PLATFORMS.index("instagram")
    video, carousel = schema.CONTENT_TYPES.index("video"), schema.CONTENT_TYPES.index("carousel")
    assert out["platform_content_code"].tolist() == [tw * 5 + video, ig * 5 + carousel, -1]
    assert out["platform_hour_code"].tolist() == [tw * 24 + 6, ig * 24 + 18, -1]
    pc = [c for c in out.columns if c.startswith("pc_")]
    assert out.loc[5, pc].sum() == 1 and out.loc[5, "pc_twitter_video"] == 1
    assert out.loc[7, pc].sum() == 0
    assert out.loc[5, "hour_sin1_twitter"] == pytest.approx(1.0)
    assert out.loc[5, "hour_cos2_twitter"] == pytest.approx(-1.0)
    assert out.loc[5, "hour_sin1_instagram"] == 0
    assert out.loc[6, "hour_sin1_instagram"] == pytest.approx(-1.0)
    assert (out.loc[7, [c for c in out.columns if c.startswith("hour_")]] == 0).all()
    assert not out.isna().any().any()


def test_interaction_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"interaction_features: .*\['content_type'\]"):
        interaction_features(pd.DataFrame({"platform": ["x"], "posted_at": [T0]}))


def test_posts_per_30d_reads_a_young_accounts_count_over_the_days_it_was_seen():
    """An account first seen 3 days ago with 30 posts since posts ~300 a month; one seen
    for 60 days counts only its last 30; a first post has no known rate (0)."""
    young = [("young", T0 + i * 0.1 * D, 10, 1000) for i in range(30)]   # 30 posts in 3 days
    old = [("old", T0 + i * D, 10, 1000) for i in range(60)]             # one a day, 60 days
    queries = [("young", T0 + 3 * D, None, 1000), ("old", T0 + 60 * D, None, 1000)]
    frame = _posts(*young, *old, *queries)
    out = account_history_features(frame, maturity_hours=48)["posts_per_30d"].tolist()
    assert out[-2] == pytest.approx(30 * 30 / 3)
    assert out[-1] == pytest.approx(29.0)   # days 31..59 lie in (t - 30 d, t)
    assert out[0] == 0.0 and out[30] == 0.0  # each account's first post
