"""Click-through quality through the product path, on the Open Bandit small sample and on
the demo generator.

Run from the project root: ``.venv/bin/python bench/click_through_quality.py``. Writes
``bench/results/click_through_quality.json``; ``docs/click_through.md`` reads its numbers
from that file. Needs ``../shared/data/audience/open_bandit`` for the real-data part
(without it that part is recorded as skipped).

Per data set:

Real-data runs: the default logs (``random/men``, ``random/women``, ``bts/men``) and the
uniform-random logs alone.

1. **Train through the product**: a temporary project with the repository's params.yaml
   and ``train.task=click_through`` runs every stage of ``pipelines.pipeline.PIPELINE``
   (collect ... register, promote); the version it registered is the model.
2. **Score like serving**: the test impressions (the run's holdout: the newest
   ``click_through.test_fraction``) are sent through the task's request model (the body of
   ``POST /tasks/click_through/predict``) and :class:`pipelines.serve.task_serving.
   TaskModel` over the registered version loaded from MLflow.
3. **Judge** with the task's metrics (log-loss, normalized entropy, Brier, calibration,
   ROC-AUC) beside the position CTR and the prior rate from the training rows, plus what
   the seed's target ("click precision > 0.75") would measure: precision of the
   impressions predicted at >= 0.5, and among the top 1 % by predicted probability.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_product import new_project, project_environment  # noqa: E402

logger = logging.getLogger("bench.click_through")
REPO = Path(__file__).resolve().parents[1]
OPEN_BANDIT = REPO.parent / "shared" / "data" / "audience" / "open_bandit"
#: The run's logical date: after every impression of both sources.
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")


def precision_report(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """What a precision target measures on these predictions."""
    at_half = predicted >= 0.5
    top = np.argsort(-predicted, kind="stable")[: max(1, len(predicted) // 100)]
    return {"predicted_at_or_above_0.5": int(at_half.sum()),
            "precision_at_0.5": (float(actual[at_half].mean()) if at_half.any() else None),
            "top_1_percent_rows": len(top),
            "precision_top_1_percent": float(actual[top].mean()),
            "base_rate": float(actual.mean())}


def run(name: str, root: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Train ``name`` through every pipeline stage and score its holdout like serving."""
    import mlflow

    from pipelines.config import load_settings
    from pipelines.evaluate.binary_metrics import prior_rate_baseline
    from pipelines.pipeline import PIPELINE, RunContext, run_stage
    from pipelines.serve.task_serving import TaskModel
    from pipelines.tasks import get_task

    task = get_task("click_through")
    paths = new_project(root / name, REPO)
    settings = load_settings(paths.params_file, {"train.task": "click_through", **overrides})
    context = RunContext(run_key=f"bench/click_through/{name}", as_of=AS_OF, reports=False)
    stages, records = {}, {}
    with project_environment(paths):
        for step in PIPELINE:
            started = time.perf_counter()
            records[step.name] = run_stage(step.name, paths=paths, settings=settings,
                                           context=context)
            stages[step.name] = round(time.perf_counter() - started, 1)
        registration = json.loads(paths.registration.read_text())
        uri = f"models:/{registration['model_name']}/{registration['version']}"
        served = TaskModel(task, mlflow.sklearn.load_model(uri))
    train, test = task.holdout(paths)
    body = task.request_model(paths)
    columns = list(body.model_fields)
    sent = [body(**{c: (v.item() if hasattr(v, "item") else v) for c, v in row.items()})
            .model_dump() for row in test[columns].to_dict("records")]
    predicted = served.predict(task.request_frame(sent))
    actual = test[task.target].to_numpy(dtype=float)
    labels = train[task.target].to_numpy()
    promotion = json.loads(paths.promotion.read_text())
    metrics = json.loads(paths.metrics.read_text())

    def rounded(values: dict[str, float]) -> dict[str, float]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items()}

    by_policy = {policy: rounded(task.metrics(actual[mask], predicted[mask]))
                 for policy in sorted(test["policy"].unique())
                 if (mask := (test["policy"] == policy).to_numpy()).sum() > 0
                 and 0 < actual[mask].sum() < mask.sum()}
    result = {
        "settings": {k: v for k, v in settings.params()["click_through"].items()},
        "train_models": list(settings.train.models) or list(task.default_models),
        "split": metrics["split"],
        "registered": {"model_uri": uri, "candidate": metrics["best"]},
        "served_test": rounded(task.metrics(actual, predicted)),
        "served_test_by_policy": by_policy,
        "precision": precision_report(actual, predicted),
        "baselines_test": {
            "position_ctr": rounded(task.metrics(actual, task.baseline(train, test))),
            "prior_rate": rounded(task.metrics(actual, prior_rate_baseline(labels,
                                                                           len(test))))},
        "candidates_valid_log_loss": {n: round(c["valid"]["log_loss"], 6)
                                      for n, c in metrics["candidates"].items()},
        "candidates_test": {n: rounded({k: c["test"][k] for k in (
            "log_loss", "normalized_entropy", "roc_auc", "brier", "calibration")})
            for n, c in metrics["candidates"].items()},
        "gate": {"decision": promotion.get("decision"), "reasons": promotion.get("reasons"),
                 "primary": promotion.get("primary")},
        "stage_seconds": stages,
    }
    logger.info("%s: served test log-loss %.5f NE %.4f AUC %.3f; position CTR %.5f; gate %s",
                name, result["served_test"]["log_loss"],
                result["served_test"]["normalized_entropy"], result["served_test"]["roc_auc"],
                result["baselines_test"]["position_ctr"]["log_loss"], result["gate"]["decision"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path,
                        default=REPO / "bench" / "results" / "click_through_quality.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    out: dict[str, Any] = {"command": "python bench/click_through_quality.py",
                           "as_of": AS_OF.isoformat()}
    with tempfile.TemporaryDirectory(prefix="ctr-bench-") as folder:
        root = Path(folder)
        if OPEN_BANDIT.is_dir():
            real = {"click_through.source": "open_bandit",
                    "click_through.path": str(OPEN_BANDIT)}
            out["open_bandit"] = run("open_bandit", root, real)
            # The uniform-random logs only: no logging policy's choices in the data.
            out["open_bandit_random_logs"] = run("open_bandit_random_logs", root, {
                **real, "click_through.logs": ["random/men", "random/women"]})
        else:
            out["open_bandit"] = {"skipped": f"{OPEN_BANDIT} is absent"}
        out["demo"] = run("demo", root, {"click_through.source": "demo"})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2, default=str) + "\n")
    logger.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
