"""The offline promotion gate on simulated holdouts with known truths."""

import inspect

import numpy as np
import pytest
from scipy.special import expit, logit
from scipy.stats import spearmanr

from pipelines.evaluate.promotion_gate import (
    bootstrap_weights,
    format_decision,
    paired_bootstrap,
    promotion_decision,
)

N = 2000
PLATFORMS = np.array(["facebook", "instagram", "x", "linkedin"])
#: The count task's settings (params.yaml's promote section, as the registry passes them).
COUNTS = {
    "metric": "mae_log", "secondary_metrics": ("rmse_log", "mae_raw", "spearman"),
    "first_model_bounds": {"mae_log": ("max", 1.5), "spearman": ("min", 0.3)},
    "baseline_name": "account-median baseline", "confidence": 0.95, "resamples": 2000,
    "min_delta": 0.0, "non_inferiority_margin": 0.05, "min_slice_rows": 100,
    "min_baseline_improvement": 0.0, "seed": 0,
}


def decide(actual, challenger, champion, *, baseline=None, **overrides):
    """promotion_decision with the count task's settings, ``overrides`` replacing some."""
    return promotion_decision(actual, challenger, champion, baseline=baseline,
                              **{**COUNTS, **overrides})


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
    record = decide(actual, challenger, champion, slice_labels=platform,
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
    record = decide(actual, challenger, champion, slice_labels=platform)
    assert record["decision"] == "keep_challenger" and not record["promoted"]
    assert record["primary"]["ci_low"] < 0 < record["primary"]["ci_high"]
    assert not _checks(record)["improvement on mae_log"]["passed"]


def test_identical_predictions_are_rejected_not_kept_forever():
    _, actual, shared, platform, _ = _holdout(seed=2)
    model = _model(actual, shared)
    record = decide(actual, model.copy(), model, slice_labels=platform)
    assert record["decision"] == "reject"
    assert record["reasons"][0] == "challenger rejected: identical predictions to the champion's"


def test_better_overall_but_worse_on_a_supported_platform_is_rejected():
    rng, actual, shared, platform, _ = _holdout(seed=3)
    champion = _model(actual, shared + rng.normal(0, 0.45, N))
    on_x = platform == "x"
    # much better everywhere except on x, where it is clearly worse than the champion
    challenger = _model(actual, np.where(on_x, shared + rng.normal(0, 0.7, N), shared))
    record = decide(actual, challenger, champion, slice_labels=platform,
                                min_slice_rows=100)
    assert record["primary"]["ci_low"] > 0, "the overall improvement is significant"
    assert record["decision"] == "reject"
    x = _checks(record)["non-inferior: slice x"]
    assert x["status"] == "inferior" and x["observed_worsening"] > x["allowed_worsening"]
    assert "slice x" in record["reasons"][0]
    # the same slice below min_slice_rows is reported but not gated
    small = decide(actual, challenger, champion, slice_labels=platform,
                               min_slice_rows=int(on_x.sum()) + 1)
    assert "x" in small["slices_without_support"] and "x" not in small["slices"]


def test_a_secondary_metric_beyond_the_margin_rejects():
    rng, actual, shared, _, _ = _holdout(seed=4)
    champion = _model(actual, shared + rng.normal(0, 0.3, N))
    # better on most rows in log space, but wildly over-predicts the biggest posts
    big = actual > np.quantile(actual, 0.97)
    challenger = np.where(big, actual * 6, _model(actual, shared))
    record = decide(actual, challenger, champion)
    assert record["primary"]["improvement"] > 0
    assert _checks(record)["non-inferior: mae_raw"]["status"] == "inferior"
    assert record["decision"] == "reject"


def test_first_model_needs_thresholds_and_to_beat_the_baseline():
    rng, actual, shared, _, _ = _holdout(seed=5)
    baseline = _model(actual, shared + rng.normal(0, 0.4, N))
    good = _model(actual, shared)
    accepted = decide(actual, good, None, baseline=baseline)
    assert accepted["mode"] == "first_model" and accepted["decision"] == "promote"

    too_strict = decide(actual, good, None, baseline=baseline, first_model_bounds={
        "mae_log": ("max", 0.2), "spearman": ("min", 0.3)})
    assert too_strict["decision"] == "reject"
    assert not _checks(too_strict)["absolute: mae_log max 0.2"]["passed"]
    assert _checks(too_strict)["beats baseline on mae_log"]["passed"]

    weak = decide(actual, good, None, baseline=baseline, first_model_bounds={
        "mae_log": ("max", 1.5), "spearman": ("min", 0.99)})
    assert weak["decision"] == "reject"
    assert not _checks(weak)["absolute: spearman min 0.99"]["passed"]

    # meets loose absolute bounds but is no better than the naive baseline
    no_better = decide(actual, baseline.copy() + 0.0, None, baseline=baseline,
                       first_model_bounds={"mae_log": ("max", 5), "spearman": ("min", 0)})
    assert no_better["decision"] == "reject"
    assert not _checks(no_better)["beats baseline on mae_log"]["passed"]
    assert "account-median baseline" in _checks(no_better)["beats baseline on mae_log"]["detail"]


def test_seeded_bootstrap_is_deterministic():
    rng, actual, shared, platform, _ = _holdout(seed=6)
    champion, challenger = _model(actual, shared + rng.normal(0, 0.3, N)), _model(actual, shared)
    first = decide(actual, challenger, champion, slice_labels=platform, seed=11)
    again = decide(actual, challenger, champion, slice_labels=platform, seed=11)
    other = decide(actual, challenger, champion, slice_labels=platform, seed=12)
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
    counts = ("mae_log", "rmse_log", "mae_raw", "spearman", "mae", "rmse")
    out = paired_bootstrap(actual, candidate, candidate, metrics=counts, resamples=100,
                           confidence=0.95, seed=0)["overall"]
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
    ({"metric": "r2_log"}, "'metric' must be one of the losses"),
    ({"metric": "spearman"}, "'metric' must be one of the losses"),
    ({"secondary_metrics": ("mape",)}, "'secondary_metrics' must be a sequence of names"),
    ({"secondary_metrics": "rmse_log"}, "'secondary_metrics' must be a sequence of names"),
    ({"confidence": 1.0}, r"'confidence' must be a number in \[0.5, 1\); got 1.0"),
    ({"resamples": 10}, "'resamples' must be an int >= 100; got 10"),
    ({"seed": -1}, "'seed' must be an int >= 0; got -1"),
    ({"min_slice_rows": 0}, "'min_slice_rows' must be an int >= 1"),
    ({"non_inferiority_margin": -0.1}, "'non_inferiority_margin' must be a finite number >= 0"),
    ({"min_delta": float("nan")}, "'min_delta' must be a finite number"),
    ({"min_baseline_improvement": None}, "'min_baseline_improvement' must be a finite number"),
    ({"baseline_name": ""}, "'baseline_name' must be a non-empty string"),
    ({"first_model_bounds": {"mae_log": ("below", 1.5)}}, "'first_model_bounds' must map"),
    ({"first_model_bounds": {"r2": ("min", 0.5)}}, "'first_model_bounds' must map"),
    ({"first_model_bounds": {"mae_log": ("max", True)}}, "'first_model_bounds' must map"),
    ({"first_model_bounds": [("mae_log", "max", 1.5)]}, "'first_model_bounds' must be a mapping"),
])
def test_bad_settings_are_named(kwargs, message):
    _, actual, shared, _, _ = _holdout(n=20)
    with pytest.raises(ValueError, match=message):
        decide(actual, _model(actual, shared), actual, **kwargs)


