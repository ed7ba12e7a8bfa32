"""The promotion gate's metric catalog: what each gate metric accepts, needs and computes.

Every metric that :mod:`pipelines.evaluate.promotion_gate` can judge is one declarative
:class:`GateMetric` in :data:`CATALOG`:

- ``higher_is_better``: Spearman and ROC AUC; every other metric is a loss;
- ``inputs``: the :class:`InputKind` it accepts (counts, real values, binary
  probabilities, class-probability matrices), checked once per array by
  :func:`check_inputs`;
- ``columns``: the per-row quantities (:data:`COLUMNS`) it needs from ``(actual,
  predicted)``;
- ``value``: the metric as a function of the *weighted means* of those columns (column sums
  divided by the sum of weights). A column may be a block of one value per class
  (multiclass: true positives, predicted and actual counts per class); its weighted
  means are then a vector per resample, and macro-F1 is a function of those vectors.

That shape is what makes the paired bootstrap fast: one chunk of bootstrap weights (how
often each row was drawn, one row of weights per resample) times the table of per-row
columns is ONE matrix product, and every metric of every model in every scope (the whole
holdout or a slice) is a cheap function of its result (:class:`QuantityTable`). A new task's
metric is one entry here; the gate itself has no per-metric branch.

Rank metrics (``spearman``, ``roc_auc``) rank the FULL holdout once (average ranks for
ties) and keep those ranks under every bootstrap weight vector and inside every slice,
instead of re-ranking each resample: exact with unit weights, an approximation under
bootstrap weights (a row drawn twice keeps one rank instead of two tied ones), and cheap.
Spearman is then the weighted Pearson correlation of the two rank columns; ROC AUC is
``(weighted mean rank of positives - weighted mean rank of negatives) / n + 0.5``, which
with unit weights is the Mann-Whitney statistic ``U / (n_pos * n_neg)``, i.e. exactly
scikit-learn's ``roc_auc_score``, ties included. Ranks are stored centred and divided by
``n`` (both metrics are invariant to that), so a constant model's rank column is exactly
zero: its Spearman is NaN (undefined), not rounding noise, and its ROC AUC exactly 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.stats import rankdata

#: Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before the log loss, so a
#: confident miss costs a large but finite loss.
LOG_LOSS_EPS = 1e-15


@dataclass(frozen=True)
class InputKind:
    """The values a metric accepts; ``*_ok`` return a boolean mask of acceptable rows."""

    name: str
    actual_rule: str
    predicted_rule: str
    actual_ok: Callable[[np.ndarray], np.ndarray]
    predicted_ok: Callable[[np.ndarray], np.ndarray]
    #: Predictions are a (rows, classes) matrix, not one value per row.
    matrix: bool = False


COUNTS = InputKind(
    "counts", "finite counts >= 0 (not log scale)",
    "finite counts (not log scale; a negative prediction counts as 0)",
    lambda a: np.isfinite(a) & (a >= 0), np.isfinite)
VALUES = InputKind("values", "finite real values", "finite real values", np.isfinite,
                   np.isfinite)
PROBABILITIES = InputKind(
    "binary probabilities", "binary outcomes (0 or 1)", "finite probabilities in [0, 1]",
    lambda a: (a == 0) | (a == 1), lambda p: np.isfinite(p) & (p >= 0) & (p <= 1))


def _class_rows_ok(p: np.ndarray) -> np.ndarray:
    """Rows of a class-probability matrix that are finite, in [0, 1] and sum to 1."""
    if p.ndim != 2:
        return np.zeros(p.shape[:1], dtype=bool)
    with np.errstate(invalid="ignore"):
        inside = (np.isfinite(p) & (p >= 0) & (p <= 1)).all(axis=1)
        return inside & (np.abs(p.sum(axis=1) - 1) <= 1e-6)


CLASS_PROBABILITIES = InputKind(
    "class probabilities", "class indices (whole numbers 0 .. classes - 1)",
    "one row of class probabilities per row (each in [0, 1], summing to 1)",
    lambda a: np.isfinite(a) & (a >= 0) & (a == np.round(a)), _class_rows_ok, matrix=True)


class Rows:
    """The holdout as one model's columns see it; derived arrays are computed once."""

    def __init__(self, actual: np.ndarray, predicted: np.ndarray | None) -> None:
        self.actual = actual
        self.predicted = predicted

    @staticmethod
    def _rank(values: np.ndarray) -> np.ndarray:
        # centred (ranks average (n + 1) / 2) and divided by n: see the module docstring
        return (rankdata(values) - (values.size + 1) / 2) / values.size

    @cached_property
    def actual_rank(self) -> np.ndarray:
        return self._rank(self.actual)

    @cached_property
    def predicted_rank(self) -> np.ndarray:
        return self._rank(self.predicted)

    @cached_property
    def predicted_count(self) -> np.ndarray:
        # as regression_metrics does: a negative predicted count means zero
        return np.clip(self.predicted, 0, None)

    @cached_property
    def log_error(self) -> np.ndarray:
        return np.log1p(self.predicted_count) - np.log1p(self.actual)

    @cached_property
    def error(self) -> np.ndarray:
        return self.predicted - self.actual

    @cached_property
    def actual_onehot(self) -> np.ndarray:
        # one column per class of the prediction matrix
        return np.eye(self.predicted.shape[1])[self.actual.astype(int)]

    @cached_property
    def predicted_onehot(self) -> np.ndarray:
        return np.eye(self.predicted.shape[1])[np.argmax(self.predicted, axis=1)]


