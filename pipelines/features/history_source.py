"""Where a registered post model reads account history from when it predicts.

A post model's featurizer holds the account history it was trained with (frozen at the
training cut-off). A **history source** adds the outcomes collected since: newly collected
posts and ``POST /outcomes``. Attach one to a loaded model
(:meth:`pipelines.features.engagement_features.EngagementFeaturizer.attach_history`) and
every prediction reads the latest matured outcomes of the accounts it scores, without
retraining. Point-in-time correctness does not depend on the source: a post published at
``t`` only ever uses outcomes of posts published at or before ``t - maturity_hours``
(:mod:`pipelines.features.account_history`), whatever the source holds.

A source is anything with ``outcomes(account_ids) -> DataFrame`` returning posts of those
accounts with :data:`OUTCOME_COLUMNS` and, where the source knows it, :data:`KIND_COLUMN`
(other columns are ignored; a missing ``likes`` is "no outcome"). :class:`FrameHistory`
serves a frame or a Parquet file of posts (the validated store); the Feast-backed store
lives in :mod:`pipelines.features.feature_store`.

A source may also offer ``account_posts(account_ids) -> {account: AccountPosts}``: the same
answer as plain numpy arrays per account, which the serving cache and fast path use to skip
pandas (:func:`read_account_posts` falls back to splitting ``outcomes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

#: What a source returns per post (``comments``/``shares`` may be null: not reported).
OUTCOME_COLUMNS: tuple[str, ...] = (
    "account_id", "platform", "post_id", "posted_at", "followers_at_post_time", "likes",
    "comments", "shares",
)
#: What a source returns where it knows it: the post's kind (absent or null: not said).
KIND_COLUMN = "post_kind"


@runtime_checkable
class HistorySource(Protocol):
    """Matured (and not yet matured) outcomes of accounts' posts."""

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Posts of ``account_ids`` with :data:`OUTCOME_COLUMNS` (any order, any age)."""
        ...


def mature_outcomes(posts: pd.DataFrame, maturity_hours: float) -> pd.DataFrame:
    """``posts`` with the outcome counts of posts still growing at collection set to null.

    A post whose counts were read less than ``maturity_hours`` after it went out
    (``collected_at - posted_at < maturity_hours``) has likes that are still climbing: it
    is neither a training target nor a history outcome. Its existence, time and follower
    count stay known. Rows without ``collected_at`` (a source that does not say when it read
    the counts) keep their counts.
    """
    if "collected_at" not in posts.columns or not len(posts):
        return posts
    young = young_labels(posts, maturity_hours)
    if not young.any():
        return posts
    out = posts.copy()
    for column in ("likes", "comments", "shares"):
        if column in out.columns:
            out[column] = out[column].astype("Float64").mask(young).astype(
                posts[column].dtype if str(posts[column].dtype) in ("Int64", "Float64")
                else "Float64")
    return out


def young_labels(posts: pd.DataFrame, maturity_hours: float) -> np.ndarray:
    """True where the counts were read before the post reached ``maturity_hours``."""
    if "collected_at" not in posts.columns:
        return np.zeros(len(posts), dtype=bool)
    return young_mask(_ns(posts["posted_at"]), _ns(posts["collected_at"]),
                      maturity_ns(maturity_hours))


#: int64 nanoseconds standing for an unknown instant (NaT's own value).
UNKNOWN_NS = int(np.iinfo(np.int64).min)


def maturity_ns(maturity_hours: float) -> int:
    """``maturity_hours`` in int64 nanoseconds, rounded as ``pd.Timedelta`` rounds them."""
    return int(pd.Timedelta(hours=float(maturity_hours)).value)


def young_mask(posted_ns: np.ndarray, collected_ns: np.ndarray, maturity: int) -> np.ndarray:
    """The rule of :func:`young_labels` on int64 ns arrays (:data:`UNKNOWN_NS` = unknown):
    True where the counts were read less than ``maturity`` ns after the post went out; an
    unknown time at either end is never young. The numpy-only readers (the Feast source's
    :meth:`~pipelines.features.feature_store.FeastHistory.account_posts`) use it too."""
    posted = np.asarray(posted_ns, dtype=np.int64)
    collected = np.asarray(collected_ns, dtype=np.int64)
    known = (posted != UNKNOWN_NS) & (collected != UNKNOWN_NS)
    age = np.where(known, collected, 0) - np.where(known, posted, 0)
    return known & (age < maturity)


def _ns(values: pd.Series) -> np.ndarray:
    moments = pd.to_datetime(values, utc=True)
    return moments.dt.tz_convert(None).astype("datetime64[ns]").to_numpy().view("int64")


@dataclass(frozen=True)
class AccountPosts:
    """One account's posts from a history source, as numpy arrays (one element per post).

    Counts read before the post matured are already NaN (:func:`young_mask`), so these are
    exactly the rows ``outcomes`` returns for the account. ``post_id``, ``platform`` and
    ``post_kind`` are object arrays of ``str`` or None (unknown); ``post_kind`` is None
    where the source says no post's kind.
    """

    post_id: np.ndarray
    platform: np.ndarray
    t: np.ndarray            # posted_at, int64 ns since the epoch (UTC)
    followers: np.ndarray    # followers_at_post_time, float64, NaN = unknown
    likes: np.ndarray
    comments: np.ndarray
    shares: np.ndarray
    post_kind: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls) -> AccountPosts:
        none, nan = np.empty(0, dtype=object), np.empty(0)
        return cls(none, none, np.empty(0, dtype=np.int64), nan, nan, nan, nan)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> AccountPosts:
        """The posts of one account's ``outcomes`` frame (:data:`OUTCOME_COLUMNS`)."""
        def text(name: str) -> np.ndarray:
            return frame[name].astype("string").to_numpy(dtype=object, na_value=None)

        def number(name: str) -> np.ndarray:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float,
                                                                       na_value=np.nan)

        return cls(text("post_id"), text("platform"), _ns(frame["posted_at"]),
                   number("followers_at_post_time"), number("likes"), number("comments"),
                   number("shares"), text(KIND_COLUMN) if KIND_COLUMN in frame else None)

    def frame(self, account_id: str) -> pd.DataFrame:
        """These posts as ``outcomes`` rows (:data:`OUTCOME_COLUMNS`, and
        :data:`KIND_COLUMN` where said) of ``account_id``."""
        frame = pd.DataFrame({
            "account_id": np.full(len(self), account_id, dtype=object),
            "platform": pd.array(self.platform, dtype="string"),
            "post_id": pd.array(self.post_id, dtype="string"),
            "posted_at": pd.to_datetime(self.t, utc=True),
            "followers_at_post_time": self.followers, "likes": self.likes,
            "comments": self.comments, "shares": self.shares})
        if self.post_kind is not None:
            frame[KIND_COLUMN] = pd.array(self.post_kind, dtype="string")
        return frame


