"""Entry points for the Airflow tasks: resolve paths and settings, call one stage runner.

Each function takes the run id and the trigger-form Params explicitly, and returns a small
JSON-able dict (paths and counts) for XCom — never a DataFrame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from pipelines import stages
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
    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    store = str(project_paths(project_dir).data)  # the run's own data folder is elsewhere
    if asset_triggered or settings.collect.source == "validated":
        return stages.collect(paths, settings, source="validated",
                              path=settings.collect.path or store)
    return stages.collect(paths, settings)


@fail_fast_on_bad_input
def validate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """Validate the run's posts; the reports go to the run's MLflow parent run, also when
    the data contract fails (then the task fails after logging)."""
    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    try:
        return stages.validate(paths, settings, as_of=pd.Timestamp(as_of))
    finally:
        stages.log_validation(paths, settings, run_key=f"{TRAINING_DAG}/{run_id}",
                              report=paths.validation_report,
                              reports_dir=paths.validation_reports)


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
    _, settings, _ = _resolve(project_dir, run_id, form_params)
    return stages.collect_day(project_paths(project_dir), settings, day=logical_date)


@fail_fast_on_bad_input
def validate_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str, as_of: str
) -> dict[str, Any]:
    """engagement_collect: validate the logical date's raw partition."""
    from pipelines.validate.partition import partition_paths

    _, settings, _ = _resolve(project_dir, run_id, form_params)
    base = project_paths(project_dir)
    where = partition_paths(base.data, logical_date)
    try:
        return stages.validate_day(base, settings, day=logical_date, as_of=pd.Timestamp(as_of))
    finally:
        stages.log_validation(base, settings, run_key=f"{COLLECT_DAG}/{run_id}",
                              report=where["report"], reports_dir=where["reports_dir"])


@fail_fast_on_bad_input
def features_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    manifest = stages.features(paths, settings)
    return {"features": str(paths.features), "rows": manifest["rows"]}


@fail_fast_on_bad_input
def train_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    manifest = stages.train(paths, settings)
    return {"models": str(paths.models), "candidates": list(manifest["candidates"])}


@fail_fast_on_bad_input
def evaluate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, _, _ = _resolve(project_dir, run_id, form_params)
    report = stages.evaluate(paths)
    return {"metrics": str(paths.metrics), "best": report["best"]}


@fail_fast_on_bad_input
def register_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.summary import format_summary

    paths, settings, params = _resolve(project_dir, run_id, form_params)
    record = stages.register(paths, settings, params, run_key=f"{TRAINING_DAG}/{run_id}")
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return record


@fail_fast_on_bad_input
def segments_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """engagement_training: train, gate and register the platform and segment models."""
    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    if not settings.segments.enabled or settings.train.target == "follower_growth":
        return {"skipped": "segments.enabled is false" if not settings.segments.enabled
                else "segments are for post targets"}
    plan = stages.segment_plan(paths, settings, now=pd.Timestamp(as_of))
    result = stages.train_segments(paths, settings, only=tuple(plan["only"]))
    registry = stages.register_segments(paths, settings,
                                        run_key=f"{TRAINING_DAG}/{run_id}")
    return {"plan": plan["reason"], "trained": [k for k, r in result["segments"].items()
                                                if "skipped" not in r],
            "used": result["used"], **registry}


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
