"""Train the platform and segment (campaign / account) models and keep only those that earn it.

After the global model is trained, every platform and every segment with at least
``min_samples`` labelled training rows gets its own model of the global winner's family,
fitted on that level's training rows only. It is used only if it beats the level above it
(the platform model where the platform earned one, else the global model) on the level's
own slice of the time-ordered test part, through the same statistical promotion gate as
the registry (:func:`pipelines.evaluate.promotion_gate.promotion_decision`); otherwise the
level falls back. Decisions with all numbers go to ``segments.json``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from pipelines.config import PromoteConfig
from pipelines.features.engagement_features import EngagementFeaturizer
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import read_manifest
from pipelines.segments.hierarchy import Segment, level_name
from pipelines.tasks.base import Task
from pipelines.train.split import labelled, manifest_split
from pipelines.train.stage import fit_post_model

logger = logging.getLogger(__name__)


#: A level's slice is small: the primary metric must improve and RMSE must not get worse;
#: a rank metric on a few dozen rows (or a constant model) is noise.
SEGMENT_GUARDS: tuple[str, ...] = ("rmse_log",)


def _file_name(segment: Segment) -> str:
    return f"{segment.alias}.joblib"


def run_train_segments(
    task: Task,
    features_path: Path,
    models_dir: Path,
    metrics_path: Path,
    segments_path: Path,
    out_dir: Path,
    *,
    segment_key: str,
    min_samples: int,
    min_holdout: int,
    only: tuple[str, ...],
    gate: PromoteConfig,
    seed: int,
    model_cache_dir: Path,
) -> dict[str, Any]:
    """Stage runner: fit, gate and save the platform and segment models.

    Args:
        task: The post task whose global model the segment models challenge.
        features_path: The feature table of the run.
        models_dir: The run's models (``manifest.json`` and the global candidates).
        metrics_path: The evaluation report (names the global winner).
        segments_path: Where the decisions go (JSON).
        out_dir: Where the models that earned their place go.
        segment_key: The column of the most specific level (``campaign_id``, ``account_id``).
        min_samples: Labelled training rows a level needs before it gets a model.
        min_holdout: Holdout rows a level needs before the gate may trust a bootstrap of
            them (a confidence interval from 4 posts is not evidence).
        only: Segment keys (``platform=x``, ``campaign=y``) to train; empty trains every
            eligible one (a retraining run names just the segments with new data).
        gate: The ``promote`` settings: the same evidence the global model needs.
        seed: Seed of the segment models (``train.seed``).
        model_cache_dir: Where the text model is cached (caption embeddings).

    Returns:
        The record written to ``segments_path``.
    """
    from pipelines.evaluate.promotion_gate import promotion_decision

    manifest = json.loads((models_dir / "manifest.json").read_text())
    report = json.loads(metrics_path.read_text())
    target, family = task.target, report["best"]
    if family.startswith("two_stage_"):
        logger.info("segments: the winner %s is a two-stage model; segments use lightgbm",
                    family)
        family = "lightgbm"
    all_posts = pd.read_parquet(features_path)
    table = labelled(all_posts, target)
    features = read_manifest(features_path)
    settings = FeatureSettings(**features["settings"])
    names = list(features["feature_columns"])
    split = manifest_split(table, manifest["split"])
    fit_rows = split.train  # the same past (and held-out accounts) as the global model
    cold_ids = set(table.loc[split.cold, "account_id"].astype(str))
    known = all_posts[~all_posts["account_id"].astype(str).isin(cold_ids)]
    # One history for every segment model (the global model's). With caption embeddings
    # each segment model gets its own featurizer: its text reducer is fitted on its own rows.
    featurizer = (None if settings.text_embeddings else EngagementFeaturizer.from_settings(
        settings, model_cache_dir=model_cache_dir).fit(known))
    test = table.iloc[split.test]
    global_model = joblib.load(models_dir / f"{report['best']}.joblib")
    parent_predictions = {Segment("global"): np.asarray(global_model.predict(test))}
    hyper = manifest["candidates"].get(report["best"], {}).get("hyperparameters", {})
    if family != report["best"]:
        hyper = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    records: dict[str, Any] = {}

    def consider(segment: Segment, rows: np.ndarray, parent: Segment) -> None:
        train_rows = np.intersect1d(fit_rows, rows)
        test_mask = np.isin(split.test, rows)
        record: dict[str, Any] = {
            "level": segment.level, "value": segment.value, "alias": segment.alias,
            "parent": parent.key, "train_rows": int(len(train_rows)),
            "test_rows": int(test_mask.sum()), "min_samples": min_samples, "used": False}
        records[segment.key] = record
        if only and segment.key not in only:
            record["skipped"] = "not in this run's segments"
            return
        if len(train_rows) < min_samples:
            record["reason"] = (f"{segment.key} has {len(train_rows)} of {min_samples} "
                                f"labelled training samples; falls back to {parent.key}")
            return
        if test_mask.sum() < min_holdout:
            record["reason"] = (f"{segment.key} has {int(test_mask.sum())} of {min_holdout} "
                                f"holdout rows needed to show it beats {parent.key}; "
                                f"falls back")
            return
        post_model, _ = fit_post_model(
            family, hyper, table=table, rows=train_rows, known_posts=known, target=target,
            settings=settings, feature_names=names, seed=seed,
            history_dropout=manifest.get("history_dropout", 0.0),
            scale=manifest["scale_relative"], model_cache_dir=model_cache_dir,
            featurizer=featurizer)
        rows_test = test.iloc[np.flatnonzero(test_mask)]
        own = np.asarray(post_model.predict(rows_test))
        above = parent_predictions[parent][test_mask]
        decision = promotion_decision(
            rows_test[target].to_numpy(), own, above, baseline=None,
            baseline_name=task.gate.baseline, slice_labels=None, cluster_labels=None,
            metric=task.gate.primary, secondary_metrics=SEGMENT_GUARDS,
            first_model_bounds=task.gate.first_model_bounds, confidence=gate.confidence,
            resamples=gate.resamples, min_delta=gate.min_delta,
            non_inferiority_margin=gate.non_inferiority_margin, min_slice_rows=1,
            seed=gate.seed, min_baseline_improvement=gate.min_baseline_improvement)
        record.update(decision=decision["decision"], reasons=decision["reasons"],
                      gate=decision, used=bool(decision["promoted"]))
        if record["used"]:
            joblib.dump(post_model, out_dir / _file_name(segment))
            predictions = parent_predictions[parent].copy()
            predictions[test_mask] = own
            parent_predictions[segment] = predictions
            record["model_file"] = str(out_dir / _file_name(segment))
            record["reason"] = f"{segment.key} beat {parent.key} on its own holdout"
        else:
            record["reason"] = (f"{segment.key} did not beat {parent.key} on its own holdout "
                                f"({decision['decision']}); falls back")

    positions = np.arange(len(table))
    for platform in sorted(table["platform"].dropna().unique()):
        consider(Segment("platform", str(platform)),
                 positions[(table["platform"] == platform).to_numpy()], Segment("global"))
    level = level_name(segment_key)
    if segment_key in table.columns and segment_key != "platform":
        keys = table[segment_key].astype("string")
        for value in sorted(keys.dropna().unique()):
            rows = positions[(keys == value).fillna(False).to_numpy()]
            platform = Counter(table["platform"].iloc[rows]).most_common(1)[0][0]
            above = Segment("platform", str(platform))
            parent = above if above in parent_predictions else Segment("global")
            consider(Segment(level, str(value)), rows, parent)
    result = {
        "target": target, "family": family, "segment_key": segment_key,
        "min_samples": min_samples, "min_holdout": min_holdout, "only": list(only),
        "used": sorted(k for k, r in records.items() if r["used"]),
        "trained_through": str(table["posted_at"].iloc[fit_rows].max()),
        "segments": records,
    }
    segments_path.parent.mkdir(parents=True, exist_ok=True)
    segments_path.write_text(json.dumps(result, indent=2, default=str))
    logger.info("segments: %d levels considered, %d earned their own model: %s",
                len(records), len(result["used"]), ", ".join(result["used"]) or "none")
    return result
