"""drift_monitoring: each week, judge the last window against the champion's training data.

Wiring only. check → decide → trigger_retraining (engagement_training, the reason in its
conf) → notify, or → no_retraining (the log says why); check → report (the Evidently HTML,
in parallel: the verdict, the trigger and the alert do not wait for it). The window is the
run's data interval (catchup-safe: a re-run judges the same week), or the form's Window end.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from pipelines.config import flat_defaults, load_params

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
DEFAULTS = flat_defaults(load_params(Path(PROJECT_DIR) / "params.yaml"))


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
    params={
        "window_days": Param(DEFAULTS["window_days"], type="integer", minimum=1, maximum=366,
                             title="Window (days)",
                             description="Days of validated posts judged, ending at the "
                             "window end."),
        "window_end": Param(DEFAULTS["window_end"], type="string", title="Window end",
                            description="Empty: the run's data interval end. Or a date "
                            "(YYYY-MM-DD) to judge another window."),
        "drift_share": Param(DEFAULTS["drift_share"], type="number", exclusiveMinimum=0,
                             maximum=1, title="Drift share budget",
                             description="Dataset drift when at least this share of the "
                             "model's features drifted."),
        "thresholds": Param(DEFAULTS["thresholds"], type="object", title="Minimum effects",
                            description="Threshold floor per method (wasserstein, psi, "
                            "jensenshannon); calibrated thresholds never go below them."),
        "max_error_increase": Param(DEFAULTS["max_error_increase"], type="number", minimum=0,
                                    title="Error budget",
                                    description="Retrain when the realized mae_log exceeds "
                                    "the offline test mae_log by more than this."),
        "notifier": Param(DEFAULTS["notifier"], type="string",
                          enum=["log", "webhook", "email"], title="Notifier",
                          description="Where alerts go; the webhook URL comes from the "
                          "environment, never from params."),
    },
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
              "source_dag_run": "{{ run_id }}"},
        wait_for_completion=False,
    )
    decision = check()
    report(decision)
    route = decide(decision)
    route >> [trigger, no_retraining(decision)]
    trigger >> notify(decision)


drift_monitoring()
