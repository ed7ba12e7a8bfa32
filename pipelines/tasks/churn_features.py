"""Account snapshots at rolling cut-offs: the churn task's training table.

At each cut-off ``c`` (every ``spacing_days`` from ``history_days`` after the first day
seen), every account active in the ``active_within_days`` before ``c`` gets one row:

- **features** from its days up to and including ``c`` only (recency, active days in the
  last 7/30/90 days, posts and retweets in the last 30, tenure, the last follower and
  following counts, follower growth over the last 30 days, category);
- **label** ``churned`` = 1 when it has no active day in ``(c, c + horizon_days]``;
- **censored** (no row, counted) when the data end before ``c + horizon_days``: its future
  was not observed for the whole horizon, so it is neither churned nor retained.

The split is by cut-off: the newest cut-offs are the test part, the ones before them the
validation part (:func:`pipelines.train.split.time_split`: one cut-off never straddles
two parts). A row's label looks ``horizon_days`` past its cut-off, so training rows whose
label window reaches the first validation cut-off, and validation rows whose window reaches
the first test cut-off, are purged (counted): otherwise the model would learn from outcomes
that happen inside the period it is judged on.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from pipelines.tasks.binary_table_task import PART

logger = logging.getLogger(__name__)

#: What a client sends to score an account (its state at the cut-off), with dtypes.
SNAPSHOT_COLUMNS: dict[str, str] = {
    "days_since_last_activity": "int64", "active_days_7": "int64", "active_days_30": "int64",
    "active_days_90": "int64", "posts_30": "int64", "retweets_30": "int64",
    "tenure_days": "int64", "followers": "int64", "following": "int64",
    "follower_growth_30": "float64", "category": "object",
}
LOG_COLUMNS: tuple[str, ...] = ("days_since_last_activity", "posts_30", "retweets_30",
                                "tenure_days", "followers", "following")
PLAIN_COLUMNS: tuple[str, ...] = ("active_days_7", "active_days_30", "active_days_90",
                                  "follower_growth_30")
_DAY = pd.Timedelta(days=1)


def cutoffs(first: pd.Timestamp, last: pd.Timestamp, *, history_days: int,
            spacing_days: int) -> pd.DatetimeIndex:
    """Cut-offs every ``spacing_days`` from ``first + history_days`` up to ``last``."""
    begin = first.normalize() + history_days * _DAY
    if begin > last:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(begin, last, freq=f"{spacing_days}D")


def snapshots(days: pd.DataFrame, *, horizon_days: int, spacing_days: int,
              active_within_days: int, history_days: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per (active account, cut-off) with features, ``churned`` and ``cutoff``.

    Args:
        days: Canonical account-days (:mod:`pipelines.tasks.churn_data`).
        horizon_days: No activity this long after the cut-off = churned.
        spacing_days: Days between cut-offs.
        active_within_days: An account is scored at a cut-off when it was active this
            recently (an account gone for a year is not a churn risk, it has churned).
        history_days: First cut-off this long after the first day in the data.

    Returns:
        (the rows, sorted by cut-off then account; counts: cut-offs, eligible, censored).

    Raises:
        ValueError: for an empty table or a setting < 1.
    """
    for name, value in (("horizon_days", horizon_days), ("spacing_days", spacing_days),
                        ("active_within_days", active_within_days),
                        ("history_days", history_days)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"snapshots: '{name}' must be an int >= 1; got {value!r}.")
    if days.empty:
        raise ValueError("snapshots: 'days' is empty; no account to snapshot.")
    days = days.sort_values(["account_id", "date"], kind="stable")
    active = days[days["n_posts"] > 0]
    end = days["date"].max()
    first_seen = days.groupby("account_id")["date"].min()
    rows, censored, eligible = [], 0, 0
    points = cutoffs(days["date"].min(), end, history_days=history_days,
                     spacing_days=spacing_days)
    for cutoff in points:
        window = days[(days["date"] <= cutoff) & (days["date"] > cutoff - 90 * _DAY)]
        recent = active[(active["date"] <= cutoff)
                        & (active["date"] > cutoff - active_within_days * _DAY)]
        accounts = recent["account_id"].unique()
        if accounts.size == 0:
            continue
        eligible += accounts.size
        if cutoff + horizon_days * _DAY > end:
            censored += accounts.size
            continue
        window = window[window["account_id"].isin(accounts)]
        rows.append(_features(window, cutoff, first_seen))
        future = active[(active["date"] > cutoff)
                        & (active["date"] <= cutoff + horizon_days * _DAY)]
        rows[-1]["churned"] = (~rows[-1]["account_id"].isin(future["account_id"])).astype(
            "int64")
    columns = ["account_id", "cutoff", "churned", *SNAPSHOT_COLUMNS]
    table = (pd.concat(rows, ignore_index=True)[columns] if rows
             else pd.DataFrame(columns=columns))
    counts = {"cutoffs": len(points), "eligible": int(eligible), "censored": int(censored),
              "rows": len(table), "data_end": end.isoformat()}
    logger.info("churn snapshots: %d cut-offs, %d eligible (account, cut-off) pairs, %d "
                "censored (observed < %d days after the cut-off), %d labelled rows", len(points),
                eligible, censored, horizon_days, len(table))
    return table, counts


