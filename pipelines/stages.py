"""Each stage, given where things live and the validated settings: the one mapping from
settings to stage-runner arguments, shared by the CLI and the Airflow task entry points
(``dvc.yaml`` reaches it through the CLI), so the drivers cannot drift apart."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import Settings
from pipelines.paths import ProjectPaths


def collect(paths: ProjectPaths, settings: Settings, *, source: str | None = None,
            path: str | None = None, fmt: str | None = None) -> dict[str, Any]:
    """Collect into ``paths.raw_posts``; arguments override ``settings.collect``.

    The ``validated`` source reads the validated days under ``path`` (default: the data
    folder of ``paths``)."""
    from pipelines.collect.stage import run_collect

    c = settings.collect
    source = source or c.source
    path = path or c.path or (str(paths.data) if source == "validated" else "")
    summary = run_collect(paths.raw_posts, source=source, path=path,
                          fmt=fmt or c.format, demo_rows=c.demo_rows,
                          demo_accounts=c.demo_accounts, seed=c.seed)
    return {"raw_posts": str(paths.raw_posts), **asdict(summary)}


def validate(paths: ProjectPaths, settings: Settings, *, as_of: pd.Timestamp,
             reports: bool = True) -> dict[str, Any]:
    """Validate ``paths.raw_posts`` into the validated and quarantine layers."""
    from pipelines.validate.stage import run_validate

    v = settings.validate
    summary = run_validate(
        paths.raw_posts, paths.validated_posts, paths.quarantined_posts,
        paths.validation_report, row_suite_path=paths.resolve(v.suite),
        table_suite_path=paths.resolve(v.table_suite), as_of=as_of,
        rules=v, reports_dir=paths.validation_reports if reports else None,
    )
    return {"validated_posts": str(paths.validated_posts), **asdict(summary)}


def collect_day(paths: ProjectPaths, settings: Settings, *, day: str,
                sources: tuple[str, ...] | None = None, path: str | None = None,
                fmt: str | None = None,
                extra_accounts: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Collect one day from the daily sources into ``paths.data``'s raw partitions."""
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


def features(paths: ProjectPaths, settings: Settings, *,
             embedding_cache: Path | None = None) -> dict[str, Any]:
    """Build the feature table from the validated posts.

    ``embedding_cache``: where caption embeddings are cached (default: the state folder's
    cache, shared by every Airflow run; the DVC stage keeps it in the feature store).
    """
    from pipelines.features.stage import run_features

    return run_features(paths.validated_posts, paths.features, settings=settings.features,
                        embedding_cache=embedding_cache or paths.embedding_cache,
                        model_cache_dir=paths.model_cache, periods_path=paths.account_periods)


