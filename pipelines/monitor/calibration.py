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

Calibrating costs most of a verdict (every chunk profiles the rest of the reference), and it
depends only on the reference and the settings as long as the window holds at least a
chunk's rows. So it is computed once, when the reference is logged with the model
(:func:`pipelines.registry.reference.log_reference`), stored beside it as a
:class:`Calibration` (:meth:`Calibration.to_dict`), and reused by every weekly check that
:meth:`Calibration.fits`; a check it does not fit (an old model without one, other
settings, a window smaller than a chunk) calibrates as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitor.drift_scores import (
    METHODS,
    ColumnReference,
    reference_profile,
    score_column,
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
    methods: dict[str, str] | None = None
    settings: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the model's reference."""
        return {"thresholds": self.thresholds, "chunk_quantile": self.chunk_quantile,
                "chunks": self.chunks, "chunk_rows": self.chunk_rows,
                "methods": self.methods, "settings": self.settings}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """The inverse of :meth:`to_dict`."""
        return cls(thresholds={k: float(v) for k, v in data["thresholds"].items()},
                   chunk_quantile={k: float(v) for k, v in data["chunk_quantile"].items()},
                   chunks=int(data["chunks"]), chunk_rows=int(data["chunk_rows"]),
                   methods=data.get("methods"), settings=data.get("settings"))

    def fits(self, *, methods: dict[str, str], settings: dict[str, Any],
             current_rows: int) -> str | None:
        """Why this stored calibration cannot stand in for calibrating now (None: it can).

        It can when it was made with the same settings (and reference size), covers every
        judged column with the same method, and the window holds at least ``chunk_rows``
        rows (calibrating now would cap the chunks at the window's size otherwise).
        """
        if self.settings != settings:
            return f"other settings ({self.settings} vs {settings})"
        stored = self.methods or {}
        other = [c for c, m in methods.items() if stored.get(c) != m
                 or c not in self.thresholds]
        if other:
            return f"columns not calibrated alike: {other[:8]}"
        if current_rows < self.chunk_rows:
            return f"the window's {current_rows} rows are fewer than a chunk's {self.chunk_rows}"
        return None

    def select(self, columns: list[str]) -> Calibration:
        """The same calibration restricted to ``columns``."""
        return Calibration({c: self.thresholds[c] for c in columns},
                           {c: self.chunk_quantile[c] for c in columns}, self.chunks,
                           self.chunk_rows, {c: (self.methods or {})[c] for c in columns},
                           self.settings)


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
        chunk = reference.iloc[picked]
        for column in profiles:
            # Column by column, so a column's thresholds do not depend on which other
            # columns are calibrated with it (a stored calibration covers more columns
            # than a check may judge).
            try:
                rest_profile = reference_profile(column, rest[column], methods[column])
            except ValueError:  # the column is empty outside this chunk: skip it here
                continue
            score = score_column(rest_profile, chunk[column])
            if not np.isnan(score):
                scores[column].append(score)
    chunk_q = {c: float(np.quantile(s, quantile)) if s else 0.0 for c, s in scores.items()}
    thresholds = {c: max(float(min_effect[methods[c]]), chunk_q[c] * safety_factor)
                  for c in profiles}
    logger.info("calibration: %d chunks of %d rows; %d of %d thresholds above the floor",
                chunks, chunk_rows, sum(thresholds[c] > min_effect[methods[c]] for c in profiles),
                len(profiles))
    return Calibration(thresholds, chunk_q, chunks, chunk_rows, methods)