def test_every_bad_setting_is_listed_at_once():
    _, actual, shared, _, _ = _holdout(n=20)
    with pytest.raises(ValueError, match="'confidence' must .*; 'resamples' must"):
        decide(actual, _model(actual, shared), actual, confidence=2, resamples=1)


def test_settings_have_no_defaults_and_are_keyword_only():
    parameters = inspect.signature(promotion_decision).parameters
    for name in COUNTS:
        assert parameters[name].default is inspect.Parameter.empty, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    # a setting that is not plumbed through fails loudly
    _, actual, shared, _, _ = _holdout(n=20)
    partial = {k: v for k, v in COUNTS.items() if k != "first_model_bounds"}
    with pytest.raises(TypeError, match="first_model_bounds"):
        promotion_decision(actual, _model(actual, shared), actual, baseline=None, **partial)


def test_bad_arrays_are_named():
    actual = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="'champion' must have one value per row"):
        decide(actual, actual, actual[:2])
    with pytest.raises(ValueError, match="'actual' must hold finite counts >= 0"):
        decide(np.array([1.0, -2.0, 3.0]), actual, actual)
    with pytest.raises(ValueError, match="'challenger' must hold finite counts"):
        decide(actual, np.array([1.0, np.nan, 3.0]), actual)
    with pytest.raises(ValueError, match="needs 'baseline'"):
        decide(actual, actual, None)
    with pytest.raises(ValueError, match="'slice_labels' needs one label per row"):
        decide(actual, actual + 1, actual, slice_labels=["x"])


