"""Row weights in the promotion gate: a row of weight k counts as k rows in every metric
(rates judged per impression), ``n`` still counts rows, and bad weights are named."""

import numpy as np
import pytest

from pipelines.evaluate.gate_metrics import QuantityTable
from pipelines.evaluate.promotion_gate import promotion_decision

#: The rate task's settings (as the registry passes them for ad_rates).
RATES = {
    "metric": "rate_log_loss", "secondary_metrics": ("rate_brier", "spearman"),
    "first_model_bounds": {}, "baseline_name": "global rate", "confidence": 0.95,
    "resamples": 400, "min_delta": 0.0, "non_inferiority_margin": 0.05,
    "min_slice_rows": 20, "min_baseline_improvement": 0.0, "seed": 0,
}


def _ads(seed: int, n: int = 300):
    """Ads with heavy-tailed impressions; the true rate depends on a feature."""
    rng = np.random.default_rng(seed)
    impressions = np.round(np.exp(rng.normal(8, 1.5, n))).astype(float) + 1
    true = 1 / (1 + np.exp(-(-7 + rng.normal(0, 0.6, n))))
    clicks = rng.binomial(impressions.astype(int), true)
    return clicks / impressions, true, impressions


@pytest.mark.parametrize("metric", ["rate_log_loss", "rate_brier", "spearman"])
def test_an_integer_weight_counts_as_that_many_copies_of_the_row(metric):
    actual, predicted, _ = _ads(1, n=40)
    weights = np.random.default_rng(2).integers(1, 5, size=40).astype(float)
    weighted = QuantityTable(actual, {"m": predicted}, {}, [("", "m", metric)], weights)
    repeated = np.repeat(np.arange(40), weights.astype(int))
    copies = QuantityTable(actual[repeated], {"m": predicted[repeated]}, {},
                           [("", "m", metric)])
    value = weighted.metric(weighted.table().sum(axis=0), metric, "m", "")
    expected = copies.metric(copies.table().sum(axis=0), metric, "m", "")
    if metric == "spearman":
        # ranks stay full-holdout ranks of the distinct rows (see gate_metrics): close,
        # not equal, to ranking the copies
        assert value == pytest.approx(expected, abs=0.05)
    else:
        assert value == pytest.approx(expected, rel=1e-12)


def test_weights_change_the_verdict_and_n_counts_rows():
    actual, true, impressions = _ads(3)
    heavy = impressions > np.median(impressions)
    base = np.full_like(actual, np.average(actual, weights=impressions))
    # exact on the heavy ads, the base rate times 3 on the light ones
    challenger = np.where(heavy, true, base * 3)
    weighted = promotion_decision(actual, challenger, None, baseline=base,
                                  row_weights=impressions, **RATES)
    unweighted = promotion_decision(actual, challenger, None, baseline=base, **RATES)
    assert weighted["decision"] == "promote"
    assert unweighted["decision"] == "reject"
    assert weighted["settings"]["row_weights"] is True
    assert unweighted["settings"]["row_weights"] is False
    [check] = [c for c in weighted["checks"] if c["name"].startswith("beats baseline")]
    assert check["n"] == len(actual)
    loss = -(actual * np.log(base) + (1 - actual) * np.log(1 - base))
    assert check["reference"] == pytest.approx(np.average(loss, weights=impressions))


@pytest.mark.parametrize(("weights", "message"), [
    (np.zeros(300), "must be finite and > 0"),
    (np.full(300, np.nan), "must be finite and > 0"),
    (np.ones(299), "one weight per row"),
])
def test_bad_weights_are_named(weights, message):
    actual, true, _ = _ads(4)
    with pytest.raises(ValueError, match=f"row_weights.*{message}"):
        promotion_decision(actual, true, None, baseline=true, row_weights=weights, **RATES)


def test_a_rate_above_one_is_refused_for_rate_metrics():
    actual, true, impressions = _ads(5)
    actual[0] = 1.5
    with pytest.raises(ValueError, match="observed rates in"):
        promotion_decision(actual, true, None, baseline=true, row_weights=impressions,
                           **RATES)
