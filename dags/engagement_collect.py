"""engagement_collect: each day, collect → validate → publish one partition, then
materialize the account history into the feature store (``serve.history_store``).

Wiring only. The run covers one day (its data interval, or the day before it ran); re-running
a day is idempotent: raw files are content-addressed, the validated day is rewritten whole.
Publishing updates the ``engageflow_validated_posts`` Asset, which schedules
engagement_training on the new data.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, chain, dag, task

from pipelines.config import VALIDATED_POSTS_ASSET, trigger_form

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
#: The params.yaml keys the trigger form shows (types, bounds, defaults: pipelines.config).
FORM = ("collect_daily.sources", "collect.path", "collect.format", "collect_daily.demo_rows",
        "collect_daily.api_accounts", "validate.min_rows", "validate.max_quarantine_rate",
        "serve.history_store")
VALIDATED_POSTS = Asset(name=VALIDATED_POSTS_ASSET)


@dag(
    dag_id="engagement_collect",
    description="Collect, validate and publish one day of posts",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["engageflow", "collection"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form(FORM, Path(PROJECT_DIR) / "params.yaml"),
)
def engagement_collect() -> None:
    @task
    def collect(params: dict | None = None, run_id: str | None = None, dag_run=None,
                logical_date=None, data_interval_start=None, data_interval_end=None) -> dict:
        from pipelines.orchestration import collect_day_task, partition_date

        day = partition_date(str(data_interval_start or ""), str(data_interval_end or ""),
                             (logical_date or dag_run.run_after).isoformat())
        return {"date": day, "sources": collect_day_task(
            project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params), logical_date=day)}

    @task
    def validate(collected: dict, params: dict | None = None, run_id: str | None = None,
                 dag_run=None) -> dict:
        from pipelines.orchestration import validate_day_task

        return validate_day_task(project_dir=PROJECT_DIR, run_id=run_id,
                                 form_params=dict(params), logical_date=collected["date"],
                                 as_of=dag_run.run_after.isoformat())

    @task(outlets=[VALIDATED_POSTS])
    def publish(collected: dict, validation: dict) -> dict:
        from pipelines.orchestration import publish_day_task

        return publish_day_task(project_dir=PROJECT_DIR, logical_date=collected["date"],
                                validation=validation)

    @task
    def materialize_history(published: dict, params: dict | None = None,
                            run_id: str | None = None) -> dict:
        from pipelines.orchestration import materialize_history_task

        return materialize_history_task(project_dir=PROJECT_DIR, run_id=run_id,
                                        form_params=dict(params))

    collected = collect()
    validation = validate(collected)
    published = publish(collected, validation)
    chain(collected, validation, published, materialize_history(published))


engagement_collect()