def _conversions(seed: int, n: int = 4000):
    """0/1 outcomes drawn from known probabilities, and a noisy score of each row."""
    rng = np.random.default_rng(seed)
    truth = expit(rng.normal(-0.8, 1.2, n))
    actual = (rng.random(n) < truth).astype(float)
    score = logit(truth) + rng.normal(0, 0.5, n)  # what both models learned
    return rng, actual, score


PROBABILITY = {
    **COUNTS, "metric": "log_loss", "secondary_metrics": ("roc_auc", "brier"),
    "first_model_bounds": {"log_loss": ("max", 0.69), "roc_auc": ("min", 0.6)},
    "baseline_name": "base-rate baseline",
}


def test_a_better_calibrated_probability_model_is_promoted_on_log_loss():
    rng, actual, score = _conversions(seed=20)
    platform = PLATFORMS[rng.integers(0, 4, actual.size)]
    challenger = expit(score)
    champion = expit(1.8 * score + 0.7)  # same ranking, over-confident and biased upwards
    base_rate = np.full(actual.size, actual.mean())
    record = promotion_decision(actual, challenger, champion, baseline=base_rate,
                                slice_labels=platform, **PROBABILITY)
    assert record["decision"] == "promote", record["reasons"]
    checks = _checks(record)
    assert checks["improvement on log_loss"]["ci_low"] > 0
    # ROC AUC is the guard: the ranking is the same, so it is proven non-inferior
    auc = checks["non-inferior: roc_auc"]
    assert auc["status"] == "non_inferior" and auc["improvement"] == pytest.approx(0)
    assert record["champion"]["roc_auc"] == pytest.approx(record["challenger"]["roc_auc"])
    assert checks["beats baseline on log_loss"]["passed"]
    assert set(record["slices"]) == set(PLATFORMS)

    # the other way round, the over-confident model is significantly worse: rejected
    back = promotion_decision(actual, champion, challenger, baseline=base_rate,
                              **PROBABILITY)
    assert back["decision"] == "reject" and back["primary"]["ci_high"] < 0

    # a first probability model: absolute bounds on log loss and ROC AUC, and the base rate
    first = promotion_decision(actual, challenger, None, baseline=base_rate, **PROBABILITY)
    assert first["decision"] == "promote", first["reasons"]
    assert {"absolute: log_loss max 0.69", "absolute: roc_auc min 0.6"} <= set(_checks(first))
    assert first["baseline"]["roc_auc"] == 0.5  # a constant ranks nothing (sklearn agrees)
    assert "base-rate baseline" in first["reasons"][0]


def test_probability_inputs_are_checked():
    _, actual, score = _conversions(seed=21, n=50)
    with pytest.raises(ValueError, match=r"'challenger' must hold finite probabilities in "
                                         r"\[0, 1\] for log_loss, roc_auc, brier"):
        promotion_decision(actual, score, expit(score), baseline=None, **PROBABILITY)
    with pytest.raises(ValueError, match=r"'actual' must hold binary outcomes \(0 or 1\)"):
        promotion_decision(actual * 0.5, expit(score), expit(score + 1), baseline=None,
                           **PROBABILITY)


