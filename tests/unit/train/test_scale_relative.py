"""The scale-relative wrapper: a per-platform line in log-followers plus a residual model."""

import pickle

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from pipelines.train.scale_relative import OFFSET_COLUMN, ScaleRelative, augmented_names
from tests.conftest import SCALE


def _wrap(regressor, **overrides):
    """ScaleRelative with the ``train.scale_relative`` defaults, some overridden."""
    return ScaleRelative(regressor, **{**SCALE, **overrides})


def _frame(log_followers, platform_twitter, history, posts=0.0):
    return pd.DataFrame({"log_followers": log_followers,
                         "platform_instagram": 1 - platform_twitter,
                         "platform_twitter": platform_twitter,
                         "account_mean_log_likes_all": history,
                         "account_matured_posts": posts})


def _data(seed=0, n=600):
    rng = np.random.default_rng(seed)
    lf = rng.uniform(np.log(1e3), np.log(1e6), n)
    tw = rng.integers(0, 2, n)
    z = np.where(tw == 1, -4.0 + 0.8 * lf, -2.0 + 0.9 * lf) + rng.normal(0, 0.3, n)
    return _frame(lf, tw, z + rng.normal(0, 0.2, n)), z


def test_learns_each_platforms_line():
    x, z = _data()
    model = _wrap(DecisionTreeRegressor(max_depth=3, random_state=0)).fit(x, z)
    (a_ig, b_ig, _), (a_tw, b_tw, _) = model.lines_["platform_instagram"], \
        model.lines_["platform_twitter"]
    assert abs(b_ig - 0.9) < 0.05 and abs(b_tw - 0.8) < 0.05
    assert abs(a_ig + 2.0) < 0.6 and abs(a_tw + 4.0) < 0.6


def test_a_tree_extrapolates_through_the_offset():
    """A tree alone predicts a constant beyond its training range; with the offset, 10x
    more followers than any training account still adds b·ln(10) log-likes."""
    x, z = _data()
    model = _wrap(DecisionTreeRegressor(max_depth=4, random_state=0)).fit(x, z)
    far = _frame(np.log([1e7, 1e8]), np.zeros(2, dtype=int), np.full(2, 10.0))
    low, high = model.predict(far)
    assert high - low > 0.8 * np.log(10)


@settings(max_examples=25, deadline=None)
@given(slope=st.floats(-2.0, 3.0), max_slope=st.floats(0.0, 2.0))
def test_slopes_are_clipped_into_bounds(slope, max_slope):
    rng = np.random.default_rng(1)
    lf = rng.uniform(5, 15, 200)
    x = _frame(lf, np.zeros(200, dtype=int), lf)
    model = _wrap(LinearRegression(), max_slope=max_slope).fit(x, slope * lf)
    assert all(0.0 <= b <= max_slope + 1e-12 for _, b, _ in model.lines_.values())


def test_residual_predictions_are_bounded_by_the_headroom():
    x, z = _data()
    model = _wrap(LinearRegression(), headroom=10.0).fit(x, z)
    wild = x.head(5).assign(log_followers=1e3)  # no history: the anchor is the offset
    offset = model.offset(wild)
    assert (model.predict(wild) - offset <= model.residual_range_[1] + 1e-9).all()


def test_the_anchor_moves_from_the_scale_line_to_the_accounts_own_mean():
    x, z = _data()
    model = _wrap(LinearRegression(), prior_posts=5.0).fit(x, z)
    row = x.head(1)
    offset = model.offset(row)[0]
    anchors = [model.augment(row.assign(account_mean_log_likes_all=offset + 2.0,
                                        account_matured_posts=n).to_numpy(float))[0, -1]
               for n in (0, 5, 1000)]
    np.testing.assert_allclose(anchors, [offset, offset + 1.0, offset + 2.0], atol=0.01)


def test_residual_model_sees_the_offset_and_relative_history():
    x, z = _data()
    model = _wrap(LinearRegression()).fit(x, z)
    assert list(model.feature_names_out_) == augmented_names(list(x.columns))
    assert OFFSET_COLUMN in model.feature_names_out_
    assert list(model.feature_names_out_[-2:]) == ["scale_offset", "scale_anchor"]


