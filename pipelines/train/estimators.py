"""Registered-model assembly: the featurizer in front of a fitted model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import RegressorMixin
from sklearn.pipeline import Pipeline

from pipelines.features.engagement_features import EngagementFeaturizer
from pipelines.features.settings import FeatureSettings


def as_post_model(fitted_model: RegressorMixin, settings: FeatureSettings,
                  known_posts: pd.DataFrame, *, text_reducer: Any = None,
                  model_cache_dir: Path | None = None) -> Pipeline:
    """Wrap a model fitted on the feature table so it takes canonical posts as input.

    The featurizer's account history is frozen on ``known_posts`` (every labelled post the
    run saw), so for those posts it reproduces the feature table exactly and for new posts
    it reads the latest matured outcomes of their accounts. With caption embeddings it
    carries ``text_reducer`` (fitted on the training rows) and embeds captions itself.

    Raises:
        ValueError: if ``settings`` use caption embeddings without a fitted reducer.
    """
    featurizer = EngagementFeaturizer.from_settings(
        settings, text_reducer=text_reducer, model_cache_dir=model_cache_dir).fit(known_posts)
    return Pipeline([("features", featurizer), ("model", fitted_model)])
