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
accounts with :data:`OUTCOME_COLUMNS` (extra columns are ignored; a missing ``likes`` is
"no outcome"). :class:`FrameHistory` serves a frame or a Parquet file of posts (the
validated store); the Feast-backed store lives in :mod:`pipelines.features.feature_store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

#: What a source returns per post (``comments``/``shares`` may be null: not reported).
OUTCOME_COLUMNS: tuple[str, ...] = (
    "account_id", "platform", "post_id", "posted_at", "followers_at_post_time", "likes",
    "comments", "shares",
)


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
    age = (pd.to_datetime(posts["collected_at"], utc=True)
           - pd.to_datetime(posts["posted_at"], utc=True))
    young = age < pd.Timedelta(hours=float(maturity_hours))
    return young.fillna(False).to_numpy(dtype=bool)


class FrameHistory:
    """A history source over a frame of posts, or a Parquet file / folder of them.

    Args:
        posts: Canonical posts (at least :data:`OUTCOME_COLUMNS`), or a path to read.
        maturity_hours: Counts read before a post was this old are not outcomes
            (:func:`mature_outcomes`).
    """

    def __init__(self, posts: pd.DataFrame | str | Path, *, maturity_hours: float) -> None:
        frame = pd.read_parquet(posts) if isinstance(posts, (str, Path)) else posts
        missing = [c for c in OUTCOME_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"FrameHistory: posts are missing column(s) {missing}; "
                             f"required: {list(OUTCOME_COLUMNS)}.")
        keep = [*OUTCOME_COLUMNS, *(["collected_at"] if "collected_at" in frame else [])]
        frame = mature_outcomes(frame[keep], maturity_hours)[list(OUTCOME_COLUMNS)]
        self._posts = frame.assign(account_id=frame["account_id"].astype(str))
        self._by_account = self._posts.groupby("account_id", sort=False).indices

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        rows = [self._by_account[a] for a in dict.fromkeys(map(str, account_ids))
                if a in self._by_account]
        if not rows:
            return self._posts.iloc[:0]
        return self._posts.iloc[np.concatenate(rows)]
