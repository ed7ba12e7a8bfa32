"""Benchmark: account-history features on 100k demo posts and 1M synthetic posts.

Run from the project root: ``.venv/bin/python bench/account_history.py``. Writes
``bench/results/account_history.json`` (timings in seconds, best of ``--repeats``).

The 100k set comes from the seeded demo generator (60-odd accounts would make per-account
histories unrealistically long, so it uses 1,000). The 1M set is built directly here, 10k
accounts with heavy-tailed activity, because the demo generator builds captions row by row
and takes minutes at that size; the features only read ids, times and counts anyway.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.collect.demo_data import generate_posts
from pipelines.features.account_history import (
    AccountHistory,
    account_history_features,
    interaction_features,
)

logger = logging.getLogger("bench.account_history")

RESULTS = Path(__file__).resolve().parent / "results" / "account_history.json"
PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def synthetic_posts(rows: int, accounts: int, seed: int) -> pd.DataFrame:
    """A canonical-enough frame: ids, platform, content, a year of times, counts."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, accounts)
    account = rng.choice(accounts, size=rows, p=activity / activity.sum())
    followers0 = np.clip(rng.lognormal(np.log(20_000), 1.6, accounts), 50, 5e8)
    seconds = rng.integers(0, 365 * 86_400, rows)
    followers = np.round(followers0[account] * np.exp(0.0015 * seconds / 86_400))
    likes = rng.poisson(np.exp(np.log(followers) - 4.0 + rng.normal(0, 0.7, rows)))
    return pd.DataFrame({
        "post_id": np.char.add("s", np.arange(rows).astype(str)),
        "platform": rng.choice(["instagram", "facebook", "linkedin", "twitter"], rows),
        "account_id": np.char.add("acct", account.astype(str)),
        "posted_at": pd.Timestamp("2025-07-01T00:00:00Z") + pd.to_timedelta(seconds, unit="s"),
        "content_type": rng.choice(["image", "video", "text"], rows),
        "followers_at_post_time": pd.array(followers.astype(np.int64), dtype="Int64"),
        "likes": pd.array(likes, dtype="Int64"),
        "comments": pd.array(rng.poisson(likes * 0.03), dtype="Int64"),
        "shares": pd.array(rng.poisson(likes * 0.1), dtype="Int64"),
    })


def best_of(repeats: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def bench_one(name: str, posts: pd.DataFrame, repeats: int) -> dict[str, object]:
    """Time the function, fit + transform on a 80/20 time split, and the interactions."""
    ordered = posts.sort_values("posted_at", kind="stable")
    cut = int(len(ordered) * 0.8)
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    from pipelines.config import load_settings

    maturity = load_settings(PARAMS).features.maturity_hours
    model = AccountHistory(maturity_hours=maturity).fit(train)
    result = {
        "rows": len(posts),
        "accounts": int(posts["account_id"].nunique()),
        "account_history_features_s": best_of(repeats, lambda: account_history_features(
            posts, maturity_hours=maturity)),
        "fit_s": best_of(repeats, lambda: AccountHistory(maturity_hours=maturity)
                          .fit(train)),
        "transform_20pct_s": best_of(repeats, lambda: model.transform(test)),
        "interaction_features_s": best_of(repeats, lambda: interaction_features(posts)),
    }
    logger.info("%s: %s", name, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    start = time.perf_counter()
    demo = generate_posts(100_000, accounts=1_000, seed=args.seed)
    demo_s = time.perf_counter() - start
    start = time.perf_counter()
    big = synthetic_posts(1_000_000, accounts=10_000, seed=args.seed)
    big_s = time.perf_counter() - start

    results = {
        "benchmark": "account_history",
        "machine": {"python": platform.python_version(), "pandas": pd.__version__,
                    "numpy": np.__version__, "cpus": os.cpu_count(),
                    "processor": platform.machine(),
                    # Other work on the machine inflates timings; this says how busy it was.
                    "load_average_1m_at_end": None},
        "repeats": args.repeats,
        "note": "seconds, best of repeats; fit = 80% of rows by time, transform = the rest",
        "demo_100k": {"generate_s": round(demo_s, 1),
                      **bench_one("demo_100k", demo, args.repeats)},
        "synthetic_1m": {"generate_s": round(big_s, 1),
                         **bench_one("synthetic_1m", big, args.repeats)},
    }
    results["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
