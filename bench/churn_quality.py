"""Churn and retention quality through the product path, and the Cookie Cats A/B record.

Run from the project root: ``.venv/bin/python bench/churn_quality.py``. Writes
``bench/results/churn_quality.json``; ``docs/churn.md`` reads its numbers from that file.
Needs ``../shared/data`` (ira_followers, audience/cookie_cats); without it the benchmark
says so and exits without writing anything.

1. **Train through the product**: a temporary project per task (the repository's
   params.yaml and expectations/, the task's ``source: file`` pointed at the real file)
   runs every stage of ``pipelines.pipeline.PIPELINE`` (collect → … → register, promote),
   as the training DAG and ``dvc repro`` do.
2. **Score through the registered model**: the registered version is loaded from the
   run's MLflow registry and scores the validation and test parts with the task's own
   ``predict``; the decision threshold is the F1-best on validation
   (:mod:`pipelines.evaluate.threshold`), precision and recall are read on test at it.
   The naive references (prior rate, the task's rule) are scored on the same rows.
3. **A/B record**: ``pipelines.evaluate.ab_test.run_ab_test`` (``engageflow ab-test``) on
   the Cookie Cats arms for 1-day and 7-day retention, with the ``champion_challenger``
   settings of params.yaml, one look and ten looks in file order; and once with no cap
   on outcomes (``max_outcomes: 0``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from quality_product import new_project, project_environment

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
IRA = SHARED / "ira_followers" / "ira_followers_daily.csv.gz"
COOKIE_CATS = SHARED / "audience" / "cookie_cats" / "cookie_cats.csv"
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
TARGETS = {"roc_auc": 0.85, "precision": 0.80, "recall": 0.75}

logger = logging.getLogger("bench.churn_quality")


def train_and_score(task_name: str, data_file: Path, root: Path) -> dict[str, Any]:
    """Every pipeline stage on ``data_file``, then the registered model on valid/test."""
    import mlflow

    from pipelines.config import load_settings
    from pipelines.evaluate.binary_metrics import binary_metrics, prior_rate_baseline
    from pipelines.evaluate.threshold import choose_threshold, precision_recall_at
    from pipelines.pipeline import PIPELINE, RunContext, run_stage
    from pipelines.tasks import get_task
    from pipelines.tasks.binary_table_task import PART

    task = get_task(task_name)
    paths = new_project(root / task_name, REPO)
    settings = load_settings(paths.params_file, {
        "train.task": task_name, f"{task_name}.source": "file",
        f"{task_name}.path": str(data_file)})
    context = RunContext(run_key=f"bench/churn_quality/{task_name}", as_of=AS_OF,
                         reports=False)
    stages, records = {}, {}
    with project_environment(paths):
        for step in PIPELINE:
            started = time.perf_counter()
            records[step.name] = run_stage(step.name, paths=paths, settings=settings,
                                           context=context)
            stages[step.name] = round(time.perf_counter() - started, 1)
            logger.info("%s: stage %s done in %.1f s", task_name, step.name, stages[step.name])
        registration = json.loads(paths.registration.read_text())
        uri = f"models:/{registration['model_name']}/{registration['version']}"
        model = mlflow.sklearn.load_model(uri)
    table = pd.read_parquet(paths.feature_table(task.table))
    train = table[table[PART] == "train"]
    parts = {p: table[table[PART] == p] for p in ("valid", "test")}
    predictors = {
        "registered_model": lambda rows: task.predict(model, rows),
        "prior_rate": lambda rows: prior_rate_baseline(train[task.target].to_numpy(),
                                                       len(rows)),
        task.gate.baseline.replace(" ", "_").replace("-", "_"):
            lambda rows: task.baseline(train, rows)}
    scored = {}
    for name, predict in predictors.items():
        predicted = {p: predict(rows) for p, rows in parts.items()}
        actual = {p: rows[task.target].to_numpy() for p, rows in parts.items()}
        threshold = choose_threshold(actual["valid"], predicted["valid"])
        scored[name] = {
            "test": binary_metrics(actual["test"], predicted["test"]),
            "test_at_threshold": precision_recall_at(actual["test"], predicted["test"],
                                                     threshold)}
    metrics = json.loads(paths.metrics.read_text())
    return {
        "model_uri": uri, "candidate": registration.get("candidate", metrics["best"]),
        "stages_seconds": stages, "collect": records["collect"],
        "validate": {k: records["validate"][k] for k in ("rows_in", "rows_accepted",
                                                         "rows_quarantined")},
        "features": {k: v for k, v in json.loads(
            paths.feature_table(task.table).with_suffix(".json").read_text()).items()
            if k in ("rows", "snapshots", "split", "horizon_days")},
        "promote": {k: records["promote"].get(k) for k in ("decision", "promoted", "reasons")
                    if k in records["promote"]},
        "evaluate_candidates_test": {n: {k: c["test"][k] for k in ("roc_auc", "log_loss",
                                                                   "brier", "calibration")}
                                     | {"at_threshold": c["decision"]["test"]}
                                     for n, c in metrics["candidates"].items()},
        "evaluate_valid": {n: {k: c["valid"][k] for k in ("roc_auc", "log_loss", "brier",
                                                          "base_rate", "mean_predicted")}
                           for n, c in {**metrics["candidates"],
                                        **metrics["baselines"]}.items()},
        "through_registered_model": scored,
        "targets": TARGETS,
    }


def ab_records() -> dict[str, Any]:
    from pipelines.config import load_settings
    from pipelines.evaluate.ab_test import run_ab_test

    base = load_settings(REPO / "params.yaml").champion_challenger
    uncapped = replace(base) if not hasattr(base, "model_copy") else base.model_copy(
        update={"max_outcomes": 0})
    out = {}
    for outcome in ("retention_1", "retention_7"):
        for label, settings, looks in (("params", base, 1), ("params_10_looks", base, 10),
                                       ("no_cap_10_looks", uncapped, 10)):
            record = run_ab_test(COOKIE_CATS, arm_column="version", outcome_column=outcome,
                                 control="gate_30", treatment="gate_40", looks=looks,
                                 settings=settings)
            record.pop("look_history")
            out[f"{outcome}/{label}"] = record
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "bench" / "results"
                                                / "churn_quality.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not IRA.exists() or not COOKIE_CATS.exists():
        print(f"churn_quality: {IRA} or {COOKIE_CATS} is missing; nothing measured.")
        sys.exit(0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as folder:
        results = {"account_churn": train_and_score("account_churn", IRA, Path(folder)),
                   "player_retention": train_and_score("player_retention", COOKIE_CATS,
                                                       Path(folder))}
    results["ab_test_cookie_cats"] = ab_records()
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["command"] = "python bench/churn_quality.py"
    Path(args.output).write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