def train(paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
    """Cross-validate and fit every candidate."""
    from pipelines.train.stage import run_train

    t = settings.train
    if t.task == "follower_growth":
        from pipelines.train.follower_growth_training import run_train_growth

        return run_train_growth(paths.account_periods, paths.models, models=t.models,
                                hyperparameters=t.hyperparameters, seed=t.seed,
                                valid_fraction=t.valid_fraction,
                                test_fraction=t.test_fraction)
    return run_train(paths.features, paths.models, target=t.task, models=t.models,
                     hyperparameters=t.hyperparameters, seed=t.seed,
                     valid_fraction=t.valid_fraction, test_fraction=t.test_fraction,
                     cv_folds=t.cv_folds, model_cache_dir=paths.model_cache)


def evaluate(paths: ProjectPaths) -> dict[str, Any]:
    """Score the candidates and the baseline."""
    import json

    from pipelines.evaluate.stage import run_evaluate

    target = json.loads((paths.models / "manifest.json").read_text())["target"]
    if target == "follower_growth":
        from pipelines.train.follower_growth_training import run_evaluate_growth

        return run_evaluate_growth(paths.account_periods, paths.models, paths.metrics)
    return run_evaluate(paths.features, paths.models, paths.metrics)


def register(paths: ProjectPaths, settings: Settings, *, run_key: str) -> dict[str, Any]:
    """Track the run in MLflow (with the effective settings) and register the best
    candidate."""
    from pipelines.registry.register import run_register

    growth = settings.train.task == "follower_growth"
    return run_register(
        features_path=paths.account_periods if growth else paths.features,
        models_dir=paths.models, metrics_path=paths.metrics,
        validation_report=paths.validation_report, registration_path=paths.registration,
        tracking_uri=paths.tracking_uri, artifact_root=paths.mlflow_artifacts,
        experiment=settings.register.experiment, model_name=settings.register.model_name,
        run_key=run_key, params=settings.params(), project_root=paths.root,
    )


def promote(paths: ProjectPaths, settings: Settings, *, run_key: str) -> dict[str, Any]:
    """Gate the version the run registered; move the aliases (see docs/promotion.md)."""
    from pipelines.registry.promotion import run_promotion_gate

    growth = settings.train.task == "follower_growth"
    return run_promotion_gate(
        registration_path=paths.registration,
        features_path=paths.account_periods if growth else paths.features,
        models_dir=paths.models, decision_path=paths.promotion,
        tracking_uri=paths.tracking_uri, settings=settings.promote, run_key=run_key,
    )


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


def segment_plan(paths: ProjectPaths, settings: Settings, *, now: pd.Timestamp
                 ) -> dict[str, Any]:
    """Which segments this training run (re)trains: the ones named in ``segments.only``,
    else every segment due for retraining plus every one without a model yet."""
    from pipelines.registry import tracking
    from pipelines.registry.segment_models import segment_models
    from pipelines.segments.retraining import segments_due

    s = settings.segments
    if s.only:
        return {"only": list(s.only), "due": [], "reason": "named in segments.only"}
    tracking.connect(paths.tracking_uri)
    models = segment_models(settings.register.model_name)
    if not models:
        return {"only": [], "due": [], "reason": "first training: every eligible segment"}
    posts = pd.read_parquet(paths.validated_posts)
    due = segments_due(posts, models, target=settings.train.task, segment_key=s.key,
                       min_samples=s.min_samples, retrain_after=s.retrain_after,
                       maturity_hours=settings.features.maturity_hours, now=now)
    have = {segment.key for segment in models}
    new = _new_segments(posts, settings, have)
    only = sorted({d["segment"] for d in due} | new)
    return {"only": only or ["global"], "due": due,
            "reason": f"{len(due)} segment(s) past {s.retrain_after} new labelled posts, "
                      f"{len(new)} without a model yet"}


def _new_segments(posts: pd.DataFrame, settings: Settings, have: set[str]) -> set[str]:
    from pipelines.segments.hierarchy import level_name

    key = settings.segments.key
    keys = {f"platform={p}" for p in posts["platform"].dropna().unique()}
    if key in posts.columns:
        keys |= {f"{level_name(key)}={v}" for v in posts[key].dropna().astype(str).unique()}
    return keys - have


def train_segments(paths: ProjectPaths, settings: Settings, *, only: tuple[str, ...] = (),
                   gate: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit, gate and save the platform and segment models of the run."""
    from pipelines.segments.training import run_train_segments

    s = settings.segments
    return run_train_segments(paths.features, paths.models, paths.metrics, paths.segments,
                              segment_key=s.key, min_samples=s.min_samples,
                              min_holdout=s.min_holdout, only=only,
                              gate=gate, model_cache_dir=paths.model_cache)


def register_segments(paths: ProjectPaths, settings: Settings, *, run_key: str
                      ) -> dict[str, Any]:
    """Register the segment models that earned it; move or remove their aliases."""
    from pipelines.registry.segment_models import run_register_segments

    return run_register_segments(
        segments_path=paths.segments, tracking_uri=paths.tracking_uri,
        artifact_root=paths.mlflow_artifacts, experiment=settings.register.experiment,
        model_name=settings.register.model_name, run_key=run_key)
