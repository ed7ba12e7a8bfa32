"""Per-account models vs the global model on ../shared/data/tweets_2022 (accounts as segments).

Runs the product's own stage functions: features → global training (LightGBM and ridge,
time-ordered split) → evaluation → ``run_train_segments`` with ``segment_key=account_id``.
For every account with enough labelled training posts, its own model is compared with the
level above (its platform model if that earned one, else the global model) on the account's
own slice of the test part through the promotion gate. Writes
``bench/results/segments.json``; ``docs/segments.md`` quotes it.

    python bench/segments.py [--data-dir ../shared/data] [--min-samples 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--min-samples", type=int, default=20)
    parser.add_argument("--min-holdout", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "segments.json"))
    args = parser.parse_args()

    from pipelines.collect.formats import read_posts
    from pipelines.config import FeatureSettings
    from pipelines.config.training import ScaleRelativeParams
    from pipelines.evaluate.stage import run_evaluate
    from pipelines.features.stage import run_features
    from pipelines.segments.training import run_train_segments
    from pipelines.train.stage import run_train

    started = time.perf_counter()
    posts = read_posts(Path(args.data_dir) / "tweets_2022" / "tweets.csv", "tweets_csv").posts
    posts = posts[posts["likes"].notna()].reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        posts.to_parquet(work / "posts.parquet")
        run_features(work / "posts.parquet", work / "features.parquet",
                     settings=FeatureSettings())
        run_train(work / "features.parquet", work / "models", target="likes",
                  models=("ridge", "lightgbm"), hyperparameters={}, seed=args.seed,
                  valid_fraction=0.15, test_fraction=0.2,
                  cold_account_fraction=0.0, history_dropout=0.0, cv_folds=0,
                  scale=ScaleRelativeParams().model_dump())
        report = run_evaluate(work / "features.parquet", work / "models",
                              work / "metrics.json")
        result = run_train_segments(
            work / "features.parquet", work / "models", work / "metrics.json",
            work / "segments.json", segment_key="account_id", min_samples=args.min_samples,
            min_holdout=args.min_holdout,
            gate={"resamples": args.resamples, "confidence": 0.95, "seed": args.seed,
                  "min_delta": 0.0, "non_inferiority_margin": 0.05})
    records = result["segments"]
    accounts = {k: r for k, r in records.items() if k.startswith("account=")}
    gated = {k: r for k, r in accounts.items() if "gate" in r}
    per_account = []
    for key, r in sorted(gated.items()):
        overall = r["gate"].get("primary") or {}
        per_account.append({
            "account": key.removeprefix("account="), "train_rows": r["train_rows"],
            "test_rows": r["test_rows"], "parent": r["parent"],
            "parent_mae_log": overall.get("reference"), "own_mae_log": overall.get("candidate"),
            "improvement_ci": [overall.get("ci_low"), overall.get("ci_high")],
            "decision": r["decision"], "used": r["used"]})
    own = [a for a in per_account if a["own_mae_log"] is not None]
    out = {
        "dataset": "tweets_2022", "rows": len(posts), "accounts": int(posts["account_id"]
                                                                    .nunique()),
        "global_model": report["best"],
        "global_test_mae_log": report["candidates"][report["best"]]["test"]["mae_log"],
        "min_samples": args.min_samples, "min_holdout": args.min_holdout,
        "accounts_below_min_samples": sum(1 for r in accounts.values()
                                          if r["train_rows"] < args.min_samples),
        "accounts_below_min_holdout": sum(1 for r in accounts.values()
                                          if r["train_rows"] >= args.min_samples
                                          and "gate" not in r),
        "accounts_gated": len(gated),
        "accounts_with_own_model": sum(1 for r in gated.values() if r["used"]),
        "accounts_where_own_model_was_better_on_point_estimate": sum(
            1 for a in own if a["own_mae_log"] < a["parent_mae_log"]),
        "mean_parent_mae_log_on_gated_accounts": float(np.mean([a["parent_mae_log"]
                                                                 for a in own])) if own else None,
        "mean_own_mae_log_on_gated_accounts": float(np.mean([a["own_mae_log"] for a in own]))
        if own else None,
        "platform_models": {k: {"used": r["used"], "reason": r.get("reason")}
                            for k, r in records.items() if k.startswith("platform=")},
        "per_account": per_account,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps({k: v for k, v in out.items() if k != "per_account"}, indent=2,
                     default=float))


if __name__ == "__main__":
    main()
