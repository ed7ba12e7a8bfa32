"""Metrics for the popularity-class model: F1, confusion matrix, Brier score, calibration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Default labels: the popularity classes (below p75, p75 to p95, above p95).
DEFAULT_LABELS: tuple[int, ...] = (0, 1, 2)


def classification_metrics(
    true_classes: np.ndarray | Sequence[int],
    pred_classes: np.ndarray | Sequence[int],
    proba: np.ndarray | None = None,
    *,
    labels: Sequence[int] = DEFAULT_LABELS,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Compare predicted with true classes (and, given, predicted probabilities).

    Args:
        true_classes: The observed class of each row.
        pred_classes: The predicted class of each row.
        proba: Optional ``(rows, len(labels))`` probabilities, columns in ``labels`` order,
            rows summing to 1.
        labels: Every class, in order; fixes the confusion matrix's shape even when a class
            is absent from both arrays.
        n_bins: Equal-width probability bins of the reliability table.

    Returns:
        ``accuracy``; ``macro_f1`` (unweighted mean of the per-class F1, a class with no
        true and no predicted row counting 0, as scikit-learn's ``zero_division=0``);
        ``per_class`` ``{label: {precision, recall, f1, support}}`` (label as a string, for
        JSON); ``confusion_matrix`` (rows = true, columns = predicted, in ``labels`` order);
        ``labels``; ``n``. With ``proba`` also ``brier`` (multi-class Brier score: mean over
        rows of sum_k (p_k - [y = k])^2, 0 best, 2 worst) and ``reliability``:
        ``{label: {"ece": ..., "bins": [{"lower", "upper", "count", "mean_predicted",
        "observed_frequency"}]}}`` for the non-empty bins of P(label), where ``ece`` is the
        count-weighted mean gap |mean_predicted - observed_frequency|.

    Raises:
        ValueError: for empty or unequal arrays, a class outside ``labels``, or
            probabilities of the wrong shape, outside [0, 1] or not summing to 1.
    """
    true = np.asarray(true_classes)
    pred = np.asarray(pred_classes)
    labels = list(labels)
    if true.ndim != 1 or true.shape != pred.shape or true.size == 0:
        raise ValueError(
            f"classification_metrics: 'true_classes' and 'pred_classes' must be equal, "
            f"non-empty 1-d arrays; got shapes {true.shape} and {pred.shape}."
        )
    outside = sorted(set(np.unique(np.concatenate([true, pred])).tolist()) - set(labels))
    if outside:
        raise ValueError(f"classification_metrics: class(es) {outside} are not in 'labels' "
                         f"{labels}.")
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    true_i = np.array([index[c] for c in true.tolist()])
    pred_i = np.array([index[c] for c in pred.tolist()])
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (true_i, pred_i), 1)
    hits = np.diag(confusion).astype(float)
    predicted_n = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(hits, predicted_n, out=np.zeros(k), where=predicted_n > 0)
    recall = np.divide(hits, support, out=np.zeros(k), where=support > 0)
    pr_sum = precision + recall
    f1 = np.divide(2 * precision * recall, pr_sum, out=np.zeros(k), where=pr_sum > 0)
    result: dict[str, Any] = {
        "n": int(true.size),
        "labels": [_plain(label) for label in labels],
        "accuracy": float(hits.sum() / true.size),
        "macro_f1": float(f1.mean()),
        "per_class": {
            str(label): {"precision": float(precision[i]), "recall": float(recall[i]),
                         "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion.tolist(),
    }
    if proba is not None:
        proba = _check_proba(proba, true.size, k)
        onehot = np.eye(k)[true_i]
        result["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
        result["reliability"] = {
            str(label): reliability_table(proba[:, i], onehot[:, i], n_bins)
            for i, label in enumerate(labels)
        }
    return result


def reliability_table(predicted: np.ndarray, observed: np.ndarray, n_bins: int = 10
                      ) -> dict[str, Any]:
    """Calibration of one class: per bin of predicted probability, the mean prediction
    against the observed frequency of the class (empty bins left out).

    Bins are ``[0, 1/n_bins), ..., [1 - 1/n_bins, 1]``.

    Raises:
        ValueError: if ``n_bins`` is not an int >= 1.
    """
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"reliability_table: 'n_bins' must be an int >= 1; got {n_bins!r}.")
    predicted = np.asarray(predicted, dtype=float)
    observed = np.asarray(observed, dtype=float)
    which = np.minimum((predicted * n_bins).astype(int), n_bins - 1)
    bins, gap = [], 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        mean_p, freq = float(predicted[mask].mean()), float(observed[mask].mean())
        gap += mask.sum() * abs(mean_p - freq)
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": int(mask.sum()),
                     "mean_predicted": mean_p, "observed_frequency": freq})
    return {"ece": float(gap / predicted.size), "bins": bins}


def _check_proba(proba: np.ndarray, rows: int, k: int) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (rows, k):
        raise ValueError(f"classification_metrics: 'proba' must have shape ({rows}, {k}) "
                         f"(rows, labels); got {proba.shape}.")
    if (not np.isfinite(proba).all() or (proba < 0).any() or (proba > 1).any()
            or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)):
        raise ValueError("classification_metrics: 'proba' must hold probabilities in [0, 1] "
                         "whose rows sum to 1.")
    return proba


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label
