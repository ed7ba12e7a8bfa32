"""What the drift check says on the real data → bench/results/drift_real_data.json.

A champion is trained on the 2021 tweets (../shared/data/tweets_2022, the project's own
stages, ridge + lightgbm) and registered in a throw-away MLflow store; the weekly check's
function then judges (1) the March 2022 tweets, a later period of the same accounts, and
(2) the Instagram 2017 posts, a platform change. Nothing is copied into the repository.

    python bench/drift_real_data.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "drift_real_data.json"
MODEL = "engagement-likes"
SETTINGS = {"maturity_hours": 48.0, "min_rows": 100, "drift_share": 0.3,
            "min_effect": {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1},
            "chunks": 10, "quantile": 0.95, "safety_factor": 1.5, "calibration_rows": 100_000,
            "max_error_increase": 0.15, "min_outcomes": 100, "report_rows": 5000, "seed": 42}


def train_champion(posts: pd.DataFrame, work: Path) -> str:
    """Train and register a champion on ``posts`` with the project's stages; its URI."""
    from pipelines.config import FeatureSettings
    from pipelines.config.training import ScaleRelativeParams
    from pipelines.evaluate.stage import run_evaluate
    from pipelines.features.stage import run_features
    from pipelines.paths import ProjectPaths
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.train.stage import run_train

    paths = ProjectPaths(root=ROOT, state=work / "state", data=work / "train")
    paths.validated_posts.parent.mkdir(parents=True, exist_ok=True)
    posts.to_parquet(paths.validated_posts)
    run_features(paths.validated_posts, paths.features, settings=FeatureSettings())
    run_train(paths.features, paths.models, target="likes", models=("ridge", "lightgbm"),
              hyperparameters={"ridge": {"alpha": 1.0}, "lightgbm": {
                  "n_estimators": 300, "learning_rate": 0.03, "num_leaves": 15}},
              seed=42, valid_fraction=0.15, test_fraction=0.15,
              cold_account_fraction=0.0, history_dropout=0.0, cv_folds=0,
              scale=ScaleRelativeParams().model_dump())
    run_evaluate(paths.features, paths.models, paths.metrics)
    tracking_uri = f"sqlite:///{paths.state / 'mlflow.db'}"
    record = run_register(features_path=paths.features, models_dir=paths.models,
                 metrics_path=paths.metrics, validation_report=None,
                 registration_path=paths.registration, tracking_uri=tracking_uri,
                 artifact_root=paths.mlflow_artifacts, experiment="engageflow",
                 model_name=MODEL, run_key="real-data", params={}, project_root=ROOT)
    # register sets @challenger; the promotion gate would make the first model the
    # champion — here it is made champion directly (what is monitored is the point)
    move_alias(MODEL, "champion", record["version"], actor="setup",
               reason="the monitored model")
    return tracking_uri


def judge(posts: pd.DataFrame, *, tracking_uri: str, work: Path, name: str,
          start: str, end: str) -> dict:
    from pipelines.monitor.stage import run_drift_check
    from pipelines.tasks import get_task

    decision = run_drift_check(
        task=get_task("likes"), rows=posts, tracking_uri=tracking_uri,
        experiment="engageflow",
        artifact_root=work / "state" / "mlartifacts", model_name=MODEL, alias="champion",
        window_start=pd.Timestamp(start, tz="UTC"), window_end=pd.Timestamp(end, tz="UTC"),
        out_dir=work / "monitoring" / name, run_key=name, **SETTINGS)
    summary = json.loads(Path(decision["summary"]).read_text())
    drift, perf = summary["drift"], summary["realized_performance"]
    columns = drift["columns"]
    return {
        "window": decision["window"], "rows_in_window": decision["rows_in_window"],
        "retrain": decision["retrain"], "reason": decision["reason"],
        "share_drifted": round(drift["share_drifted"], 3),
        "drifted_features": drift["drifted_features"],
        "detrended": drift.get("detrended", []),
        "prediction": {k: columns["prediction"][k] for k in ("method", "score", "threshold")},
        "target": ({k: columns["target"][k] for k in ("method", "score", "threshold")}
                   if "target" in columns else None),
        "top_columns": sorted(({"column": c, "method": v["method"],
                                "score": round(v["score"], 3),
                                "threshold": round(v["threshold"], 3), "drifted": v["drifted"]}
                               for c, v in columns.items() if v["score"] is not None),
                              key=lambda r: -r["score"] / r["threshold"])[:8],
        "realized_mae_log": perf.get("mae_log"), "offline_mae_log": perf.get("offline_mae_log"),
        "outcomes": perf.get("outcomes"), "performance_loss": perf.get("performance_loss"),
        "evidently_seconds": summary["evidently"]["seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from pipelines.collect.formats import read_posts

    shared = Path(args.shared)
    tweets = read_posts(shared / "tweets_2022" / "tweets.csv", "tweets_csv").posts
    instagram = read_posts(shared / "instagram_2017" / "instagram_posts.csv",
                           "instagram_scrape_csv").posts
    year = pd.to_datetime(tweets["posted_at"], utc=True).dt.year
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tracking_uri = train_champion(tweets[year == 2021], work)
        results = {
            "tweets_2021_vs_march_2022": judge(tweets, tracking_uri=tracking_uri, work=work,
                                               name="march-2022", start="2022-03-01",
                                               end="2022-04-01"),
            "tweets_2021_vs_instagram_2017": judge(instagram, tracking_uri=tracking_uri,
                                                   work=work, name="instagram",
                                                   start="2013-01-01", end="2017-06-01"),
        }
    results["note"] = ("champion: ridge/lightgbm trained on the 2021 tweets (reference = its "
                       "time-ordered 70% training part); settings as params.yaml monitor")
    results["load_average"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
