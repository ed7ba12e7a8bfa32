"""The drift_monitoring DAG in real Airflow (SQLite) against a real MLflow champion: a quiet
week does not retrain; a shifted week triggers engagement_training with the reason."""

from __future__ import annotations

import json
import sqlite3

import pytest
from airflow_helpers import run_airflow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def monitored(airflow_home, ridge_champion):
    """A champion registered in the Airflow home's MLflow, and a validated store holding
    its own data (through June 2026) plus a shifted July."""
    import pandas as pd

    from pipelines.collect.demo_data import generate_posts
    from pipelines.paths import ProjectPaths

    home, env = airflow_home
    paths = ProjectPaths(root=home, state=home / "state", data=home / "train")
    posts = generate_posts(3000, accounts=40, seed=3)
    paths.validated_posts.parent.mkdir(parents=True)
    posts.to_parquet(paths.validated_posts)
    ridge_champion(paths, tracking_uri=env["MLFLOW_TRACKING_URI"],
                   model_name="engagement-likes", experiment="engageflow", run_key="seed")
    july = posts[posts["posted_at"] >= pd.Timestamp("2026-05-04", tz="UTC")].copy()
    july["post_id"] = "july-" + july["post_id"]
    july["posted_at"] = july["posted_at"] + pd.Timedelta(days=61)  # into July-August
    july["collected_at"] = july["collected_at"] + pd.Timedelta(days=61)
    july["followers_at_post_time"] = (july["followers_at_post_time"] * 8).astype("Int64")
    july["platform"] = "instagram"
    store = home / "data" / "02_validated" / "date=2026-06-30"
    store.mkdir(parents=True)
    pd.concat([posts, july]).to_parquet(store / "posts.parquet")
    return home, env


def _training_runs(home) -> list[dict]:
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        rows = db.execute("select conf from dag_run where dag_id = 'engagement_training'")
        return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]


def _task_states(home) -> dict[str, str]:
    """The task states of the latest drift_monitoring run."""
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        rows = db.execute("select task_id, state from task_instance where dag_id = "
                          "'drift_monitoring' and run_id = (select run_id from dag_run where "
                          "dag_id = 'drift_monitoring' order by id desc limit 1)")
        return dict(rows.fetchall())


def test_a_quiet_week_does_not_retrain_and_says_so(monitored):
    home, env = monitored
    done = run_airflow(["dags", "test", "drift_monitoring", "-c",
                        json.dumps({"monitor.window_end": "2026-06-29",
                                    "monitor.window_days": 56})], env)
    summary = json.loads((home / "data" / "06_monitoring" / "window_end=2026-06-29" /
                          "drift_summary.json").read_text())
    assert summary["retrain"] is False, summary["reason"]
    assert summary["drift"]["dataset_drift"] is False
    assert _training_runs(home) == []
    assert _task_states(home) == {"check": "success", "decide": "success",
                                  "report": "success", "no_retraining": "success",
                                  "trigger_retraining": "skipped", "notify": "skipped"}
    # the report task wrote the HTML beside the decision's summary and recorded it there
    report = home / "data" / "06_monitoring" / "window_end=2026-06-29" / "drift_report.html"
    assert report.stat().st_size > 10_000
    summary = json.loads(report.with_name("drift_summary.json").read_text())
    assert summary["report"] == str(report)
    assert summary["evidently"]["columns"]["prediction"]["threshold"] == \
        summary["drift"]["columns"]["prediction"]["threshold"]
    # `dags test` runs the tasks in its own process: their log lines are its output
    assert "no drift, no retraining" in done.stdout + done.stderr


def test_a_shifted_week_triggers_training_with_the_reason(monitored):
    home, env = monitored
    # The Evidently report (~30 s of plotly figures) is what the quiet week checks; here
    # Airflow marks it done unrun, and the check, decision and trigger run for real.
    run_airflow(["dags", "test", "drift_monitoring", "-c",
                 json.dumps({"monitor.window_end": "2026-08-29",
                             "monitor.window_days": 56}),
                 "--mark-success-pattern", "^report$"], env)
    runs = _training_runs(home)
    assert len(runs) == 1, runs
    assert "prediction drift" in runs[0]["reason"]
    assert "log_followers" in runs[0]["reason"] or "platform" in runs[0]["reason"]
    summary = json.loads((home / "data" / "06_monitoring" / "window_end=2026-08-29" /
                          "drift_summary.json").read_text())
    assert summary["retrain"] is True
    states = _task_states(home)
    assert states["trigger_retraining"] == "success" and states["no_retraining"] == "skipped"
