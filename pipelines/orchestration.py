"""Entry points for the Airflow tasks: resolve paths and settings, call one stage runner.

Each function takes the run id and the trigger-form Params explicitly, and returns a small
JSON-able dict (paths and counts) for XCom — never a DataFrame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import pandas as pd

from pipelines.config import Settings, apply_overrides, load_params, settings_from_params
from pipelines.paths import ProjectPaths, project_paths

T = TypeVar("T")


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
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.collect.stage import run_collect

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    c = settings.collect
    summary = run_collect(paths.raw_posts, source=c.source, path=c.path, fmt=c.format,
                          demo_rows=c.demo_rows, demo_accounts=c.demo_accounts, seed=c.seed)
    return {"raw_posts": str(paths.raw_posts), **asdict(summary)}


@fail_fast_on_bad_input
def validate_task(
    project_dir: str, run_id: str, form_params: dict[str, Any], as_of: str
) -> dict[str, Any]:
    from pipelines.validate.stage import DatasetRules, run_validate

    paths, settings, _ = _resolve(project_dir, run_id, form_params)
    v = settings.validate
    summary = run_validate(
        paths.raw_posts, paths.validated_posts, paths.quarantined_posts,
        paths.validation_report, row_suite_path=paths.resolve(v.suite),
        table_suite_path=paths.resolve(v.table_suite), as_of=pd.Timestamp(as_of),
        rules=DatasetRules(
            min_rows=v.min_rows, max_quarantine_rate=v.max_quarantine_rate,
            max_platform_share=v.max_platform_share, max_null_rate=v.max_null_rate,
            min_quality_score=v.min_quality_score,
        ),
    )
    return {"validated_posts": str(paths.validated_posts), **asdict(summary)}


@fail_fast_on_bad_input
def features_task(
    project_dir: str, run_id: str, form_params: dict[str, Any]
) -> dict[str, Any]:
    from pipelines.features.stage import run_features

    paths, _, _ = _resolve(project_dir, run_id, form_params)
    manifest = run_features(paths.validated_posts, paths.features)
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
                         valid_fraction=t.valid_fraction, test_fraction=t.test_fraction)
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
        run_key=f"engagement_training/{run_id}", params=params, project_root=paths.root,
    )
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return record
