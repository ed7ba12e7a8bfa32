"""Churn snapshots on hand-built activity: the label, censoring, no look past the cut-off,
the purged split by cut-off, and the real IRA file on a subset of accounts."""

import numpy as np
import pandas as pd
import pytest

from pipelines.collect.formats import ReadLimits
from pipelines.tasks.binary_table_task import PART
from pipelines.tasks.churn_data import conform, generate_account_days, read_ira_daily
from pipelines.tasks.churn_features import snapshots, split_by_cutoff

LIMITS = ReadLimits.defaults()

SETTINGS = {"horizon_days": 30, "spacing_days": 10, "active_within_days": 30,
            "history_days": 20}
DAY0 = pd.Timestamp("2020-01-01", tz="UTC")


def activity(days_by_account: dict[str, list[int]]) -> pd.DataFrame:
    """Account-days with one post on each listed day (days after DAY0)."""
    rows = [{"account_id": a, "date": DAY0 + pd.Timedelta(days=d), "followers": 100 + d,
             "following": 10, "updates": d, "n_posts": 1, "n_retweets": 0,
             "category": "NewsFeed"} for a, days in days_by_account.items() for d in days]
    return conform(pd.DataFrame(rows))


def test_label_is_no_activity_within_the_horizon_and_late_cutoffs_are_censored():
    days = activity({"stays": list(range(0, 200, 3)), "leaves": list(range(0, 50, 2)),
                     "pauses": [*range(0, 40), *range(100, 200, 5)]})
    table, counts = snapshots(days, **SETTINGS)
    label = table.set_index(["account_id", "cutoff"])["churned"]
    at = {n: DAY0 + pd.Timedelta(days=n) for n in (20, 40, 50, 60, 80)}
    assert label[("stays", at[20])] == 0 and label[("stays", at[60])] == 0
    assert label[("leaves", at[40])] == 0           # posts on days 42-48
    assert label[("leaves", at[50])] == 1           # last post on day 48
    assert label[("leaves", at[60])] == 1           # still active within 30 days: scored
    assert ("leaves", at[80]) not in label.index    # gone for 32 days: not scored
    assert label[("pauses", at[40])] == 1           # back on day 100 > 40 + 30
    # The data end on day 198: a cut-off later than day 168 cannot see 30 days ahead.
    assert table["cutoff"].max() <= DAY0 + pd.Timedelta(days=168)
    assert counts["censored"] > 0
    assert counts["eligible"] == counts["rows"] + counts["censored"]


def test_label_of_an_account_active_within_the_horizon_is_zero():
    days = activity({"a": [0, 5, 10, 19, 45], "clock": [0, 300]})
    table, _ = snapshots(days, **SETTINGS)
    label = table[table["account_id"] == "a"].set_index("cutoff")["churned"]
    assert label[DAY0 + pd.Timedelta(days=20)] == 0      # active on day 45 <= 50
    assert label[DAY0 + pd.Timedelta(days=50)] == 1      # nothing after day 45


def test_features_see_nothing_after_the_cutoff():
    days = generate_account_days(40, 200, seed=4)
    table, _ = snapshots(days, **SETTINGS)
    cut = table["cutoff"].iloc[len(table) // 2]
    changed = days.copy()
    later = changed["date"] > cut
    changed.loc[later, ["followers", "n_posts", "n_retweets"]] = [10**6, 99, 50]
    again, _ = snapshots(changed, **SETTINGS)
    features = [c for c in table.columns if c != "churned"]
    before = table[table["cutoff"] <= cut][features].reset_index(drop=True)
    after = again[again["cutoff"] <= cut][features].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_recency_and_activity_counts_are_read_at_the_cutoff():
    days = activity({"a": [0, 3, 14, 18], "clock": [0, 300]})
    table, _ = snapshots(days, **{**SETTINGS, "spacing_days": 100})
    row = table[table["account_id"] == "a"].iloc[0]
    assert row["cutoff"] == DAY0 + pd.Timedelta(days=20)
    assert (row["days_since_last_activity"], row["active_days_7"], row["active_days_30"],
            row["tenure_days"]) == (2, 2, 4, 20)
    assert row["follower_growth_30"] == pytest.approx(np.log1p(118) - np.log1p(100))


def test_the_split_is_by_cutoff_and_purges_labels_that_reach_the_next_part():
    days = generate_account_days(60, 400, seed=2)
    table, _ = snapshots(days, **SETTINGS)
    out, record = split_by_cutoff(table, horizon_days=30, valid_fraction=0.2,
                                  test_fraction=0.2)
    train, valid, test = (out[out[PART] == p] for p in ("train", "valid", "test"))
    assert train["cutoff"].max() < valid["cutoff"].min() <= valid["cutoff"].max() < test[
        "cutoff"].min()
    horizon = pd.Timedelta(days=30)
    assert (train["cutoff"] + horizon < pd.Timestamp(record["valid_start"])).all()
    assert (valid["cutoff"] + horizon < pd.Timestamp(record["test_start"])).all()
    assert record["purged"] > 0 and len(out) + record["purged"] == len(table)


@pytest.mark.parametrize("bad", [{"horizon_days": 0}, {"spacing_days": -1},
                                 {"active_within_days": 1.5}])
def test_bad_settings_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        snapshots(activity({"a": [0, 1]}), **{**SETTINGS, **bad})


def test_demo_generator_is_seeded_and_canonical():
    a, b = generate_account_days(30, 120, seed=9), generate_account_days(30, 120, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_account_days(30, 120, seed=10))
    assert (a["n_posts"] > 0).all() and a["account_id"].nunique() <= 30
    with pytest.raises(ValueError, match="'days' must be an int >= 60"):
        generate_account_days(3, 10, seed=1)


@pytest.mark.shared_data
def test_real_ira_file_subset_snapshots(shared_data_dir, tmp_path):
    # The file is sorted by account: its first 40,000 records are whole accounts but one.
    subset = tmp_path / "ira_subset.csv"
    pd.read_csv(shared_data_dir / "ira_followers" / "ira_followers_daily.csv.gz",
                dtype=str, nrows=40_000).to_csv(subset, index=False)
    read = read_ira_daily(subset, limits=LIMITS)
    assert read.records_read == len(read.rows) + len(read.rejects) == 40_000
    assert read.rejects.empty
    days = read.rows
    table, counts = snapshots(days, horizon_days=30, spacing_days=30,
                              active_within_days=30, history_days=60)
    assert counts["eligible"] == counts["rows"] + counts["censored"] and counts["rows"] > 500
    assert 0.02 < table["churned"].mean() < 0.6
    assert (table["days_since_last_activity"].between(0, 29)).all()
