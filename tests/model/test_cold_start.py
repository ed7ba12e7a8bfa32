"""Cold starts scale: a new account's predictions follow its size, also beyond training.

Models are fitted by the product's recipe (:func:`pipelines.train.stage.fit_post_model`:
scale-relative target, history dropout), the one the training stage and the refit use.
"""

import numpy as np
import pandas as pd
import pytest

from pipelines.collect.demo_data import WINDOW_DAYS, generate_posts
from pipelines.features.engagement_features import tabular_columns
from pipelines.features.settings import FeatureSettings
from pipelines.features.stage import build_feature_table
from pipelines.train.stage import fit_post_model
from tests.conftest import SCALE

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
        model_cache_dir=None, scale=SCALE)
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
    bound = model[-1].regressor_.max_slope
    assert all(0.0 <= slope <= bound and -bound <= posting <= 0.0
               for _, slope, posting in lines.values())


def _frequent_posters_get_fewer_likes(posts: pd.DataFrame, effect: float) -> pd.DataFrame:
    """The demo posts with each account's likes per post scaled by
    ``(1 + its posts per 30 days) ** effect``: frequent posters (news wires) get fewer
    likes per post at the same size, as on the real tweets."""
    per_month = posts.groupby("account_id")["post_id"].transform("size") * 30 / WINDOW_DAYS
    likes = posts["likes"].astype(float) * (1 + per_month) ** effect * 30
    return posts.assign(likes=likes.round().astype("Int64"))


@pytest.mark.parametrize("family", ["lightgbm", "ridge"])
def test_new_frequent_posters_are_not_predicted_as_if_they_posted_rarely(family):
    """New accounts that post more than most training accounts (every other account of the
    busier half, so training still spans their posting rates) get fewer likes per post
    (``(1 + posts a month) ** -0.7``): a model blind to how often an account posts would
    predict them too high; the new-account slice's mean log error is within ±0.25."""
    posts = _frequent_posters_get_fewer_likes(generate_posts(6000, accounts=120, seed=11),
                                              effect=-0.7)
    counts = posts.groupby("account_id").size().sort_values(kind="stable")
    busy = counts.index[len(counts) // 2:]
    new = set(busy[::2])
    known = posts[~posts["account_id"].isin(new)].reset_index(drop=True)
    unseen = posts[posts["account_id"].isin(new)]
    settings = FeatureSettings()
    table = build_feature_table(known, settings).dropna(subset=["likes"]).reset_index(
        drop=True)
    model, _ = fit_post_model(
        family, FAMILIES[family], table=table, rows=np.arange(len(table)),
        known_posts=known, target="likes", settings=settings,
        feature_names=tabular_columns(settings), seed=0, history_dropout=1.0,
        scale=SCALE, model_cache_dir=None)
    bias = np.mean(np.log1p(model.predict(unseen))
                   - np.log1p(unseen["likes"].astype(float)))
    assert abs(bias) <= 0.25, bias


def test_new_account_slice_of_the_demo_data_is_unbiased():
    """A fixed fifth of 1,000 demo accounts (ids ending in 0 or 5) is new to the model; on
    their posts the mean log error is within ±0.25. With ~200 new accounts the slice's mean
    account level (sd 0.8 per account) is known to about ±0.1, so a cold-start row that
    got a wrong default (a history mean, an anchor, a routing to the wrong residual model)
    shows as bias; on a 24-account slice the same model's bias ranged -0.47..+0.94 over
    seeds, which is why the benchmark's 10 new tweet accounts cannot settle ±0.25."""
    posts = generate_posts(30000, accounts=1000, seed=3)
    new = posts["account_id"].str[-1].isin(["0", "5"])
    known, unseen = posts[~new].reset_index(drop=True), posts[new]
    settings = FeatureSettings()
    table = build_feature_table(known, settings).dropna(subset=["likes"]).reset_index(
        drop=True)
    model, _ = fit_post_model(
        "lightgbm", FAMILIES["lightgbm"], table=table, rows=np.arange(len(table)),
        known_posts=known, target="likes", settings=settings,
        feature_names=tabular_columns(settings), seed=0, history_dropout=1.0,
        scale=SCALE, model_cache_dir=None)
    assert unseen["account_id"].nunique() >= 190
    bias = np.mean(np.log1p(model.predict(unseen))
                   - np.log1p(unseen["likes"].astype(float)))
    assert abs(bias) <= 0.25, bias