def _features(window: pd.DataFrame, cutoff: pd.Timestamp, first_seen: pd.Series
              ) -> pd.DataFrame:
    """Each account's features at ``cutoff`` from its rows of the 90 days up to it."""
    age = (cutoff - window["date"]).dt.days
    posted = window["n_posts"] > 0
    last30 = age < 30
    groups = window.assign(
        a7=posted & (age < 7), a30=posted & last30, a90=posted,
        p30=window["n_posts"].where(last30, 0), r30=window["n_retweets"].where(last30, 0),
        last_active=window["date"].where(posted),
        f30=window["followers"].where(last30)).groupby("account_id", sort=True)
    out = groups.agg(active_days_7=("a7", "sum"), active_days_30=("a30", "sum"),
                     active_days_90=("a90", "sum"), posts_30=("p30", "sum"),
                     retweets_30=("r30", "sum"), last_active=("last_active", "max"),
                     followers=("followers", "last"), following=("following", "last"),
                     f30_first=("f30", "first"), category=("category", "last"))
    growth = np.log1p(out["followers"]) - np.log1p(out["f30_first"].fillna(out["followers"]))
    out = out.assign(
        cutoff=cutoff, days_since_last_activity=(cutoff - out["last_active"]).dt.days,
        tenure_days=(cutoff - first_seen.loc[out.index]).dt.days,
        follower_growth_30=growth.astype(float)).reset_index()
    return out.astype({c: d for c, d in SNAPSHOT_COLUMNS.items()})


def split_by_cutoff(table: pd.DataFrame, *, horizon_days: int, valid_fraction: float,
                    test_fraction: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``table`` with :data:`PART` set by cut-off, purged rows removed (counted).

    Raises:
        ValueError: if a part would be empty (too few cut-offs).
    """
    from pipelines.train.split import time_split

    table = table.sort_values(["cutoff", "account_id"], kind="stable").reset_index(drop=True)
    split = time_split(table["cutoff"], valid_fraction, test_fraction)
    part = np.full(len(table), "train", dtype=object)
    part[split.valid], part[split.test] = "valid", "test"
    horizon = horizon_days * _DAY
    valid_start, test_start = pd.Timestamp(split.valid_start), pd.Timestamp(split.test_start)
    label_end = table["cutoff"] + horizon
    purged = (((part == "train") & (label_end >= valid_start))
              | ((part == "valid") & (label_end >= test_start)))
    out = table.assign(**{PART: part})[~purged].reset_index(drop=True)
    record: dict[str, Any] = {"valid_start": split.valid_start, "test_start": split.test_start,
                              "purged": int(purged.sum())}
    for name in ("train", "valid", "test"):
        rows = out[out[PART] == name]
        if rows.empty:
            raise ValueError(f"split_by_cutoff: the {name} part is empty after purging rows "
                             f"whose {horizon_days}-day label window reaches the next part; "
                             f"add cut-offs (smaller spacing_days) or change the fractions.")
        record[name] = {"rows": len(rows), "cutoffs": int(rows["cutoff"].nunique()),
                        "first": rows["cutoff"].min().isoformat(),
                        "last": rows["cutoff"].max().isoformat(),
                        "churn_rate": round(float(rows["churned"].mean()), 6)}
    logger.info("churn split: %s rows per part, %d purged (label window reaches the next "
                "part)", {n: record[n]["rows"] for n in ("train", "valid", "test")},
                record["purged"])
    return out, record
