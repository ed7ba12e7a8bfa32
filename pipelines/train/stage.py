"""The training stage: fit every candidate on the training part of the time split."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from pipelines.features.post_features import FEATURE_COLUMNS
from pipelines.train.estimators import as_post_model, make_regressor
from pipelines.train.split import time_split

logger = logging.getLogger(__name__)


def feature_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The model input columns of a feature table, under their feature names."""
    return table[[f"f_{c}" for c in FEATURE_COLUMNS]].set_axis(list(FEATURE_COLUMNS), axis=1)


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
) -> dict[str, Any]:
    """Stage runner: fit each candidate on the oldest rows, save it, write the manifest.

    Each saved model (``<name>.joblib``) takes canonical posts and predicts ``target``
    counts. ``manifest.json`` records the split, the candidates and their fit times.
    """
    table = pd.read_parquet(features_path)
    split = time_split(table["posted_at"], valid_fraction, test_fraction)
    x_train = feature_matrix(table).iloc[split.train]
    y_train = table[target].iloc[split.train].astype(float)
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates = {}
    for name in models:
        started = time.perf_counter()
        regressor = make_regressor(name, hyperparameters.get(name, {}), seed).fit(x_train, y_train)
        seconds = time.perf_counter() - started
        joblib.dump(as_post_model(regressor), models_dir / f"{name}.joblib")
        candidates[name] = {"fit_seconds": round(seconds, 3),
                            "hyperparameters": hyperparameters.get(name, {})}
        logger.info("train: %s fitted on %d rows in %.2f s", name, len(x_train), seconds)
    manifest = {
        "target": target, "seed": seed, "rows": len(table),
        "split": {"train": len(split.train), "valid": len(split.valid),
                  "test": len(split.test), "valid_start": split.valid_start,
                  "test_start": split.test_start,
                  "valid_fraction": valid_fraction, "test_fraction": test_fraction},
        "candidates": candidates,
    }
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
