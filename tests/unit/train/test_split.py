import pandas as pd
import pytest

from pipelines.train.split import time_split


def test_parts_are_ordered_in_time_and_sized():
    times = pd.Series(pd.date_range("2026-01-01", periods=100, freq="h", tz="UTC"))
    split = time_split(times.sample(frac=1, random_state=1).reset_index(drop=True), 0.2, 0.1)
    shuffled = times.sample(frac=1, random_state=1).reset_index(drop=True)
    assert (len(split.train), len(split.valid), len(split.test)) == (70, 20, 10)
    assert shuffled.iloc[split.train].max() < shuffled.iloc[split.valid].min()
    assert shuffled.iloc[split.valid].max() < shuffled.iloc[split.test].min()


def test_ties_at_a_cut_stay_together():
    days = ["2026-01-01"] * 3 + ["2026-01-02"] * 4 + ["2026-01-03"] * 3
    split = time_split(pd.Series(pd.to_datetime(days, utc=True)), 0.3, 0.3)
    # The validation cut (position 4) falls inside the 4-post tie; the tie moves as a block.
    assert (len(split.train), len(split.valid), len(split.test)) == (3, 4, 3)


def test_empty_part_is_an_error():
    times = pd.Series(pd.to_datetime(["2026-01-01"] * 10, utc=True))
    with pytest.raises(ValueError, match="every part needs rows"):
        time_split(times, 0.2, 0.2)
