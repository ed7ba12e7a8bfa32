"""The request path of a registered post model, without pandas: dicts in, numpy out.

The registered model is ``Pipeline([("features", EngagementFeaturizer), ("model",
LogCountRegressor)])`` taking a DataFrame of canonical posts. Building a DataFrame per
request costs far more than the prediction itself, so :func:`compile_post_model` turns the
fitted pipeline into a :class:`CompiledPostModel` that computes the same feature row from
plain dicts:

- per-post and interaction features with scalar arithmetic (the hour harmonics come from a
  table computed by the batch code's own numpy expression);
- account history from per-account sorted lists (times, cumulative sums) precomputed from
  the featurizer's frozen ``history_`` in the order the batch code sums them, searched with
  ``bisect``. Posts of the same request count as known posts of each other, as in
  ``AccountHistory.transform``;
- the estimator from its fitted arrays: standardized ridge as a dot product, LightGBM via
  its booster on a numpy row, a random forest by walking all trees at once in numpy.

Models outside this shape (caption embeddings, other estimators, unknown wrappers) keep the
DataFrame path: :attr:`CompiledPostModel.fast` says which one a model got. Equality with
``model.predict(DataFrame)`` is tested for every model family registered by default.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.features.post_features import KIND_FEATURES

logger = logging.getLogger(__name__)

_NS_PER_HOUR = 3_600_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLATFORM_INDEX = {p: i for i, p in enumerate(schema.PLATFORMS)}
_CONTENT_INDEX = {c: i for i, c in enumerate(schema.CONTENT_TYPES)}
_COUNT_FIELDS = ("hashtags_count", "mentions_count", "urls_count", "media_count")
_KIND_CODE = {k: i for i, k in enumerate(schema.POST_KINDS)}
_KIND_INDEX = {k: _KIND_CODE[k] for k in KIND_FEATURES}
#: numpy's log1p, as the batch code calls it (math.log1p differs in the last bit at times)
_LOG1P = np.log1p


def epoch_ns(moment: datetime) -> int:
    """``moment`` (naive = UTC) as int nanoseconds since the epoch, exactly."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _hour_table() -> dict[tuple[str, int], list[float]]:
    # The batch code's expression (interaction_features), evaluated once for hours 0..23.
    hour = np.arange(24, dtype=float)
    angle = 2 * np.pi * np.nan_to_num(hour) / 24
    return {(f, k): (np.sin(k * angle) if f == "sin" else np.cos(k * angle)).tolist()
            for f in ("sin", "cos") for k in (1, 2)}


@dataclass
class _Account:
    """One account's frozen history, in the batch code's summation order."""

    out_t: list[int]
    cum_log_likes: list[float]
    cum_rate: list[float]
    cum_rated: list[float]
    #: running counts of the outcomes of each kind of ``KIND_FEATURES``
    cum_kind: dict[str, list[float]]
    known_t: list[int]
    known_lf: list[float]
    #: (post ids, times) of the account's posts, where a history source merged them in
    known: tuple[frozenset[str], frozenset[int]] | None = None


