"""Drift monitoring of a task other than posts: the conversion champion's later sessions
against the reference logged at registration (real MLflow, SQLite in tmp_path)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from pipelines.monitor.tasks import check
from pipelines.tasks.conversion_data import INPUT_COLUMNS

#: The training months of the champion are Jan-Sep 2017 (2,000 demo sessions, test share
#: 0.2, validation share 0.15): October to December come after its reference.
AFTER_REFERENCE = {"monitor.window_end": "2018-01-01", "monitor.window_days": 92}


@pytest.fixture()
def project(conversion_champion, tmp_path, tracking_env):
    """The champion's project with its own data folder: the validated sessions the CLI
    would have written (``02_validated/sessions.parquet``), nothing else."""
    paths = replace(conversion_champion["paths"], data=tmp_path / "data")
    paths.validated("sessions").parent.mkdir(parents=True)
    shutil.copy(conversion_champion["paths"].validated("sessions"),
                paths.validated("sessions"))
    with tracking_env(conversion_champion["tracking_uri"]):
        yield paths


def settings(make_settings, **overrides):
    return make_settings({"train.task": "conversion", **AFTER_REFERENCE, **overrides})


def shifted(sessions: pd.DataFrame) -> pd.DataFrame:
    """Visitors who read three times as many pages, for three times as long, all new."""
    out = sessions.copy()
    for column in ("administrative", "informational", "product_related"):
        out[column] = out[column] * 3 + 2
    for column in ("administrative_duration", "informational_duration",
                   "product_related_duration"):
        out[column] = out[column] * 3 + 60
    out["visitor_type"] = "New_Visitor"
    return out


def summary_of(decision: dict) -> dict:
    with open(decision["summary"], encoding="utf-8") as handle:
        return json.load(handle)


def test_later_sessions_of_the_same_kind_are_not_drift(project, make_settings):
    decision = check(project, settings(make_settings), run_key="conversion-quiet",
                     logical="2026-12-01")
    summary = summary_of(decision)
    assert decision["retrain"] is False, decision["reason"]
    assert decision["reason"].startswith("no drift")
    assert decision["task"] == summary["task"] == "conversion"
    assert summary["model"] == "engagement-conversion@champion"
    assert summary["time_column"] == "month_start"
    sessions = pd.read_parquet(project.validated("sessions"))
    months = sessions["month_start"].dt.month
    assert decision["rows_in_window"] == int((months >= 10).sum()) > 500
    # a verdict per input column of the task, its prediction and its outcome
    columns = summary["drift"]["columns"]
    assert set(columns) == {*INPUT_COLUMNS, "prediction", "target"}
    assert columns["month"]["method"] == "jensenshannon"
    assert columns["weekend"]["method"] == "psi"
    assert columns["product_related_duration"]["method"] == "wasserstein"
    assert not any(c["drifted"] for c in columns.values())
    realized = summary["realized_performance"]
    assert realized["metric"] == "log_loss" and realized["judged"] is True
    assert realized["outcomes"] == decision["rows_in_window"]
    assert realized["offline_log_loss"] > 0 and realized["performance_loss"] is False
    assert summary["served_performance"] is None      # the log records no purchases
    # CBPE before the labels: expected ROC-AUC, log-loss and Brier per chunk, with bands,
    # which the matured outcomes of the same sessions fall into
    estimated = summary["estimated_performance"]
    assert estimated["method"] == "CBPE" and estimated["metric"] == "log_loss"
    assert set(estimated["window"]["estimated"]) == {"roc_auc", "log_loss", "brier"}
    assert estimated["comparison"]["chunks_compared"] == len(estimated["chunks"]) >= 2
    assert estimated["comparison"]["assumption_violated"] is None, estimated["comparison"]
    assert estimated["performance_loss"] is False


def test_a_concept_shift_is_caught_by_labels_not_by_the_estimate(project, make_settings):
    """The same sessions with their outcomes reversed (who bought now leaves, who left now
    buys): the inputs, hence the scores and the estimate, are unchanged; the labels say
    the model got worse, and the report blames the violated assumption."""
    rows = pd.read_parquet(project.validated("sessions"))
    rows["converted"] = ~rows["converted"].astype(bool)
    decision = check(project, settings(make_settings), run_key="conversion-concept",
                     logical="2026-12-01", rows=rows)
    summary = summary_of(decision)
    estimated = summary["estimated_performance"]
    assert estimated["performance_loss"] is False
    assert estimated["comparison"]["chunks_outside_band"] >= 1
    assert "concept shift" in estimated["comparison"]["verdict"]
    assert estimated["comparison"]["assumption_violated"].startswith("no concept shift")
    assert summary["drift"]["dataset_drift"] is False
    assert decision["retrain"] is True
    assert "realized performance loss: log_loss" in decision["reason"]


def test_shifted_sessions_trigger_retraining_and_get_a_report(project, make_settings):
    rows = shifted(pd.read_parquet(project.validated("sessions")))
    decision = check(project, settings(make_settings), run_key="conversion-loud",
                     logical="2026-12-01", rows=rows, report=True)
    summary = summary_of(decision)
    assert decision["retrain"] is True
    assert decision["reason"].startswith("data drift: 7 of 17 features drifted")
    assert set(summary["drift"]["drifted_features"]) == {
        "administrative", "administrative_duration", "informational",
        "informational_duration", "product_related", "product_related_duration",
        "visitor_type"}
    assert summary["evidently"]["columns"]["visitor_type"]["drifted"] is True
    assert (project.monitoring / "window_end=2018-01-01" / "drift_report.html").stat(
        ).st_size > 10_000


def test_too_few_sessions_give_no_verdict(project, make_settings):
    decision = check(project, settings(make_settings, **{"monitor.window_days": 1}),
                     run_key="conversion-empty", logical="2026-12-01")
    assert decision["retrain"] is False
    assert decision["reason"] == "too few sessions in the window for a verdict"


def test_the_champion_must_be_of_the_task_judged(project, make_settings):
    wrong = make_settings({"train.task": "likes", **AFTER_REFERENCE,
                           "register.model_name": "engagement-conversion"})
    with pytest.raises(ValueError, match="registered for task 'conversion'; got train.task "
                                         "'likes'"):
        check(project, wrong, run_key="wrong", logical="2026-12-01",
              rows=pd.read_parquet(project.validated("sessions")))


def test_a_task_without_validated_rows_names_the_file(project, make_settings):
    empty = replace(project, data=project.data / "elsewhere")
    with pytest.raises(ValueError, match=r"sessions\.parquet does not exist; run `engageflow "
                                         r"validate --set train.task=conversion`"):
        check(empty, settings(make_settings), run_key="none", logical="2026-12-01")
