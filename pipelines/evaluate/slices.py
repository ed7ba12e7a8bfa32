"""Metrics per slice of the evaluated rows: per platform (or another column), and per
regime (warm accounts the model trained on, cold accounts held out of training)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pipelines.evaluate.metrics import regression_metrics, within_account_spearman

#: Slice key of rows whose ``by`` value is missing.
MISSING_SLICE = "<missing>"
#: The regimes of a holdout row, and how reports name them: ``warm``, an account the model
#: trained on (its history is in the features); ``cold``, an account held out of training
#: entirely (a new account).
REGIMES: dict[str, str] = {"warm": "warm accounts (seen in training)",
                           "cold": "cold accounts (new accounts)"}


def _positions(values: pd.Series) -> dict[str, np.ndarray]:
    """Row positions of each slice key (the value as a string, :data:`MISSING_SLICE` for a
    missing one), sorted by key."""
    keys = values.astype(object).where(values.notna(), MISSING_SLICE).astype(str)
    return dict(sorted(keys.groupby(keys.to_numpy()).indices.items()))


def check_regime_labels(where: str, labels: Any, n_rows: int) -> np.ndarray:
    """The regime of each of ``n_rows`` rows as a string array, every one a key of
    :data:`REGIMES`.

    Raises:
        ValueError: naming ``where`` for a label count other than ``n_rows`` or any other
            label (a missing one included).
    """
    values = np.asarray(labels, dtype=object)
    if values.shape != (n_rows,):
        raise ValueError(f"{where}: 'regime_labels' needs one label per row ({n_rows}); "
                         f"got shape {values.shape}.")
    bad = ~pd.Series(values).isin(list(REGIMES)).to_numpy()
    if bad.any():
        raise ValueError(f"{where}: 'regime_labels' must be one of {list(REGIMES)} on every "
                         f"row ('warm': an account the model trained on, 'cold': one held out "
                         f"of training); got {int(bad.sum())} other value(s), e.g. "
                         f"{values[bad][0]!r}.")
    return values.astype(str)


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
    result: dict[str, dict[str, Any]] = {}
    for key, positions in _positions(frame[by]).items():
        support = len(positions)
        if support < min_support:
            result[key] = {"insufficient_support": support}
        else:
            result[key] = {**metrics(actual[positions], predicted[positions]),
                           "support": support}
    return result


def regime_metrics(
    actual: np.ndarray | pd.Series,
    predicted: np.ndarray | pd.Series,
    *,
    regime_labels: Any,
    accounts: Any,
    min_support: int,
    min_posts: int,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The task's ``metrics`` on each regime (:data:`REGIMES`) of the evaluated rows, with
    the within-account Spearman (:func:`~pipelines.evaluate.metrics.within_account_spearman`).

    Args:
        actual, predicted: One value per row, of the kind ``metrics`` takes.
        regime_labels: ``"warm"`` or ``"cold"`` per row.
        accounts: The account of each row.
        min_support: A regime with fewer rows gets only its size (as in
            :func:`slice_metrics`).
        min_posts: Accounts with fewer rows in a regime are left out of its
            within-account Spearman.
        metrics: The task's metrics, ``(actual, predicted) -> dict``
            (:func:`~pipelines.evaluate.metrics.regression_metrics` for counts).

    Returns:
        ``{"warm": ..., "cold": ...}``, both always present: ``{**metrics, "support": rows,
        "within_account_spearman": mean or nan, "within_account_spearman_accounts":
        accounts used}`` for a regime with at least ``min_support`` rows, else
        ``{"insufficient_support": rows}`` (0 when the holdout has none).

    Raises:
        ValueError: for labels other than the regimes, arrays of other lengths, and the
            errors of :func:`slice_metrics` and ``within_account_spearman``.
    """
    where = "regime_metrics"
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    accounts = np.asarray(accounts, dtype=object)
    if not len(actual) == len(predicted) == len(accounts):
        raise ValueError(f"{where}: 'actual', 'predicted' and 'accounts' need one value per "
                         f"row; got {len(actual)}, {len(predicted)} and {len(accounts)}.")
    frame = pd.DataFrame({"regime": check_regime_labels(where, regime_labels, len(actual))})
    result = slice_metrics(frame, actual, predicted, by="regime", min_support=min_support,
                           metrics=metrics)
    for key, positions in _positions(frame["regime"]).items():
        if "support" in result[key]:
            rho, used = within_account_spearman(actual[positions], predicted[positions],
                                                accounts[positions], min_posts=min_posts)
            result[key].update(within_account_spearman=rho,
                               within_account_spearman_accounts=used)
    return {name: result.get(name, {"insufficient_support": 0}) for name in REGIMES}