def _log_loss(rows: Rows) -> np.ndarray:
    p = np.clip(rows.predicted, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return -(rows.actual * np.log(p) + (1 - rows.actual) * np.log(1 - p))


def _class_log_loss(rows: Rows) -> np.ndarray:
    p = rows.predicted[np.arange(rows.actual.size), rows.actual.astype(int)]
    return -np.log(np.clip(p, LOG_LOSS_EPS, 1.0))


@dataclass(frozen=True)
class Column:
    """A per-row quantity (or a block of one per class: a (rows, classes) array);
    ``per_model`` False means it depends on ``actual`` alone."""

    name: str
    per_model: bool
    values: Callable[[Rows], np.ndarray]


#: Every per-row quantity a gate metric may need, by name. ``one`` (the row's weight) is in
#: every scope: weighted means divide by its sum.
COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("one", False, lambda r: np.ones_like(r.actual)),
    Column("abs_log_error", True, lambda r: np.abs(r.log_error)),
    Column("sq_log_error", True, lambda r: r.log_error**2),
    Column("abs_count_error", True, lambda r: np.abs(r.predicted_count - r.actual)),
    Column("abs_error", True, lambda r: np.abs(r.error)),
    Column("sq_error", True, lambda r: r.error**2),
    Column("log_loss", True, _log_loss),
    Column("rank_actual", False, lambda r: r.actual_rank),
    Column("rank_actual_sq", False, lambda r: r.actual_rank**2),
    Column("rank", True, lambda r: r.predicted_rank),
    Column("rank_sq", True, lambda r: r.predicted_rank**2),
    Column("rank_cross", True, lambda r: r.predicted_rank * r.actual_rank),
    Column("positive", False, lambda r: r.actual),
    Column("positive_rank", True, lambda r: r.actual * r.predicted_rank),
    # multiclass (class-probability matrices); per model: the class count is the matrix's
    Column("class_log_loss", True, _class_log_loss),
    Column("class_hit", True, lambda r: (r.actual_onehot * r.predicted_onehot).sum(axis=1)),
    Column("class_true_positive", True, lambda r: r.actual_onehot * r.predicted_onehot),
    Column("class_predicted", True, lambda r: r.predicted_onehot),
    Column("class_actual", True, lambda r: r.actual_onehot),
)}

Means = Mapping[str, np.ndarray]


def _spearman(m: Means) -> np.ndarray:
    covariance = m["rank_cross"] - m["rank_actual"] * m["rank"]
    return covariance / np.sqrt((m["rank_actual_sq"] - m["rank_actual"] ** 2)
                                * (m["rank_sq"] - m["rank"] ** 2))


def _roc_auc(m: Means) -> np.ndarray:
    positives = m["positive_rank"] / m["positive"]
    negatives = (m["rank"] - m["positive_rank"]) / (1 - m["positive"])
    return positives - negatives + 0.5


def _macro_f1(m: Means) -> np.ndarray:
    """Mean over classes of 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + actual); a class
    neither predicted nor present counts as F1 0 (as scikit-learn's zero_division=0)."""
    tp, total = m["class_true_positive"], m["class_predicted"] + m["class_actual"]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(total > 0, 2 * tp / np.where(total > 0, total, 1), 0.0)
    return f1.mean(axis=-1)


@dataclass(frozen=True)
class GateMetric:
    """One gate metric: ``value`` maps the weighted means of ``columns`` to the metric."""

    name: str
    higher_is_better: bool
    inputs: InputKind
    columns: tuple[str, ...]
    value: Callable[[Means], np.ndarray]
    description: str


