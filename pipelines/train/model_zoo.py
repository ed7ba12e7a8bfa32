"""The candidate models by name (``train.models`` in params.yaml), and their importances.

Every model takes the numeric feature matrix (a DataFrame with the ``feature_names``
columns, in that order), learns on log1p(counts) and predicts counts (>= 0). The
single-stage models learn the log-likes *relative to the account's scale*
(:class:`~pipelines.train.scale_relative.ScaleRelative`: a per-platform line in
log-followers plus a residual model), inside a ``TransformedTargetRegressor``; the
two-stage model handles the log itself. Defaults suit a 2-core machine shared with other
work and are deterministic for a given seed: gradient-boosted trees use one thread (LightGBM with
``deterministic=True``, ``force_row_wise=True``; XGBoost ``tree_method="hist"``), the random
forest two jobs (each tree has its own seed, so the job count does not change the trees;
its two prediction threads may add the trees up in either order, which moves predictions in
the last bits only) and capped trees. HistGradientBoosting and the MLP get their OpenMP and
BLAS threads limited (``threads``, default 1) by :class:`CappedFit`: left at the default,
they spin on every core and ran ~20x slower on a loaded 2-core machine (22 s instead of 1 s
for 20k rows).
Hyperparameters from params.yaml override the defaults key by key.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from pipelines.train.two_stage import TwoStageRegressor

logger = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = (
    "ridge", "random_forest", "xgboost", "lightgbm", "hist_gradient_boosting", "mlp",
    "two_stage_hard", "two_stage_soft",
)
#: Models with tree importances (:func:`feature_importance`).
TREE_MODELS: tuple[str, ...] = tuple(n for n in MODEL_NAMES if n not in ("ridge", "mlp"))
#: Linear models: importance from their standardized coefficients
#: (:func:`coefficient_importance`).
LINEAR_MODELS: tuple[str, ...] = ("ridge",)
#: Models constrained to be non-decreasing in :data:`MONOTONE_FEATURES`.
MONOTONE_MODELS: tuple[str, ...] = ("xgboost", "lightgbm", "hist_gradient_boosting")
#: Domain prior: more followers never predicts fewer likes, all else equal. Followers enter
#: twice — their level and their growth since the account's previous post — so both are
#: constrained; otherwise a model could undo the first through the second.
MONOTONE_FEATURES: tuple[str, ...] = ("log_followers", "follower_growth_since_prev",
                                      "scale_offset", "scale_anchor")


def expm1_nonnegative(values: np.ndarray) -> np.ndarray:
    """Inverse of log1p for predictions: a log prediction below 0 means 0 counts."""
    return np.expm1(np.clip(values, 0, None))


class LogCountRegressor(TransformedTargetRegressor):
    """Learn log1p(counts), predict counts, never beyond what the training data supports.

    Log predictions are clipped to ``[0, log1p(max training count) + log(headroom)]``: a
    linear model or an MLP extrapolating on drifted inputs would otherwise predict absurd
    counts (the quality benchmark saw raw MAE beyond 1e30 on the drifted split).

    Args:
        regressor: The estimator fitted on log1p(y).
        headroom: How many times the largest training count a prediction may reach; None
            when the regressor bounds its own predictions (:class:`ScaleRelative` bounds
            them relative to the account's scale, so large accounts are not capped).
    """

    def __init__(self, regressor: BaseEstimator | None = None, *,
                 headroom: float | None = 10.0) -> None:
        super().__init__(regressor=regressor, func=np.log1p, inverse_func=expm1_nonnegative,
                         check_inverse=False)
        self.headroom = headroom

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LogCountRegressor:  # noqa: N803
        if self.headroom is not None and not self.headroom >= 1:
            raise ValueError(f"LogCountRegressor: 'headroom' must be a number >= 1 or None; "
                             f"got {self.headroom!r}.")
        super().fit(X, y, **fit_params)
        self.log_upper_ = (math.inf if self.headroom is None else
                           float(np.log1p(np.max(y)) + np.log(self.headroom)))
        return self

    def predict(self, X: Any, **predict_params: Any) -> np.ndarray:  # noqa: N803
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "log_upper_")
        log_predictions = np.asarray(self.regressor_.predict(X, **predict_params), float)
        return np.expm1(np.clip(log_predictions.ravel(), 0.0, self.log_upper_))


class CappedFit(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit ``estimator`` under resource caps that depend on the machine or on the data.

    Args:
        estimator: The estimator to fit (cloned).
        threads: Cap on its native thread pools (OpenMP, BLAS) while fitting and
            predicting; None leaves them alone.
        max_rows_per_tree: Cap on the rows each tree of a bagged forest draws: its fraction
            ``max_samples`` applies up to this many rows (a float ``max_samples`` alone
            grows with the data; an int alone exceeds small training sets).

    Attributes:
        estimator_: The fitted clone of ``estimator``.
    """

    def __init__(self, estimator: BaseEstimator, threads: int | None = None,
                 max_rows_per_tree: int | None = None) -> None:
        self.estimator = estimator
        self.threads = threads
        self.max_rows_per_tree = max_rows_per_tree

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CappedFit:  # noqa: N803
        estimator = clone(self.estimator)
        if self.max_rows_per_tree is not None:
            fraction = estimator.get_params()["max_samples"]
            rows = len(X) if fraction is None else (
                fraction if isinstance(fraction, int) else int(fraction * len(X)))
            if rows > self.max_rows_per_tree:
                estimator.set_params(max_samples=int(self.max_rows_per_tree))
                logger.info("model_zoo: %s draws %d of %d rows per tree (capped)",
                            type(estimator).__name__, self.max_rows_per_tree, len(X))
        with threadpool_limits(self.threads):
            self.estimator_ = estimator.fit(X, y)
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "estimator_")
        with threadpool_limits(self.threads):
            return self.estimator_.predict(X)


