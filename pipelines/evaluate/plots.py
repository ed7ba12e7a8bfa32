"""Evaluation plots logged with every candidate: predicted vs actual, residuals, feature
importance, and the calibration of the popularity-class model."""

from __future__ import annotations

from typing import Any

import numpy as np

#: How every figure here is saved: no layout engine while drawing (matplotlib's constrained
#: layout made each logged figure 1.7x slower to save), trimmed to its contents once, at save.
SAVE_KWARGS: dict[str, Any] = {"bbox_inches": "tight", "pad_inches": 0.1}


def _figure(width: float = 5.0, height: float = 4.0) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _to_log(actual: np.ndarray, predicted: np.ndarray, log_scale: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    if log_scale:
        return np.asarray(actual, float), np.asarray(predicted, float)
    return np.log1p(np.asarray(actual, float)), np.log1p(np.clip(predicted, 0, None))


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str,
                        log_scale: bool = False) -> Any:
    """log1p(predicted) against log1p(actual), with the identity line (``log_scale``: the
    values are already on a log scale, e.g. follower growth)."""
    figure = _figure()
    axes = figure.subplots()
    a, p = _to_log(actual, predicted, log_scale)
    axes.hexbin(a, p, gridsize=40, mincnt=1, cmap="Blues")
    low, high = float(min(a.min(), p.min())), float(max(a.max(), p.max()))
    axes.plot([low, high], [low, high], color="tab:red", linewidth=1)
    axes.set(xlabel="log1p(actual)", ylabel="log1p(predicted)", title=title)
    return figure


def residuals(actual: np.ndarray, predicted: np.ndarray, title: str,
              log_scale: bool = False) -> Any:
    """Residual on the log1p scale against the prediction, and its histogram."""
    figure = _figure(8.0, 3.5)
    left, right = figure.subplots(1, 2)
    a, p = _to_log(actual, predicted, log_scale)
    r = a - p
    left.scatter(p, r, s=4, alpha=0.4)
    left.axhline(0, color="tab:red", linewidth=1)
    left.set(xlabel="log1p(predicted)", ylabel="log1p(actual) - log1p(predicted)", title=title)
    right.hist(r, bins=50)
    right.set(xlabel="residual (log1p)", ylabel="posts")
    return figure


#: What an importance measures, by its kind (the training facts' ``importance_kind``).
IMPORTANCE_LABELS: dict[str, str] = {
    "gain": "share of total gain",
    "coefficient": "share of |coefficient| (standardized inputs)",
}


def feature_importance(importance: dict[str, float], title: str, top: int = 20,
                       kind: str = "gain") -> Any:
    """The ``top`` most important features as horizontal bars; ``kind`` (a key of
    :data:`IMPORTANCE_LABELS`): tree gain shares or a linear model's coefficient shares."""
    items = sorted(importance.items(), key=lambda kv: kv[1])[-top:]
    figure = _figure(6.0, 0.25 * len(items) + 1.0)
    axes = figure.subplots()
    axes.barh([k for k, _ in items], [v for _, v in items])
    axes.set(xlabel=IMPORTANCE_LABELS[kind], title=title)
    return figure


def calibration(reliability: dict[str, dict[str, Any]], title: str) -> Any:
    """Reliability diagram: mean predicted probability vs observed frequency, per class."""
    figure = _figure()
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--")
    for label, table in reliability.items():
        bins = table["bins"]
        axes.plot([b["mean_predicted"] for b in bins], [b["observed_frequency"] for b in bins],
                  marker="o", label=f"class {label} (ECE {table['ece']:.3f})")
    axes.set(xlabel="mean predicted probability", ylabel="observed frequency", title=title,
             xlim=(0, 1), ylim=(0, 1))
    axes.legend()
    return figure