def _accounts_from_pool(pool: pd.DataFrame) -> dict[str, _Account]:
    """Per-account lists of a prepared pool (``account_history._prepare`` columns)."""
    from pipelines.features.account_history import kind_indicators

    accounts = pool["account_id"].astype(str).to_numpy()
    t_all = pool["t"].to_numpy()
    lf_all = pool["log_followers"].to_numpy()
    ll_all = pool["log_likes"].to_numpy()
    rate_all = pool["rate"].to_numpy()
    kinds_all = kind_indicators(pool)
    codes, names = pd.factorize(accounts)
    # outcomes in the batch code's order (account, time, rated, rate, log_likes) and its
    # per-account running sums: pandas' grouped cumsum (compensated), not np.cumsum, so
    # every window sum matches to the last bit
    labelled = np.flatnonzero(~np.isnan(ll_all))
    rated = (~np.isnan(rate_all[labelled])).astype(float)
    rate = np.where(rated > 0, rate_all[labelled], 0.0)
    ll, ot, oc = ll_all[labelled], t_all[labelled], codes[labelled]
    order = np.lexsort((ll, rate, rated, ot, oc))
    sums = pd.DataFrame({"log_likes": ll[order], "rate": rate[order], "rated": rated[order],
                         **{k: v[labelled][order] for k, v in kinds_all.items()}}
                        ).groupby(oc[order], sort=False).cumsum()
    oc, ot = oc[order], ot[order]
    bounds = np.searchsorted(oc, np.arange(len(names) + 1))
    known_order = np.lexsort((lf_all, t_all, codes))   # (time, followers; NaN last)
    kc = codes[known_order]
    known_bounds = np.searchsorted(kc, np.arange(len(names) + 1))
    kt, klf = t_all[known_order], lf_all[known_order]
    out = {}
    for code, account in enumerate(names):
        lo, hi = bounds[code], bounds[code + 1]
        klo, khi = known_bounds[code], known_bounds[code + 1]
        out[str(account)] = _Account(
            out_t=ot[lo:hi].tolist(),
            cum_log_likes=sums["log_likes"].to_numpy()[lo:hi].tolist(),
            cum_rate=sums["rate"].to_numpy()[lo:hi].tolist(),
            cum_rated=sums["rated"].to_numpy()[lo:hi].tolist(),
            cum_kind={k: sums[k].to_numpy()[lo:hi].tolist() for k in KIND_FEATURES},
            known_t=kt[klo:khi].tolist(), known_lf=klf[klo:khi].tolist())
    return out


def _running_sums(values: np.ndarray) -> list[float]:
    """Running sums of ``values`` exactly as pandas' grouped ``cumsum`` takes them (Kahan
    compensated summation, ``pandas._libs.groupby.group_cumsum``), so an account merged
    here matches :func:`_accounts_from_pool` and the batch path to the last bit (tested)."""
    out = []
    total = compensation = 0.0
    for value in values.tolist():
        y = value - compensation
        t = total + y
        compensation = t - total - y
        total = t
        out.append(t)
    return out


def _account_from_arrays(t: np.ndarray, log_followers: np.ndarray, log_likes: np.ndarray,
                         rate: np.ndarray, kind: np.ndarray) -> _Account:
    """One account's lists from its prepared rows (``kind``: ``POST_KINDS`` index, -1 not
    said): :func:`_accounts_from_pool` for a single account, in numpy (no DataFrame: a
    history-source refresh costs well under 1 ms)."""
    labelled = ~np.isnan(log_likes)
    rated = (~np.isnan(rate[labelled])).astype(float)
    rate_l = np.where(rated > 0, rate[labelled], 0.0)
    ll, ot = log_likes[labelled], t[labelled]
    order = np.lexsort((ll, rate_l, rated, ot))
    known_order = np.lexsort((log_followers, t))    # (time, followers; NaN last)
    return _Account(out_t=ot[order].tolist(), cum_log_likes=_running_sums(ll[order]),
                    cum_rate=_running_sums(rate_l[order]),
                    cum_rated=_running_sums(rated[order]),
                    cum_kind={k: np.cumsum(kind[labelled][order] == _KIND_INDEX[k],
                                           dtype=float).tolist() for k in KIND_FEATURES},
                    known_t=t[known_order].tolist(),
                    known_lf=log_followers[known_order].tolist())


