"""The segments stage: plan which platform / segment models to (re)train, train and gate
them, register the ones that earned it (docs/segments.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.base import Task


def run_segments(task: Task, paths: ProjectPaths, settings: Settings, *, run_key: str,
                 now: pd.Timestamp) -> dict[str, Any]:
    """Stage runner: plan, train, gate and register the segment models of ``task``.

    With ``segments.enabled: false`` it skips; a task that learns its own segments
    (:meth:`~pipelines.tasks.base.Task.learn_segments`: conversion's session segments)
    does that instead; a task without a segment hierarchy skips. Each of these is a normal
    outcome, said in the stage's record (``paths.segments``, which dvc.yaml declares)."""
    from pipelines.registry.segment_models import run_register_segments
    from pipelines.segments.training import run_train_segments
    from pipelines.tasks.base import registered_name

    s = settings.segments
    record = ({"skipped": "segments.enabled is false"} if not s.enabled
              else task.learn_segments(paths, settings))
    if record is None and not task.segments:
        record = {"skipped": f"task {task.name!r} has no platform/segment models"}
    if record is not None:
        paths.segments.parent.mkdir(parents=True, exist_ok=True)
        paths.segments.write_text(json.dumps(record, indent=2) + "\n")
        paths.segment_models.mkdir(parents=True, exist_ok=True)
        return record
    model_name = registered_name(settings.register.model_name, task)
    plan = segment_plan(task, paths, settings, model_name=model_name, now=now)
    result = run_train_segments(
        task, paths.feature_table(task.table), paths.models, paths.metrics, paths.segments,
        paths.segment_models, segment_key=s.key, min_samples=s.min_samples,
        min_holdout=s.min_holdout, only=tuple(plan["only"]), gate=settings.promote,
        seed=settings.train.seed, model_cache_dir=paths.model_cache)
    registry = run_register_segments(
        segments_path=paths.segments, tracking_uri=paths.tracking_uri,
        artifact_root=paths.mlflow_artifacts, experiment=settings.register.experiment,
        model_name=model_name, run_key=run_key)
    return {"plan": plan["reason"], "trained": [k for k, r in result["segments"].items()
                                                if "skipped" not in r],
            "used": result["used"], **registry}


def segment_plan(task: Task, paths: ProjectPaths, settings: Settings, *, model_name: str,
                 now: pd.Timestamp) -> dict[str, Any]:
    """Which segments this training run (re)trains: the ones named in ``segments.only``,
    else every segment due for retraining plus every one without a model yet. A labelled
    post counts toward a retraining once as old as the global champion's training horizon
    (its ``engageflow.maturity_hours`` tag; ``features.maturity_hours`` only for a champion
    without it)."""
    import pandas as pd

    from pipelines.registry import tracking
    from pipelines.registry.segment_models import segment_models
    from pipelines.segments.hierarchy import Segment
    from pipelines.segments.retraining import segments_due

    s = settings.segments
    if s.only:
        return {"only": list(s.only), "due": [], "reason": "named in segments.only"}
    tracking.connect(paths.tracking_uri)
    models = segment_models(model_name)
    if not models:
        return {"only": [], "due": [], "reason": "first training: every eligible segment"}
    champion = models.get(Segment("global"), {})
    maturity_hours = tracking.trained_maturity_hours(
        champion.get("maturity_hours"), configured=settings.features.maturity_hours,
        model=f"segment retraining: {model_name}@champion (version "
              f"{champion.get('version', 'none')})")
    posts = pd.read_parquet(paths.validated(task.input.entity))
    due = segments_due(posts, models, target=task.target, segment_key=s.key,
                       min_samples=s.min_samples, retrain_after=s.retrain_after,
                       maturity_hours=maturity_hours, now=now)
    have = {segment.key for segment in models}
    new = _new_segments(posts, s.key, have)
    only = sorted({d["segment"] for d in due} | new)
    return {"only": only or ["global"], "due": due,
            "reason": f"{len(due)} segment(s) past {s.retrain_after} new labelled posts, "
                      f"{len(new)} without a model yet"}


def _new_segments(posts: pd.DataFrame, key: str, have: set[str]) -> set[str]:
    from pipelines.segments.hierarchy import level_name

    keys = {f"platform={p}" for p in posts["platform"].dropna().unique()}
    if key in posts.columns:
        keys |= {f"{level_name(key)}={v}" for v in posts[key].dropna().astype(str).unique()}
    return keys - have
