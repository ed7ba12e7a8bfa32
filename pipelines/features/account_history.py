"""Account-history features: what an account's earlier posts say about its next one.

A post's likes keep growing for a day or two after it goes out, so at the moment a new post
is published only the account's *matured* earlier posts have a usable outcome. For a post of
account ``a`` published at ``t`` with maturity horizon ``m`` (``maturity_hours``):

* **known outcomes** are the account's posts with ``posted_at <= t - m`` and
  ``posted_at < t``. The maturity boundary is inclusive: a post exactly ``m`` old counts.
  The second condition only matters for ``m = 0`` and keeps a post's own outcome (and that
  of a same-instant twin) out of its features.
* **known posts** are the account's posts with ``posted_at < t``, matured or not: that a post
  exists, when it went out and the follower count then are known at once.

Columns (:data:`HISTORY_COLUMNS`, all float, never NaN), with ``log_likes = log1p(likes)``
and ``engagement_rate = (likes + comments + shares) / followers_at_post_time``:

* ``prev_posts_count``: number of known posts.
* ``posts_per_30d``: how often the account posts: its known posts published in
  ``(t - 30 d, t)``, scaled up to 30 days when its first known post is younger than that
  (``count · 30 d / max(t - first known post, 1 d)``), so an account first seen a week
  ago that posted 300 times reads as ~1,300 a month, not 300. Known without any outcome,
  so also for a new account's posts (likes per post fall as an account posts more:
  :mod:`pipelines.train.scale_relative`); 0 where the account has no known post.
* ``hours_since_prev_post``: hours from the latest known post to ``t``.
* ``follower_growth_since_prev``: ``log1p(followers now) - log1p(followers at that post)``.
* ``account_matured_posts``: number of known outcomes.
* ``account_mean_log_likes_all``: mean ``log_likes`` of all known outcomes (expanding mean).
* ``account_mean_engagement_rate_all``: mean ``engagement_rate`` of all known outcomes.
* ``account_{reply,quote,share}_frac_all``: the share of the known outcomes that are replies,
  quotes, shares (``post_kind``; a post whose kind the source does not say counts as none of
  them); 0 where there is no known outcome. The account's mean is made of its posts of every
  kind, and replies and shares get far fewer likes than the account's own posts, so the same
  mean says something different of an account that mostly replies and of one that never
  does: these fractions let a model tell them apart.
* ``roll_{7,30}d_matured_posts``: known outcomes posted in ``(t - W, t - m]``.
* ``roll_{7,30}d_mean_log_likes`` / ``roll_{7,30}d_mean_engagement_rate``: means over them.
* ``history_missing``: 1 when there is no known outcome (unseen account or only young posts).

Windows are anchored at the post's own time: ``(t - W, t - m]``, start exclusive. With the
default 48 h horizon the 7-day window therefore holds the posts aged 2 to 7 days, so a post
8 days old is in the 30-day window but not the 7-day one. A window that is empty (or
``W <= m``) has count 0 and its means fall back as below.

Bad or missing counts: rows whose ``likes`` are null (or negative) are never outcomes; they
still count as known posts. Null ``comments``/``shares`` mean "not reported" and add nothing
to the rate's numerator, so the rate uses the counts the source has. A post without a
positive follower count has no rate and is left out of the rate means only.

Fallback (no NaN anywhere), learned by :class:`HistoryFallback` from labelled posts:

* no known outcome → the means are the platform's mean ``log_likes`` / ``engagement_rate``
  over those labelled posts (the global mean where the platform is unknown or absent) and
  ``history_missing = 1``;
* known outcomes but none in a window → the window's means are the account's all-time means;
* known outcomes but none with a rate → the rate means use the platform fallback;
* no known post → ``hours_since_prev_post`` is the median gap between consecutive posts of an
  account in those labelled posts (24 h when there is none) and the growth is 0; followers
  missing at either end also give a growth of 0.

Everything is vectorized: both post pools are sorted by (account, time) once, per-account
cumulative sums are taken, and every count or sum over a time interval is a difference of two
cumulative values located with one ``np.searchsorted`` on a combined (account, time-rank) key.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipelines import schema
from pipelines.features.post_features import KIND_FEATURES

logger = logging.getLogger(__name__)

#: Rolling windows, in days, anchored at the post's own time.
WINDOW_DAYS: tuple[int, ...] = (7, 30)
#: The window, in days, of ``posts_per_30d`` (known posts, matured or not), and the
#: shortest span its count is scaled over.
POSTING_WINDOW_DAYS, POSTING_MIN_SPAN_DAYS = 30, 1

HISTORY_COLUMNS: tuple[str, ...] = (
    "prev_posts_count",
    "posts_per_30d",
    "hours_since_prev_post",
    "follower_growth_since_prev",
    "account_matured_posts",
    "account_mean_log_likes_all",
    "account_mean_engagement_rate_all",
    *(f"account_{k}_frac_all" for k in KIND_FEATURES),
    *(f"roll_{w}d_matured_posts" for w in WINDOW_DAYS),
    *(f"roll_{w}d_mean_log_likes" for w in WINDOW_DAYS),
    *(f"roll_{w}d_mean_engagement_rate" for w in WINDOW_DAYS),
    "history_missing",
)

#: Columns every input frame must carry; ``likes`` only where outcomes are read.
KEY_COLUMNS: tuple[str, ...] = ("account_id", "posted_at", "followers_at_post_time")

_NS_PER_HOUR = 3_600_000_000_000
_DEFAULT_GAP_HOURS = 24.0


@dataclass(frozen=True)
class HistoryFallback:
    """Values used where an account has no usable history (see the module docstring).

    Attributes:
        global_mean_log_likes: Mean ``log1p(likes)`` of the labelled posts (0.0 if none).
        global_mean_engagement_rate: Mean engagement rate of the labelled posts (0.0 if none).
        platform_mean_log_likes: The same mean per platform.
        platform_mean_engagement_rate: The same rate mean per platform.
        hours_since_prev_post: Median gap, in hours, between consecutive posts of an account.
    """

    global_mean_log_likes: float = 0.0
    global_mean_engagement_rate: float = 0.0
    platform_mean_log_likes: dict[str, float] = field(default_factory=dict)
    platform_mean_engagement_rate: dict[str, float] = field(default_factory=dict)
    hours_since_prev_post: float = _DEFAULT_GAP_HOURS

    @classmethod
    def from_posts(cls, posts: pd.DataFrame) -> HistoryFallback:
        """Learn the fallback from labelled posts (normally the training set).

        Raises:
            ValueError: if ``posts`` lacks a key column or ``likes``.
        """
        return _fallback_from_pool(
            _prepare(posts, where="HistoryFallback.from_posts", need_likes=True))


def account_history_features(
    posts: pd.DataFrame,
    *,
    maturity_hours: float,
    history: pd.DataFrame | None = None,
    fallback: HistoryFallback | None = None,
) -> pd.DataFrame:
    """Compute :data:`HISTORY_COLUMNS` for labelled posts, from their own matured past.

    Known outcomes are the labelled rows of ``posts`` and ``history`` together; known posts
    are all their rows. Use it for the training table, or to score a later period while
    simulating a history store that keeps collecting outcomes (``history`` = everything
    before the period, ``posts`` = the period). A row present in both frames (same
    ``account_id`` and ``post_id``, or same ``account_id`` and ``posted_at`` where either
    frame has no ``post_id``) is used once, with the outcome from ``history``.

    Args:
        posts: Canonical posts; needs :data:`KEY_COLUMNS`, and ``likes`` for its rows to
            serve as outcomes (``comments``, ``shares``, ``platform`` optional).
        maturity_hours: Age a post must reach before its outcome is used (>= 0).
        history: Optional earlier labelled posts, same columns (``likes`` required).
        fallback: Values for missing history; ``None`` learns them from ``history`` and
            ``posts`` together. Pass the training set's fallback when scoring other data.

    Returns:
        A float frame with :data:`HISTORY_COLUMNS`, aligned with ``posts.index``.

    Raises:
        ValueError: on a bad ``maturity_hours``, a missing key column, a null
            ``account_id`` or ``posted_at``, or a non-frame ``history``.
    """
    where = "account_history_features"
    maturity = _check_maturity(maturity_hours, where)
    queries = _prepare(posts, where=where, need_likes=False)
    if history is not None and not isinstance(history, pd.DataFrame):
        raise ValueError(
            f"{where}: 'history' must be a pandas DataFrame or None; "
            f"got {type(history).__name__}."
        )
    pool = queries
    if history is not None:
        pool = _union(_prepare(history, where=f"{where}(history)", need_likes=True), queries)
    if fallback is None:
        fallback = _fallback_from_pool(pool)
    return _compute(queries, outcomes=pool, known=pool, maturity_ns=maturity,
                    fallback=fallback, index=posts.index)


class AccountHistory(BaseEstimator, TransformerMixin):
    """Account-history features for a model: history frozen at fit time.

    ``fit(posts)`` stores the labelled training posts as ``history_`` (reduced to what the
    features read: ``account_id``, ``platform``, ``post_id``, ``t`` = ``posted_at`` in int64
    ns UTC, ``log_followers``, ``log_likes``, ``rate``) and learns ``fallback_``.
    ``transform(posts)`` then treats **only** ``history_`` as known outcomes: the batch's own
    ``likes`` (if any) are ignored, because at serving time a new post's outcome, and that of
    the other new posts next to it, is not known yet. The batch's rows
    do count as known *posts* (``prev_posts_count``, ``hours_since_prev_post``,
    ``follower_growth_since_prev``), which need no outcome. ``fit(X).transform(X)`` equals
    ``account_history_features(X, fallback=fallback_)``.

    Consequence for evaluation: on a test period after the training data the rolling windows
    go stale as the period goes on (a deployed model without a refreshed store sees the
    same). To simulate a store that keeps collecting outcomes, use
    ``account_history_features(test, history=train, fallback=fitted.fallback_)`` instead.

    Args:
        maturity_hours: Age a post must reach before its outcome is used (>= 0).
    """

    def __init__(self, maturity_hours: float) -> None:
        self.maturity_hours = maturity_hours

    def fit(self, X: pd.DataFrame, y: object = None) -> AccountHistory:  # noqa: N803
        """Store the labelled posts ``X`` as the known history and learn the fallback.

        Raises:
            ValueError: on a bad ``maturity_hours`` or a bad ``X`` (see the module).
        """
        _check_maturity(self.maturity_hours, "AccountHistory")
        pool = _prepare(X, where="AccountHistory.fit", need_likes=True)
        self.history_ = pool
        self.fallback_ = _fallback_from_pool(pool)
        self.n_features_out_ = len(HISTORY_COLUMNS)
        logger.info("account history: fitted on %d posts of %d accounts",
                    len(pool), pool["account_id"].nunique())
        return self

    def transform(self, X: pd.DataFrame, outcomes: pd.DataFrame | None = None  # noqa: N803
                  ) -> pd.DataFrame:
        """Features of ``X`` from the fitted history (outcomes) and ``X`` itself (posts only).

        Args:
            X: The posts to featurize.
            outcomes: Later posts with their counts (a history source's answer for the
                accounts of ``X``), added to the fitted history; where a post is in both,
                this fresher copy wins. Only outcomes matured before each post of ``X``
                are used, as always.

        Raises:
            sklearn.exceptions.NotFittedError: before ``fit``.
            ValueError: on a bad ``X`` or ``outcomes``.
        """
        check_is_fitted(self, "history_")
        maturity = _check_maturity(self.maturity_hours, "AccountHistory")
        queries = _prepare(X, where="AccountHistory.transform", need_likes=False)
        queries = queries.assign(log_likes=np.nan, rate=np.nan)  # the batch's outcomes: unknown
        outcomes_pool = self.history_
        if outcomes is not None and len(outcomes):
            outcomes_pool = _union(_prepare(outcomes, where="AccountHistory.transform"
                                            "(outcomes)", need_likes=True), self.history_)
        outcomes = outcomes_pool
        return _compute(queries, outcomes=outcomes, known=_union(outcomes, queries),
                        maturity_ns=maturity, fallback=self.fallback_, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(HISTORY_COLUMNS, dtype=object)


# --- interactions --------------------------------------------------------------------------

#: Interaction columns: integer codes for trees, indicators and harmonics for linear models.
INTERACTION_COLUMNS: tuple[str, ...] = (
    "platform_content_code",
    "platform_hour_code",
    *(f"pc_{p}_{c}" for p in schema.PLATFORMS for c in schema.CONTENT_TYPES),
    *(f"hour_{f}{k}_{p}" for p in schema.PLATFORMS for k in (1, 2) for f in ("sin", "cos")),
)


def interaction_features(posts: pd.DataFrame) -> pd.DataFrame:
    """Platform × content type and hour × platform, numeric-coded.

    * ``platform_content_code = platform_index * 5 + content_index`` and
      ``platform_hour_code = platform_index * 24 + hour`` (indices into
      :data:`schema.PLATFORMS` / :data:`schema.CONTENT_TYPES`; -1 where either part is
      unknown): one column each, for tree models.
    * ``pc_<platform>_<content>``: 0/1 indicator of each of the 20 pairs, for linear models.
    * ``hour_{sin,cos}{1,2}_<platform>``: the first two harmonics of the UTC hour
      (``sin(2πkh/24)``), times the platform indicator, so a linear model can learn a
      different daily curve (two peaks allowed) per platform. The hour is UTC, as in
      :mod:`pipelines.features.post_features`.

    Args:
        posts: Frame with ``platform``, ``content_type`` and ``posted_at``.

    Returns:
        A float frame with :data:`INTERACTION_COLUMNS`, aligned with ``posts.index``.

    Raises:
        ValueError: naming the missing input columns.
    """
    needed = ("platform", "content_type", "posted_at")
    missing = [c for c in needed if c not in posts.columns]
    if missing:
        raise ValueError(
            f"interaction_features: input is missing column(s) {missing}; "
            f"required: {list(needed)}."
        )
    platform = _category_index(posts["platform"], schema.PLATFORMS)
    content = _category_index(posts["content_type"], schema.CONTENT_TYPES)
    hour_series = pd.to_datetime(posts["posted_at"], utc=True, cache=False).dt.hour
    hour = hour_series.to_numpy(dtype=float, na_value=np.nan)
    known_hour = ~np.isnan(hour)
    n_content = len(schema.CONTENT_TYPES)
    data: dict[str, np.ndarray] = {
        "platform_content_code": np.where(
            (platform >= 0) & (content >= 0), platform * n_content + content, -1),
        "platform_hour_code": np.where(
            (platform >= 0) & known_hour, platform * 24 + np.nan_to_num(hour), -1),
    }
    for i, p in enumerate(schema.PLATFORMS):
        for j, c in enumerate(schema.CONTENT_TYPES):
            data[f"pc_{p}_{c}"] = (platform == i) & (content == j)
    angle = 2 * np.pi * np.nan_to_num(hour) / 24
    for i, p in enumerate(schema.PLATFORMS):
        on = (platform == i) & known_hour
        for k in (1, 2):
            data[f"hour_sin{k}_{p}"] = np.where(on, np.sin(k * angle), 0.0)
            data[f"hour_cos{k}_{p}"] = np.where(on, np.cos(k * angle), 0.0)
    return pd.DataFrame(data, index=posts.index)[list(INTERACTION_COLUMNS)].astype(float)


# --- internals ------------------------------------------------------------------------------


def _check_maturity(value: object, where: str) -> int:
    """Validate ``maturity_hours`` and return it in nanoseconds."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and math.isfinite(value) and value >= 0
    if not ok:
        raise ValueError(f"{where}: 'maturity_hours' must be a number >= 0; got {value!r}.")
    return int(round(float(value) * _NS_PER_HOUR))


