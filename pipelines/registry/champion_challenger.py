"""The online champion-challenger test: one daily look at matured outcomes, one decision.

Serving answers some requests with ``@champion`` and some with ``@challenger`` and logs
every prediction (``pipelines.prediction_log``). Each day :func:`run_champion_challenger`
(the ``champion_challenger`` DAG's task):

1. reads where ``@champion`` and ``@challenger`` point; without a challenger there is
   nothing to test;
2. joins the logged predictions of both versions with their outcomes that have matured
   (posts at least ``maturity_hours`` old at ``as_of``), keeping only predictions made since
   the challenger's first one (both arms over the same period) and one per post and arm;
3. computes each prediction's loss, ``|log1p(predicted) - log1p(actual)|``;
4. runs the anytime-valid mixture SPRT (``pipelines.evaluate.sequential_test``), which
   stays valid however many daily looks are taken;
5. acts, every move through ``audit.move_alias`` with the decision record:
   ``promote`` — ``@previous`` -> old champion, ``@champion`` -> challenger, ``@challenger``
   removed; ``rollback`` (significantly worse, or the guardrail) and ``stop_inconclusive``
   — ``@challenger`` removed; ``keep_testing`` — nothing moves, the look is audited with
   ``audit.record_decision``.

The day's record goes to ``report_dir`` and to an MLflow run (experiment
``champion_challenger.experiment``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import ChampionChallengerConfig
from pipelines.evaluate.sequential_test import (
    INCONCLUSIVE,
    KEEP_TESTING,
    PROMOTE,
    ROLLBACK,
    sequential_decision,
)
from pipelines.registry import audit, tracking
from pipelines.registry.register import CHALLENGER, CHAMPION, current_alias_version

logger = logging.getLogger(__name__)

PREVIOUS = audit.PREVIOUS
NO_CHALLENGER = "no_challenger"
TERMINAL = (PROMOTE, ROLLBACK, INCONCLUSIVE)


def arm_losses(pairs: pd.DataFrame, *, champion_version: str, challenger_version: str
               ) -> dict[str, Any]:
    """Per-arm losses from matured pairs (columns of ``PredictionLog.matured_pairs``).

    Arms are told apart by ``model_version`` (an arm label may outlive an alias move).
    Only predictions made since the challenger's first one count, so both arms cover the
    same days; a post predicted several times by one version counts once (its latest
    prediction), so a busy post does not weigh more than a quiet one.

    Returns:
        ``{"champion": losses, "challenger": losses, "since": first challenger prediction
        (or None), "pairs_used": rows}``.
    """
    pairs = pairs.reset_index(drop=True)
    versions = pairs["model_version"].astype(str)
    challenger_rows = pairs[versions == challenger_version]
    if challenger_rows.empty:
        empty = np.array([], dtype=float)
        return {"champion": empty, "challenger": empty, "since": None, "pairs_used": 0}
    since = challenger_rows["predicted_at"].min()
    rows = pairs[versions.isin([champion_version, challenger_version])
                 & (pairs["predicted_at"] >= since)].assign(model_version=versions)
    rows = rows.sort_values("predicted_at", kind="stable") \
        .drop_duplicates(["post_id", "model_version"], keep="last")
    loss = np.abs(np.log1p(np.clip(rows["prediction"].to_numpy(float), 0, None))
                  - np.log1p(rows["actual"].to_numpy(float)))
    arm = rows["model_version"].to_numpy()
    return {"champion": loss[arm == champion_version],
            "challenger": loss[arm == challenger_version],
            "since": since.isoformat(), "pairs_used": int(len(rows))}


def _act(record: dict[str, Any], *, actor: str) -> None:
    name = record["model_name"]
    champion, challenger = record["champion_version"], record["challenger_version"]
    reason = f"champion-challenger: {record['reason']}"
    metrics = {k: record.get(k) for k in ("difference", "cs_low", "cs_high", "outcomes")}
    metrics.update(n_champion=record["champion"]["n"], n_challenger=record["challenger"]["n"])
    decision = record["decision"]
    if decision == PROMOTE:
        audit.promote(name, challenger, champion=champion, actor=actor, reason=reason,
                      metrics=metrics, decision=record)
    elif decision in (ROLLBACK, INCONCLUSIVE):
        audit.retire_challenger(name, challenger, actor=actor, reason=reason,
                                metrics=metrics, decision=record)
    elif decision == KEEP_TESTING:
        audit.record_decision(name, CHALLENGER, actor=actor, reason=reason, metrics=metrics,
                              decision=record)


def run_champion_challenger(
    *,
    prediction_log_url: str,
    tracking_uri: str,
    artifact_root: Path,
    model_name: str,
    target: str,
    as_of: datetime,
    settings: ChampionChallengerConfig,
    maturity_hours: float,
    report_dir: Path,
    run_key: str,
) -> dict[str, Any]:
    """Today's look: test ``@challenger`` against ``@champion`` on matured outcomes and act.

    Idempotent per day: the record is written to ``report_dir/<model>/<as_of date>.json``
    before any alias moves, and a re-run of a day that already promoted or rolled back
    re-applies that decision (moves already made are no-ops) instead of finding no
    challenger.

    Args:
        as_of: The run's instant (tz-aware; the DAG run's ``run_after``, never now()).
        maturity_hours: An outcome counts once its post is this old
            (``features.maturity_hours``); recorded as ``horizon_hours``.

    Returns:
        The decision record: ``decision`` (``promote``, ``keep_testing``, ``rollback``,
        ``stop_inconclusive`` or ``no_challenger``), the versions, per-arm counts and mean
        losses, the confidence sequence, and the outcomes used.

    Raises:
        ValueError: for a naive ``as_of``.
    """
    import mlflow

    if as_of.tzinfo is None:
        raise ValueError(f"run_champion_challenger: 'as_of' must be tz-aware (UTC); "
                         f"got {as_of!r}.")
    tracking.connect(tracking_uri)
    report_path = report_dir / model_name / f"{as_of:%Y-%m-%d}.json"
    actor = run_key if run_key.startswith("champion_challenger") else \
        f"champion_challenger:{run_key}"
    earlier = json.loads(report_path.read_text()) if report_path.exists() else None
    if earlier and earlier.get("decision") in TERMINAL:
        logger.info("champion-challenger: re-applying %s of %s", earlier["decision"],
                    report_path.name)
        _act(earlier, actor=actor)
        return earlier

    champion = current_alias_version(model_name, CHAMPION)
    challenger = current_alias_version(model_name, CHALLENGER)
    base = {"model_name": model_name, "target": target, "as_of": as_of.isoformat(),
            "run_key": run_key, "champion_version": champion,
            "challenger_version": challenger, "horizon_hours": maturity_hours}
    if champion is None or challenger is None or champion == challenger:
        record = {**base, "decision": NO_CHALLENGER, "reason": (
            f"nothing to test: @champion {champion}, @challenger {challenger}")}
    else:
        from pipelines.prediction_log import PredictionLog

        log = PredictionLog(prediction_log_url)
        try:
            pairs = log.matured_pairs(model_name=model_name, target=target,
                                      horizon_hours=maturity_hours, now=as_of)
        finally:
            log.close()
        arms = arm_losses(pairs, champion_version=champion, challenger_version=challenger)
        test = sequential_decision(
            arms["champion"], arms["challenger"], alpha=settings.alpha,
            mixture_sd=settings.mixture_sd, min_outcomes=settings.min_outcomes,
            max_outcomes=settings.max_outcomes, guardrail_margin=settings.guardrail_margin)
        record = {**base, **test, "since": arms["since"], "pairs_used": arms["pairs_used"],
                  "loss": "abs error on log1p"}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(record, indent=2, default=str))
    if record["decision"] != NO_CHALLENGER:
        _act(record, actor=actor)
    record["aliases"] = {a: current_alias_version(model_name, a)
                         for a in (CHAMPION, CHALLENGER, PREVIOUS)}
    report_path.write_text(json.dumps(record, indent=2, default=str))

    experiment_id = tracking.ensure_experiment(settings.experiment, artifact_root)
    run_id = tracking.parent_run_id(experiment_id, run_key, run_name=f"{model_name} "
                                    f"{as_of:%Y-%m-%d}")
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags({"engageflow.model_name": model_name,
                         "engageflow.cc.decision": record["decision"]})
        mlflow.log_dict(record, "champion_challenger/decision.json")
        if "champion" in record and isinstance(record["champion"], dict):
            mlflow.log_metrics({f"cc_{k}": float(v) for k, v in {
                "n_champion": record["champion"]["n"],
                "n_challenger": record["challenger"]["n"],
                "mean_loss_champion": record["champion"]["mean_loss"],
                "mean_loss_challenger": record["challenger"]["mean_loss"],
                "difference": record.get("difference"), "cs_low": record.get("cs_low"),
                "cs_high": record.get("cs_high"),
                "log_likelihood_ratio": record.get("log_likelihood_ratio"),
            }.items() if v is not None and np.isfinite(v)})
    logger.info("champion-challenger %s: %s (%s)", model_name, record["decision"],
                record["reason"])
    return record


def format_look(record: dict[str, Any]) -> str:
    """The day's decision for a task log."""
    aliases = ", ".join(f"@{a} v{v}" for a, v in (record.get("aliases") or {}).items() if v)
    return (f"champion-challenger {record['model_name']} as of {record['as_of']}: "
            f"{record['decision'].upper()}\n  {record['reason']}\n"
            f"  registry now: {aliases or 'no aliases'}")
