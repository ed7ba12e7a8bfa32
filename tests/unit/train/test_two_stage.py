import numpy as np
import pandas as pd
import pytest

from pipelines.collect.demo_data import generate_posts
from pipelines.features.post_features import build_post_features
from pipelines.train.two_stage import (
    MIN_CLASS_ROWS,
    TwoStageRegressor,
    class_thresholds,
    popularity_classes,
)

STAGES = {"classifier_params": {"n_estimators": 15}, "regressor_params": {"n_estimators": 15}}


def _model(routing="hard", min_class_rows=30, seed=0):
    return TwoStageRegressor(routing=routing, min_class_rows=min_class_rows, seed=seed, **STAGES)


@pytest.fixture(scope="module")
def split():
    posts = generate_posts(1500, accounts=30, seed=5)  # sorted by posted_at
    x = build_post_features(posts)
    y = posts["likes"].astype(float).to_numpy()
    return x.iloc[:1200], y[:1200], x.iloc[1200:], y[1200:]


@pytest.fixture(scope="module")
def hard_and_soft(split):
    x_train, y_train, _, _ = split
    return _model("hard").fit(x_train, y_train), _model("soft").fit(x_train, y_train)


def test_thresholds_are_the_75th_and_95th_percentiles():
    likes = np.arange(101.0)  # 0..100
    assert class_thresholds(likes) == (75.0, 95.0)
    assert class_thresholds(pd.Series([0, 0, 0, 10])) == pytest.approx((2.5, 8.5))


def test_a_count_on_a_threshold_belongs_to_the_class_below():
    classes = popularity_classes([0, 10, 10.5, 20, 20.5, 1e6], (10.0, 20.0))
    assert classes.tolist() == [0, 0, 1, 1, 2, 2]
    # Zero-inflated: the tied zeros stay in class 0 instead of flooding the upper classes.
    likes = np.array([0.0] * 96 + [5, 6, 7, 8])
    thresholds = class_thresholds(likes)
    assert thresholds == (0.0, 0.0)
    assert popularity_classes(likes, thresholds).tolist() == [0] * 96 + [2] * 4


@pytest.mark.parametrize("thresholds", [(20.0, 10.0), (1.0, float("nan")), (1.0,)])
def test_bad_thresholds(thresholds):
    with pytest.raises(ValueError, match="popularity_classes: 'thresholds' must be two finite"):
        popularity_classes([1.0], thresholds)


def test_empty_training_likes():
    with pytest.raises(ValueError, match="class_thresholds: 'train_likes' must be non-empty"):
        class_thresholds([])


def test_thresholds_come_from_the_training_targets_only(split, hard_and_soft):
    x_train, y_train, x_test, y_test = split
    hard, _ = hard_and_soft
    assert hard.thresholds_ == class_thresholds(y_train)
    assert hard.thresholds_ != class_thresholds(np.concatenate([y_train, y_test]))
    # Scoring other data, even wildly different data, leaves them where they are.
    hard.predict(x_test.assign(log_followers=x_test["log_followers"] + 5))
    assert hard.thresholds_ == class_thresholds(y_train)
    refit = _model("hard").fit(x_train, y_train)
    assert refit.thresholds_ == hard.thresholds_
    assert refit.class_counts_ == {
        k: int((popularity_classes(y_train, hard.thresholds_) == k).sum()) for k in (0, 1, 2)}


