"""drift_monitoring: each week, judge the last window against the champion's training data.

Wiring only. check → decide → trigger_retraining (engagement_training, the reason and the
judged task in its conf) → notify, or → no_retraining (the log says why); check → report
(the Evidently HTML, in parallel: the verdict, the trigger and the alert do not wait for
it). The form's ``train.task`` picks the task (and so its champion and validated rows);
the window ends at the latest data (the run's data interval end, or the day after the newest
row when the data end earlier: a re-run judges the same window) or at the form's
``monitor.window_end``. Until a collection run has filled the validated store, the rows the
champion was trained on are judged (right after ``make run``). A window with fewer than
``monitor.min_rows`` rows gets no verdict: ``check`` ends skipped with the reason in its log,
and so does everything after it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from pipelines.config import trigger_form

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
#: The params.yaml keys the trigger form shows (types, bounds, defaults: pipelines.config).
FORM = ("train.task", "monitor.window_days", "monitor.window_end", "monitor.drift_share",
        "monitor.min_effect", "monitor.max_error_increase", "monitor.notifier")


@dag(
    dag_id="drift_monitoring",
    description="Weekly drift and realized-performance check; retrain when over budget",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["engageflow", "monitoring"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form(FORM, Path(PROJECT_DIR) / "params.yaml"),
)
def drift_monitoring() -> None:
    @task
    def check(params: dict | None = None, run_id: str | None = None, dag_run=None,
              data_interval_end=None) -> dict:
        from pipelines.monitor.tasks import drift_check_task

        return drift_check_task(
            project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params),
            interval_end=str(data_interval_end) if data_interval_end else None,
            logical=(dag_run.logical_date or dag_run.run_after).isoformat())

    @task
    def report(decision: dict, params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.monitor.tasks import drift_report_task

        return drift_report_task(project_dir=PROJECT_DIR, run_id=run_id,
                                 form_params=dict(params), decision=decision)

    @task.branch
    def decide(decision: dict) -> str:
        from pipelines.monitor.tasks import next_task

        return next_task(decision=decision)

    @task
    def no_retraining(decision: dict) -> dict:
        from pipelines.monitor.tasks import no_retraining_task

        return no_retraining_task(decision=decision)

    @task
    def notify(decision: dict, params: dict | None = None) -> dict:
        from pipelines.monitor.tasks import notify_task

        return notify_task(project_dir=PROJECT_DIR, form_params=dict(params),
                           decision=decision)

    trigger = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id="engagement_training",
        conf={"reason": "{{ ti.xcom_pull(task_ids='check')['reason'] }}",
              "train.task": "{{ ti.xcom_pull(task_ids='check')['task'] }}",
              "source_dag_run": "{{ run_id }}"},
        wait_for_completion=False,
    )
    decision = check()
    report(decision)
    route = decide(decision)
    route >> [trigger, no_retraining(decision)]
    trigger >> notify(decision)


drift_monitoring()
