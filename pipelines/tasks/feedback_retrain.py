"""Campaign models from labelled feedback that arrives after training (feedback intake).

``POST /tasks/feedback_sentiment/outcomes`` stores each labelled record whole
(:mod:`pipelines.serve.task_outcomes`); after each such request the server asks
:func:`retrain_campaigns` about the campaigns it named. A campaign is **due**

- when ``retrain_after`` labelled records of it arrived since its model last learned
  (:func:`labels_since`), or
- when no campaign model was tried for it yet (training saw under ``campaign_min_samples``
  of its rows, or none: a new campaign) and its training rows (training's count plus its
  records' training share) now reach ``campaign_min_samples``.

A due campaign's rows are its rows of the features table (its ``train`` and ``valid``
split; the ``test`` rows stay unseen) plus every labelled record of it; a record's split is
a hash of its ``feedback_id`` with ``feedback_sentiment.seed`` (``valid`` at
``valid_fraction``, else ``train``), so a record keeps its split across retrainings, and
its label replaces the table's for the same ``feedback_id``. Over ``max_rows`` rows
(``serve.auto_train_max_rows``), or under ``campaign_min_samples`` training rows, the
campaign is not retrained in the server (the report says why). Otherwise its
model is fitted and judged exactly as at training
(:func:`pipelines.tasks.feedback_campaigns.fit_campaign_models`: the same family, the
same shrinkage, the promotion gate against the global model on the campaign's validation
rows) and merged into a copy of the served model: kept, it answers the campaign; not
kept, the campaign falls back to the global model with the gate's reason. Either way the
campaign's labels count from now on (``labels_since_``). The global model and every other
campaign stay as they were.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.tasks.feedback_columns import SPLIT_COLUMN
from pipelines.tasks.feedback_data import CLASSES

if TYPE_CHECKING:
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.feedback import FeedbackSettings, FeedbackTask
    from pipelines.tasks.feedback_campaigns import CampaignModels

logger = logging.getLogger(__name__)


def labels_since(model: Any, campaign: str) -> datetime | None:
    """When ``model`` last learned from ``campaign``'s labelled records: its retraining in
    the server, else when the model it was retrained from was registered (None: this
    version's registration)."""
    own = (getattr(model, "labels_since_", None) or {}).get(campaign)
    return own or getattr(model, "base_since_", None)


def tried(model: CampaignModels, campaign: str) -> bool:
    """Whether a campaign model was fitted and judged for ``campaign`` (kept or not)."""
    return (campaign in model.models or campaign in model.reasons
            or campaign in (getattr(model, "labels_since_", None) or {}))


def record_split(ids: pd.Series, *, valid_fraction: float, seed: int) -> np.ndarray:
    """``valid`` or ``train`` for each labelled record, a stable hash of its id."""
    def draw(key: str) -> float:
        digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    return np.where([draw(str(k)) < valid_fraction for k in ids], "valid", "train")


def campaign_rows(table: pd.DataFrame | None, records: list[dict[str, Any]], campaign: str,
                  section: FeedbackSettings) -> pd.DataFrame:
    """``campaign``'s training and validation rows: the features table's plus the labelled
    records (language detected, split by :func:`record_split`); a record replaces the
    table's row of the same ``feedback_id``."""
    from pipelines.tasks.feedback_data import fill_unknown
    from pipelines.tasks.feedback_language import detect_languages

    new = pd.DataFrame.from_records(records)
    if not new.empty:
        new["sentiment"] = [CLASSES.index(label) for label in new.pop("label")]
        for column in ("gender", "age_range", "education", "country", "state", "timezone"):
            new[column] = fill_unknown(new[column])
        new["language"] = detect_languages(
            new["text"].tolist(), min_letters=section.language_min_letters,
            min_confidence=section.language_min_confidence, seed=section.language_seed)
        new[SPLIT_COLUMN] = record_split(new["feedback_id"],
                                         valid_fraction=section.valid_fraction,
                                         seed=section.seed)
    old = pd.DataFrame() if table is None else table[
        (table["campaign"].astype(str) == campaign) & table[SPLIT_COLUMN].isin(["train",
                                                                                 "valid"])]
    if not new.empty and not old.empty:
        old = old[~old["feedback_id"].astype(str).isin(set(new["feedback_id"].astype(str)))]
    parts = [part for part in (old, new.drop(columns=["recorded_at"], errors="ignore"))
             if not part.empty]
    if not parts:
        return pd.DataFrame({SPLIT_COLUMN: pd.Series([], dtype=object)})
    return pd.concat(parts, ignore_index=True)


def retrain_campaigns(task: FeedbackTask, model: CampaignModels,
                      outcomes: Mapping[str, list[dict[str, Any]]],
                      counts: Mapping[str, dict[str, int]], *, paths: ProjectPaths,
                      settings: Settings, max_rows: int, now: datetime,
                      registered_at: datetime | None
                      ) -> tuple[CampaignModels | None, dict[str, dict[str, Any]]]:
    """(a copy of ``model`` with the due campaigns of ``outcomes`` retrained, or None when
    none was; per campaign named in ``outcomes``: ``due``, ``retrained``, ``kept``, the
    row counts and a ``message``). See the module docstring for when a campaign is due."""
    from sklearn.base import clone

    from pipelines.tasks.feedback_campaigns import CampaignModels, fit_campaign_models

    section = task.section(settings)
    path = paths.feature_table(task.table)
    campaigns, samples = dict(model.models), dict(model.samples)
    reasons, since = dict(model.reasons), dict(getattr(model, "labels_since_", None) or {})
    report: dict[str, dict[str, Any]] = {}
    for campaign, records in sorted(outcomes.items()):
        new = counts.get(campaign, {}).get("since_training", 0)
        # the campaign's training rows as training counted them plus its records' share
        ids = pd.Series([r["feedback_id"] for r in records], dtype=object)
        expected = model.samples.get(campaign, 0) + int(
            (record_split(ids, valid_fraction=section.valid_fraction,
                          seed=section.seed) == "train").sum())
        entry: dict[str, Any] = {"due": False, "retrained": False, "kept": False,
                                 "labelled_since_training": new}
        report[campaign] = entry
        if not tried(model, campaign) and expected >= section.campaign_min_samples:
            entry["due"] = True
            why = (f"{expected} training rows reach campaign_min_samples "
                   f"{section.campaign_min_samples} for a first campaign model")
        elif new >= section.retrain_after:
            entry["due"] = True
            why = f"{new} labelled feedbacks since its last training, retrain_after " \
                  f"{section.retrain_after}"
        else:
            entry["message"] = (f"campaign {campaign!r}: not due ({new} of "
                                f"{section.retrain_after} labelled feedbacks since its last "
                                f"training, {expected} of {section.campaign_min_samples} "
                                f"training rows)")
            continue
        table = (pd.read_parquet(path, filters=[("campaign", "==", campaign)])
                 if path.exists() else None)
        rows = campaign_rows(table, records, campaign, section)
        train_rows = int((rows[SPLIT_COLUMN] == "train").sum())
        entry.update(rows=len(rows), train_rows=train_rows)
        if len(rows) > max_rows:
            entry["message"] = (f"campaign {campaign!r} is due ({why}) but has {len(rows)} "
                                f"rows, over serve.auto_train_max_rows={max_rows}: not "
                                f"retrained in the server")
            continue
        if train_rows < section.campaign_min_samples:
            entry["message"] = (f"campaign {campaign!r} is due ({why}) but has {train_rows} "
                                f"of {section.campaign_min_samples} training rows: the global "
                                f"model answers it")
            continue
        train, valid = rows[rows[SPLIT_COLUMN] == "train"], rows[rows[SPLIT_COLUMN] == "valid"]
        fitted, summary = fit_campaign_models(
            model.global_model, lambda: clone(model.global_model), train=train, valid=valid,
            target=task.target, features=task.model_input,
            min_samples=section.campaign_min_samples, shrinkage=section.campaign_shrinkage,
            gate=task.gate, promote=settings.promote)
        decision = summary["campaigns"][campaign]
        campaigns.pop(campaign, None)
        reasons.pop(campaign, None)
        campaigns.update(fitted.models)
        reasons.update(fitted.reasons)
        samples[campaign], since[campaign] = train_rows, now
        entry.update(retrained=True, kept=bool(decision["kept"]),
                     valid_rows=decision["valid_rows"], decision=decision.get("decision"),
                     valid_metrics=decision.get("valid_metrics"),
                     message=(f"campaign {campaign!r} was retrained in this cycle ({why}) on "
                              f"{train_rows} training rows: {decision['reason']}"))
        logger.info("feedback.retrain: %s (validation metrics %s)", entry["message"],
                    entry["valid_metrics"])
    if not any(e["retrained"] for e in report.values()):
        return None, report
    merged = CampaignModels(model.global_model, campaigns, samples, reasons,
                            model.min_samples)
    merged.labels_since_ = since
    merged.base_since_ = getattr(model, "base_since_", None) or registered_at
    return merged, report
