"""Split, training and evaluation of the feedback_sentiment task (its stage cores).

Every candidate is scored beside two naive baselines: the training class frequencies
(``prior``, the gate's baseline) and the training majority class (``majority``, a hard
classifier). The report has, per candidate, validation and test metrics, the test metrics
of the unseen-campaign slice and of the seen campaigns, per-campaign test metrics and how
many test rows each text model abstained on (non-English).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.tasks.feedback_columns import SPLIT_COLUMN, UNSEEN_COLUMN
from pipelines.tasks.feedback_data import CLASSES
from pipelines.tasks.feedback_language import SCORED_AS_ENGLISH

if TYPE_CHECKING:
    from pipelines.config.training import PromoteConfig
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.feedback import FeedbackSettings, FeedbackTask

logger = logging.getLogger(__name__)


def assign_split(campaigns: pd.Series, *, holdout_campaign: str | None,
                 valid_fraction: float, test_fraction: float, seed: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(``train``/``valid``/``test`` per row, whether the row is of the unseen campaign).

    Rows of ``holdout_campaign`` all go to ``test``; the others are split at random with
    ``seed`` in the given shares.

    Raises:
        ValueError: if ``holdout_campaign`` names no campaign of the data.
    """
    campaigns = campaigns.astype(str).to_numpy()
    unseen = campaigns == holdout_campaign if holdout_campaign is not None else \
        np.zeros(len(campaigns), dtype=bool)
    if holdout_campaign is not None and not unseen.any():
        known = sorted(set(campaigns))[:20]
        raise ValueError(f"assign_split: 'feedback_sentiment.holdout_campaign' "
                         f"{holdout_campaign!r} is not a campaign of the data; campaigns: "
                         f"{known}.")
    draw = np.random.default_rng(seed).random(len(campaigns))
    split = np.where(draw < test_fraction, "test",
                     np.where(draw < test_fraction + valid_fraction, "valid", "train"))
    split = np.where(unseen, "test", split).astype(object)
    return split, unseen


def language_report(languages: pd.Series) -> dict[str, Any]:
    """Rows per language and how many are scored as English."""
    counts = languages.value_counts()
    english = int(languages.isin(SCORED_AS_ENGLISH).sum())
    return {"counts": {str(k): int(v) for k, v in counts.head(15).items()},
            "scored_as_english": english, "not_english": int(len(languages) - english)}


def _language(section: FeedbackSettings) -> tuple[int, float, int]:
    return (section.language_min_letters, section.language_min_confidence,
            section.language_seed)


