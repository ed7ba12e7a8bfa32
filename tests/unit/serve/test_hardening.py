"""Hostile input against ``engageflow serve`` (issue 14, Serving): every probe that used to
answer 500 now answers 4xx naming the field, a 500 leaves the keep-alive connection usable,
a chunked oversized body is a 413, concurrent outcome writers on a locked SQLite log lose
nothing, and ``/predict`` enforces the posts row contract read off the suite.

The server is the real app (strict JSON route, request models from the suite, middleware)
over a real fitted ridge post model compiled by the fast path, without a registry: the
store loads the fitted pipeline directly. Connection behaviour is tested on a real uvicorn
server on 127.0.0.1 (httptools, as ``engageflow serve`` runs).
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pipelines.prediction_log import PredictionLog, outcomes
from pipelines.serve.app import create_app
from pipelines.serve.fast_path import CompiledPostModel
from pipelines.serve.model_store import ModelStore
from pipelines.serve.request_models import Post
from pipelines.validate.expectations import load_suite
from pipelines.validate.row_rules import ONE_ROW_RULES, contract_rules

KEY = "hardening-key"
HEADERS = {"X-API-Key": KEY, "Content-Type": "application/json"}
INT64_MAX = 2**63 - 1
POST = {"post_id": "h-1", "account_id": "acct-1", "platform": "instagram",
        "content_type": "image", "posted_at": "2024-05-01T10:00:00+00:00",
        "caption": "hello #world", "hashtags_count": 1, "mentions_count": 0,
        "urls_count": 0, "media_count": 1, "followers_at_post_time": 1500}


class Exploding:
    """The compiled model, except that a post with id ``boom`` raises (an injected bug)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.kind, self.fast = inner, inner.kind, inner.fast

    def predict(self, batch: list[dict[str, Any]]) -> Any:
        if any(post["post_id"] == "boom" for post in batch):
            raise RuntimeError("injected fault")
        return self.inner.predict(batch)


@pytest.fixture(scope="module")
def ridge(serve_posts, fit_post_model) -> Any:
    return fit_post_model(serve_posts.iloc[:600], "ridge")


@pytest.fixture(scope="module")
def service_factory(ridge, make_service, tmp_path_factory):
    """``build(**serve)``: a service on the ridge model, its own SQLite log, auth on."""
    def build(**serve: Any) -> Any:
        folder = tmp_path_factory.mktemp("log")
        store = ModelStore("m", versions_of=lambda name, aliases: {"champion": "1"},
                           load=lambda name, version: ridge,
                           compile_model=lambda model: Exploding(CompiledPostModel(model)))
        service = make_service(None, f"sqlite:///{folder / 'predictions.db'}",
                               api_keys=frozenset({KEY}), segments=False,
                               **{"max_body_bytes": 20_000, "max_batch": 50, **serve})
        service.store = store
        return service
    return build


@pytest.fixture(scope="module")
def client(service_factory):
    service = service_factory()
    with TestClient(create_app(service)) as client:
        client.service = service
        yield client


def send(client: TestClient, path: str, raw: str | bytes) -> Any:
    return client.post(path, content=raw, headers=HEADERS)


def assert_422_names(response: Any, field: str, *words: str) -> dict[str, Any]:
    """The answer is a 422 whose errors name ``field`` (last element of a ``loc``) and
    whose message for it holds ``words``; returns that error."""
    assert response.status_code == 422, response.text
    errors = [e for e in response.json()["detail"] if e["loc"][-1] == field]
    assert errors, f"no error names {field!r}: {response.text}"
    text = json.dumps(errors[0])
    for word in words:
        assert word in text, f"{word!r} not in {text}"
    return errors[0]


# --- non-finite numbers, huge numbers, lone surrogates --------------------------------------

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize("field", ["followers_at_post_time", "hashtags_count", "caption"])
def test_non_finite_numbers_in_a_post_are_a_422_naming_the_field(client, field, literal):
    raw = json.dumps({**POST, field: "@@"}).replace('"@@"', literal)
    assert_422_names(send(client, "/predict", raw), field, "finite")


