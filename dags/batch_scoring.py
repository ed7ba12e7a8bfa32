"""batch_scoring: score a file of posts with a registered model → Parquet + quarantine.

Wiring only: one task calls ``pipelines.serve.scoring.score_task``. Triggered by hand
(no schedule); the form's defaults come from the ``serve`` section of params.yaml. Rows
read = rows scored + rows quarantined (with every reason), never silently dropped.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

from pipelines.config import SCORE_FORMATS, flat_defaults, load_params

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
DEFAULTS = flat_defaults(load_params(Path(PROJECT_DIR) / "params.yaml"))


@dag(
    dag_id="batch_scoring",
    description="Score a file of posts with a registered model",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["engageflow", "serving"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=20), "owner": "engageflow"},
    doc_md=__doc__,
    params={
        "score_model_uri": Param(DEFAULTS["score_model_uri"], type="string",
                                 pattern="^models:/", title="Model URI",
                                 description="models:/NAME@ALIAS or models:/NAME/VERSION; "
                                 "{target} becomes train.target."),
        "score_input": Param(DEFAULTS["score_input"], type="string", title="Input path",
                             description="File or folder of posts to score (relative to "
                             "the project or absolute)."),
        "score_format": Param(DEFAULTS["score_format"], type="string",
                              enum=list(SCORE_FORMATS), title="Input format",
                              description="Layout of the input files."),
        "score_output": Param(DEFAULTS["score_output"], type="string", title="Output path",
                              description="Predictions Parquet; the quarantine is written "
                              "beside it as *.quarantine.parquet."),
    },
)
def batch_scoring() -> None:
    @task
    def score(params: dict | None = None, run_id: str | None = None) -> dict:
        from pipelines.serve.scoring import score_task

        return score_task(project_dir=PROJECT_DIR, run_id=run_id, form_params=dict(params))

    score()


batch_scoring()