class _History:
    """``AccountHistory`` (fitted) as per-account lists for scalar lookups; with a history
    source attached, each account's lists are rebuilt from the frozen history plus the
    source's posts whenever the source's answer changes (a :class:`CachedHistory`
    generation): on the cache's refresher thread before the answer is visible, or on the
    caller's thread for an account read there."""

    def __init__(self, fitted: Any) -> None:
        pool: pd.DataFrame = fitted.history_
        fallback = fitted.fallback_
        from pipelines.features.account_history import (
            POSTING_WINDOW_DAYS,
            kind_codes,
            posting_rate_scale,
        )

        self.posting_rate_scale = posting_rate_scale
        self.maturity_ns = int(round(float(fitted.maturity_hours) * _NS_PER_HOUR))
        self.posting_ns = POSTING_WINDOW_DAYS * 24 * _NS_PER_HOUR
        self.global_ll = fallback.global_mean_log_likes
        self.global_rate = fallback.global_mean_engagement_rate
        self.platform_ll = dict(fallback.platform_mean_log_likes)
        self.platform_rate = dict(fallback.platform_mean_engagement_rate)
        self.gap_hours = fallback.hours_since_prev_post
        self.has_ids = bool(pool["post_id"].notna().all())
        accounts = pool["account_id"].astype(str).to_numpy()
        ids = pool["post_id"].astype(str)
        self.known_ids = (set(zip(accounts, ids, strict=True)) if self.has_ids else set())
        self.known_times = set(zip(accounts, pool["t"].tolist(), strict=True))
        self.accounts = _accounts_from_pool(pool)
        # the frozen rows as arrays, for merging a source's posts without pandas
        self.pool_ids = ids.to_numpy(dtype=object)
        self.pool_t = pool["t"].to_numpy(dtype=np.int64)
        self.pool_values = (pool["log_followers"].to_numpy(dtype=float),
                            pool["log_likes"].to_numpy(dtype=float),
                            pool["rate"].to_numpy(dtype=float), kind_codes(pool))
        self.rows_of = pool.groupby(accounts, sort=False).indices
        self.source: Any = None
        self.merged: dict[str, tuple[int, _Account | None]] = {}
        self._merged_lock = threading.Lock()

    def attach(self, source: Any) -> None:
        """Read accounts' later posts from ``source`` too (None: the frozen history only).

        A :class:`~pipelines.features.history_cache.CachedHistory` is used as it is (and
        rebuilds this model's arrays on its refresher thread); any other source is read on
        every request.
        """
        from pipelines.features.history_cache import CachedHistory

        if source is not None and not isinstance(source, CachedHistory):
            source = CachedHistory(source, max_age_seconds=0)
        self.source, self.merged = source, {}
        if source is not None:
            source.on_refresh(self._prebuild)

    def _prebuild(self, fresh: dict[str, Any]) -> None:
        for account, entry in fresh.items():
            self._remember(account, entry.generation, self._merge(account, entry.posts))

    def _remember(self, account: str, generation: int, merged: _Account | None) -> None:
        with self._merged_lock:
            cached = self.merged.get(account)
            if cached is None or cached[0] < generation:
                self.merged[account] = (generation, merged)

    def _merge(self, account: str, posts: Any) -> _Account | None:
        """The account's lists from its frozen rows plus ``posts`` (an
        :class:`~pipelines.features.history_source.AccountPosts`): the batch code's union
        (``account_history._union``: the source's copy of a post wins) and per-account
        sums, in numpy."""
        from pipelines.features.account_history import outcome_values

        if not len(posts):
            return self.accounts.get(account)
        rows = self.rows_of.get(account, np.empty(0, dtype=np.int64))
        source_ids = ["<NA>" if i is None else i for i in posts.post_id.tolist()]
        if self.has_ids and None not in posts.post_id.tolist():
            ids = set(source_ids)
            keep = rows[np.fromiter((i not in ids for i in self.pool_ids[rows].tolist()),
                                    dtype=bool, count=len(rows))]
        else:
            keep = rows[~np.isin(self.pool_t[rows], posts.t)]
        known_ids = frozenset(source_ids).union(self.pool_ids[keep].tolist())
        log_followers, log_likes, rate = outcome_values(posts.followers, posts.likes,
                                                        posts.comments, posts.shares)
        t = np.concatenate([posts.t, self.pool_t[keep]])
        said = (np.full(len(posts), -1, dtype=np.int64) if posts.post_kind is None else
                np.fromiter((_KIND_CODE.get(k, -1) for k in posts.post_kind.tolist()),
                            dtype=np.int64, count=len(posts)))
        merged = _account_from_arrays(
            t, np.concatenate([log_followers, self.pool_values[0][keep]]),
            np.concatenate([log_likes, self.pool_values[1][keep]]),
            np.concatenate([rate, self.pool_values[2][keep]]),
            np.concatenate([said, self.pool_values[3][keep]]))
        merged.known = (known_ids, frozenset(t.tolist()))
        return merged

    def lookup(self, account_ids: Sequence[str]) -> dict[str, _Account | None]:
        """Each account's lists: frozen, or frozen + the source's posts (rebuilt only when
        the source's answer for the account changed)."""
        if self.source is None:
            return {a: self.accounts.get(a) for a in account_ids}
        out: dict[str, _Account | None] = {}
        for account, entry in self.source.accounts(account_ids).items():
            cached = self.merged.get(account)
            if cached is not None and cached[0] == entry.generation:
                out[account] = cached[1]
                continue
            merged = self._merge(account, entry.posts)
            self._remember(account, entry.generation, merged)
            out[account] = merged
        return out

    def _sums(self, acc: _Account | None, instant: int) -> tuple[float, float, float, float]:
        if acc is None:
            return 0.0, 0.0, 0.0, 0.0
        pos = bisect.bisect_right(acc.out_t, instant)
        if pos == 0:
            return 0.0, 0.0, 0.0, 0.0
        return (float(pos), acc.cum_log_likes[pos - 1], acc.cum_rate[pos - 1],
                acc.cum_rated[pos - 1])

    @staticmethod
    def _kind_fractions(acc: _Account | None, n: float) -> dict[str, float]:
        """Shares of the kinds among the ``n`` outcomes :meth:`_sums` found."""
        pos = int(n)
        return {f"account_{k}_frac_all": acc.cum_kind[k][pos - 1] / pos if pos else 0.0
                for k in KIND_FEATURES}

    def features(self, post: dict[str, Any], t: int,
                 batch_known: Sequence[tuple[int, float]],
                 acc: _Account | None) -> dict[str, float]:
        """History features of one post of the account whose lists are ``acc``;
        ``batch_known`` are the (t, log_followers) of the request's other new posts of the
        same account (not already in the history)."""
        platform = post["platform"]
        base_ll = self.platform_ll.get(platform, self.global_ll)
        base_rate = self.platform_rate.get(platform, self.global_rate)
        known_until = min(t - self.maturity_ns, t - 1)
        n, ll, rate, rated = self._sums(acc, known_until)
        all_ll = ll / n if n > 0 else base_ll
        all_rate = rate / rated if rated > 0 else base_rate
        out = {"account_matured_posts": n, "account_mean_log_likes_all": all_ll,
               "account_mean_engagement_rate_all": all_rate,
               "history_missing": 1.0 if n == 0 else 0.0,
               **self._kind_fractions(acc, n)}
        for w in (7, 30):
            start = min(t - w * 24 * _NS_PER_HOUR, known_until)
            bn, bll, brate, brated = self._sums(acc, start)
            i_n, i_ll, i_rate, i_rated = n - bn, ll - bll, rate - brate, rated - brated
            out[f"roll_{w}d_matured_posts"] = i_n
            out[f"roll_{w}d_mean_log_likes"] = i_ll / i_n if i_n > 0 else all_ll
            out[f"roll_{w}d_mean_engagement_rate"] = i_rate / i_rated if i_rated > 0 \
                else all_rate
        # known posts: the history's and the request's own, strictly before t
        count = recent = 0
        posting_start, first = t - self.posting_ns, t
        prev: tuple[int, float] | None = None
        if acc is not None:
            count = bisect.bisect_right(acc.known_t, t - 1)
            recent = count - bisect.bisect_right(acc.known_t, posting_start)
            if count:
                prev = (acc.known_t[count - 1], acc.known_lf[count - 1])
                first = acc.known_t[0]
        for other in batch_known:
            if other[0] <= t - 1:
                count += 1
                recent += other[0] > posting_start
                first = min(first, other[0])
                if prev is None or _known_key(other) > _known_key(prev):
                    prev = other
        out["prev_posts_count"] = float(count)
        out["posts_per_30d"] = (float(recent * self.posting_rate_scale(t - first)) if count
                                else 0.0)
        if prev is None:
            out["hours_since_prev_post"] = self.gap_hours
            out["follower_growth_since_prev"] = 0.0
        else:
            out["hours_since_prev_post"] = float(t - prev[0]) / float(_NS_PER_HOUR)
            growth = _history_log_followers(post["followers_at_post_time"]) - prev[1]
            out["follower_growth_since_prev"] = growth if math.isfinite(growth) else 0.0
        return out

    def is_known(self, post: dict[str, Any], t: int, acc: _Account | None) -> bool:
        """Whether the history already holds this post (it is then not added twice)."""
        if acc is not None and acc.known is not None:
            return post["post_id"] in acc.known[0] if self.has_ids else t in acc.known[1]
        if self.has_ids:
            return (post["account_id"], post["post_id"]) in self.known_ids
        return (post["account_id"], t) in self.known_times


