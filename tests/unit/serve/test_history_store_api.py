"""POST /outcomes reaches the next prediction through the Feast history store (real Feast,
SQLite online store in tmp; a real registry and prediction log)."""

import threading
import time
from datetime import timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines.features.feature_store import FeastHistory
from pipelines.features.history_cache import CachedHistory
from pipelines.features.history_source import FrameHistory
from pipelines.serve.app import create_app
from pipelines.serve.fast_path import CompiledPostModel, posts_frame

KEY = "k"
HEADERS = {"X-API-Key": KEY}
BOUND = 30.0


def test_matured_outcomes_change_the_next_prediction_of_the_account(
        registry, tmp_path, make_service, serve_posts, api_post):
    feast = FeastHistory(tmp_path / "store", str(tmp_path / "store" / "online.db"),
                         maturity_hours=48)
    clock = [0.0]
    history = CachedHistory(feast, max_age_seconds=BOUND, clock=lambda: clock[0])
    # another serving replica over the same store: it read the account before the outcome
    replica_history = CachedHistory(FeastHistory(
        tmp_path / "store", str(tmp_path / "store" / "online.db"), maturity_hours=48),
        max_age_seconds=BOUND, clock=lambda: clock[0])
    replica = CompiledPostModel(mlflow.sklearn.load_model(
        f"models:/m/{registry['versions']['ridge']}")).attach_history(replica_history)

    row = serve_posts.iloc[700]
    first = dict(api_post(row), post_kind="reply")   # a post after the training data
    later = dict(first, post_id="next-post",
                 posted_at=(row["posted_at"] + timedelta(days=4)).isoformat())
    observed = row["posted_at"] + timedelta(hours=72)
    service = make_service(registry["uri"], f"sqlite:///{tmp_path / 'log.db'}",
                           api_keys=frozenset({KEY}), segments=False, history=history)

    def predict(client, post):
        answer = client.post("/predict", json=post, headers=HEADERS)
        assert answer.status_code == 200
        return answer.json()["predictions"][0]["prediction"]

    def replica_predicts(post):
        return replica.predict([dict(post, posted_at=pd.Timestamp(post["posted_at"])
                                     .to_pydatetime())])[0][0]

    with TestClient(create_app(service)) as client:
        before = predict(client, later)
        assert replica_predicts(later) == pytest.approx(before, rel=1e-12)
        predict(client, first)
        client.app.state.service.writer.flush()

        # counts read 1 h after posting are still growing: not an outcome
        young = client.post("/outcomes", headers=HEADERS, json={"outcomes": [
            {"post_id": first["post_id"], "likes": 5_000_000,
             "observed_at": (row["posted_at"] + timedelta(hours=1)).isoformat()}]})
        assert young.json() == {"stored": 1, "history_posts": 1}
        known = predict(client, later)   # the post now exists for the account, no outcome

        matured = client.post("/outcomes", headers=HEADERS, json={"outcomes": [
            {"post_id": first["post_id"], "likes": 5_000_000, "comments": 10,
             "observed_at": observed.isoformat()}]})
        assert matured.json() == {"stored": 1, "history_posts": 1}
        after = predict(client, later)

    assert after > known * 1.05         # a huge matured outcome lifts the account's history
    # exactly what the batch path computes with that post in the account's history
    model = mlflow.sklearn.load_model(f"models:/m/{registry['versions']['ridge']}")
    frame = posts_frame([dict(later, posted_at=pd.Timestamp(later["posted_at"]))])
    for answer, likes, seen in ((known, 5_000_000, row["posted_at"] + timedelta(hours=1)),
                                (after, 5_000_000, observed)):
        outcome = serve_posts.iloc[[700]].assign(
            post_kind="reply", likes=likes, comments=10 if seen == observed else pd.NA,
            shares=pd.NA, collected_at=seen)
        model.steps[0][1].attach_history(FrameHistory(outcome, maturity_hours=48))
        np.testing.assert_allclose(answer, model.predict(frame)[0], rtol=1e-9)
    assert history._thread is None or not history._thread.is_alive()   # stopped with it
    # the store holds what the prediction said the post is (the outcome does not say it)
    stored = feast.posts([row["account_id"]]).set_index("post_id")
    assert stored.loc[first["post_id"], "post_kind"] == "reply"
    # the other replica answers from its cache until the freshness bound passes, then once
    # more while its refresher re-reads the store, then with the outcome
    assert replica_predicts(later) == pytest.approx(before, rel=1e-12)
    clock[0] = BOUND + 0.1
    assert replica_predicts(later) == pytest.approx(before, rel=1e-12)
    assert replica_history.drain(10)
    assert replica_predicts(later) == pytest.approx(after, rel=1e-9)
    replica_history.close()


