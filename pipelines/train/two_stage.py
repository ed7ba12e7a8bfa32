"""Two-stage model: a popularity classifier routes each post to a per-class regressor.

The popularity class of a post is 0 up to the 75th percentile of likes, 1 above that up to
the 95th, 2 above the 95th (:func:`popularity_classes`). The thresholds come from the
training targets only, inside :meth:`TwoStageRegressor.fit`, so validation and test data
never move them.

Two ways to combine the stages:

* ``routing="hard"``: the regressor of the most probable class predicts.
* ``routing="soft"``: the class regressors' predictions are blended with the classifier's
  probabilities **on the log1p scale**, then mapped back to counts:
  ``expm1(sum_k P(k|x) * f_k(x))``. Each ``f_k`` estimates E[log1p(likes) | x, class k], so
  by the law of total expectation the blend estimates E[log1p(likes) | x], the same quantity
  every other candidate learns and the one the selection metric (``mae_log``) scores. A
  blend of counts, ``sum_k P(k|x) * expm1(f_k(x))``, estimates a mean count instead; on a
  heavy-tailed target it is dominated by the top class (a 10 % chance of a 10,000-like
  prediction adds 1,000 likes to a 100-like post) and scores worse on the log metrics and on
  the median-type raw metrics (MedAPE).
"""

from __future__ import annotations

import logging
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

#: The popularity classes, in order: below p75, p75 to p95, above p95.
POPULARITY_CLASSES: tuple[int, ...] = (0, 1, 2)
#: Percentiles of training likes that separate the classes.
CLASS_PERCENTILES: tuple[float, float] = (75.0, 95.0)
#: A class with fewer training rows than this gets the global regressor instead of its own
#: specialist: a boosted model fitted on under ~100 rows of one class's narrow target range
#: mostly fits noise, while the global model has seen every row.
MIN_CLASS_ROWS = 100

ROUTINGS = ("hard", "soft")

#: XGBoost classifier defaults (class-weighted through balanced sample weights at fit).
DEFAULT_CLASSIFIER_PARAMS: dict[str, Any] = {
    "n_estimators": 200, "learning_rate": 0.05, "max_depth": 5, "min_child_weight": 5,
    "subsample": 0.8, "colsample_bytree": 0.8, "tree_method": "hist", "n_jobs": 1,
}
#: XGBoost defaults for the per-class (and fallback) regressors on log1p(likes).
DEFAULT_REGRESSOR_PARAMS: dict[str, Any] = {
    "n_estimators": 200, "learning_rate": 0.05, "max_depth": 5, "min_child_weight": 5,
    "subsample": 0.8, "colsample_bytree": 0.8, "tree_method": "hist", "n_jobs": 1,
}


def class_thresholds(train_likes: np.ndarray | pd.Series) -> tuple[float, float]:
    """The 75th and 95th percentiles (linear interpolation) of the training likes.

    Raises:
        ValueError: if ``train_likes`` is empty or holds a missing or infinite value.
    """
    values = np.asarray(train_likes, dtype=float)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(
            f"class_thresholds: 'train_likes' must be non-empty and finite; got "
            f"{values.size} value(s), {int((~np.isfinite(values)).sum())} not finite."
        )
    p75, p95 = np.percentile(values, CLASS_PERCENTILES)
    return float(p75), float(p95)


def popularity_classes(
    likes: np.ndarray | pd.Series, thresholds: tuple[float, float]
) -> np.ndarray:
    """The popularity class of each count: 0 if ``likes <= p75``, 1 if ``p75 < likes <= p95``,
    2 if ``likes > p95``.

    A count equal to a threshold belongs to the class below it, so "class 2" means strictly
    above the 95th percentile; with many tied counts (zero-inflated data) the tie stays in
    the lower class instead of flooding the upper one.

    Raises:
        ValueError: if the thresholds are not two ordered finite numbers.
    """
    if (len(thresholds) != 2 or not np.isfinite(thresholds).all()
            or thresholds[0] > thresholds[1]):
        raise ValueError(
            f"popularity_classes: 'thresholds' must be two finite numbers (p75, p95) with "
            f"p75 <= p95; got {tuple(thresholds)}."
        )
    return np.digitize(np.asarray(likes, dtype=float), thresholds, right=True).astype(int)


