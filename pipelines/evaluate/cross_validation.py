"""Time-series cross-validation on the training part: expanding window, ordered by time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin

from pipelines.evaluate.metrics import regression_metrics

logger = logging.getLogger(__name__)


def time_series_folds(
    posted_at: pd.Series | np.ndarray, k: int, gap: int | str | pd.Timedelta = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds by posting time, like scikit-learn's ``TimeSeriesSplit``.

    The rows, sorted by time, are cut into ``k + 1`` blocks of ``n // (k + 1)`` rows, the
    first taking the remainder; fold ``i`` validates on block ``i + 1`` and trains on
    everything before it. Cuts are moved to
    instants, so rows posted at the same instant always fall on the same side: every
    training row is strictly earlier than every validation row of its fold.

    Args:
        posted_at: Posting times (any order; naive times are taken as UTC).
        k: Number of folds (an int >= 2).
        gap: Left out between training and validation: an int counts rows (like
            ``TimeSeriesSplit``'s ``gap``), a duration (``"7D"``, a ``Timedelta``) is time,
            e.g. the days a post's likes take to settle.

    Returns:
        ``[(train_positions, valid_positions), ...]``, positions into ``posted_at``, each
        sorted by time.

    Raises:
        ValueError: for a bad ``k`` or ``gap``, a missing time, or a fold left without
            training or validation rows (too few rows or too many ties).
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ValueError(f"time_series_cv: 'k' must be an int >= 2; got {k!r}.")
    times = pd.to_datetime(pd.Series(np.asarray(posted_at)), utc=True)
    if times.isna().any():
        raise ValueError(f"time_series_cv: 'posted_at' has {int(times.isna().sum())} missing "
                         f"time(s).")
    gap_rows, gap_time = _parse_gap(gap)
    n = len(times)
    order = np.argsort(times.to_numpy(), kind="stable")
    sorted_times = times.to_numpy()[order]
    block = n // (k + 1)
    if block == 0:
        raise ValueError(f"time_series_cv: need at least k + 1 = {k + 1} rows for k={k}; "
                         f"got {n}.")
    folds = []
    for i in range(k):
        start = n - (k - i) * block
        end = start + block
        valid_from = sorted_times[start]
        valid_to = sorted_times[end] if end < n else None
        in_valid = sorted_times >= valid_from
        if valid_to is not None:
            in_valid &= sorted_times < valid_to
        if gap_time is not None:
            train_before = valid_from - gap_time.to_timedelta64()
        else:
            train_before = sorted_times[start - gap_rows] if start - gap_rows >= 0 else None
        in_train = (sorted_times < train_before if train_before is not None
                    else np.zeros(n, dtype=bool))
        train, valid = order[in_train], order[in_valid]
        if len(train) == 0 or len(valid) == 0:
            raise ValueError(
                f"time_series_cv: fold {i} has {len(train)} training and {len(valid)} "
                f"validation rows (k={k}, gap={gap!r}, {n} rows); need both non-empty: use "
                f"fewer folds, a smaller gap or more rows."
            )
        folds.append((train, valid))
    return folds


def time_series_cv(
    make_estimator: Callable[[], RegressorMixin],
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray | pd.Series,
    posted_at: pd.Series | np.ndarray,
    k: int,
    gap: int | str | pd.Timedelta = 0,
) -> dict[str, Any]:
    """Fit a fresh estimator per fold of :func:`time_series_folds` and score its validation.

    Args:
        make_estimator: Returns a new unfitted estimator predicting counts, e.g.
            ``lambda: make_model("lightgbm", {}, seed, features, scale=...)``.
        X: Features, one row per post (positionally aligned with ``y`` and ``posted_at``).
        y: Actual counts.
        posted_at: Posting times.
        k: Number of folds (``train.cv_folds`` in params).
        gap: See :func:`time_series_folds`.

    Returns:
        ``{"k", "gap", "folds": [{"fold", "train_rows", "valid_rows", "train_end",
        "valid_start", "valid_end", "metrics"}], "mean": {metric: ...}, "std": {...}}``
        where ``metrics`` is :func:`regression_metrics` and ``mean``/``std`` (population,
        ddof=0) cover every metric but ``n``.

    Raises:
        ValueError: if the lengths differ, or as :func:`time_series_folds`.
    """
    if not len(X) == len(y) == len(posted_at):
        raise ValueError(f"time_series_cv: 'X', 'y' and 'posted_at' must have one row per "
                         f"post; got {len(X)}, {len(y)} and {len(posted_at)}.")
    folds = time_series_folds(posted_at, k=k, gap=gap)
    times = pd.to_datetime(pd.Series(np.asarray(posted_at)), utc=True)
    y = np.asarray(y, dtype=float)
    results = []
    for i, (train, valid) in enumerate(folds):
        x_train = X.iloc[train] if hasattr(X, "iloc") else X[train]
        x_valid = X.iloc[valid] if hasattr(X, "iloc") else X[valid]
        model = make_estimator().fit(x_train, y[train])
        metrics = regression_metrics(y[valid], model.predict(x_valid))
        results.append({
            "fold": i, "train_rows": len(train), "valid_rows": len(valid),
            "train_end": times.iloc[train].max().isoformat(),
            "valid_start": times.iloc[valid].min().isoformat(),
            "valid_end": times.iloc[valid].max().isoformat(),
            "metrics": metrics,
        })
        logger.info("time_series_cv: fold %d/%d, %d train / %d valid rows, mae_log %.4f",
                    i + 1, k, len(train), len(valid), metrics["mae_log"])
    names = [m for m in results[0]["metrics"] if m != "n"]
    table = np.array([[r["metrics"][m] for m in names] for r in results], dtype=float)
    return {
        "k": k, "gap": gap if isinstance(gap, int) else str(pd.Timedelta(gap)),
        "folds": results,
        "mean": {m: float(v) for m, v in zip(names, table.mean(axis=0), strict=True)},
        "std": {m: float(v) for m, v in zip(names, table.std(axis=0), strict=True)},
    }


def _parse_gap(gap: int | str | pd.Timedelta) -> tuple[int, pd.Timedelta | None]:
    if isinstance(gap, int | np.integer) and not isinstance(gap, bool):
        if gap >= 0:
            return int(gap), None
    elif not isinstance(gap, bool):
        try:
            delta = pd.Timedelta(gap)
        except (TypeError, ValueError):
            delta = None
        if delta is not None and delta >= pd.Timedelta(0):
            return 0, delta
    raise ValueError(f"time_series_cv: 'gap' must be an int >= 0 (rows) or a non-negative "
                     f"duration such as '7D'; got {gap!r}.")
