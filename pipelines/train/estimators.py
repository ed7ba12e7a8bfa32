"""Candidate estimators by name. Every one predicts counts and learns on log1p(counts)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from pipelines.features.post_features import FEATURE_COLUMNS, PostFeaturizer


def make_regressor(name: str, hyperparameters: dict[str, Any], seed: int) -> RegressorMixin:
    """An unfitted regressor on the feature matrix, trained on log1p(target).

    Args:
        name: ``lightgbm`` or ``ridge``.
        hyperparameters: Keyword arguments for the underlying estimator.
        seed: Random seed (ignored by deterministic estimators).

    Raises:
        ValueError: for an unknown name.
    """
    if name == "lightgbm":
        from lightgbm import LGBMRegressor

        # Domain prior: more followers never means fewer expected likes, all else equal.
        monotone = [1 if c == "log_followers" else 0 for c in FEATURE_COLUMNS]
        base: RegressorMixin = LGBMRegressor(
            random_state=seed, n_jobs=1, verbose=-1, deterministic=True,
            force_row_wise=True, monotone_constraints=monotone, **hyperparameters,
        )
    elif name == "ridge":
        base = make_pipeline(StandardScaler(), Ridge(**hyperparameters))
    else:
        raise ValueError(f"make_regressor: unknown model {name!r}; known: lightgbm, ridge.")
    return TransformedTargetRegressor(regressor=base, func=np.log1p, inverse_func=np.expm1,
                                      check_inverse=False)


def as_post_model(fitted_regressor: RegressorMixin) -> Pipeline:
    """Wrap a regressor fitted on the feature matrix so it takes canonical posts as input.

    The featurizer is stateless, so composing after fitting gives exactly the predictions
    of the regressor on the stage's feature table.
    """
    return Pipeline([("features", PostFeaturizer().fit(None)), ("model", fitted_regressor)])
