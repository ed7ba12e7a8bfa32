"""champion_challenger: each day, test the serving ``@challenger`` against ``@champion``.

Joins the logged predictions of both with outcomes that have matured (posts at least
Horizon hours old), and runs an anytime-valid sequential test (mixture SPRT) that stays
valid however many days are looked at. Outcomes: promote the challenger (``@champion``
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
from airflow.sdk import Param, dag, task

from pipelines.config import TARGETS, flat_defaults, load_params

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
DEFAULTS = flat_defaults(load_params(Path(PROJECT_DIR) / "params.yaml"))


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
    params={
        "target": Param(DEFAULTS["target"], type="string", enum=list(TARGETS),
                        title="Target", description="Whose model to test: each target has "
                        "its own registered model and its own champion and challenger."),
        "model_name": Param(DEFAULTS["model_name"], type="string",
                            pattern="^[A-Za-z0-9_{}-]+$", title="Registered model name",
                            description="MLflow registered model holding @champion and "
                            "@challenger; {target} becomes the target."),
        "horizon_hours": Param(DEFAULTS["horizon_hours"], type="number", minimum=0,
                               title="Horizon (hours)", description="A prediction is judged "
                               "only once its post is this old: its counts have settled."),
        "alpha": Param(DEFAULTS["alpha"], type="number", exclusiveMinimum=0,
                       exclusiveMaximum=0.5, title="Error level (alpha)",
                       description="Chance of a wrong promotion or rollback over the whole "
                       "test, however many daily looks it takes."),
        "min_outcomes": Param(DEFAULTS["min_outcomes"], type="integer", minimum=2,
                              title="Minimum outcomes per arm",
                              description="Matured outcomes each arm needs before the test "
                              "may decide anything."),
        "guardrail_margin": Param(DEFAULTS["guardrail_margin"], type="number",
                                  exclusiveMinimum=0, title="Guardrail margin",
                                  description="Roll back at once if the challenger's mean "
                                  "loss is this much (relative, 0.25 = 25 %) above the "
                                  "champion's, significant or not."),
    },
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
