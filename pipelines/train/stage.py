"""The training stage: cross-validate and fit every candidate on the training part."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from pipelines.features.engagement_features import EMBEDDING_PREFIX, FEATURE_PREFIX
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import read_manifest
from pipelines.train.estimators import as_post_model
from pipelines.train.model_zoo import TREE_MODELS, feature_importance, make_model
from pipelines.train.split import labelled, time_split

logger = logging.getLogger(__name__)


def feature_matrix(table: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """The model input columns of a feature table, under their feature names."""
    return table[[f"{FEATURE_PREFIX}{c}" for c in feature_names]].set_axis(
        list(feature_names), axis=1)


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
    cv_folds: int,
    model_cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Stage runner: CV on the training part, fit each candidate on it, save, write manifest.

    Each saved model (``<name>.joblib``) takes canonical posts and predicts ``target``
    counts. ``manifest.json`` records the split, the feature set, each candidate's fit time,
    cross-validation metrics and (tree models) feature importances.
    """
    from pipelines.evaluate.cross_validation import time_series_cv

    all_posts = pd.read_parquet(features_path)
    table = labelled(all_posts, target)
    features = read_manifest(features_path)
    names = list(features["feature_columns"])
    settings = FeatureSettings(**features["settings"])
    split = time_split(table["posted_at"], valid_fraction, test_fraction)
    x_all = feature_matrix(table, names)
    reducer = None
    if settings.text_embeddings:
        x_all, reducer = _with_text(table, x_all, split.train, settings.text_components, seed)
        names = list(x_all.columns)
    x_train = x_all.iloc[split.train]
    y_train = table[target].iloc[split.train].astype(float)
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates = {}
    for name in models:
        params = hyperparameters.get(name, {})
        cv = (time_series_cv(lambda n=name, p=params: make_model(n, p, seed, names), x_train,
                             y_train.to_numpy(), table["posted_at"].iloc[split.train],
                             k=cv_folds) if cv_folds else None)
        started = time.perf_counter()
        model = make_model(name, params, seed, names).fit(x_train, y_train)
        seconds = time.perf_counter() - started
        joblib.dump(as_post_model(model, settings, all_posts, text_reducer=reducer,
                                  model_cache_dir=model_cache_dir),
                    models_dir / f"{name}.joblib")
        importance = (feature_importance(model, names).round(6).to_dict()
                      if name in TREE_MODELS else None)
        candidates[name] = {"fit_seconds": round(seconds, 3), "hyperparameters": params,
                            "cv": cv, "feature_importance": importance}
        logger.info("train: %s fitted on %d rows in %.2f s", name, len(x_train), seconds)
    manifest = {
        "target": target, "seed": seed, "rows": len(table),
        "rows_without_target": len(all_posts) - len(table),
        "feature_set_hash": features["feature_set_hash"], "feature_columns": names,
        "split": {"train": len(split.train), "valid": len(split.valid),
                  "test": len(split.test), "valid_start": split.valid_start,
                  "test_start": split.test_start,
                  "valid_fraction": valid_fraction, "test_fraction": test_fraction},
        "cv_folds": cv_folds, "candidates": candidates,
    }
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return manifest


def _with_text(table: pd.DataFrame, x_all: pd.DataFrame, train_rows: Any, components: int,
               seed: int) -> tuple[pd.DataFrame, Any]:
    """Append the SVD of the caption embeddings, fitted on the training rows only."""
    from pipelines.features.text_embeddings import TextReducer

    embeddings = table[[c for c in table.columns if c.startswith(EMBEDDING_PREFIX)]]
    reducer = TextReducer(components, random_state=seed).fit(
        embeddings.iloc[train_rows].to_numpy())
    text = pd.DataFrame(reducer.transform(embeddings.to_numpy()), index=table.index,
                        columns=list(reducer.get_feature_names_out()))
    return pd.concat([x_all, text], axis=1), reducer
