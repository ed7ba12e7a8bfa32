"""Trends the reference already shows: expected movement, not drift.

A champion is judged on a window that lies *after* its reference (its training rows), by
the validation and test periods and by however long it has served. Columns that move
steadily with time in the champion's own history (an account's count of earlier posts,
which only grows; followers, and with them likes and the model's predictions, that grow
through the year) are then further from the reference than any reference chunk is from
the rest of the reference, and a chunk-calibrated threshold flags the champion's own later
data (measured on the demo sets: seed 4, 2,000 posts, prediction 0.279 vs 0.257; seed 6,
a 14-day window, 0.440 vs 0.400 while realized error was in budget).

So, for each numeric (Wasserstein) column, fit a straight line to the time-ordered chunk
means of the reference (one point per chunk, so within-chunk clustering by account does
not inflate the evidence). Where the slope is clear (|t| >= :data:`TREND_T` with
``chunks - 2`` degrees of freedom), express every value "as of" the reference's last
instant: ``value - slope × (time - reference end)``. Reference, calibration chunks and the
current window (its distance in time clipped to the reference's own span, so a trend is
never extrapolated further than it was observed, nor backwards before the reference) are
all scored on these detrended values, so what is flagged is a departure
from the reference's own trend, not the trend continuing. A shift of a column with a trend
(followers × 8, say) is still a shift of its detrended values and is flagged as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: |t| of a chunk-mean slope above which the column's trend is removed (8 df at 10 chunks:
#: p ≈ 0.004 two-sided, so a stable column is detrended about once in 250).
TREND_T = 4.0
SECONDS_PER_DAY = 86_400.0


def days_since(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    """Days from ``origin`` to each of ``times`` (UTC; naive times are taken as UTC)."""
    stamps = pd.to_datetime(times, utc=True)
    return ((stamps - origin).dt.total_seconds() / SECONDS_PER_DAY).to_numpy(dtype=float)


def fit_trends(reference: pd.DataFrame, columns: list[str], days: np.ndarray, *,
               chunks: int, min_t: float = TREND_T) -> dict[str, dict[str, float]]:
    """Per-day slopes of the columns whose time-ordered chunk means trend clearly.

    Args:
        reference: Reference rows in time order.
        columns: Numeric columns to test.
        days: Each reference row's time in days (same order as ``reference``).
        chunks: Number of time-ordered chunks (one mean each).
        min_t: Smallest |t| of the chunk-mean slope that counts as a trend.

    Returns:
        Column → ``{"slope_per_day", "t"}`` for the trending columns only.

    Raises:
        ValueError: if ``days`` and ``reference`` differ in length or ``chunks`` < 3.
    """
    if len(days) != len(reference):
        raise ValueError(f"fit_trends: 'days' has {len(days)} values for {len(reference)} "
                         f"reference rows; they must match.")
    if chunks < 3 or len(reference) < chunks:
        raise ValueError(f"fit_trends: needs 'chunks' >= 3 and at least that many rows; got "
                         f"{chunks} chunks, {len(reference)} rows.")
    bounds = np.linspace(0, len(reference), chunks + 1).astype(int)
    centre = np.array([days[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    trends: dict[str, dict[str, float]] = {}
    for column in columns:
        values = reference[column].to_numpy(dtype=float)
        means = np.array([np.nanmean(values[a:b]) if np.isfinite(values[a:b]).any()
                          else np.nan for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
        ok = np.isfinite(means)
        if ok.sum() < 3:
            continue
        x, y = centre[ok] - centre[ok].mean(), means[ok]
        sxx = float(np.sum(x * x))
        if sxx <= 0:
            continue
        slope = float(np.sum(x * (y - y.mean())) / sxx)
        residual = y - y.mean() - slope * x
        dof = int(ok.sum()) - 2
        se = float(np.sqrt(np.sum(residual ** 2) / dof / sxx)) if dof > 0 else 0.0
        t = np.inf if se == 0 and slope != 0 else (slope / se if se > 0 else 0.0)
        if abs(t) >= min_t:
            trends[column] = {"slope_per_day": slope, "t": float(t)}
    return trends


def detrend(frame: pd.DataFrame, days: np.ndarray, trends: dict[str, dict[str, float]]
            ) -> pd.DataFrame:
    """``frame`` with each trending column moved to day 0: ``value - slope × days``."""
    out = frame.copy()
    for column, trend in trends.items():
        if column in out.columns:
            out[column] = out[column].to_numpy(dtype=float) - trend["slope_per_day"] * days
    return out