def _prepare(frame: object, *, where: str, need_likes: bool) -> pd.DataFrame:
    """Validate a post frame and reduce it to the numeric columns the features read.

    Returns a frame on a fresh RangeIndex, in input order, with ``account_id``,
    ``platform``, ``post_id`` (both may be null), ``t`` (int64 ns UTC), ``log_followers``
    (NaN when unknown), ``log_likes`` and ``rate`` (NaN when no outcome), and ``kind``
    (the ``post_kind``'s index in :data:`schema.POST_KINDS`, -1 when not said).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{where}: posts must be a pandas DataFrame; got {type(frame).__name__}.")
    needed = [*KEY_COLUMNS, "likes"] if need_likes else list(KEY_COLUMNS)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: input is missing column(s) {missing}; required: {needed}."
        )
    account = frame["account_id"].astype("string").reset_index(drop=True)
    posted_at = pd.to_datetime(frame["posted_at"], utc=True, cache=False).reset_index(drop=True)
    bad = account.isna() | posted_at.isna()
    if bad.any():
        rows = list(np.flatnonzero(bad.to_numpy())[:5])
        raise ValueError(
            f"{where}: 'account_id' and 'posted_at' must be non-null; {int(bad.sum())} "
            f"row(s) are null, first positions {rows}."
        )
    n = len(frame)
    nan = np.full(n, np.nan)

    def numeric(name: str) -> np.ndarray:
        if name not in frame.columns:
            return nan.copy()
        values = pd.to_numeric(frame[name], errors="coerce")
        return values.to_numpy(dtype=float, na_value=np.nan)

    log_followers, log_likes, rate = outcome_values(
        numeric("followers_at_post_time"), numeric("likes"), numeric("comments"),
        numeric("shares"))
    text = {name: (frame[name].astype("string").reset_index(drop=True) if name in frame.columns
                   else pd.Series(pd.NA, index=range(n), dtype="string"))
            for name in ("platform", "post_id")}
    t = posted_at.dt.tz_convert(None).astype("datetime64[ns]").to_numpy().view("int64")
    kind = (_category_index(frame["post_kind"], schema.POST_KINDS) if "post_kind" in frame
            else np.full(n, -1, dtype=np.int64))
    return pd.DataFrame({
        "account_id": account, "platform": text["platform"],
        "post_id": text["post_id"], "t": t, "log_followers": log_followers,
        "log_likes": log_likes, "rate": rate, "kind": kind.astype(np.int8),
    })


def outcome_values(followers: np.ndarray, likes: np.ndarray, comments: np.ndarray,
                   shares: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log_followers``, ``log_likes`` and ``rate`` of posts from their float64 counts
    (NaN = unknown), as the module docstring defines them. :func:`_prepare` and the serving
    fast path (:mod:`pipelines.serve.fast_path`, merging a history source's posts) both
    call it, so the two paths compute the same floats."""
    likes = np.where(likes < 0, np.nan, likes)
    engaged = likes + np.nan_to_num(comments) + np.nan_to_num(shares)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(followers > 0, engaged / followers, np.nan)
        log_followers = np.where(followers >= 0, np.log1p(np.maximum(followers, 0)), np.nan)
    return log_followers, np.log1p(likes), rate


