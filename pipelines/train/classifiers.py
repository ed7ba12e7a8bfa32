"""The binary candidate families by name (``train.models`` of a binary task), and their
importances.

Every classifier is wrapped in :class:`ProbabilityClassifier`, whose ``predict`` returns
P(class 1) as a float: the registered model's ``predict`` (MLflow's sklearn flavor, the
serving fast path, ``Task.predict``) then gives probabilities everywhere, as a count model
gives counts, while ``predict_proba`` still gives both columns. Defaults are deterministic
for a given seed and fit ~10k rows in seconds on a 2-core machine: gradient-boosted trees
use one thread (LightGBM ``deterministic=True``, ``force_row_wise=True``; XGBoost
``tree_method="hist"``), the random forest one job (its parallel ``predict_proba`` adds the
trees up in any order, which moves probabilities in the last bits) and capped trees; native
thread pools (OpenMP, BLAS) are limited by ``threads`` (default 1), as in
:mod:`pipelines.train.model_zoo`. Classes are not reweighted: the loss that picks the best
candidate is the log-loss, and reweighting would trade calibration for nothing.
Hyperparameters from params.yaml override the defaults key by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

CLASSIFIER_NAMES: tuple[str, ...] = ("logistic_regression", "lightgbm", "xgboost",
                                     "random_forest")
#: Families with tree importances (:func:`feature_importance`).
TREE_CLASSIFIERS: tuple[str, ...] = ("lightgbm", "xgboost", "random_forest")


class ProbabilityClassifier(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """A binary classifier whose ``predict`` is the probability of class 1.

    It is a regressor in scikit-learn's sense on purpose: its prediction is a number in
    [0, 1], not a label, so ``score`` is R² of the probabilities against the 0/1 outcomes,
    i.e. the Brier skill score over the base rate (accuracy of probabilities would be
    meaningless).

    Args:
        estimator: A scikit-learn classifier with ``predict_proba`` (cloned at fit).
        feature_names: The columns to learn from, in order: a DataFrame is reduced to them
            (so extra columns never leak in); an array must have exactly that many columns.
        threads: Cap on native thread pools while fitting and predicting; None leaves them
            alone.

    Attributes:
        estimator_: The fitted clone.
        classes_: ``array([0, 1])``.
        n_features_in_: ``len(feature_names)``.
    """

    def __init__(self, estimator: BaseEstimator, feature_names: Sequence[str],
                 threads: int | None = None) -> None:
        self.estimator = estimator
        self.feature_names = feature_names
        self.threads = threads

    def fit(self, X: Any, y: Any) -> ProbabilityClassifier:  # noqa: N803
        """Fit the classifier on 0/1 outcomes ``y``.

        Raises:
            ValueError: if ``y`` holds anything but 0 and 1, or only one of them, or ``X``
                lacks feature columns.
        """
        labels = np.asarray(y)
        values = set(np.unique(labels.astype(float)).tolist()) if labels.size else set()
        if not values <= {0.0, 1.0} or len(values) < 2:
            raise ValueError(f"ProbabilityClassifier.fit: 'y' must hold both outcomes 0 and 1 "
                             f"and nothing else; got {sorted(values)}.")
        matrix = self._matrix(X, "fit")
        with threadpool_limits(self.threads):
            self.estimator_ = clone(self.estimator).fit(matrix, labels.astype(int))
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.feature_names)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        """``(rows, 2)`` probabilities of class 0 and class 1."""
        check_is_fitted(self, "estimator_")
        matrix = self._matrix(X, "predict_proba")
        with threadpool_limits(self.threads):
            proba = np.asarray(self.estimator_.predict_proba(matrix), dtype=float)
        return proba

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """The probability of class 1 for each row (floats in [0, 1])."""
        return self.predict_proba(X)[:, 1]

    def _matrix(self, X: Any, where: str) -> Any:  # noqa: N803
        names = list(self.feature_names)
        if isinstance(X, pd.DataFrame):
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise ValueError(f"ProbabilityClassifier.{where}: 'X' lacks feature column(s) "
                                 f"{missing[:10]} ({len(missing)} in all).")
            return X[names]
        if np.ndim(X) != 2 or np.shape(X)[1] != len(names):
            raise ValueError(f"ProbabilityClassifier.{where}: 'X' must have {len(names)} "
                             f"columns (feature_names); got shape {np.shape(X)}.")
        return pd.DataFrame(np.asarray(X, dtype=float), columns=names)


def default_hyperparameters(name: str, seed: int) -> dict[str, Any]:
    """The defaults of family ``name`` (the keys params.yaml may override).

    Raises:
        ValueError: for an unknown name.
    """
    _check_name(name)
    if name == "logistic_regression":
        return {"C": 1.0, "max_iter": 2000, "random_state": seed, "threads": 1}
    if name == "lightgbm":
        return {"n_estimators": 300, "learning_rate": 0.03, "num_leaves": 15,
                "min_child_samples": 40, "subsample": 0.8, "subsample_freq": 1,
                "colsample_bytree": 0.8, "reg_lambda": 1.0, "random_state": seed, "n_jobs": 1,
                "verbose": -1, "deterministic": True, "force_row_wise": True, "threads": 1}
    if name == "xgboost":
        return {"n_estimators": 300, "learning_rate": 0.03, "max_depth": 4,
                "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 0.8,
                "reg_lambda": 1.0, "tree_method": "hist", "n_jobs": 1, "random_state": seed,
                "threads": 1}
    # random_forest: capped so 10k rows fit in about a second on one core.
    return {"n_estimators": 200, "max_depth": 10, "min_samples_leaf": 10,
            "max_features": "sqrt", "max_samples": 0.7, "n_jobs": 1, "random_state": seed,
            "threads": 1}


def make_classifier(name: str, hyperparameters: dict[str, Any], seed: int,
                    feature_names: Sequence[str]) -> ProbabilityClassifier:
    """An unfitted binary classifier whose ``predict`` is P(class 1).

    Args:
        name: One of :data:`CLASSIFIER_NAMES`.
        hyperparameters: Overrides of :func:`default_hyperparameters` (``threads`` caps the
            native thread pools).
        seed: Random seed of every random part.
        feature_names: The columns the model learns from, in order.

    Raises:
        ValueError: for an unknown name, a hyperparameter the estimator does not accept
            (naming the family, the key and the allowed keys), non-dict hyperparameters, a
            seed that is not an int >= 0, or no feature names.
    """
    _check_name(name)
    if not isinstance(hyperparameters, dict):
        raise ValueError(f"make_classifier: 'hyperparameters' for model {name!r} must be a "
                         f"dict; got {type(hyperparameters).__name__}.")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"make_classifier: 'seed' must be an int >= 0; got {seed!r}.")
    names = list(feature_names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"make_classifier: 'feature_names' must be non-empty and unique; "
                         f"got {names[:10]}.")
    defaults = default_hyperparameters(name, int(seed))
    core_class = _core_class(name)
    # The keywords the estimator takes, plus the defaults it accepts as extra keywords
    # (LightGBM's ``verbose``, ``deterministic``, ...) and the thread cap.
    allowed = sorted(set(core_class().get_params(deep=False)) | set(defaults))
    unknown = sorted(set(hyperparameters) - set(allowed))
    if unknown:
        raise ValueError(f"make_classifier: unknown hyperparameter(s) {unknown} for model "
                         f"{name!r}; allowed: {allowed}.")
    params = {**defaults, **hyperparameters}
    threads = params.pop("threads", None)
    core = core_class(**params)
    if name == "logistic_regression":
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        core = Pipeline([("scale", StandardScaler()), ("logistic_regression", core)])
    return ProbabilityClassifier(core, names, threads=threads)


def feature_importance(fitted: ProbabilityClassifier, feature_names: Sequence[str]
                       ) -> pd.Series:
    """Total-gain importance of each feature of a fitted tree classifier, summing to 1.

    Random forest: mean impurity decrease; LightGBM ``gain`` and XGBoost ``total_gain``
    as in :func:`pipelines.train.model_zoo.feature_importance`, which computes them.

    Returns:
        A Series named ``importance``, indexed by ``feature_names``, largest first.

    Raises:
        TypeError: for a model without tree importances (logistic regression).
        ValueError: if ``feature_names`` does not match the model's feature count.
    """
    from lightgbm import LGBMModel
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBModel

    from pipelines.train import model_zoo

    check_is_fitted(fitted, "estimator_")
    model = fitted.estimator_
    if isinstance(model, LGBMModel | XGBModel):
        return model_zoo.feature_importance(model, feature_names)
    if not isinstance(model, RandomForestClassifier):
        raise TypeError(f"feature_importance: {type(model).__name__} has no tree importances; "
                        f"only the tree families {list(TREE_CLASSIFIERS)} do.")
    names = list(feature_names)
    values = np.asarray(model.feature_importances_, dtype=float)
    if len(values) != len(names):
        raise ValueError(f"feature_importance: the model has {len(values)} features; "
                         f"got {len(names)} feature_names.")
    total = values.sum()
    values = values / total if total > 0 else values
    return pd.Series(values, index=names, name="importance").sort_values(
        ascending=False, kind="stable")


def candidate_facts(name: str, fitted: ProbabilityClassifier, feature_names: Sequence[str],
                    *, seconds: float, overrides: dict[str, Any], seed: int
                    ) -> dict[str, Any]:
    """What a binary task's training manifest records of one fitted candidate: its fit
    time, the hyperparameters it ran with (defaults overridden key by key), its feature
    importance and the importance's kind (tree ``gain``; ``coefficient`` for the logistic
    regression, :func:`pipelines.train.model_zoo.coefficient_importance`)."""
    from pipelines.train.model_zoo import coefficient_importance

    importance, kind = None, None
    if name in TREE_CLASSIFIERS:
        importance, kind = feature_importance(fitted, feature_names), "gain"
    elif name == "logistic_regression":
        importance, kind = coefficient_importance(fitted.estimator_, feature_names), \
            "coefficient"
    return {"fit_seconds": round(seconds, 3),
            "hyperparameters": {**default_hyperparameters(name, seed), **overrides},
            "feature_importance": (importance.round(6).to_dict()
                                   if importance is not None else None),
            "importance_kind": kind}


def _check_name(name: str) -> None:
    if name not in CLASSIFIER_NAMES:
        raise ValueError(f"make_classifier: unknown model {name!r}; known: "
                         f"{list(CLASSIFIER_NAMES)}.")


def _core_class(name: str) -> type[BaseEstimator]:
    if name == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier
