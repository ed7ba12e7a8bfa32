import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from pipelines.collect.demo_data import generate_posts
from pipelines.features.post_features import FEATURE_COLUMNS, build_post_features
from pipelines.train.model_zoo import (
    MODEL_NAMES,
    MONOTONE_MODELS,
    TREE_MODELS,
    coefficient_importance,
    default_hyperparameters,
    feature_importance,
    make_model,
)
from tests.conftest import SCALE

# The tiny MLP stops at max_iter before converging; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FEATURES = list(FEATURE_COLUMNS)
# Small models: the point is the contract, not the fit.
FAST = {
    "ridge": {},
    "random_forest": {"n_estimators": 8},
    "xgboost": {"n_estimators": 30},
    "lightgbm": {"n_estimators": 30},
    "hist_gradient_boosting": {"max_iter": 30},
    "mlp": {"max_iter": 60, "hidden_layer_sizes": (16,), "learning_rate_init": 0.01},
    "two_stage_hard": {"classifier_params": {"n_estimators": 15},
                       "regressor_params": {"n_estimators": 15}, "min_class_rows": 30},
    "two_stage_soft": {"classifier_params": {"n_estimators": 15},
                       "regressor_params": {"n_estimators": 15}, "min_class_rows": 30},
}


@pytest.fixture(scope="module")
def data():
    posts = generate_posts(1200, accounts=30, seed=11)
    return build_post_features(posts), posts["likes"].astype(float).to_numpy()


@pytest.fixture(scope="module")
def fitted(data):
    x, y = data
    return {name: make_model(name, FAST[name], 0, FEATURES, scale=SCALE).fit(x, y)
            for name in MODEL_NAMES}


def test_model_names_cover_the_issue():
    assert set(MODEL_NAMES) == {"ridge", "random_forest", "xgboost", "lightgbm",
                                "hist_gradient_boosting", "mlp", "two_stage_hard",
                                "two_stage_soft"}
    assert set(TREE_MODELS) == set(MODEL_NAMES) - {"ridge", "mlp"}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predicts_nonnegative_counts_deterministically(name, data, fitted):
    x, y = data
    first = fitted[name].predict(x.tail(200))
    assert first.shape == (200,) and np.isfinite(first).all() and (first >= 0).all()
    # On the count scale: the median prediction is in the range of the median like.
    assert 0.1 * np.median(y) < np.median(first) < 10 * np.median(y)
    again = make_model(name, FAST[name], 0, FEATURES, scale=SCALE).fit(x, y).predict(x.tail(200))
    # The forest's trees are identical, but its two prediction threads add the trees up in
    # either order: equal to the last bits only.
    np.testing.assert_allclose(first, again, rtol=1e-12 if name == "random_forest" else 0)


@pytest.mark.parametrize("name", ["random_forest", "xgboost", "mlp", "two_stage_soft"])
def test_the_seed_matters(name, data, fitted):
    x, y = data
    other = make_model(name, FAST[name], 1, FEATURES, scale=SCALE).fit(x, y).predict(x.tail(200))
    assert not np.array_equal(fitted[name].predict(x.tail(200)), other)


@pytest.mark.parametrize("name", MONOTONE_MODELS)
def test_more_followers_never_predicts_fewer_likes(name, data, fitted):
    x, _ = data
    rows = x.sample(60, random_state=0)
    grid = np.linspace(x["log_followers"].min() - 1, x["log_followers"].max() + 1, 15)
    predictions = np.column_stack(
        [fitted[name].predict(rows.assign(log_followers=value)) for value in grid])
    assert (np.diff(predictions, axis=1) >= 0).all()
    assert (predictions[:, -1] > predictions[:, 0]).all()  # and followers do matter


