"""Regression metrics for count targets, on the log1p scale and on the raw scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Metrics comparing predicted with actual counts.

    Returns:
        ``mae_log``, ``rmse_log``, ``r2_log`` (on log1p), ``spearman`` (rank correlation),
        ``mae_raw`` and ``medape_raw`` (median absolute percentage error, actual > 0 only),
        ``bias_log`` (mean of log1p(predicted) - log1p(actual): below 0 predicts too low),
        ``off_10x`` (share of predictions off by more than 10x on log1p) and ``n``.

    Raises:
        ValueError: if the arrays differ in length or are empty.
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.clip(np.asarray(predicted, dtype=float), 0, None)
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError(
            f"regression_metrics: need two equal, non-empty arrays; got {actual.shape} "
            f"and {predicted.shape}."
        )
    log_a, log_p = np.log1p(actual), np.log1p(predicted)
    error = log_p - log_a
    total = np.sum((log_a - log_a.mean()) ** 2)
    positive = actual > 0
    rho = spearmanr(actual, predicted).statistic if actual.size > 1 else float("nan")
    return {
        "mae_log": float(np.mean(np.abs(error))),
        "rmse_log": float(np.sqrt(np.mean(error**2))),
        "r2_log": float(1 - np.sum(error**2) / total) if total > 0 else float("nan"),
        "spearman": float(rho),
        "mae_raw": float(np.mean(np.abs(predicted - actual))),
        "bias_log": float(np.mean(error)),
        "off_10x": float(np.mean(np.abs(error) > np.log(10))),
        "medape_raw": float(np.median(np.abs(predicted[positive] - actual[positive])
                                      / actual[positive])) if positive.any() else float("nan"),
        "n": int(actual.size),
    }


def account_median_baseline(
    train: pd.DataFrame, scored: pd.DataFrame, target: str
) -> np.ndarray:
    """The naive baseline: each account's median past ``target`` (global median if unseen).

    Args:
        train: Earlier posts with ``account_id`` and ``target``.
        scored: Posts to predict, with ``account_id``.
    """
    medians = train.groupby("account_id")[target].median()
    fallback = float(train[target].median())
    return scored["account_id"].map(medians).astype(float).fillna(fallback).to_numpy()
