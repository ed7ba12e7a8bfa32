"""The API against a real MLflow registry (SQLite in tmp) and a real prediction log."""

from datetime import UTC, datetime, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from pipelines.prediction_log import PredictionLog
from pipelines.serve.app import create_app
from pipelines.serve.fast_path import posts_frame

KEY = "test-key-123"
HEADERS = {"X-API-Key": KEY}


def log_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'predictions.db'}"


@pytest.fixture()
def app(registry, tmp_path, make_service):
    """``app(**serve)``: the API on the test registry with these ``serve`` settings."""
    def build(**serve):
        return create_app(make_service(registry["uri"], log_url(tmp_path),
                                       api_keys=frozenset({KEY, "other-key"}),
                                       **{"max_batch": 300, "max_body_bytes": 200_000, **serve}))
    return build


@pytest.fixture()
def client(app):
    with TestClient(app()) as client:
        yield client


def test_auth_is_required(client, serve_posts, api_posts):
    body = api_posts(serve_posts.iloc[[650]])[0]
    assert client.post("/predict", json=body).status_code == 401
    wrong = client.post("/predict", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert client.post("/predict", json=body, headers={"X-API-Key": "other-key"}).status_code \
        == 200
    assert client.post("/outcomes", json={"outcomes": [{"post_id": "p", "likes": 1}]}
                       ).status_code == 401
    assert client.get("/health").status_code == 200        # probes need no key


@pytest.mark.parametrize("family", ["ridge", "lightgbm", "random_forest"])
def test_http_predictions_equal_the_batch_path(registry, app, serve_posts, family, api_posts):
    """Every default model family: the API answers what model.predict(DataFrame) does."""
    client_ = MlflowClient()
    version = registry["versions"][family]
    client_.set_registered_model_alias("m", "champion", version)
    try:
        posts = serve_posts.iloc[600:720]
        model = mlflow.sklearn.load_model(f"models:/m/{version}")
        expected = np.asarray(model.predict(posts_frame(
            [dict(p, posted_at=pd.Timestamp(p["posted_at"])) for p in api_posts(posts)])))
        with TestClient(app()) as client:
            assert client.get("/health").json()["paths"]["champion"] == \
                    f"scale_relative:{family}"
            batch = client.post("/predict", json={"posts": api_posts(posts)}, headers=HEADERS)
            assert batch.status_code == 200
            answers = batch.json()["predictions"]
            assert {(a["arm"], a["model_version"]) for a in answers} == {("champion", version)}
            np.testing.assert_allclose([a["prediction"] for a in answers], expected,
                                       rtol=1e-9, atol=1e-9)
            # single-post requests equal single-row batch predictions
            for post in api_posts(posts.head(5)):
                one = client.post("/predict", json=post, headers=HEADERS).json()
                row = model.predict(posts_frame([dict(post,
                                                      posted_at=pd.Timestamp(post["posted_at"]))]))
                assert one["predictions"][0]["prediction"] == pytest.approx(row[0], rel=1e-9)
    finally:
        client_.set_registered_model_alias("m", "champion", registry["versions"]["ridge"])


def test_sticky_routing_logging_and_outcomes(registry, app, tmp_path, serve_posts, api_posts):
    posts = api_posts(serve_posts.iloc[600:700])
    with TestClient(app(challenger_share=0.5)) as client:
        first = client.post("/predict", json={"posts": posts}, headers={
            **HEADERS, "X-Request-ID": "req-1"}).json()
        again = client.post("/predict", json={"posts": posts}, headers=HEADERS).json()
        by_account = {}
        for post, answer in zip(posts, first["predictions"], strict=True):
            by_account.setdefault(post["account_id"], set()).add(answer["arm"])
        assert all(len(arms) == 1 for arms in by_account.values())     # sticky per account
        assert {a["arm"] for a in first["predictions"]} == {"champion", "challenger"}
        assert [a["arm"] for a in again["predictions"]] == \
            [a["arm"] for a in first["predictions"]]
        versions = {a["arm"]: a["model_version"] for a in first["predictions"]}
        assert versions == {"champion": registry["versions"]["ridge"],
                            "challenger": registry["versions"]["lightgbm"]}

        observed = datetime(2026, 11, 1, tzinfo=UTC)
        stored = client.post("/outcomes", headers=HEADERS, json={"outcomes": [
            {"post_id": p["post_id"], "likes": 10, "observed_at": observed.isoformat()}
            for p in posts[:30]]})
        assert stored.json() == {"stored": 30}
        client.app.state.service.writer.flush()
        metrics = client.get("/metrics").text

    log = PredictionLog(log_url(tmp_path))
    rows = log.predictions_for(["req-1"])
    assert len(rows) == 100 and set(rows["arm"]) == {"champion", "challenger"}
    assert rows["features_hash"].str.len().eq(16).all()
    assert rows["features_hash"].nunique() > 90
    answered = {a["post_id"]: (a["prediction"], a["arm"]) for a in first["predictions"]}
    assert {r.post_id: (r.prediction, r.arm) for r in rows.itertuples()} == answered
    assert log.count_predictions() == 200
    pairs = log.matured_pairs(model_name="m", target="likes", horizon_hours=48,
                              now=observed + timedelta(days=400))
    assert len(pairs) == 60 and (pairs["actual"] == 10).all()
    assert 'engageflow_requests_total{path="/predict",status="200"} 2' in metrics
    assert "engageflow_predict_latency_seconds_count 2" in metrics
    assert 'engageflow_predictions_total{arm="challenger"' in metrics
    assert ('engageflow_model_info{arm="champion",model_version="1",'
            'path="scale_relative:ridge"} 1.0') in metrics
    assert "engageflow_prediction_log_queue_depth 0.0" in metrics


def test_size_limits_and_field_level_errors(client, serve_posts, api_posts):
    post = api_posts(serve_posts.iloc[[650]])[0]
    too_many = client.post("/predict", json={"posts": [post] * 301}, headers=HEADERS)
    assert too_many.status_code == 413 and "limit is 300" in too_many.json()["detail"]
    huge = client.post("/predict", headers=HEADERS, json=dict(post, caption="x" * 250_000))
    assert huge.status_code == 413 and "200000 bytes" in huge.json()["detail"]

    bad = client.post("/predict", headers=HEADERS, json=dict(
        post, platform="myspace", followers_at_post_time=-5))
    assert bad.status_code == 422
    errors = {tuple(e["loc"][-1:]): e for e in bad.json()["detail"]}
    assert errors[("platform",)]["input"] == "myspace"
    assert "instagram" in errors[("platform",)]["msg"]
    # the posts row contract's rule, named with the value (expectations/posts_row_contract.json)
    assert "expect_column_values_to_be_between on followers_at_post_time: >= 1; got -5" in \
        errors[("followers_at_post_time",)]["msg"]
    missing = client.post("/predict", headers=HEADERS, json={"posts": [
        {k: v for k, v in post.items() if k != "posted_at"}]})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"][-3:] == ["posts", 0, "posted_at"]
    extra = client.post("/predict", headers=HEADERS, json=dict(post, likes=5))
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"][-1] == "likes"
    no_counts = client.post("/outcomes", headers=HEADERS, json={"outcomes": [{"post_id": "p"}]})
    assert no_counts.status_code == 422 and "at least one of likes" in no_counts.text
    assert client.get("/openapi.json").json()["paths"]["/predict"]["post"]


def test_thompson_mode_serves_both_arms(app, serve_posts, api_posts):
    with TestClient(app(routing="thompson", exploration_floor=0.2, seed=4)) as client:
        answers = client.post("/predict", headers=HEADERS, json={
            "posts": api_posts(serve_posts.iloc[600:700])}).json()["predictions"]
        assert client.get("/health").json()["routing"] == "thompson"
    arms = [a["arm"] for a in answers]
    assert 10 < arms.count("challenger") < 90      # no data yet: both arms get traffic