def _known_key(row: tuple[int, float]) -> tuple[int, float]:
    return (row[0], math.inf if math.isnan(row[1]) else row[1])


def _history_log_followers(followers: float | None) -> float:
    if followers is None or math.isnan(followers) or followers < 0:
        return math.nan
    return float(_LOG1P(max(float(followers), 0.0)))


class _Features:
    """``EngagementFeaturizer`` (fitted, no text) as scalar code over dicts."""

    def __init__(self, featurizer: Any) -> None:
        self.names = list(featurizer.feature_names_)
        self.interactions = bool(featurizer.interactions)
        self.history = _History(featurizer.history_) if featurizer.history_ is not None \
            else None
        self.hours = _hour_table()

    def rows(self, posts: Sequence[dict[str, Any]]) -> np.ndarray:
        times = [epoch_ns(p["posted_at"]) for p in posts]
        new_known: dict[str, list[tuple[int, float]]] = {}
        accounts = (self.history.lookup(list(dict.fromkeys(p["account_id"] for p in posts)))
                    if self.history is not None else {})
        if self.history is not None and len(posts) > 1:
            for post, t in zip(posts, times, strict=True):
                if not self.history.is_known(post, t, accounts[post["account_id"]]):
                    new_known.setdefault(post["account_id"], []).append(
                        (t, _history_log_followers(post["followers_at_post_time"])))
        matrix = np.empty((len(posts), len(self.names)))
        for i, (post, t) in enumerate(zip(posts, times, strict=True)):
            values = self._post(post)
            if self.history is not None:
                values.update(self.history.features(
                    post, t, new_known.get(post["account_id"], ()), accounts[post["account_id"]]))
            matrix[i] = [values[name] for name in self.names]
        return matrix

    def _post(self, post: dict[str, Any]) -> dict[str, float]:
        moment: datetime = post["posted_at"]
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        hour, weekday = moment.hour, moment.weekday()
        platform, content = post["platform"], post["content_type"]
        caption = post.get("caption") or ""
        followers = post["followers_at_post_time"]
        out: dict[str, float] = {
            "hour": float(hour), "weekday": float(weekday), "month": float(moment.month),
            "is_weekend": 1.0 if weekday >= 5 else 0.0,
            "caption_chars": float(len(caption)), "caption_words": float(len(caption.split())),
            "log_followers": float(_LOG1P(max(float(followers), 0.0)))
            if followers is not None and not math.isnan(followers) else 0.0,
        }
        for name in schema.PLATFORMS:
            out[f"platform_{name}"] = 1.0 if platform == name else 0.0
        for name in schema.CONTENT_TYPES:
            out[f"content_{name}"] = 1.0 if content == name else 0.0
        kind = post.get("post_kind")
        for name in KIND_FEATURES:
            out[f"kind_{name}"] = 1.0 if kind == name else 0.0
        for name in _COUNT_FIELDS:
            value = post.get(name)
            out[name] = 0.0 if value is None or math.isnan(value) else float(value)
        if self.interactions:
            p, c = _PLATFORM_INDEX.get(platform, -1), _CONTENT_INDEX.get(content, -1)
            out["platform_content_code"] = float(p * len(_CONTENT_INDEX) + c) \
                if p >= 0 and c >= 0 else -1.0
            out["platform_hour_code"] = float(p * 24 + hour) if p >= 0 else -1.0
            for i, pn in enumerate(schema.PLATFORMS):
                for j, cn in enumerate(schema.CONTENT_TYPES):
                    out[f"pc_{pn}_{cn}"] = 1.0 if (p == i and c == j) else 0.0
                for k in (1, 2):
                    for f in ("sin", "cos"):
                        out[f"hour_{f}{k}_{pn}"] = self.hours[(f, k)][hour] if p == i else 0.0
        return out


