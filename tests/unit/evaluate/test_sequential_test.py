"""The anytime-valid sequential test: error control under daily looks, power, the rules."""

import math

import numpy as np
import pytest

from pipelines.evaluate.sequential_test import (
    DECISIONS,
    confidence_sequence_half_width,
    decide_from_summaries,
    fixed_sample_half_width,
    mixture_log_likelihood_ratio,
    sequential_decision,
)

RULES = {"alpha": 0.05, "mixture_sd": 0.05, "min_outcomes": 200, "max_outcomes": 0,
         "guardrail_margin": 0.25}


def _simulate(sd_champion: float, sd_challenger: float, *, experiments: int = 1000,
              days: int = 60, champion_per_day: int = 100, challenger_per_day: int = 100,
              seed: int = 0) -> dict:
    """Many seeded A/B experiments looked at once a day with the DAG's own rule.

    Losses are |log errors| of two models with normal log errors of the given sds; each
    experiment stops at its first promote or rollback. Returns the share of experiments
    ending in each decision, the outcomes they needed, and what a naive daily z-test
    would have done.
    """
    rng = np.random.default_rng(seed)
    sums = {arm: np.zeros((experiments, 2)) for arm in ("a", "b")}
    n = {"a": 0, "b": 0}
    stopped = np.full(experiments, -1)
    needed = np.zeros(experiments)
    naive_fired = np.zeros(experiments, dtype=bool)
    for _ in range(days):
        for arm, sd, size in (("a", sd_champion, champion_per_day),
                              ("b", sd_challenger, challenger_per_day)):
            loss = np.abs(rng.normal(0, sd, (experiments, size)))
            sums[arm] += np.column_stack([loss.sum(1), (loss**2).sum(1)])
            n[arm] += size
        stats = {}
        for arm in ("a", "b"):
            mean = sums[arm][:, 0] / n[arm]
            stats[arm] = (mean, (sums[arm][:, 1] - n[arm] * mean**2) / (n[arm] - 1))
        out = decide_from_summaries(n["a"], *stats["a"], n["b"], *stats["b"], **RULES)
        final = np.isin(out["code"], [DECISIONS.index("promote"), DECISIONS.index("rollback")])
        new = final & (stopped < 0)
        stopped[new] = out["code"][new]
        needed[new] = n["a"] + n["b"]
        variance = stats["a"][1] / n["a"] + stats["b"][1] / n["b"]
        ready = min(n["a"], n["b"]) >= RULES["min_outcomes"]
        naive_fired |= ready & (np.abs(out["difference"]) >
                                fixed_sample_half_width(variance, alpha=RULES["alpha"]))
    share = {name: float(np.mean(stopped == code)) for code, name in enumerate(DECISIONS)}
    return {"share": share, "median_outcomes": float(np.median(needed[stopped >= 0]))
            if (stopped >= 0).any() else None, "naive": float(naive_fired.mean())}


def test_false_decisions_stay_below_alpha_under_60_daily_looks():
    result = _simulate(0.7, 0.7)  # the challenger is exactly as good
    share = result["share"]
    assert share["promote"] <= RULES["alpha"]
    assert share["promote"] + share["rollback"] <= RULES["alpha"]
    # the same data checked daily with a fixed-sample z-test is fooled far more often
    assert result["naive"] > 3 * RULES["alpha"]


def test_false_promotions_stay_below_alpha_with_a_10_percent_challenger_split():
    share = _simulate(0.7, 0.7, champion_per_day=360, challenger_per_day=40, seed=1)["share"]
    assert share["promote"] <= RULES["alpha"]


def test_a_known_better_challenger_is_promoted():
    result = _simulate(0.7, 0.6, experiments=400, days=30, seed=2)
    assert result["share"]["promote"] >= 0.95 and result["share"]["rollback"] == 0
    assert result["median_outcomes"] < 3000


def test_a_known_worse_challenger_is_rolled_back():
    result = _simulate(0.7, 0.8, experiments=400, days=30, seed=3)
    assert result["share"]["rollback"] >= 0.95 and result["share"]["promote"] == 0


def test_the_sequence_is_where_the_likelihood_ratio_reaches_one_over_alpha():
    variance, tau, alpha = 0.0004, 0.05, 0.05
    half = confidence_sequence_half_width(variance, tau=tau, alpha=alpha)
    at_edge = mixture_log_likelihood_ratio(half, variance, tau=tau)
    assert float(at_edge) == pytest.approx(math.log(1 / alpha))
    # wider than a one-look z-interval: the price of looking every day
    assert half > fixed_sample_half_width(variance, alpha=alpha)


def test_rules_wait_then_decide():
    rng = np.random.default_rng(4)
    few = sequential_decision(np.abs(rng.normal(0, 0.7, 150)), np.abs(rng.normal(0, 0.3, 900)),
                              **RULES)
    assert few["decision"] == "keep_testing" and "waiting for outcomes" in few["reason"]

    better = sequential_decision(np.abs(rng.normal(0, 0.7, 2000)),
                                 np.abs(rng.normal(0, 0.55, 2000)), **RULES)
    assert better["decision"] == "promote" and better["cs_high"] < 0
    assert better["log_likelihood_ratio"] > better["threshold_log_lr"]

    worse = sequential_decision(np.abs(rng.normal(0, 0.6, 2000)),
                                np.abs(rng.normal(0, 0.7, 2000)), **RULES)
    assert worse["decision"] == "rollback" and worse["cs_low"] > 0
    assert "significantly worse" in worse["reason"]


def test_guardrail_rolls_back_a_much_worse_challenger_before_significance():
    champion = np.full(200, 0.5) + np.tile([-0.4, 0.4], 100)  # mean 0.5, large spread
    challenger = champion * 1.3
    record = sequential_decision(champion, challenger,
                                 **{**RULES, "alpha": 0.001, "guardrail_margin": 0.25})
    assert record["cs_low"] < 0 < record["cs_high"], "not significant at alpha 0.001"
    assert record["decision"] == "rollback" and "guardrail breach" in record["reason"]


def test_max_outcomes_ends_an_endless_test():
    rng = np.random.default_rng(5)
    losses = np.abs(rng.normal(0, 0.7, 600))
    record = sequential_decision(losses, losses[::-1].copy(),
                                 **{**RULES, "min_outcomes": 200, "max_outcomes": 500})
    assert record["decision"] == "stop_inconclusive"


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="need alpha in"):
        sequential_decision([1.0] * 5, [1.0] * 5, **{**RULES, "alpha": 0.7})
