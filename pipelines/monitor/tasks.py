"""Entry points of the drift_monitoring DAG and the ``engageflow drift`` command.

Each resolves paths and settings, then calls one stage function; each returns a small
JSON-able dict for XCom. The window comes from the run's data interval (or the form's
``window_end``), never from the clock, so a re-run judges the same week.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd

from pipelines.config import Settings, load_settings
from pipelines.orchestration import fail_fast_on_bad_input, task_logging
from pipelines.paths import ProjectPaths, project_paths

logger = logging.getLogger(__name__)

DRIFT_DAG = "drift_monitoring"
TRIGGER_TASK, NO_RETRAIN_TASK = "trigger_retraining", "no_retraining"


def monitoring_window(*, window_days: int, window_end: str, interval_end: str | None,
                      logical: str | None, newest: pd.Timestamp | None = None
                      ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of the window to judge, UTC.

    ``end`` is ``window_end`` when given. Otherwise it is the latest data: the run's data
    interval end, else its logical date (a manual run), but no later than the day after
    ``newest`` (the newest row's time) when the data ends earlier, as the demo data of
    ``make run`` does; each floored to midnight. ``start`` is ``window_days`` before it.
    A re-run judges the same window as long as its data are the same.

    Raises:
        ValueError: if no date is available.
    """
    text = window_end or interval_end or logical
    if not text:
        raise ValueError("monitoring_window: needs 'window_end', a data interval end or a "
                         "logical date; got none.")
    end = _utc(pd.Timestamp(text)).floor("D")
    if not window_end and newest is not None and not pd.isna(newest):
        end = min(end, _utc(newest).floor("D") + pd.Timedelta(days=1))
    return end - pd.Timedelta(days=window_days), end


def _utc(when: pd.Timestamp) -> pd.Timestamp:
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def no_verdict_message(decision: dict[str, Any], *, min_rows: int) -> str:
    """Why a window got no verdict, and what to change, in one line."""
    return (f"no verdict: {decision['rows_in_window']} rows in {decision['window']} from "
            f"{decision['rows_source']}, fewer than monitor.min_rows {min_rows}; widen "
            f"monitor.window_days, move monitor.window_end to where the data are, or lower "
            f"monitor.min_rows (summary: {decision['summary']})")


def judged_rows(task: Any, paths: ProjectPaths, settings: Settings
                ) -> tuple[pd.DataFrame, str]:
    """The rows the check takes its window from, and where they come from: the task's
    validated store (``monitored_rows``: the collection DAG's days for posts), or, while
    that holds nothing (right after ``make run``, before any collection run), the rows of
    the run that trained the monitored model (:mod:`pipelines.run_folders`): the task's own
    ``monitored_rows`` in that run's folder, else its validated layer.

    Raises:
        ValueError: if neither exists (the store's own message).
    """
    try:
        rows, missing = task.monitored_rows(paths), None
    except ValueError as error:
        rows, missing = None, error
    if rows is not None and len(rows):
        return rows, "the validated store"
    trained = _training_rows(task, paths, settings)
    if trained is not None:
        return trained
    if missing is not None:
        raise missing
    return rows, "the validated store (empty)"


def _training_rows(task: Any, paths: ProjectPaths, settings: Settings
                   ) -> tuple[pd.DataFrame, str] | None:
    """The validated rows of the run that registered the monitored model version, with
    their path; None when no local run folder holds them."""
    from pipelines.registry import loading, tracking
    from pipelines.run_folders import run_of_version

    tracking.connect(paths.tracking_uri)
    try:
        ref = loading.resolve(f"models:/{settings.register.model_name}@"
                              f"{settings.monitor.model_alias}")
    except LookupError:
        return None
    run = run_of_version(paths, ref.name, ref.version)
    if run is None:
        return None
    try:   # the task's own rule in the run's folder (churn: its snapshot table) ...
        rows = task.monitored_rows(run)
    except ValueError:
        rows = None
    where = run.data
    if rows is None or not len(rows):   # ... else the run's validated layer (posts)
        where = run.validated(task.input.entity)
        if not where.is_file():
            return None
        rows = pd.read_parquet(where)
    logger.info("drift: the validated store holds no %s; judging the rows %s version %s "
                "was trained on: %s", task.input.entity, ref.name, ref.version, where)
    return rows, f"the training run's rows {where}"