GROWTH = {
    **COUNTS, "metric": "mae", "secondary_metrics": ("rmse", "spearman"),
    "first_model_bounds": {"mae": ("max", 0.05), "spearman": ("min", 0.3)},
    "baseline_name": "no-growth baseline",
}


def test_growth_values_with_negative_actuals_are_judged_as_values_not_counts():
    rng = np.random.default_rng(22)
    actual = rng.normal(0.002, 0.02, N)  # log1p follower differences: many are negative
    assert (actual < 0).mean() > 0.3
    shared = rng.normal(0, 0.008, N)
    champion = actual + shared + rng.normal(0, 0.008, N)
    challenger = actual + shared
    no_growth = np.zeros(N)
    record = promotion_decision(actual, challenger, champion, baseline=no_growth, **GROWTH)
    assert record["decision"] == "promote", record["reasons"]
    assert record["challenger"]["mae"] == pytest.approx(np.abs(challenger - actual).mean())
    first = promotion_decision(actual, challenger, None, baseline=no_growth, **GROWTH)
    assert first["decision"] == "promote" and "no-growth baseline" in first["reasons"][0]

    with pytest.raises(ValueError, match="'actual' must hold finite counts >= 0 "
                                         r"\(not log scale\) for mae_log"):
        promotion_decision(actual, challenger, champion, baseline=no_growth,
                           **{**GROWTH, "metric": "mae_log"})


def test_a_challenger_worse_than_the_baseline_is_rejected_whatever_the_champion():
    rng, actual, shared, platform, _ = _holdout(seed=23)
    champion = _model(actual, shared + rng.normal(0, 0.9, N))  # a poor champion
    challenger = _model(actual, shared)  # much better than the champion ...
    baseline = _model(actual, 0.3 * shared)  # ... but the naive baseline is better still
    record = decide(actual, challenger, champion, baseline=baseline, slice_labels=platform)
    checks = _checks(record)
    assert checks["improvement on mae_log"]["passed"], "it does beat the champion"
    assert not checks["beats baseline on mae_log"]["passed"]
    assert record["decision"] == "reject" and not record["promoted"]
    assert record["reasons"][0] == ("challenger rejected: not proven better than the "
                                    "account-median baseline on mae_log")
    assert record["baseline"]["mae_log"] < record["challenger"]["mae_log"]
    # without a baseline only the champion is the yardstick
    assert decide(actual, challenger, champion, slice_labels=platform)["decision"] == "promote"
    # with a weak baseline the rule passes and the decision stands
    weak = _model(actual, shared + rng.normal(0, 0.9, N))
    passed = decide(actual, challenger, champion, baseline=weak, slice_labels=platform)
    assert passed["decision"] == "promote"
    assert _checks(passed)["beats baseline on mae_log"]["passed"]


def test_a_first_model_needs_no_bounds_but_the_baseline():
    rng, actual, shared, _, _ = _holdout(seed=24)
    baseline = _model(actual, shared + rng.normal(0, 0.4, N))
    record = decide(actual, _model(actual, shared), None, baseline=baseline,
                    first_model_bounds={})
    assert record["decision"] == "promote"
    assert [c["name"] for c in record["checks"]] == ["beats baseline on mae_log"]


def test_paired_bootstrap_takes_any_catalog_metric_and_slice_metric():
    rng, actual, score = _conversions(seed=25, n=1000)
    halves = {"first": np.arange(1000) < 500, "second": np.arange(1000) >= 500}
    out = paired_bootstrap(actual, expit(score + rng.normal(0, 1, 1000)), expit(score),
                           metrics=("roc_auc", "brier"), slices=halves,
                           slice_metric="log_loss", resamples=200, confidence=0.9, seed=0)
    assert set(out["overall"]) == {"roc_auc", "brier"} and set(out["slices"]) == set(halves)
    assert out["overall"]["roc_auc"]["improvement"] > 0  # higher is better: candidate ahead
    assert out["slices"]["first"]["metric"] == "log_loss" and out["slices"]["first"]["n"] == 500
    with pytest.raises(ValueError, match="'slice_metric' must name a metric"):
        paired_bootstrap(actual, expit(score), expit(score), metrics=("brier",),
                         slices=halves, resamples=200, confidence=0.9, seed=0)


