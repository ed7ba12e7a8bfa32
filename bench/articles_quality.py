"""Article engagement on real data through the product path: Hacker News points and
comments.

Run from the project root: ``.venv/bin/python bench/articles_quality.py``. Writes
``bench/results/articles_quality.json``; ``docs/articles.md`` reads its numbers from that
file. Needs ``../shared/data/articles/hacker_news/hacker_news.csv``; without it the
benchmark says so and exits without writing anything.

Per run (``article_points`` and ``article_comments`` with MiniLM title embeddings, and
``article_points`` without them):

1. **Train through the product**: a temporary project with the repository's params.yaml
   (``article_points.source=hacker_news``) runs every stage of
   ``pipelines.pipeline.PIPELINE`` (collect → ... → register → promote); its registered
   version is the model.
2. **Score through the product**: the registered version loaded from MLflow and the task's
   ``predict`` (what ``POST /tasks/<name>/predict`` calls) on the test part (the newest
   15 % of articles), in two regimes: *frozen* (the request columns only: author history as
   of the end of the validation part, what a client gets) and *rolling* (the test rows with
   their outcomes, so each article also sees the matured outcomes of earlier test articles).
3. **References** from the run's ``metrics.json``: the author's past median (the gate's
   naive baseline) and LightGBM without the author history, on the same rows (rolling).

Title embeddings are cached by content hash in one file shared by the runs
(``--work``/cache), so only the first run encodes the 16,855 distinct titles.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger("bench.articles")

REPO = Path(__file__).resolve().parents[1]
HN_FILE = "articles/hacker_news/hacker_news.csv"
#: The run's logical date: after every article of the file.
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
RUNS: dict[str, dict[str, Any]] = {
    "points": {"train.task": "article_points"},
    "comments": {"train.task": "article_comments"},
    "points_no_title_embeddings": {"train.task": "article_points",
                                   "article_points.title_components": 0},
    "news_shares": {"train.task": "news_shares", "news_shares.source": "online_news"},
}
NEWS_FILE = "articles/online_news/OnlineNewsPopularity.csv"
METRICS = ("mae_log", "rmse_log", "r2_log", "spearman", "r2_raw", "mae_raw", "n")


def run_one(name: str, overrides: dict[str, Any], *, data: Path, work: Path) -> dict:
    """Train one task through the pipeline in a new project and score its registered
    version on the test part."""
    import mlflow
    from quality_product import new_project, project_environment

    from pipelines.config import load_settings
    from pipelines.pipeline import PIPELINE, RunContext, run_stage
    from pipelines.tasks import get_task

    root = work / "projects" / name
    shutil.rmtree(root, ignore_errors=True)
    paths = replace(new_project(root, REPO), caption_cache=work / "cache" / "titles.parquet")
    if (work / "cache" / "models").is_dir():
        shutil.copytree(work / "cache" / "models", paths.model_cache, dirs_exist_ok=True)
    settings = load_settings(paths.params_file, {
        "article_points.source": "hacker_news",
        "article_points.path": str(data / HN_FILE), "news_shares.path": str(data / NEWS_FILE),
        **overrides})
    task = get_task(settings.train.task)
    context = RunContext(run_key=f"bench/articles/{name}", as_of=AS_OF, reports=False)
    stages: dict[str, float] = {}
    with project_environment(paths):
        for step in PIPELINE:
            started = time.perf_counter()
            run_stage(step.name, paths=paths, settings=settings, context=context)
            stages[step.name] = round(time.perf_counter() - started, 1)
            logger.info("%s: stage %s done in %.1f s", name, step.name, stages[step.name])
        if paths.model_cache.is_dir():
            shutil.copytree(paths.model_cache, work / "cache" / "models", dirs_exist_ok=True)
        registration = json.loads(paths.registration.read_text())
        uri = f"models:/{registration['model_name']}/{registration['version']}"
        model = mlflow.sklearn.load_model(uri)
        _, test = task.holdout(paths)
        actual = test[task.target].to_numpy(dtype=float)
        started = time.perf_counter()
        frozen = task.predict(model, task.model_input(test))
        seconds = time.perf_counter() - started
        rolling = task.predict(model, test)
        scored = {"frozen": _pick(task.metrics(actual, frozen)),
                  "rolling": _pick(task.metrics(actual, rolling))}
        for regime in ("warm", "cold") if "regime" in test.columns else ():
            rows = (test["regime"] == regime).to_numpy()
            scored[f"rolling_{regime}_authors"] = _pick(task.metrics(actual[rows],
                                                                    rolling[rows]))
        report = json.loads(paths.metrics.read_text())
        promotion = json.loads(paths.promotion.read_text())
    best = report["best"]
    result = {
        "task": task.name, "overrides": overrides, "model_uri": uri, "best": best,
        "stage_seconds": stages, "split": report["split"],
        "registered_model_test": scored,
        "predict_seconds_per_article": round(seconds / max(len(test), 1), 6),
        "candidates_test": {n: _pick(m["test"]) for n, m in report["candidates"].items()},
        "candidates_valid": {n: _pick(m["valid"]) for n, m in report["candidates"].items()},
        "references_test": {
            **{n: _pick(m["test"]) for n, m in report["baselines"].items()},
            **{n: _pick(m["test"]) for n, m in report["references"].items()}},
        "gate": {k: promotion.get(k) for k in ("decision", "promote", "reasons")
                 if k in promotion},
        "warm_share_of_test": (round(float((test["regime"] == "warm").mean()), 4)
                               if "regime" in test.columns else None),
    }
    logger.info("%s: registered %s: rolling r2_log %.3f mae_log %.3f; references %s", name,
                best, scored["rolling"]["r2_log"], scored["rolling"]["mae_log"],
                {n: m["mae_log"] for n, m in result["references_test"].items()})
    return result


def _pick(metrics: dict[str, float]) -> dict[str, float | None]:
    """The reported metrics, rounded; an undefined one (a constant prediction has no
    Spearman) is null, so the file stays strict JSON."""
    out: dict[str, float | None] = {}
    for key in (k for k in METRICS if k in metrics):
        value = float(metrics[key])
        out[key] = int(value) if key == "n" else (round(value, 4) if math.isfinite(value)
                                                   else None)
    return out


def main() -> int:
    """Run the benchmark; 0 on success, 0 with a message when the data is absent."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path,
                        default=REPO / ".engageflow" / "bench-cache" / "articles")
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "articles_quality.json")
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    absent = [f for f in (HN_FILE, NEWS_FILE) if not (args.data / f).is_file()]
    if absent:
        print(f"articles_quality: {absent} absent under {args.data}; nothing measured.")
        return 0
    started = time.perf_counter()
    # a partial rerun (--runs) keeps the other runs' numbers; each run is written as it ends
    results = json.loads(args.out.read_text())["runs"] if args.out.exists() else {}
    for name in args.runs:
        results[name] = run_one(name, RUNS[name], data=args.data.resolve(),
                                work=args.work.resolve())
        record = {"data": [HN_FILE, NEWS_FILE], "as_of": AS_OF.isoformat(),
                  "seed_target": "engagement R² > 0.70",
                  "machine": {"python": platform.python_version(), "cpus": "2 (shared)"},
                  "seconds_this_rerun": round(time.perf_counter() - started, 1),
                  "runs": results}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    logger.info("articles_quality: wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