@pytest.mark.parametrize("literal", NON_FINITE)
def test_non_finite_numbers_anywhere_are_a_422_naming_the_place(client, literal):
    batch = json.dumps({"posts": [POST, {**POST, "media_count": "@@"}]}).replace('"@@"',
                                                                                 literal)
    error = assert_422_names(send(client, "/predict", batch), "media_count")
    assert error["loc"] == ["body", "posts", 1, "media_count"]
    raw = json.dumps({"outcomes": [{"post_id": "p", "likes": "@@"}]}).replace('"@@"', literal)
    assert_422_names(send(client, "/outcomes", raw), "likes", "finite")
    # an unknown field is refused too, and its bad value does not make the answer a 500
    extra = json.dumps({**POST, "extra": "@@"}).replace('"@@"', literal)
    assert_422_names(send(client, "/predict", extra), "extra")


def test_an_integer_too_long_to_convert_is_a_422_not_a_400(client):
    raw = '{"outcomes": [{"post_id": "p", "likes": ' + "9" * 5000 + "}]}"
    assert_422_names(send(client, "/outcomes", raw), "likes", "digits")


@pytest.mark.parametrize("field", ["post_id", "account_id", "caption", "campaign_id"])
def test_a_lone_surrogate_in_a_post_string_is_a_422_naming_the_field(client, field):
    raw = json.dumps({**POST, field: "ab\ud800cd"})          # json.dumps writes \\ud800
    assert "\\ud800" in raw
    assert_422_names(send(client, "/predict", raw), field, "surrogate", "\\\\ud800")


def test_a_lone_surrogate_in_an_outcome_or_a_field_name_is_a_422(client):
    raw = json.dumps({"outcomes": [{"post_id": "\udfff", "likes": 1}]})
    assert_422_names(send(client, "/outcomes", raw), "post_id", "surrogate")
    raw = json.dumps({**POST, "\ud800": 1})
    assert send(client, "/predict", raw).status_code == 422


# --- times at the edges of the representable range ------------------------------------------

EDGE_TIMES = ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
              "0001-01-01T00:00:00", "9999-12-31T23:59:59+14:00")


@pytest.mark.parametrize("when", EDGE_TIMES)
def test_posted_at_at_the_edges_of_time_is_a_422_naming_the_field(client, when):
    assert_422_names(send(client, "/predict", json.dumps({**POST, "posted_at": when})),
                     "posted_at", "posts_row_contract", when[:4])


@pytest.mark.parametrize("when", EDGE_TIMES)
def test_observed_at_at_the_edges_of_time_is_a_422_naming_the_field(client, when):
    raw = json.dumps({"outcomes": [{"post_id": "p", "likes": 1, "observed_at": when}]})
    assert_422_names(send(client, "/outcomes", raw), "observed_at", when[:4])


# --- outcome counts the log cannot store ----------------------------------------------------

@pytest.mark.parametrize("target", ["likes", "comments", "shares"])
def test_outcome_counts_from_2_63_are_a_422_and_the_largest_int64_is_stored(client, target):
    too_big = {"outcomes": [{"post_id": f"big-{target}", target: 2**63}]}
    assert_422_names(send(client, "/outcomes", json.dumps(too_big)), target, str(INT64_MAX))
    largest = {"outcomes": [{"post_id": f"max-{target}", target: INT64_MAX}]}
    assert send(client, "/outcomes", json.dumps(largest)).status_code == 200
    with client.service.log.engine.connect() as connection:
        stored = connection.execute(sa.select(outcomes.c[target]).where(
            outcomes.c.post_id == f"max-{target}")).scalar_one()
    assert stored == INT64_MAX


def test_the_log_itself_refuses_counts_beyond_int64(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'p.db'}")
    with pytest.raises(ValueError, match="'likes' must be an int in"):
        log.record_outcomes([{"post_id": "p", "likes": 2**63,
                              "observed_at": datetime.now(UTC)}])
    log.close()


