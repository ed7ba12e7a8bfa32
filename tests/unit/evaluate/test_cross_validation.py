import numpy as np
import pandas as pd
import pytest

from pipelines.collect.demo_data import generate_posts
from pipelines.evaluate.cross_validation import time_series_cv, time_series_folds
from pipelines.features.post_features import FEATURE_COLUMNS, build_post_features
from pipelines.train.model_zoo import make_model
from tests.conftest import SCALE


def _shuffled_hours(n, seed=0):
    times = pd.Series(pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"))
    return times.sample(frac=1, random_state=seed).reset_index(drop=True)


def test_folds_are_expanding_and_ordered_in_time():
    times = _shuffled_hours(120)
    folds = time_series_folds(times, k=5)
    assert len(folds) == 5
    for i, (train, valid) in enumerate(folds):
        assert times.iloc[train].max() < times.iloc[valid].min()
        assert (len(train), len(valid)) == (20 * (i + 1), 20)  # like TimeSeriesSplit
        if i:
            previous_train, previous_valid = folds[i - 1]
            assert set(train) == set(previous_train) | set(previous_valid)
    covered = np.concatenate([valid for _, valid in folds])
    assert len(set(covered)) == 100  # the last k/(k+1) of the rows, each validated once


def test_the_first_training_block_takes_the_remainder():
    folds = time_series_folds(_shuffled_hours(23), k=3)  # 23 // 4 = 5 rows a block
    assert [len(valid) for _, valid in folds] == [5, 5, 5]
    assert [len(train) for train, _ in folds] == [8, 13, 18]  # as in TimeSeriesSplit


def test_posts_at_the_same_instant_stay_on_one_side():
    times = pd.Series(pd.to_datetime(
        ["2026-01-01"] * 4 + ["2026-01-02"] * 5 + ["2026-01-03"] * 3 + ["2026-01-04"] * 3,
        utc=True)).sample(frac=1, random_state=2).reset_index(drop=True)
    for train, valid in time_series_folds(times, k=2):
        assert times.iloc[train].max() < times.iloc[valid].min()
        assert not set(times.iloc[train]) & set(times.iloc[valid])


def test_a_gap_in_rows_or_in_time_separates_train_from_validation():
    times = _shuffled_hours(120)
    by_rows = time_series_folds(times, k=5, gap=3)
    by_time = time_series_folds(times, k=5, gap="10h")
    for (train, valid), (train_t, valid_t) in zip(by_rows, by_time, strict=True):
        assert times.iloc[valid].min() - times.iloc[train].max() == pd.Timedelta("4h")
        assert times.iloc[valid_t].min() - times.iloc[train_t].max() == pd.Timedelta("11h")
        np.testing.assert_array_equal(valid, valid_t)


def test_k_below_two_is_an_error():
    with pytest.raises(ValueError, match=r"^time_series_cv: 'k' must be an int >= 2; got 1\.$"):
        time_series_folds(_shuffled_hours(10), k=1)
    with pytest.raises(ValueError, match="'k' must be an int >= 2; got True"):
        time_series_folds(_shuffled_hours(10), k=True)


@pytest.mark.parametrize(("times", "kwargs", "match"), [
    (_shuffled_hours(4), {"k": 5}, r"need at least k \+ 1 = 6 rows for k=5; got 4"),
    (pd.Series(pd.to_datetime(["2026-01-01"] * 12, utc=True)), {"k": 3},
     "fold 0 has 0 training and 0 validation rows"),
    (_shuffled_hours(12), {"k": 3, "gap": 4}, "fold 0 has 0 training"),
    (_shuffled_hours(12), {"k": 3, "gap": -1}, "'gap' must be an int >= 0 .* got -1"),
    (_shuffled_hours(12), {"k": 3, "gap": "soon"}, "'gap' must be .* got 'soon'"),
    (pd.Series(pd.to_datetime(["2026-01-01", None, "2026-01-03"], utc=True)), {"k": 2},
     r"'posted_at' has 1 missing time\(s\)"),
])
def test_bad_folds(times, kwargs, match):
    with pytest.raises(ValueError, match=match):
        time_series_folds(times, **kwargs)


@pytest.fixture(scope="module")
def posts():
    # The generator sorts by time; shuffle so positions and time order differ.
    return generate_posts(600, accounts=20, seed=9).sample(frac=1, random_state=1)


def test_cross_validation_reports_each_fold_and_the_spread(posts):
    x = build_post_features(posts)
    calls = []

    def make():
        calls.append(1)
        return make_model("ridge", {}, 0, list(FEATURE_COLUMNS), scale=SCALE)

    result = time_series_cv(make, x, posts["likes"], posts["posted_at"], k=3)
    assert len(calls) == 3 and result["k"] == 3 and result["gap"] == 0
    assert [f["fold"] for f in result["folds"]] == [0, 1, 2]
    for fold in result["folds"]:
        assert fold["train_end"] < fold["valid_start"] <= fold["valid_end"]
        assert fold["metrics"]["n"] == fold["valid_rows"]
    assert [f["train_rows"] for f in result["folds"]] == [150, 300, 450]
    maes = [f["metrics"]["mae_log"] for f in result["folds"]]
    assert result["mean"]["mae_log"] == pytest.approx(np.mean(maes))
    assert result["std"]["mae_log"] == pytest.approx(np.std(maes))
    assert "n" not in result["mean"] and set(result["mean"]) == set(result["std"])
    assert 0 < result["mean"]["mae_log"] < 3


def test_cross_validation_checks_lengths(posts):
    with pytest.raises(ValueError, match="one row per post; got 600, 599 and 600"):
        time_series_cv(lambda: None, posts, posts["likes"].iloc[1:], posts["posted_at"], k=3)