def test_probabilities_and_classes(split, hard_and_soft):
    _, _, x_test, _ = split
    hard, _ = hard_and_soft
    proba = hard.predict_proba(x_test)
    assert proba.shape == (len(x_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(hard.predict_class(x_test)) <= {0, 1, 2}
    np.testing.assert_array_equal(hard.predict_class(x_test), proba.argmax(axis=1))
    assert hard.classes_.tolist() == [0, 1, 2]


def test_hard_routing_uses_the_most_probable_class_regressor(split, hard_and_soft):
    _, _, x_test, _ = split
    hard, _ = hard_and_soft
    by_class = hard.predict_log_by_class(x_test)
    chosen = by_class[np.arange(len(x_test)), hard.predict_class(x_test)]
    np.testing.assert_allclose(hard.predict(x_test), np.expm1(np.clip(chosen, 0, None)))


def test_soft_blend_differs_from_hard_and_lies_between_the_class_regressors(
        split, hard_and_soft):
    _, _, x_test, _ = split
    hard, soft = hard_and_soft
    hard_pred, soft_pred = hard.predict(x_test), soft.predict(x_test)
    assert not np.allclose(hard_pred, soft_pred)
    # Same stages (same seed, same data): only the combination differs.
    np.testing.assert_array_equal(hard.predict_proba(x_test), soft.predict_proba(x_test))
    counts = np.expm1(np.clip(soft.predict_log_by_class(x_test), 0, None))
    assert (soft_pred >= counts.min(axis=1) * (1 - 1e-9)).all()
    assert (soft_pred <= counts.max(axis=1) * (1 + 1e-9)).all()
    # The blend is on the log scale: a probability-weighted geometric-type mean.
    log_blend = np.sum(soft.predict_proba(x_test) * soft.predict_log_by_class(x_test), axis=1)
    np.testing.assert_allclose(soft_pred, np.expm1(np.clip(log_blend, 0, None)))


def test_small_classes_fall_back_to_the_global_regressor(split):
    x_train, y_train, _, _ = split
    counts = np.bincount(popularity_classes(y_train, class_thresholds(y_train)), minlength=3)
    assert counts[2] < MIN_CLASS_ROWS <= counts[1]  # 5 % of 1,200 rows is ~60
    model = TwoStageRegressor(**STAGES).fit(x_train, y_train)  # default min_class_rows
    assert model.fallback_classes_ == [2]
    assert model.regressors_[2] is not model.regressors_[0]
    assert model.regressors_[2] is not model.regressors_[1]
    # The fallback regressor was fitted on every row: its predictions span the classes.
    global_pred = model.regressors_[2].predict(x_train)
    assert global_pred.min() < np.log1p(model.thresholds_[0]) < global_pred.max()
    specialists = _model(min_class_rows=counts[2]).fit(x_train, y_train)
    assert specialists.fallback_classes_ == []
    assert len({id(r) for r in specialists.regressors_.values()}) == 3


def test_a_class_absent_from_training_gets_probability_zero():
    rng = np.random.default_rng(0)
    # p75 == p95 == 5: nothing lies strictly between them, so class 1 is empty.
    y = np.array([0.0] * 70 + [5.0] * 27 + [100.0, 120.0, 150.0])
    x = pd.DataFrame({"log_followers": np.log1p(y) + rng.normal(0, 0.1, 100),
                      "noise": rng.normal(size=100)})
    model = _model(min_class_rows=5).fit(x, y)
    assert model.class_counts_ == {0: 97, 1: 0, 2: 3}
    assert model.present_classes_.tolist() == [0, 2]
    proba = model.predict_proba(x)
    assert (proba[:, 1] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(model.predict_class(x)) <= {0, 2}
    assert model.fallback_classes_ == [1, 2]


def test_single_class_is_an_error():
    x = pd.DataFrame({"a": np.arange(10.0)})
    with pytest.raises(ValueError, match="single popularity class"):
        _model().fit(x, np.full(10, 3.0))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"routing": "mean"}, r"'routing' must be one of \['hard', 'soft'\]; got 'mean'"),
    ({"min_class_rows": 0}, "'min_class_rows' must be an int >= 1; got 0"),
    ({"regressor_params": {"depth": 2}}, r"unknown XGBRegressor parameter\(s\) \['depth'\]"),
])
def test_bad_arguments(kwargs, match):
    x = pd.DataFrame({"a": np.arange(10.0)})
    with pytest.raises(ValueError, match=match):
        TwoStageRegressor(**kwargs).fit(x, np.arange(10.0))


def test_negative_or_missing_targets():
    x = pd.DataFrame({"a": np.arange(3.0)})
    with pytest.raises(ValueError, match="1 missing, 1 negative"):
        _model().fit(x, np.array([1.0, np.nan, -1.0]))


def test_unfitted_model_refuses_to_predict():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _model().predict(pd.DataFrame({"a": [1.0]}))
