"""Property-based: the gate's regimes on random holdouts. Hypothesis draws the holdout's
shape and the models' quality per regime; numpy draws the rows from a drawn seed, so the
values are continuous and the properties are about the rule, not about ties. Skipped where
hypothesis is not installed."""

import warnings

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipelines.evaluate.promotion_gate import promotion_decision  # noqa: E402

COUNTS = {
    "metric": "mae_log", "secondary_metrics": ("rmse_log", "spearman"),
    "first_model_bounds": {"mae_log": ("max", 1.5)},
    "baseline_name": "account-median baseline", "confidence": 0.9, "resamples": 100,
    "non_inferiority_margin": 0.05, "min_baseline_improvement": 0.0,
}


@st.composite
def holdouts(draw):
    """Counts, three models (challenger, champion, baseline) whose log noise is drawn per
    regime, regime labels, the gate's thresholds."""
    n = draw(st.integers(20, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cold_share = draw(st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]))
    regime = np.where(rng.random(n) < cold_share, "cold", "warm")
    actual = np.round(np.expm1(rng.normal(4.0, 1.0, n)))
    shared = rng.normal(0, 0.4, n)
    noise = st.sampled_from([0.0, 0.2, 0.6])

    def model(warm_noise, cold_noise):
        extra = np.where(regime == "cold", cold_noise, warm_noise) * rng.normal(0, 1, n)
        return np.expm1(np.log1p(actual) + shared + extra)

    models = [model(draw(noise), draw(noise)) for _ in range(2)]
    models.append(model(0.8, 0.8))  # a naive baseline is usually the worst
    return actual, *models, regime, {
        "min_slice_rows": draw(st.sampled_from([1, 10, 50, 1000])),
        "min_delta": draw(st.sampled_from([0.0, 0.01])),
        "seed": draw(st.integers(0, 1000)),
    }


def decide(actual, challenger, champion, baseline, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on a constant Spearman
        return promotion_decision(actual, challenger, champion, baseline=baseline,
                                  **{**COUNTS, **kwargs})


@settings(max_examples=60, deadline=None)
@given(holdouts())
def test_the_decision_follows_the_rule_stated_on_its_own_record(case):
    actual, challenger, champion, baseline, regime, limits = case
    record = decide(actual, challenger, champion, baseline, regime_labels=regime, **limits)
    event(f"{record['decision']}, carried by {record['checks'][0]['carried_by']}")
    counts = {name: int((regime == name).sum()) for name in ("warm", "cold")}
    gated = [name for name in ("warm", "cold") if counts[name] >= limits["min_slice_rows"]]
    # both regimes always shown; the small ones listed, never among the checks
    assert {k: r["n"] for k, r in record["regimes"].items()} == counts
    assert record["regimes_without_support"] == {
        k: v for k, v in counts.items() if k not in gated}
    assert [c["regime"] for c in record["checks"] if "regime" in c] == gated
    assert [k for k, r in record["regimes"].items() if r["gated"]] == gated
    # promote iff proven better overall or on a gated regime, and every check passed
    # (the improvement check carries that "or"), and not significantly worse overall
    improvement = record["checks"][0]
    proven = [scope for scope, r in (("overall", record["primary"]),
                                     *((k, record["regimes"][k]) for k in gated))
              if r["ci_low"] is not None and r["ci_low"] > limits["min_delta"]]
    assert improvement["carried_by"] == proven
    assert improvement["passed"] == bool(proven)
    everything = all(c["passed"] for c in record["checks"])
    assert record["promoted"] == (everything and record["primary"]["ci_high"] >= 0)
    # a gated regime proven inferior always rejects
    if any(record["regimes"][k]["status"] == "inferior" for k in gated):
        assert record["decision"] == "reject"


@settings(max_examples=40, deadline=None)
@given(holdouts())
def test_a_holdout_of_one_regime_decides_as_a_holdout_without_regimes(case):
    actual, challenger, champion, baseline, _, limits = case
    for mode_champion in (champion, None):
        plain = decide(actual, challenger, mode_champion, baseline, **limits)
        warm = decide(actual, challenger, mode_champion, baseline,
                      regime_labels=["warm"] * actual.size, **limits)
        assert warm["decision"] == plain["decision"]
        assert warm["regimes"]["warm"]["improvement"] == pytest.approx(
            plain["primary"]["improvement"])
        assert warm["regimes"]["cold"]["n"] == 0
        assert warm["regimes_without_support"]["cold"] == 0


@settings(max_examples=40, deadline=None)
@given(holdouts(), st.integers(0, 2**32 - 1))
def test_regime_points_do_not_depend_on_row_order(case, order_seed):
    actual, challenger, champion, baseline, regime, limits = case
    order = np.random.default_rng(order_seed).permutation(actual.size)
    record = decide(actual, challenger, champion, baseline, regime_labels=regime, **limits)
    shuffled = decide(actual[order], challenger[order], champion[order], baseline[order],
                      regime_labels=regime[order], **limits)
    for name, regime_record in record["regimes"].items():
        for key in ("reference", "candidate", "improvement"):
            if regime_record[key] is None:
                assert shuffled["regimes"][name][key] is None
            else:
                assert shuffled["regimes"][name][key] == pytest.approx(regime_record[key])
        rows = regime == name
        error = np.abs(np.log1p(np.clip(challenger[rows], 0, None)) - np.log1p(actual[rows]))
        if rows.any():
            assert regime_record["candidate"] == pytest.approx(error.mean())
