"""The offline promotion gate on simulated holdouts with known truths."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from pipelines.evaluate.promotion_gate import (
    GATE_METRICS,
    bootstrap_weights,
    format_decision,
    paired_bootstrap,
    promotion_decision,
)

N = 2000
PLATFORMS = np.array(["facebook", "instagram", "x", "linkedin"])


def _holdout(seed: int = 0, n: int = N):
    """Counts, per-row log noise shared by both models (paired), platforms, accounts."""
    rng = np.random.default_rng(seed)
    actual = np.round(np.expm1(np.clip(rng.normal(4.0, 1.2, n), 0, None)))
    shared = rng.normal(0, 0.55, n)
    platform = PLATFORMS[rng.integers(0, 4, n)]
    account = rng.integers(0, 80, n).astype(str)
    return rng, actual, shared, platform, account


def _model(actual, log_noise):
    return np.expm1(np.log1p(actual) + log_noise)


def _checks(record):
    return {c["name"]: c for c in record["checks"]}


def test_a_clearly_better_challenger_is_promoted():
    rng, actual, shared, platform, account = _holdout()
    champion = _model(actual, shared + rng.normal(0, 0.35, N))
    challenger = _model(actual, shared)
    record = promotion_decision(actual, challenger, champion, slice_labels=platform,
                                cluster_labels=account)
    assert record["decision"] == "promote" and record["promoted"]
    primary = record["primary"]
    assert primary["ci_low"] > 0 and primary["ci_low"] < primary["improvement"] < \
        primary["ci_high"]
    assert set(record["slices"]) == set(PLATFORMS)
    assert all(c["passed"] for c in record["checks"])
    assert "PROMOTE" in format_decision(record)


def test_an_equally_good_challenger_is_not_promoted():
    rng, actual, shared, platform, _ = _holdout(seed=1)
    champion = _model(actual, shared + rng.normal(0, 0.3, N))
    challenger = _model(actual, shared + rng.normal(0, 0.3, N))  # same quality, other draws
    record = promotion_decision(actual, challenger, champion, slice_labels=platform)
    assert record["decision"] == "keep_challenger" and not record["promoted"]
    assert record["primary"]["ci_low"] < 0 < record["primary"]["ci_high"]
    assert not _checks(record)["improvement on mae_log"]["passed"]


def test_identical_predictions_are_rejected_not_kept_forever():
    _, actual, shared, platform, _ = _holdout(seed=2)
    model = _model(actual, shared)
    record = promotion_decision(actual, model.copy(), model, slice_labels=platform)
    assert record["decision"] == "reject"
    assert record["reasons"][0] == "challenger rejected: identical predictions to the champion's"


def test_better_overall_but_worse_on_a_supported_platform_is_rejected():
    rng, actual, shared, platform, _ = _holdout(seed=3)
    champion = _model(actual, shared + rng.normal(0, 0.45, N))
    on_x = platform == "x"
    # much better everywhere except on x, where it is clearly worse than the champion
    challenger = _model(actual, np.where(on_x, shared + rng.normal(0, 0.7, N), shared))
    record = promotion_decision(actual, challenger, champion, slice_labels=platform,
                                min_slice_rows=100)
    assert record["primary"]["ci_low"] > 0, "the overall improvement is significant"
    assert record["decision"] == "reject"
    x = _checks(record)["non-inferior: slice x"]
    assert x["status"] == "inferior" and x["observed_worsening"] > x["allowed_worsening"]
    assert "slice x" in record["reasons"][0]
    # the same slice below min_slice_rows is reported but not gated
    small = promotion_decision(actual, challenger, champion, slice_labels=platform,
                               min_slice_rows=int(on_x.sum()) + 1)
    assert "x" in small["slices_without_support"] and "x" not in small["slices"]


def test_a_secondary_metric_beyond_the_margin_rejects():
    rng, actual, shared, _, _ = _holdout(seed=4)
    champion = _model(actual, shared + rng.normal(0, 0.3, N))
    # better on most rows in log space, but wildly over-predicts the biggest posts
    big = actual > np.quantile(actual, 0.97)
    challenger = np.where(big, actual * 6, _model(actual, shared))
    record = promotion_decision(actual, challenger, champion)
    assert record["primary"]["improvement"] > 0
    assert _checks(record)["non-inferior: mae_raw"]["status"] == "inferior"
    assert record["decision"] == "reject"


def test_first_model_needs_thresholds_and_to_beat_the_baseline():
    rng, actual, shared, _, _ = _holdout(seed=5)
    baseline = _model(actual, shared + rng.normal(0, 0.4, N))
    good = _model(actual, shared)
    accepted = promotion_decision(actual, good, None, baseline=baseline)
    assert accepted["mode"] == "first_model" and accepted["decision"] == "promote"

    too_strict = promotion_decision(actual, good, None, baseline=baseline, max_mae_log=0.2)
    assert too_strict["decision"] == "reject"
    assert not _checks(too_strict)["absolute: max_mae_log"]["passed"]
    assert _checks(too_strict)["beats baseline on mae_log"]["passed"]

    weak = promotion_decision(actual, good, None, baseline=baseline, min_spearman=0.99)
    assert weak["decision"] == "reject"

    # meets loose absolute thresholds but is no better than the naive baseline
    no_better = promotion_decision(actual, baseline.copy() + 0.0, None, baseline=baseline,
                                   max_mae_log=5, min_spearman=0)
    assert no_better["decision"] == "reject"
    assert not _checks(no_better)["beats baseline on mae_log"]["passed"]


def test_seeded_bootstrap_is_deterministic():
    rng, actual, shared, platform, _ = _holdout(seed=6)
    champion, challenger = _model(actual, shared + rng.normal(0, 0.3, N)), _model(actual, shared)
    first = promotion_decision(actual, challenger, champion, slice_labels=platform, seed=11)
    again = promotion_decision(actual, challenger, champion, slice_labels=platform, seed=11)
    other = promotion_decision(actual, challenger, champion, slice_labels=platform, seed=12)
    assert first == again
    assert first["primary"]["ci_low"] != other["primary"]["ci_low"]
    assert first["primary"]["improvement"] == other["primary"]["improvement"]


def test_bootstrap_interval_matches_normal_theory_for_a_mean_difference():
    rng = np.random.default_rng(7)
    actual = np.full(5000, 100.0)
    reference = _model(actual, rng.normal(0, 0.6, 5000))
    candidate = _model(actual, rng.normal(0, 0.5, 5000))
    out = paired_bootstrap(actual, reference, candidate, metrics=("mae_log",),
                           resamples=4000, confidence=0.95, seed=0)["overall"]["mae_log"]
    diff = np.abs(np.log1p(reference) - np.log1p(actual)) - \
        np.abs(np.log1p(candidate) - np.log1p(actual))
    half = 1.96 * diff.std(ddof=1) / np.sqrt(diff.size)
    assert out["improvement"] == pytest.approx(diff.mean())
    assert out["ci_low"] == pytest.approx(diff.mean() - half, abs=0.15 * half)
    assert out["ci_high"] == pytest.approx(diff.mean() + half, abs=0.15 * half)


def test_point_metrics_agree_with_the_reference_definitions():
    rng, actual, shared, _, _ = _holdout(seed=8, n=500)
    candidate = _model(actual, shared)
    out = paired_bootstrap(actual, candidate, candidate, metrics=GATE_METRICS,
                           resamples=100)["overall"]
    error = np.log1p(candidate) - np.log1p(actual)
    assert out["mae_log"]["candidate"] == pytest.approx(np.abs(error).mean())
    assert out["rmse_log"]["candidate"] == pytest.approx(np.sqrt((error**2).mean()))
    assert out["mae_raw"]["candidate"] == pytest.approx(np.abs(candidate - actual).mean())
    assert out["spearman"]["candidate"] == pytest.approx(spearmanr(actual, candidate).statistic)


def test_bootstrap_weights_draw_n_rows_and_keep_clusters_together():
    rng = np.random.default_rng(0)
    rows = np.concatenate(list(bootstrap_weights(50, 30, rng)))
    assert rows.shape == (30, 50) and (rows.sum(axis=1) == 50).all()
    clusters = np.repeat(np.arange(10), 5)
    grouped = np.concatenate(list(bootstrap_weights(50, 30, rng, clusters)))
    assert grouped.shape == (30, 50)
    for block in range(10):
        members = grouped[:, clusters == block]
        assert (members == members[:, :1]).all()
    assert (grouped.sum(axis=1) % 5 == 0).all()


@pytest.mark.parametrize("kwargs,message", [
    ({"metric": "r2_log"}, "'metric' must be one of"),
    ({"secondary_metrics": ("mape",)}, "'secondary_metrics' must be drawn from"),
    ({"confidence": 1.0}, "need confidence in"),
])
def test_bad_settings_are_named(kwargs, message):
    _, actual, shared, _, _ = _holdout(n=20)
    with pytest.raises(ValueError, match=message):
        promotion_decision(actual, _model(actual, shared), actual, **kwargs)


def test_bad_arrays_are_named():
    actual = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="'champion' must have one value per row"):
        promotion_decision(actual, actual, actual[:2])
    with pytest.raises(ValueError, match="'actual' must hold finite counts >= 0"):
        promotion_decision(np.array([1.0, -2.0, 3.0]), actual, actual)
    with pytest.raises(ValueError, match="'challenger' must hold finite counts"):
        promotion_decision(actual, np.array([1.0, np.nan, 3.0]), actual)
    with pytest.raises(ValueError, match="needs 'baseline'"):
        promotion_decision(actual, actual, None)
    with pytest.raises(ValueError, match="'slice_labels' needs one label per row"):
        promotion_decision(actual, actual + 1, actual, slice_labels=["x"])