def test_monotone_constraint_sits_on_log_followers_only_when_present():
    position = FEATURES.index("log_followers")
    lgbm = default_hyperparameters("lightgbm", 0, FEATURES)["monotone_constraints"]
    assert lgbm[position] == 1 and sum(lgbm) == 1 and len(lgbm) == len(FEATURES)
    hgb = default_hyperparameters("hist_gradient_boosting", 0, FEATURES)["monotonic_cst"]
    assert hgb == lgbm
    xgb = default_hyperparameters("xgboost", 0, FEATURES)["monotone_constraints"]
    assert xgb == "(" + ",".join(map(str, lgbm)) + ")"
    two_stage = default_hyperparameters("two_stage_soft", 0, FEATURES)["regressor_params"]
    assert two_stage["monotone_constraints"] == xgb
    without = [c for c in FEATURES if c != "log_followers"]
    for name in MONOTONE_MODELS:
        params = default_hyperparameters(name, 0, without)
        assert "monotone_constraints" not in params and "monotonic_cst" not in params


def test_hyperparameters_override_defaults_key_by_key():
    model = make_model("lightgbm", {"n_estimators": 7}, 3, FEATURES, scale=SCALE)
    params = model.regressor.regressor.get_params()
    assert params["n_estimators"] == 7 and params["learning_rate"] == 0.05
    assert params["random_state"] == 3 and params["deterministic"] is True
    forest = make_model("random_forest", {}, 3, FEATURES, scale=SCALE).regressor.regressor
    assert forest.max_rows_per_tree == 50_000
    assert (forest.estimator.n_estimators, forest.estimator.max_depth,
            forest.estimator.min_samples_leaf, forest.estimator.max_samples,
            forest.estimator.n_jobs) == (100, 16, 5, 0.3, 2)
    two_stage = make_model("two_stage_hard", {"regressor_params": {"max_depth": 2}}, 3,
                           FEATURES, scale=SCALE)
    assert two_stage.regressor_params["max_depth"] == 2
    assert "monotone_constraints" in two_stage.regressor_params  # merged, not replaced
    assert two_stage.routing == "hard" and two_stage.seed == 3
    mlp = make_model("mlp", {"threads": 2}, 0, FEATURES, scale=SCALE).regressor.regressor
    assert mlp.threads == 2 and mlp.estimator.named_steps["mlp"].early_stopping is True


def test_forest_rows_per_tree_are_a_fraction_up_to_a_cap(data):
    x, y = data
    small = make_model("random_forest", {"n_estimators": 2}, 0, FEATURES, scale=SCALE).fit(x, y)
    assert small.regressor_.regressor_.estimator_.max_samples == 0.3  # 360 of 1,200 rows
    capped = make_model("random_forest", {"n_estimators": 2, "max_rows_per_tree": 100}, 0,
                        FEATURES, scale=SCALE).fit(x, y)
    assert capped.regressor_.regressor_.estimator_.max_samples == 100
    assert capped.regressor.regressor.estimator.max_samples == 0.3  # template untouched


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"unknown model 'catboost'; known: \['ridge'"):
        make_model("catboost", {}, 0, FEATURES, scale=SCALE)


@pytest.mark.parametrize(("name", "hyperparameters", "key"), [
    ("ridge", {"alphaa": 1.0}, "alphaa"),
    ("random_forest", {"n_trees": 5}, "n_trees"),
    ("lightgbm", {"num_leaf": 5}, "num_leaf"),
    ("hist_gradient_boosting", {"n_estimators": 5}, "n_estimators"),
    ("two_stage_soft", {"classifier": {}}, "classifier"),
])
def test_unknown_hyperparameter_names_model_key_and_allowed(name, hyperparameters, key):
    with pytest.raises(ValueError, match=rf"\['{key}'\] for model '{name}'; allowed: \["):
        make_model(name, hyperparameters, 0, FEATURES, scale=SCALE)


def test_unknown_stage_parameter_of_the_two_stage_model():
    with pytest.raises(ValueError, match=r"unknown XGBClassifier parameter\(s\) \['depth'\] "
                                         r"in 'classifier_params'; allowed: \["):
        make_model("two_stage_hard", {"classifier_params": {"depth": 3}}, 0, FEATURES, scale=SCALE)


def test_hyperparameters_must_be_a_dict():
    with pytest.raises(ValueError, match="'hyperparameters' for model 'ridge' must be a dict"):
        make_model("ridge", [("alpha", 1.0)], 0, FEATURES, scale=SCALE)


