"""An in-process, per-account cache in front of a history source, with a stated freshness
bound.

Serving reads account history on every request; a feature-store round trip and turning its
answer into the fast path's per-account arrays cost more than the prediction itself. A
:class:`CachedHistory` keeps each account's answer for at most ``max_age_seconds``
(``serve.history_cache_seconds``): a prediction may use an account's history as it was up to
that many seconds ago, never older. Outcomes written through this process
(:meth:`CachedHistory.invalidate`, done by ``POST /outcomes``) are seen by its next request
at once; other processes see them within the bound. ``max_age_seconds = 0`` reads the
source on every call.

Each cached answer carries a ``generation`` that changes whenever it is re-read, so a
consumer that derives something expensive from it (the fast path's arrays) can rebuild only
then.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class CachedAccount:
    """One account's outcomes as read at ``read_at`` (monotonic seconds)."""

    outcomes: pd.DataFrame
    read_at: float
    generation: int


class CachedHistory:
    """A :class:`~pipelines.features.history_source.HistorySource` that caches another per
    account for at most ``max_age_seconds``.

    Args:
        source: The source read on a miss (e.g.
            :class:`~pipelines.features.feature_store.FeastHistory`).
        max_age_seconds: The freshness bound (>= 0).
        clock: Monotonic seconds (tests move it).

    Raises:
        ValueError: on a negative or non-finite ``max_age_seconds``.
    """

    def __init__(self, source: Any, *, max_age_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (isinstance(max_age_seconds, int | float) and 0 <= max_age_seconds < float("inf")):
            raise ValueError(f"CachedHistory: 'max_age_seconds' must be a number >= 0; "
                             f"got {max_age_seconds!r}.")
        self.source, self.max_age_seconds, self.clock = source, float(max_age_seconds), clock
        self._entries: dict[str, CachedAccount] = {}
        self._generations = itertools.count(1)
        self._lock = threading.Lock()
        self.reads = 0          # source calls (misses), for metrics and tests

    def accounts(self, account_ids: Sequence[str]) -> dict[str, CachedAccount]:
        """Each account's cached answer, re-reading (in one source call) those older than
        the bound or never read."""
        ids = list(dict.fromkeys(map(str, account_ids)))
        now = self.clock()
        entries = self._entries
        stale = [a for a in ids if a not in entries
                 or now - entries[a].read_at >= self.max_age_seconds]
        if stale:
            frame = self.source.outcomes(stale)
            self.reads += 1
            groups = frame.groupby(frame["account_id"].astype(str), sort=False).indices \
                if len(frame) else {}
            fresh = {a: CachedAccount(frame.iloc[groups[a]] if a in groups else frame.iloc[:0],
                                      now, next(self._generations)) for a in stale}
            with self._lock:
                # copy-on-write: readers holding the old mapping keep a consistent view
                self._entries = entries = {**self._entries, **fresh}
        return {a: entries[a] for a in ids}

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Posts of ``account_ids`` (the source's columns), at most the bound old."""
        parts = [e.outcomes for e in self.accounts(account_ids).values()]
        return pd.concat(parts, ignore_index=True) if parts else self.source.outcomes([])

    def invalidate(self, account_ids: Sequence[str]) -> None:
        """Forget these accounts: their next read goes to the source."""
        drop = set(map(str, account_ids))
        with self._lock:
            self._entries = {a: e for a, e in self._entries.items() if a not in drop}