def test_pickles_and_predicts_the_same():
    x, z = _data()
    model = _wrap(DecisionTreeRegressor(max_depth=3, random_state=0)).fit(x, z)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(x),
                                  model.predict(x))


def test_rows_without_history_get_the_cold_start_model():
    rng = np.random.default_rng(3)
    x, z = _data(n=800)
    missing = (rng.random(800) < 0.4).astype(float)
    x = x.assign(history_missing=missing)
    z = z + np.where(missing > 0.5, -1.0, 0.0)  # cold starts do worse than the line says
    model = _wrap(DecisionTreeRegressor(max_depth=3, random_state=0)).fit(x, z)
    assert model.cold_regressor_ is not None
    cold, warm = x[missing > 0.5], x[missing < 0.5]
    np.testing.assert_allclose(
        model.predict(cold), model.offset(cold) + np.clip(
            model.cold_regressor_.predict(pd.DataFrame(model.augment(cold.to_numpy(float)),
                                                       columns=model.feature_names_out_)),
            *model.residual_range_))
    assert abs(np.mean(model.predict(cold) - z[missing > 0.5])) < 0.2
    assert abs(np.mean(model.predict(warm) - z[missing < 0.5])) < 0.2
    few = _wrap(LinearRegression()).fit(x.head(100), z[:100])
    assert few.cold_regressor_ is None  # too few cold rows for a model of their own


def _posting_data(seed=0, accounts=200, posts=20, rate_effect=-0.7):
    """Accounts whose likes per post fall with how often they post (news wires)."""
    rng = np.random.default_rng(seed)
    lf = np.repeat(rng.uniform(np.log(1e3), np.log(1e8), accounts), posts)
    per_month = np.repeat(np.exp(rng.uniform(np.log(3), np.log(1500), accounts)), posts)
    z = -3.0 + 0.9 * lf + rate_effect * np.log1p(per_month) + rng.normal(0, 0.3, len(lf))
    x = _frame(lf, np.ones(len(lf), dtype=int), np.zeros(len(lf))).assign(
        posts_per_30d=per_month, prev_posts_count=50.0)
    return x, z


def test_learns_that_likes_per_post_fall_with_the_posting_rate():
    """Followers alone put a frequent poster far too high; the posting term does not."""
    x, z = _posting_data()
    model = _wrap(LinearRegression()).fit(x, z)
    _, b, c = model.lines_["platform_twitter"]
    assert abs(b - 0.9) < 0.05 and abs(c + 0.7) < 0.05
    wire = x.head(40).assign(posts_per_30d=1200.0)    # a new account posting 40 a day
    truth = -3.0 + 0.9 * wire["log_followers"] - 0.7 * np.log1p(1200.0)
    assert abs(np.mean(model.predict(wire) - truth)) < 0.25
    blind = _wrap(LinearRegression()).fit(x.drop(columns="posts_per_30d"), z)
    assert np.mean(blind.predict(wire.drop(columns="posts_per_30d")) - truth) > 1.0


def test_an_unknown_posting_rate_is_the_training_median_not_zero():
    x, z = _posting_data()
    model = _wrap(LinearRegression()).fit(x, z)
    first = x.head(1).assign(posts_per_30d=0.0, prev_posts_count=0.0)   # no known post
    median = x.head(1).assign(posts_per_30d=np.expm1(model.posting_fill_))
    np.testing.assert_allclose(model.offset(first), model.offset(median))
    assert model.posting_fill_ == np.median(np.log1p(x["posts_per_30d"]))


@settings(max_examples=25, deadline=None)
@given(effect=st.floats(-3.0, 3.0), max_slope=st.floats(0.0, 2.0))
def test_posting_slope_is_clipped_into_bounds(effect, max_slope):
    x, z = _posting_data(accounts=40, posts=5, rate_effect=effect)
    model = _wrap(LinearRegression(), max_slope=max_slope).fit(x, z)
    assert all(0.0 <= b <= max_slope + 1e-12 and -max_slope - 1e-12 <= c <= 0.0
               for _, b, c in model.lines_.values())