# --- the posts row contract on /predict ------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "words"), [
    ("followers_at_post_time", 0, ["expect_column_values_to_be_between", ">= 1", "got 0"]),
    ("posted_at", "1900-06-01T00:00:00+00:00", ["expect_column_values_to_be_between",
                                                "2004-01-01", "1900-06-01"]),
    ("posted_at", "2100-06-01T00:00:00+00:00", ["expect_column_values_to_be_between",
                                                "<=", "2100-06-01"]),
    ("followers_at_post_time", True, ["int_type", "true"]),
    ("hashtags_count", -1, ["expect_column_values_to_be_between", ">= 0", "got -1"]),
    ("platform", "myspace", ["instagram", "myspace"]),
])
def test_predict_refuses_what_validation_would_quarantine(client, field, value, words):
    """Field (loc), rule and value in the answer."""
    assert_422_names(send(client, "/predict", json.dumps({**POST, field: value})), field,
                     *words)


SERVING_PARAMETERS = ("as_of", "max_caption_chars")


def violating_value(rule: dict[str, Any]) -> Any:
    """A value that breaks ``rule`` (a rule of the posts row contract on a post field)."""
    kwargs = rule["kwargs"]
    if rule["type"] == "expect_column_values_to_not_be_null":
        return None
    if rule["type"] == "expect_column_values_to_be_in_set":
        return "not-" + "-".join(map(str, kwargs["value_set"]))
    if rule["type"] == "expect_column_value_lengths_to_be_between":
        high = kwargs["max_value"]
        return "x" * (100_001 if isinstance(high, dict) else high + 1)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if isinstance(low, str):
        return (datetime.fromisoformat(low) - timedelta(days=1)).isoformat()
    if isinstance(high, dict):            # as_of: the request's time + the tolerance
        return (datetime.now(UTC) + timedelta(days=2)).isoformat()
    return low - 1 if low is not None else high + 1


def test_every_one_row_rule_of_the_suite_on_a_post_field_is_enforced(client, service_factory):
    """The request model carries the suite's rules: each rule of posts_row_contract that
    one row can be judged by, on a field a client sends, refuses a row that breaks it
    (422 naming the field) — read off the suite file, so a rule added there is tested."""
    suite = load_suite(Path(__file__).resolve().parents[3] / "expectations"
                       / "posts_row_contract.json")
    on_post_fields = [r for r in suite["expectations"]
                      if r["kwargs"].get("column") in Post.model_fields]
    one_row = [r for r in on_post_fields if r["type"] in ONE_ROW_RULES]
    assert contract_rules(suite, Post.model_fields, parameters=SERVING_PARAMETERS) == one_row
    assert len(one_row) >= 15          # not-null x6, bounds x6, sets x2, caption length
    assert {r["kwargs"]["column"] for r in one_row} == set(Post.model_fields) - {"campaign_id"}
    caption_limit = service_factory(max_body_bytes=1_000_000)
    with TestClient(create_app(caption_limit)) as big_client:
        for rule in one_row:
            column = rule["kwargs"]["column"]
            body = {**POST, column: violating_value(rule)}
            response = send(big_client, "/predict", json.dumps(body))
            assert_422_names(response, column)
            assert response.status_code == 422, (rule, response.text)
        assert send(big_client, "/predict", json.dumps(POST)).status_code == 200
    # every rule of the suite on a post field is one-row or needs other rows (uniqueness)
    assert all(r["type"] in ONE_ROW_RULES for r in on_post_fields)


def test_a_post_at_the_contract_bounds_is_answered(client):
    ok = {**POST, "followers_at_post_time": 1, "posted_at": "2004-01-01T00:00:00Z",
          "hashtags_count": 0}
    assert send(client, "/predict", json.dumps(ok)).status_code == 200
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()   # within the tolerance
    assert send(client, "/predict", json.dumps({**POST, "posted_at": soon})).status_code == 200


# --- a real server: keep-alive after a 500, chunked bodies, concurrent outcome writers --------

@pytest.fixture(scope="module")
def server(service_factory):
    """The app on a real uvicorn server on 127.0.0.1 (a free port), as engageflow serve
    runs it; yields (host, port, service)."""
    import uvicorn

    service = service_factory(max_body_bytes=5_000)
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=0,
                            log_level="critical", access_log=False)
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not runner.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = runner.servers[0].sockets[0].getsockname()[1]
    yield "127.0.0.1", port, service
    runner.should_exit = True
    thread.join(timeout=30)


