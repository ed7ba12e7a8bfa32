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
from pipelines.orchestration import fail_fast_on_bad_input
from pipelines.paths import ProjectPaths, project_paths

logger = logging.getLogger(__name__)

DRIFT_DAG = "drift_monitoring"
TRIGGER_TASK, NO_RETRAIN_TASK = "trigger_retraining", "no_retraining"


def monitoring_window(*, window_days: int, window_end: str, interval_end: str | None,
                      logical: str | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of the window to judge, UTC.

    ``end`` is ``window_end`` when given, else the run's data interval end, else its
    logical date (a manual run), each floored to midnight; ``start`` is ``window_days``
    before it.

    Raises:
        ValueError: if no date is available.
    """
    text = window_end or interval_end or logical
    if not text:
        raise ValueError("monitoring_window: needs 'window_end', a data interval end or a "
                         "logical date; got none.")
    end = pd.Timestamp(text)
    end = (end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")).floor("D")
    return end - pd.Timedelta(days=window_days), end


def check(paths: ProjectPaths, settings: Settings, *, run_key: str,
          interval_end: str | None = None, logical: str | None = None,
          rows: pd.DataFrame | None = None, report: bool = False) -> dict[str, Any]:
    """Run the drift check of ``train.task`` on its validated rows in ``paths`` (the
    task's ``monitored_rows``: posts from the collection DAG's store, other entities from
    ``02_validated/<entity>.parquet``) or on ``rows``; with ``report`` also the Evidently
    HTML report, in one go (the CLI)."""
    from pipelines.monitor.stage import run_drift_check
    from pipelines.tasks import get_task

    task = get_task(settings.train.task)
    m = settings.monitor
    start, end = monitoring_window(window_days=m.window_days, window_end=m.window_end,
                                   interval_end=interval_end, logical=logical)
    return run_drift_check(
        task=task, rows=task.monitored_rows(paths) if rows is None else rows,
        tracking_uri=paths.tracking_uri, experiment=settings.register.experiment,
        artifact_root=paths.mlflow_artifacts, model_name=settings.register.model_name,
        alias=m.model_alias, window_start=start, window_end=end,
        out_dir=paths.monitoring / f"window_end={end:%Y-%m-%d}", run_key=run_key,
        maturity_hours=settings.features.maturity_hours, min_rows=m.min_rows,
        drift_share=m.drift_share, min_effect=m.min_effect.model_dump(), chunks=m.chunks,
        quantile=m.quantile, safety_factor=m.safety_factor,
        calibration_rows=m.calibration_rows, max_error_increase=m.max_error_increase,
        min_outcomes=m.min_outcomes, report_rows=m.report_rows, seed=m.seed, report=report,
        prediction_log_url=paths.prediction_log_url)


def report(paths: ProjectPaths, settings: Settings, *, run_key: str, summary_path: str
           ) -> dict[str, Any]:
    """Write the Evidently report of the window a drift check decided (``summary_path``)."""
    from pathlib import Path

    from pipelines.monitor.stage import run_drift_report
    from pipelines.tasks import get_task

    task = get_task(settings.train.task)
    return run_drift_report(
        task=task, rows=task.monitored_rows(paths), tracking_uri=paths.tracking_uri,
        experiment=settings.register.experiment, artifact_root=paths.mlflow_artifacts,
        model_name=settings.register.model_name, alias=settings.monitor.model_alias,
        summary_path=Path(summary_path), run_key=run_key,
        report_rows=settings.monitor.report_rows, seed=settings.monitor.seed)


def _settings(project_dir: str, form_params: dict[str, Any]) -> tuple[ProjectPaths, Settings]:
    paths = project_paths(project_dir)
    return paths, load_settings(paths.params_file, form_params)


@fail_fast_on_bad_input
def drift_check_task(project_dir: str, run_id: str, form_params: dict[str, Any],
                     interval_end: str | None, logical: str | None) -> dict[str, Any]:
    """drift_monitoring: judge the run's window; returns the decision."""
    paths, settings = _settings(project_dir, form_params)
    return check(paths, settings, run_key=f"{DRIFT_DAG}/{run_id}", interval_end=interval_end,
                 logical=logical)


@fail_fast_on_bad_input
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
