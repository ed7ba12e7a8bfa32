"""The promotion gate in the registry: judge this run's ``@challenger``, move the aliases.

The training DAG's ``promotion_gate`` task calls :func:`run_promotion_gate` after
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import PromoteConfig
from pipelines.evaluate.metrics import account_median_baseline
from pipelines.evaluate.promotion_gate import (
    KEEP,
    PROMOTE,
    REJECT,
    format_decision,
    promotion_decision,
)
from pipelines.registry import audit, tracking
from pipelines.registry.register import CHALLENGER, CHAMPION, current_alias_version
from pipelines.train.split import labelled, time_split

logger = logging.getLogger(__name__)

PREVIOUS = audit.PREVIOUS


def holdout(features_path: Path, models_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The run's (training rows, test rows, target): the same time-ordered split that
    train and evaluate used, so the gate never scores a model on rows it learned from."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    target = manifest["target"]
    table = labelled(pd.read_parquet(features_path), target)
    split = time_split(table[manifest["split"].get("time_column", "posted_at")],
                       manifest["split"]["valid_fraction"], manifest["split"]["test_fraction"])
    return table.iloc[split.train], table.iloc[split.test], target


#: Follower growth is already a log1p difference; the gate scores log1p errors of counts, so
#: growth g is handed over as the pseudo-count expm1(g + GROWTH_SHIFT), whose log1p is
#: g + GROWTH_SHIFT: every log-scale error and rank is exactly that of g (raw-scale metrics
#: are meaningless there and are not used).
GROWTH_SHIFT = 10.0


def _as_counts(target: str, values: np.ndarray) -> np.ndarray:
    if target != "follower_growth":
        return values
    return np.expm1(np.asarray(values, dtype=float) + GROWTH_SHIFT)


def _predict(model_uri: str, rows: pd.DataFrame) -> np.ndarray:
    import mlflow

    return np.asarray(mlflow.sklearn.load_model(model_uri).predict(rows), dtype=float)


def _headline(record: dict[str, Any]) -> dict[str, Any]:
    primary = record.get("primary") or {}
    return {"decision": record["decision"], "n_rows": record.get("n_rows"),
            "metric": (record.get("settings") or {}).get("metric"),
            "improvement": primary.get("improvement"), "ci_low": primary.get("ci_low"),
            "ci_high": primary.get("ci_high")}


def decide(
    *,
    features_path: Path,
    models_dir: Path,
    model_name: str,
    version: str,
    champion_version: str | None,
    settings: PromoteConfig,
) -> dict[str, Any]:
    """Score the challenger ``version`` (and the champion, if any) on the run's holdout and
    return the gate's decision record, with the versions and model URIs it judged."""
    train, test, target = holdout(features_path, models_dir)
    if settings.slice_by not in test.columns:
        raise ValueError(f"promotion gate: 'promote.slice_by' must be a column of the "
                         f"feature table; got {settings.slice_by!r}.")
    challenger_uri = f"models:/{model_name}/{version}"
    champion_uri = None if champion_version is None else \
        f"models:/{model_name}/{champion_version}"
    growth = target == "follower_growth"
    secondary = tuple(m for m in settings.secondary_metrics if not (growth and m == "mae_raw"))
    record = promotion_decision(
        _as_counts(target, test[target].to_numpy(dtype=float)),
        _as_counts(target, _predict(challenger_uri, test)),
        None if champion_uri is None else _as_counts(target, _predict(champion_uri, test)),
        # the naive baseline of growth is "no growth"
        baseline=(_as_counts(target, np.zeros(len(test))) if growth
                  else account_median_baseline(train, test, target)),
        slice_labels=test[settings.slice_by].astype(object).to_numpy(),
        cluster_labels=(test["account_id"].astype(str).to_numpy()
                        if settings.bootstrap_unit == "account" else None),
        metric=settings.metric, secondary_metrics=secondary,
        confidence=settings.confidence, resamples=settings.resamples,
        min_delta=settings.min_delta, non_inferiority_margin=settings.non_inferiority_margin,
        min_slice_rows=settings.min_slice_rows, seed=settings.seed,
        max_mae_log=settings.max_mae_log, min_spearman=settings.min_spearman,
        min_baseline_improvement=settings.min_baseline_improvement,
    )
    record["settings"].update(bootstrap_unit=settings.bootstrap_unit,
                              slice_by=settings.slice_by)
    record.update({
        "model_name": model_name, "target": target, "challenger_version": version,
        "champion_version": champion_version, "challenger_uri": challenger_uri,
        "champion_uri": champion_uri,
        "holdout": {"rows": int(len(test)),
                    "first_posted_at": str(test["period_end" if growth else "posted_at"].min()),
                    "last_posted_at": str(test["period_end" if growth else "posted_at"].max())},
    })
    return record


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


def run_promotion_gate(
    *,
    registration_path: Path,
    features_path: Path,
    models_dir: Path,
    decision_path: Path,
    tracking_uri: str,
    settings: PromoteConfig,
    run_key: str,
) -> dict[str, Any]:
    """Stage runner: gate the version this run registered and move the aliases.

    Idempotent per run: the decision is written to ``decision_path`` before any alias
    moves, and a retried task re-applies that same decision (moves already made are
    no-ops) instead of judging again against a champion that may have moved.

    Returns:
        The decision record (also in ``decision_path`` and the run's MLflow parent run):
        the gate's numbers and reasons plus ``aliases`` (after the moves) and ``model_uri``.
    """
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
            record = decide(features_path=features_path, models_dir=models_dir,
                            model_name=name, version=version, champion_version=champion,
                            settings=settings)
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