def post(connection: http.client.HTTPConnection, path: str, body: Any) -> tuple[int, Any]:
    connection.request("POST", path, body=json.dumps(body), headers=HEADERS)
    response = connection.getresponse()
    raw = response.read()
    try:
        return response.status, json.loads(raw or b"null")
    except ValueError:
        return response.status, {"detail": raw.decode(errors="replace")}


def test_after_a_500_the_same_keep_alive_connection_answers(server):
    host, port, _ = server
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        assert post(connection, "/predict", POST)[0] == 200
        sock = connection.sock
        for _ in range(3):
            status, body = post(connection, "/predict", {**POST, "post_id": "boom"})
            assert status == 500 and "internal server error" in body["detail"].lower()
            status, body = post(connection, "/predict", POST)
            assert status == 200 and body["predictions"][0]["post_id"] == "h-1"
            assert post(connection, "/outcomes", {"outcomes": [{"post_id": "h-1",
                                                                "likes": 3}]})[0] == 200
        assert connection.sock is sock        # one connection throughout, never reopened
    finally:
        connection.close()


def test_a_chunked_oversized_body_is_a_413_like_a_sized_one(server):
    host, port, _ = server
    big = json.dumps({"posts": [POST] * 40}).encode()           # > 5,000 bytes
    for chunked in (True, False):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        try:
            if chunked:
                chunks = (big[i:i + 1000] for i in range(0, len(big), 1000))
                connection.request("POST", "/predict", body=chunks, headers=HEADERS,
                                   encode_chunked=True)
            else:
                connection.request("POST", "/predict", body=big, headers=HEADERS)
            response = connection.getresponse()
            detail = json.loads(response.read())["detail"]
            assert response.status == 413, (chunked, detail)
            assert "serve.max_body_bytes" in detail and "5000" in detail
        finally:
            connection.close()


def test_concurrent_outcome_writers_on_a_locked_log_lose_nothing(server):
    """Another connection holds the SQLite write lock longer than the busy timeout (5 s)
    while 8 clients send outcomes: no 500, and every outcome is stored exactly once."""
    host, port, service = server
    database = service.log.engine.url.database
    holder = sqlite3.connect(database, timeout=1, isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")                # the write lock, held 5.5 s
    release = threading.Timer(5.5, lambda: holder.execute("COMMIT"))
    statuses: list[int] = []
    sent = [f"lock-{client}-{i}" for client in range(8) for i in range(15)]

    def writer(client: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            for i in range(15):
                statuses.append(post(connection, "/outcomes", {"outcomes": [
                    {"post_id": f"lock-{client}-{i}", "likes": i, "comments": 1}]})[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(c,)) for c in range(8)]
    release.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    release.join()
    holder.close()
    assert statuses == [200] * len(sent), sorted(set(statuses))
    with service.log.engine.connect() as connection:
        counts = dict(connection.execute(
            sa.select(outcomes.c.post_id, sa.func.count()).where(
                outcomes.c.post_id.like("lock-%")).group_by(outcomes.c.post_id)).all())
    assert counts == dict.fromkeys(sent, 1)


def test_a_log_locked_past_the_deadline_is_a_503_and_nothing_is_half_written(
        service_factory):
    service = service_factory()
    service.log.write_timeout_seconds = 0.3
    database = service.log.engine.url.database
    with TestClient(create_app(service)) as client:
        holder = sqlite3.connect(database, timeout=1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            from pipelines import prediction_log

            original = prediction_log.SQLITE_BUSY_TIMEOUT_MS
            # new connections wait 0.1 s per attempt (the deadline is the test's subject)
            service.log.engine.dispose()
            prediction_log.SQLITE_BUSY_TIMEOUT_MS = 100
            response = send(client, "/outcomes", json.dumps(
                {"outcomes": [{"post_id": "late", "likes": 1}]}))
        finally:
            prediction_log.SQLITE_BUSY_TIMEOUT_MS = original
            holder.execute("COMMIT")
            holder.close()
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert "send the outcomes again" in response.json()["detail"].lower()
        assert send(client, "/outcomes", json.dumps(
            {"outcomes": [{"post_id": "late", "likes": 1}]})).status_code == 200
