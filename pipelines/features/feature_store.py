"""Account history in Feast: a :class:`~pipelines.features.history_source.HistorySource`
backed by a real feature store, and the materialization that fills it.

**What is stored.** One Feast entity, ``account`` (join key ``account_id``), and one feature
view, :data:`FEATURE_VIEW`, whose features are *lists, one element per post* of the account:
post ids, platforms, post kinds (``""`` = not said), publication and collection times
(int64 ns since the epoch), the follower count at post time and the likes / comments /
shares counts (float64; NaN = not reported). A row written before the kinds were stored
reads as kinds not said. The account-history features need every earlier matured post of
an account (all-time means, 7/30-day windows, the latest earlier post, the share of
replies), so the store keeps the posts themselves rather than pre-aggregated values that
would be correct for one instant only.
Point-in-time correctness therefore does not rest on Feast's event timestamps: each post
carries its own ``posted_at`` and ``collected_at``, :meth:`FeastHistory.outcomes` nulls the
counts read before a post was ``maturity_hours`` old (:func:`mature_outcomes`, as
:class:`~pipelines.features.history_source.FrameHistory` does) and the featurizer uses only
outcomes of posts published at or before ``t - maturity_hours`` for a post at ``t``.

**Where.** The repo config is generated at run time (no ``feature_store.yaml`` to keep in
step): a local file registry and a file offline source under ``paths.feature_store``, and the
online store named by ``paths.feature_store_url``: the embedded SQLite file by default,
``redis://HOST:PORT/DB`` in the distributed stack (:func:`online_store_config`).

**Writes.** :func:`materialize_history` writes one row per account (the union of its
validated posts and of what the online store already holds, the latest observation of each
post winning) to the offline Parquet source and materializes it into the online store; the
collection DAG runs it after each validated day. :meth:`FeastHistory.write_posts` merges a
few posts (``POST /outcomes``) into their accounts' online rows directly
(``write_to_online_store``). Both are read-merge-write per account: concurrent writers of the
same account can lose one side's newest observation until the next materialization.

``import feast`` takes ~6-7 s here: it happens inside :func:`open_store` only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from pipelines.features.history_source import (
    KIND_COLUMN,
    OUTCOME_COLUMNS,
    AccountPosts,
    mature_outcomes,
    maturity_ns,
    young_mask,
)

logger = logging.getLogger(__name__)

PROJECT = "engageflow"
ENTITY = "account"
FEATURE_VIEW = "account_posts"
#: List features of :data:`FEATURE_VIEW`, one element per post, and their element kind.
LIST_FEATURES: dict[str, str] = {
    "post_ids": "string", "platforms": "string", "post_kinds": "string", "posted_at_ns": "int64",
    "collected_at_ns": "int64", "followers": "float64", "likes": "float64",
    "comments": "float64", "shares": "float64",
}
#: ``collected_at_ns`` of a post whose collection time is unknown (int64 lists hold no null).
UNKNOWN_NS = np.iinfo(np.int64).min
_COUNTS = {"followers": "followers_at_post_time", "likes": "likes", "comments": "comments",
           "shares": "shares"}


def online_store_config(url: str) -> dict[str, Any]:
    """Feast's ``online_store`` config for ``url``.

    ``sqlite:///PATH`` (or a bare path) is the embedded SQLite online store;
    ``redis://[:PASSWORD@]HOST:PORT[/DB]`` the Redis online store.

    Raises:
        ValueError: for another scheme (PostgreSQL needs ``feast[postgres]``, i.e. psycopg 3,
            which the lock does not install).
    """
    parts = urlsplit(url)
    if parts.scheme in ("", "sqlite"):
        path = url.removeprefix("sqlite:///") if parts.scheme else url
        return {"type": "sqlite", "path": path}
    if parts.scheme == "redis":
        db = (parts.path or "/0").strip("/") or "0"
        conn = f"{parts.hostname or 'localhost'}:{parts.port or 6379},db={db}"
        if parts.password:
            conn += f",password={parts.password}"
        return {"type": "redis", "connection_string": conn}
    raise ValueError(f"online_store_config: the feature store URL must be sqlite:///PATH or "
                     f"redis://HOST:PORT/DB; got scheme {parts.scheme!r}.")


def open_store(store_dir: Path, online_url: str) -> Any:
    """A ``feast.FeatureStore`` over ``store_dir`` with the account view applied.

    ``apply`` is idempotent (a few ms): it creates the registry and the online table the
    first time and changes nothing later.
    """
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.repo_config import RepoConfig
    from feast.types import Array, Float64, Int64, String

    store_dir.mkdir(parents=True, exist_ok=True)
    kinds = {"string": String, "int64": Int64, "float64": Float64}
    config = RepoConfig(project=PROJECT, provider="local",
                        registry=str(store_dir / "registry.db"),
                        online_store=online_store_config(online_url),
                        offline_store={"type": "file"}, repo_path=store_dir,
                        entity_key_serialization_version=3)
    store = FeatureStore(config=config)
    account = Entity(name=ENTITY, join_keys=["account_id"], value_type=ValueType.STRING,
                     description="A social-media account (its posts are the history)")
    source = FileSource(name=f"{FEATURE_VIEW}_source", path=str(offline_path(store_dir)),
                        timestamp_field="event_timestamp")
    view = FeatureView(
        name=FEATURE_VIEW, entities=[account], ttl=timedelta(0), online=True, source=source,
        schema=[Field(name=n, dtype=Array(kinds[k])) for n, k in LIST_FEATURES.items()],
        description="Every post of an account with its latest counts, one list element per "
                    "post (pipelines.features.feature_store)")
    store.apply([account, view])
    return store


def offline_path(store_dir: Path) -> Path:
    """The file offline source: one row per account, as of the last materialization."""
    return store_dir / "offline" / f"{FEATURE_VIEW}.parquet"


# --- posts <-> account rows ----------------------------------------------------------------


def account_rows(posts: pd.DataFrame, *, written_at: datetime) -> pd.DataFrame:
    """One row per account with :data:`LIST_FEATURES` (posts ordered by time and id).

    Raises:
        ValueError: if ``posts`` lacks an outcome column.
    """
    missing = [c for c in OUTCOME_COLUMNS if c not in posts.columns]
    if missing:
        raise ValueError(f"account_rows: posts are missing column(s) {missing}; required: "
                         f"{list(OUTCOME_COLUMNS)}.")
    columns = {
        "account_id": posts["account_id"].astype(str).to_numpy(),
        "post_ids": posts["post_id"].astype("string").fillna("").to_numpy(dtype=object),
        "platforms": posts["platform"].astype("string").fillna("").to_numpy(dtype=object),
        "post_kinds": (posts[KIND_COLUMN].astype("string").fillna("").to_numpy(dtype=object)
                       if KIND_COLUMN in posts else np.full(len(posts), "", dtype=object)),
        "posted_at_ns": _epoch_ns(posts["posted_at"]),
        "collected_at_ns": (_epoch_ns(posts["collected_at"]) if "collected_at" in posts
                            else np.full(len(posts), UNKNOWN_NS, dtype=np.int64)),
        **{f: pd.to_numeric(posts[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
           for f, c in _COUNTS.items()},
    }
    frame = pd.DataFrame(columns).sort_values(["account_id", "posted_at_ns", "post_ids"],
                                              kind="stable")
    if not len(frame):
        return pd.DataFrame(columns=["account_id", "event_timestamp", *LIST_FEATURES])
    grouped = frame.groupby("account_id", sort=True)
    rows = pd.DataFrame({name: grouped[name].agg(list) for name in LIST_FEATURES})
    rows = rows.reset_index()
    rows.insert(1, "event_timestamp", pd.Timestamp(written_at))
    return rows


def posts_from_rows(rows: dict[str, list[Any]]) -> pd.DataFrame:
    """Posts (:data:`OUTCOME_COLUMNS`, :data:`KIND_COLUMN` and ``collected_at``) from
    Feast's ``to_dict()`` answer; accounts without a row (None) give no posts."""
    parts: dict[str, list[Any]] = {"account_id": [], **{n: [] for n in LIST_FEATURES}}
    for i, account in enumerate(rows["account_id"]):
        ids = rows["post_ids"][i]
        if ids is None:
            continue
        parts["account_id"].extend([account] * len(ids))
        for name in LIST_FEATURES:
            parts[name].extend(_stored_list(rows, name, i, len(ids)))
    n = len(parts["account_id"])
    collected = np.asarray(parts["collected_at_ns"], dtype=np.int64).reshape(n)
    frame = pd.DataFrame({
        "account_id": pd.array(parts["account_id"], dtype=object),
        "platform": pd.Series(parts["platforms"], dtype="string").replace("", pd.NA),
        "post_id": pd.Series(parts["post_ids"], dtype="string").replace("", pd.NA),
        KIND_COLUMN: pd.Series(parts["post_kinds"], dtype="string").replace("", pd.NA),
        "posted_at": pd.to_datetime(np.asarray(parts["posted_at_ns"], dtype=np.int64)
                                    .reshape(n), utc=True),
        "collected_at": pd.to_datetime(collected, utc=True),   # UNKNOWN_NS is NaT's value
        **{c: np.asarray(parts[f], dtype=float).reshape(n) for f, c in _COUNTS.items()},
    })
    return frame