def check(paths: ProjectPaths, settings: Settings, *, run_key: str,
          interval_end: str | None = None, logical: str | None = None,
          rows: pd.DataFrame | None = None, report: bool = False) -> dict[str, Any]:
    """Run the drift check of ``train.task`` on :func:`judged_rows` (the validated store,
    or the monitored model's training rows while the store is empty) or on ``rows``; with
    ``report`` also the Evidently HTML report, in one go (the CLI). The decision says
    where its rows came from (``rows_source``) and whether it reached a ``verdict``."""
    from pipelines.monitor.stage import run_drift_check
    from pipelines.tasks import get_task

    task = get_task(settings.train.task)
    m = settings.monitor
    source = "the rows given"
    if rows is None:
        rows, source = judged_rows(task, paths, settings)
    time_column = task.input.time_column
    # rows without the task's time column are refused by the check, naming the task
    newest = (pd.to_datetime(rows[time_column], utc=True).max()
              if len(rows) and time_column in rows else None)
    start, end = monitoring_window(window_days=m.window_days, window_end=m.window_end,
                                   interval_end=interval_end, logical=logical, newest=newest)
    decision = run_drift_check(
        task=task, rows=rows,
        tracking_uri=paths.tracking_uri, experiment=settings.register.experiment,
        artifact_root=paths.mlflow_artifacts, model_name=settings.register.model_name,
        alias=m.model_alias, window_start=start, window_end=end,
        out_dir=paths.monitoring / f"window_end={end:%Y-%m-%d}", run_key=run_key,
        maturity_hours=settings.features.maturity_hours, min_rows=m.min_rows,
        drift_share=m.drift_share, min_effect=m.min_effect.model_dump(), chunks=m.chunks,
        quantile=m.quantile, safety_factor=m.safety_factor,
        calibration_rows=m.calibration_rows, max_error_increase=m.max_error_increase,
        min_outcomes=m.min_outcomes, report_rows=m.report_rows, seed=m.seed,
        text=task.text_drift(paths, settings), report=report,
        prediction_log_url=paths.prediction_log_url)
    return {**decision, "rows_source": source}


def report(paths: ProjectPaths, settings: Settings, *, run_key: str, summary_path: str
           ) -> dict[str, Any]:
    """Write the Evidently report of the window a drift check decided (``summary_path``)."""
    from pathlib import Path

    from pipelines.monitor.stage import run_drift_report
    from pipelines.tasks import get_task

    task = get_task(settings.train.task)
    rows, _ = judged_rows(task, paths, settings)
    return run_drift_report(
        task=task, rows=rows, tracking_uri=paths.tracking_uri,
        experiment=settings.register.experiment, artifact_root=paths.mlflow_artifacts,
        model_name=settings.register.model_name, alias=settings.monitor.model_alias,
        summary_path=Path(summary_path), run_key=run_key,
        report_rows=settings.monitor.report_rows, seed=settings.monitor.seed,
        text=task.text_drift(paths, settings))


def _settings(project_dir: str, form_params: dict[str, Any]) -> tuple[ProjectPaths, Settings]:
    paths = project_paths(project_dir)
    return paths, load_settings(paths.params_file, form_params)


@fail_fast_on_bad_input
@task_logging
def drift_check_task(project_dir: str, run_id: str, form_params: dict[str, Any],
                     interval_end: str | None, logical: str | None) -> dict[str, Any]:
    """drift_monitoring: judge the run's window; returns the decision.

    Raises:
        airflow AirflowSkipException: when the window holds too few rows for a verdict
            (the summary is written and the reason logged; the task and everything after it
            end skipped, not green).
    """
    paths, settings = _settings(project_dir, form_params)
    decision = check(paths, settings, run_key=f"{DRIFT_DAG}/{run_id}",
                     interval_end=interval_end, logical=logical)
    if not decision["verdict"]:
        from airflow.sdk.exceptions import AirflowSkipException

        message = no_verdict_message(decision, min_rows=settings.monitor.min_rows)
        logger.warning("%s", message)
        raise AirflowSkipException(message)
    return decision


@fail_fast_on_bad_input
@task_logging
def drift_report_task(project_dir: str, run_id: str, form_params: dict[str, Any],
                      decision: dict[str, Any]) -> dict[str, Any]:
    """drift_monitoring: the HTML report of the check's window, beside the decision (the
    trigger and the alert do not wait for it)."""
    paths, settings = _settings(project_dir, form_params)
    return report(paths, settings, run_key=f"{DRIFT_DAG}/{run_id}",
                  summary_path=decision["summary"])


def next_task(decision: dict[str, Any]) -> str:
    """drift_monitoring's branch: the task to run after the check."""
    if decision["retrain"]:
        logger.warning("retraining: %s", decision["reason"])
        return TRIGGER_TASK
    return NO_RETRAIN_TASK


def no_retraining_task(decision: dict[str, Any]) -> dict[str, Any]:
    """drift_monitoring: say in the log that nothing is retrained, and why."""
    logger.info("no drift, no retraining: %s", decision["reason"])
    print(f"no drift, no retraining: {decision['reason']}")
    return {"retrain": False, "reason": decision["reason"]}


@fail_fast_on_bad_input
def notify_task(project_dir: str, form_params: dict[str, Any], decision: dict[str, Any]
                ) -> dict[str, Any]:
    """drift_monitoring: alert through the configured notifier (secrets from the
    environment: the webhook URL from ``monitor.webhook_url_env``)."""
    from pipelines.monitor.notifiers import notify

    _, settings = _settings(project_dir, form_params)
    m = settings.monitor
    return notify(decision, kind=m.notifier, webhook_url=os.environ.get(m.webhook_url_env),
                  smtp_host=m.smtp_host, smtp_port=m.smtp_port, sender=m.email_from,
                  recipients=m.email_to)
