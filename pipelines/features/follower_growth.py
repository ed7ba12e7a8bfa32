"""Follower-growth target: how much an account's audience grows over the next period.

Time is cut into fixed periods shared by every account: period ``k`` is
``[ORIGIN + k * period, ORIGIN + (k + 1) * period)`` with :data:`PERIOD_ORIGIN` a Monday, so a
``"7D"`` period is a Monday-to-Sunday UTC week and adding data never moves a boundary. One row
is built per (account, period) that has at least one observation (a post, or a day of a daily
follower series). A period without observations is a **gap**: it gets no row, and followers
are **not** carried forward into it, because nothing was observed there.

With ``F_k`` the followers at the period's last observation (the level known at its end) and
``L_k = log1p(F_k)`` (log1p so that zero-follower accounts stay defined):

* target ``follower_growth_next = L_{k+1} - L_k`` when the account has a row for period
  ``k + 1``; NaN for its last period and when period ``k + 1`` is a gap. It is the only column
  that reads a later period.
* every feature reads period ``k`` and earlier periods of the same account only:
  ``log_followers`` (``L_k``), ``posts``, ``follower_growth_within`` (``L_k`` minus ``log1p``
  of the period's first observation), ``follower_growth_prev`` (``(L_k - L_j) / (k - j)`` for
  the previous active period ``j``: the growth per period since then, 0 for the first),
  ``periods_since_prev`` (``k - j``, 0 for the first), ``active_periods`` (active periods so
  far, this one included) and, from posts only, ``mean_log_likes``, ``total_engagement``
  (likes + comments + shares; null counts add nothing), ``log_total_engagement`` and
  ``share_<content_type>`` for each canonical content type.

Accounts never mix: a row depends on its own account's rows only. Posts are keyed by
(``account_id``, ``platform``) because the same handle on two platforms has two audiences.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from pipelines import schema

logger = logging.getLogger(__name__)

#: Start of period 0: Monday 1970-01-05 UTC, so that "7D" periods are Monday-to-Sunday weeks.
PERIOD_ORIGIN = pd.Timestamp("1970-01-05", tz="UTC")

TARGET = "follower_growth_next"

#: Features every period table has (from posts or from a daily follower series).
BASE_FEATURES: tuple[str, ...] = (
    "log_followers", "posts", "follower_growth_within", "follower_growth_prev",
    "periods_since_prev", "active_periods",
)
#: Features only a post table has.
POST_FEATURES: tuple[str, ...] = (
    "mean_log_likes", "log_total_engagement",
    *(f"share_{c}" for c in schema.CONTENT_TYPES),
)

_POST_COLUMNS = ("account_id", "posted_at", "followers_at_post_time", "likes")


def account_periods(posts: pd.DataFrame, *, period: str) -> pd.DataFrame:
    """One row per (account, platform, period) with the period's features and next growth.

    Args:
        posts: Canonical posts; reads ``account_id``, ``platform`` (optional), ``posted_at``,
            ``followers_at_post_time``, ``likes``, ``comments``, ``shares`` and
            ``content_type`` (the last three optional).
        period: A fixed-length pandas offset such as ``"7D"`` or ``"1D"``.

    Returns:
        Rows sorted by account, platform and ``period_start``, with ``account_id``,
        ``platform``, ``period_start``, ``period_end`` (exclusive), ``followers``, the
        features described in the module docstring and :data:`TARGET`.

    Raises:
        ValueError: if ``period`` is not a fixed-length offset, ``posts`` is not a DataFrame,
            a required column is missing, ``account_id``/``posted_at`` are null or
            followers are negative.
    """
    where = "account_periods"
    step = _check_period(period, where)
    _check_frame(posts, list(_POST_COLUMNS), where)
    n = len(posts)
    account = posts["account_id"].astype("string").reset_index(drop=True)
    platform = (posts["platform"].astype("string").fillna("").reset_index(drop=True)
                if "platform" in posts.columns else pd.Series("", index=range(n), dtype="string"))
    t = _to_utc(posts["posted_at"], "posted_at", where)
    _check_not_null(account, t, "account_id", "posted_at", where)
    followers = _numeric(posts, "followers_at_post_time")
    _check_followers(followers, "followers_at_post_time", where)
    likes = _numeric(posts, "likes")
    likes[likes < 0] = np.nan
    engagement = (np.nan_to_num(likes) + np.nan_to_num(_numeric(posts, "comments"))
                  + np.nan_to_num(_numeric(posts, "shares")))
    content = (posts["content_type"].astype("string").reset_index(drop=True)
               if "content_type" in posts.columns
               else pd.Series(pd.NA, index=range(n), dtype="string"))
    extra = {"log_likes": np.log1p(likes), "total_engagement": engagement}
    for c in schema.CONTENT_TYPES:
        extra[f"share_{c}"] = (content == c).fillna(False).to_numpy(dtype=float)
    obs = pd.DataFrame({"account_id": account, "platform": platform, "t": t,
                        "followers": followers, "weight": 1.0, **extra})
    aggregations = {"mean_log_likes": ("log_likes", "mean"),
                    "total_engagement": ("total_engagement", "sum"),
                    **{f"share_{c}": (f"share_{c}", "mean") for c in schema.CONTENT_TYPES}}
    out = _periods(obs, keys=["account_id", "platform"], step=step, extra=aggregations)
    out.insert(out.columns.get_loc("total_engagement") + 1, "log_total_engagement",
               np.log1p(out["total_engagement"]))
    logger.info("account_periods: %d posts -> %d (account, period) rows, %d with a target",
                n, len(out), int(out[TARGET].notna().sum()))
    return out


def daily_follower_series(
    frame: pd.DataFrame,
    *,
    account_col: str,
    date_col: str,
    followers_col: str,
    period: str,
    posts_col: str | None = None,
) -> pd.DataFrame:
    """The period table of :func:`account_periods` from a daily follower series.

    Each row is one account-day with the follower count at that day's end (days without an
    observation are simply absent, as in the IRA file). ``posts`` is the sum of ``posts_col``
    over the period's days, or the number of observed days when ``posts_col`` is None. There
    are no likes or content types, so only :data:`BASE_FEATURES` and the target are built.

    Args:
        frame: The daily series.
        account_col: Column naming the account.
        date_col: Column with the day (parsed with ``pd.to_datetime``; naive means UTC).
        followers_col: Column with the follower count.
        posts_col: Optional column with the posts of the day.
        period: A fixed-length pandas offset such as ``"7D"``.

    Returns:
        Rows sorted by ``account_id`` and ``period_start`` with ``account_id``,
        ``period_start``, ``period_end``, ``followers``, :data:`BASE_FEATURES` and
        :data:`TARGET`.

    Raises:
        ValueError: on a bad ``period``, a missing column, unparseable or null dates or
            accounts, or negative followers.
    """
    where = "daily_follower_series"
    step = _check_period(period, where)
    needed = [account_col, date_col, followers_col, *([posts_col] if posts_col else [])]
    _check_frame(frame, needed, where)
    account = frame[account_col].astype("string").reset_index(drop=True)
    t = _to_utc(frame[date_col], date_col, where)
    _check_not_null(account, t, account_col, date_col, where)
    followers = _numeric(frame, followers_col)
    _check_followers(followers, followers_col, where)
    weight = np.nan_to_num(_numeric(frame, posts_col)) if posts_col else np.ones(len(frame))
    obs = pd.DataFrame({"account_id": account, "t": t, "followers": followers,
                        "weight": weight})
    out = _periods(obs, keys=["account_id"], step=step, extra={})
    logger.info("daily_follower_series: %d account-days -> %d (account, period) rows, "
                "%d with a target", len(frame), len(out), int(out[TARGET].notna().sum()))
    return out


def follower_growth_features(
    periods: pd.DataFrame, *, labelled_only: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """The model matrix of a period table: features that use no future information.

    Takes :data:`BASE_FEATURES`, plus :data:`POST_FEATURES` when the table has them (a table
    from :func:`account_periods`). Rows with a missing feature (no follower count, or no
    likes in the period) are dropped and counted in the log.

    Args:
        periods: Output of :func:`account_periods` or :func:`daily_follower_series`.
        labelled_only: Keep only rows whose target is known (training); False keeps every
            complete row, with NaN targets (scoring the latest periods).

    Returns:
        ``(X, y)`` on the same index; ``X`` is float and has no NaN.

    Raises:
        ValueError: if ``periods`` is not a DataFrame or lacks a base feature or the target.
    """
    where = "follower_growth_features"
    _check_frame(periods, [*BASE_FEATURES, TARGET], where)
    has_posts = all(c in periods.columns for c in POST_FEATURES)
    columns = [*BASE_FEATURES, *(POST_FEATURES if has_posts else ())]
    X = periods[columns].astype(float)
    keep = X.notna().all(axis=1) & np.isfinite(X).all(axis=1)
    incomplete = int((~keep).sum())
    if labelled_only:
        keep &= periods[TARGET].notna()
    if incomplete:
        logger.info("%s: dropped %d row(s) with a missing feature", where, incomplete)
    return X[keep], periods.loc[keep, TARGET].astype(float)


# --- internals ------------------------------------------------------------------------------


def _periods(obs: pd.DataFrame, *, keys: list[str], step: pd.Timedelta,
             extra: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Aggregate observations (``keys``, ``t``, ``followers``, ``weight``) into periods."""
    step_ns = step.value
    since = (obs["t"] - PERIOD_ORIGIN).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    obs = obs.assign(k=np.floor_divide(since, step_ns))
    # Followers break ties between same-instant observations, so the row order of the
    # input never changes which count is "the last".
    obs = obs.sort_values([*keys, "t", "followers"], kind="stable", na_position="first")
    grouped = obs.groupby([*keys, "k"], sort=True)
    table = grouped.agg(
        followers=("followers", "last"), first_followers=("followers", "first"),
        posts=("weight", "sum"), **extra,
    ).reset_index()
    account = table.groupby(keys, sort=False)
    level = np.log1p(table["followers"])
    k = table["k"]
    next_k, next_level = account["k"].shift(-1), level.groupby(
        [table[c] for c in keys], sort=False).shift(-1)
    prev_k, prev_level = account["k"].shift(1), level.groupby(
        [table[c] for c in keys], sort=False).shift(1)
    gap = k - prev_k
    out = table[keys].copy()
    out["period_start"] = PERIOD_ORIGIN + pd.to_timedelta(k * step_ns, unit="ns")
    out["period_end"] = out["period_start"] + step
    out["followers"] = table["followers"]
    out["log_followers"] = level
    out["posts"] = table["posts"].astype(float)
    out["follower_growth_within"] = level - np.log1p(table["first_followers"])
    out["follower_growth_prev"] = ((level - prev_level) / gap).fillna(0.0)
    out["periods_since_prev"] = gap.fillna(0).astype(float)
    out["active_periods"] = (account.cumcount() + 1).astype(float)
    for name in extra:
        out[name] = table[name].astype(float)
    out[TARGET] = np.where(next_k == k + 1, next_level - level, np.nan)
    return out.reset_index(drop=True)


