"""Entry points for the Airflow tasks: resolve paths and settings, call one stage runner.

Each function takes the run id and the trigger-form Params explicitly, and returns a small
JSON-able dict (paths and counts) for XCom — never a DataFrame.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from pipelines import stages
from pipelines.config import Settings, load_settings
from pipelines.paths import ProjectPaths, project_paths

T = TypeVar("T")

TRAINING_DAG, COLLECT_DAG = "engagement_training", "engagement_collect"
CHAMPION_CHALLENGER_DAG = "champion_challenger"


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
) -> tuple[ProjectPaths, Settings]:
    """The run's paths and its settings: params.yaml with the form's dotted keys."""
    base = project_paths(project_dir)
    return base.for_run(run_id), load_settings(base.params_file, form_params)


@fail_fast_on_bad_input
def collect_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], asset_triggered: bool = False
) -> dict[str, Any]:
    """Collect the run's posts. A run started by new validated data (the collection DAG's
    Asset) trains on the validated store, whatever the form's source says."""
    paths, settings = _resolve(project_dir, run_id, form_params)
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
    paths, settings = _resolve(project_dir, run_id, form_params)
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
    _, settings = _resolve(project_dir, run_id, form_params)
    return stages.collect_day(project_paths(project_dir), settings, day=logical_date)


@fail_fast_on_bad_input
def validate_day_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], logical_date: str, as_of: str
) -> dict[str, Any]:
    """engagement_collect: validate the logical date's raw partition."""
    from pipelines.validate.partition import partition_paths

    _, settings = _resolve(project_dir, run_id, form_params)
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
    paths, settings = _resolve(project_dir, run_id, form_params)
    manifest = stages.features(paths, settings)
    return {"features": str(paths.features), "rows": manifest["rows"]}


@fail_fast_on_bad_input
def train_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, settings = _resolve(project_dir, run_id, form_params)
    manifest = stages.train(paths, settings)
    return {"models": str(paths.models), "candidates": list(manifest["candidates"])}


@fail_fast_on_bad_input
def evaluate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, _ = _resolve(project_dir, run_id, form_params)
    report = stages.evaluate(paths)
    return {"metrics": str(paths.metrics), "best": report["best"]}


@fail_fast_on_bad_input
def register_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    paths, settings = _resolve(project_dir, run_id, form_params)
    record = stages.register(paths, settings, run_key=f"{TRAINING_DAG}/{run_id}")
    print(f"registered {record['model_name']} version {record['version']} as "
          f"@{record['alias']}; the promotion gate decides next")
    return {k: record[k] for k in ("model_name", "version", "alias", "model_uri",
                                   "champion_version")}


@fail_fast_on_bad_input
def promotion_gate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    """Gate the run's challenger; a rejected or kept challenger is a normal outcome (the
    task succeeds). Prints the decision and the run summary."""
    from pipelines.registry.promotion import format_gate
    from pipelines.summary import format_summary

    paths, settings = _resolve(project_dir, run_id, form_params)
    record = stages.promote(paths, settings, run_key=f"{TRAINING_DAG}/{run_id}")
    print(format_gate(record))
    print(json.dumps(record, indent=2))
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return {"decision": record["decision"], "promoted": record["promoted"],
            "model_uri": record.get("model_uri"), "aliases": record.get("aliases"),
            "decision_record": str(paths.promotion)}


@fail_fast_on_bad_input
def champion_challenger_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """champion_challenger: today's look of the online test (as of the run's date)."""
    from pipelines.registry.champion_challenger import format_look

    _, settings = _resolve(project_dir, run_id, form_params)
    record = stages.champion_challenger(
        project_paths(project_dir), settings, as_of=pd.Timestamp(as_of),
        run_key=f"{CHAMPION_CHALLENGER_DAG}/{run_id}")
    print(format_look(record))
    return {k: record.get(k) for k in ("decision", "reason", "champion_version",
                                       "challenger_version", "outcomes", "aliases")}


@fail_fast_on_bad_input
def segments_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    """engagement_training: train, gate and register the platform and segment models."""
    paths, settings = _resolve(project_dir, run_id, form_params)
    if not settings.segments.enabled or settings.train.task == "follower_growth":
        return {"skipped": "segments.enabled is false" if not settings.segments.enabled
                else "segments are for post tasks"}
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
