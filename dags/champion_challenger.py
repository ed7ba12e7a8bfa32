"""champion_challenger: each day, test the serving ``@challenger`` against ``@champion``.

Joins the logged predictions of both with outcomes that have matured (posts at least
``features.maturity_hours`` old), and runs an anytime-valid sequential test (mixture SPRT)
that stays valid however many days are looked at. Outcomes: promote the challenger (``@champion``
moves, the old one becomes ``@previous``), keep testing, or roll back (``@challenger``
removed) when it is significantly worse or breaches the guardrail. Every decision is in
``engageflow registry history NAME``. Wiring only: the task calls one
``pipelines.orchestration`` function with the run's instant (never now()).
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
FORM = ("train.task", "register.model_name", "features.maturity_hours",
        "champion_challenger.alpha", "champion_challenger.min_outcomes",
        "champion_challenger.guardrail_margin")


@dag(
    dag_id="champion_challenger",
    description="Daily sequential test of @challenger against @champion on matured outcomes",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["engageflow", "serving", "promotion"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "owner": "engageflow"},
    doc_md=__doc__,
    params=trigger_form(FORM, Path(PROJECT_DIR) / "params.yaml"),
)
def champion_challenger() -> None:
    @task
    def decide(params: dict | None = None, run_id: str | None = None,
               dag_run=None) -> dict:
        from pipelines.orchestration import champion_challenger_task

        return champion_challenger_task(project_dir=PROJECT_DIR, run_id=run_id,
                                        form_params=dict(params),
                                        as_of=dag_run.run_after.isoformat())

    decide()


champion_challenger()
