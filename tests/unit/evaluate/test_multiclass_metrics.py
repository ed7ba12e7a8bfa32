"""Multiclass metrics against scikit-learn, the gate's multiclass metrics against the
offline ones, and bad inputs named."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score

from pipelines.evaluate.gate_metrics import QuantityTable, check_inputs
from pipelines.evaluate.multiclass_metrics import (
    expected_calibration_error,
    majority_baseline,
    multiclass_metrics,
    prior_baseline,
)
from pipelines.evaluate.promotion_gate import paired_bootstrap

CLASSES = ("negative", "neutral", "positive")


def sample(n=300, seed=0):
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 3, n)
    p = rng.dirichlet([1, 1, 1], n)
    p[np.arange(n), actual] += rng.random(n)          # informative, imperfect
    return actual, p / p.sum(axis=1, keepdims=True)


def test_metrics_match_scikit_learn():
    actual, p = sample()
    m = multiclass_metrics(actual, p, classes=CLASSES)
    decided = p.argmax(axis=1)
    assert m["multiclass_log_loss"] == pytest.approx(log_loss(actual, p))
    assert m["macro_f1"] == pytest.approx(f1_score(actual, decided, average="macro"))
    assert m["accuracy"] == pytest.approx(accuracy_score(actual, decided))
    recalls = recall_score(actual, decided, average=None)
    assert [m[f"recall_{c}"] for c in CLASSES] == pytest.approx(recalls.tolist())
    assert sum(m[f"share_{c}"] for c in CLASSES) == pytest.approx(1.0)


def test_the_gate_computes_the_same_numbers_as_the_offline_metrics():
    actual, p = sample(seed=1)
    metrics = ("multiclass_log_loss", "macro_f1", "accuracy")
    arrays = check_inputs("t", metrics, actual, {"m": p})
    table = QuantityTable(arrays["actual"], {"m": arrays["m"]},
                          {"half": np.arange(len(actual)) % 2 == 0},
                          [(s, "m", k) for s in ("", "half") for k in metrics])
    sums = table.table().sum(axis=0)
    offline = multiclass_metrics(actual, p, classes=CLASSES)
    half = multiclass_metrics(actual[::2], p[::2], classes=CLASSES)
    for metric in metrics:
        assert table.metric(sums, metric, "m", "") == pytest.approx(offline[metric])
        assert table.metric(sums, metric, "m", "half") == pytest.approx(half[metric])


def test_the_bootstrap_sees_a_better_multiclass_model():
    actual, good = sample(n=400, seed=2)
    prior = prior_baseline(actual, len(actual), 3)
    out = paired_bootstrap(actual, prior, good, metrics=("multiclass_log_loss", "macro_f1"),
                           resamples=300, confidence=0.95, seed=0)["overall"]
    assert out["multiclass_log_loss"]["ci_low"] > 0       # lower loss than the prior
    assert out["macro_f1"]["ci_low"] > 0                  # higher macro-F1


def test_baselines_and_calibration():
    train = np.array([0, 0, 0, 1, 2])
    prior = prior_baseline(train, 4, 3)
    assert prior.shape == (4, 3) and prior[0].tolist() == pytest.approx([4 / 8, 2 / 8, 2 / 8])
    assert majority_baseline(train, 2, 3).tolist() == [[1, 0, 0], [1, 0, 0]]
    # a confident model that is always right is calibrated; a hesitant one is not
    right = np.eye(3)[[0, 1, 2, 0]]
    assert expected_calibration_error(np.array([0, 1, 2, 0]), right, bins=10) == 0.0
    hesitant = np.full((4, 3), 1 / 3)
    hesitant[:, 0] += 0.01
    hesitant /= hesitant.sum(axis=1, keepdims=True)
    assert expected_calibration_error(np.zeros(4, int), hesitant, bins=10) > 0.6


@pytest.mark.parametrize(("actual", "p", "match"), [
    ([0, 3], [[0.5, 0.5, 0], [0.2, 0.3, 0.5]], "class indices 0 .. 2; got 3.0 at row 1"),
    ([0, 1], [[0.5, 0.6, 0], [0.2, 0.3, 0.5]], "row 0 is"),
    ([0, 1], [0.5, 0.5], r"shape \(n, classes >= 2\)"),
    ([0, 1.5], [[0.5, 0.5, 0], [0.2, 0.3, 0.5]], "got 1.5"),
])
def test_bad_inputs_are_named(actual, p, match):
    with pytest.raises(ValueError, match=match):
        multiclass_metrics(np.array(actual), np.array(p), classes=CLASSES)


def test_the_gate_refuses_bad_matrices_and_mixed_kinds():
    actual = np.array([0.0, 1.0, 2.0])
    good = np.full((3, 3), 1 / 3)
    with pytest.raises(ValueError, match="must be a \\(rows, classes\\) matrix with 3 rows"):
        check_inputs("g", ["macro_f1"], actual, {"c": good[:2]})
    with pytest.raises(ValueError, match="summing to 1"):
        check_inputs("g", ["multiclass_log_loss"], actual, {"c": good * 2})
    with pytest.raises(ValueError, match="class indices below 2"):
        check_inputs("g", ["accuracy"], actual, {"c": good[:, :2] * 1.5})
    with pytest.raises(ValueError, match="mix one-value-per-row and class-probability"):
        check_inputs("g", ["macro_f1", "mae"], actual, {"c": good})
