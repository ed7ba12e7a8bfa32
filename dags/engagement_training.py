"""engagement_training: collect → validate → features → train → evaluate → register →
promotion_gate.

register makes the new version ``@challenger``; promotion_gate judges it against
``@champion`` on the run's holdout (paired bootstrap, non-inferiority on secondary metrics
and platform slices; the first model against absolute thresholds and the naive baseline)
and moves the aliases. A challenger that does not pass is a normal outcome, not a failure.

Wiring only: each task calls one ``pipelines.orchestration`` function. Defaults of the
trigger form come from params.yaml; a run writes to its own folder under .engageflow/runs/.
Scheduled by data: a new validated day from engagement_collect starts a run that trains on
the whole validated store; a manual run uses the form's source (demo data by default).
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
FORM = ("collect.source", "collect.path", "collect.format", "collect.demo_rows",
        "collect.seed", "validate.min_rows", "validate.max_quarantine_rate",
        "validate.max_platform_share", "train.task", "train.models", "train.seed",
        "train.test_fraction", "register.model_name", "segments.only")


@dag(
    dag_id="engagement_training",
    description="Train, evaluate, register and gate the engagement model",
    schedule=[Asset(name=VALIDATED_POSTS_ASSET)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["engageflow", "training"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=20), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form(FORM, Path(PROJECT_DIR) / "params.yaml"),
)
def engagement_training() -> None:
    @task
    def collect(params: dict | None = None, run_id: str | None = None,
                triggering_asset_events=None) -> dict:
        from pipelines.orchestration import collect_task

        return collect_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params),
                            asset_triggered=bool(triggering_asset_events))

    @task
    def validate(params: dict | None = None, run_id: str | None = None,
                 dag_run=None) -> dict:
        from pipelines.orchestration import validate_task

        return validate_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params),
                             as_of=dag_run.run_after.isoformat())

    @task
    def build_features(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.orchestration import features_task

        return features_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    @task
    def train(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.orchestration import train_task

        return train_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    @task
    def evaluate(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.orchestration import evaluate_task

        return evaluate_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    @task
    def register(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.orchestration import register_task

        return register_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    @task
    def promotion_gate(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.orchestration import promotion_gate_task

        return promotion_gate_task(project_dir=PROJECT_DIR, run_id=run_id,
                                   form_params=dict(params))

    @task
    def segments(params: dict | None = None, run_id: str | None = None,
                 dag_run=None) -> dict:
        from pipelines.orchestration import segments_task

        return segments_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params),
                             as_of=dag_run.run_after.isoformat())

    chain(collect(), validate(), build_features(), train(), evaluate(), register(),
          promotion_gate(), segments())


engagement_training()