class TwoStageRegressor(RegressorMixin, BaseEstimator):
    """Popularity classifier (XGBoost, class-weighted) + one XGBoost regressor per class.

    Learns on log1p(likes) and predicts likes. See the module docstring for the routing
    variants.

    Args:
        routing: ``"hard"`` (argmax class's regressor) or ``"soft"`` (probability-weighted
            blend on the log1p scale).
        classifier_params: XGBClassifier keyword arguments, over
            :data:`DEFAULT_CLASSIFIER_PARAMS`.
        regressor_params: XGBRegressor keyword arguments for every class regressor, over
            :data:`DEFAULT_REGRESSOR_PARAMS`.
        min_class_rows: Classes with fewer training rows use the global regressor.
        seed: ``random_state`` of every stage.

    Attributes:
        thresholds_: ``(p75, p95)`` of the training likes.
        classes_: The popularity classes ``[0, 1, 2]`` (columns of :meth:`predict_proba`).
        class_counts_: Training rows per class.
        classifier_: The fitted XGBClassifier (on the classes present in training).
        regressors_: ``{class: fitted regressor}``; a fallback class maps to the global one.
        present_classes_: Classes with training rows (the classifier's labels, in order).
        fallback_classes_: Classes that use the global regressor.
    """

    def __init__(
        self,
        routing: str = "hard",
        classifier_params: dict[str, Any] | None = None,
        regressor_params: dict[str, Any] | None = None,
        min_class_rows: int = MIN_CLASS_ROWS,
        seed: int = 0,
    ) -> None:
        self.routing = routing
        self.classifier_params = classifier_params
        self.regressor_params = regressor_params
        self.min_class_rows = min_class_rows
        self.seed = seed

    def validate_params(self) -> None:
        """Check the arguments; :func:`make_model` calls it before any data is seen.

        Raises:
            ValueError: for an unknown routing, a bad ``min_class_rows``, or a stage
                parameter that XGBoost does not know.
        """
        from xgboost import XGBClassifier, XGBRegressor

        if self.routing not in ROUTINGS:
            raise ValueError(f"TwoStageRegressor: 'routing' must be one of {list(ROUTINGS)}; "
                             f"got {self.routing!r}.")
        if (not isinstance(self.min_class_rows, Integral) or isinstance(self.min_class_rows, bool)
                or self.min_class_rows < 1):
            raise ValueError(f"TwoStageRegressor: 'min_class_rows' must be an int >= 1; "
                             f"got {self.min_class_rows!r}.")
        for arg, given, cls in (("classifier_params", self.classifier_params, XGBClassifier),
                                ("regressor_params", self.regressor_params, XGBRegressor)):
            if given is None:
                continue
            if not isinstance(given, dict):
                raise ValueError(f"TwoStageRegressor: {arg!r} must be a dict or None; "
                                 f"got {type(given).__name__}.")
            allowed = sorted(cls().get_params())
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                raise ValueError(f"TwoStageRegressor: unknown {cls.__name__} parameter(s) "
                                 f"{unknown} in {arg!r}; allowed: {allowed}.")

    def _stage_params(self, defaults: dict[str, Any], given: dict[str, Any] | None
                      ) -> dict[str, Any]:
        return {**defaults, "random_state": self.seed, **(given or {})}

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> TwoStageRegressor:  # noqa: N803
        """Thresholds from ``y``, then the classifier, then one regressor per class.

        Raises:
            ValueError: for bad arguments, a length mismatch, negative or missing ``y``, or
                training likes that fall into a single popularity class.
        """
        from xgboost import XGBClassifier, XGBRegressor

        self.validate_params()
        y = np.asarray(y, dtype=float)
        if len(X) != len(y) or not np.isfinite(y).all() or (y < 0).any():
            raise ValueError(
                f"TwoStageRegressor.fit: 'y' must be finite counts >= 0, one per row of X; got "
                f"{len(y)} targets for {len(X)} rows, {int((~np.isfinite(y)).sum())} missing, "
                f"{int((y < 0).sum())} negative."
            )
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.thresholds_ = class_thresholds(y)
        classes = popularity_classes(y, self.thresholds_)
        self.classes_ = np.array(POPULARITY_CLASSES)
        self.class_counts_ = {int(k): int((classes == k).sum()) for k in self.classes_}
        present = np.unique(classes)
        if present.size < 2:
            raise ValueError(
                f"TwoStageRegressor.fit: the training likes fall into a single popularity "
                f"class {present.tolist()} (thresholds p75={self.thresholds_[0]}, "
                f"p95={self.thresholds_[1]}); need at least 2."
            )
        self.present_classes_ = present
        # XGBoost wants labels 0..K-1, so a class missing from training is encoded away.
        encoded = np.searchsorted(present, classes)
        self.classifier_ = XGBClassifier(
            **self._stage_params(DEFAULT_CLASSIFIER_PARAMS, self.classifier_params))
        self.classifier_.fit(X, encoded,
                             sample_weight=compute_sample_weight("balanced", encoded))
        log_y = np.log1p(y)
        regressor_params = self._stage_params(DEFAULT_REGRESSOR_PARAMS, self.regressor_params)
        self.fallback_classes_ = [int(k) for k in self.classes_
                                  if self.class_counts_[int(k)] < self.min_class_rows]
        global_regressor = None
        if self.fallback_classes_:
            global_regressor = XGBRegressor(**regressor_params).fit(X, log_y)
        self.regressors_ = {}
        for k in self.classes_:
            k = int(k)
            if k in self.fallback_classes_:
                self.regressors_[k] = global_regressor
                continue
            rows = np.flatnonzero(classes == k)
            self.regressors_[k] = XGBRegressor(**regressor_params).fit(
                _take(X, rows), log_y[rows])
        logger.info("two_stage: thresholds p75=%.1f p95=%.1f, class rows %s, fallback %s",
                    self.thresholds_[0], self.thresholds_[1], self.class_counts_,
                    self.fallback_classes_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """P(class | x), one column per class in :attr:`classes_` (0 for a class absent
        from training)."""
        check_is_fitted(self, "classifier_")
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, self.present_classes_] = self.classifier_.predict_proba(X)
        return proba

    def predict_class(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The most probable popularity class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_log_by_class(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Each class regressor's log1p(likes) prediction, one column per class."""
        check_is_fitted(self, "regressors_")
        return np.column_stack([self.regressors_[int(k)].predict(X) for k in self.classes_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Predicted likes (>= 0), by hard routing or the log-scale soft blend."""
        proba = self.predict_proba(X)
        by_class = self.predict_log_by_class(X)
        if self.routing == "hard":
            log_pred = by_class[np.arange(len(by_class)), np.argmax(proba, axis=1)]
        else:
            log_pred = np.sum(proba * by_class, axis=1)
        return np.expm1(np.clip(log_pred, 0, None))


def _take(X: pd.DataFrame | np.ndarray, rows: np.ndarray) -> pd.DataFrame | np.ndarray:  # noqa: N803
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]
