"""Realized performance: the champion's error on matured outcomes, against its offline error.

A post's count keeps growing for a day or two, so only outcomes read at least
``maturity_hours`` after posting count as actual results (the same rule as the account
history features). The error is MAE on log1p counts, the training metric, overall, per
platform and per day, so a report shows when and where the model got worse.
:func:`served_performance` measures it on what serving actually answered (the prediction
log) rather than on a re-prediction of the validated posts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def matured(posts: pd.DataFrame, *, target: str, maturity_hours: float) -> pd.Series:
    """Whether each post's ``target`` is a matured outcome: known, and read at least
    ``maturity_hours`` after posting (``collected_at``; rows without it are not matured).

    Raises:
        ValueError: if ``target`` or the time columns are absent.
    """
    missing = [c for c in (target, "posted_at", "collected_at") if c not in posts.columns]
    if missing:
        raise ValueError(f"matured: posts lack column(s) {missing}.")
    age = (pd.to_datetime(posts["collected_at"], utc=True)
           - pd.to_datetime(posts["posted_at"], utc=True))
    return (posts[target].notna() & age.notna()
            & (age >= pd.Timedelta(hours=maturity_hours))).fillna(False).astype(bool)


def _mae_log(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(np.log1p(actual) - np.log1p(np.clip(predicted, 0, None)))))


def realized_performance(
    *,
    actual: np.ndarray,
    predicted: np.ndarray,
    platforms: np.ndarray,
    posted_at: pd.Series,
    offline: dict[str, float],
    max_error_increase: float,
    min_outcomes: int,
) -> dict[str, Any]:
    """Compare the realized log-MAE with the offline test log-MAE.

    Args:
        actual: Matured outcome counts.
        predicted: The champion's predicted counts for the same posts.
        platforms: Each post's platform.
        posted_at: Each post's publication time (for the daily series).
        offline: The champion's offline metrics: ``mae_log`` and ``<platform>_mae_log``.
        max_error_increase: The budget: a realized ``mae_log`` above offline + this is a
            performance loss.
        min_outcomes: Fewer matured outcomes than this are reported but never decide.

    Returns:
        ``metric`` (``mae_log``), ``outcomes``, ``mae_log``, ``offline_mae_log``,
        ``increase``, ``by_platform``, ``by_day``, ``performance_loss`` (None when not
        judged) and ``judged``.

    Raises:
        ValueError: if the arrays differ in length or the budget is negative.
    """
    if not len(actual) == len(predicted) == len(platforms) == len(posted_at):
        raise ValueError(f"realized_performance: actual, predicted, platforms and posted_at "
                         f"must have one length; got {len(actual)}, {len(predicted)}, "
                         f"{len(platforms)}, {len(posted_at)}.")
    if max_error_increase < 0:
        raise ValueError(f"realized_performance: 'max_error_increase' must be >= 0; "
                         f"got {max_error_increase!r}.")
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    platforms = np.asarray(platforms, dtype=object)
    offline_mae = offline.get("mae_log")
    result: dict[str, Any] = {"metric": "mae_log", "outcomes": len(actual),
                              "offline_mae_log": offline_mae,
                              "max_error_increase": max_error_increase,
                              "min_outcomes": min_outcomes, "mae_log": None, "increase": None,
                              "by_platform": {}, "by_day": {}, "performance_loss": None,
                              "judged": False}
    if len(actual) == 0:
        logger.info("realized performance: no matured outcome in the window")
        return result
    result["mae_log"] = _mae_log(actual, predicted)
    for platform in sorted(set(platforms)):
        mask = platforms == platform
        result["by_platform"][str(platform)] = {
            "n": int(mask.sum()), "mae_log": _mae_log(actual[mask], predicted[mask]),
            "offline_mae_log": offline.get(f"{platform}_mae_log")}
    days = pd.to_datetime(posted_at, utc=True).dt.strftime("%Y-%m-%d").to_numpy()
    for day in sorted(set(days)):
        mask = days == day
        result["by_day"][day] = {"n": int(mask.sum()),
                                 "mae_log": _mae_log(actual[mask], predicted[mask])}
    if offline_mae is not None:
        result["increase"] = result["mae_log"] - offline_mae
        if len(actual) >= min_outcomes:
            result["judged"] = True
            result["performance_loss"] = bool(result["increase"] > max_error_increase)
    logger.info("realized performance: %d matured outcomes, mae_log %.3f vs offline %s "
                "(budget +%.3f) → performance loss %s", len(actual), result["mae_log"],
                offline_mae, max_error_increase, result["performance_loss"])
    return result


def realized_loss(
    *,
    actual: np.ndarray,
    predicted: np.ndarray,
    times: pd.Series,
    metric: str,
    loss: Callable[[np.ndarray, np.ndarray], float],
    offline: Mapping[str, float],
    max_error_increase: float,
    min_outcomes: int,
) -> dict[str, Any]:
    """Compare a task's realized loss ``metric`` with its offline test value (any task:
    :meth:`pipelines.tasks.base.Task.realized_performance`; posts add per-platform detail
    in :func:`realized_performance`).

    Args:
        actual, predicted: Known outcomes and the model's predictions for the same rows.
        times: Each row's time (for the per-day series).
        metric: Name of the loss (the gate's primary, e.g. ``log_loss``).
        loss: ``(actual, predicted) -> value`` of ``metric`` (lower is better).
        offline: The model's offline test metrics (``metric`` among them).
        max_error_increase: A realized ``metric`` above offline + this is a performance loss.
        min_outcomes: Fewer known outcomes than this are reported but never decide.

    Returns:
        ``metric``, ``outcomes``, ``<metric>``, ``offline_<metric>``, ``increase``,
        ``by_day``, ``performance_loss`` (None when not judged) and ``judged``.

    Raises:
        ValueError: if the arrays differ in length or the budget is negative.
    """
    if not len(actual) == len(predicted) == len(times):
        raise ValueError(f"realized_loss: actual, predicted and times must have one length; "
                         f"got {len(actual)}, {len(predicted)}, {len(times)}.")
    if max_error_increase < 0:
        raise ValueError(f"realized_loss: 'max_error_increase' must be >= 0; "
                         f"got {max_error_increase!r}.")
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    reference = offline.get(metric)
    result: dict[str, Any] = {"metric": metric, "outcomes": len(actual),
                              f"offline_{metric}": reference,
                              "max_error_increase": max_error_increase,
                              "min_outcomes": min_outcomes, metric: None, "increase": None,
                              "by_day": {}, "performance_loss": None, "judged": False}
    if len(actual) == 0:
        logger.info("realized performance: no known outcome in the window")
        return result
    result[metric] = float(loss(actual, predicted))
    days = pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d").to_numpy()
    for day in sorted(set(days)):
        mask = days == day
        result["by_day"][day] = {"n": int(mask.sum()),
                                 metric: float(loss(actual[mask], predicted[mask]))}
    if reference is not None:
        result["increase"] = result[metric] - reference
        if len(actual) >= min_outcomes:
            result["judged"] = True
            result["performance_loss"] = bool(result["increase"] > max_error_increase)
    logger.info("realized performance: %d known outcomes, %s %.3f vs offline %s (budget "
                "+%.3f) → performance loss %s", len(actual), metric, result[metric],
                reference, max_error_increase, result["performance_loss"])
    return result


def served_performance(
    prediction_log_url: str | None, *, model_name: str, version: str, target: str,
    window_start: pd.Timestamp, window_end: pd.Timestamp, maturity_hours: float,
    offline: dict[str, float], max_error_increase: float, min_outcomes: int,
) -> dict[str, Any] | None:
    """Realized error of what serving actually answered with ``model_name`` version
    ``version`` (champion arm) for posts of the window whose outcomes matured, from the
    prediction log; None when there is no log (a SQLite file that does not exist is not
    created), the log records no outcomes of ``target`` (only post counts have them) or
    holds no such predictions."""
    from pipelines.prediction_log import TARGETS

    if not prediction_log_url or target not in TARGETS:
        return None
    if prediction_log_url.startswith("sqlite:///") and not Path(
            prediction_log_url.removeprefix("sqlite:///")).exists():
        return None
    from pipelines.prediction_log import PredictionLog

    log = PredictionLog(prediction_log_url)
    try:
        pairs = log.matured_pairs(model_name=model_name, target=target,
                                  horizon_hours=maturity_hours,
                                  now=window_end.to_pydatetime(),
                                  since=window_start.to_pydatetime())
    finally:
        log.close()
    posted = pd.to_datetime(pairs["posted_at"], utc=True)
    pairs = pairs[(pairs["model_version"].astype(str) == str(version))
                  & (pairs["arm"] == "champion") & (posted >= window_start)
                  & (posted < window_end)]
    if pairs.empty:
        return None
    result = realized_performance(
        actual=pairs["actual"].to_numpy(dtype=float),
        predicted=pairs["prediction"].to_numpy(dtype=float),
        platforms=pairs["platform"].astype(str).to_numpy(),
        posted_at=pd.to_datetime(pairs["posted_at"], utc=True),
        offline=offline, max_error_increase=max_error_increase, min_outcomes=min_outcomes)
    return {**result, "served_predictions": len(pairs)}