_RANKS = ("rank_actual", "rank_actual_sq", "rank", "rank_sq", "rank_cross")

#: The catalog, by name (the order of :data:`GATE_METRICS`).
CATALOG: dict[str, GateMetric] = {m.name: m for m in (
    # counts (likes, comments, shares): errors of log1p
    GateMetric("mae_log", False, COUNTS, ("abs_log_error",),
               lambda m: m["abs_log_error"], "MAE of log1p counts"),
    GateMetric("rmse_log", False, COUNTS, ("sq_log_error",),
               lambda m: np.sqrt(m["sq_log_error"]), "RMSE of log1p counts"),
    GateMetric("mae_raw", False, COUNTS, ("abs_count_error",),
               lambda m: m["abs_count_error"], "MAE of raw counts"),
    # any real values (counts, or values already on a log / difference scale)
    GateMetric("spearman", True, VALUES, _RANKS, _spearman,
               "Spearman rank correlation (full-holdout ranks)"),
    GateMetric("mae", False, VALUES, ("abs_error",), lambda m: m["abs_error"],
               "MAE of the values as given"),
    GateMetric("rmse", False, VALUES, ("sq_error",), lambda m: np.sqrt(m["sq_error"]),
               "RMSE of the values as given"),
    # binary outcomes with predicted probabilities
    GateMetric("log_loss", False, PROBABILITIES, ("log_loss",), lambda m: m["log_loss"],
               f"log loss (probabilities clipped to [{LOG_LOSS_EPS:g}, 1 - {LOG_LOSS_EPS:g}])"),
    GateMetric("brier", False, PROBABILITIES, ("sq_error",), lambda m: m["sq_error"],
               "Brier score"),
    GateMetric("roc_auc", True, PROBABILITIES, ("positive", "rank", "positive_rank"),
               _roc_auc, "ROC AUC (full-holdout ranks)"),
    # multiclass: class indices with a (rows, classes) probability matrix
    GateMetric("multiclass_log_loss", False, CLASS_PROBABILITIES, ("class_log_loss",),
               lambda m: m["class_log_loss"],
               f"multiclass log loss (the true class's probability clipped at {LOG_LOSS_EPS:g})"),
    GateMetric("macro_f1", True, CLASS_PROBABILITIES,
               ("class_true_positive", "class_predicted", "class_actual"), _macro_f1,
               "macro-averaged F1 of the most probable class"),
    GateMetric("accuracy", True, CLASS_PROBABILITIES, ("class_hit",),
               lambda m: m["class_hit"], "accuracy of the most probable class"),
)}

#: Every metric the gate can compute.
GATE_METRICS: tuple[str, ...] = tuple(CATALOG)
#: The losses (a per-row loss exists, lower is better): the metrics that may be primary.
PRIMARY_METRICS: tuple[str, ...] = tuple(n for n, m in CATALOG.items()
                                         if not m.higher_is_better)


