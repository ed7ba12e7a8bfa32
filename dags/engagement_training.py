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
from airflow.sdk import Asset, Param, chain, dag, task

from pipelines.config import (
    KNOWN_MODELS,
    TARGETS,
    VALIDATED_POSTS_ASSET,
    flat_defaults,
    load_params,
)

PROJECT_DIR = os.environ.get("ENGAGEFLOW_HOME") or str(Path(__file__).resolve().parents[1])
DEFAULTS = flat_defaults(load_params(Path(PROJECT_DIR) / "params.yaml"))


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
    params={
        "source": Param(DEFAULTS["source"], type="string", enum=["demo", "file"],
                        title="Source", description="demo: seeded generator; file: read "
                        "Input path in Input format. Runs started by new validated data "
                        "always train on the validated store."),
        "input_path": Param(DEFAULTS["input_path"], type=["null", "string"],  # optional in the form
                            title="Input path",
                            description="File or folder to read when Source is 'file'."),
        "input_format": Param(DEFAULTS["input_format"], type="string", title="Input format",
                              description="File layout, e.g. canonical, twitter_v2, "
                              "tweets_csv, instagram_scrape_csv, facebook_uci."),
        "demo_rows": Param(DEFAULTS["demo_rows"], type="integer", minimum=100,
                           maximum=2_000_000, title="Demo rows",
                           description="Posts to generate when Source is 'demo'."),
        "data_seed": Param(DEFAULTS["data_seed"], type="integer", minimum=0,
                           title="Data seed", description="Seed of the demo generator."),
        "min_rows": Param(DEFAULTS["min_rows"], type="integer", minimum=1,
                          title="Minimum rows", description="Fewer accepted rows fail the run."),
        "max_quarantine_rate": Param(DEFAULTS["max_quarantine_rate"], type="number",
                                     minimum=0, maximum=1, title="Max quarantine rate",
                                     description="Share of rows allowed in quarantine."),
        "max_platform_share": Param(DEFAULTS["max_platform_share"], type="number",
                                    exclusiveMinimum=0, maximum=1,
                                    title="Max platform share",
                                    description="Largest share of rows one platform may hold "
                                    "(1 allows single-platform data)."),
        "models": Param(DEFAULTS["models"], type="array",
                        items={"type": "string", "enum": list(KNOWN_MODELS)},
                        title="Candidate models", description="Model families to train."),
        "target": Param(DEFAULTS["target"], type="string", enum=list(TARGETS),
                        title="Target", description="The outcome to predict (log1p "
                        "regression); each target has its own registered model."),
        "seed": Param(DEFAULTS["seed"], type="integer", minimum=0, title="Training seed",
                      description="Seed of every estimator."),
        "test_fraction": Param(DEFAULTS["test_fraction"], type="number", minimum=0.05,
                               maximum=0.5, title="Test fraction",
                               description="Newest share of posts held out for testing."),
        "model_name": Param(DEFAULTS["model_name"], type="string",
                            pattern="^[A-Za-z0-9_{}-]+$", title="Registered model name",
                            description="MLflow registered model that receives the version; "
                            "{target} becomes the target."),
        "segments": Param(DEFAULTS["segments"], type="array", items={"type": "string"},
                          title="Segments to retrain",
                          description="Platform / campaign models to (re)train, e.g. "
                          "platform=instagram or campaign=spring-sale. Empty: every segment "
                          "due (enough new labelled posts) or without a model yet."),
    },
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