def _linear(pipeline: Any) -> Callable[[np.ndarray], np.ndarray]:
    scaler, ridge = pipeline.steps[0][1], pipeline.steps[-1][1]
    mean = scaler.mean_ if scaler.with_mean else 0.0
    scale = scaler.scale_ if scaler.with_std else 1.0
    coef, intercept = np.asarray(ridge.coef_, float).ravel(), float(ridge.intercept_)

    def predict(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / scale) @ coef + intercept

    return predict


def _lightgbm(estimator: Any) -> Callable[[np.ndarray], np.ndarray]:
    booster = estimator.booster_
    best = getattr(estimator, "_best_iteration", None) or None

    def predict(x: np.ndarray) -> np.ndarray:
        # one thread: for a few rows OpenMP start-up costs 100x the prediction (measured:
        # 40-60 us with one thread, 0.3-12 ms with the default pool on a busy 2-core machine)
        return booster.predict(x, num_iteration=best, num_threads=1)

    return predict


def _lightgbm_batch(estimator: Any, threads: int) -> tuple[Callable[[np.ndarray], np.ndarray],
                                                            str]:
    """LightGBM for a batch: its trees as lookup tables when they can be (bit-identical),
    else its own predict with ``threads`` threads."""
    from pipelines.serve.tree_tables import compile_booster

    booster = estimator.booster_
    best = getattr(estimator, "_best_iteration", None) or None
    tables = compile_booster(booster, num_iteration=best, threads=threads)
    if tables is not None:
        return tables.predict, "lightgbm_tables"
    return (lambda x: booster.predict(x, num_iteration=best, num_threads=threads)), "lightgbm"


