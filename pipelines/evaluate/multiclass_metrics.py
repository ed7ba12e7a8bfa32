"""Metrics of multiclass probability predictions and their naive baselines.

A prediction is a ``(rows, classes)`` matrix of class probabilities; the actual value is
the class index. The decided class is the most probable one. The numbers match
scikit-learn's (``f1_score(average="macro", zero_division=0)``, ``accuracy_score``,
``recall_score(average=None)``, ``log_loss``) and the gate's own versions of the same
metrics (:mod:`pipelines.evaluate.gate_metrics`: ``multiclass_log_loss``, ``macro_f1``,
``accuracy``), so an offline table and a gate record agree.

Calibration: ``ece`` is the top-label expected calibration error, the weighted mean over
equal-width confidence bins of |accuracy - mean confidence| of the decided class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.evaluate.gate_metrics import LOG_LOSS_EPS


def check_matrix(where: str, actual: np.ndarray, probabilities: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``actual`` as int class indices and ``probabilities`` as a float matrix.

    Raises:
        ValueError: for a shape mismatch, a class index outside the matrix's classes or
            rows that are not probabilities (naming the first bad row).
    """
    p = np.asarray(probabilities, dtype=float)
    a = np.asarray(actual, dtype=float)
    if p.ndim != 2 or p.shape[0] != a.shape[0] or a.ndim != 1 or p.shape[1] < 2:
        raise ValueError(f"{where}: need 'actual' of shape (n,) and 'probabilities' of shape "
                         f"(n, classes >= 2); got {a.shape} and {p.shape}.")
    bad = ~np.isfinite(a) | (a < 0) | (a >= p.shape[1]) | (a != np.round(a))
    if bad.any():
        raise ValueError(f"{where}: 'actual' must hold class indices 0 .. {p.shape[1] - 1}; "
                         f"got {float(a[bad][0])!r} at row {int(np.flatnonzero(bad)[0])}.")
    rows_bad = (~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1)
                | (np.abs(p.sum(axis=1) - 1) > 1e-6))
    if rows_bad.any():
        row = int(np.flatnonzero(rows_bad)[0])
        raise ValueError(f"{where}: 'probabilities' rows must be finite, >= 0 and sum to 1; "
                         f"row {row} is {p[row].tolist()}.")
    return a.astype(int), p


def multiclass_metrics(actual: np.ndarray, probabilities: np.ndarray, *,
                       classes: Sequence[str], bins: int = 10) -> dict[str, float]:
    """``multiclass_log_loss``, ``macro_f1``, ``accuracy``, ``ece``, ``recall_<class>``
    and ``share_<class>`` (the share of rows decided as that class).

    Raises:
        ValueError: see :func:`check_matrix`, or ``classes`` not one name per column.
    """
    a, p = check_matrix("multiclass_metrics", actual, probabilities)
    if len(classes) != p.shape[1]:
        raise ValueError(f"multiclass_metrics: 'classes' must name each of the {p.shape[1]} "
                         f"columns; got {list(classes)}.")
    decided = p.argmax(axis=1)
    out = {"multiclass_log_loss": float(np.mean(
        -np.log(np.clip(p[np.arange(a.size), a], LOG_LOSS_EPS, 1.0))))}
    f1s = []
    for k, name in enumerate(classes):
        tp = float(np.sum((decided == k) & (a == k)))
        support, predicted = float(np.sum(a == k)), float(np.sum(decided == k))
        f1s.append(2 * tp / (support + predicted) if support + predicted else 0.0)
        out[f"recall_{name}"] = tp / support if support else float("nan")
        out[f"share_{name}"] = predicted / a.size
    out["macro_f1"] = float(np.mean(f1s))
    out["accuracy"] = float(np.mean(decided == a))
    out["ece"] = expected_calibration_error(a, p, bins=bins)
    return out


def expected_calibration_error(actual: np.ndarray, probabilities: np.ndarray, *,
                               bins: int) -> float:
    """Top-label ECE over ``bins`` equal-width confidence bins."""
    a, p = check_matrix("expected_calibration_error", actual, probabilities)
    confidence, decided = p.max(axis=1), p.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        member = which == b
        if member.any():
            total += member.mean() * abs(np.mean(decided[member] == a[member])
                                         - np.mean(confidence[member]))
    return float(total)


def prior_baseline(train_actual: np.ndarray, rows: int, classes: int) -> np.ndarray:
    """The training class frequencies for every row (add-one smoothed: no class gets 0)."""
    counts = np.bincount(np.asarray(train_actual, dtype=int), minlength=classes) + 1.0
    return np.tile(counts / counts.sum(), (rows, 1))


def majority_baseline(train_actual: np.ndarray, rows: int, classes: int) -> np.ndarray:
    """The training majority class with probability 1 for every row (a hard classifier:
    its log-loss is that of a confident wrong answer on every other class)."""
    majority = int(np.bincount(np.asarray(train_actual, dtype=int), minlength=classes).argmax())
    out = np.zeros((rows, classes))
    out[:, majority] = 1.0
    return out