def monotone_signs(feature_names: Sequence[str]) -> list[int]:
    """+1 for :data:`MONOTONE_FEATURES`, 0 for every other feature, in column order."""
    return [1 if c in MONOTONE_FEATURES else 0 for c in feature_names]


def default_hyperparameters(name: str, seed: int, feature_names: Sequence[str]
                            ) -> dict[str, Any]:
    """The defaults of model ``name`` (the keys params.yaml may override).

    Raises:
        ValueError: for an unknown name.
    """
    _check_name(name)
    signs = monotone_signs(feature_names)
    constrained = any(signs)
    if name == "ridge":
        return {"alpha": 1.0}
    if name == "random_forest":
        # Full-depth trees on all rows take ~260 s for 100 trees on 100k rows here: cap the
        # depth, the leaf size, the features per split and the rows per tree.
        return {"n_estimators": 100, "max_depth": 16, "min_samples_leaf": 5,
                "max_features": 0.5, "max_samples": 0.3, "max_rows_per_tree": 50_000,
                "n_jobs": 2, "random_state": seed}
    if name == "xgboost":
        params: dict[str, Any] = {
            "n_estimators": 300, "learning_rate": 0.05, "max_depth": 6, "min_child_weight": 5,
            "subsample": 0.8, "colsample_bytree": 0.8, "tree_method": "hist", "n_jobs": 1,
            "random_state": seed}
        if constrained:
            params["monotone_constraints"] = "(" + ",".join(map(str, signs)) + ")"
        return params
    if name == "lightgbm":
        params = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31,
                  "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1,
                  "colsample_bytree": 0.8, "random_state": seed, "n_jobs": 1, "verbose": -1,
                  "deterministic": True, "force_row_wise": True}
        if constrained:
            params["monotone_constraints"] = signs
        return params
    if name == "hist_gradient_boosting":
        params = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 31,
                  "min_samples_leaf": 20, "early_stopping": False, "random_state": seed,
                  "threads": 1}
        if constrained:
            params["monotonic_cst"] = signs
        return params
    if name == "mlp":
        return {"hidden_layer_sizes": (64, 32), "alpha": 1e-4, "batch_size": 256,
                "learning_rate_init": 1e-3, "max_iter": 100, "early_stopping": True,
                "validation_fraction": 0.1, "n_iter_no_change": 8, "random_state": seed,
                "threads": 1}
    # two_stage_*: the stage defaults live in two_stage.py; the regressors get the prior.
    regressor_params = ({"monotone_constraints": "(" + ",".join(map(str, signs)) + ")"}
                        if constrained else {})
    return {"classifier_params": {}, "regressor_params": regressor_params,
            "min_class_rows": TwoStageRegressor().min_class_rows}


