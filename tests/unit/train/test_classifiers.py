import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from pipelines.train.classifiers import (
    CLASSIFIER_NAMES,
    TREE_CLASSIFIERS,
    ProbabilityClassifier,
    candidate_facts,
    default_hyperparameters,
    feature_importance,
    make_classifier,
)

FEATURES = ["signal", "noise", "step"]
# Small models: the point is the contract, not the fit.
FAST = {
    "logistic_regression": {},
    "lightgbm": {"n_estimators": 40},
    "xgboost": {"n_estimators": 40},
    "random_forest": {"n_estimators": 20},
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"signal": rng.normal(size=1500), "noise": rng.normal(size=1500),
                      "step": rng.integers(0, 3, size=1500).astype(float)})
    logit = -1.5 + 2.0 * x["signal"] + 0.5 * x["step"]
    y = (rng.random(1500) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="module")
def fitted(data):
    x, y = data
    return {name: make_classifier(name, FAST[name], 0, FEATURES).fit(x.iloc[:1000], y[:1000])
            for name in CLASSIFIER_NAMES}


def test_names():
    assert CLASSIFIER_NAMES == ("logistic_regression", "lightgbm", "xgboost", "random_forest")
    assert set(TREE_CLASSIFIERS) == set(CLASSIFIER_NAMES) - {"logistic_regression"}


@pytest.mark.parametrize("name", CLASSIFIER_NAMES)
def test_predict_is_the_probability_of_class_one(name, data, fitted):
    x, y = data
    model = fitted[name]
    p = model.predict(x.iloc[1000:])
    proba = model.predict_proba(x.iloc[1000:])
    assert p.dtype == float and p.shape == (500,)
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_array_equal(p, proba[:, 1])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == [0, 1]
    assert roc_auc_score(y[1000:], p) > 0.75  # it learned the signal


@pytest.mark.parametrize("name", CLASSIFIER_NAMES)
def test_deterministic_for_a_seed_and_picklable(name, data, fitted):
    x, y = data
    again = make_classifier(name, FAST[name], 0, FEATURES).fit(x.iloc[:1000], y[:1000])
    np.testing.assert_array_equal(again.predict(x), fitted[name].predict(x))
    restored = pickle.loads(pickle.dumps(fitted[name]))
    np.testing.assert_array_equal(restored.predict(x), fitted[name].predict(x))
    unfitted = clone(make_classifier(name, FAST[name], 0, FEATURES))
    assert unfitted.get_params()["feature_names"] == FEATURES


def test_a_dataframe_is_reduced_to_the_feature_columns_in_order(data, fitted):
    x, _ = data
    shuffled = x[["step", "signal", "noise"]].assign(extra="ignored")
    np.testing.assert_array_equal(fitted["lightgbm"].predict(shuffled),
                                  fitted["lightgbm"].predict(x))
    with pytest.raises(ValueError, match=r"'X' lacks feature column\(s\) \['noise'\]"):
        fitted["lightgbm"].predict(x.drop(columns="noise"))
    with pytest.raises(ValueError, match="'X' must have 3 columns"):
        fitted["lightgbm"].predict(np.zeros((2, 2)))


def test_score_is_the_brier_skill_score(data, fitted):
    x, y = data
    p = fitted["logistic_regression"].predict(x)
    expected = 1 - np.sum((p - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert fitted["logistic_regression"].score(x, y) == pytest.approx(expected)


@pytest.mark.parametrize("name", TREE_CLASSIFIERS)
def test_tree_importances_sum_to_one_and_find_the_signal(name, fitted):
    importance = feature_importance(fitted[name], FEATURES)
    assert importance.sum() == pytest.approx(1.0)
    assert importance.index[0] == "signal"


def test_no_importance_for_logistic_regression(fitted):
    with pytest.raises(TypeError, match="only the tree families"):
        feature_importance(fitted["logistic_regression"], FEATURES)


@pytest.mark.parametrize("name", CLASSIFIER_NAMES)
def test_candidate_facts_record_time_hyperparameters_and_the_importance_kind(name, fitted):
    facts = candidate_facts(name, fitted[name], FEATURES, seconds=1.23456,
                            overrides=FAST[name], seed=0)
    assert facts["fit_seconds"] == 1.235
    assert facts["hyperparameters"] == {**default_hyperparameters(name, 0), **FAST[name]}
    assert facts["importance_kind"] == ("gain" if name in TREE_CLASSIFIERS else "coefficient")
    assert max(facts["feature_importance"], key=facts["feature_importance"].get) == "signal"


def test_defaults_carry_the_seed_and_overrides_win():
    assert default_hyperparameters("xgboost", 9)["random_state"] == 9
    assert default_hyperparameters("xgboost", 9)["tree_method"] == "hist"
    model = make_classifier("random_forest", {"n_estimators": 7}, 4, FEATURES)
    rf = model.estimator
    assert rf.n_estimators == 7 and rf.random_state == 4 and rf.max_depth is not None


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "svm"}, "unknown model 'svm'; known:"),
    ({"hyperparameters": {"n_trees": 3}}, r"unknown hyperparameter\(s\) \['n_trees'\] for model "
                                          "'lightgbm'; allowed:"),
    ({"hyperparameters": [1]}, "'hyperparameters' for model 'lightgbm' must be a dict"),
    ({"seed": -1}, "'seed' must be an int >= 0; got -1"),
    ({"feature_names": []}, "'feature_names' must be non-empty and unique"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    args = {"name": "lightgbm", "hyperparameters": {}, "seed": 0, "feature_names": FEATURES,
            **kwargs}
    with pytest.raises(ValueError, match=f"make_classifier: {match}"):
        make_classifier(**args)


@pytest.mark.parametrize("y", [[0] * 10, [0, 1, 2] * 3 + [0]])
def test_fit_needs_both_outcomes_and_nothing_else(y):
    x = pd.DataFrame({"signal": range(10), "noise": range(10), "step": range(10)}, dtype=float)
    with pytest.raises(ValueError, match="ProbabilityClassifier.fit: 'y' must hold both"):
        make_classifier("logistic_regression", {}, 0, FEATURES).fit(x, y)


def test_wraps_any_classifier():
    from sklearn.dummy import DummyClassifier

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = ProbabilityClassifier(DummyClassifier(strategy="prior"), ["a"]).fit(x, [0, 0, 0, 1])
    assert model.predict(x).tolist() == [0.25] * 4
