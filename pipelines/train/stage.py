"""The training stage: cross-validate and fit every candidate on the training part; and the
final refit of the chosen one on every matured label.

One recipe (:func:`fit_post_model`) makes both the evidence models the evaluation and the
gate judge and the final model that is registered:

* the featurizer's account history is frozen on the posts the model may know;
* the rows are learned as they are, plus — history dropout — every post of a random
  ``history_dropout`` share of the accounts again as if the account were new (its history
  features recomputed with the account unknown), so the model meets cold starts;
* the estimator learns log-likes relative to the account's scale
  (:mod:`pipelines.train.scale_relative`).

Evidence models learn from the training part of the warm accounts only (the held-out
accounts and the later parts are the cold and warm evidence); the final refit learns from
every labelled post of every account up to the cut-off.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipelines.features.engagement_features import (
    EMBEDDING_PREFIX,
    FEATURE_PREFIX,
    EngagementFeaturizer,
)
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import read_manifest
from pipelines.train.model_zoo import (
    LINEAR_MODELS,
    TREE_MODELS,
    coefficient_importance,
    feature_importance,
    make_model,
)
from pipelines.train.split import holdout_split, labelled

logger = logging.getLogger(__name__)

#: Prefix of the stand-in account id a dropped-out account's posts are featurized under.
NEW_ACCOUNT_PREFIX = "\x1fnew-account:"


def feature_matrix(table: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """The model input columns of a feature table, under their feature names."""
    return table[[f"{FEATURE_PREFIX}{c}" for c in feature_names]].set_axis(
        list(feature_names), axis=1)


def fit_post_model(name: str, params: dict[str, Any], *, table: pd.DataFrame,
                   rows: np.ndarray, known_posts: pd.DataFrame, target: str,
                   settings: FeatureSettings, feature_names: list[str], seed: int,
                   history_dropout: float, scale: dict[str, float],
                   model_cache_dir: Path | None,
                   featurizer: EngagementFeaturizer | None = None
                   ) -> tuple[Pipeline, dict[str, Any]]:
    """Fit candidate ``name`` on ``table.iloc[rows]`` by the recipe (module docstring).

    Args:
        known_posts: The posts whose outcomes the model's account history holds.
        scale: ``train.scale_relative`` (the scale plane the model learns relative to).
        featurizer: A featurizer already fitted on ``known_posts`` to share between many
            fits (segment models); only without caption embeddings, whose reducer is
            fitted on each fit's own rows.

    Returns:
        (the model taking canonical posts, facts: rows, dropout rows, fit seconds,
        feature importance: tree gain shares, or a linear model's coefficient shares, with
        its ``importance_kind``).
    """
    part = table.iloc[rows]
    x, reducer = _design(part, feature_names, settings, seed)
    if featurizer is not None and reducer is not None:
        raise ValueError("fit_post_model: a shared featurizer cannot carry caption "
                         "embeddings (their reducer is fitted on each fit's rows).")
    if featurizer is None:
        featurizer = EngagementFeaturizer.from_settings(
            settings, text_reducer=reducer, model_cache_dir=model_cache_dir).fit(known_posts)
    y = part[target].astype(float)
    dropout_rows = 0
    if history_dropout > 0 and settings.account_history:
        cold_x = _as_new_accounts(part, x, featurizer, history_dropout, seed)
        dropout_rows = len(cold_x)
        x = pd.concat([x, cold_x], ignore_index=True)
        y = pd.concat([y, y.loc[cold_x.index]], ignore_index=True) if dropout_rows else \
            y.reset_index(drop=True)
    else:
        x, y = x.reset_index(drop=True), y.reset_index(drop=True)
    names = list(x.columns)
    started = time.perf_counter()
    model = make_model(name, params, seed, names, scale=scale).fit(x, y)
    seconds = time.perf_counter() - started
    importance, kind = None, None
    if name in TREE_MODELS:
        importance, kind = feature_importance(model, names).round(6).to_dict(), "gain"
    elif name in LINEAR_MODELS:
        importance, kind = coefficient_importance(model, names).round(6).to_dict(), \
            "coefficient"
    facts = {"rows": len(part), "history_dropout_rows": dropout_rows,
             "fit_seconds": round(seconds, 3), "feature_importance": importance,
             "importance_kind": kind}
    return Pipeline([("features", featurizer), ("model", model)]), facts


def run_train(
    features_path: Path,
    models_dir: Path,
    *,
    target: str,
    models: tuple[str, ...],
    hyperparameters: dict[str, dict[str, Any]],
    seed: int,
    valid_fraction: float,
    test_fraction: float,
    cold_account_fraction: float,
    history_dropout: float,
    scale: dict[str, float],
    cv_folds: int,
    model_cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Stage runner: CV on the training part, fit each candidate on it, save, write manifest.

    Each saved model (``<name>.joblib``) takes canonical posts and predicts ``target``
    counts; its account history holds every post of the warm accounts (so later posts
    of known accounts are judged with the history a live store would have) and none of
    the held-out accounts'. ``manifest.json`` records the split (with the held-out
    accounts), the recipe, each candidate's fit time, cross-validation metrics and feature
    importances (trees: gain; ridge: standardized coefficients).
    """
    from pipelines.evaluate.cross_validation import time_series_cv

    all_posts = pd.read_parquet(features_path)
    table = labelled(all_posts, target)
    features = read_manifest(features_path)
    names = list(features["feature_columns"])
    settings = FeatureSettings(**features["settings"])
    split = holdout_split(table, valid_fraction=valid_fraction, test_fraction=test_fraction,
                          cold_fraction=cold_account_fraction)
    cold_ids = set(table.loc[split.cold, "account_id"].astype(str))
    known = all_posts[~all_posts["account_id"].astype(str).isin(cold_ids)]
    x_cv, _ = _design(table.iloc[split.train], names, settings, seed)
    y_cv = table[target].iloc[split.train].astype(float)
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates = {}
    for name in models:
        params = hyperparameters.get(name, {})
        cv = (time_series_cv(lambda n=name, p=params: make_model(n, p, seed,
                                                                 list(x_cv.columns),
                                                                 scale=scale),
                             x_cv, y_cv.to_numpy(), table["posted_at"].iloc[split.train],
                             k=cv_folds) if cv_folds else None)
        model, facts = fit_post_model(
            name, params, table=table, rows=split.train, known_posts=known, target=target,
            settings=settings, feature_names=names, seed=seed,
            history_dropout=history_dropout, scale=scale, model_cache_dir=model_cache_dir)
        joblib.dump(model, models_dir / f"{name}.joblib")
        candidates[name] = {"fit_seconds": facts["fit_seconds"], "hyperparameters": params,
                            "cv": cv, "feature_importance": facts["feature_importance"],
                            "importance_kind": facts["importance_kind"],
                            "history_dropout_rows": facts["history_dropout_rows"]}
        logger.info("train: %s fitted on %d rows (+%d as new accounts) in %.2f s", name,
                    facts["rows"], facts["history_dropout_rows"], facts["fit_seconds"])
    manifest = {
        "target": target, "seed": seed, "rows": len(table),
        "rows_without_target": len(all_posts) - len(table),
        "labels_still_growing": features.get("labels_still_growing", 0),
        "feature_set_hash": features["feature_set_hash"], "feature_columns": names,
        "history_dropout": history_dropout, "scale_relative": dict(scale),
        "split": {"train": len(split.train), "valid": len(split.valid),
                  "test": len(split.test), "valid_start": split.valid_start,
                  "test_start": split.test_start,
                  "valid_fraction": valid_fraction, "test_fraction": test_fraction,
                  "cold_account_fraction": cold_account_fraction,
                  "cold_accounts": len(cold_ids),
                  "warm_accounts": int(table["account_id"].astype(str).nunique()
                                       - len(cold_ids))},
        "cv_folds": cv_folds, "candidates": candidates,
    }
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    logger.info("train: %d labelled rows, %d training rows of %d warm accounts, %d accounts "
                "held out (cold regime), %d young labels left out", len(table),
                len(split.train), manifest["split"]["warm_accounts"], len(cold_ids),
                manifest["labels_still_growing"])
    return manifest


