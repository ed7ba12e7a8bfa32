"""Drift thresholds calibrated on how much the reference varies from chunk to chunk.

A fixed threshold cries wolf on columns that move a lot by nature (the month, an account's
recent means) and misses shifts of columns that never move. Instead, split the reference
(the champion's training rows, in time order) into chunks, score each chunk against the
rest of the reference with the same scores that decide (:mod:`drift_scores`), and set each
column's threshold to

    max(min_effect[method], quantile_q(chunk scores) × safety_factor)

so a current window is flagged only when it differs from the reference more than the
reference's own weeks differed from each other, and never for an effect smaller than the
minimum worth acting on.

Chunk size matters: a score's sampling noise shrinks with the sample. Chunks hold
``min(current rows, reference rows / chunks)`` rows, so they are never larger than the
current window; when the window is larger than a chunk the threshold is conservative (more
noise in the chunks than in the window), never the other way round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.monitor.drift_scores import (
    METHODS,
    ColumnReference,
    profile_frame,
    score_frame,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Per-column thresholds and the chunk scores they came from.

    Attributes:
        thresholds: Column → threshold a current score must reach to count as drifted.
        chunk_quantile: Column → the ``quantile`` of the chunk-vs-rest scores.
        chunks: Number of chunks scored.
        chunk_rows: Rows per chunk.
    """

    thresholds: dict[str, float]
    chunk_quantile: dict[str, float]
    chunks: int
    chunk_rows: int


def check_calibration_settings(*, chunks: int, quantile: float, safety_factor: float,
                               min_effect: dict[str, float]) -> None:
    """Raise one ValueError naming the first bad setting.

    Raises:
        ValueError: naming the setting, the rule and the value.
    """
    if not isinstance(chunks, int) or not 2 <= chunks <= 100:
        raise ValueError(f"calibrate_thresholds: 'chunks' must be an int in [2, 100]; "
                         f"got {chunks!r}.")
    if not 0 < quantile <= 1:
        raise ValueError(f"calibrate_thresholds: 'quantile' must be in (0, 1]; got {quantile!r}.")
    if not safety_factor >= 1:
        raise ValueError(f"calibrate_thresholds: 'safety_factor' must be >= 1; "
                         f"got {safety_factor!r}.")
    for method in METHODS:
        value = min_effect.get(method)
        if not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"calibrate_thresholds: 'min_effect.{method}' must be a number "
                             f"> 0; got {value!r}.")


def calibrate_thresholds(
    reference: pd.DataFrame,
    profiles: dict[str, ColumnReference],
    *,
    current_rows: int,
    chunks: int,
    quantile: float,
    safety_factor: float,
    min_effect: dict[str, float],
    seed: int,
) -> Calibration:
    """Thresholds per column from chunk-vs-rest scores of the time-ordered ``reference``.

    Args:
        reference: Reference rows in time order (columns as in ``profiles``).
        profiles: The decision's column profiles (gives each column's method).
        current_rows: Size of the window to be judged (caps the chunk size).
        chunks: How many time-ordered chunks to score.
        quantile: Which quantile of the chunk scores to take.
        safety_factor: Multiplier on that quantile (>= 1).
        min_effect: Method → the smallest effect worth flagging (threshold floor).
        seed: Seed of the within-chunk row sample.

    Raises:
        ValueError: for bad settings or a reference too small to split.
    """
    check_calibration_settings(chunks=chunks, quantile=quantile, safety_factor=safety_factor,
                               min_effect=min_effect)
    if len(reference) < 2 * chunks:
        raise ValueError(f"calibrate_thresholds: the reference has {len(reference)} rows, "
                         f"too few for {chunks} chunks (needs >= {2 * chunks}).")
    rng = np.random.default_rng(seed)
    bounds = np.linspace(0, len(reference), chunks + 1).astype(int)
    chunk_rows = int(max(1, min(current_rows, np.diff(bounds).min())))
    methods = {c: p.method for c, p in profiles.items()}
    scores: dict[str, list[float]] = {c: [] for c in profiles}
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        inside = np.arange(start, stop)
        picked = np.sort(rng.choice(inside, size=min(chunk_rows, len(inside)), replace=False))
        rest = reference.iloc[np.r_[0:start, stop:len(reference)]]
        try:
            rest_profiles = profile_frame(rest[list(profiles)], methods)
        except ValueError:  # a column empty outside this chunk: skip the chunk
            continue
        for column, score in score_frame(rest_profiles, reference.iloc[picked]).items():
            if not np.isnan(score):
                scores[column].append(score)
    chunk_q = {c: float(np.quantile(s, quantile)) if s else 0.0 for c, s in scores.items()}
    thresholds = {c: max(float(min_effect[methods[c]]), chunk_q[c] * safety_factor)
                  for c in profiles}
    logger.info("calibration: %d chunks of %d rows; %d of %d thresholds above the floor",
                chunks, chunk_rows, sum(thresholds[c] > min_effect[methods[c]] for c in profiles),
                len(profiles))
    return Calibration(thresholds, chunk_q, chunks, chunk_rows)
