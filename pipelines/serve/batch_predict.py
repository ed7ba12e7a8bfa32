"""``model.predict`` of a registered post model for a batch of many rows, faster, equal.

A post model is a scikit-learn pipeline: the featurizer (canonical posts → features), then
the log-count regressor. ``Pipeline.predict`` passes the features as a DataFrame through
scikit-learn's and LightGBM's input checks, and LightGBM predicts one row at a time. Here
the same fitted featurizer's features are built straight into a matrix
(:func:`pipelines.features.batch_features.feature_matrix`, equal to its ``transform``)
and the regressor is the serving fast path's numpy form of it
(:func:`pipelines.serve.fast_path._scaled_log_predictor`: the scale-relative offset and
clipping in numpy, LightGBM trees as lookup tables, :mod:`pipelines.serve.tree_tables`).
Every prediction equals the pipeline's own, bit for bit (tested), so only estimators whose
numpy form is exact are compiled (:data:`EXACT_KINDS`: the fast path's ridge and forest
forms agree with scikit-learn only to ~1e-12); any other model is predicted by its own
``predict``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Fast-path estimator kinds whose predictions equal the estimator's own bit for bit.
EXACT_KINDS = ("lightgbm_tables", "scale_relative:lightgbm_tables")


class BatchPostModel:
    """A fitted post pipeline compiled for batches.

    Args:
        model: The loaded pipeline (``features`` → :class:`LogCountRegressor`) without
            caption embeddings.
        threads: Threads the estimator predicts with.

    Raises:
        ValueError: if ``model`` is not such a pipeline or its estimator has no exact
            numpy form (:func:`batch_predictor` falls back to ``model.predict``).
    """

    def __init__(self, model: Any, threads: int) -> None:
        from pipelines.serve.fast_path import _scaled_log_predictor

        featurizer, estimator = _parts(model)
        self.featurizer = featurizer
        names = list(featurizer.feature_names_)
        self._log_predict, self.kind = _scaled_log_predictor(estimator.regressor_, names,
                                                             batch_threads=threads)
        if self.kind not in EXACT_KINDS:
            raise ValueError(f"BatchPostModel: the {self.kind} estimator has no exact "
                             f"batch form")
        self._names = names
        self._log_upper = float(estimator.log_upper_)

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        """Predicted counts for model-input rows (what ``model.predict`` returns), or for
        canonical posts that pass the serving contract (the same features as their model
        input: :func:`pipelines.features.batch_features.feature_matrix`)."""
        from pipelines.features.batch_features import feature_matrix

        matrix = feature_matrix(self.featurizer, inputs)   # equals transform's, as a matrix
        log_predictions = np.asarray(self._log_predict(matrix), float).ravel()
        return np.expm1(np.clip(log_predictions, 0.0, self._log_upper))


def _parts(model: Any) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    from pipelines.features.engagement_features import EngagementFeaturizer
    from pipelines.train.model_zoo import LogCountRegressor

    if not (isinstance(model, Pipeline) and len(model.steps) == 2):
        raise ValueError("BatchPostModel: not a two-step post pipeline")
    featurizer, estimator = model.steps[0][1], model.steps[1][1]
    if not isinstance(featurizer, EngagementFeaturizer) or featurizer.text_reducer is not None:
        raise ValueError("BatchPostModel: the first step is not a featurizer without text")
    if not isinstance(estimator, LogCountRegressor):
        raise ValueError("BatchPostModel: the last step is not a LogCountRegressor")
    return featurizer, estimator


def batch_predictor(model: Any, *, threads: int) -> Callable[[pd.DataFrame], np.ndarray]:
    """What batch scoring calls for ``model.predict(inputs)``: :class:`BatchPostModel`
    where the model has its shape, else the model's own ``predict``."""
    try:
        compiled = BatchPostModel(model, threads)
    except (AttributeError, TypeError, ValueError, KeyError) as why:
        logger.info("score: predicting with the model's own predict (%s)", why)
        return lambda inputs: np.asarray(model.predict(inputs), dtype=float)
    logger.info("score: predicting with the compiled batch path (%s, %d threads)",
                compiled.kind, threads)
    return compiled.predict
