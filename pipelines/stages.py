"""The stages outside the training pipeline (:mod:`pipelines.pipeline`), given where things
live and the validated settings: the collection DAG's daily partitions, the online
champion-challenger look, logging a validation to MLflow, and starting a training run from
the validated store. Shared by the CLI and the Airflow task entry points."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import Settings
from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)


def collect_day(paths: ProjectPaths, settings: Settings, *, day: str,
                sources: tuple[str, ...] | None = None, path: str | None = None,
                fmt: str | None = None,
                extra_accounts: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Collect one day from the daily sources into ``paths.data``'s raw partitions."""
    from pipelines.collect.formats import ReadLimits
    from pipelines.collect.partition import collect_partition

    c, d = settings.collect, settings.collect_daily
    accounts = dict(d.api_accounts)
    for api, ids in (extra_accounts or {}).items():
        accounts[api] = (*accounts.get(api, ()), *ids)
    return collect_partition(
        data_root=paths.data, run_date=day, sources=sources or d.sources, path=path or c.path,
        fmt=fmt or c.format, demo_rows=d.demo_rows, demo_accounts=c.demo_accounts,
        seed=c.seed, api_accounts=accounts, api_base_urls=d.api_base_urls,
        watermark_db=paths.watermarks, lookback_hours=d.lookback_hours,
        limits=ReadLimits.from_settings(c),
    )


def validate_day(paths: ProjectPaths, settings: Settings, *, day: str, as_of: pd.Timestamp,
                 reports: bool = True) -> dict[str, Any]:
    """Validate one day's raw partition and write the validated day."""
    from pipelines.validate.partition import run_validate_partition

    v = settings.validate
    return run_validate_partition(
        data_root=paths.data, run_date=day, row_suite_path=paths.resolve(v.suite),
        table_suite_path=paths.resolve(v.table_suite), as_of=as_of,
        rules=v, with_reports=reports,
    )


def materialize_history(paths: ProjectPaths, settings: Settings, *,
                        written_at: datetime) -> dict[str, Any]:
    """The validated store → the account-history feature store (``serve.history_store``);
    nothing to do where the store is ``none`` (the models read their frozen history)."""
    if settings.serve.history_store == "none":
        logger.info("feature store: serve.history_store is 'none'; nothing materialized")
        return {"history_store": "none", "accounts": 0, "posts_written": 0}
    from pipelines.features.feature_store import materialize_history as materialize

    return {"history_store": settings.serve.history_store, **materialize(
        store_dir=paths.feature_store, online_url=paths.feature_store_url,
        validated_root=paths.data, maturity_hours=settings.features.maturity_hours,
        written_at=written_at)}


def champion_challenger(paths: ProjectPaths, settings: Settings, *, as_of: pd.Timestamp,
                        run_key: str) -> dict[str, Any]:
    """One daily look of the online champion-challenger test of the task's model."""
    from pipelines.registry.champion_challenger import run_champion_challenger

    return run_champion_challenger(
        prediction_log_url=paths.prediction_log_url, tracking_uri=paths.tracking_uri,
        artifact_root=paths.mlflow_artifacts, model_name=settings.register.model_name,
        target=settings.train.task, as_of=as_of.to_pydatetime(),
        settings=settings.champion_challenger,
        maturity_hours=settings.features.maturity_hours, report_dir=paths.champion_challenger,
        run_key=run_key,
    )


def log_validation(paths: ProjectPaths, settings: Settings, *, run_key: str,
                   report: Path, reports_dir: Path | None) -> None:
    """Log a validation report and its Data Docs into the run's MLflow parent run."""
    from pipelines.registry.tracking import log_validation_run

    if report.exists():
        log_validation_run(tracking_uri=paths.tracking_uri, artifact_root=paths.mlflow_artifacts,
                           experiment=settings.register.experiment, run_key=run_key,
                           report_path=report, reports_dir=reports_dir)


def from_validated_store(paths: ProjectPaths, store: ProjectPaths, settings: Settings, *,
                         stage: str) -> dict[str, Any]:
    """A training run that starts from the validated store (new data published by the
    collection DAG): ``collect`` takes the store's posts as they are into the run's
    validated layer (with a report of what it took); ``validate`` has nothing to check —
    every day passed the contract when it was published."""
    import json

    from pipelines.validate.partition import read_validated_posts

    if stage != "collect":
        return {"skipped": "the validated store's posts passed the data contract when "
                           "their day was published"}
    posts = read_validated_posts(store.data)
    if len(posts) < settings.validate.min_rows:
        raise ValueError(f"collect: the validated store {store.data / '02_validated'} holds "
                         f"{len(posts)} posts; 'validate.min_rows' asks for at least "
                         f"{settings.validate.min_rows}.")
    out = paths.validated("posts")
    out.parent.mkdir(parents=True, exist_ok=True)
    posts.to_parquet(out, index=False)
    summary = {"source": "validated store", "store": str(store.data), "rows_in": len(posts),
               "rows_accepted": len(posts), "rows_quarantined": 0, "quarantine_rate": 0.0}
    paths.validation_report.write_text(json.dumps(summary, indent=2))
    return {"validated": str(out), **summary}
