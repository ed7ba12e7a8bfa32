"""The promotion gate in the registry: judge this run's ``@challenger``, move the aliases.

The training DAG's ``promote`` task calls :func:`run_promotion_gate` after
``register``. It loads the champion and the challenger from the registry, scores both on
the SAME time-ordered holdout (the run's test rows), asks the pure gate
(``pipelines.evaluate.promotion_gate``) for a decision, and acts on it — every alias move
through ``audit.move_alias``, with the decision record:

========================  =================================================================
decision                  registry
========================  =================================================================
promote (a champion)      ``@previous`` -> old champion, ``@champion`` -> challenger's
                          version, ``@challenger`` removed
promote (first model)     ``@champion`` -> the version, ``@challenger`` removed
keep_challenger           nothing moves; the online champion-challenger test decides
                          (audited with ``audit.record_decision``)
reject                    ``@challenger`` removed (the version stays registered, unaliased)
========================  =================================================================

A rejected or kept challenger is a normal outcome: the function returns, the task succeeds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import PromoteConfig, Settings
from pipelines.evaluate.promotion_gate import (
    KEEP,
    PROMOTE,
    REJECT,
    format_decision,
    promotion_decision,
)
from pipelines.paths import ProjectPaths
from pipelines.registry import audit, model_card, tracking
from pipelines.registry.register import CHALLENGER, CHAMPION, current_alias_version
from pipelines.tasks.base import Task
from pipelines.train.split import REGIME_COLUMN

logger = logging.getLogger(__name__)

PREVIOUS = audit.PREVIOUS


def _evidence_model(paths: ProjectPaths, candidate: str) -> Any:
    """The run's candidate as fitted without its holdout (``models/<candidate>.joblib``):
    the registered version may be its final refit on every label, holdout included, so
    the gate's evidence comes from this fit of the same recipe."""
    import joblib

    return joblib.load(paths.models / f"{candidate}.joblib")


def _with_history_of(model: Any, evidence: Any) -> Any:
    """``model`` reading the account history ``evidence`` reads (where both are post
    models with the same maturity): the champion and the challenger then predict the
    holdout from the same known outcomes, and accounts held out of this run's training
    are new to both."""
    mine = getattr(model, "named_steps", {}).get("features")
    theirs = getattr(evidence, "named_steps", {}).get("features")
    if getattr(mine, "history_", None) is None or getattr(theirs, "history_", None) is None:
        return model
    if mine.history_.maturity_hours != theirs.history_.maturity_hours:
        logger.info("promotion gate: the champion reads its own account history (its "
                    "maturity %s h differs from the challenger's %s h)",
                    mine.history_.maturity_hours, theirs.history_.maturity_hours)
        return model
    mine.history_ = theirs.history_
    return model


def _headline(record: dict[str, Any]) -> dict[str, Any]:
    primary = record.get("primary") or {}
    return {"decision": record["decision"], "n_rows": record.get("n_rows"),
            "metric": (record.get("settings") or {}).get("metric"),
            "improvement": primary.get("improvement"), "ci_low": primary.get("ci_low"),
            "ci_high": primary.get("ci_high")}


