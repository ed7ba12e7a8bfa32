"""batch_scoring: score a file of a task's rows with a registered model → Parquet +
quarantine.

Wiring only: one task calls ``pipelines.serve.scoring.score_task``. Triggered by hand
(no schedule); the form's defaults come from params.yaml (``train.task``: the task scored
when the model version records none; the ``serve`` section). Rows read = rows scored +
rows quarantined (with every reason), never silently dropped.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from pipelines.config import trigger_form

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
#: The params.yaml keys the trigger form shows (types, bounds, defaults: pipelines.config).
FORM = ("train.task", "serve.score_model_uri", "serve.score_input", "serve.score_format",
        "serve.score_output")


@dag(
    dag_id="batch_scoring",
    description="Score a file of a task's rows with a registered model",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["engageflow", "serving"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=20), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form(FORM, Path(PROJECT_DIR) / "params.yaml"),
)
def batch_scoring() -> None:
    @task
    def score(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.serve.scoring import score_task

        return score_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    score()


batch_scoring()
