"""Performance estimation is honest: under a covariate shift (the inputs move, P(y | x)
stays) the estimate tracks the realized metric within its band in every chunk; under a
concept shift (P(y | x) changes) it does not, and the report names the assumption that
failed. Seeded synthetic data: a logistic world for CBPE, a heteroscedastic one for DLE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.monitor.confidence_based_estimation import (
    ConfidenceBasedEstimator,
    expected_roc_auc,
)
from pipelines.monitor.direct_loss_estimation import DirectLossEstimator
from pipelines.monitor.estimated_performance import (
    ASSUMPTIONS,
    ESTIMATORS,
    estimate_window,
    load_estimator,
)

CHUNK_ROWS, CHUNKS = 1500, 6


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def classifier_rows(rng, n, *, shift=0.0, concept=1.0) -> pd.DataFrame:
    """Sessions with two inputs; the truth is P(y=1 | x) = sigmoid(-1 + concept·1.5·x1 +
    0.8·x2); the model knows the truth but is overconfident (its logit × 1.6), so CBPE has
    to calibrate. ``shift`` in [0, 1] crowds x1 towards the decision boundary (mean 0.67,
    spread 1 - 0.6·shift: a covariate shift inside the reference's range that makes the
    model's job harder); ``concept`` != 1 changes P(y | x) (concept shift)."""
    x1 = rng.normal(0.67 * shift, 1.0 - 0.6 * shift, n)
    x2 = rng.normal(0.0, 1.0, n)
    y = rng.random(n) < _sigmoid(-1 + concept * 1.5 * x1 + 0.8 * x2)
    score = _sigmoid(1.6 * (-1 + 1.5 * x1 + 0.8 * x2))
    return pd.DataFrame({"x1": x1, "x2": x2, "prediction": score, "target": y.astype(float)})


def regressor_rows(rng, n, *, shift=0.0, concept=1.0) -> pd.DataFrame:
    """Counts on the log scale: y = 1 + concept·x1 + noise whose spread grows with |x2|;
    the model predicts 1 + x1. ``shift`` moves x2 outward (larger errors: covariate shift);
    ``concept`` != 1 changes y's relation to x1 (concept shift)."""
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.normal(shift, 1.0, n)
    kind = rng.choice(["a", "b"], n)
    spread = 0.2 + 0.4 * np.abs(x2) + np.where(kind == "b", 0.3, 0.0)
    y = 1 + concept * x1 + rng.normal(0, 1, n) * spread
    return pd.DataFrame({"x1": x1, "x2": x2, "kind": kind, "prediction": 1 + x1, "target": y})


def window(make_rows, seed, shifts, **kwargs) -> tuple[pd.DataFrame, pd.Series]:
    """Time-ordered chunks of CHUNK_ROWS rows, one per ``shifts`` value, one day each."""
    rng = np.random.default_rng(seed)
    frame = pd.concat([make_rows(rng, CHUNK_ROWS, shift=s, **kwargs) for s in shifts],
                      ignore_index=True)
    days = np.repeat(pd.date_range("2026-11-01", periods=len(shifts), tz="UTC"), CHUNK_ROWS)
    return frame, pd.Series(days)


@pytest.fixture(scope="module")
def cbpe():
    reference = classifier_rows(np.random.default_rng(0), 5000)
    return ESTIMATORS["binary"]("log_loss", 0).fit(reference), reference


@pytest.fixture(scope="module")
def dle():
    reference = regressor_rows(np.random.default_rng(1), 5000)
    return ESTIMATORS["count_regression"]("mae_log", 1).fit(reference), reference


def estimate(estimator, frame, times, metric, offline):
    return estimate_window(estimator, frame, times, metric=metric, chunks=CHUNKS,
                           min_rows=CHUNK_ROWS, offline=offline, max_error_increase=0.05)


def test_expected_roc_auc_of_calibrated_scores_matches_the_realized_one():
    rng = np.random.default_rng(3)
    p = rng.beta(1, 3, 20_000)
    y = rng.random(len(p)) < p
    from sklearn.metrics import roc_auc_score

    assert abs(expected_roc_auc(p, p) - roc_auc_score(y, p)) < 0.01
    # tied scores count as one step; a constant score has no ranking at all
    assert expected_roc_auc(np.full(10, 0.3), np.full(10, 0.3)) == pytest.approx(0.5)
    assert np.isnan(expected_roc_auc(np.array([0.2, 0.4]), np.array([0.0, 0.0])))


def test_cbpe_tracks_a_covariate_shift_within_its_band(cbpe):
    estimator, reference = cbpe
    frame, times = window(classifier_rows, 10, np.linspace(0, 1, CHUNKS))
    offline = estimator.realized(reference)
    report = estimate(estimator, frame, times, "log_loss", offline)
    assert report["method"] == "CBPE" and len(report["chunks"]) == CHUNKS
    for chunk in report["chunks"]:
        assert chunk["within_band"] == {"roc_auc": True, "log_loss": True, "brier": True}, chunk
    # the shift really changed the realized metrics: tracking them is not trivial
    first, last = report["chunks"][0]["realized"], report["chunks"][-1]["realized"]
    assert abs(last["log_loss"] - first["log_loss"]) > 0.1
    assert abs(last["roc_auc"] - first["roc_auc"]) > 0.02
    assert report["comparison"]["chunks_outside_band"] == 0
    assert report["comparison"]["assumption_violated"] is None
    assert report["comparison"]["missed"] == {}
    assert report["comparison"]["verdict"] == ("the estimate tracks the realized metrics: "
                                               "within its band in all 6 chunks with known "
                                               "outcomes and in the whole window")


def test_cbpe_misses_a_concept_shift_and_says_which_assumption_failed(cbpe):
    estimator, reference = cbpe
    frame, times = window(classifier_rows, 11, np.zeros(CHUNKS), concept=0.2)
    report = estimate(estimator, frame, times, "log_loss", estimator.realized(reference))
    missed = [c for c in report["chunks"] if not c["within_band"]["roc_auc"]]
    assert len(missed) == CHUNKS
    for chunk in report["chunks"]:
        assert chunk["realized"]["roc_auc"] < chunk["estimated_on_known"]["roc_auc"]["lower"]
    comparison = report["comparison"]
    assert comparison["chunks_outside_band"] == CHUNKS
    assert comparison["missed"]["roc_auc"] == [f"chunk {i}" for i in range(1, 7)] + ["window"]
    assert comparison["verdict"].startswith("the estimate missed the realized metric outside "
                                            "its band (log_loss in")
    assert comparison["assumption_violated"] == ASSUMPTIONS["concept"]
    assert "concept shift" in comparison["verdict"]
    # the estimate alone sees nothing: the inputs and scores look as before
    assert report["performance_loss"] is False


def test_cbpe_flags_an_estimated_loss_past_the_budget_before_any_label(cbpe):
    estimator, reference = cbpe
    frame, times = window(classifier_rows, 12, np.full(CHUNKS, 1.0))
    unlabelled = frame.assign(target=np.nan)
    # the champion's offline loss was measured on easy rows; the new ones are harder
    report = estimate(estimator, unlabelled, times, "log_loss", {"log_loss": 0.2})
    assert report["judged"] is True and report["performance_loss"] is True
    assert report["increase"] > 0.05
    assert all(c["realized"] is None for c in report["chunks"])
    assert report["comparison"]["verdict"].startswith("no chunk has enough known outcomes")


def test_dle_tracks_a_covariate_shift_within_its_band(dle):
    estimator, reference = dle
    frame, times = window(regressor_rows, 20, np.linspace(0, 1.5, CHUNKS))
    report = estimate(estimator, frame, times, "mae_log", estimator.realized(reference))
    assert report["method"] == "DLE"
    assert all(c["within_band"] == {"mae_log": True} for c in report["chunks"]), \
        report["chunks"]
    first, last = report["chunks"][0]["realized"], report["chunks"][-1]["realized"]
    assert last["mae_log"] - first["mae_log"] > 0.2
    # the error grew past the budget: estimated (and realized) performance loss
    assert report["performance_loss"] is True
    assert report["comparison"]["assumption_violated"] is None


def test_dle_misses_a_concept_shift_and_says_which_assumption_failed(dle):
    estimator, reference = dle
    frame, times = window(regressor_rows, 21, np.zeros(CHUNKS), concept=1.8)
    report = estimate(estimator, frame, times, "mae_log", estimator.realized(reference))
    assert all(c["within_band"] == {"mae_log": False} for c in report["chunks"])
    assert report["comparison"]["assumption_violated"] == ASSUMPTIONS["concept"]
    assert report["performance_loss"] is False


def test_predictions_outside_the_fitted_range_are_blamed_on_support(cbpe):
    estimator, _ = cbpe
    frame, times = window(classifier_rows, 13, np.zeros(CHUNKS), concept=0.2)
    frame["prediction"] = np.clip(frame["prediction"] * 0 + 0.999999999, 0, 1)
    report = estimate(estimator, frame, times, "log_loss", {})
    assert all(c["out_of_range"] == 1.0 for c in report["chunks"])
    assert report["comparison"]["assumption_violated"] == ASSUMPTIONS["support"]
    assert report["judged"] is False      # no offline value: reported, not judged


@pytest.mark.parametrize("name", ["cbpe", "dle"])
def test_a_stored_estimator_estimates_as_the_fitted_one(name, request):
    estimator, reference = request.getfixturevalue(name)
    import json

    loaded = load_estimator(json.loads(json.dumps(estimator.to_dict())))
    assert loaded.estimate(reference) == pytest.approx(estimator.estimate(reference))
    assert loaded.bands(reference) == pytest.approx(estimator.bands(reference))


def test_platt_calibration_also_tracks_a_covariate_shift():
    reference = classifier_rows(np.random.default_rng(4), 5000)
    estimator = ConfidenceBasedEstimator(calibrator="platt", sigmas=3.0, seed=0).fit(reference)
    frame, times = window(classifier_rows, 14, np.linspace(0, 1, CHUNKS))
    report = estimate(estimator, frame, times, "log_loss", {})
    assert all(c["within_band"]["log_loss"] for c in report["chunks"])


@pytest.mark.parametrize(("make", "frame", "match"), [
    (lambda: ConfidenceBasedEstimator(calibrator="beta", sigmas=3.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 100, "target": [0.0, 1.0] * 50}), "'calibrator'"),
    (lambda: ConfidenceBasedEstimator(calibrator="isotonic", sigmas=0.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 100, "target": [0.0, 1.0] * 50}), "'sigmas'"),
    (lambda: ConfidenceBasedEstimator(calibrator="isotonic", sigmas=3.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 100, "target": [0.0, 2.0] * 50}), "0 or 1; got"),
    (lambda: ConfidenceBasedEstimator(calibrator="isotonic", sigmas=3.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 100, "target": [0.0] * 95 + [1.0] * 5}),
     ">= 20 rows of each class"),
    (lambda: DirectLossEstimator(metric="mae", sigmas=3.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 50, "target": [1.0] * 50}), ">= 100 held-out rows"),
    (lambda: DirectLossEstimator(metric="mae", sigmas=3.0, seed=0),
     pd.DataFrame({"prediction": [0.5] * 200, "target": [1.0] * 199 + [np.nan]}),
     "1 rows lack an outcome"),
])
def test_bad_fits_are_refused_with_the_rule(make, frame, match):
    with pytest.raises(ValueError, match=match):
        make().fit(frame)


def test_bad_window_settings_and_unknown_methods_are_refused(cbpe):
    estimator, reference = cbpe
    with pytest.raises(ValueError, match="one length"):
        estimate_window(estimator, reference, pd.Series([], dtype="datetime64[ns, UTC]"),
                        metric="log_loss", chunks=2, min_rows=10, offline={},
                        max_error_increase=0.1)
    with pytest.raises(ValueError, match="'chunks' and 'min_rows' must be >= 1"):
        estimate_window(estimator, reference, pd.Series(np.zeros(len(reference))),
                        metric="log_loss", chunks=0, min_rows=10, offline={},
                        max_error_increase=0.1)
    with pytest.raises(ValueError, match="'method' must be one of"):
        load_estimator({"method": "magic"})