def run_refit(features_path: Path, models_dir: Path, metrics_path: Path, final_dir: Path,
              *, model_cache_dir: Path | None = None) -> dict[str, Any]:
    """Stage runner: refit the chosen candidate by the same recipe (its recorded
    hyperparameters, seed, history dropout and scale settings) on every matured label of every
    account, with every post in its history → ``final_dir/model.joblib`` and ``refit.json``."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    best = json.loads(metrics_path.read_text())["best"]
    target = manifest["target"]
    all_posts = pd.read_parquet(features_path)
    table = labelled(all_posts, target)
    features = read_manifest(features_path)
    model, facts = fit_post_model(
        best, manifest["candidates"][best]["hyperparameters"], table=table,
        rows=np.arange(len(table)), known_posts=all_posts, target=target,
        settings=FeatureSettings(**features["settings"]),
        feature_names=list(features["feature_columns"]), seed=manifest["seed"],
        history_dropout=manifest["history_dropout"], scale=manifest["scale_relative"],
        model_cache_dir=model_cache_dir)
    final_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, final_dir / "model.joblib")
    record = {"candidate": best, "refit": True, "rows": facts["rows"],
              "evidence_rows": manifest["split"]["train"],
              "accounts": int(table["account_id"].astype(str).nunique()),
              "history_dropout_rows": facts["history_dropout_rows"],
              "newest_label": str(table["posted_at"].max()),
              "evidence_newest_label": manifest["split"]["valid_start"],
              "labels_still_growing": manifest.get("labels_still_growing", 0),
              "fit_seconds": facts["fit_seconds"]}
    (final_dir / "refit.json").write_text(json.dumps(record, indent=2))
    logger.info("refit: %s refitted on %d labelled posts of %d accounts (evidence model: %d "
                "rows), newest label %s, in %.2f s", best, record["rows"], record["accounts"],
                record["evidence_rows"], record["newest_label"], record["fit_seconds"])
    return record


def _design(part: pd.DataFrame, names: list[str], settings: FeatureSettings, seed: int
            ) -> tuple[pd.DataFrame, Any]:
    """The feature matrix of ``part``, with the SVD of the caption embeddings fitted on
    these rows appended when text is on (and the fitted reducer)."""
    x = feature_matrix(part, names)
    if not settings.text_embeddings:
        return x, None
    from pipelines.features.text_embeddings import TextReducer

    embeddings = part[[c for c in part.columns if c.startswith(EMBEDDING_PREFIX)]]
    reducer = TextReducer(settings.text_components, random_state=seed).fit(
        embeddings.to_numpy())
    text = pd.DataFrame(reducer.transform(embeddings.to_numpy()), index=part.index,
                        columns=list(reducer.get_feature_names_out()))
    return pd.concat([x, text], axis=1), reducer


def _as_new_accounts(part: pd.DataFrame, x: pd.DataFrame, featurizer: EngagementFeaturizer,
                     share: float, seed: int) -> pd.DataFrame:
    """Rows of ``x`` for every post of a random ``share`` of the accounts in ``part``, with
    the account-history columns those posts get when the account is unknown to the
    model's history (as a new account's posts are scored)."""
    from pipelines.features.account_history import HISTORY_COLUMNS

    accounts = np.sort(part["account_id"].astype(str).unique())
    chosen = accounts[np.random.default_rng(seed).random(len(accounts)) < share]
    rows = part["account_id"].astype(str).isin(chosen).to_numpy()
    if not rows.any():
        return x.iloc[:0]
    posts = part.loc[rows].assign(
        account_id=NEW_ACCOUNT_PREFIX + part.loc[rows, "account_id"].astype(str))
    history = featurizer.history_.transform(posts)
    out = x.loc[rows].copy()
    out[list(HISTORY_COLUMNS)] = history[list(HISTORY_COLUMNS)].to_numpy()
    return out
