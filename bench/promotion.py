"""Benchmark: the promotion gate's speed and the sequential test's operating characteristics.

Run from the project root: ``.venv/bin/python bench/promotion.py``. Writes
``bench/results/promotion.json``:

- ``gate``: seconds for one :func:`promotion_decision` (paired bootstrap of 4 metrics, 4
  platform slices and the naive baseline on the primary metric, all from the same
  resamples) at 10k and 100k holdout rows, ``--resamples`` (2,000), rows or accounts
  resampled; best of ``--repeats``;
- ``sequential``: seeded simulations of the champion-challenger rule (the DAG's own
  :func:`decide_from_summaries`, params.yaml defaults) with a look every day: how often
  an equally good challenger is wrongly promoted or rolled back within ``--days`` looks,
  compared with a fixed-sample z-test checked daily, and how many outcomes a better and a
  worse challenger need.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from pipelines.evaluate.promotion_gate import promotion_decision
from pipelines.evaluate.sequential_test import (
    DECISIONS,
    decide_from_summaries,
    fixed_sample_half_width,
)

RESULTS = Path(__file__).resolve().parent / "results" / "promotion.json"
#: The gate settings of the likes task (params.yaml's ``promote`` section, task defaults).
GATE = {"metric": "mae_log", "secondary_metrics": ("rmse_log", "mae_raw", "spearman"),
        "first_model_bounds": {"mae_log": ("max", 1.5), "spearman": ("min", 0.3)},
        "baseline_name": "account-median baseline", "confidence": 0.95, "min_delta": 0.0,
        "non_inferiority_margin": 0.05, "min_slice_rows": 100,
        "min_baseline_improvement": 0.0, "seed": 0}
RULES = {"alpha": 0.05, "mixture_sd": 0.05, "min_outcomes": 200, "max_outcomes": 0,
         "guardrail_margin": 0.25}


def gate_seconds(rows: int, unit: str, repeats: int, resamples: int) -> float:
    rng = np.random.default_rng(0)
    actual = np.round(np.expm1(np.clip(rng.normal(4, 1.2, rows), 0, None)))
    shared = rng.normal(0, 0.55, rows)
    champion = np.expm1(np.log1p(actual) + shared + rng.normal(0, 0.3, rows))
    challenger = np.expm1(np.log1p(actual) + shared)
    baseline = np.expm1(np.log1p(actual) + shared + rng.normal(0, 0.5, rows))
    platforms = np.array(["facebook", "instagram", "x", "linkedin"])[rng.integers(0, 4, rows)]
    accounts = rng.integers(0, max(rows // 30, 2), rows).astype(str)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        promotion_decision(actual, challenger, champion, baseline=baseline,
                           slice_labels=platforms,
                           cluster_labels=accounts if unit == "account" else None,
                           resamples=resamples, **GATE)
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def simulate(sd_champion: float, sd_challenger: float, *, experiments: int, days: int,
             champion_per_day: int, challenger_per_day: int, seed: int) -> dict:
    """Seeded A/B experiments with one look a day; each stops at promote or rollback."""
    rng = np.random.default_rng(seed)
    sums = {arm: np.zeros((experiments, 2)) for arm in "ab"}
    n = {"a": 0, "b": 0}
    stopped, needed, day_of = (np.full(experiments, -1), np.zeros(experiments),
                               np.zeros(experiments))
    naive = np.zeros(experiments, dtype=bool)
    for day in range(days):
        for arm, sd, size in (("a", sd_champion, champion_per_day),
                              ("b", sd_challenger, challenger_per_day)):
            loss = np.abs(rng.normal(0, sd, (experiments, size)))
            sums[arm] += np.column_stack([loss.sum(1), (loss**2).sum(1)])
            n[arm] += size
        stats = {}
        for arm in "ab":
            mean = sums[arm][:, 0] / n[arm]
            stats[arm] = (mean, (sums[arm][:, 1] - n[arm] * mean**2) / (n[arm] - 1))
        out = decide_from_summaries(n["a"], *stats["a"], n["b"], *stats["b"], **RULES)
        final = np.isin(out["code"], [DECISIONS.index("promote"), DECISIONS.index("rollback")])
        new = final & (stopped < 0)
        stopped[new], needed[new], day_of[new] = out["code"][new], n["a"] + n["b"], day + 1
        variance = stats["a"][1] / n["a"] + stats["b"][1] / n["b"]
        if min(n["a"], n["b"]) >= RULES["min_outcomes"]:
            naive |= np.abs(out["difference"]) > fixed_sample_half_width(
                variance, alpha=RULES["alpha"])
    decided = stopped >= 0
    return {
        "experiments": experiments, "looks": days,
        "outcomes_per_day": champion_per_day + challenger_per_day,
        "challenger_share": challenger_per_day / (champion_per_day + challenger_per_day),
        "sd_log_error": {"champion": sd_champion, "challenger": sd_challenger},
        "share_promoted": float(np.mean(stopped == DECISIONS.index("promote"))),
        "share_rolled_back": float(np.mean(stopped == DECISIONS.index("rollback"))),
        "share_undecided": float(np.mean(~decided)),
        "outcomes_needed": None if not decided.any() else {
            "median": float(np.median(needed[decided])),
            "p90": float(np.percentile(needed[decided], 90))},
        "days_needed_median": None if not decided.any() else float(np.median(day_of[decided])),
        "naive_daily_z_test_false_alarm": float(naive.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=2000,
                        help="bootstrap resamples of the gate (fewer for a quick smoke)")
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    common = {"experiments": args.experiments, "days": args.days}
    result = {
        "benchmark": "promotion",
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpus": os.cpu_count(), "processor": platform.machine()},
        "gate": {"note": f"seconds, best of repeats; {args.resamples} resamples, 4 metrics, "
                         f"4 slices, and the baseline on the primary metric",
                 **{f"{unit}_{rows // 1000}k_s": gate_seconds(rows, unit, args.repeats,
                                                             args.resamples)
                    for rows in (10_000, 100_000) for unit in ("row", "account")}},
        "sequential": {
            "rules": RULES,
            "equal_50_50": simulate(0.7, 0.7, champion_per_day=100, challenger_per_day=100,
                                    seed=1, **common),
            "equal_90_10": simulate(0.7, 0.7, champion_per_day=360, challenger_per_day=40,
                                    seed=2, **common),
            "better_50_50": simulate(0.7, 0.6, champion_per_day=100, challenger_per_day=100,
                                     seed=3, **common),
            "worse_50_50": simulate(0.7, 0.8, champion_per_day=100, challenger_per_day=100,
                                    seed=4, **common),
            "better_90_10": simulate(0.7, 0.6, champion_per_day=360, challenger_per_day=40,
                                     seed=5, **common),
        },
    }
    result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
