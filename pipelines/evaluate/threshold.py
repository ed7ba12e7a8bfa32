"""A decision threshold for a binary model's probabilities, chosen on validation rows only,
and the precision and recall it gives.

Seed-style targets ("precision > 0.80, recall > 0.75") are about decisions, not
probabilities: somebody acts on the accounts above a threshold. The threshold is chosen on
the validation part (the test part never decides): the one that maximizes F1 there, the
usual choice when neither kind of error is priced. Test precision and recall are then
read at that threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def choose_threshold(actual: Any, probability: Any) -> float:
    """The probability threshold that maximizes F1 on (``actual``, ``probability``): a row
    is flagged when its probability is >= the threshold.

    Raises:
        ValueError: for empty or unequal arrays, or no positive outcome (F1 undefined).
    """
    y, p = _arrays("choose_threshold", actual, probability)
    if y.sum() == 0:
        raise ValueError("choose_threshold: 'actual' has no positive outcome, so F1 and the "
                         "threshold are undefined.")
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    true_pos = np.cumsum(y_sorted)
    flagged = np.arange(1, y.size + 1)
    # Only the last row of a run of equal probabilities is a reachable cut.
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    f1 = 2 * true_pos / (flagged + y.sum())
    best = np.flatnonzero(last)[np.argmax(f1[last])]
    return float(p_sorted[best])


def precision_recall_at(actual: Any, probability: Any, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 and the flagged share when rows with probability >=
    ``threshold`` are flagged (precision is NaN when nothing is flagged).

    Raises:
        ValueError: for empty or unequal arrays or a threshold outside [0, 1].
    """
    y, p = _arrays("precision_recall_at", actual, probability)
    if not 0 <= threshold <= 1:
        raise ValueError(f"precision_recall_at: 'threshold' must be in [0, 1]; got "
                         f"{threshold!r}.")
    flagged = p >= threshold
    true_pos = float(np.sum(flagged & (y == 1)))
    precision = true_pos / flagged.sum() if flagged.any() else float("nan")
    recall = true_pos / y.sum() if y.sum() else float("nan")
    f1 = (2 * precision * recall / (precision + recall)
          if flagged.any() and y.sum() and precision + recall > 0 else float("nan"))
    return {"threshold": float(threshold), "precision": float(precision),
            "recall": float(recall), "f1": float(f1), "flagged_share": float(flagged.mean())}


def _arrays(where: str, actual: Any, probability: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(probability, dtype=float).ravel()
    if y.size == 0 or y.size != p.size:
        raise ValueError(f"{where}: 'actual' and 'probability' must be non-empty and of equal "
                         f"length; got {y.size} and {p.size}.")
    return y, p