def _check_period(value: object, where: str) -> pd.Timedelta:
    """Validate ``period`` and return its length."""
    message = (f"{where}: 'period' must be a pandas offset like '7D' (a fixed length in "
               f"days, hours or minutes); got {value!r}.")
    try:
        with warnings.catch_warnings():
            # Deprecated aliases ('M', 'H') warn before failing; the message below says why.
            warnings.simplefilter("ignore", FutureWarning)
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(value))
    except (ValueError, TypeError):
        raise ValueError(message) from None
    if pd.isna(step) or step <= pd.Timedelta(0):
        raise ValueError(message)
    return step


def _check_frame(frame: object, needed: list[str], where: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{where}: input must be a pandas DataFrame; "
                         f"got {type(frame).__name__}.")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: input is missing column(s) {missing}; required: {needed}.")


def _to_utc(values: pd.Series, name: str, where: str) -> pd.Series:
    try:
        return pd.to_datetime(values, utc=True).reset_index(drop=True)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: '{name}' must hold dates or timestamps; {error}") from None


def _check_not_null(account: pd.Series, t: pd.Series, account_name: str, time_name: str,
                    where: str) -> None:
    bad = account.isna() | t.isna()
    if bad.any():
        rows = list(np.flatnonzero(bad.to_numpy())[:5])
        raise ValueError(f"{where}: '{account_name}' and '{time_name}' must be non-null; "
                         f"{int(bad.sum())} row(s) are null, first positions {rows}.")


def _check_followers(followers: np.ndarray, name: str, where: str) -> None:
    bad = followers < 0
    if bad.any():
        rows = list(np.flatnonzero(bad)[:5])
        raise ValueError(f"{where}: '{name}' must be >= 0 or null; {int(bad.sum())} row(s) "
                         f"are negative, first positions {rows}.")


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float (NaN where null or unparseable; all NaN when absent)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[name], errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)