def decide(
    task: Task,
    paths: ProjectPaths,
    *,
    model_name: str,
    version: str,
    champion_version: str | None,
    candidate: str,
    settings: PromoteConfig,
    seed: int,
) -> dict[str, Any]:
    """Score the challenger ``version`` (and the champion, if any) on the run's holdout and
    return the gate's decision record, with the versions and model URIs it judged.

    The task says what the gate measures (``task.gate``: primary and guard metrics, the
    first model's bounds, the naive baseline every model must beat); ``settings`` how
    sure it must be."""
    import mlflow

    train, test = task.holdout(paths)
    slice_by = task.slice_column
    challenger_uri = f"models:/{model_name}/{version}"
    champion_uri = None if champion_version is None else \
        f"models:/{model_name}/{champion_version}"
    evidence = _evidence_model(paths, candidate)
    challenger = task.predict(evidence, test)
    champion = None
    judged, seen = "evidence", np.zeros(len(test), dtype=bool)
    if champion_uri is not None:
        champion_model = mlflow.sklearn.load_model(champion_uri)
        as_registered = task.predict(champion_model, test)
        registered = task.predict(mlflow.sklearn.load_model(challenger_uri), test)
        if np.array_equal(registered, as_registered):
            # the same model again (same data, recipe and seed): nothing to test
            challenger, champion, judged = registered, as_registered, "registered"
        else:
            champion = task.predict(_with_history_of(champion_model, evidence), test)
            through = _trained_through(model_name, champion_version)
            if through is not None:
                seen = (pd.to_datetime(test[task.table_time_column], utc=True)
                        <= through).to_numpy()
    unseen = ~seen
    if champion is not None and unseen.sum() < settings.min_slice_rows:
        record = _nothing_unseen(task, settings, int(seen.sum()), int(unseen.sum()))
    else:
        rows = test[unseen]
        record = promotion_decision(
            rows[task.target].to_numpy(dtype=float), challenger[unseen],
            None if champion is None else champion[unseen],
            baseline=task.baseline(train, rows), baseline_name=task.gate.baseline,
            slice_labels=(None if slice_by is None
                          else rows[slice_by].astype(object).to_numpy()),
            regime_labels=(rows[REGIME_COLUMN].to_numpy() if REGIME_COLUMN in rows.columns
                           else None),
            cluster_labels=(rows["account_id"].astype(str).to_numpy()
                            if settings.bootstrap_unit == "account" else None),
            row_weights=(None if task.weight_column is None
                         else rows[task.weight_column].to_numpy(dtype=float)),
            metric=task.gate.primary, secondary_metrics=task.gate.guards,
            first_model_bounds=task.gate.first_model_bounds,
            confidence=settings.confidence, resamples=settings.resamples,
            min_delta=settings.min_delta,
            non_inferiority_margin=settings.non_inferiority_margin,
            min_slice_rows=settings.min_slice_rows, seed=seed,
            min_baseline_improvement=settings.min_baseline_improvement,
        )
    record["judged"] = {
        "challenger": ("the registered version (identical to the champion)"
                       if judged == "registered" else
                       f"the evidence model: {candidate} fitted without its holdout"),
        "holdout_rows_the_champion_trained_on": int(seen.sum())}
    record["settings"].update(bootstrap_unit=settings.bootstrap_unit, slice_by=slice_by)
    record.update({
        "model_name": model_name, "task": task.name, "target": task.target,
        "challenger_version": version, "champion_version": champion_version,
        "challenger_uri": challenger_uri, "champion_uri": champion_uri,
        "holdout": {"rows": int(len(test)),
                    "first": str(test[task.table_time_column].min()),
                    "last": str(test[task.table_time_column].max())},
    })
    return record


def _trained_through(model_name: str, version: str) -> pd.Timestamp | None:
    """The newest label version ``version`` learned from (its ``engageflow.trained_through``
    tag; None for versions registered before the tag existed)."""
    from mlflow import MlflowClient

    tag = MlflowClient().get_model_version(model_name, version).tags.get(
        tracking.TRAINED_THROUGH_TAG)
    if not tag:
        return None
    stamp = pd.Timestamp(tag)
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def _nothing_unseen(task: Task, settings: PromoteConfig, seen: int, unseen: int
                    ) -> dict[str, Any]:
    """The record when the champion trained on (nearly) every holdout row: no offline
    comparison is fair, so the challenger waits for the online test."""
    reason = (f"challenger kept as challenger, not promoted: the champion was trained on "
              f"{seen} of the {seen + unseen} holdout rows (its final refit reached past this "
              f"run's cut-off), so the {unseen} rows it never saw are fewer than "
              f"min_slice_rows={settings.min_slice_rows}; no fair offline comparison — the "
              f"online champion-challenger test decides")
    return {"mode": "challenger_vs_champion", "n_rows": unseen, "decision": KEEP,
            "promoted": False, "checks": [], "reasons": [reason],
            "settings": {"metric": task.gate.primary, "confidence": settings.confidence,
                         "resamples": settings.resamples,
                         "min_slice_rows": settings.min_slice_rows}}


def apply_decision(record: dict[str, Any], *, actor: str) -> dict[str, str | None]:
    """Move the aliases as ``record`` says (idempotent: a repeated move writes nothing).

    Returns:
        Where ``champion``, ``challenger`` and ``previous`` point afterwards.
    """
    name, version = record["model_name"], record["challenger_version"]
    champion = record["champion_version"]
    reason = record["reasons"][0]
    metrics, decision = _headline(record), record
    if record["decision"] == PROMOTE:
        audit.promote(name, version, champion=champion, actor=actor, reason=reason,
                      metrics=metrics, decision=decision)
    elif record["decision"] == REJECT:
        audit.retire_challenger(name, version, actor=actor, reason=reason, metrics=metrics,
                                decision=decision)
    elif record["decision"] == KEEP:
        audit.record_decision(name, CHALLENGER, actor=actor, reason=reason, metrics=metrics,
                              decision=decision)
    return {alias: current_alias_version(name, alias)
            for alias in (CHAMPION, CHALLENGER, PREVIOUS)}