def _regimes(seed: int, n_warm: int, n_cold: int):
    """A holdout of ``n_warm`` rows of accounts seen in training, then ``n_cold`` rows of
    accounts held out of training: counts, shared log noise, regime labels."""
    rng, actual, shared, _, _ = _holdout(seed=seed, n=n_warm + n_cold)
    regime = np.array(["warm"] * n_warm + ["cold"] * n_cold)
    return rng, actual, shared, regime


def test_a_cold_start_fix_that_the_warm_majority_hides_is_promoted_on_cold_accounts():
    # the case: the champion predicts new accounts far too low; the challenger
    # fixes that and is as good (other noise, same size) on the accounts it trained on
    n_warm, n_cold = 8000, 100
    rng = np.random.default_rng(0)
    actual = np.round(np.expm1(rng.normal(4.0, 0.5, n_warm + n_cold)))
    regime = np.array(["warm"] * n_warm + ["cold"] * n_cold)
    cold = regime == "cold"
    shared = rng.normal(0, 0.3, actual.size)
    champion = _model(actual, shared + rng.normal(0, 0.6, actual.size) - np.where(cold, 0.9, 0))
    challenger = _model(actual, shared + np.where(cold, 0, rng.normal(0, 0.6, actual.size)))
    without = decide(actual, challenger, champion, resamples=1000)
    assert without["decision"] == "keep_challenger", "overall the fix is within noise"
    assert without["primary"]["ci_low"] < 0 < without["primary"]["ci_high"]
    record = decide(actual, challenger, champion, resamples=1000, regime_labels=regime)
    assert record["decision"] == "promote", record["reasons"]
    assert record["reasons"][0] == (
        "challenger promoted: proven better on cold accounts (new accounts), non-inferior on "
        "warm accounts (seen in training); every other check passed")
    checks = _checks(record)
    assert checks["improvement on mae_log"]["carried_by"] == ["cold"]
    assert checks["improvement on mae_log"]["ci_low"] == without["primary"]["ci_low"]
    warm, cold_record = record["regimes"]["warm"], record["regimes"]["cold"]
    assert (warm["n"], cold_record["n"]) == (n_warm, n_cold)
    assert warm["gated"] and warm["status"] == "non_inferior" and not warm["proven_better"]
    assert cold_record["proven_better"] and cold_record["ci_low"] > 0.3
    assert checks["non-inferior: cold accounts (new accounts)"]["regime"] == "cold"
    assert record["regimes_without_support"] == {}
    # the regime records are the same holdout's numbers: mae_log on the regime's rows
    error = np.abs(np.log1p(np.clip(challenger, 0, None)) - np.log1p(actual))
    assert cold_record["candidate"] == pytest.approx(error[cold].mean())
    assert cold_record["against"] == "champion"


def test_better_on_warm_accounts_but_much_worse_on_cold_ones_is_rejected():
    rng, actual, shared, regime = _regimes(seed=40, n_warm=2000, n_cold=200)
    cold = regime == "cold"
    champion = _model(actual, shared + np.where(cold, 0, rng.normal(0, 0.35, actual.size)))
    challenger = _model(actual, shared + np.where(cold, rng.normal(0, 0.9, actual.size), 0))
    record = decide(actual, challenger, champion, regime_labels=regime)
    assert record["primary"]["ci_low"] > 0, "better overall, significantly"
    assert record["regimes"]["warm"]["proven_better"]
    assert record["regimes"]["cold"]["status"] == "inferior"
    assert record["decision"] == "reject"
    assert record["reasons"][0] == ("challenger rejected: worse than the margin on cold "
                                    "accounts (new accounts)")


