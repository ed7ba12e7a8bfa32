"""Performance before the labels arrive: a window's estimated metrics per chunk, with
bands, checked against realized metrics where outcomes matured.

Labels arrive late (48 h for likes, weeks for churn), so the weekly drift check estimates
the champion's current performance from its inputs and predictions alone: binary
classifiers by confidence-based performance estimation (:mod:`confidence_based_estimation`,
CBPE: expected ROC-AUC, log-loss and Brier from calibrated probabilities), regressors by
direct loss estimation (:mod:`direct_loss_estimation`, DLE: a model of the champion's
absolute error). The estimator is fitted once, at registration, on the registered
candidate's held-out test rows (:func:`pipelines.registry.reference.log_performance_estimator`)
and stored with the model's reference; a model registered without one gets no estimate.

The window is split into time-ordered chunks of at least ``min_rows`` rows (at most
``chunks`` of them); each chunk gets its estimate and band, and, where at least
``min_rows`` of its outcomes are known, its realized metric on those rows beside the
estimate for the same rows; so does the whole window (more rows, a narrower band). A
realized value outside its band is evidence that an assumption of the method failed, and
the report names which: predictions outside the range the estimator learned (calibration
does not transfer), else a concept shift (``P(y | x)`` changed: the predictions stay where
the estimator was fitted, the outcomes do not follow them).

An estimated loss (the task's gate metric) above the champion's offline test value plus
``max_error_increase`` is a performance loss the drift check may retrain for before any
label arrives (:func:`pipelines.monitor.decision.decide`); realized labels, once judged,
take precedence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitor.confidence_based_estimation import ConfidenceBasedEstimator
from pipelines.monitor.direct_loss_estimation import DirectLossEstimator
from pipelines.monitor.drift import TARGET

logger = logging.getLogger(__name__)

#: Band half-width in standard errors: NannyML's default (3 sigma), so a chunk is flagged
#: by chance about 3 times in 1,000.
SIGMAS = 3.0
#: Share of a chunk's predictions outside the fitted range above which a miss is put down
#: to calibration not transferring rather than to a concept shift.
OUT_OF_RANGE_SHARE = 0.05

Estimator = ConfidenceBasedEstimator | DirectLossEstimator

#: The estimator of each problem type (pipelines.tasks.base.Problem): (gate metric, seed)
#: -> an unfitted estimator.
ESTIMATORS: dict[str, Callable[[str, int], Estimator]] = {
    "binary": lambda metric, seed: ConfidenceBasedEstimator(calibrator="isotonic",
                                                            sigmas=SIGMAS, seed=seed),
    "count_regression": lambda metric, seed: DirectLossEstimator(metric=metric,
                                                                 sigmas=SIGMAS, seed=seed),
    "growth_regression": lambda metric, seed: DirectLossEstimator(metric=metric,
                                                                  sigmas=SIGMAS, seed=seed),
}
LOADERS: dict[str, Callable[[dict[str, Any]], Estimator]] = {
    "CBPE": ConfidenceBasedEstimator.from_dict, "DLE": DirectLossEstimator.from_dict}

ASSUMPTIONS = {
    "concept": "no concept shift: P(y | x) is as on the held-out rows the estimator was "
               "fitted on (the inputs may move, their relation to the outcome may not)",
    "support": "new predictions fall where the estimator was fitted (the held-out "
               "predictions' range)",
}


def load_estimator(data: dict[str, Any]) -> Estimator:
    """An estimator from its stored form (``to_dict``).

    Raises:
        ValueError: for an unknown method.
    """
    method = data.get("method")
    if method not in LOADERS:
        raise ValueError(f"load_estimator: 'method' must be one of {sorted(LOADERS)}; got "
                         f"{method!r}.")
    return LOADERS[method](data)


def _with_band(estimator: Estimator, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    bands = estimator.bands(frame)
    return {metric: {"value": value, "lower": value - bands[metric],
                     "upper": value + bands[metric]}
            for metric, value in estimator.estimate(frame).items()}


def _chunk(estimator: Estimator, frame: pd.DataFrame, times: pd.Series, *,
           min_rows: int) -> dict[str, Any]:
    """One chunk: its estimate with bands, and, with enough known outcomes, the realized
    metrics beside the estimate for the same rows."""
    known = frame[TARGET].notna().to_numpy()
    record: dict[str, Any] = {
        "start": str(times.min()), "end": str(times.max()), "rows": len(frame),
        "outcomes": int(known.sum()),
        "estimated": _with_band(estimator, frame),
        "out_of_range": estimator.out_of_range(frame),
        "realized": None, "estimated_on_known": None, "within_band": None}
    if known.sum() >= min_rows:
        labelled = frame[known]
        estimated = _with_band(estimator, labelled)
        realized = estimator.realized(labelled)
        record["estimated_on_known"] = estimated
        record["realized"] = realized
        record["within_band"] = {
            m: bool(estimated[m]["lower"] <= realized[m] <= estimated[m]["upper"])
            for m in realized if not np.isnan(realized[m])}
    return record


def _comparison(chunks: list[dict[str, Any]], window: dict[str, Any], metric: str
                ) -> dict[str, Any]:
    """How the estimate fared against realized metrics, in every chunk and in the whole
    window (more rows: a narrower band), for every metric; and which assumption a miss
    violates. ``metric`` is the one the budget applies to (named first)."""
    parts = [(f"chunk {i + 1}", c) for i, c in enumerate(chunks)] + [("window", window)]
    compared = [(name, c) for name, c in parts if c["within_band"]]
    missed: dict[str, list[str]] = {}
    for name, part in compared:
        for m, inside in part["within_band"].items():
            if not inside:
                missed.setdefault(m, []).append(name)
    chunks_compared = sum(1 for name, _ in compared if name != "window")
    result: dict[str, Any] = {
        "metric": metric, "chunks_compared": chunks_compared,
        "window_compared": bool(window["within_band"]),
        "chunks_outside_band": sum(1 for name, c in compared if name != "window"
                                   and not c["within_band"].get(metric, True)),
        "missed": missed, "assumption_violated": None}
    if not compared:
        result["verdict"] = "no chunk has enough known outcomes yet: an estimate only"
        return result
    if not missed:
        result["verdict"] = (f"the estimate tracks the realized metrics: within its band in "
                             f"all {chunks_compared} chunks with known outcomes"
                             + (" and in the whole window" if window["within_band"] else ""))
        return result
    off = [c["out_of_range"] for name, c in compared
           if any(name in where for where in missed.values())]
    off_range = float(np.mean(off))
    key = "support" if off_range > OUT_OF_RANGE_SHARE else "concept"
    result["assumption_violated"] = ASSUMPTIONS[key]
    cause = (f"{off_range:.0%} of those rows' predictions lie outside the fitted range"
             if key == "support" else
             "the predictions stay where the estimator was fitted, yet the outcomes do not "
             "follow them: P(y | x) changed (a concept shift)")
    where = "; ".join(f"{m} in {', '.join(names)}" for m, names in
                      sorted(missed.items(), key=lambda item: item[0] != metric))
    result["verdict"] = (f"the estimate missed the realized metric outside its band ({where}; "
                         f"{chunks_compared} chunks compared); {cause}. The assumption "
                         f"violated: {ASSUMPTIONS[key]}. Trust the realized metrics, not the "
                         "estimate.")
    return result


def estimate_window(
    estimator: Estimator,
    frame: pd.DataFrame,
    times: pd.Series,
    *,
    metric: str,
    chunks: int,
    min_rows: int,
    offline: Mapping[str, float],
    max_error_increase: float,
) -> dict[str, Any]:
    """Estimated performance of a window, per chunk and overall, against realized
    performance where outcomes are known, and whether the estimated ``metric`` is a loss
    past the budget.

    Args:
        estimator: A fitted estimator (:data:`ESTIMATORS`).
        frame: The window's drift frame in time order (inputs, ``prediction``, ``target``
            NaN where the outcome is not known yet).
        times: Each row's time (chunk bounds in the report).
        metric: The loss the budget applies to (the task's gate metric, lower is better).
        chunks: At most this many time-ordered chunks.
        min_rows: Rows per chunk at least, and known outcomes needed to compare a chunk.
        offline: The champion's offline test metrics (``metric`` among them).
        max_error_increase: An estimated ``metric`` above offline + this is a loss.

    Returns:
        ``method``, ``metric``, ``assumptions``, ``window`` (the whole window as a chunk),
        ``chunks``, ``comparison``, ``offline_<metric>``, ``increase``,
        ``performance_loss`` (None when not judged) and ``judged``.

    Raises:
        ValueError: if the lengths differ or a setting is out of range.
    """
    if len(frame) != len(times):
        raise ValueError(f"estimate_window: frame and times must have one length; got "
                         f"{len(frame)} and {len(times)}.")
    if chunks < 1 or min_rows < 1 or max_error_increase < 0:
        raise ValueError(f"estimate_window: 'chunks' and 'min_rows' must be >= 1 and "
                         f"'max_error_increase' >= 0; got {chunks}, {min_rows}, "
                         f"{max_error_increase}.")
    times = pd.Series(pd.to_datetime(times, utc=True)).reset_index(drop=True)
    frame = frame.reset_index(drop=True)
    count = max(1, min(chunks, len(frame) // min_rows))
    bounds = np.linspace(0, len(frame), count + 1).astype(int)
    parts = [_chunk(estimator, frame.iloc[a:b], times.iloc[a:b], min_rows=min_rows)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    whole = _chunk(estimator, frame, times, min_rows=min_rows)
    reference = offline.get(metric)
    estimated = whole["estimated"].get(metric, {}).get("value")
    result: dict[str, Any] = {
        "method": estimator.method, "metric": metric, "metrics": list(estimator.metrics),
        "assumptions": list(ASSUMPTIONS.values()), "window": whole, "chunks": parts,
        "comparison": _comparison(parts, whole, metric), f"offline_{metric}": reference,
        "max_error_increase": max_error_increase, "increase": None,
        "performance_loss": None, "judged": False}
    if reference is not None and estimated is not None and len(frame) >= min_rows:
        result["increase"] = estimated - reference
        result["judged"] = True
        result["performance_loss"] = bool(result["increase"] > max_error_increase)
    logger.info("estimated performance (%s): %d rows in %d chunks, %s %s vs offline %s "
                "(budget +%.3f) → estimated loss %s; %s", estimator.method, len(frame),
                len(parts), metric, estimated, reference, max_error_increase,
                result["performance_loss"], result["comparison"]["verdict"])
    return result


def loss_reason(estimated: dict[str, Any]) -> str:
    """The retraining reason of an estimated loss past the budget (:func:`estimate_window`'s
    result), for the run conf and the alert."""
    name = estimated["metric"]
    value = estimated["window"]["estimated"][name]
    return (f"estimated performance loss ({estimated['method']}, before the labels): {name} "
            f"{value['value']:.3f} [{value['lower']:.3f}, {value['upper']:.3f}] vs offline "
            f"{estimated[f'offline_{name}']:.3f} (budget +{estimated['max_error_increase']:.3f})")
