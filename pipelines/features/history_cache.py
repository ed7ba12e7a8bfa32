"""An in-process, per-account cache in front of a history source, refreshed in the
background, with a stated freshness bound.

Serving reads account history on every request; a feature-store round trip and turning its
answer into the fast path's per-account arrays cost more than the prediction itself, so no
request should wait for them. A :class:`CachedHistory` keeps each account's answer and:

- **an account read less than** ``max_age_seconds`` (``serve.history_cache_seconds``) **ago**
  is answered from the cache;
- **an account whose answer is older** is still answered from the cache at once, and queued
  for one background thread (the *refresher*) that re-reads queued accounts, many per source
  call, and swaps the new answers in (stale-while-revalidate). So **a prediction uses an
  account's stored history as it was at most** ``max_age_seconds`` **plus one refresh cycle
  ago** (the refresher's queue wait and one read; milliseconds on an idle queue); the
  refresher logs, and counts in :attr:`CachedHistory.refresh_failures`, a read that fails,
  and the account keeps its last answer until a read succeeds (the bound then no longer
  holds: the metric says so);
- **an account never read** (or dropped by :meth:`CachedHistory.invalidate`) is read on the
  caller's thread: the first request of an account pays one source read (sub-millisecond
  for the Feast store, measured in ``bench/results/serving.json``) and sees the store as it
  is, rather than predicting from the training-time history while it loads;
- ``max_age_seconds = 0`` reads the source on every call, on the caller's thread (batch
  scoring; no refresher).

Outcomes written through this process (``POST /outcomes``) :meth:`invalidate` their
accounts, so its next request reads them at once; a background read that started before the
invalidation is discarded, never installed over it. Other processes see them within the
bound.

Thread safety: the entries live in one dict guarded by one lock, held only for dict
operations (never during a source read); an answer (:class:`CachedAccount`) is immutable and
swapped whole. Each carries a ``generation`` (the sequence number of the read that produced
it), so a consumer that derives something expensive from it (the fast path's arrays) can
rebuild only then, and can do it on the refresher's thread before the new answer is visible
(:meth:`CachedHistory.on_refresh`). :meth:`close` stops the refresher.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.features.history_source import AccountPosts, read_account_posts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedAccount:
    """One account's posts as read at ``read_at`` (the cache's clock, seconds) by the read
    numbered ``generation``."""

    posts: AccountPosts
    read_at: float
    generation: int


#: Called on the refresher's thread with freshly read answers, before they are visible.
RefreshHook = Callable[[dict[str, CachedAccount]], None]


class CachedHistory:
    """A :class:`~pipelines.features.history_source.HistorySource` that caches another per
    account, refreshing answers older than ``max_age_seconds`` in the background.

    Args:
        source: The source read (e.g.
            :class:`~pipelines.features.feature_store.FeastHistory`).
        max_age_seconds: The freshness bound (>= 0; 0 = read on every call).
        clock: Monotonic seconds (tests move it).
        max_pending: Most accounts waiting for a refresh; an expired account that finds the
            queue full keeps its answer and is queued by a later request.
        refresh_batch: Most accounts the refresher reads in one source call.
        retry_seconds: How long the refresher waits after a failed read.

    Raises:
        ValueError: on a negative or non-finite ``max_age_seconds`` or a ``max_pending`` or
            ``refresh_batch`` below 1.
    """

    def __init__(self, source: Any, *, max_age_seconds: float,
                 clock: Callable[[], float] = time.monotonic, max_pending: int = 100_000,
                 refresh_batch: int = 256, retry_seconds: float = 1.0) -> None:
        if not (isinstance(max_age_seconds, int | float) and 0 <= max_age_seconds < float("inf")):
            raise ValueError(f"CachedHistory: 'max_age_seconds' must be a number >= 0; "
                             f"got {max_age_seconds!r}.")
        for name, value in (("max_pending", max_pending), ("refresh_batch", refresh_batch)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CachedHistory: {name!r} must be an int >= 1; got {value!r}.")
        self.source, self.max_age_seconds, self.clock = source, float(max_age_seconds), clock
        self.max_pending, self.refresh_batch = max_pending, refresh_batch
        self.retry_seconds = retry_seconds
        self._entries: dict[str, CachedAccount] = {}
        self._invalidated: dict[str, int] = {}     # account -> sequence number of the drop
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()               # guards the dicts above (dict ops only)
        self._wake = threading.Condition(threading.Lock())   # guards the queue and thread
        self._pending: dict[str, None] = {}         # insertion-ordered set: the queue
        self._reading: set[str] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._hooks: list[weakref.WeakMethod] = []
        self.reads = 0              # source reads on the caller's thread (misses)
        self.refreshes = 0          # source reads on the refresher's thread
        self.refresh_failures = 0

    # --- reading -------------------------------------------------------------------------

    def accounts(self, account_ids: Sequence[str]) -> dict[str, CachedAccount]:
        """Each account's answer: cached (queued for a background refresh when older than
        the bound), or read now if never read. Never waits for a refresh."""
        ids = list(dict.fromkeys(map(str, account_ids)))
        now = self.clock()
        with self._lock:
            found = {a: self._entries.get(a) for a in ids}
        missing = [a for a, e in found.items() if e is None]
        expired = [a for a, e in found.items()
                   if e is not None and now - e.read_at >= self.max_age_seconds]
        if expired and (self.max_age_seconds == 0 or self._closed):
            missing += expired          # no refresher: read on this thread, as a miss
        elif expired:
            self._enqueue(expired)
        if missing:
            found.update(self._read(missing, hooks=False))
            self.reads += 1
        return found  # type: ignore[return-value]

    def outcomes(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Posts of ``account_ids`` (:data:`OUTCOME_COLUMNS`) as the cache holds them (the
        DataFrame path of a model; the fast path reads :meth:`accounts`)."""
        parts = [e.posts.frame(a) for a, e in self.accounts(account_ids).items()]
        return pd.concat(parts, ignore_index=True) if parts else AccountPosts.empty().frame("")

    def invalidate(self, account_ids: Sequence[str]) -> None:
        """Forget these accounts: their next read goes to the source, and a background read
        already under way for them is discarded."""
        with self._lock:
            for account in map(str, account_ids):
                self._entries.pop(account, None)
                self._invalidated[account] = next(self._sequence)

    def on_refresh(self, hook: Callable[[dict[str, CachedAccount]], None]) -> None:
        """Call the bound method ``hook`` with each batch of answers the refresher read, on
        its thread, before they replace the old ones (held weakly: a reloaded model's hook goes
        with the model). Errors in it are logged and ignored."""
        ref = weakref.WeakMethod(hook)  # type: ignore[arg-type]
        if ref not in self._hooks:                  # attached twice: built once
            self._hooks.append(ref)

    def _read(self, ids: list[str], *, hooks: bool) -> dict[str, CachedAccount]:
        """Read ``ids`` from the source, run the refresh hooks (``hooks``: on the
        refresher's thread only; a caller's miss builds just what it uses) and install the
        answers unless a newer read or an invalidation came in meanwhile; returns what was
        read."""
        with self._lock:
            generation = next(self._sequence)
        posts = read_account_posts(self.source, ids)
        now = self.clock()
        fresh = {a: CachedAccount(posts[a], now, generation) for a in ids}
        for ref in list(self._hooks) if hooks else ():
            hook = ref()
            if hook is None:
                self._hooks.remove(ref)
                continue
            try:
                hook(fresh)
            except Exception:  # noqa: BLE001 - the consumer rebuilds on its own thread
                logger.exception("history cache: a refresh hook failed")
        with self._lock:
            for account, entry in fresh.items():
                current = self._entries.get(account)
                if self._invalidated.get(account, 0) > generation or (
                        current is not None and current.generation > generation):
                    continue
                self._entries[account] = entry
        return fresh

    # --- the refresher --------------------------------------------------------------------

    def _enqueue(self, accounts: list[str]) -> None:
        with self._wake:
            if self._closed:
                return
            for account in accounts:
                if account in self._pending or account in self._reading \
                        or len(self._pending) >= self.max_pending:
                    continue
                self._pending[account] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._refresh_loop, daemon=True,
                                                name="history-cache-refresher")
                self._thread.start()
            self._wake.notify()

    def _refresh_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                batch = list(itertools.islice(self._pending, self.refresh_batch))
                for account in batch:
                    del self._pending[account]
                self._reading.update(batch)
            failed = False
            try:
                self._read(batch, hooks=True)
                self.refreshes += 1
            except Exception:  # noqa: BLE001 - stale answers keep serving; logged, counted
                failed = True
                self.refresh_failures += 1
                logger.exception("history cache: refreshing %d account(s) failed; they keep "
                                 "their last answer", len(batch))
            with self._wake:
                self._reading.difference_update(batch)
                self._wake.notify_all()
                if failed:
                    self._wake.wait_for(lambda: self._closed, timeout=self.retry_seconds)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no refresh is queued or under way (tests, benchmarks); False on
        timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._pending and not self._reading
                                       or self._closed, timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the refresher (queued refreshes are dropped); later expired accounts are
        re-read on the caller's thread."""
        with self._wake:
            self._closed = True
            self._pending.clear()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout)