def _stored_list(rows: dict[str, list[Any]], name: str, i: int, n: int) -> list[Any]:
    """Account ``i``'s list ``name``; a row written before the kinds were stored has none
    (all not said)."""
    values = rows[name][i] if name in rows else None
    if values is None and name == "post_kinds":
        return [""] * n
    return values


def _epoch_ns(values: pd.Series) -> np.ndarray:
    moments = pd.to_datetime(values, utc=True)
    ns = moments.dt.tz_convert(None).astype("datetime64[ns]").to_numpy().view("int64")
    return np.where(moments.isna().to_numpy(), UNKNOWN_NS, ns)


def merge_posts(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` and ``new`` posts, one row per (account, platform, post_id): the latest
    observation (by ``collected_at``; ``new`` on ties or where unknown) wins. A post's kind
    does not change, so where the winner does not say it (``POST /outcomes`` counts), an
    earlier observation's kind is kept."""
    parts = [part for part in (old.assign(_new=0), new.assign(_new=1)) if len(part)]
    if not parts:
        return new.iloc[:0].copy()
    both = pd.concat(parts, ignore_index=True)
    both["_seen"] = pd.to_datetime(both["collected_at"], utc=True) if "collected_at" in both \
        else pd.NaT
    both = both.sort_values(["_seen", "_new"], kind="stable", na_position="first")
    key = ["account_id", "platform", "post_id"]
    if KIND_COLUMN in both:
        said = both[KIND_COLUMN].astype("string")
        both[KIND_COLUMN] = said.groupby([both[k] for k in key], dropna=False,
                                         sort=False).transform("last")
    both = both.drop_duplicates(key, keep="last")
    return both.drop(columns=["_new", "_seen"]).reset_index(drop=True)


# --- the history source --------------------------------------------------------------------


class FeastHistory:
    """Account history read from (and written to) Feast's online store.

    Args:
        store_dir: The feature repo folder (``paths.feature_store``): registry and offline
            source.
        online_url: The online store (``paths.feature_store_url``; see
            :func:`online_store_config`).
        maturity_hours: Counts read before a post was this old are not outcomes.
    """

    def __init__(self, store_dir: Path, online_url: str, *, maturity_hours: float) -> None:
        self.store_dir, self.online_url = Path(store_dir), online_url
        self.maturity_hours = maturity_hours
        self.store = open_store(self.store_dir, online_url)
        self._features = [f"{FEATURE_VIEW}:{name}" for name in LIST_FEATURES]
        self._maturity_ns = maturity_ns(maturity_hours)
        # one online-store connection per process: serving reads on the event loop and the
        # history cache's refresher while POST /outcomes writes from a worker thread
        self._lock = threading.Lock()

    def _rows(self, ids: list[str]) -> dict[str, list[Any]]:
        with self._lock:
            return self.store.get_online_features(
                features=self._features, entity_rows=[{"account_id": a} for a in ids]
            ).to_dict()

    def posts(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """The stored posts of ``account_ids`` as written (young counts included)."""
        ids = list(dict.fromkeys(map(str, account_ids)))
        if not ids:
            return posts_from_rows({"account_id": [], **{n: [] for n in LIST_FEATURES}})
        return posts_from_rows(self._rows(ids))

    def account_posts(self, account_ids: Sequence[str]) -> dict[str, AccountPosts]:
        """:meth:`outcomes` per account as numpy arrays, without pandas (the serving
        cache's read: one online read, then list-to-array conversions). Accounts without a
        row are left out."""
        ids = list(dict.fromkeys(map(str, account_ids)))
        if not ids:
            return {}
        rows = self._rows(ids)
        out = {}
        for i, account in enumerate(rows["account_id"]):
            post_ids = rows["post_ids"][i]
            if post_ids is None:
                continue
            t = np.asarray(rows["posted_at_ns"][i], dtype=np.int64)
            young = young_mask(t, np.asarray(rows["collected_at_ns"][i], dtype=np.int64),
                               self._maturity_ns)

            likes, comments, shares = (np.asarray(rows[name][i], dtype=float)
                                       for name in ("likes", "comments", "shares"))
            if young.any():     # counts still growing when read: not outcomes
                likes, comments, shares = (np.where(young, np.nan, v)
                                           for v in (likes, comments, shares))
            out[str(account)] = AccountPosts(
                post_id=np.array([p or None for p in post_ids], dtype=object),
                platform=np.array([p or None for p in rows["platforms"][i]], dtype=object),
                post_kind=np.array([k or None for k in _stored_list(
                    rows, "post_kinds", i, len(post_ids))], dtype=object),
                t=t, followers=np.asarray(rows["followers"][i], dtype=float),
                likes=likes, comments=comments, shares=shares)
        return out

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Posts of ``account_ids`` with :data:`OUTCOME_COLUMNS` and :data:`KIND_COLUMN`;
        counts read before a post was ``maturity_hours`` old are null."""
        return mature_outcomes(self.posts(account_ids), self.maturity_hours)[
            [*OUTCOME_COLUMNS, KIND_COLUMN]]

    def write_posts(self, posts: pd.DataFrame, *, written_at: datetime) -> dict[str, int]:
        """Merge ``posts`` (with ``collected_at``) into their accounts' online rows.

        Returns:
            Accounts and posts written (the accounts' whole merged rows).
        """
        if not len(posts):
            return {"accounts": 0, "posts": 0}
        merged = merge_posts(self.posts(posts["account_id"].astype(str).unique()), posts)
        rows = account_rows(merged, written_at=written_at)
        with self._lock:
            self.store.write_to_online_store(FEATURE_VIEW, rows)
        return {"accounts": len(rows), "posts": len(merged)}


def materialize_history(*, store_dir: Path, online_url: str, validated_root: Path,
                        maturity_hours: float, written_at: datetime) -> dict[str, Any]:
    """Stage runner: the validated store → the offline source → the online store.

    Every account of the validated store gets one row: its validated posts merged with the
    posts the online store already holds for it (outcomes posted to ``POST /outcomes`` since
    the last run), the latest observation of each post winning. The offline Parquet is
    rewritten whole (idempotent), then Feast materializes it into the online store.

    Args:
        store_dir: The feature repo folder (``paths.feature_store``).
        online_url: The online store (``paths.feature_store_url``).
        validated_root: The data folder whose ``02_validated/date=*/`` days are read
            (:func:`pipelines.validate.partition.read_validated_posts`).
        maturity_hours: Stored with the source (young counts are nulled on read).
        written_at: The snapshot's event timestamp (wall-clock UTC of the write; online
            rows carry it, and Redis keeps the newest).

    Returns:
        Counts (accounts, posts read / written) and the seconds it took.
    """
    from pipelines.validate.partition import read_validated_posts

    started = time.perf_counter()
    validated = read_validated_posts(validated_root)
    read_s = time.perf_counter() - started
    history = FeastHistory(store_dir, online_url, maturity_hours=maturity_hours)
    accounts = validated["account_id"].astype(str).unique()
    online = history.posts(accounts)
    merged = merge_posts(online, validated)
    rows = account_rows(merged, written_at=written_at)
    target = offline_path(store_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(target, index=False)
    stamp = pd.Timestamp(written_at).tz_convert(UTC).to_pydatetime()
    if len(rows):
        history.store.materialize(start_date=stamp - timedelta(seconds=1),
                                  end_date=stamp + timedelta(seconds=1),
                                  feature_views=[FEATURE_VIEW])
    result = {"accounts": len(rows), "posts_read": len(validated),
              "posts_online_before": len(online), "posts_written": len(merged),
              "offline_source": str(target), "online_store": online_store_config(
                  online_url)["type"], "read_seconds": round(read_s, 3),
              "seconds": round(time.perf_counter() - started, 3)}
    logger.info("feature store: read %d validated posts; wrote %d posts of %d accounts to "
                "%s and the %s online store in %.2f s", result["posts_read"],
                result["posts_written"], result["accounts"], target,
                result["online_store"], result["seconds"])
    return result


def open_history(kind: str, *, store_dir: Path, online_url: str, maturity_hours: float,
                 cache_seconds: float) -> Any:
    """The history source ``serve.history_store`` names, behind a per-account cache with the
    freshness bound ``cache_seconds`` (``serve.history_cache_seconds``; answers older than it
    are refreshed in the background, see :mod:`pipelines.features.history_cache`); None for
    ``none``.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    from pipelines.features.history_cache import CachedHistory

    openers = {"none": None, "feast": FeastHistory}
    if kind not in openers:
        raise ValueError(f"open_history: 'serve.history_store' must be one of "
                         f"{sorted(openers)}; got {kind!r}.")
    opener = openers[kind]
    if opener is None:
        return None
    source = opener(store_dir, online_url, maturity_hours=maturity_hours)
    logger.info("account history: %s online store (%s), cached per account and refreshed "
                "in the background after %s s", kind, online_store_config(online_url)["type"],
                cache_seconds)
    return CachedHistory(source, max_age_seconds=cache_seconds)