def check_inputs(where: str, metrics: Iterable[str], actual: Any,
                 predictions: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Float arrays of ``actual`` and each prediction, checked for every metric's inputs.

    Args:
        where: The caller's name, for the messages.
        metrics: Names from :data:`GATE_METRICS`; each one's :class:`InputKind` applies.
        actual: The realized values.
        predictions: Array name (``challenger``, ``champion``, ...) -> predictions; None
            values are left out.

    Returns:
        ``{"actual": ..., name: ...}`` as float arrays, unchanged (each metric's columns
        read them as its kind says, e.g. negative predicted counts as 0).

    Raises:
        ValueError: once, listing every problem: an unknown metric, an array of the wrong
            shape, or values a metric's kind does not accept.
    """
    names = list(dict.fromkeys(metrics))
    unknown = [m for m in names if m not in CATALOG]
    if unknown:
        raise ValueError(f"{where}: metrics must be drawn from {list(GATE_METRICS)}; "
                         f"got {unknown}.")
    arrays = {"actual": np.asarray(actual, dtype=float)}
    arrays.update({k: np.asarray(v, dtype=float) for k, v in predictions.items()
                   if v is not None})
    shape = arrays["actual"].shape
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"{where}: 'actual' must be a 1-d array of at least 2 rows; "
                         f"got shape {shape}.")
    kinds: dict[InputKind, list[str]] = {}
    for name in names:
        kinds.setdefault(CATALOG[name].inputs, []).append(name)
    matrix = {kind.matrix for kind in kinds}
    if len(matrix) > 1:
        raise ValueError(f"{where}: metrics {names} mix one-value-per-row and "
                         f"class-probability-matrix predictions; judge them separately.")
    if matrix == {True}:
        problems = [f"'{k}' must be a (rows, classes) matrix with {shape[0]} rows and at "
                    f"least 2 classes; got shape {v.shape}"
                    for k, v in arrays.items()
                    if k != "actual" and (v.ndim != 2 or v.shape[0] != shape[0]
                                          or v.shape[1] < 2)]
        widths = {v.shape[1] for k, v in arrays.items() if k != "actual" and v.ndim == 2}
        if not problems and len(widths) > 1:
            problems.append(f"every prediction matrix must have the same classes; got "
                            f"widths {sorted(widths)}")
        if not problems and widths and np.nanmax(arrays["actual"]) >= max(widths):
            problems.append(f"'actual' must hold class indices below {max(widths)} (the "
                            f"matrices' classes); got {float(np.nanmax(arrays['actual']))!r}")
    else:
        problems = [f"'{k}' must have one value per row ({shape[0]}); got shape {v.shape}"
                    for k, v in arrays.items() if v.shape != shape]
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")
    for kind, users in kinds.items():
        for key, values in arrays.items():
            ok = kind.actual_ok(values) if key == "actual" else kind.predicted_ok(values)
            if not ok.all():
                rule = kind.actual_rule if key == "actual" else kind.predicted_rule
                problems.append(
                    f"'{key}' must hold {rule} for {', '.join(users)}; got {int((~ok).sum())}"
                    f" bad value(s), e.g. {_first(values[~ok])!r}")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")
    return arrays


def _first(values: np.ndarray) -> float | list[float]:
    """The first bad value (a row of a matrix) for a message."""
    first = values[0]
    return [float(v) for v in first] if np.ndim(first) else float(first)


class QuantityTable:
    """The per-row columns that some metrics of some models need, as one table.

    A scope is the whole holdout (``""``) or a slice (a boolean row mask); a slice's columns
    are the holdout's columns times its mask, so the ranks stay full-holdout ranks. With
    ``sums`` = weights @ :meth:`table` (shape ``(..., columns)``), :meth:`metric` gives any
    requested metric of any model in any scope.
    """

    def __init__(self, actual: np.ndarray, models: Mapping[str, np.ndarray],
                 slices: Mapping[str, np.ndarray],
                 needs: Iterable[tuple[str, str, str]]) -> None:
        """Build the columns for ``needs``: ``(scope, model, metric)`` triples."""
        self.index: dict[tuple[str, str, str], int | slice] = {}
        columns: list[np.ndarray] = []
        width = 0
        rows = {model: Rows(actual, predicted) for model, predicted in models.items()}
        shared = Rows(actual, None)
        full: dict[tuple[str, str], np.ndarray] = {}
        for scope, model, metric in needs:
            for name in ("one", *CATALOG[metric].columns):
                column = COLUMNS[name]
                owner = model if column.per_model else ""
                key = (scope, owner, name)
                if key in self.index:
                    continue
                if (owner, name) not in full:
                    full[(owner, name)] = np.asarray(
                        column.values(rows[model] if column.per_model else shared),
                        dtype=float)
                values = full[(owner, name)]
                if values.ndim == 2:   # a block of one column per class
                    self.index[key] = slice(width, width + values.shape[1])
                    width += values.shape[1]
                    mask = slices[scope][:, None] if scope else None
                else:
                    self.index[key] = width
                    width += 1
                    mask = slices[scope] if scope else None
                columns.append(values if mask is None else values * mask)
        self._table = np.column_stack(columns)

    def table(self) -> np.ndarray:
        """The ``(rows, columns)`` table."""
        return self._table

    def metric(self, sums: np.ndarray, metric: str, model: str, scope: str) -> np.ndarray:
        """``metric`` of ``model`` in ``scope`` from column sums (shape ``(..., columns)``);
        NaN where undefined (no weight, a constant ranking, a single class)."""
        weight = sums[..., self.index[(scope, "", "one")]]
        spec = CATALOG[metric]
        means = {}
        for name in spec.columns:
            owner = model if COLUMNS[name].per_model else ""
            means[name] = sums[..., self.index[(scope, owner, name)]]
        with np.errstate(invalid="ignore", divide="ignore"):
            return spec.value({k: v / (weight[..., None] if v.ndim > weight.ndim else weight)
                               for k, v in means.items()})
