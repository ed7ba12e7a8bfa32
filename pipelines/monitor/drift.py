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

from pipelines.monitor.calibration import Calibration, calibrate_thresholds
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
    calibration: Calibration | None = None,
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
        calibration: The reference's calibration stored with the model
            (:func:`reference_calibration`); used when it :meth:`~Calibration.fits` this
            check (same thresholds as calibrating now), else the check calibrates.

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
        reference, trends, origin, span = _detrended_reference(
            reference, judged, methods, reference_time, chunks=chunks, trend_t=trend_t)
        # A trend is evidence over the span the reference covers: extrapolate it at most
        # that far ahead, and never before the reference began (another period, a backfill).
        cur_days = np.clip(days_since(pd.Series(current_time), origin), -span, span)
        current = detrend(current[judged], cur_days, trends)
    profiles = profile_frame(reference[judged], methods)
    scores = score_frame(profiles, current[judged])
    settings = calibration_settings(
        chunks=chunks, quantile=quantile, safety_factor=safety_factor, min_effect=min_effect,
        calibration_rows=calibration_rows, seed=seed, trend_t=trend_t,
        detrended=reference_time is not None and current_time is not None,
        reference_rows=len(reference))
    why_not = ("none stored with the model" if calibration is None else
               calibration.fits(methods=methods, settings=settings, current_rows=len(current)))
    if why_not is None:
        source = "stored with the model"
        calibration = calibration.select(judged)
    else:
        source = f"computed ({why_not})"
        calibration = _calibrate(reference[judged], profiles, current_rows=len(current),
                                 chunks=chunks, quantile=quantile, safety_factor=safety_factor,
                                 min_effect=min_effect, calibration_rows=calibration_rows,
                                 seed=seed)
    logger.info("drift: calibration %s", source)
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
                        "min_effect": dict(min_effect),
                        "rows": min(len(reference), calibration_rows), "source": source},
        "seconds": round(time.perf_counter() - started, 3),
    }
    logger.info("drift: %d of %d features drifted (share %.2f, budget %.2f) → dataset drift %s;"
                " prediction drift %s; target drift %s", len(drifted), len(feature_columns),
                share, drift_share, summary["dataset_drift"], summary["prediction_drift"],
                summary["target_drift"])
    return summary


def calibration_settings(*, chunks: int, quantile: float, safety_factor: float,
                         min_effect: dict[str, float], calibration_rows: int, seed: int,
                         trend_t: float, detrended: bool, reference_rows: int
                         ) -> dict[str, Any]:
    """Everything a calibration depends on besides the reference's values: a stored one
    stands in for calibrating now only when these are equal."""
    return {"chunks": chunks, "quantile": float(quantile),
            "safety_factor": float(safety_factor),
            "min_effect": {k: float(v) for k, v in sorted(min_effect.items())},
            "calibration_rows": calibration_rows, "seed": seed, "trend_t": float(trend_t),
            "detrended": detrended, "reference_rows": reference_rows}


def reference_calibration(
    reference: pd.DataFrame,
    *,
    chunks: int,
    quantile: float,
    safety_factor: float,
    min_effect: dict[str, float],
    calibration_rows: int,
    seed: int,
    methods: dict[str, str] | None = None,
    reference_time: pd.Series | None = None,
    trend_t: float = TREND_T,
) -> Calibration:
    """The calibration :func:`detect_drift` would compute for any window of at least a
    chunk's rows, for every column of ``reference`` that has values: computed once, when
    the reference is logged with the model, and passed back as ``calibration``.

    Args:
        reference: The reference rows in time order, as judged (features, and
            :data:`PREDICTION` / :data:`TARGET` where present).
        reference_time: Each row's time; give it when the checks will give times (the
            calibration then runs on the detrended reference, as theirs does).
        Others: as :func:`detect_drift`.

    Raises:
        ValueError: for bad settings or a reference too small to split.
    """
    columns = [c for c in reference.columns if reference[c].notna().any()]
    methods = {c: (methods or {}).get(c) or choose_method(reference[c]) for c in columns}
    if reference_time is not None:
        reference, _, _, _ = _detrended_reference(reference, columns, methods, reference_time,
                                                  chunks=chunks, trend_t=trend_t)
    profiles = profile_frame(reference[columns], methods)
    rows = min(len(reference), calibration_rows)
    calibration = _calibrate(reference[columns], profiles, current_rows=rows, chunks=chunks,
                             quantile=quantile, safety_factor=safety_factor,
                             min_effect=min_effect, calibration_rows=calibration_rows, seed=seed)
    settings = calibration_settings(
        chunks=chunks, quantile=quantile, safety_factor=safety_factor, min_effect=min_effect,
        calibration_rows=calibration_rows, seed=seed, trend_t=trend_t,
        detrended=reference_time is not None, reference_rows=len(reference))
    return Calibration(calibration.thresholds, calibration.chunk_quantile, calibration.chunks,
                       calibration.chunk_rows, methods, settings)


def _detrended_reference(reference: pd.DataFrame, judged: list[str], methods: dict[str, str],
                         reference_time: pd.Series, *, chunks: int, trend_t: float
                         ) -> tuple[pd.DataFrame, dict[str, dict[str, float]], pd.Timestamp,
                                    float]:
    """(the judged reference with its trends removed, the trends, the time origin, the
    span in days the reference covers)."""
    origin = pd.to_datetime(reference_time, utc=True).max()
    ref_days = days_since(pd.Series(reference_time), origin)
    trends = fit_trends(reference, [c for c in judged if methods[c] == "wasserstein"],
                        ref_days, chunks=chunks, min_t=trend_t)
    span = float(-ref_days.min()) if len(ref_days) else 0.0
    return detrend(reference[judged], ref_days, trends), trends, origin, span


def _calibrate(reference: pd.DataFrame, profiles: dict[str, Any], *, current_rows: int,
               chunks: int, quantile: float, safety_factor: float,
               min_effect: dict[str, float], calibration_rows: int, seed: int) -> Calibration:
    """:func:`calibrate_thresholds` on a seeded time-ordered sample of at most
    ``calibration_rows`` reference rows (the cost bound)."""
    sample = reference
    if len(sample) > calibration_rows:
        rng = np.random.default_rng(seed)
        sample = sample.iloc[np.sort(rng.choice(len(sample), calibration_rows, replace=False))]
    return calibrate_thresholds(sample, profiles, current_rows=current_rows, chunks=chunks,
                                quantile=quantile, safety_factor=safety_factor,
                                min_effect=min_effect, seed=seed)
