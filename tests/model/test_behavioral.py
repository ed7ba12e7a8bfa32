"""Behavioural checks of trained models: invariance and direction."""

import numpy as np
import pandas as pd
import pytest

from pipelines.features.engagement_features import tabular_columns
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import build_feature_table
from pipelines.train.estimators import as_post_model
from pipelines.train.model_zoo import MONOTONE_MODELS, make_model
from pipelines.train.split import labelled
from pipelines.train.stage import feature_matrix
from tests.conftest import SCALE

SMALL = {"lightgbm": {"n_estimators": 120, "num_leaves": 7}, "ridge": {},
         "xgboost": {"n_estimators": 80}, "hist_gradient_boosting": {"max_iter": 80}}


@pytest.fixture(scope="module", params=sorted(SMALL))
def model(request, demo_posts):
    table = labelled(build_feature_table(demo_posts, FeatureSettings()), "likes")
    names = tabular_columns(FeatureSettings())
    regressor = make_model(request.param, SMALL[request.param], 0, names, scale=SCALE).fit(
        feature_matrix(table, names), table["likes"].astype(float))
    return as_post_model(regressor, FeatureSettings(), demo_posts)


@pytest.fixture(scope="module", params=sorted(set(SMALL) & set(MONOTONE_MODELS)))
def constrained_model(request, demo_posts):
    table = labelled(build_feature_table(demo_posts, FeatureSettings()), "likes")
    names = tabular_columns(FeatureSettings())
    regressor = make_model(request.param, SMALL[request.param], 0, names, scale=SCALE).fit(
        feature_matrix(table, names), table["likes"].astype(float))
    return as_post_model(regressor, FeatureSettings(), demo_posts)


def test_more_followers_never_predicts_fewer_likes(constrained_model, demo_posts):
    """The monotone prior of the tree models, through the whole raw-post pipeline."""
    model = constrained_model
    posts = demo_posts.sample(200, random_state=1)
    base = model.predict(posts)
    for factor in (2, 10, 100):
        grown = posts.assign(followers_at_post_time=posts["followers_at_post_time"] * factor)
        assert (model.predict(grown) >= base - 1e-9).all(), f"x{factor} followers lowered likes"


def test_post_id_and_campaign_do_not_change_the_prediction(model, demo_posts):
    from pipelines.collect.demo_data import generate_posts

    # New posts (not in the model's history) of the same accounts.
    posts = generate_posts(100, 25, seed=7, id_prefix="new").assign(
        account_id=demo_posts["account_id"].sample(100, replace=True, random_state=0).values)
    renamed = posts.assign(post_id=[f"other-{i}" for i in range(len(posts))], campaign_id=None)
    np.testing.assert_allclose(model.predict(posts), model.predict(renamed))


def test_an_unseen_account_gets_the_fallback_not_an_error(model, demo_posts):
    posts = demo_posts.head(20).assign(account_id="brand-new-account")
    predictions = model.predict(posts)
    assert np.isfinite(predictions).all() and (predictions >= 0).all()


def test_row_order_does_not_change_predictions(model, demo_posts):
    posts = demo_posts.head(100)
    shuffled = posts.sample(frac=1.0, random_state=3)
    np.testing.assert_allclose(pd.Series(model.predict(shuffled), index=shuffled.index)
                               .loc[posts.index], model.predict(posts))


def test_predictions_are_non_negative_counts(model, demo_posts):
    assert (model.predict(demo_posts.head(300)) >= 0).all()