def train_candidates(task: FeedbackTask, paths: ProjectPaths, section: FeedbackSettings,
                     models: Sequence[str], *, seed: int, promote: PromoteConfig
                     ) -> dict[str, Any]:
    """Fit each of ``models`` on the training rows, with its campaign models
    (:func:`pipelines.tasks.feedback_campaigns.fit_campaign_models`, judged on the
    validation rows with ``promote``); write ``<name>.joblib`` (a
    :class:`~pipelines.tasks.feedback_campaigns.CampaignModels`), the decisions
    ``campaign_models.json`` and the manifest.

    Raises:
        ValueError: for a model name that is not a feedback family.
    """
    import joblib

    from pipelines.tasks.feedback_campaigns import fit_campaign_models
    from pipelines.tasks.feedback_models import make_model

    unknown = [m for m in models if m not in task.families]
    if unknown:
        raise ValueError(f"feedback.train: train.models {unknown} are not feedback families; "
                         f"the feedback_sentiment task knows {list(task.families)}.")
    if set(models) & {"minilm_linear", "text_demographics"}:
        from pipelines.features.text_embeddings import embed_texts

        table = pd.read_parquet(paths.feature_table(task.table), columns=["text"])
        paths.embedding_cache.parent.mkdir(parents=True, exist_ok=True)
        embed_texts(table["text"].tolist(), cache_path=paths.embedding_cache,
                    backend=section.text_backend, model_cache_dir=paths.model_cache,
                    show_progress=False)
    train, _ = task.holdout(paths)
    x, y = task.model_input(train), train[task.target].to_numpy(dtype=int)
    paths.models.mkdir(parents=True, exist_ok=True)
    valid = pd.read_parquet(paths.feature_table(task.table))
    valid = valid[valid[SPLIT_COLUMN] == "valid"]
    candidates, campaign_decisions = {}, {}
    for name in models:
        started = time.perf_counter()

        def make(name: str = name) -> Any:
            return make_model(name, language=_language(section),
                              cache_path=paths.embedding_cache,
                              model_cache_dir=paths.model_cache, backend=section.text_backend,
                              seed=seed, c=section.c, alpha=section.alpha)

        model = make()
        model.fit(x, y)
        hierarchy, campaign_decisions[name] = fit_campaign_models(
            model, make, train=train, valid=valid, target=task.target,
            features=task.model_input, min_samples=section.campaign_min_samples,
            shrinkage=section.campaign_shrinkage, gate=task.gate, promote=promote)
        seconds = time.perf_counter() - started
        joblib.dump(hierarchy, paths.models / f"{name}.joblib")
        record: dict[str, Any] = {"fit_seconds": round(seconds, 3),
                                  "campaign_models": campaign_decisions[name]["kept"],
                                  "hyperparameters": model.get_params()}
        if name == "vader":
            record["thresholds"] = {"negative_below": model.low_,
                                    "positive_above": model.high_,
                                    "train_macro_f1": round(model.train_macro_f1_, 4)}
        candidates[name] = record
        logger.info("feedback.train: %s fitted in %.2f s on %d rows", name, seconds, len(x))
    manifest = {"task": task.name, "target": task.target, "classes": list(CLASSES),
                "seed": seed, "rows": len(train), "candidates": candidates,
                "class_counts": {c: int((y == k).sum()) for k, c in enumerate(CLASSES)}}
    (paths.models / "campaign_models.json").write_text(
        json.dumps(campaign_decisions, indent=2, default=str))
    (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def evaluate_candidates(task: FeedbackTask, paths: ProjectPaths) -> dict[str, Any]:
    """Score every candidate and the baselines; write ``paths.metrics``."""
    import joblib

    from pipelines.evaluate.multiclass_metrics import majority_baseline, prior_baseline

    manifest = json.loads((paths.models / "manifest.json").read_text())
    table = pd.read_parquet(paths.feature_table(task.table))
    train = table[table[SPLIT_COLUMN] == "train"]
    parts = {p: table[table[SPLIT_COLUMN] == p] for p in ("valid", "test")}
    test = parts["test"]
    unseen = test[UNSEEN_COLUMN].to_numpy(dtype=bool)
    english = test["language"].isin(SCORED_AS_ENGLISH).to_numpy()
    y_train = train[task.target].to_numpy(dtype=int)
    k = len(CLASSES)

    def scored(predicted: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {p: task.metrics(parts[p][task.target].to_numpy(), predicted[p])
                               for p in parts}
        actual = test[task.target].to_numpy()
        for name, member in (("test_unseen_campaign", unseen), ("test_seen_campaigns", ~unseen),
                             ("test_english", english)):
            if member.sum() >= 2:
                out[name] = task.metrics(actual[member], predicted["test"][member])
        out["test_by_campaign"] = {
            str(c): task.metrics(actual[m], predicted["test"][m])["macro_f1"]
            for c in sorted(test["campaign"].unique())
            if (m := (test["campaign"] == c).to_numpy()).sum() >= 20}
        return out

    results: dict[str, Any] = {}
    for name in manifest["candidates"]:
        model = joblib.load(paths.models / f"{name}.joblib")
        predicted = {p: task.predict(model, rows) for p, rows in parts.items()}
        results[name] = scored(predicted)
        results[name]["test_abstained_not_english"] = (
            int((~english).sum()) if getattr(model, "reads_text", False) else 0)
    baselines = {
        "prior": scored({p: prior_baseline(y_train, len(r), k) for p, r in parts.items()}),
        "majority": scored({p: majority_baseline(y_train, len(r), k)
                            for p, r in parts.items()})}
    best = min(results, key=lambda n: results[n]["valid"][task.selection_metric])
    metric = task.selection_metric
    report = {
        "task": task.name, "target": task.target, "classes": list(CLASSES),
        "selection_metric": metric, "best": best, "candidates": results,
        "baselines": baselines,
        "improvement_over_baseline_log_loss":
            baselines["prior"]["test"][metric] - results[best]["test"][metric],
        "rows": {"train": len(train), **{p: len(r) for p, r in parts.items()},
                 "test_unseen_campaign": int(unseen.sum()),
                 "test_not_english": int((~english).sum())},
    }
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(report, indent=2))
    logger.info("feedback.evaluate: best %s, test log-loss %.4f (prior %.4f), macro-F1 %.3f "
                "(majority %.3f)", best, results[best]["test"][metric],
                baselines["prior"]["test"][metric], results[best]["test"]["macro_f1"],
                baselines["majority"]["test"]["macro_f1"])
    return report
