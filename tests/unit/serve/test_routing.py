"""Routing: sticky hashing is stable and shares as configured; Thompson sampling converges
to the better arm and never starves an arm below the exploration floor."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipelines.serve.routing import (
    RewardStats,
    StickyRouter,
    ThompsonRouter,
    rewards_by_arm,
    stable_bucket,
)

BOTH = ("champion", "challenger")


def test_sticky_is_stable_across_processes_and_shares_as_configured():
    code = ("from pipelines.serve.routing import stable_bucket;"
            "print(repr(stable_bucket('acct-42')))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PYTHONPATH": "."})
    assert float(other.stdout) == stable_bucket("acct-42")

    router = StickyRouter(0.2)
    arms = [router.choose(f"acct-{i}", BOTH) for i in range(20_000)]
    assert 0.19 < arms.count("challenger") / len(arms) < 0.21
    assert all(router.choose(f"acct-{i}", BOTH) == arms[i] for i in range(500))
    assert router.choose("acct-1", ("champion",)) == "champion"
    assert {StickyRouter(0.0).choose(f"a{i}", BOTH) for i in range(200)} == {"champion"}
    assert {StickyRouter(1.0).choose(f"a{i}", BOTH) for i in range(200)} == {"challenger"}


def test_sticky_rejects_a_bad_share():
    with pytest.raises(ValueError, match=r"'challenger_share' must be a number in \[0, 1\]; "
                                         r"got 1.5"):
        StickyRouter(1.5)


def _simulate(router: ThompsonRouter, true_error: dict[str, float], rounds: int,
              per_round: int, seed: int) -> list[dict[str, float]]:
    """Serve rounds of requests; after each, update the router with realized rewards."""
    rng = np.random.default_rng(seed)
    rewards: dict[str, list[float]] = {a: [] for a in BOTH}
    shares = []
    for _ in range(rounds):
        chosen = [router.choose("", BOTH) for _ in range(per_round)]
        for arm in chosen:
            rewards[arm].append(-abs(rng.normal(0, true_error[arm])))
        router.update({a: RewardStats.of(np.array(r)) for a, r in rewards.items()})
        shares.append({a: chosen.count(a) / per_round for a in BOTH})
    return shares


def test_thompson_converges_to_the_better_arm_and_keeps_the_floor():
    router = ThompsonRouter(exploration_floor=0.05, seed=1)
    shares = _simulate(router, {"champion": 0.8, "challenger": 0.4}, rounds=30,
                       per_round=200, seed=2)
    final = router.allocation(BOTH, draws=4000)
    assert final["challenger"] > 0.9                  # the better arm wins the traffic
    assert final["champion"] >= 0.04                  # ... but the floor holds (5% +- noise)
    # the served share over the last 2,000 requests: the floor (5%), not starvation
    assert np.mean([s["champion"] for s in shares[-10:]]) >= 0.04
    # and it converges the other way round too
    flipped = ThompsonRouter(exploration_floor=0.1, seed=3)
    _simulate(flipped, {"champion": 0.3, "challenger": 0.9}, rounds=30, per_round=200, seed=4)
    alloc = flipped.allocation(BOTH, draws=4000)
    assert alloc["champion"] > 0.85 and alloc["challenger"] >= 0.08


def test_thompson_is_seeded_and_splits_evenly_without_data():
    first = [ThompsonRouter(exploration_floor=0.05, seed=9).choose("", BOTH) for _ in range(1)]
    a, b = (ThompsonRouter(exploration_floor=0.05, seed=9) for _ in range(2))
    assert [a.choose("", BOTH) for _ in range(300)] == [b.choose("", BOTH) for _ in range(300)]
    assert first
    even = ThompsonRouter(exploration_floor=0.05, seed=5).allocation(BOTH, draws=4000)
    assert 0.4 < even["challenger"] < 0.6
    assert ThompsonRouter(exploration_floor=0.05, seed=5).choose("", ("champion",)) == "champion"
    with pytest.raises(ValueError, match="'exploration_floor' must be a number in"):
        ThompsonRouter(exploration_floor=0.7, seed=0)


def test_rewards_by_arm_uses_current_versions_only():
    pairs = pd.DataFrame({"arm": ["champion", "champion", "challenger", "challenger"],
                          "model_version": ["1", "1", "2", "3"],
                          "prediction": [9.0, 0.0, 3.0, 100.0], "actual": [9.0, 1.0, 3.0, 0.0]})
    stats = rewards_by_arm(pairs, {"champion": "1", "challenger": "2"})
    assert stats["champion"].n == 2 and stats["challenger"].n == 1
    assert stats["champion"].mean == pytest.approx(-np.log(2) / 2)
    assert stats["challenger"].mean == 0.0
    assert rewards_by_arm(pairs)["challenger"].n == 2
