"""Metrics for predicted probabilities of a 0/1 outcome (a purchase, a click, a churn).

A binary task is judged on its probabilities, not on thresholded labels: at a 15 % base
rate "always no" is 85 % accurate and useless. Ranking (ROC-AUC, PR-AUC), per-row loss
(log-loss, Brier) and calibration (expected calibration error, the reliability table) are
reported side by side, against the constant training base rate as the naive baseline.
The reliability table and its ECE are :func:`pipelines.evaluate.classification.
reliability_table` (the popularity-class model's), so both models' calibration is measured
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pipelines.evaluate import classification
from pipelines.evaluate.plots import calibration as calibration_plot

#: Probabilities are clipped to [EPSILON, 1 - EPSILON] for the log-loss only: one confident
#: miss would otherwise make it infinite (and JSON cannot hold infinity).
EPSILON = 1e-15


def binary_metrics(actual: Any, probability: Any, *, n_bins: int = 10) -> dict[str, float]:
    """Compare predicted probabilities with observed 0/1 outcomes.

    Args:
        actual: The observed outcome of each row, 0 or 1 (bools are fine).
        probability: The predicted probability of outcome 1 for each row, in [0, 1].
        n_bins: Equal-width bins of the calibration error (see :func:`reliability_table`).

    Returns:
        ``roc_auc`` (NaN when only one outcome occurs: ranking is undefined), ``pr_auc``
        (average precision; NaN without any 1), ``log_loss`` (mean negative
        log-likelihood, natural log), ``brier`` (mean squared error of the probability),
        ``base_rate`` (observed share of 1s), ``mean_predicted``, ``calibration`` (expected
        calibration error: the count-weighted mean gap between mean prediction and observed
        rate over the bins) and ``n``.

    Raises:
        ValueError: for empty or unequal arrays, outcomes other than 0/1, probabilities
            outside [0, 1] or not finite, or a bad ``n_bins``.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _check("binary_metrics", actual, probability)
    both = 0 < y.sum() < y.size
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    table = classification.reliability_table(p, y, _check_bins("binary_metrics", n_bins))
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if y.sum() > 0 else float("nan"),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))),
        "brier": float(np.mean((p - y) ** 2)),
        "base_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "calibration": table["ece"],
        "n": int(y.size),
    }


def reliability_table(actual: Any, probability: Any, *, n_bins: int = 10) -> dict[str, Any]:
    """Per bin of predicted probability, the mean prediction against the observed rate.

    Argument order follows :func:`binary_metrics` (outcomes first); the table itself is
    :func:`pipelines.evaluate.classification.reliability_table`.

    Returns:
        ``{"ece": ..., "bins": [{"lower", "upper", "count", "mean_predicted",
        "observed_frequency"}]}``, bins ``[0, 1/n_bins), ..., [1 - 1/n_bins, 1]``, empty
        bins left out.

    Raises:
        ValueError: as :func:`binary_metrics`.
    """
    y, p = _check("reliability_table", actual, probability)
    return classification.reliability_table(p, y, _check_bins("reliability_table", n_bins))


def prior_rate_baseline(train_labels: Any, n: int) -> np.ndarray:
    """The naive baseline: the training base rate, predicted for each of ``n`` rows.

    Raises:
        ValueError: if ``train_labels`` is empty or not 0/1, or ``n`` is not an int >= 0.
    """
    labels = np.asarray(train_labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"prior_rate_baseline: 'train_labels' must be a non-empty 1-d array; "
                         f"got shape {labels.shape}.")
    _check_outcomes("prior_rate_baseline", "train_labels", labels)
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ValueError(f"prior_rate_baseline: 'n' must be an int >= 0; got {n!r}.")
    return np.full(int(n), float(labels.astype(float).mean()))


def reliability_plot(actual: Any, probabilities: Mapping[str, Any], title: str, *,
                     n_bins: int = 10) -> Any:
    """Reliability diagram of one or more models' probabilities on the same rows.

    Drawn by :func:`pipelines.evaluate.plots.calibration` (one line per model, the
    identity dashed); the legend names each model and its ECE.

    Args:
        actual: The observed 0/1 outcomes.
        probabilities: Model name → its predicted probabilities for the same rows.
        title: The figure title.

    Returns:
        A matplotlib Figure (no pyplot state; save with
        ``figure.savefig(path, **plots.SAVE_KWARGS)``).

    Raises:
        ValueError: for no models, or as :func:`binary_metrics` for any model's values.
    """
    if not probabilities:
        raise ValueError("reliability_plot: 'probabilities' must name at least one model; "
                         "got none.")
    tables = {name: reliability_table(actual, values, n_bins=n_bins)
              for name, values in probabilities.items()}
    figure = calibration_plot(tables, title)
    axes = figure.axes[0]
    # plots.calibration labels lines "class <label>"; here each line is a model.
    for line, (name, table) in zip(axes.get_lines()[1:], tables.items(), strict=True):
        line.set_label(f"{name} (ECE {table['ece']:.3f})")
    axes.legend()
    axes.set(ylabel="observed rate")
    return figure


def _check(where: str, actual: Any, probability: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual)
    p = np.asarray(probability)
    if y.ndim != 1 or y.shape != p.shape or y.size == 0:
        raise ValueError(f"{where}: 'actual' and 'probability' must be equal, non-empty 1-d "
                         f"arrays; got shapes {y.shape} and {p.shape}.")
    _check_outcomes(where, "actual", y)
    try:
        p = p.astype(float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: 'probability' must be numbers in [0, 1]; got "
                         f"{p[:3].tolist()!r}... ({error}).") from None
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        raise ValueError(f"{where}: 'probability' must be finite numbers in [0, 1]; got "
                         f"{int(bad.sum())} outside, e.g. {p[bad][:3].tolist()}.")
    return y.astype(float), p


def _check_outcomes(where: str, name: str, values: np.ndarray) -> None:
    if values.dtype == bool:
        return
    try:
        numbers = values.astype(float)
    except (TypeError, ValueError):
        numbers = None
    if numbers is None or not np.isin(numbers, (0.0, 1.0)).all():
        seen = sorted({str(v) for v in values.tolist()})[:5]
        raise ValueError(f"{where}: '{name}' must hold only 0 and 1; got values {seen}.")


def _check_bins(where: str, n_bins: Any) -> int:
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"{where}: 'n_bins' must be an int >= 1; got {n_bins!r}.")
    return n_bins
