"""Daily account activity for the churn task: the canonical ``account_days`` table, a seeded
demo generator, and the reader of the IRA followers daily CSV.

One row is one account on one day it was seen: follower, following and update counts that
day, posts and retweets that day, and the account's category. Days without a row are days
the account was not seen (the IRA file has a row only for days with a post). An account is
*active* on a day when it posted (``n_posts`` > 0).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.tasks.binary_table_task import QUARANTINE_KEY, Loaded
from pipelines.validate.entity_contract import parse_rejects, read_text_csv

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {
    "account_id": "object", "date": "datetime64[ns, UTC]", "followers": "int64",
    "following": "int64", "updates": "int64", "n_posts": "int64", "n_retweets": "int64",
    "category": "object",
}
#: The IRA file's header name of each canonical column.
IRA_HEADER: dict[str, str] = {
    "account_id": "author_id", "date": "date", "followers": "followers",
    "following": "following", "updates": "updates", "n_posts": "n_posts",
    "n_retweets": "n_retweets", "category": "account_category",
}
#: The account categories of the IRA data (Linvill & Warren's labels); others -> _other.
CATEGORIES: tuple[str, ...] = ("NonEnglish", "LeftTroll", "RightTroll", "NewsFeed",
                               "HashtagGamer", "Fearmonger", "Commercial", "Unknown")
_COUNTS = ("followers", "following", "updates", "n_posts", "n_retweets")


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes, sorted by account
    and day.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: account-day column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    out = pd.DataFrame({c: frame[c].astype(dtype) for c, dtype in COLUMNS.items()})
    return out.sort_values(["account_id", "date"], kind="stable").reset_index(drop=True)


def generate_account_days(accounts: int, days: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic daily activity of ``accounts`` accounts over ``days`` days.

    Each account starts on a random day, posts on a share of days (its activity rate, by
    category) and stops for good after a lifetime drawn from an exponential law; in the
    last weeks before it stops it posts less and less, which is the signal a churn model
    can learn. Some accounts pause for a few weeks and come back (noise a recency rule
    mistakes for churn). Followers grow with posting.

    Raises:
        ValueError: if ``accounts`` < 1, ``days`` < 60 or ``seed`` < 0.
    """
    if not isinstance(accounts, int) or accounts < 1:
        raise ValueError(f"generate_account_days: 'accounts' must be an int >= 1; got "
                         f"{accounts!r}.")
    if not isinstance(days, int) or days < 60:
        raise ValueError(f"generate_account_days: 'days' must be an int >= 60; got {days!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_account_days: 'seed' must be an int >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2016-01-01", tz="UTC")
    category_share = np.array([40, 15, 15, 10, 8, 5, 2, 5], dtype=float)
    rate_by_category = np.array([0.55, 0.6, 0.6, 0.8, 0.4, 0.3, 0.2, 0.3])
    life_by_category = np.array([200, 260, 260, 400, 150, 100, 80, 120], dtype=float)
    frames = []
    for index in range(accounts):
        category = rng.choice(len(CATEGORIES), p=category_share / category_share.sum())
        first = int(rng.integers(0, days - 30))
        life = max(int(rng.exponential(life_by_category[category])), 5)
        last = min(first + life, days)
        t = np.arange(first, last)
        fade = 1 / (1 + np.exp(-(last - t - 12) / 5)) if last < days else np.ones(t.size)
        rate = rate_by_category[category] * rng.uniform(0.5, 1.3)
        active = rng.random(t.size) < np.clip(rate * (0.15 + 0.85 * fade), 0, 0.98)
        if rng.random() < 0.15 and t.size > 80:            # a pause of 20-50 days
            pause = int(rng.integers(10, t.size - 60))
            active[pause:pause + int(rng.integers(20, 50))] = False
        seen = t[active]
        if seen.size == 0:
            continue
        posts = 1 + rng.poisson(3 + 5 * rate, size=seen.size)
        followers = np.cumsum(rng.poisson(2 + posts)) + int(rng.integers(0, 500))
        frames.append(pd.DataFrame({
            "account_id": f"demo-{index:05d}", "date": start + pd.to_timedelta(seen, "D"),
            "followers": followers, "following": followers // 3 + int(rng.integers(0, 300)),
            "updates": np.cumsum(posts), "n_posts": posts,
            "n_retweets": rng.binomial(posts, 0.4), "category": CATEGORIES[category]}))
    return conform(pd.concat(frames, ignore_index=True))


def read_ira_daily(path: Path, *, limits: ReadLimits) -> Loaded:
    """Read the IRA followers daily CSV (gzip or plain) into canonical account-days.

    Values are not judged here (negative counts pass; the row contract quarantines them):
    a record is rejected only when a value cannot be read (rules ``required_value``,
    ``parse_int``, ``parse_date``), with the file, row, column, rule and value.

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be read as CSV or lacks a column, naming both.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    raw = read_text_csv(path, IRA_HEADER, reader="read_ira_daily",
                        limits=limits)
    blank = raw.apply(lambda column: column.str.strip() == "")
    parsed: dict[str, pd.Series] = {
        "account_id": raw["account_id"].where(~blank["account_id"]),
        "category": raw["category"].where(~blank["category"]),
        "date": pd.to_datetime(raw["date"], errors="coerce", utc=True, format="%Y-%m-%d"),
    }
    for column in _COUNTS:
        number = pd.to_numeric(raw[column], errors="coerce")
        parsed[column] = number.where(number.notna() & (number == number.round())
                                      & (number.abs() < 2**53))
    readable, rejects = parse_rejects(
        raw, parsed, key="account_id", source=str(path), quarantine_key=QUARANTINE_KEY,
        rules={"account_id": "required_value", "category": "required_value",
               "date": "parse_date", **{c: "parse_int" for c in _COUNTS}})
    rows = conform(pd.DataFrame({c: values[readable] for c, values in parsed.items()}))
    logger.info("read_ira_daily: %s: %d records, %d account-days of %d accounts, %d rejected",
                path, len(raw), len(rows), rows["account_id"].nunique(), len(rejects))
    return Loaded(rows, rejects, len(raw), str(path))
