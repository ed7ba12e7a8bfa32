"""Entry points for the Airflow tasks: resolve paths and settings, call one stage runner.

Each function takes the run id and the trigger-form Params explicitly, and returns a small
JSON-able dict (paths and counts) for XCom — never a DataFrame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from pipelines.config import Settings, apply_overrides, load_params, settings_from_params
from pipelines.paths import ProjectPaths, project_paths

T = TypeVar("T")

TRAINING_DAG, COLLECT_DAG = "engagement_training", "engagement_collect"


def fail_fast_on_bad_input(func: Callable[..., T]) -> Callable[..., T]:
    """Turn ValueError (bad params, a failed data contract) into a no-retry task failure.

    The same input fails the same way, so retrying only delays the message; transient
    errors (I/O, network) keep Airflow's retries.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except ValueError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(error).__name__}: {error}") from error

    return wrapper


def _resolve(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> tuple[ProjectPaths, Settings, dict]:
    base = project_paths(project_dir)
    params = apply_overrides(load_params(base.params_file), form_params)
    return base.for_run(run_id), settings_from_params(params), params


@fail_fast_on_bad_input
def collect_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], asset_triggered: bool = False
) -> dict[str, Any]:
    """Collect the run's posts. A run started by new validated data (the collection DAG's
    Asset) trains on the validated store, whatever the form's source says."""
    from pipelines.collect.stage import run_collect

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    c = settings.collect
    source = "validated" if asset_triggered else c.source
    path = str(project_paths(project_dir).data) if source == "validated" else c.path
    summary = run_collect(paths.raw_posts, source=source, path=path, fmt=c.format,
                          demo_rows=c.demo_rows, demo_accounts=c.demo_accounts, seed=c.seed)
    return {"raw_posts": str(paths.raw_posts), **asdict(summary)}


def _log_validation(paths: ProjectPaths, settings: Settings, run_key: str, report: Path,
                    reports_dir: Path | None) -> None:
    from pipelines.registry.tracking import log_validation_run

    if report.exists():
        log_validation_run(tracking_uri=paths.tracking_uri, artifact_root=paths.mlflow_artifacts,
                           experiment=settings.register.experiment, run_key=run_key,
                           report_path=report, reports_dir=reports_dir)


@fail_fast_on_bad_input
def validate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """Validate the run's posts; the reports go to the run's MLflow parent run, also when
    the data contract fails (then the task fails after logging)."""
    from pipelines.validate.stage import rules_from_settings, run_validate

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    v = settings.validate
    reports_dir = paths.data / "05_reporting" / "validation"
    try:
        summary = run_validate(
            paths.raw_posts, paths.validated_posts, paths.quarantined_posts,
            paths.validation_report, row_suite_path=paths.resolve(v.suite),
            table_suite_path=paths.resolve(v.table_suite), as_of=pd.Timestamp(as_of),
            rules=rules_from_settings(v), reports_dir=reports_dir,
        )
    finally:
        _log_validation(paths, settings, f"{TRAINING_DAG}/{run_id}", paths.validation_report,
                        reports_dir)
    return {"validated_posts": str(paths.validated_posts), **asdict(summary)}


def partition_date(interval_start: str | None, interval_end: str | None, logical: str) -> str:
    """The day a collection run covers (YYYY-MM-DD), from the run's dates, never now().

    A run with a data interval covers the day its interval starts. A run without one (the
    default cron trigger and manual runs in Airflow 3) covers the day before its logical
    date (or, for a manual run without one, before it ran): the last complete day.
    """
    if interval_start and interval_end and interval_start != interval_end:
        return f"{pd.Timestamp(interval_start):%Y-%m-%d}"
    return f"{pd.Timestamp(logical) - pd.Timedelta(days=1):%Y-%m-%d}"


@fail_fast_on_bad_input
def collect_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str
) -> dict[str, Any]:
    """engagement_collect: collect the day ``logical_date`` from every configured source."""
    from pipelines.collect.partition import collect_partition

    _, settings, _ = _resolve(project_dir, run_id, form_params)
    c, day = settings.collect, settings.collect_daily
    base = project_paths(project_dir)
    return collect_partition(
        data_root=base.data, run_date=logical_date, sources=day.sources, path=c.path,
        fmt=c.format, demo_rows=day.demo_rows, demo_accounts=c.demo_accounts, seed=c.seed,
        api_accounts=day.api_accounts, api_base_urls=day.api_base_urls,
        watermark_db=base.state / "watermarks.db", lookback_hours=day.lookback_hours,
    )


@fail_fast_on_bad_input
def validate_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str, as_of: str
) -> dict[str, Any]:
    """engagement_collect: validate the logical date's raw partition, publish it."""
    from pipelines.validate.partition import partition_paths, run_validate_partition
    from pipelines.validate.stage import rules_from_settings

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    v, base = settings.validate, project_paths(project_dir)
    where = partition_paths(base.data, logical_date)
    try:
        return run_validate_partition(
            data_root=base.data, run_date=logical_date, row_suite_path=paths.resolve(v.suite),
            table_suite_path=paths.resolve(v.table_suite), as_of=pd.Timestamp(as_of),
            rules=rules_from_settings(v),
        )
    finally:
        _log_validation(paths, settings, f"{COLLECT_DAG}/{run_id}", where["report"],
                        where["reports_dir"])


@fail_fast_on_bad_input
def features_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.features.stage import run_features

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    manifest = run_features(paths.validated_posts, paths.features, settings=settings.features,
                            embedding_cache=paths.embedding_cache,
                            model_cache_dir=paths.model_cache)
    return {"features": str(paths.features), "rows": manifest["rows"]}


@fail_fast_on_bad_input
def train_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.train.stage import run_train

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    t = settings.train
    manifest = run_train(paths.features, paths.models, target=t.target, models=t.models,
                         hyperparameters=t.hyperparameters, seed=t.seed,
                         valid_fraction=t.valid_fraction, test_fraction=t.test_fraction,
                         cv_folds=t.cv_folds)
    return {"models": str(paths.models), "candidates": list(manifest["candidates"])}


@fail_fast_on_bad_input
def evaluate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.evaluate.stage import run_evaluate

    paths, _, _ = _resolve(project_dir, run_id, form_params)
    report = run_evaluate(paths.features, paths.models, paths.metrics)
    return {"metrics": str(paths.metrics), "best": report["best"]}


@fail_fast_on_bad_input
def register_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.registry.register import run_register
    from pipelines.summary import format_summary

    paths, settings, params = _resolve(project_dir, run_id, form_params)
    record = run_register(
        features_path=paths.features, models_dir=paths.models, metrics_path=paths.metrics,
        validation_report=paths.validation_report, registration_path=paths.registration,
        tracking_uri=paths.tracking_uri, artifact_root=paths.mlflow_artifacts,
        experiment=settings.register.experiment, model_name=settings.register.model_name,
        run_key=f"{TRAINING_DAG}/{run_id}", params=params, project_root=paths.root,
    )
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return record


@fail_fast_on_bad_input
def publish_day_task(project_dir: str, logical_date: str, validation: dict[str, Any]
                     ) -> dict[str, Any]:
    """engagement_collect: record the validated day in the store's manifest.

    The Airflow task carrying this emits the validated-posts Asset event, which schedules
    engagement_training on the new data.
    """
    import json

    base = project_paths(project_dir)
    manifest_path = base.data / "02_validated" / "_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[logical_date] = {k: validation[k] for k in
                              ("partition", "rows_in", "rows_accepted", "rows_quarantined")}
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2))
    return {"date": logical_date, **manifest[logical_date],
            "days_published": len(manifest)}
