import numpy as np
import pandas as pd
import pytest

from pipelines import schema
from pipelines.collect.demo_data import END_OF_WINDOW, generate_posts


def test_same_seed_gives_identical_posts():
    pd.testing.assert_frame_equal(generate_posts(300, 10, seed=3), generate_posts(300, 10, seed=3))


def test_different_seed_gives_different_posts():
    assert not generate_posts(300, 10, seed=3)["likes"].equals(
        generate_posts(300, 10, seed=4)["likes"]
    )


def test_posts_follow_the_canonical_schema(demo_posts):
    assert tuple(demo_posts.columns) == schema.COLUMN_NAMES
    assert {str(d) for d in demo_posts.dtypes} <= {"string", "Int64", "datetime64[ns, UTC]"}
    assert set(demo_posts["platform"]) == set(schema.PLATFORMS)
    assert set(demo_posts["content_type"]) <= {"image", "video", "carousel", "text"}
    assert demo_posts["post_id"].is_unique
    assert demo_posts["posted_at"].is_monotonic_increasing
    assert demo_posts["posted_at"].max() < END_OF_WINDOW
    for column in ("likes", "comments", "shares", "followers_at_post_time"):
        assert demo_posts[column].min() >= 0


def test_likes_are_heavy_tailed(demo_posts):
    likes = demo_posts["likes"].astype(float)
    # Log-normal-like: mean far above the median, a long upper tail.
    assert likes.mean() > 1.8 * likes.median()
    assert likes.quantile(0.99) > 10 * likes.median()
    log_likes = np.log1p(likes)
    assert abs(log_likes.skew()) < 1.0  # roughly symmetric on the log scale


def test_likes_grow_with_followers_and_depend_on_platform(demo_posts):
    log_likes = np.log1p(demo_posts["likes"].astype(float))
    log_followers = np.log(demo_posts["followers_at_post_time"].astype(float))
    assert np.corrcoef(log_likes, log_followers)[0, 1] > 0.5
    rate = (log_likes - log_followers).groupby(demo_posts["platform"]).median()
    assert rate["instagram"] > rate["linkedin"] > rate["facebook"]


def test_followers_grow_over_time_per_account(demo_posts):
    def grows(group: pd.DataFrame) -> bool:
        return group["followers_at_post_time"].is_monotonic_increasing

    per_account = demo_posts.groupby("account_id").apply(grows, include_groups=False)
    assert per_account.all()


def test_post_kinds_are_seeded_per_platform_and_replies_get_fewer_likes():
    posts = generate_posts(6000, 40, seed=11)
    kinds = pd.crosstab(posts["platform"], posts["post_kind"], normalize="index")
    assert set(posts["post_kind"]) == set(schema.POST_KINDS)
    assert kinds.loc["instagram", "original"] == 1.0
    assert 0.07 < kinds.loc["twitter", "reply"] < 0.13
    assert 0.05 < kinds.loc["twitter", "quote"] < 0.11
    assert kinds.loc[["facebook", "linkedin"], "reply"].max() == 0
    assert kinds.loc[["facebook", "linkedin"], "share"].min() > 0.02
    log_likes = np.log1p(posts["likes"].astype(float))
    within = log_likes - log_likes.groupby(posts["account_id"]).transform("mean")
    by_kind = within.groupby(posts["post_kind"]).mean()
    assert by_kind["reply"] < by_kind["share"] < by_kind["quote"] < by_kind["original"]
    assert by_kind["original"] - by_kind["reply"] > 0.4


def test_caption_words_carry_signal():
    posts = generate_posts(6000, 40, seed=11)
    log_likes = np.log1p(posts["likes"].astype(float)) - np.log(
        posts["followers_at_post_time"].astype(float))
    giveaway = posts["caption"].str.contains("giveaway").astype(bool)
    assert log_likes[giveaway].mean() > log_likes[~giveaway].mean() + 0.2


@pytest.mark.parametrize("rows,accounts", [(0, 5), (5, 0)])
def test_rejects_empty_sizes(rows, accounts):
    with pytest.raises(ValueError, match="must be >= 1; got rows="):
        generate_posts(rows, accounts, seed=1)


def test_window_end_and_prefix():
    end = pd.Timestamp("2026-02-01", tz="UTC")
    posts = generate_posts(200, 5, seed=1, end=end, window_days=1, id_prefix="d20260131")
    assert posts["posted_at"].min() >= end - pd.Timedelta(days=1)
    assert posts["posted_at"].max() < end
    assert posts["post_id"].str.startswith("d20260131-").all()
    assert (posts["collected_at"] == end).all()
