"""POST /tasks/conversion/predict against a real registered conversion model (trained through
the task's hooks and ``run_register``), a real MLflow registry and prediction log."""

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from pipelines.prediction_log import PredictionLog
from pipelines.serve.app import Service, create_app
from pipelines.serve.task_serving import served_task
from pipelines.tasks import get_task
from pipelines.tasks.conversion_data import INPUT_COLUMNS

KEY = "task-key"
HEADERS = {"X-API-Key": KEY}
ROUTE = "/tasks/conversion/predict"
CONVERSION = get_task("conversion")


def posts_row_suite() -> dict:
    """The project's posts row contract (what ``engageflow serve`` loads)."""
    from pathlib import Path

    from pipelines.validate.expectations import load_suite

    return load_suite(Path(__file__).resolve().parents[3] / "expectations"
                      / "posts_row_contract.json")


def task_service(champion: dict, log_url: str, *, model_name: str | None = None,
                 task: str = "conversion", **serve) -> Service:
    """A server whose post model does not exist and which serves ``task`` from
    ``model_name`` (default: the champion's registered model) with the key :data:`KEY`."""
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig

    settings = ServeConfig(**{"poll_seconds": 0, "challenger_share": 0.0, "auto_train": "off",
                              **serve})
    served = served_task(task, model_name=model_name or champion["model_name"],
                         paths=champion["paths"])
    return Service(settings, model_name="no-post-model", task="likes",
                   maturity_hours=FeatureSettings().maturity_hours,
                   segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
                   prediction_log_url=log_url,
                   tracking_uri=champion["tracking_uri"], api_keys=frozenset({KEY}),
                   project_dir=None, tasks=[served])


@pytest.fixture(scope="module")
def sessions(conversion_champion) -> pd.DataFrame:
    """The newest 120 validated sessions."""
    return pd.read_parquet(conversion_champion["paths"].validated("sessions")).tail(120)


def bodies(sessions: pd.DataFrame) -> list[dict]:
    """Sessions as JSON rows of the route (session_id + the input columns)."""
    rows = sessions[["session_id", *INPUT_COLUMNS]].to_dict("records")
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for row in rows]


@pytest.fixture()
def log_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'predictions.db'}"


@pytest.fixture()
def client(conversion_champion, log_url):
    with TestClient(create_app(task_service(conversion_champion, log_url))) as client:
        yield client


def test_one_session_and_a_batch_answer_what_the_registered_model_says(
        client, conversion_champion, sessions, log_url):
    rows = bodies(sessions)
    version = conversion_champion["versions"]["logistic_regression"]
    model = mlflow.sklearn.load_model(f"models:/{conversion_champion['model_name']}/{version}")
    expected = CONVERSION.predict(model, sessions)

    one = client.post(ROUTE, json=rows[0], headers={**HEADERS, "X-Request-ID": "one"})
    assert one.status_code == 200, one.text
    body = one.json()
    assert set(body) == {"request_id", "task", "model_name", "predictions"}
    assert (body["request_id"], body["task"], body["model_name"]) == (
        "one", "conversion", conversion_champion["model_name"])
    assert body["predictions"] == [{"key": rows[0]["session_id"], "arm": "champion",
                                    "model_version": version,
                                    "prediction": pytest.approx(expected[0], rel=1e-9)}]

    batch = client.post(ROUTE, json={"rows": rows}, headers={**HEADERS, "X-Request-ID": "b"})
    answers = batch.json()["predictions"]
    assert [a["key"] for a in answers] == list(sessions["session_id"])
    np.testing.assert_allclose([a["prediction"] for a in answers], expected, rtol=1e-9)
    assert all(0 <= a["prediction"] <= 1 for a in answers)

    client.app.state.service.writer.flush()
    logged = PredictionLog(log_url).predictions_for(["one", "b"])
    assert len(logged) == 1 + len(rows)
    assert set(logged["target"]) == {"converted"}
    assert set(logged["model_name"]) == {conversion_champion["model_name"]}
    assert (logged["account_id"] == "").all() and (logged["platform"] == "").all()
    assert logged["post_id"].tolist() == [rows[0]["session_id"], *sessions["session_id"]]
    # a session carries no time: it is logged at the time it was predicted
    assert (logged["posted_at"] == logged["predicted_at"]).all()
    assert logged["features_hash"].nunique() == len(rows)


def test_sticky_ab_routing_by_session(conversion_champion, sessions, log_url):
    versions = conversion_champion["versions"]
    rows = bodies(sessions)
    app = create_app(task_service(conversion_champion, log_url, challenger_share=0.5))
    with TestClient(app) as client:
        first = client.post(ROUTE, json={"rows": rows}, headers=HEADERS).json()["predictions"]
        again = client.post(ROUTE, json={"rows": rows[::-1]}, headers=HEADERS).json()
        health = client.get("/health").json()["tasks"]["conversion"]
        metrics = client.get("/metrics").text
    arms = {a["key"]: (a["arm"], a["model_version"]) for a in first}
    assert {arm for arm, _ in arms.values()} == {"champion", "challenger"}
    assert 20 < sum(arm == "challenger" for arm, _ in arms.values()) < 100
    assert dict(arms.values()) == {"champion": versions["logistic_regression"],
                                   "challenger": versions["lightgbm"]}
    assert {a["key"]: (a["arm"], a["model_version"]) for a in again["predictions"]} == arms
    assert health["arms"] == {"champion": versions["logistic_regression"],
                              "challenger": versions["lightgbm"]}
    assert health["serve_key"] == "session_id" and health["status"] == "ok"
    assert health["paths"] == {"champion": "LogisticRegression",
                               "challenger": "LGBMClassifier"}
    assert 'engageflow_task_predictions_total{task="conversion",arm="challenger"' in metrics
    assert 'engageflow_requests_total{path="/tasks/conversion/predict",status="200"} 2' \
        in metrics


