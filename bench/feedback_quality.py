"""Benchmark: feedback_sentiment model families on the two real feedback datasets, through
the product's own path.

Run from the project root: ``.venv/bin/python bench/feedback_quality.py``. For each
dataset it runs the CLI stages (collect, validate, features, train, evaluate, refit,
register, promote) with ``train.task=feedback_sentiment``, every family in
``train.models`` and one campaign held out (the unseen-campaign slice), each dataset in its
own data folder and MLflow store under ``--work``. It writes
``bench/results/feedback_quality.json``: per dataset, the test metrics of every candidate
and baseline (all test rows, the unseen campaign, the seen campaigns), the VADER
thresholds, the language counts and the gate's decision on the best candidate.

``--embedding-cache`` seeds each data folder's caption cache (MiniLM embeddings by content
hash) so a rerun does not encode 32k texts again; the numbers do not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "feedback_quality.json"
FAMILIES = ("vader", "minilm_linear", "categorical_nb", "gaussian_nb", "text_demographics")
DATASETS = {
    "airline_tweets": ("../shared/data/feedback/airline_tweets/Tweets.csv", "Delta"),
    "womens_reviews": ("../shared/data/feedback/womens_reviews/reviews.csv", "Jackets"),
}
STAGES = ("collect", "validate", "features", "train", "evaluate", "refit", "register",
          "promote")
KEEP = ("multiclass_log_loss", "macro_f1", "accuracy", "ece", "recall_negative",
        "recall_neutral", "recall_positive")


def run_dataset(name: str, csv: str, holdout: str, work: Path, cache: Path | None,
                seed: int, first: str) -> dict:
    data, state = work / name / "data", work / name / "state"
    stages = STAGES[STAGES.index(first):]
    if first == STAGES[0] and data.exists():
        shutil.rmtree(data)
    if state.exists():               # a fresh MLflow store: the gate judges a first model
        shutil.rmtree(state)
    if first == STAGES[0]:
        (data / "03_features").mkdir(parents=True)
        if cache is not None and cache.exists():
            shutil.copy(cache, data / "03_features" / "caption_embeddings.parquet")
    model_cache = ROOT / ".engageflow" / "cache" / "models"
    if model_cache.exists():                 # the exported ONNX model: no re-export
        shutil.copytree(model_cache, state / "cache" / "models")
    env = {**os.environ, "ENGAGEFLOW_STATE": str(state), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    sets = ["train.task=feedback_sentiment", f"train.models=[{','.join(FAMILIES)}]",
            f"train.seed={seed}", f"feedback_sentiment.source={name}",
            f"feedback_sentiment.path={csv}", f"feedback_sentiment.holdout_campaign={holdout}"]
    seconds = {}
    for stage in stages:
        started = time.perf_counter()
        command = [sys.executable, "-m", "pipelines.cli", stage, "--data-dir", str(data)]
        for item in sets:
            command += ["--set", item]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{name}: {stage} failed:\n{done.stderr[-3000:]}")
        seconds[stage] = round(time.perf_counter() - started, 1)
        print(f"{name}: {stage} done in {seconds[stage]} s", flush=True)
    reporting = data / "05_reporting"
    metrics = json.loads((reporting / "metrics.json").read_text())
    gate = json.loads((reporting / "promotion.json").read_text())
    features = json.loads((data / "03_features" / "feedback.json").read_text())
    manifest = json.loads((data / "04_models" / "manifest.json").read_text())

    def slim(record: dict) -> dict:
        out = {}
        for part in ("test", "test_unseen_campaign", "test_seen_campaigns", "valid"):
            if part in record:
                out[part] = {k: round(record[part][k], 4) for k in KEEP if k in record[part]}
        return out

    return {
        "csv": csv, "holdout_campaign": holdout, "rows": metrics["rows"],
        "languages": features["languages"], "best": metrics["best"],
        "candidates": {n: {**slim(r), "test_abstained_not_english":
                           r["test_abstained_not_english"]}
                       for n, r in metrics["candidates"].items()},
        "baselines": {n: slim(r) for n, r in metrics["baselines"].items()},
        "vader_thresholds": manifest["candidates"]["vader"].get("thresholds"),
        "class_counts_train": manifest["class_counts"],
        "gate": {"decision": gate["decision"],
                 "checks": [{k: c.get(k) for k in ("name", "passed", "value")}
                            for c in gate.get("checks", [])]},
        "stage_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / ".engageflow" / "bench_feedback")
    parser.add_argument("--embedding-cache", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=tuple(DATASETS), default=None)
    parser.add_argument("--from-stage", choices=STAGES, default=STAGES[0],
                        help="rerun from this stage on the data folders of an earlier run "
                             "(with a fresh MLflow store)")
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = {**previous.get("datasets", {})}
    for name, (csv, holdout) in DATASETS.items():
        if args.only and name != args.only:
            continue
        results[name] = run_dataset(name, csv, holdout, args.work, args.embedding_cache,
                                    args.seed, args.from_stage)
    RESULTS.write_text(json.dumps({
        "command": "bench/feedback_quality.py", "families": list(FAMILIES),
        "seed": args.seed, "datasets": results}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