def make_model(
    name: str, hyperparameters: dict[str, Any], seed: int, feature_names: Sequence[str],
    *, scale: Mapping[str, float]
) -> RegressorMixin:
    """An unfitted model that learns log1p(counts) from ``feature_names`` and predicts counts.

    Args:
        name: One of :data:`MODEL_NAMES`.
        hyperparameters: Overrides of :func:`default_hyperparameters` (for the two-stage
            models, ``classifier_params`` and ``regressor_params`` are merged key by key).
        seed: Random seed of every random part.
        feature_names: The columns of the matrix the model will be fitted on, in order
            (they place the monotone constraint on ``log_followers``).
        scale: The :class:`ScaleRelative` settings (``train.scale_relative``) of every
            family but the two-stage ones, which learn log-likes directly.

    Raises:
        ValueError: for an unknown name, a hyperparameter the estimator does not accept
            (naming the model, the key and the allowed keys), or non-dict hyperparameters.
    """
    _check_name(name)
    if not isinstance(hyperparameters, dict):
        raise ValueError(f"make_model: 'hyperparameters' for model {name!r} must be a dict; "
                         f"got {type(hyperparameters).__name__}.")
    defaults = default_hyperparameters(name, seed, feature_names)
    if name.startswith("two_stage_"):
        allowed = sorted(defaults)
        _check_keys(name, hyperparameters, allowed)
        params = {**defaults, **hyperparameters}
        for stage in ("classifier_params", "regressor_params"):
            params[stage] = {**defaults[stage], **(hyperparameters.get(stage) or {})}
        model = TwoStageRegressor(routing=name.removeprefix("two_stage_"), seed=seed, **params)
        model.validate_params()
        return model
    from pipelines.train.scale_relative import ScaleRelative, augmented_names

    # the residual model sees the inputs plus the scale offset and relative history
    defaults = default_hyperparameters(name, seed, augmented_names(list(feature_names)))
    core_class = _core_class(name)
    # Keyword arguments the estimator takes, plus the defaults it accepts as extra
    # keywords (LightGBM's ``verbose``, ``deterministic``, ...) and the caps of CappedFit.
    allowed = sorted(set(core_class().get_params(deep=False)) | set(defaults))
    _check_keys(name, hyperparameters, allowed)
    params = {**defaults, **hyperparameters}
    caps = {key: params.pop(key) for key in ("threads", "max_rows_per_tree") if key in params}
    core = core_class(**params)
    if name in ("ridge", "mlp"):
        from sklearn.preprocessing import StandardScaler

        core = Pipeline([("scale", StandardScaler()), (name, core)])
    if caps:
        core = CappedFit(core, **caps)
    return LogCountRegressor(regressor=ScaleRelative(core, **scale), headroom=None)


def feature_importance(fitted_model: BaseEstimator, feature_names: Sequence[str]) -> pd.Series:
    """Total-gain (split-improvement) importance of each feature, normalized to sum 1.

    Random forest: mean impurity decrease; XGBoost: ``total_gain``; LightGBM: ``gain``;
    HistGradientBoosting: the summed split gains of its trees; two-stage: its classifier's
    ``total_gain`` (the routing decision). Every number measures loss reduction, so the
    rankings are comparable across models. All zeros if the model made no split.

    Returns:
        A Series named ``importance``, indexed by ``feature_names``, largest first.

    Raises:
        TypeError: for a model without tree importances (ridge, mlp; see
            :data:`TREE_MODELS`).
        ValueError: if ``feature_names`` does not match the model's feature count.
    """
    from lightgbm import LGBMModel
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from xgboost import XGBModel

    model, names = _fitted_core(fitted_model, feature_names, "feature_importance")
    if isinstance(model, TwoStageRegressor):
        model = model.classifier_
    if isinstance(model, RandomForestRegressor):
        values = np.asarray(model.feature_importances_, dtype=float)
    elif isinstance(model, XGBModel):
        score = model.get_booster().get_score(importance_type="total_gain")
        booster_names = model.get_booster().feature_names or [f"f{i}" for i in
                                                                range(model.n_features_in_)]
        values = np.array([score.get(b, 0.0) for b in booster_names], dtype=float)
    elif isinstance(model, LGBMModel):
        values = model.booster_.feature_importance(importance_type="gain").astype(float)
    elif isinstance(model, HistGradientBoostingRegressor):
        values = np.zeros(model.n_features_in_)
        for trees in model._predictors:  # one list of trees per iteration
            for tree in trees:
                splits = tree.nodes[tree.nodes["is_leaf"] == 0]
                np.add.at(values, splits["feature_idx"], splits["gain"])
    else:
        raise TypeError(
            f"feature_importance: {type(model).__name__} has no tree importances; "
            f"only the tree models {list(TREE_MODELS)} do."
        )
    if len(values) != len(names):
        raise ValueError(f"feature_importance: the model has {len(values)} features; "
                         f"got {len(names)} feature_names.")
    total = values.sum()
    values = values / total if total > 0 else values
    return pd.Series(values, index=names, name="importance").sort_values(
        ascending=False, kind="stable")