def test_a_tiny_cold_regime_is_reported_but_does_not_block():
    rng, actual, shared, regime = _regimes(seed=41, n_warm=2000, n_cold=20)
    cold = regime == "cold"
    champion = _model(actual, shared + np.where(cold, 0, rng.normal(0, 0.35, actual.size)))
    challenger = _model(actual, shared + np.where(cold, rng.normal(0, 1.5, actual.size), 0))
    record = decide(actual, challenger, champion, regime_labels=regime)
    assert record["decision"] == "promote", record["reasons"]
    assert record["regimes_without_support"] == {"cold": 20}
    cold_record = record["regimes"]["cold"]
    assert cold_record["n"] == 20 and cold_record["improvement"] < 0
    assert not cold_record["gated"] and cold_record["status"] is None
    assert "non-inferior: cold accounts (new accounts)" not in _checks(record)
    assert any(r.startswith("reported, not gated: cold accounts (new accounts): mae_log "
                            "champion") for r in record["reasons"])
    assert _checks(record)["improvement on mae_log"]["carried_by"] == ["overall", "warm"]
    # gated from 20 rows on, the same harm is proven and rejects
    strict = decide(actual, challenger, champion, regime_labels=regime, min_slice_rows=20)
    assert strict["regimes"]["cold"]["status"] == "inferior"
    assert strict["decision"] == "reject"


def test_a_first_model_reports_both_regimes_against_the_baseline_and_is_gated_overall():
    rng, actual, shared, regime = _regimes(seed=42, n_warm=1500, n_cold=60)
    baseline = _model(actual, shared + rng.normal(0, 0.4, actual.size))
    model = _model(actual, shared)
    without = decide(actual, model, None, baseline=baseline)
    record = decide(actual, model, None, baseline=baseline, regime_labels=regime)
    assert record["decision"] == without["decision"] == "promote"
    assert record["checks"] == without["checks"]
    assert set(record["regimes"]) == {"warm", "cold"}
    for name, regime_record in record["regimes"].items():
        rows = regime == name
        error = np.abs(np.log1p(np.clip(baseline[rows], 0, None)) - np.log1p(actual[rows]))
        assert regime_record["against"] == "baseline" and not regime_record["gated"]
        assert regime_record["reference"] == pytest.approx(error.mean())
        assert regime_record["n"] == rows.sum()
    assert record["regimes_without_support"] == {"cold": 60}
    reported = [r for r in record["reasons"] if r.startswith("reported, not gated")]
    assert len(reported) == 2 and "account-median baseline" in reported[1]
    lines = format_decision(record)
    assert ("regimes, mae_log against the account-median baseline (gated with at least 100 "
            "rows; a first model is gated overall only):") in lines
    assert "    cold accounts (new accounts): 60 rows, improvement +" in lines


def test_format_decision_prints_each_regime_with_its_verdict():
    rng, actual, shared, regime = _regimes(seed=43, n_warm=900, n_cold=300)
    champion = _model(actual, shared + rng.normal(0, 0.4, actual.size))
    record = decide(actual, _model(actual, shared), champion, regime_labels=regime,
                    resamples=300)
    lines = format_decision(record).splitlines()
    assert lines[0] == "promotion gate (challenger_vs_champion, 1200 holdout rows): PROMOTE"
    regime_lines = [x.strip() for x in lines if x.startswith("    ")]
    assert regime_lines[0].startswith("warm accounts (seen in training): 900 rows, improvement")
    assert regime_lines[1].startswith("cold accounts (new accounts): 300 rows, improvement")
    assert all(x.endswith("]: gated, non_inferior, proven better") for x in regime_lines)


def test_bad_regime_labels_are_named():
    _, actual, shared, regime = _regimes(seed=44, n_warm=15, n_cold=5)
    model = _model(actual, shared)
    with pytest.raises(ValueError, match=r"'regime_labels' must be one of \['warm', 'cold'\]"
                                         r".*got 2 other value\(s\), e.g. 'hot'"):
        decide(actual, model, actual, regime_labels=[*regime[:18], "hot", None])
    with pytest.raises(ValueError, match=r"promotion_decision: 'regime_labels' needs one "
                                         r"label per row \(20\); got shape \(19,\)"):
        decide(actual, model, actual, regime_labels=regime[:19])
