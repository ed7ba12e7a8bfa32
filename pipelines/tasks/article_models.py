"""The article models: families, the time split and fitting one candidate.

Every model learns log1p of the count (heavy-tailed: most articles get a few points, a few
get thousands) and predicts the count (>= 0), behind :class:`ArticleFeaturizer`, so a saved
model takes articles as a client submits them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline

from pipelines.tasks.article_features import ArticleFeaturizer
from pipelines.train.split import time_split

if TYPE_CHECKING:
    from pipelines.paths import ProjectPaths
    from pipelines.tasks.article_settings import ArticleSettings

FAMILIES: tuple[str, ...] = ("ridge", "lightgbm", "hist_gradient_boosting")
#: Reference models: name -> (family, whether the author history is used).
REFERENCES: dict[str, tuple[str, bool]] = {"lightgbm_no_author_history": ("lightgbm", False)}


@dataclass(frozen=True)
class ArticleSplit:
    """Positions of the time-sorted article table in each part."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    valid_start: str
    test_start: str

    @property
    def train_valid(self) -> np.ndarray:
        """Everything known before the test part."""
        return np.concatenate([self.train, self.valid])


def article_split(table: pd.DataFrame, valid_fraction: float, test_fraction: float
                  ) -> ArticleSplit:
    """Oldest articles for training, then validation, newest for test (no instant
    straddles two parts: :func:`pipelines.train.split.time_split`)."""
    split = time_split(table["created_at"], valid_fraction, test_fraction)
    return ArticleSplit(split.train, split.valid, split.test, split.valid_start,
                        split.test_start)


def default_hyperparameters(name: str, seed: int) -> dict[str, Any]:
    """Defaults of family ``name`` (params.yaml ``train.hyperparameters`` override them).

    Raises:
        ValueError: for a name not in :data:`FAMILIES`.
    """
    if name == "ridge":
        return {"alpha": 10.0}
    if name == "lightgbm":
        # small leaves, slow learning: most authors have one article, the signal is weak
        return {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 15,
                "min_child_samples": 40, "subsample": 0.8, "subsample_freq": 1,
                "colsample_bytree": 0.8, "random_state": seed, "n_jobs": 1, "verbose": -1,
                "deterministic": True, "force_row_wise": True}
    if name == "hist_gradient_boosting":
        return {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15,
                "min_samples_leaf": 40, "random_state": seed}
    raise ValueError(f"article_models: model {name!r} is not one of {list(FAMILIES)}.")


def make_regressor(name: str, hyperparameters: dict[str, Any], seed: int
                   ) -> TransformedTargetRegressor:
    """An unfitted model of family ``name`` learning log1p(count) and predicting counts.

    Raises:
        ValueError: for an unknown family or a hyperparameter it does not take.
    """
    params = {**default_hyperparameters(name, seed), **hyperparameters}
    if name == "ridge":
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        core: Any = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
        core.set_params(**{f"ridge__{k}": v for k, v in params.items()})
    elif name == "lightgbm":
        from lightgbm import LGBMRegressor

        core = LGBMRegressor(**params)
    else:
        from sklearn.ensemble import HistGradientBoostingRegressor

        core = HistGradientBoostingRegressor(**params)
    return TransformedTargetRegressor(regressor=core, func=np.log1p,
                                      inverse_func=_expm1_nonnegative, check_inverse=False)


def _expm1_nonnegative(values: np.ndarray) -> np.ndarray:
    return np.expm1(np.clip(values, 0, None))


def fit_candidate(name: str, train: pd.DataFrame, valid: pd.DataFrame, *, target: str,
                  section: ArticleSettings, hyperparameters: dict[str, Any], seed: int,
                  paths: ProjectPaths) -> dict[str, Any]:
    """Fit ``name`` (a family or a :data:`REFERENCES` name) on ``train`` and save
    ``<models>/<name>.joblib``: the featurizer (history through ``valid``) + the model.

    Returns:
        Its record: family, whether it reads the author history, hyperparameters, fit
        seconds, feature importance (tree models).
    """
    family, history = REFERENCES.get(name, (name, True))
    featurizer = ArticleFeaturizer(
        maturity_hours=section.maturity_hours, author_history=history,
        title_components=section.title_components, text_backend=section.text_backend,
        embedding_cache=str(paths.embedding_cache), model_cache_dir=str(paths.model_cache),
        seed=seed).fit(train)
    features = featurizer.transform(train)
    started = time.perf_counter()
    regressor = make_regressor(family, hyperparameters, seed).fit(
        features, train[target].to_numpy(dtype=float))
    seconds = time.perf_counter() - started
    # outcomes of the validation part are known by the time a test article arrives
    featurizer.extend_history(valid)
    model = Pipeline([("features", featurizer), ("model", regressor)])
    joblib.dump(model, paths.models / f"{name}.joblib")
    core = regressor.regressor_
    importance = None
    if hasattr(core, "feature_importances_"):
        values = np.asarray(core.feature_importances_, dtype=float)
        importance = dict(zip(features.columns, np.round(values / max(values.sum(), 1e-12), 6)
                              .tolist(), strict=True))
    return {"family": family, "author_history": history, "fit_seconds": round(seconds, 3),
            "hyperparameters": {**default_hyperparameters(family, seed), **hyperparameters},
            "features": list(features.columns), "feature_importance": importance}
