"""Regression metrics per slice of the evaluated rows (per platform by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pipelines.evaluate.metrics import regression_metrics

#: Slice key of rows whose ``by`` value is missing.
MISSING_SLICE = "<missing>"


def slice_metrics(
    frame: pd.DataFrame,
    actual: np.ndarray | pd.Series,
    predicted: np.ndarray | pd.Series,
    by: str = "platform",
    min_support: int = 30,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, Any]] = regression_metrics,
) -> dict[str, dict[str, Any]]:
    """``metrics`` (default :func:`regression_metrics`) for each value of ``frame[by]`` with
    enough rows.

    Args:
        frame: The evaluated rows, holding column ``by``.
        actual: Actual counts, one per row of ``frame`` (by position).
        predicted: Predicted counts, one per row of ``frame`` (by position).
        by: The column to slice on.
        min_support: Slices with fewer rows get no metrics.

    Returns:
        ``{slice: {**regression_metrics, "support": rows}}`` for slices with at least
        ``min_support`` rows and ``{slice: {"insufficient_support": rows}}`` for the others,
        keyed by the slice value as a string (:data:`MISSING_SLICE` for missing values),
        sorted by key.

    Raises:
        ValueError: if ``by`` is not a column, the lengths differ, or ``min_support`` is not
            an int >= 1.
    """
    if by not in frame.columns:
        raise ValueError(f"slice_metrics: 'by' must be a column of frame; got {by!r}, "
                         f"columns: {list(frame.columns)}.")
    if not isinstance(min_support, int) or isinstance(min_support, bool) or min_support < 1:
        raise ValueError(f"slice_metrics: 'min_support' must be an int >= 1; "
                         f"got {min_support!r}.")
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if not len(frame) == len(actual) == len(predicted):
        raise ValueError(f"slice_metrics: 'actual' and 'predicted' need one value per row of "
                         f"frame; got {len(actual)} and {len(predicted)} for {len(frame)} rows.")
    keys = frame[by].astype(object).where(frame[by].notna(), MISSING_SLICE).astype(str)
    result: dict[str, dict[str, Any]] = {}
    for key, positions in sorted(keys.groupby(keys.to_numpy()).indices.items()):
        support = len(positions)
        if support < min_support:
            result[key] = {"insufficient_support": support}
        else:
            result[key] = {**metrics(actual[positions], predicted[positions]),
                           "support": support}
    return result
