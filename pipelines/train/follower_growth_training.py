"""Follower growth as a target: train and evaluate on the (account, period) table.

The target (``train.task: follower_growth``) is the growth of log1p(followers) over an
account's next period (:mod:`pipelines.features.follower_growth`). It is a heavy-tailed
difference that is mostly near zero, so the tree models learn it with an absolute-error
objective (LightGBM ``l1``, XGBoost ``reg:absoluteerror``, HistGradientBoosting
``absolute_error``); squared-loss fits chase the tail (docs/follower_growth.md measured it).
Ridge stays squared-loss as the linear reference.

Every saved model is a pipeline that takes period-table rows (it selects its own columns)
and predicts the growth; the naive baselines are "no growth" and "last period's growth".
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
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from pipelines.evaluate.slices import slice_metrics
from pipelines.features.follower_growth import BASE_FEATURES, POST_FEATURES
from pipelines.train.split import labelled, time_split

logger = logging.getLogger(__name__)

#: The task name in params (``train.task``) and the period table's column.
GROWTH_TARGET = "follower_growth"
#: When a period's growth is known: the prediction is made at the period's end.
TIME_COLUMN = "period_end"
#: The model families that can learn growth (absolute-error objectives where they exist).
GROWTH_MODELS: tuple[str, ...] = (
    "ridge", "lightgbm", "xgboost", "random_forest", "hist_gradient_boosting")
FEATURES: tuple[str, ...] = (*BASE_FEATURES, *POST_FEATURES)


class PeriodColumns(BaseEstimator, TransformerMixin):
    """Select the growth features of a period table, in a fixed order, as floats."""

    def __init__(self, columns: tuple[str, ...] = FEATURES) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> PeriodColumns:  # noqa: N803
        self._check(X)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        self._check(X)
        return X[list(self.columns)].to_numpy(dtype=float)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.columns, dtype=object)

    def _check(self, X: pd.DataFrame) -> None:  # noqa: N803
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"follower-growth model: input is missing period-table columns "
                             f"{missing}; build it with features.follower_growth."
                             f"account_periods.")


def default_growth_hyperparameters(name: str, seed: int) -> dict[str, Any]:
    """Defaults of a growth model (the keys ``train.hyperparameters`` may override)."""
    if name == "ridge":
        return {"alpha": 1.0}
    if name == "lightgbm":
        return {"objective": "l1", "n_estimators": 300, "learning_rate": 0.05,
                "num_leaves": 15, "min_child_samples": 20, "subsample": 0.8,
                "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": seed,
                "n_jobs": 1, "verbose": -1, "deterministic": True, "force_row_wise": True}
    if name == "xgboost":
        return {"objective": "reg:absoluteerror", "n_estimators": 300, "learning_rate": 0.05,
                "max_depth": 5, "subsample": 0.8, "colsample_bytree": 0.8,
                "tree_method": "hist", "n_jobs": 1, "random_state": seed}
    if name == "random_forest":
        return {"n_estimators": 200, "max_depth": 12, "min_samples_leaf": 10,
                "max_features": 0.5, "n_jobs": 2, "random_state": seed}
    if name == "hist_gradient_boosting":
        return {"loss": "absolute_error", "max_iter": 300, "learning_rate": 0.05,
                "max_leaf_nodes": 15, "min_samples_leaf": 20, "early_stopping": False,
                "random_state": seed}
    raise ValueError(f"follower-growth model: unknown model {name!r}; choose from "
                     f"{list(GROWTH_MODELS)} (train.models with train.task: "
                     f"{GROWTH_TARGET}).")


def growth_model(name: str, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """An unfitted pipeline: period-table rows → growth of log1p(followers)."""
    defaults = default_growth_hyperparameters(name, seed)
    params = {**defaults, **(hyperparameters or {})}
    if name == "ridge":
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                 ("scale", StandardScaler()), ("model", Ridge(**params))]
    elif name == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                 ("model", RandomForestRegressor(**params))]
    elif name == "lightgbm":
        from lightgbm import LGBMRegressor

        steps = [("model", LGBMRegressor(**params))]
    elif name == "xgboost":
        from xgboost import XGBRegressor

        steps = [("model", XGBRegressor(**params))]
    else:
        from sklearn.ensemble import HistGradientBoostingRegressor

        steps = [("model", HistGradientBoostingRegressor(**params))]
    return Pipeline([("columns", PeriodColumns()), *steps])


def growth_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Errors of predicted growth (a log1p difference, so errors are on the log scale).

    ``mae_log``/``rmse_log``/``r2_log`` use the same names as the count targets so the
    selection and the promotion gate compare like with like; ``mae_pct_points`` is the MAE
    of the growth in percent (``expm1`` of the log growth × 100).
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError(f"growth_metrics: need two equal, non-empty arrays; got "
                         f"{actual.shape} and {predicted.shape}.")
    error = predicted - actual
    total = np.sum((actual - actual.mean()) ** 2)
    defined = actual.size > 1 and np.ptp(actual) > 0 and np.ptp(predicted) > 0
    rho = spearmanr(actual, predicted).statistic if defined else float("nan")
    return {
        "mae_log": float(np.mean(np.abs(error))),
        "rmse_log": float(np.sqrt(np.mean(error**2))),
        "r2_log": float(1 - np.sum(error**2) / total) if total > 0 else float("nan"),
        "spearman": float(rho),
        "mae_pct_points": float(np.mean(np.abs(np.expm1(predicted) - np.expm1(actual)))
                                * 100),
        "n": int(actual.size),
    }


def labelled_periods(periods: pd.DataFrame) -> pd.DataFrame:
    """Periods whose next-period growth is known, in time order."""
    table = labelled(periods, GROWTH_TARGET)
    return table.sort_values([TIME_COLUMN, "account_id"], kind="stable").reset_index(drop=True)


def run_train_growth(
    periods_path: Path,
    models_dir: Path,
    *,
    models: tuple[str, ...],
    hyperparameters: dict[str, dict[str, Any]],
    seed: int,
    valid_fraction: float,
    test_fraction: float,
) -> dict[str, Any]:
    """Stage runner: fit each growth candidate on the oldest periods; save + manifest."""
    unknown = [m for m in models if m not in GROWTH_MODELS]
    if unknown:
        raise ValueError(f"train: models {unknown} cannot learn target {GROWTH_TARGET!r}; "
                         f"choose from {list(GROWTH_MODELS)}.")
    table = labelled_periods(pd.read_parquet(periods_path))
    split = time_split(table[TIME_COLUMN], valid_fraction, test_fraction)
    train = table.iloc[split.train]
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates = {}
    for name in models:
        params = hyperparameters.get(name, {})
        started = time.perf_counter()
        model = growth_model(name, params, seed).fit(train, train[GROWTH_TARGET].to_numpy())
        seconds = time.perf_counter() - started
        joblib.dump(model, models_dir / f"{name}.joblib")
        candidates[name] = {"fit_seconds": round(seconds, 3), "hyperparameters": params,
                            "cv": None, "feature_importance": _importance(model)}
        logger.info("train: growth model %s fitted on %d periods in %.2f s", name,
                    len(train), seconds)
    manifest = {
        "target": GROWTH_TARGET, "seed": seed, "rows": len(table),
        "feature_columns": list(FEATURES), "input_columns": list(FEATURES),
        "feature_set_hash": f"follower_growth:{','.join(FEATURES)}",
        "split": {"train": len(split.train), "valid": len(split.valid),
                  "test": len(split.test), "valid_start": split.valid_start,
                  "test_start": split.test_start, "time_column": TIME_COLUMN,
                  "valid_fraction": valid_fraction, "test_fraction": test_fraction},
        "cv_folds": 0, "candidates": candidates,
    }
    (models_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return manifest


def _importance(model: Pipeline) -> dict[str, float] | None:
    core = model[-1]
    values = getattr(core, "feature_importances_", None)
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    total = values.sum()
    return {name: round(float(v / total if total else 0.0), 6)
            for name, v in zip(FEATURES, values, strict=True)}


def run_evaluate_growth(periods_path: Path, models_dir: Path,
                        metrics_path: Path) -> dict[str, Any]:
    """Stage runner: growth metrics for every candidate and both naive baselines."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    table = labelled_periods(pd.read_parquet(periods_path))
    split = time_split(table[TIME_COLUMN], manifest["split"]["valid_fraction"],
                       manifest["split"]["test_fraction"])
    parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
    results: dict[str, Any] = {}
    for name in manifest["candidates"]:
        model = joblib.load(models_dir / f"{name}.joblib")
        predicted = {part: model.predict(rows) for part, rows in parts.items()}
        results[name] = {part: growth_metrics(rows[GROWTH_TARGET].to_numpy(), predicted[part])
                         for part, rows in parts.items()}
        test = parts["test"]
        results[name]["test_by_platform"] = slice_metrics(
            test, test[GROWTH_TARGET].to_numpy(), predicted["test"], by="platform",
            min_support=2, metrics=growth_metrics)
    baselines = {
        "zero_growth": {part: growth_metrics(rows[GROWTH_TARGET].to_numpy(),
                                             np.zeros(len(rows)))
                        for part, rows in parts.items()},
        "last_growth": {part: growth_metrics(rows[GROWTH_TARGET].to_numpy(),
                                             rows["follower_growth_prev"].fillna(0)
                                             .to_numpy())
                        for part, rows in parts.items()},
    }
    best = min(results, key=lambda name: results[name]["valid"]["mae_log"])
    report = {
        "target": GROWTH_TARGET, "selection_metric": "mae_log", "best": best,
        "feature_set_hash": manifest["feature_set_hash"], "candidates": results,
        "baselines": baselines,
        "improvement_over_baseline_mae_log": baselines["zero_growth"]["test"]["mae_log"]
        - results[best]["test"]["mae_log"],
        "split": manifest["split"],
    }
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(report, indent=2))
    logger.info("evaluate: best growth model %s, test mae_log %.4f (no-growth baseline %.4f)",
                best, results[best]["test"]["mae_log"],
                baselines["zero_growth"]["test"]["mae_log"])
    return report
