"""The per-account history cache: answers within the bound, background refresh past it
(stale answers keep serving, a request never waits for the store), invalidation, shutdown."""

import threading
import time

import numpy as np
import pandas as pd
import pytest

from pipelines.features.history_cache import CachedHistory
from pipelines.features.history_source import OUTCOME_COLUMNS, AccountPosts

BOUND = 30.0


class Store:
    """A history source whose likes we change, whose reads can be held or made to fail."""

    def __init__(self) -> None:
        self.likes = {"a": 1.0, "b": 2.0}
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def outcomes(self, account_ids):
        self.calls.append(list(account_ids))
        self.entered.set()
        assert self.gate.wait(10), "the test never released the store"
        if self.fail:
            raise ConnectionError("store down")
        rows = [{"account_id": a, "platform": "twitter", "post_id": f"{a}-1",
                 "posted_at": pd.Timestamp("2026-01-01", tz="UTC"),
                 "followers_at_post_time": 100.0, "likes": self.likes[a], "comments": None,
                 "shares": None} for a in account_ids if a in self.likes]
        return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))


def likes(cache: CachedHistory, account: str) -> float:
    return float(cache.accounts([account])[account].posts.likes[0])


@pytest.fixture
def setup():
    store, clock = Store(), [0.0]
    cache = CachedHistory(store, max_age_seconds=BOUND, clock=lambda: clock[0])
    yield store, clock, cache
    store.gate.set()
    cache.close()


def test_within_the_bound_the_cached_answer_serves(setup):
    store, clock, cache = setup
    assert likes(cache, "a") == 1.0            # never seen: read on the caller's thread
    store.likes["a"] = 5.0
    clock[0] = BOUND - 0.1
    assert likes(cache, "a") == 1.0
    assert (cache.reads, cache.refreshes, len(store.calls)) == (1, 0, 1)


def test_past_the_bound_a_request_gets_the_stale_answer_and_the_refresher_reads(setup):
    store, clock, cache = setup
    likes(cache, "a")
    generation = cache.accounts(["a"])["a"].generation
    store.likes["a"] = 5.0                     # an outcome written by another process
    clock[0] = BOUND
    assert likes(cache, "a") == 1.0            # answered from the cache, refresh queued
    assert cache.drain(5)
    assert likes(cache, "a") == 5.0            # seen within the bound plus one refresh
    assert cache.accounts(["a"])["a"].generation > generation
    assert (cache.reads, cache.refreshes) == (1, 1)
    assert cache._thread.name == "history-cache-refresher" and cache._thread.daemon


def test_a_request_during_a_refresh_neither_waits_for_the_store_nor_fails(setup):
    store, clock, cache = setup
    likes(cache, "a")
    store.likes["a"] = 5.0
    store.gate.clear()                          # the store hangs on the next read
    store.entered.clear()
    clock[0] = BOUND + 1
    assert likes(cache, "a") == 1.0
    assert store.entered.wait(5)                # the refresher is inside the read now
    started = time.perf_counter()
    for _ in range(100):
        assert likes(cache, "a") == 1.0        # stale, at once, and queued only once
    assert time.perf_counter() - started < 0.5
    store.gate.set()
    assert cache.drain(5)
    assert likes(cache, "a") == 5.0
    assert len(store.calls) == 2


def test_a_failed_refresh_keeps_the_last_answer_and_is_counted(setup, caplog):
    store, clock, cache = setup
    cache.retry_seconds = 0.01
    likes(cache, "a")
    store.fail = True
    clock[0] = BOUND
    assert likes(cache, "a") == 1.0
    assert cache.drain(5)
    assert cache.refresh_failures == 1 and "refreshing 1 account(s) failed" in caplog.text
    assert likes(cache, "a") == 1.0            # still served; queued again
    store.fail = False
    store.likes["a"] = 7.0
    deadline = time.monotonic() + 5
    while likes(cache, "a") != 7.0 and time.monotonic() < deadline:
        cache.drain(5)
    assert likes(cache, "a") == 7.0


def test_a_refresh_that_started_before_an_invalidation_is_discarded(setup):
    store, clock, cache = setup
    likes(cache, "a")
    store.gate.clear()
    store.entered.clear()
    clock[0] = BOUND
    likes(cache, "a")                            # refresher reads likes = 1.0 and hangs
    assert store.entered.wait(5)
    store.likes["a"] = 9.0                       # POST /outcomes writes, then invalidates
    cache.invalidate(["a"])
    reader = threading.Thread(target=lambda: likes(cache, "a"))   # next request: a miss
    reader.start()
    store.gate.set()
    reader.join(5)
    assert cache.drain(5)
    assert likes(cache, "a") == 9.0


def test_refresh_hooks_run_before_the_new_answer_is_visible(setup):
    store, clock, cache = setup
    seen = []

    class Consumer:
        def hook(self, fresh):
            visible = {a: cache._entries.get(a) for a in fresh}
            seen.append({a: (e.generation, visible[a] and visible[a].generation)
                         for a, e in fresh.items()})

    consumer = Consumer()
    cache.on_refresh(consumer.hook)
    cache.on_refresh(consumer.hook)               # registered once
    first = cache.accounts(["a"])["a"].generation
    assert seen == []                             # a caller's miss runs no hooks
    clock[0] = BOUND
    likes(cache, "a")
    cache.drain(5)
    (new, visible), = seen[0].values()
    assert visible == first < new                 # the old answer was still the visible one
    del consumer                                  # held weakly: a dropped model is forgotten
    clock[0] = 2 * BOUND
    likes(cache, "a")
    cache.drain(5)
    assert len(seen) == 1 and not cache._hooks


def test_close_stops_the_refresher_and_later_expiries_read_in_place(setup):
    store, clock, cache = setup
    likes(cache, "a")
    clock[0] = BOUND
    likes(cache, "a")
    cache.drain(5)
    thread = cache._thread
    cache.close(timeout=5)
    assert not thread.is_alive()
    store.likes["a"] = 3.0
    clock[0] = 2 * BOUND
    assert likes(cache, "a") == 3.0


def test_zero_bound_reads_on_every_call_without_a_thread():
    store = Store()
    cache = CachedHistory(store, max_age_seconds=0)
    for value in (1.0, 4.0):
        store.likes["a"] = value
        assert likes(cache, "a") == value
    assert cache.reads == 2 and cache._thread is None


def test_unknown_accounts_get_no_posts_and_outcomes_keep_the_columns(setup):
    _, _, cache = setup
    assert len(cache.accounts(["nobody"])["nobody"].posts) == 0
    frame = cache.outcomes(["a", "nobody"])
    assert list(frame.columns) == list(OUTCOME_COLUMNS) and frame["likes"].tolist() == [1.0]
    assert isinstance(cache.accounts(["a"])["a"].posts, AccountPosts)
    np.testing.assert_array_equal(cache.accounts(["a"])["a"].posts.t,
                                  [pd.Timestamp("2026-01-01").value])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_age_seconds": -1}, "max_age_seconds"),
    ({"max_age_seconds": float("inf")}, "max_age_seconds"),
    ({"max_age_seconds": 1, "max_pending": 0}, "max_pending"),
    ({"max_age_seconds": 1, "refresh_batch": 0}, "refresh_batch"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CachedHistory(Store(), **kwargs)
