"""The drift check's entry points: the window follows the latest data, the rows fall back to
the monitored model's training run while the store is empty, and a window without a
verdict ends skipped (DAG) or with exit status 3 (CLI), never as a green check. Real
MLflow on SQLite, a real ridge champion trained in a run folder as `make run` leaves it."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.monitor.tasks import drift_check_task, judged_rows, monitoring_window

LATE = "2026-12-02T09:30:00+00:00"   # a manual run long after the demo data end
#: The demo champion's model and experiment (conftest) instead of params.yaml's.
FORM = {"register.model_name": "engagement-likes-drift", "register.experiment": "test"}


@pytest.fixture(scope="module")
def project(demo_champion):
    with pytest.MonkeyPatch.context() as env:
        for name in ("ENGAGEFLOW_STATE", "ENGAGEFLOW_DATA", "ENGAGEFLOW_PREDICTION_LOG_URL"):
            env.delenv(name, raising=False)
        env.setenv("MLFLOW_TRACKING_URI", demo_champion["tracking_uri"])
        yield (demo_champion["root"], demo_champion["run"], demo_champion["posts"],
               demo_champion["tracking_uri"])


def test_an_empty_window_end_follows_the_latest_data():
    newest = pd.Timestamp("2026-06-29T21:26", tz="UTC")
    start, end = monitoring_window(window_days=14, window_end="", interval_end=None,
                                   logical=LATE, newest=newest)
    assert (start, end) == (pd.Timestamp("2026-06-16", tz="UTC"),
                            pd.Timestamp("2026-06-30", tz="UTC"))
    # data newer than the run's interval: the interval decides (a re-run judges the same week)
    _, end = monitoring_window(window_days=7, window_end="", interval_end="2026-07-05",
                               logical=LATE, newest=pd.Timestamp("2026-07-09", tz="UTC"))
    assert end == pd.Timestamp("2026-07-05", tz="UTC")
    # a date given is judged as given, data or not
    _, end = monitoring_window(window_days=7, window_end="2026-03-01", interval_end=None,
                               logical=LATE, newest=newest)
    assert end == pd.Timestamp("2026-03-01", tz="UTC")


def test_an_empty_store_falls_back_to_the_champions_training_rows(project, make_settings):
    from pipelines.paths import project_paths
    from pipelines.tasks import get_task

    root, run, posts, _ = project
    rows, source = judged_rows(get_task("likes"), project_paths(root), make_settings(FORM))
    assert len(rows) == len(posts) and str(run.validated_posts) in source


def test_the_default_window_of_the_demo_run_gets_a_verdict(project):
    root, _, _, _ = project
    decision = drift_check_task(project_dir=str(root), run_id="manual__1", form_params=FORM,
                                interval_end=None, logical=LATE)
    assert decision["verdict"] is True and decision["share_drifted"] is not None
    assert decision["window"] == "2026-06-16..2026-06-30"
    assert decision["rows_in_window"] >= 100 and "training run" in decision["rows_source"]


def test_a_window_without_a_verdict_ends_skipped_with_the_reason(project):
    from airflow.sdk.exceptions import AirflowSkipException

    root, _, _, _ = project
    with pytest.raises(AirflowSkipException, match=r"no verdict: \d+ rows in 2026-06-23"
                       r"\.\.2026-06-30 .*fewer than monitor.min_rows 100"):
        drift_check_task(project_dir=str(root), run_id="manual__2", interval_end=None,
                         form_params={**FORM, "monitor.window_days": 7}, logical=LATE)


def test_the_cli_exits_3_without_a_verdict_and_each_check_is_its_own_run(project, capsys):
    import mlflow

    from pipelines.cli import NO_VERDICT_EXIT, main

    root, _, _, uri = project
    for _ in range(2):
        assert main(["drift", "--project-dir", str(root), "--window-days", "7",
                     *(f"--set={k}={v}" for k, v in FORM.items())]) == NO_VERDICT_EXIT
        assert "fewer than monitor.min_rows" in capsys.readouterr().err
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["test-monitoring"],
                              filter_string="tags.`engageflow.window` = '2026-06-23..2026-06-30'")
    cli_runs = [name for name in runs["tags.mlflow.runName"] if name.startswith("cli-drift/")]
    assert len(cli_runs) == 2 and len(set(cli_runs)) == 2
