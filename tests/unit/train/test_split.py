import numpy as np
import pandas as pd
import pytest

from pipelines.train.split import COLD, WARM, cold_accounts, holdout_split, time_split


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


def test_held_out_accounts_are_a_fixed_hash_of_the_id():
    ids = pd.Series([f"acct-{i}" for i in range(2000)])
    held = cold_accounts(ids, 0.2)
    assert 0.17 < held.mean() < 0.23
    shuffled = ids.sample(frac=1, random_state=0)
    assert (cold_accounts(shuffled, 0.2) == held[shuffled.index]).all()  # order-free
    assert (cold_accounts(ids, 0.3) >= held).all()  # a larger share only adds accounts
    assert not cold_accounts(ids, 0.0).any()
    with pytest.raises(ValueError, match="'fraction' must be in"):
        cold_accounts(ids, 1.0)


def test_the_holdout_split_keeps_held_out_accounts_out_of_training(demo_posts):
    table = demo_posts.sort_values("posted_at").reset_index(drop=True)
    split = holdout_split(table, valid_fraction=0.15, test_fraction=0.15, cold_fraction=0.3)
    plain = time_split(table["posted_at"], 0.15, 0.15)
    assert not split.cold[split.train].any()
    assert set(split.train) == set(plain.train[~split.cold[plain.train]])
    assert (split.test == plain.test).all() and (split.valid == plain.valid).all()
    regimes = split.regimes(split.test)
    assert set(regimes) == {WARM, COLD}
    assert (np.asarray(regimes) == COLD).sum() == split.cold[split.test].sum()
