"""Property-based: on random arrays, every catalog metric with unit weights equals its
reference (numpy, scipy, scikit-learn). Skipped where hypothesis is not installed."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from pipelines.evaluate.gate_metrics import LOG_LOSS_EPS, QuantityTable  # noqa: E402


def point(actual, predicted, metric):
    table = QuantityTable(actual, {"model": predicted}, {}, [("", "model", metric)])
    return float(table.metric(table.table().sum(axis=0), metric, "model", ""))


def paired(elements_actual, elements_predicted):
    """Two float arrays of one random length (2 to 60 rows)."""
    return st.integers(2, 60).flatmap(lambda n: st.tuples(
        arrays(float, n, elements=elements_actual), arrays(float, n, elements=elements_predicted)))


def close(value, reference):
    if np.isnan(reference):
        return np.isnan(value)
    return value == pytest.approx(reference, rel=1e-9, abs=1e-9)


COUNTS = st.integers(0, 10_000).map(float)
PREDICTED_COUNTS = st.floats(-5, 10_000, allow_nan=False)
VALUES = st.floats(-10, 10, allow_nan=False)
PROBABILITIES = st.floats(0, 1)


@settings(max_examples=150, deadline=None)
@given(paired(COUNTS, PREDICTED_COUNTS))
def test_count_metrics(pair):
    actual, predicted = pair
    counts = np.clip(predicted, 0, None)
    error = np.log1p(counts) - np.log1p(actual)
    assert close(point(actual, predicted, "mae_log"), np.abs(error).mean())
    assert close(point(actual, predicted, "rmse_log"), np.sqrt((error**2).mean()))
    assert close(point(actual, predicted, "mae_raw"), mean_absolute_error(actual, counts))


@settings(max_examples=150, deadline=None)
@given(paired(VALUES, VALUES))
def test_value_metrics(pair):
    actual, predicted = pair
    assert close(point(actual, predicted, "mae"), mean_absolute_error(actual, predicted))
    assert close(point(actual, predicted, "rmse"), root_mean_squared_error(actual, predicted))
    assume(np.ptp(actual) > 0 and np.ptp(predicted) > 0)  # else Spearman is undefined
    assert close(point(actual, predicted, "spearman"), spearmanr(actual, predicted).statistic)


@settings(max_examples=150, deadline=None)
@given(paired(st.sampled_from([0.0, 1.0]), PROBABILITIES | st.sampled_from([0.0, 0.5, 1.0])))
def test_probability_metrics(pair):
    actual, predicted = pair
    clipped = np.clip(predicted, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    assert close(point(actual, predicted, "log_loss"), log_loss(actual, clipped, labels=[0, 1]))
    assert close(point(actual, predicted, "brier"), np.mean((predicted - actual) ** 2))
    if 0 < actual.sum() < actual.size:  # both classes, else ROC AUC is undefined
        assert close(point(actual, predicted, "roc_auc"), roc_auc_score(actual, predicted))
        assert close(point(actual, predicted, "brier"), brier_score_loss(actual, predicted))
