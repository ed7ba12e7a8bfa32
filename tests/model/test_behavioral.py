"""Behavioural checks of trained models: invariance and direction."""

import numpy as np
import pandas as pd
import pytest

from pipelines.features.stage import build_feature_table
from pipelines.train.estimators import as_post_model, make_regressor
from pipelines.train.stage import feature_matrix


@pytest.fixture(scope="module", params=["lightgbm", "ridge"])
def model(request, demo_posts):
    table = build_feature_table(demo_posts)
    hyper = {"lightgbm": {"n_estimators": 120, "num_leaves": 7}, "ridge": {}}[request.param]
    regressor = make_regressor(request.param, hyper, seed=0).fit(
        feature_matrix(table), table["likes"].astype(float))
    return as_post_model(regressor)


def test_more_followers_never_predicts_fewer_likes(model, demo_posts):
    posts = demo_posts.sample(200, random_state=1)
    base = model.predict(posts)
    for factor in (2, 10, 100):
        grown = posts.assign(followers_at_post_time=posts["followers_at_post_time"] * factor)
        assert (model.predict(grown) >= base - 1e-9).all(), f"x{factor} followers lowered likes"


def test_post_id_and_account_name_do_not_change_the_prediction(model, demo_posts):
    posts = demo_posts.head(100)
    renamed = posts.assign(post_id="other", account_id="someone-else", campaign_id=None)
    np.testing.assert_allclose(model.predict(posts), model.predict(renamed))


def test_row_order_does_not_change_predictions(model, demo_posts):
    posts = demo_posts.head(100)
    shuffled = posts.sample(frac=1.0, random_state=3)
    np.testing.assert_allclose(pd.Series(model.predict(shuffled), index=shuffled.index)
                               .loc[posts.index], model.predict(posts))


def test_predictions_are_non_negative_counts(model, demo_posts):
    assert (model.predict(demo_posts.head(300)) >= 0).all()