def test_a_key_is_needed(client, sessions):
    row = bodies(sessions)[0]
    assert client.post(ROUTE, json=row).status_code == 401
    wrong = client.post(ROUTE, json=row, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]


def test_bad_rows_are_refused_naming_the_field(client, sessions):
    row = bodies(sessions)[0]
    bounced = client.post(ROUTE, json=dict(row, bounce_rates=0.5), headers=HEADERS)
    assert bounced.status_code == 422
    error = bounced.json()["detail"][0]
    assert error["loc"][-1] == "bounce_rates" and error["input"] == 0.5
    assert "less than or equal to 0.2" in error["msg"]       # the contract's bound
    month = client.post(ROUTE, json={"rows": [row, dict(row, month="Smarch")]},
                        headers=HEADERS)
    assert month.status_code == 422
    assert month.json()["detail"][0]["loc"][-3:] == ["rows", 1, "month"]
    for change, field in ((dict(row, administrative=1.5), "administrative"),
                          (dict(row, weekend="yes"), "weekend"),
                          (dict(row, converted=1), "converted"),
                          (dict(row, session_id=""), "session_id"),
                          ({k: v for k, v in row.items() if k != "exit_rates"}, "exit_rates")):
        answer = client.post(ROUTE, json=change, headers=HEADERS)
        assert answer.status_code == 422, field
        assert answer.json()["detail"][0]["loc"][-1] == field
    too_many = client.post(ROUTE, json={"rows": [row] * 257}, headers=HEADERS)
    assert too_many.status_code == 413 and "limit is 256" in too_many.json()["detail"]


def test_no_champion_yet_answers_503_and_a_champion_is_picked_up(conversion_champion,
                                                                 sessions, log_url):
    from pipelines.registry import tracking

    name = "engagement-conversion-later"
    service = task_service(conversion_champion, log_url, model_name=name)
    row = bodies(sessions)[0]
    with TestClient(create_app(service)) as client:
        waiting = client.post(ROUTE, json=row, headers=HEADERS)
        assert waiting.status_code == 503 and waiting.headers["Retry-After"] == "30"
        detail = waiting.json()["detail"]
        assert detail["task"] == "conversion" and name in detail["missing"]
        assert "train.task=conversion" in detail["action"]
        assert client.get("/health").json()["tasks"]["conversion"]["status"] == "no_model"
        # a champion appears (what the promotion gate does): the next poll serves it
        tracking.connect(conversion_champion["tracking_uri"])
        registry = MlflowClient()
        trained = registry.get_model_version(conversion_champion["model_name"],
                                             conversion_champion["versions"]["lightgbm"])
        registry.create_registered_model(name)
        version = registry.create_model_version(name, trained.source, trained.run_id).version
        registry.set_registered_model_alias(name, "champion", version)
        service.tasks["conversion"].store.refresh()          # what the alias poller runs
        served = client.post(ROUTE, json=row, headers=HEADERS)
        assert served.status_code == 200
        assert served.json()["predictions"][0]["model_version"] == str(version)


def test_openapi_lists_the_task_route_with_its_body(client):
    spec = client.get("/openapi.json").json()
    assert {"/predict", ROUTE} <= set(spec["paths"])
    body = spec["paths"][ROUTE]["post"]["requestBody"]["content"]["application/json"]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in body["schema"]["oneOf"]}
    assert refs == {"ConversionSession", "ConversionSessionBatch"}
    session = spec["components"]["schemas"]["ConversionSession"]
    assert set(session["properties"]) == {"session_id", *INPUT_COLUMNS}
    assert set(session["required"]) == {"session_id", *INPUT_COLUMNS}
    # bounds and sets come from expectations/sessions_row_contract.json
    assert (session["properties"]["bounce_rates"]["minimum"],
            session["properties"]["bounce_rates"]["maximum"]) == (0, 0.2)
    assert "Nov" in session["properties"]["month"]["enum"]
    assert spec["paths"][ROUTE]["post"]["responses"]["503"]


def test_the_post_api_keeps_answering_beside_the_task(client):
    health = client.get("/health").json()
    assert health["model_name"] == "no-post-model" and health["arms"] == {}
    assert health["tasks"]["conversion"]["arms"]
    assert client.get("/metrics").status_code == 200


def test_a_task_without_a_request_model_cannot_be_served(conversion_champion):
    with pytest.raises(ValueError, match="task 'likes' declares no request model"):
        served_task("likes", model_name="engagement-likes", paths=conversion_champion["paths"])