def coefficient_importance(fitted_model: BaseEstimator, feature_names: Sequence[str]
                           ) -> pd.Series:
    """Importance of each feature of a linear model: the absolute coefficient on the
    standardized input (the model scales its inputs first, so a coefficient is the change
    in log1p(count), or in log-odds, per standard deviation), normalized to sum 1. Not
    comparable with the trees' gain shares; the plot says which it shows.

    Returns:
        A Series named ``importance``, indexed by the model's input names (the features
        plus the scale offset and anchor), largest first.

    Raises:
        TypeError: for a model that is not linear (see :data:`LINEAR_MODELS`).
        ValueError: if ``feature_names`` does not match the model's feature count.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model, names = _fitted_core(fitted_model, feature_names, "coefficient_importance")
    if not (isinstance(model, Pipeline) and isinstance(model[0], StandardScaler)
            and hasattr(model[-1], "coef_")):
        raise TypeError(f"coefficient_importance: {type(model).__name__} is no standardized "
                        f"linear model (the linear models: {list(LINEAR_MODELS)} and the "
                        f"logistic regression classifier).")
    values = np.abs(np.ravel(model[-1].coef_)).astype(float)
    if len(values) != len(names):
        raise ValueError(f"coefficient_importance: the model has {len(values)} features; "
                         f"got {len(names)} feature_names.")
    total = values.sum()
    values = values / total if total > 0 else values
    return pd.Series(values, index=names, name="importance").sort_values(
        ascending=False, kind="stable")


def _fitted_core(fitted_model: BaseEstimator, feature_names: Sequence[str], caller: str
                 ) -> tuple[Any, list[str]]:
    """The fitted estimator inside the wrappers (log target, scale-relative residual, caps)
    and the names of the columns it saw.

    Raises:
        ValueError: if ``feature_names`` does not match the model's feature count.
    """
    from pipelines.train.scale_relative import ScaleRelative

    model = fitted_model
    if isinstance(model, TransformedTargetRegressor):
        model = model.regressor_
    if isinstance(model, ScaleRelative):
        if len(feature_names) != model.n_features_in_:
            raise ValueError(f"{caller}: the model has {model.n_features_in_} features; got "
                             f"{len(feature_names)} feature_names.")
        feature_names = list(model.feature_names_out_)  # + the scale offset and anchor
        model = model.regressor_
    if isinstance(model, CappedFit):
        model = model.estimator_
    return model, list(feature_names)


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ValueError(f"make_model: unknown model {name!r}; known: {list(MODEL_NAMES)}.")


def _check_keys(name: str, given: dict[str, Any], allowed: list[str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"make_model: unknown hyperparameter(s) {unknown} for model "
                         f"{name!r}; allowed: {allowed}.")


def _core_class(name: str) -> type[BaseEstimator]:
    if name == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge
    if name == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor
    if name == "xgboost":
        from xgboost import XGBRegressor

        return XGBRegressor
    if name == "lightgbm":
        from lightgbm import LGBMRegressor

        return LGBMRegressor
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor
