"""The drift decision: score every column, compare with its calibrated threshold, decide.

Pure core: DataFrames in, a JSON-able summary out. The feature columns decide dataset
drift by the share that drifted; the prediction column (the champion's log1p prediction)
and the target column (log1p of the matured outcome) are judged on their own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitor.calibration import calibrate_thresholds
from pipelines.monitor.drift_scores import choose_method, profile_frame, score_frame
from pipelines.monitor.trend import TREND_T, days_since, detrend, fit_trends

logger = logging.getLogger(__name__)

PREDICTION, TARGET = "prediction", "target"


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    feature_columns: list[str],
    drift_share: float,
    chunks: int,
    quantile: float,
    safety_factor: float,
    min_effect: dict[str, float],
    calibration_rows: int,
    seed: int,
    methods: dict[str, str] | None = None,
    reference_time: pd.Series | None = None,
    current_time: pd.Series | None = None,
    trend_t: float = TREND_T,
) -> dict[str, Any]:
    """Judge ``current`` against ``reference`` column by column.

    Args:
        reference: Reference rows in time order: ``feature_columns`` and optionally
            :data:`PREDICTION` and :data:`TARGET`.
        current: The window to judge, same columns (a missing or empty target column
            means no matured outcome yet: target drift is then not judged).
        feature_columns: The columns whose drifted share decides dataset drift.
        drift_share: Dataset drift when at least this share of feature columns drifted.
        chunks, quantile, safety_factor, min_effect: Threshold calibration
            (:func:`pipelines.monitor.calibration.calibrate_thresholds`).
        calibration_rows: Calibrate on at most this many reference rows (a seeded,
            time-ordered sample) to bound the cost.
        seed: Seed of every sample.
        methods: Column → method, overriding the automatic choice.
        reference_time, current_time: Each row's posting time. When both are given,
            numeric columns whose reference chunk means trend in time (|t| >= ``trend_t``)
            are judged after removing that trend (:mod:`pipelines.monitor.trend`), so the
            trend continuing into the window is not called drift.

    Returns:
        The summary: per column (method, score, threshold, drifted), the drifted share,
        and the ``dataset_drift``, ``prediction_drift`` and ``target_drift`` verdicts.

    Raises:
        ValueError: for bad settings, missing feature columns or an empty side.
    """
    if not 0 < drift_share <= 1:
        raise ValueError(f"detect_drift: 'drift_share' must be in (0, 1]; got {drift_share!r}.")
    if not feature_columns:
        raise ValueError("detect_drift: 'feature_columns' must name at least one column; got [].")
    for side, frame in (("reference", reference), ("current", current)):
        missing = [c for c in feature_columns if c not in frame.columns]
        if missing:
            raise ValueError(f"detect_drift: the {side} data lacks feature column(s) {missing}.")
        if frame.empty:
            raise ValueError(f"detect_drift: the {side} data has no rows.")
    started = time.perf_counter()
    judged = list(feature_columns)
    for extra in (PREDICTION, TARGET):
        if (extra in reference.columns and extra in current.columns
                and reference[extra].notna().any() and current[extra].notna().any()):
            judged.append(extra)
    methods = {c: (methods or {}).get(c) or choose_method(reference[c]) for c in judged}
    trends: dict[str, dict[str, float]] = {}
    if reference_time is not None and current_time is not None:
        if len(reference_time) != len(reference) or len(current_time) != len(current):
            raise ValueError(f"detect_drift: 'reference_time'/'current_time' have "
                             f"{len(reference_time)}/{len(current_time)} values for "
                             f"{len(reference)}/{len(current)} rows; they must match.")
        origin = pd.to_datetime(reference_time, utc=True).max()
        ref_days = days_since(pd.Series(reference_time), origin)
        trends = fit_trends(reference, [c for c in judged if methods[c] == "wasserstein"],
                            ref_days, chunks=chunks, min_t=trend_t)
        reference = detrend(reference[judged], ref_days, trends)
        # A trend is evidence over the span the reference covers: extrapolate it at most
        # that far ahead, and never before the reference began (another period, a backfill).
        span = float(-ref_days.min()) if len(ref_days) else 0.0
        cur_days = np.clip(days_since(pd.Series(current_time), origin), -span, span)
        current = detrend(current[judged], cur_days, trends)
    profiles = profile_frame(reference[judged], methods)
    scores = score_frame(profiles, current[judged])
    sample = reference[judged]
    if len(sample) > calibration_rows:
        rng = np.random.default_rng(seed)
        sample = sample.iloc[np.sort(rng.choice(len(sample), calibration_rows, replace=False))]
    calibration = calibrate_thresholds(
        sample, profiles, current_rows=len(current), chunks=chunks, quantile=quantile,
        safety_factor=safety_factor, min_effect=min_effect, seed=seed)
    columns = {}
    for column in judged:
        score, threshold = scores[column], calibration.thresholds[column]
        columns[column] = {
            "role": column if column in (PREDICTION, TARGET) else "feature",
            "method": profiles[column].method, "score": None if np.isnan(score) else score,
            "threshold": threshold, "chunk_quantile": calibration.chunk_quantile[column],
            "drifted": bool(not np.isnan(score) and score >= threshold),
            "trend_per_day": trends[column]["slope_per_day"] if column in trends else None,
        }
    drifted = [c for c in feature_columns if columns[c]["drifted"]]
    share = len(drifted) / len(feature_columns)
    summary = {
        "rows": {"reference": len(reference), "current": len(current)},
        "columns": columns,
        "feature_columns": len(feature_columns),
        "drifted_features": drifted,
        "share_drifted": share,
        "drift_share": drift_share,
        "dataset_drift": share >= drift_share,
        "prediction_drift": columns[PREDICTION]["drifted"] if PREDICTION in columns else None,
        "target_drift": columns[TARGET]["drifted"] if TARGET in columns else None,
        "detrended": sorted(trends),
        "calibration": {"chunks": calibration.chunks, "chunk_rows": calibration.chunk_rows,
                        "quantile": quantile, "safety_factor": safety_factor,
                        "min_effect": dict(min_effect), "rows": len(sample)},
        "seconds": round(time.perf_counter() - started, 3),
    }
    logger.info("drift: %d of %d features drifted (share %.2f, budget %.2f) → dataset drift %s;"
                " prediction drift %s; target drift %s", len(drifted), len(feature_columns),
                share, drift_share, summary["dataset_drift"], summary["prediction_drift"],
                summary["target_drift"])
    return summary
