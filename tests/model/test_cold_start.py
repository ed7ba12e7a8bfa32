"""Cold starts scale: a new account's predictions follow its size, also beyond training.

Models are fitted by the product's recipe (:func:`pipelines.train.stage.fit_post_model`:
scale-relative target, history dropout), the one the training stage and the refit use.
"""

import numpy as np
import pytest

from pipelines.features.engagement_features import tabular_columns
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import build_feature_table
from pipelines.train.stage import fit_post_model

FAMILIES = {"lightgbm": {"n_estimators": 120, "num_leaves": 7}, "ridge": {},
            "random_forest": {"n_estimators": 30}, "xgboost": {"n_estimators": 80}}
DECADES = np.arange(3, 9)  # 1k to 100M followers


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def fitted(request, demo_posts):
    settings = FeatureSettings()
    table = build_feature_table(demo_posts, settings).dropna(subset=["likes"]).reset_index(
        drop=True)
    model, facts = fit_post_model(
        request.param, FAMILIES[request.param], table=table, rows=np.arange(len(table)),
        known_posts=demo_posts, target="likes", settings=settings,
        feature_names=tabular_columns(settings), seed=0, history_dropout=0.3,
        model_cache_dir=None)
    return model, facts


def _new_account_posts(demo_posts, followers: float):
    posts = demo_posts.head(40).copy()
    return posts.assign(account_id="an-account-never-seen",
                        followers_at_post_time=int(followers))


def test_history_dropout_adds_new_account_rows(fitted):
    _, facts = fitted
    assert 0 < facts["history_dropout_rows"] < facts["rows"]


def test_new_account_predictions_rise_with_followers_without_a_plateau(fitted, demo_posts):
    """From 10^3 to 10^8 followers (the demo accounts stop far below), every decade adds
    likes: the median prediction grows at least 1.5x per decade."""
    model, _ = fitted
    medians = [np.median(model.predict(_new_account_posts(demo_posts, 10.0 ** d)))
               for d in DECADES]
    assert demo_posts["followers_at_post_time"].max() < 10 ** 7
    ratios = np.array(medians[1:]) / np.maximum(np.array(medians[:-1]), 1e-9)
    assert (ratios >= 1.5).all(), dict(zip(DECADES[1:].tolist(), ratios.round(2).tolist(),
                                           strict=True))


def test_scale_offset_slopes_stay_in_bounds(fitted):
    model, _ = fitted
    lines = model[-1].regressor_.lines_
    assert all(0.0 <= slope <= model[-1].regressor_.max_slope for _, slope in lines.values())
