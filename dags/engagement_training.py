"""engagement_training: the training pipeline of the task chosen in the form
(``train.task``: likes, comments, shares, follower_growth, ...): collect → validate →
features → train → evaluate → refit → register → promote → segments.

One Airflow task per stage of ``pipelines.pipeline.PIPELINE`` (the order is written there
once; dvc.yaml and the CLI derive from it too). register makes the new version
``@challenger``; promote judges it (paired bootstrap on the task's holdout against
``@champion`` and the naive baseline) and moves the aliases — a challenger that does not
pass is a normal outcome, not a failure. Defaults of the trigger form come from
params.yaml; a run writes to its own folder under .engageflow/runs/. Scheduled by data: a
new validated day from engagement_collect starts a run that trains on the validated store.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, chain, dag, task

from pipelines.config import VALIDATED_POSTS_ASSET, task_section_keys, trigger_form
from pipelines.pipeline import STAGE_NAMES

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
FORM_KEYS = (
    "train.task", "collect.source", "collect.path", "collect.format", "collect.demo_rows",
    "collect.seed", "validate.min_rows", "validate.max_quarantine_rate",
    "validate.max_platform_share", "train.models", "train.seed", "train.test_fraction",
    "register.model_name", "segments.only",
)


@dag(
    dag_id="engagement_training",
    description="Train, evaluate, register and gate the model of a task",
    schedule=[Asset(name=VALIDATED_POSTS_ASSET)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["engageflow", "training"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=20), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form((*FORM_KEYS, *task_section_keys()), Path(PROJECT_DIR) / "params.yaml"),
)
def engagement_training() -> None:
    def stage_task(stage: str):
        @task(task_id=stage)
        def run(params: dict | None = None, run_id: str | None = None, dag_run=None,
                triggering_asset_events=None) -> dict:
            from pipelines.orchestration import training_stage_task

            return training_stage_task(
                stage=stage, project_dir=PROJECT_DIR, run_id=run_id,
                form_params=dict(params), as_of=dag_run.run_after.isoformat(),
                asset_triggered=bool(triggering_asset_events))

        return run()

    chain(*(stage_task(stage) for stage in STAGE_NAMES))


engagement_training()