@pytest.mark.parametrize("name", TREE_MODELS)
def test_feature_importance_sums_to_one_over_the_features(name, fitted):
    from pipelines.train.scale_relative import augmented_names

    importance = feature_importance(fitted[name], FEATURES)
    expected = FEATURES if name.startswith("two_stage") else augmented_names(FEATURES)
    assert sorted(importance.index) == sorted(expected)
    assert importance.sum() == pytest.approx(1.0)
    assert (importance >= 0).all() and importance.is_monotonic_decreasing
    # In the demo data, followers drive likes most: directly for the two-stage model,
    # through the scale line (a clearly positive slope) for the scale-relative ones.
    if name.startswith("two_stage"):
        assert importance.index[0] == "log_followers"
    else:
        assert fitted[name].regressor_.lines_[""][1] > 0.3


@pytest.mark.parametrize("name", ["ridge", "mlp"])
def test_feature_importance_refuses_models_without_trees(name, fitted):
    with pytest.raises(TypeError, match="has no tree importances"):
        feature_importance(fitted[name], FEATURES)


def test_ridge_importance_is_its_standardized_coefficients_share(fitted):
    from pipelines.train.scale_relative import augmented_names

    importance = coefficient_importance(fitted["ridge"], FEATURES)
    assert sorted(importance.index) == sorted(augmented_names(FEATURES))
    assert importance.sum() == pytest.approx(1.0)
    assert (importance >= 0).all() and importance.is_monotonic_decreasing


def test_coefficient_importance_ranks_by_effect_per_standard_deviation_not_by_units():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    # "big" moves y by 2 per sd but is in units 1000x larger; "small" by 0.2 per sd
    x = pd.DataFrame({"small": rng.normal(0, 1, 500), "big": rng.normal(0, 1000, 500)})
    y = 0.2 * x["small"] + 2 * x["big"] / 1000 + rng.normal(0, 0.1, 500)
    model = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]).fit(x, y)
    importance = coefficient_importance(model, ["small", "big"])
    assert list(importance.index) == ["big", "small"]
    assert importance["big"] == pytest.approx(10 / 11, abs=0.02)


@pytest.mark.parametrize("name", ["lightgbm", "mlp"])
def test_coefficient_importance_refuses_models_that_are_not_linear(name, fitted):
    with pytest.raises(TypeError, match="is no standardized linear model"):
        coefficient_importance(fitted[name], FEATURES)


def test_feature_importance_checks_the_names(fitted):
    with pytest.raises(ValueError, match=f"has {len(FEATURES)} features; got 2 feature_names"):
        feature_importance(fitted["lightgbm"], ["a", "b"])


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "two_stage_soft"])
def test_models_survive_pickling_and_cloning(name, data, fitted):
    x, _ = data
    restored = pickle.loads(pickle.dumps(fitted[name]))
    np.testing.assert_array_equal(restored.predict(x.head(20)), fitted[name].predict(x.head(20)))
    assert clone(fitted[name]).get_params().keys() == fitted[name].get_params().keys()


def test_predictions_follow_row_content_not_position(data, fitted):
    x, _ = data
    rows = x.head(30)
    shuffled = rows.iloc[::-1]
    np.testing.assert_allclose(fitted["lightgbm"].predict(shuffled)[::-1],
                               fitted["lightgbm"].predict(rows))
    assert isinstance(rows, pd.DataFrame)


def test_log_count_predictions_are_clipped_to_the_supported_range():
    import pandas as pd

    from pipelines.train.model_zoo import make_model

    x = pd.DataFrame({"log_followers": np.arange(50, dtype=float)})
    y = np.expm1(x["log_followers"].to_numpy() / 10)  # counts up to e^4.9
    model = make_model("ridge", {}, 0, ["log_followers"], scale=SCALE).fit(x, y)
    far = pd.DataFrame({"log_followers": [1e6, -1e6]})  # wild extrapolation both ways
    predictions = model.predict(far)
    # the scale line extrapolates 1000x beyond the training range, then stays flat
    edge = pd.DataFrame({"log_followers": [49 + np.log(1000), 0 - np.log(1000)]})
    np.testing.assert_allclose(predictions, model.predict(edge))
    assert np.isfinite(predictions).all() and (predictions >= 0).all()
    assert predictions[0] > y.max() and predictions[1] < y.min() + 1