def _model_uri(name: str, version: str, aliases: dict[str, str | None]) -> str:
    """Where this run's model loads from now (an alias it holds, else its version)."""
    for alias in (CHAMPION, CHALLENGER):
        if aliases.get(alias) == version:
            return f"models:/{name}@{alias}"
    return f"models:/{name}/{version}"


def run_promotion_gate(task: Task, paths: ProjectPaths, settings: Settings, *,
                       run_key: str) -> dict[str, Any]:
    """Stage runner: gate the version this run registered and move the aliases.

    Idempotent per run: the decision is written to ``paths.promotion`` before any alias
    moves, and a retried task re-applies that same decision (moves already made are
    no-ops) instead of judging again against a champion that may have moved.

    Returns:
        The decision record (also in ``paths.promotion`` and the run's MLflow parent run):
        the gate's numbers and reasons plus ``aliases`` (after the moves) and ``model_uri``.
    """
    registration_path, decision_path = paths.registration, paths.promotion
    tracking_uri = paths.tracking_uri
    import mlflow
    from mlflow import MlflowClient

    tracking.connect(tracking_uri)
    registration = json.loads(registration_path.read_text())
    name, version = registration["model_name"], str(registration["version"])
    actor = f"promotion_gate:{run_key}"
    previous = json.loads(decision_path.read_text()) if decision_path.exists() else None
    if previous and previous.get("challenger_version") == version and \
            previous.get("model_name") == name:
        logger.info("promotion gate: re-applying the decision already taken for %s v%s",
                    name, version)
        record = previous
    else:
        champion = current_alias_version(name, CHAMPION)
        challenger = current_alias_version(name, CHALLENGER)
        if champion == version or challenger != version:
            # Someone else moved the aliases since register: there is nothing to judge.
            record = {"decision": "skipped", "promoted": False, "model_name": name,
                      "challenger_version": version, "champion_version": champion,
                      "mode": "none", "n_rows": 0, "reasons": [
                          f"version {version} is not @challenger any more (champion "
                          f"{champion}, challenger {challenger}); nothing to gate"]}
        else:
            record = decide(task, paths, model_name=name, version=version,
                            champion_version=champion, candidate=registration["candidate"],
                            settings=settings.promote,
                            seed=settings.promote.seed)
        record.update(run_key=run_key, parent_run_id=registration.get("parent_run_id"))
        decision_path.parent.mkdir(parents=True, exist_ok=True)
        decision_path.write_text(json.dumps(record, indent=2))
    aliases = (apply_decision(record, actor=actor) if record["decision"] != "skipped" else
               {a: current_alias_version(name, a) for a in (CHAMPION, CHALLENGER, PREVIOUS)})
    record.update(aliases=aliases, model_uri=_model_uri(name, version, aliases))
    decision_path.write_text(json.dumps(record, indent=2))

    parent = registration.get("parent_run_id")
    if parent:
        with mlflow.start_run(run_id=parent):
            mlflow.log_dict(record, "promotion/decision.json")
            mlflow.set_tag("engageflow.gate.decision", record["decision"])
            primary = record.get("primary") or {}
            mlflow.log_metrics({f"gate_{k}": float(v) for k, v in {
                "promoted": float(record["promoted"]),
                "improvement": primary.get("improvement"), "ci_low": primary.get("ci_low"),
                "ci_high": primary.get("ci_high"),
                "holdout_rows": record.get("n_rows")}.items() if v is not None})
    MlflowClient().set_model_version_tag(
        name, version, "engageflow.gate.decision",
        f"{record['decision']}: {record['reasons'][0]}"[:4500])
    model_card.publish_gate(record)
    logger.info("promotion gate: %s v%s -> %s (aliases now %s)", name, version,
                record["decision"], aliases)
    return record


def format_gate(record: dict[str, Any]) -> str:
    """The decision and the aliases afterwards, for a task log."""
    if record.get("decision") == "skipped":
        return f"promotion gate: SKIPPED — {record['reasons'][0]}"
    aliases = ", ".join(f"@{a} = v{v}" for a, v in (record.get("aliases") or {}).items()
                        if v is not None) or "no aliases"
    return f"{format_decision(record)}\n  registry now: {aliases}"