def read_account_posts(source: Any, account_ids: Sequence[str]) -> dict[str, AccountPosts]:
    """Each account's posts in ``source`` (accounts without posts get empty ones): the
    source's own ``account_posts`` where it has one, else its ``outcomes`` split per account.
    """
    ids = list(dict.fromkeys(map(str, account_ids)))
    reader = getattr(source, "account_posts", None)
    if callable(reader):
        found = reader(ids)
    else:
        frame = source.outcomes(ids)
        groups = (frame.groupby(frame["account_id"].astype(str), sort=False).indices
                  if len(frame) else {})
        found = {a: AccountPosts.from_frame(frame.iloc[rows]) for a, rows in groups.items()}
    return {a: found.get(a) or AccountPosts.empty() for a in ids}


class FrameHistory:
    """A history source over a frame of posts, or a Parquet file / folder of them.

    Args:
        posts: Canonical posts (at least :data:`OUTCOME_COLUMNS`; :data:`KIND_COLUMN` is
            kept where present), or a path to read.
        maturity_hours: Counts read before a post was this old are not outcomes
            (:func:`mature_outcomes`).
    """

    def __init__(self, posts: pd.DataFrame | str | Path, *, maturity_hours: float) -> None:
        if isinstance(posts, (str, Path)):
            where = f"FrameHistory({str(posts)!r})"
            frame = _read_posts(Path(posts), where)
        else:
            where, frame = "FrameHistory", posts
        missing = [c for c in OUTCOME_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{where}: posts are missing column(s) {missing}; "
                             f"required: {list(OUTCOME_COLUMNS)}.")
        said = [*OUTCOME_COLUMNS, *([KIND_COLUMN] if KIND_COLUMN in frame else [])]
        keep = [*said, *(["collected_at"] if "collected_at" in frame else [])]
        frame = mature_outcomes(frame[keep], maturity_hours)[said]
        self._posts = frame.assign(account_id=frame["account_id"].astype(str))
        self._by_account = self._posts.groupby("account_id", sort=False).indices

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        rows = [self._by_account[a] for a in dict.fromkeys(map(str, account_ids))
                if a in self._by_account]
        if not rows:
            return self._posts.iloc[:0]
        return self._posts.iloc[np.concatenate(rows)]


def _read_posts(path: Path, where: str) -> pd.DataFrame:
    """A Parquet file or folder of posts, or a ValueError naming the path and the reason.
    Only regular files are opened (the collect readers' rule: a pipe or device could hang
    the read), also inside a folder."""
    from pipelines.collect.formats.source_file import check_regular

    if not path.exists():
        raise ValueError(f"{where}: no such file or folder: {str(path)!r}.")
    for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if not file.is_dir():
            check_regular(file)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:      # pyarrow's ArrowInvalid is a ValueError
        raise ValueError(f"{where}: {str(path)!r} is not a readable Parquet file or folder "
                         f"of posts: {error}") from None