class HeldStore:
    """A Feast source whose reads can be held (a slow or hung online store)."""

    def __init__(self, inner):
        self.inner, self.entered, self.gate = inner, threading.Event(), threading.Event()
        self.gate.set()

    def account_posts(self, account_ids):
        self.entered.set()
        assert self.gate.wait(10), "the test never released the store"
        return self.inner.account_posts(account_ids)


def test_an_outcome_written_elsewhere_is_seen_within_the_bound_and_a_refresh_never_blocks(
        registry, tmp_path, make_service, serve_posts, api_post):
    """Another replica writes an outcome to the store; this server keeps answering (from
    its cache, at once, while its refresher is stuck in the store) and answers with the
    outcome once the bound has passed and the refresh is in."""
    store_dir, url = tmp_path / "store", str(tmp_path / "store" / "online.db")
    held = HeldStore(FeastHistory(store_dir, url, maturity_hours=48))
    clock = [0.0]
    history = CachedHistory(held, max_age_seconds=BOUND, clock=lambda: clock[0])
    service = make_service(registry["uri"], f"sqlite:///{tmp_path / 'log.db'}",
                           api_keys=frozenset({KEY}), segments=False, history=history)
    row = serve_posts.iloc[700]
    later = dict(api_post(row), post_id="next-post",
                 posted_at=(row["posted_at"] + timedelta(days=4)).isoformat())
    outcome = serve_posts.iloc[[700]].assign(
        likes=5_000_000, comments=10, shares=pd.NA,
        collected_at=row["posted_at"] + timedelta(hours=72))

    with TestClient(create_app(service)) as client:
        def predict():
            started = time.perf_counter()
            answer = client.post("/predict", json=later, headers=HEADERS)
            assert answer.status_code == 200
            return answer.json()["predictions"][0]["prediction"], time.perf_counter() - started

        before, _ = predict()                        # first sight: one read on this thread
        FeastHistory(store_dir, url, maturity_hours=48).write_posts(   # another replica
            outcome, written_at=outcome["collected_at"].iloc[0].to_pydatetime())
        assert predict()[0] == before                # within the bound: the cached answer
        held.gate.clear()
        held.entered.clear()
        clock[0] = BOUND                             # expired: the refresher gets stuck
        answers = [predict() for _ in range(20)]
        assert held.entered.wait(5)
        answers += [predict() for _ in range(20)]
        assert all(value == before for value, _ in answers)
        assert max(seconds for _, seconds in answers) < 1.0     # nobody waited on the store
        held.gate.set()
        assert history.drain(10)
        after, _ = predict()
    assert not history._thread.is_alive()            # the server stopped its refresher
    assert after > before * 1.05
    model = mlflow.sklearn.load_model(f"models:/m/{registry['versions']['ridge']}")
    model.steps[0][1].attach_history(FrameHistory(outcome, maturity_hours=48))
    frame = posts_frame([dict(later, posted_at=pd.Timestamp(later["posted_at"]))])
    np.testing.assert_allclose(after, model.predict(frame)[0], rtol=1e-9)