def _forest(forest: Any) -> Callable[[np.ndarray], np.ndarray]:
    """All trees of a fitted random forest walked at once (same float32 splits as sklearn)."""
    lefts, rights, features, thresholds, values, roots = [], [], [], [], [], []
    offset, depth = 0, 0
    for tree in (e.tree_ for e in forest.estimators_):
        left, right = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
        nodes = np.arange(tree.node_count)
        leaf = left < 0
        # leaves point at themselves, so walking max_depth steps lands every tree on a leaf
        lefts.append(np.where(leaf, nodes, left) + offset)
        rights.append(np.where(leaf, nodes, right) + offset)
        features.append(np.where(leaf, 0, tree.feature).astype(np.int64))
        thresholds.append(tree.threshold.astype(np.float64))
        values.append(tree.value[:, 0, 0].astype(np.float64))
        roots.append(offset)
        offset += tree.node_count
        depth = max(depth, int(tree.max_depth))
    left, right = np.concatenate(lefts), np.concatenate(rights)
    feature, threshold = np.concatenate(features), np.concatenate(thresholds)
    value, root = np.concatenate(values), np.asarray(roots)
    n_trees = len(roots)

    def predict(x: np.ndarray) -> np.ndarray:
        x32 = x.astype(np.float32).astype(np.float64)     # sklearn compares float32 inputs
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(root, (len(x), n_trees))
        for _ in range(depth):
            go_left = x32[rows, feature[node]] <= threshold[node]
            node = np.where(go_left, left[node], right[node])
        return value[node].sum(axis=1) / n_trees

    return predict


