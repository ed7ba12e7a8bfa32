"""Property test: random ``/predict`` and ``/outcomes`` bodies never get a 5xx, and nothing
accepted is lost: every accepted outcome is in the log exactly once, every answered
prediction is logged exactly once.

Bodies are mostly post- and outcome-shaped, with any field missing, replaced by a random
JSON value (nested, ``NaN``/``Infinity``, integers far beyond int64, odd strings: lone
surrogates, NUL, right-to-left marks, edge times) or joined by unknown fields; sometimes a
batch. The server is the real app over a real fitted ridge post model (fast path).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipelines.prediction_log import outcomes, predictions
from pipelines.serve.app import create_app
from pipelines.serve.fast_path import CompiledPostModel
from pipelines.serve.model_store import ModelStore

KEY = "fuzz-key"
HEADERS = {"X-API-Key": KEY, "Content-Type": "application/json"}
ODD = ["", " ", "\ud800", "x\udfffy", "\x00", "\u202eevil", "é🙂", "a" * 300, "NaN",
       "1e400", "true", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
       "2024-02-30T00:00:00Z", "instagram", "image"]
ODD_STRINGS = st.sampled_from(ODD) | st.text(max_size=12)
LEAVES = (st.none() | st.booleans() | st.integers(-2**80, 2**80)
          | st.floats(allow_nan=True, allow_infinity=True) | ODD_STRINGS)
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(ODD_STRINGS, inner, max_size=3), max_leaves=6)
GOOD_TIMES = st.sampled_from(["2024-05-01T10:00:00+00:00", "2004-01-01T00:00:00Z",
                              "2023-12-31T23:59:59-05:00", "2024-05-01T10:00:00"])
BAD_TIMES = st.sampled_from(["1900-01-01T00:00:00Z", "2100-01-01T00:00:00Z",
                             "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                             "2024-02-30T00:00:00Z", "2024-05-01"]) \
    | st.datetimes().map(lambda d: d.isoformat())
GOOD_COUNTS = st.integers(0, 50) | st.just(2**63 - 1)
BAD_COUNTS = st.integers(-3, -1) | st.integers(2**63, 2**66) | st.booleans() \
    | st.floats(allow_nan=True, allow_infinity=True)
IDS = st.text(min_size=1, max_size=8)
#: field -> (values the contract accepts, hostile values)
POST_FIELDS: dict[str, tuple[Any, Any]] = {
    "post_id": (IDS, ODD_STRINGS),
    "account_id": (st.sampled_from(["acct-1", "acct-2", "new-account"]), ODD_STRINGS),
    "platform": (st.sampled_from(["instagram", "facebook", "linkedin", "twitter"]),
                 st.sampled_from(["tiktok", "Instagram"]) | ODD_STRINGS),
    "content_type": (st.sampled_from(["image", "video", "carousel", "text", "link"]),
                     st.sampled_from(["gif", ""]) | ODD_STRINGS),
    "post_kind": (st.none() | st.sampled_from(["original", "reply", "quote", "share"]),
                  st.sampled_from(["retweet", "Reply", ""]) | ODD_STRINGS),
    "posted_at": (GOOD_TIMES, BAD_TIMES),
    "caption": (st.text(max_size=40), ODD_STRINGS),
    "hashtags_count": (st.integers(0, 30), BAD_COUNTS),
    "mentions_count": (st.integers(0, 30), BAD_COUNTS),
    "urls_count": (st.integers(0, 30), BAD_COUNTS),
    "media_count": (st.integers(0, 30), BAD_COUNTS),
    "followers_at_post_time": (st.integers(1, 10**10), BAD_COUNTS | st.just(0)),
    "campaign_id": (st.none() | IDS, ODD_STRINGS),
}
OUTCOME_FIELDS: dict[str, tuple[Any, Any]] = {
    "post_id": (IDS, ODD_STRINGS),
    "observed_at": (st.none() | GOOD_TIMES, BAD_TIMES),
    "likes": (GOOD_COUNTS, BAD_COUNTS), "comments": (GOOD_COUNTS, BAD_COUNTS),
    "shares": (GOOD_COUNTS, BAD_COUNTS),
}


@st.composite
def shaped(draw: Any, fields: dict[str, tuple[Any, Any]]) -> Any:
    """A body of ``fields``: all acceptable, or one field hostile, or each field
    independently acceptable, hostile, random JSON or missing; sometimes an unknown field."""
    mode = draw(st.sampled_from(["clean", "one", "any"]))
    spoiled = draw(st.sampled_from(sorted(fields))) if mode == "one" else None
    body = {}
    for name, (good, bad) in fields.items():
        choice = draw(st.integers(0, 9)) if mode == "any" else 9
        if name == spoiled:
            choice = draw(st.integers(0, 2))
        if choice == 0:
            continue
        body[name] = draw(JSON) if choice == 1 else draw(bad) if choice == 2 else draw(good)
    if draw(st.integers(0, 9)) == 0:
        body[draw(ODD_STRINGS)] = draw(JSON)
    return body


PREDICT_BODIES = (shaped(POST_FIELDS)
                  | st.builds(lambda posts: {"posts": posts},
                              st.lists(shaped(POST_FIELDS), max_size=4))
                  | JSON)
OUTCOME_BODIES = (st.builds(lambda items: {"outcomes": items},
                            st.lists(shaped(OUTCOME_FIELDS), min_size=1, max_size=3))
                  | JSON)


@pytest.fixture(scope="module")
def fuzz_client(serve_posts, fit_post_model, make_service, tmp_path_factory):
    ridge = fit_post_model(serve_posts.iloc[:600], "ridge")
    folder = tmp_path_factory.mktemp("fuzz")
    service = make_service(None, f"sqlite:///{folder / 'predictions.db'}",
                           api_keys=frozenset({KEY}), segments=False, max_batch=3,
                           max_body_bytes=50_000)
    service.store = ModelStore("m", versions_of=lambda name, aliases: {"champion": "1"},
                               load=lambda name, version: ridge,
                               compile_model=CompiledPostModel)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        client.service = service
        client.accepted = Counter()
        yield client


FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(body=PREDICT_BODIES)
def test_random_predict_bodies_never_5xx_and_every_answer_is_logged_once(fuzz_client, body):
    request_id = uuid.uuid4().hex
    response = fuzz_client.post("/predict", content=json.dumps(body),
                                headers={**HEADERS, "X-Request-ID": request_id})
    event(f"/predict {response.status_code}")
    assert response.status_code in (200, 413, 422), (body, response.text)
    json.loads(response.content)            # every answer is valid JSON (no NaN, no junk)
    if response.status_code == 200:
        answered = response.json()["predictions"]
        fuzz_client.service.writer.flush()
        with fuzz_client.service.log.engine.connect() as connection:
            logged = connection.execute(sa.select(sa.func.count()).select_from(predictions)
                                        .where(predictions.c.request_id == request_id)
                                        ).scalar_one()
        assert logged == len(answered) and fuzz_client.service.writer.failed == 0


@FUZZ
@given(body=OUTCOME_BODIES)
def test_random_outcome_bodies_never_5xx_and_accepted_outcomes_are_stored_once(
        fuzz_client, body):
    response = fuzz_client.post("/outcomes", content=json.dumps(body), headers=HEADERS)
    event(f"/outcomes {response.status_code}")
    assert response.status_code in (200, 413, 422), (body, response.text)
    json.loads(response.content)
    if response.status_code != 200:
        return
    ids = [item["post_id"] for item in body["outcomes"]]
    assert response.json()["stored"] == len(ids)
    fuzz_client.accepted.update(ids)
    with fuzz_client.service.log.engine.connect() as connection:
        stored = dict(connection.execute(
            sa.select(outcomes.c.post_id, sa.func.count()).where(outcomes.c.post_id.in_(ids))
            .group_by(outcomes.c.post_id)).all())
    assert stored == {i: fuzz_client.accepted[i] for i in ids}
