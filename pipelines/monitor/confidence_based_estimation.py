"""Confidence-based performance estimation (CBPE): a binary classifier's ROC-AUC, log-loss
and Brier score on rows whose outcomes have not arrived yet.

If the model's scores are calibrated, a row scored ``p`` is a purchase with probability
``p``, so every metric has an expected value computable from the scores alone: the expected
log-loss of a score ``q`` whose calibrated probability is ``p`` is
``-(p log q + (1 - p) log(1 - q))``, its expected Brier term ``p (1 - q)^2 + (1 - p) q^2``,
and the expected ROC curve comes from expected true and false positives at every threshold
(cumulative sums of ``p`` and ``1 - p`` down the ranking). Scores are rarely calibrated as
they are, so a monotone map ``q → p`` is learned on rows with known outcomes the model did
not train on (the registered candidate's held-out test rows): isotonic regression (or a
Platt sigmoid on the score's logit).

Assumptions, and what breaks when they fail:
  1. **No concept shift**: ``P(y | x)`` is what it was on the held-out rows. Covariate shift
     (the inputs move, the relation stays) is what CBPE is for: the calibrated map still
     holds, the mix of scores changes, the estimate follows. A concept shift (same inputs,
     other outcomes) leaves the scores and hence the estimate unchanged while the realized
     metric moves: the estimate is then wrong, and only realized labels can show it.
  2. **Calibration transfers**: the map learned on the held-out rows holds where the new
     scores fall (it is only learned where held-out scores were).
  3. Chunks large enough that the sampling error is small against the effect sought.

The band is ± ``sigmas`` standard errors of the realized metric around its expectation,
for the chunk's own rows: given the calibrated probabilities, each row's loss is a
two-valued variable, so the log-loss and Brier variances are sums of ``p (1 - p) ×
(loss if 1 - loss if 0)^2`` over the rows, divided by ``rows^2``; ROC-AUC's is Hanley and
McNeil's (1982) with the expected counts of positives and negatives. Computed per chunk,
the band widens where a shift makes outcomes less certain or a class rarer; a band measured
once on the held-out rows and scaled by ``1/sqrt(rows)`` (NannyML's "sampling error") was
too narrow for shifted chunks in this module's tests (a chunk with twice the positives).
The realized value of a chunk falls inside the band when the assumptions hold.

References:
  * NannyML, "Estimating Performance for Binary Classification" and "How it Works:
    Confidence-based Performance Estimation (CBPE)", https://nannyml.readthedocs.io
    (``nannyml.performance_estimation.confidence_based``). NannyML itself is not used: it
    pins ``lightgbm < 4.6`` (this stack runs lightgbm 4.7) and ``python-dateutil < 3``, and
    sends usage telemetry by default, so the method is implemented here.
  * J. Platt (1999), "Probabilistic outputs for support vector machines and comparisons to
    regularized likelihood methods"; B. Zadrozny and C. Elkan (2002), "Transforming
    classifier scores into accurate multiclass probability estimates" (isotonic
    calibration), KDD.
  * T. Fawcett (2006), "An introduction to ROC analysis", Pattern Recognition Letters 27
    (ROC curves from ranked scores).
  * J. A. Hanley and B. J. McNeil (1982), "The meaning and use of the area under a
    receiver operating characteristic (ROC) curve", Radiology 143 (ROC-AUC's variance).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.evaluate.binary_metrics import EPSILON
from pipelines.monitor.drift import PREDICTION, TARGET

Calibrator = Literal["isotonic", "platt"]
METRICS = ("roc_auc", "log_loss", "brier")
#: The metrics CBPE estimates, and for each whether higher is better.
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "brier": False}


def _logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, EPSILON, 1 - EPSILON)
    return np.log(q) - np.log1p(-q)


def expected_roc_auc(scores: np.ndarray, calibrated: np.ndarray) -> float:
    """The ROC-AUC expected of rows scored ``scores`` whose purchase probabilities are
    ``calibrated``: expected true/false positives at every distinct score threshold
    (cumulative sums of ``calibrated`` and ``1 - calibrated`` from the top score down),
    the curve through them, its area (trapezoids; tied scores form one step). NaN when
    the expected positives or negatives are zero."""
    order = np.argsort(-scores, kind="stable")
    q, p = scores[order], calibrated[order]
    tp, fp = np.cumsum(p), np.cumsum(1 - p)
    # one point per distinct threshold: the last row of each run of tied scores
    last = np.r_[np.flatnonzero(np.diff(q) != 0), len(q) - 1]
    tp, fp = np.r_[0.0, tp[last]], np.r_[0.0, fp[last]]
    if tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    return float(np.trapezoid(tp / tp[-1], fp / fp[-1]))


def _hanley_mcneil(auc: float, positives: float, negatives: float) -> float:
    """Standard error of a ROC-AUC of ``auc`` on ``positives`` and ``negatives`` rows
    (Hanley and McNeil 1982; inf without both classes)."""
    if np.isnan(auc) or positives < 1 or negatives < 1:
        return float("inf")
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc ** 2)
                + (negatives - 1) * (q2 - auc ** 2)) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def realized_metrics(actual: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC, log-loss and Brier of ``scores`` against 0/1 ``actual`` (as
    :func:`pipelines.evaluate.binary_metrics.binary_metrics` computes them; ROC-AUC NaN
    with one class only)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(actual, dtype=float)
    q = np.asarray(scores, dtype=float)
    clipped = np.clip(q, EPSILON, 1 - EPSILON)
    both = 0 < y.sum() < len(y)
    return {"roc_auc": float(roc_auc_score(y, q)) if both else float("nan"),
            "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))),
            "brier": float(np.mean((q - y) ** 2))}


class ConfidenceBasedEstimator:
    """CBPE for a binary classifier (scikit-learn contract: ``fit`` returns self, learned
    state ends in ``_``).

    Args:
        calibrator: ``isotonic`` (monotone, non-parametric) or ``platt`` (a sigmoid of the
            score's logit: fewer rows needed, assumes the miscalibration is that shape).
        sigmas: Half-width of the band in standard errors of the realized metric.
        seed: Recorded with the estimator (the calibration itself is deterministic).
    """

    method = "CBPE"
    metrics = METRICS

    def __init__(self, *, calibrator: Calibrator, sigmas: float, seed: int) -> None:
        self.calibrator = calibrator
        self.sigmas = sigmas
        self.seed = seed

    def fit(self, frame: pd.DataFrame) -> ConfidenceBasedEstimator:
        """Learn the calibration map from held-out rows.

        Args:
            frame: Rows the model did not train on, as drift judges them
                (:meth:`pipelines.tasks.base.Task.drift_frame`): the model's probability
                (``prediction``) and the 0/1 outcome (``target``) are used.

        Raises:
            ValueError: for a bad setting, arrays of different lengths, outcomes other than
                0/1, or fewer than 20 rows of each class.
        """
        if self.calibrator not in ("isotonic", "platt"):
            raise ValueError(f"ConfidenceBasedEstimator: 'calibrator' must be 'isotonic' or "
                             f"'platt'; got {self.calibrator!r}.")
        if not self.sigmas > 0:
            raise ValueError(f"ConfidenceBasedEstimator: 'sigmas' must be > 0; got "
                             f"{self.sigmas!r}.")
        q = frame[PREDICTION].to_numpy(dtype=float)
        y = frame[TARGET].to_numpy(dtype=float)
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"ConfidenceBasedEstimator.fit: outcomes must be 0 or 1; got "
                             f"{sorted(set(y[~np.isin(y, (0.0, 1.0))].tolist()))[:5]}.")
        positives = int(y.sum())
        if min(positives, len(y) - positives) < 20:
            raise ValueError(f"ConfidenceBasedEstimator.fit: needs >= 20 rows of each class "
                             f"to calibrate; got {positives} positives of {len(y)}.")
        if self.calibrator == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(q, y)
            self.map_ = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        else:
            from sklearn.linear_model import LogisticRegression

            platt = LogisticRegression(C=1e6).fit(_logit(q)[:, None], y)
            self.map_ = {"a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}
        self.score_range_ = (float(q.min()), float(q.max()))
        return self

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """The calibrated purchase probability of each score."""
        q = np.asarray(scores, dtype=float)
        if self.calibrator == "isotonic":
            return np.interp(q, self.map_["x"], self.map_["y"])
        return 1 / (1 + np.exp(-(self.map_["a"] * _logit(q) + self.map_["b"])))

    def estimate(self, frame: pd.DataFrame) -> dict[str, float]:
        """Expected ROC-AUC, log-loss and Brier of ``frame``'s rows (its ``prediction``)."""
        q = frame[PREDICTION].to_numpy(dtype=float)
        p = self.calibrated(q)
        clipped = np.clip(q, EPSILON, 1 - EPSILON)
        return {"roc_auc": expected_roc_auc(q, p),
                "log_loss": float(-np.mean(p * np.log(clipped) + (1 - p) * np.log1p(-clipped))),
                "brier": float(np.mean(p * (1 - q) ** 2 + (1 - p) * q ** 2))}

    def realized(self, frame: pd.DataFrame) -> dict[str, float]:
        """The same metrics measured against ``frame``'s known outcomes (``target``)."""
        return realized_metrics(frame[TARGET].to_numpy(dtype=float),
                                frame[PREDICTION].to_numpy(dtype=float))

    def bands(self, frame: pd.DataFrame) -> dict[str, float]:
        """Half-width of each metric's band for ``frame``'s rows: ``sigmas`` standard
        errors of the realized metric around its expectation (module docstring)."""
        q = frame[PREDICTION].to_numpy(dtype=float)
        n = len(q)
        if n == 0:
            return {m: float("inf") for m in METRICS}
        p = self.calibrated(q)
        clipped = np.clip(q, EPSILON, 1 - EPSILON)
        bernoulli = p * (1 - p)
        log_gap = np.log1p(-clipped) - np.log(clipped)   # loss if 1 minus loss if 0
        se = {"log_loss": float(np.sqrt(np.sum(bernoulli * log_gap ** 2)) / n),
              "brier": float(np.sqrt(np.sum(bernoulli * (1 - 2 * q) ** 2)) / n),
              "roc_auc": _hanley_mcneil(expected_roc_auc(q, p), float(p.sum()),
                                        float((1 - p).sum()))}
        return {m: self.sigmas * v for m, v in se.items()}

    def out_of_range(self, frame: pd.DataFrame) -> float:
        """Share of ``frame``'s scores outside the held-out scores' range (where the
        calibration map was not learned: assumption 2)."""
        q = frame[PREDICTION].to_numpy(dtype=float)
        low, high = self.score_range_
        return float(np.mean((q < low) | (q > high))) if len(q) else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the model's reference."""
        return {"method": self.method, "calibrator": self.calibrator, "sigmas": self.sigmas,
                "seed": self.seed, "map": self.map_, "score_range": list(self.score_range_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceBasedEstimator:
        """The inverse of :meth:`to_dict`."""
        out = cls(calibrator=data["calibrator"], sigmas=float(data["sigmas"]),
                  seed=int(data["seed"]))
        out.map_ = data["map"]
        out.score_range_ = tuple(data["score_range"])
        return out