def _log_predictor(regressor: Any, names: list[str], *, batch_threads: int | None = None
                   ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """A numpy-in, log-counts-out function for the fitted inner regressor, and its kind.

    ``batch_threads`` None: tuned for a request's few rows; a number: for batches of many
    rows with that many threads (LightGBM as :mod:`pipelines.serve.tree_tables`).
    """
    from pipelines.train.model_zoo import CappedFit

    inner = regressor.estimator_ if isinstance(regressor, CappedFit) else regressor
    try:
        from lightgbm import LGBMRegressor
    except ImportError:  # pragma: no cover - lightgbm is a pinned dependency
        LGBMRegressor = ()  # noqa: N806
    if isinstance(inner, LGBMRegressor):  # first: the others' imports cost seconds
        if batch_threads is not None:
            return _lightgbm_batch(inner, batch_threads)
        return _lightgbm(inner), "lightgbm"
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(inner, Pipeline) and len(inner.steps) == 2 \
            and isinstance(inner.steps[0][1], StandardScaler) \
            and type(inner.steps[1][1]) is Ridge:
        return _linear(inner), "ridge"
    if isinstance(inner, RandomForestRegressor):
        return _forest(inner), "random_forest"

    def generic(x: np.ndarray) -> np.ndarray:
        return np.asarray(regressor.predict(pd.DataFrame(x, columns=names)), float)

    return generic, f"generic:{type(inner).__name__}"


def _scaled_log_predictor(regressor: Any, names: list[str], *,
                          batch_threads: int | None = None
                          ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """:func:`_log_predictor`, through a :class:`ScaleRelative` wrapper when there is one
    (its offset and clipping in numpy, the residual model compiled)."""
    from pipelines.train.scale_relative import ScaleRelative

    if not isinstance(regressor, ScaleRelative):
        return _log_predictor(regressor, names, batch_threads=batch_threads)
    if list(regressor.feature_names_in_) != list(names):
        raise ValueError("fast path: the scale-relative model's inputs differ from the "
                         "featurizer's columns")
    names_out = list(regressor.feature_names_out_)
    residual, kind = _log_predictor(regressor.regressor_, names_out,
                                    batch_threads=batch_threads)
    cold = (None if getattr(regressor, "cold_regressor_", None) is None
            else _log_predictor(regressor.cold_regressor_, names_out,
                                batch_threads=batch_threads)[0])
    return (lambda x: regressor.predict_array(x, residual, cold)), f"scale_relative:{kind}"


class CompiledPostModel:
    """A registered post model ready for the request path.

    Attributes:
        model: The loaded scikit-learn pipeline (the batch path).
        fast: True when features and the estimator run without pandas.
        kind: Which estimator path answers (``ridge``, ``lightgbm``, ``random_forest``,
            ``generic:<class>`` or ``dataframe``).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.fast = False
        self.kind = "dataframe"
        self._features: _Features | None = None
        try:
            self._compile(model)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:
            logger.warning("fast path: %s keeps the DataFrame path (%s)", type(model).__name__,
                           error)
            self._features, self.fast, self.kind = None, False, "dataframe"

    def _compile(self, model: Any) -> None:
        from sklearn.pipeline import Pipeline

        from pipelines.features.engagement_features import EngagementFeaturizer
        from pipelines.train.model_zoo import LogCountRegressor

        if not (isinstance(model, Pipeline) and len(model.steps) == 2):
            return
        featurizer, estimator = model.steps[0][1], model.steps[1][1]
        if not isinstance(featurizer, EngagementFeaturizer) or featurizer.text_reducer \
                is not None or not isinstance(estimator, LogCountRegressor):
            return
        self._features = _Features(featurizer)
        self._log_predict, self.kind = _scaled_log_predictor(estimator.regressor_,
                                                             self._features.names)
        self._log_upper = float(estimator.log_upper_)
        self.fast = True

    def attach_history(self, source: Any) -> CompiledPostModel:
        """Read account history from ``source`` too (a history source, best a
        :class:`~pipelines.features.history_cache.CachedHistory`), on both paths; None
        detaches it. A model that reads no account history ignores it. Returns self."""
        featurizer = getattr(self.model, "named_steps", {}).get("features")
        if getattr(featurizer, "history_", None) is None:
            return self
        featurizer.attach_history(source)
        if self._features is not None and self._features.history is not None:
            self._features.history.attach(source)
        return self

    def features(self, posts: Sequence[dict[str, Any]]) -> np.ndarray | None:
        """The model's feature matrix for ``posts`` (None on the DataFrame path)."""
        return self._features.rows(posts) if self._features is not None else None

    def predict_features(self, matrix: np.ndarray) -> np.ndarray:
        """Predicted counts from a feature matrix of :meth:`features`."""
        log_predictions = np.asarray(self._log_predict(matrix), float).ravel()
        return np.expm1(np.clip(log_predictions, 0.0, self._log_upper))

    def predict(self, posts: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted counts for ``posts`` (dicts of the model input fields) and their
        feature matrix (None on the DataFrame path)."""
        if self._features is not None:
            matrix = self._features.rows(posts)
            return self.predict_features(matrix), matrix
        return np.asarray(self.model.predict(posts_frame(posts)), float), None


def posts_frame(posts: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Request posts as the model's input DataFrame (as ``features.model_input`` builds it)."""
    from pipelines.features.model_input import TEXT_COLUMNS
    from pipelines.features.stage import MODEL_INPUT_COLUMNS

    frame = pd.DataFrame([{c: p.get(c) for c in MODEL_INPUT_COLUMNS} for p in posts],
                         columns=list(MODEL_INPUT_COLUMNS))
    for column in (*_COUNT_FIELDS, "followers_at_post_time"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    frame["posted_at"] = pd.to_datetime(frame["posted_at"], utc=True).dt.tz_localize(None)
    return frame
