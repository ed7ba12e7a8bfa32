"""The gate's metric catalog: each metric with unit weights equals its reference definition."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import (
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from pipelines.evaluate.gate_metrics import (
    CATALOG,
    COLUMNS,
    GATE_METRICS,
    LOG_LOSS_EPS,
    PRIMARY_METRICS,
    QuantityTable,
    check_inputs,
)


def point(actual, predicted, metric, weights=None):
    """``metric`` of ``predicted`` over all rows, as the gate computes it (one weighted sum)."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    table = QuantityTable(actual, {"model": predicted}, {}, [("", "model", metric)])
    weights = np.ones(actual.size) if weights is None else np.asarray(weights, dtype=float)
    return float(table.metric(weights @ table.table(), metric, "model", ""))


def _counts(seed, n=300):
    rng = np.random.default_rng(seed)
    actual = np.round(np.expm1(np.clip(rng.normal(3, 1.3, n), 0, None)))
    return actual, np.expm1(np.log1p(actual) + rng.normal(0, 0.6, n))


def _conversions(seed, n=300, decimals=None):
    rng = np.random.default_rng(seed)
    probability = 1 / (1 + np.exp(-rng.normal(-0.5, 1.5, n)))
    actual = (rng.random(n) < probability).astype(float)
    predicted = np.clip(probability + rng.normal(0, 0.15, n), 0, 1)
    return actual, predicted if decimals is None else np.round(predicted, decimals)


def test_the_catalog_names_losses_and_higher_is_better_metrics():
    assert GATE_METRICS == ("mae_log", "rmse_log", "mae_raw", "spearman", "mae", "rmse",
                            "log_loss", "brier", "roc_auc", "multiclass_log_loss",
                            "macro_f1", "accuracy")
    assert PRIMARY_METRICS == ("mae_log", "rmse_log", "mae_raw", "mae", "rmse", "log_loss",
                               "brier", "multiclass_log_loss")
    assert {m for m in GATE_METRICS if CATALOG[m].higher_is_better} == {
        "spearman", "roc_auc", "macro_f1", "accuracy"}
    for metric in CATALOG.values():
        assert set(metric.columns) <= set(COLUMNS), metric.name


def test_count_metrics_match_numpy_and_scipy():
    actual, predicted = _counts(0)
    assert (predicted < 0).any(), "some predicted counts are negative: they count as 0"
    counts = np.clip(predicted, 0, None)
    error = np.log1p(counts) - np.log1p(actual)
    assert point(actual, predicted, "mae_log") == pytest.approx(np.abs(error).mean())
    assert point(actual, predicted, "rmse_log") == pytest.approx(np.sqrt((error**2).mean()))
    assert point(actual, predicted, "mae_raw") == pytest.approx(
        mean_absolute_error(actual, counts))
    assert point(actual, predicted, "spearman") == pytest.approx(
        spearmanr(actual, predicted).statistic)


def test_negative_predicted_counts_count_as_zero_for_count_metrics_only():
    actual = np.array([0.0, 3.0, 10.0])
    negative, zero = np.array([-2.0, 3.0, 8.0]), np.array([0.0, 3.0, 8.0])
    for metric in ("mae_log", "rmse_log", "mae_raw"):
        assert point(actual, negative, metric) == pytest.approx(point(actual, zero, metric))
    assert point(actual, negative, "mae") == pytest.approx(4 / 3)  # a value is a value


def test_value_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    actual = rng.normal(0, 0.05, 400)  # follower growth: log differences, often negative
    predicted = actual + rng.normal(0, 0.02, 400)
    assert point(actual, predicted, "mae") == pytest.approx(
        mean_absolute_error(actual, predicted))
    assert point(actual, predicted, "rmse") == pytest.approx(
        root_mean_squared_error(actual, predicted))
    assert point(actual, predicted, "spearman") == pytest.approx(
        spearmanr(actual, predicted).statistic)


@pytest.mark.parametrize("decimals", [None, 1])  # 1 decimal: many tied scores
def test_probability_metrics_match_sklearn(decimals):
    actual, predicted = _conversions(2, decimals=decimals)
    assert point(actual, predicted, "log_loss") == pytest.approx(
        log_loss(actual, np.clip(predicted, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS), labels=[0, 1]))
    assert point(actual, predicted, "brier") == pytest.approx(
        brier_score_loss(actual, predicted))
    assert point(actual, predicted, "roc_auc") == pytest.approx(
        roc_auc_score(actual, predicted))


def test_log_loss_clips_certain_misses():
    actual, predicted = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    # 1 - 1e-15 rounds in float64, hence the tolerance
    assert point(actual, predicted, "log_loss") == pytest.approx(-np.log(LOG_LOSS_EPS),
                                                                 rel=1e-4)


def test_rank_metrics_of_a_constant_model():
    actual, _ = _conversions(3)
    constant = np.full(actual.size, 0.3)
    assert np.isnan(point(actual, constant, "spearman"))
    assert point(actual, constant, "roc_auc") == 0.5 == roc_auc_score(actual, constant)
    assert np.isnan(point(np.zeros(5), np.linspace(0, 1, 5), "roc_auc"))  # one class


def test_roc_auc_under_weights_keeps_the_full_holdout_ranks():
    """Integer weights are a resample; without ties among the drawn scores the fixed ranks
    still order them right, so the estimate stays close to the resample's exact AUC."""
    actual, predicted = _conversions(4, n=2000)
    weights = np.random.default_rng(0).multinomial(actual.size, np.full(actual.size, 1 / 2000))
    drawn = np.repeat(np.arange(actual.size), weights)
    exact = roc_auc_score(actual[drawn], predicted[drawn])
    assert point(actual, predicted, "roc_auc", weights) == pytest.approx(exact, abs=0.01)


def test_each_metric_checks_its_own_input_kind():
    growth = np.array([-0.02, 0.01, 0.03])
    arrays = check_inputs("here", ["mae", "rmse", "spearman"], growth, {"model": growth + 0.01})
    assert set(arrays) == {"actual", "model"}
    with pytest.raises(ValueError, match=r"here: 'actual' must hold finite counts >= 0 "
                                         r"\(not log scale\) for mae_log; got 1 bad value"):
        check_inputs("here", ["mae_log"], growth, {"model": growth})
    with pytest.raises(ValueError, match="'model' must hold finite real values for mae"):
        check_inputs("here", ["mae"], growth, {"model": [0.0, np.inf, 0.0]})


def test_every_input_problem_is_listed_at_once():
    with pytest.raises(ValueError) as error:
        check_inputs("here", ["log_loss", "mae_log"], [0.0, 0.5, 2.0],
                     {"challenger": [0.1, 1.2, 0.3], "champion": None})
    message = str(error.value)
    assert "'actual' must hold binary outcomes (0 or 1) for log_loss" in message
    assert "'challenger' must hold finite probabilities in [0, 1] for log_loss" in message
    assert "champion" not in message  # None means absent
    with pytest.raises(ValueError, match=r"metrics must be drawn from .*; got \['r2'\]"):
        check_inputs("here", ["r2"], [1.0, 2.0], {})
    with pytest.raises(ValueError, match="'actual' must be a 1-d array of at least 2 rows"):
        check_inputs("here", ["mae"], [1.0], {})
