"""History sources: outcomes collected after training reach a registered model's features."""

import pickle

import numpy as np
import pandas as pd
import pytest

from pipelines.features.engagement_features import EngagementFeaturizer
from pipelines.features.history_source import FrameHistory, mature_outcomes, young_labels
from pipelines.features.settings import FeatureSettings


@pytest.fixture(scope="module")
def split_posts(demo_posts):
    posts = demo_posts.sort_values("posted_at").reset_index(drop=True)
    return posts.iloc[:1000], posts.iloc[1000:]


def _featurizer(old):
    return EngagementFeaturizer.from_settings(FeatureSettings(maturity_hours=48)).fit(old)


def test_a_source_brings_in_the_outcomes_collected_since_training(split_posts, demo_posts):
    old, new = split_posts
    featurizer = _featurizer(old)
    frozen = featurizer.transform(new)
    fresh = featurizer.attach_history(FrameHistory(demo_posts, maturity_hours=48)).transform(
        new)
    assert (fresh["account_matured_posts"] >= frozen["account_matured_posts"]).all()
    assert (fresh["account_matured_posts"] > frozen["account_matured_posts"]).mean() > 0.5
    # the same features as a history computed over everything (point in time by maturity)
    everything = _featurizer(demo_posts).transform(new)
    np.testing.assert_allclose(fresh["account_matured_posts"],
                               everything["account_matured_posts"])
    featurizer.attach_history(None)
    pd.testing.assert_frame_equal(featurizer.transform(new), frozen)


def test_outcomes_of_later_posts_never_leak_into_earlier_ones(split_posts, demo_posts):
    old, new = split_posts
    featurizer = _featurizer(old).attach_history(FrameHistory(demo_posts, maturity_hours=48))
    early = new.head(100)
    with_future = featurizer.transform(early)
    # changing every outcome of posts published after (post time - 48 h) changes nothing
    cutoff = early["posted_at"].min() - pd.Timedelta(hours=48)
    scrambled = demo_posts.assign(likes=np.where(demo_posts["posted_at"] > cutoff, 10**9,
                                                 demo_posts["likes"]))
    featurizer.attach_history(FrameHistory(scrambled, maturity_hours=48))
    first = early["posted_at"] == early["posted_at"].min()
    pd.testing.assert_frame_equal(featurizer.transform(early)[first], with_future[first])


def test_a_source_is_never_pickled_with_the_model(split_posts, demo_posts):
    old, _ = split_posts
    featurizer = _featurizer(old).attach_history(FrameHistory(demo_posts, maturity_hours=48))
    assert not hasattr(pickle.loads(pickle.dumps(featurizer)), "history_source_")


def test_young_counts_are_not_outcomes(demo_posts):
    posts = demo_posts.head(10).copy()
    posts["collected_at"] = posts["posted_at"] + pd.to_timedelta(
        [1, 47, 48, 49, 100, 0, 5, 200, 47.9, 48.1], unit="h")
    young = young_labels(posts, 48)
    assert young.tolist() == [True, True, False, False, False, True, True, False, True, False]
    matured = mature_outcomes(posts, 48)
    assert matured["likes"].isna().tolist() == young.tolist()
    assert (matured["followers_at_post_time"] == posts["followers_at_post_time"]).all()


def test_a_bad_source_is_named(split_posts):
    old, _ = split_posts
    with pytest.raises(ValueError, match="'outcomes\\(account_ids\\)' method"):
        _featurizer(old).attach_history(object())
    with pytest.raises(ValueError, match="missing column"):
        FrameHistory(pd.DataFrame({"account_id": ["a"]}), maturity_hours=48)


@pytest.mark.parametrize("content", [None, b"", b"x,y\n1,2\n", b"PAR1" + bytes(64)])
def test_a_history_file_that_is_not_parquet_posts_is_named(tmp_path, content):
    """`engageflow score --history PATH`: a missing or unreadable file is a ValueError
    naming the path, not a pyarrow traceback."""
    path = tmp_path / "history.parquet"
    if content is not None:
        path.write_bytes(content)
    rule = "no such file or folder" if content is None else "is not a readable Parquet"
    with pytest.raises(ValueError, match=f"FrameHistory\\('{path}'\\): .*{rule}"):
        FrameHistory(path, maturity_hours=48)


@pytest.mark.parametrize("inside_a_folder", [False, True])
def test_a_history_pipe_is_refused_unopened(tmp_path, inside_a_folder):
    """A named pipe would block the read forever: it is refused by name, as the collect
    readers refuse it."""
    import os

    folder = tmp_path / "history"
    folder.mkdir()
    pipe = folder / "posts.parquet"
    os.mkfifo(pipe)
    target = folder if inside_a_folder else pipe
    with pytest.raises(ValueError, match=f"file '{pipe}', rule 'not_regular_file': is a FIFO"):
        FrameHistory(target, maturity_hours=48)


def test_a_history_file_is_read_with_its_kinds(tmp_path, split_posts):
    _, later = split_posts
    later.to_parquet(tmp_path / "later.parquet")
    source = FrameHistory(tmp_path / "later.parquet", maturity_hours=48)
    got = source.outcomes(later["account_id"].unique()[:3])
    assert len(got) and got["post_kind"].notna().all()