def kind_codes(pool: pd.DataFrame) -> np.ndarray:
    """A prepared pool's ``kind`` codes as int64, -1 where not said (also for a pool
    prepared before the column existed, e.g. the history of a model trained then)."""
    if "kind" not in pool:
        return np.full(len(pool), -1, dtype=np.int64)
    return pool["kind"].to_numpy(dtype=float, na_value=-1.0).astype(np.int64)


def kind_indicators(pool: pd.DataFrame) -> dict[str, np.ndarray]:
    """0/1 float columns, one per kind of :data:`KIND_FEATURES`, from :func:`kind_codes`."""
    codes = kind_codes(pool)
    return {kind: (codes == schema.POST_KINDS.index(kind)).astype(float)
            for kind in KIND_FEATURES}


def _union(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """All rows of ``first`` plus the rows of ``second`` that are not already in it."""
    has_ids = first["post_id"].notna().all() and second["post_id"].notna().all()
    key = ["account_id", "post_id"] if has_ids else ["account_id", "t"]
    # One int64 per (account, id) pair from hash-based factorizing: fast on 1M string ids.
    both = pd.concat([first[key], second[key]], ignore_index=True)
    a_codes = pd.factorize(both[key[0]])[0]
    b_codes = pd.factorize(both[key[1]])[0]
    pair = a_codes.astype(np.int64) * (b_codes.max(initial=0) + 1) + b_codes
    new = ~pd.Index(pair[len(first):]).isin(pair[:len(first)])
    return pd.concat([first, second[new]], ignore_index=True)


def _fallback_from_pool(pool: pd.DataFrame) -> HistoryFallback:
    """Learn :class:`HistoryFallback` from an already prepared pool."""
    outcomes = pool[pool["log_likes"].notna()]
    rated = outcomes[outcomes["rate"].notna()]
    codes = pd.factorize(pool["account_id"])[0]
    order = np.lexsort((pool["t"].to_numpy(), codes))
    t = pool["t"].to_numpy()[order]
    acct = codes[order]
    gaps = np.diff(t)[acct[1:] == acct[:-1]] / _NS_PER_HOUR
    return HistoryFallback(
        global_mean_log_likes=_mean_or(outcomes["log_likes"], 0.0),
        global_mean_engagement_rate=_mean_or(rated["rate"], 0.0),
        platform_mean_log_likes=_platform_means(outcomes, "log_likes"),
        platform_mean_engagement_rate=_platform_means(rated, "rate"),
        hours_since_prev_post=float(np.median(gaps)) if len(gaps) else _DEFAULT_GAP_HOURS,
    )


def _category_index(values: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``names``; -1 for null or unknown values."""
    return pd.Index(names).get_indexer(values.astype("string").fillna("")).astype(np.int64)


def _mean_or(values: pd.Series, default: float) -> float:
    return float(values.mean()) if len(values) else default


def _platform_means(frame: pd.DataFrame, column: str) -> dict[str, float]:
    known = frame[frame["platform"].notna()]
    return {str(k): float(v) for k, v in known.groupby("platform")[column].mean().items()}


def posting_rate_scale(observed_ns: np.ndarray | int) -> np.ndarray | float:
    """What a count of known posts over the last ``observed_ns`` (time since the account's
    first known post) is multiplied by to read as posts per 30 days: ``30 d / span``, the
    span within ``[1 d, 30 d]``. One definition for the batch and the serving code."""
    window = POSTING_WINDOW_DAYS * 24 * _NS_PER_HOUR
    shortest = POSTING_MIN_SPAN_DAYS * 24 * _NS_PER_HOUR
    return window / np.clip(observed_ns, shortest, window)


def _platform_value(platform: pd.Series, means: dict[str, float], default: float) -> np.ndarray:
    mapped = platform.map(means).astype("Float64").fillna(default)
    return mapped.to_numpy(dtype=float)


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each value among the distinct values (0-based); equal values share a rank."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.cumsum(np.concatenate([[False], ordered[1:] != ordered[:-1]]))
    return rank


class _Pool:
    """A post pool sorted by (account code, time), with per-account cumulative sums.

    Times enter as dense ranks shared with every instant the queries ask about, so that the
    (account, time) pair fits in one int64 key and one ``np.searchsorted`` finds, for a whole
    batch, the rows of each account up to an instant. ``cum`` reads per-account running sums
    (restarting at each account), which keeps every sum exact with respect to other
    accounts' rows: account B can never shift the floats of account A.
    """

    def __init__(self, codes: np.ndarray, ranks: np.ndarray, t: np.ndarray,
                 columns: dict[str, np.ndarray], n_accounts: int, n_ranks: int,
                 tie_break: tuple[str, ...]) -> None:
        # The ``tie_break`` columns (those whose sums are not exact in any order) order
        # equal-time rows, so they sum in one order however the input was shuffled.
        order = np.lexsort((*(columns[k] for k in sorted(tie_break)), ranks, codes))
        self.codes = codes[order]
        self.t = t[order]
        self.columns = {k: v[order] for k, v in columns.items()}
        self.n_ranks = n_ranks
        self.keys = self.codes * n_ranks + ranks[order]
        self.start = np.searchsorted(self.codes, np.arange(n_accounts + 1))
        frame = pd.DataFrame(self.columns)
        self.cums = {k: frame.groupby(self.codes, sort=False)[k].cumsum().to_numpy()
                     for k in self.columns}

    def position(self, codes: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Index one past the last row of each account at or before the ranked instant."""
        return np.searchsorted(self.keys, codes * self.n_ranks + ranks, side="right")

    def count(self, codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return pos - self.start[codes]

    def cum(self, name: str, codes: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Sum of column ``name`` over the account's rows before ``pos``."""
        if not len(self.t):
            return np.zeros(len(pos))
        before = pos - 1
        return np.where(before >= self.start[codes], self.cums[name][np.maximum(before, 0)], 0.0)


def _compute(queries: pd.DataFrame, *, outcomes: pd.DataFrame, known: pd.DataFrame,
             maturity_ns: int, fallback: HistoryFallback, index: pd.Index) -> pd.DataFrame:
    """The vectorized core: features of ``queries`` from two prepared pools."""
    outcomes = outcomes[outcomes["log_likes"].notna()]
    # Codes follow the sorted account ids, so they do not depend on the input's row order.
    accounts = pd.Index(pd.concat(
        [queries["account_id"], outcomes["account_id"], known["account_id"]]
    ).unique()).sort_values()

    def code(frame: pd.DataFrame) -> np.ndarray:
        return accounts.get_indexer(frame["account_id"]).astype(np.int64)

    # Work on the queries sorted by (account, time): every needle array below is then sorted
    # too, which makes the searches cache-friendly. ``order`` maps the results back.
    q_code_in, t_in = code(queries), queries["t"].to_numpy()
    order = np.lexsort((t_in, q_code_in))
    q_code, t = q_code_in[order], t_in[order]
    n = len(t)
    # Latest instant whose outcome may be used: matured, and strictly before the post itself.
    known_until = np.minimum(t - maturity_ns, t - 1)
    window_starts = [np.minimum(t - w * 24 * _NS_PER_HOUR, known_until) for w in WINDOW_DAYS]
    out_t, known_t = outcomes["t"].to_numpy(), known["t"].to_numpy()
    posting_window = POSTING_WINDOW_DAYS * 24 * _NS_PER_HOUR
    posting_start = t - posting_window
    instants = [out_t, known_t, t - 1, known_until, posting_start, *window_starts]
    ranks = np.split(_dense_rank(np.concatenate(instants)),
                     np.cumsum([len(a) for a in instants])[:-1])
    r_out, r_known, r_before, r_until, r_posting, *r_starts = ranks
    n_ranks = int(max((r.max(initial=0) for r in ranks), default=0)) + 1

    rated = outcomes["rate"].notna().to_numpy()
    sums_of = ("log_likes", "rate", "rated")
    out_pool = _Pool(code(outcomes), r_out, out_t, {
        "log_likes": outcomes["log_likes"].to_numpy(),
        "rate": np.where(rated, outcomes["rate"].to_numpy(), 0.0),
        "rated": rated.astype(float),
        **kind_indicators(outcomes),
    }, len(accounts), n_ranks, tie_break=sums_of)
    known_pool = _Pool(code(known), r_known, known_t,
                       {"log_followers": known["log_followers"].to_numpy()},
                       len(accounts), n_ranks, tie_break=("log_followers",))

    platform = queries["platform"].iloc[order]
    base_ll = _platform_value(platform, fallback.platform_mean_log_likes,
                              fallback.global_mean_log_likes)
    base_rate = _platform_value(platform, fallback.platform_mean_engagement_rate,
                                fallback.global_mean_engagement_rate)

    def sums(pos: np.ndarray) -> dict[str, np.ndarray]:
        return {"n": out_pool.count(q_code, pos).astype(float),
                **{k: out_pool.cum(k, q_code, pos) for k in sums_of}}

    def mean(total: np.ndarray, count: np.ndarray, default: np.ndarray) -> np.ndarray:
        return np.where(count > 0, total / np.where(count > 0, count, 1.0), default)

    until = out_pool.position(q_code, r_until)
    upto = sums(until)
    all_ll = mean(upto["log_likes"], upto["n"], base_ll)
    all_rate = mean(upto["rate"], upto["rated"], base_rate)
    data: dict[str, np.ndarray] = {
        "account_matured_posts": upto["n"],
        "account_mean_log_likes_all": all_ll,
        "account_mean_engagement_rate_all": all_rate,
        "history_missing": (upto["n"] == 0).astype(float),
    }
    for kind in KIND_FEATURES:
        data[f"account_{kind}_frac_all"] = mean(
            out_pool.cum(kind, q_code, until), upto["n"], np.zeros(n))
    for w, r_start in zip(WINDOW_DAYS, r_starts, strict=True):
        before = sums(out_pool.position(q_code, r_start))
        inside = {k: upto[k] - before[k] for k in upto}
        data[f"roll_{w}d_matured_posts"] = inside["n"]
        data[f"roll_{w}d_mean_log_likes"] = mean(inside["log_likes"], inside["n"], all_ll)
        data[f"roll_{w}d_mean_engagement_rate"] = mean(inside["rate"], inside["rated"],
                                                       all_rate)

    pos = known_pool.position(q_code, r_before)
    prev_count = known_pool.count(q_code, pos)
    has_prev = prev_count > 0
    prev = np.maximum(pos - 1, 0)
    prev_t = known_pool.t[prev] if len(known_pool.t) else np.zeros(n, dtype=np.int64)
    prev_lf = (known_pool.columns["log_followers"][prev] if len(known_pool.t)
               else np.full(n, np.nan))
    growth = queries["log_followers"].to_numpy()[order] - prev_lf
    data["prev_posts_count"] = prev_count.astype(float)
    # the window's start is exclusive: posts at or before it are counted out
    recent = prev_count - known_pool.count(q_code, known_pool.position(q_code, r_posting))
    first_t = (known_pool.t[np.minimum(known_pool.start[q_code], len(known_pool.t) - 1)]
               if len(known_pool.t) else t)
    data["posts_per_30d"] = np.where(has_prev, recent * posting_rate_scale(t - first_t), 0.0)
    data["hours_since_prev_post"] = np.where(
        has_prev, (t - prev_t) / _NS_PER_HOUR, fallback.hours_since_prev_post)
    data["follower_growth_since_prev"] = np.where(has_prev & np.isfinite(growth), growth, 0.0)

    columns = {}
    for name in HISTORY_COLUMNS:
        column = np.empty(n)
        column[order] = data[name]
        columns[name] = column
    return pd.DataFrame(columns, index=index)
