"""POST /tasks/feedback_sentiment/predict against a real registered feedback model (VADER,
trained through the task's hooks and ``run_register``), a real MLflow registry and
prediction log: class, probabilities, VADER compound, language and model_status."""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.feedback_serving import FeedbackRow
from tests.conftest import settings_for_test, tracking_uri_env
from tests.unit.tasks.conftest import AS_OF, project_in

KEY = "feedback-key"
ROUTE = "/tasks/feedback_sentiment/predict"
TASK = get_task("feedback_sentiment")


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register

    root = tmp_path_factory.mktemp("feedback_serving")
    paths, uri = project_in(root), f"sqlite:///{root / 'mlflow.db'}"
    settings = settings_for_test({
        "train.task": "feedback_sentiment", "train.models": ["vader"],
        "feedback_sentiment.demo_rows": 300, "validate.min_rows": 100,
        "register.experiment": "feedback-test"})
    for stage in ("collect", "features", "train", "evaluate"):
        if stage == "features":
            TASK.validate(paths, settings, as_of=AS_OF, reports=False)
        getattr(TASK, stage)(paths, settings)
    with tracking_uri_env(uri):
        record = run_register(TASK, paths, settings, run_key="feedback-vader")
        move_alias(record["model_name"], "champion", record["version"], actor="test",
                   reason="the served model")
    return {"paths": paths, "uri": uri, "model_name": record["model_name"],
            "version": record["version"]}


@pytest.fixture()
def client(champion, tmp_path):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from pipelines.serve.task_serving import served_task
    from tests.unit.serve.test_task_routes import posts_row_suite

    served = served_task("feedback_sentiment", model_name=champion["model_name"],
                         paths=champion["paths"])
    service = Service(ServeConfig(poll_seconds=0, challenger_share=0.0, auto_train="off"),
                      model_name="no-post-model", task="likes",
                      maturity_hours=FeatureSettings().maturity_hours,
                      segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
                      prediction_log_url=f"sqlite:///{tmp_path / 'log.db'}",
                      tracking_uri=champion["uri"], api_keys=frozenset({KEY}),
                      project_dir=None, tasks=[served])
    with TestClient(create_app(service)) as client:
        yield client


def test_a_batch_answers_class_probabilities_vader_language_and_status(client, champion):
    rows = [{"feedback_id": "a", "text": "I love it, wonderful and perfect!"},
            {"feedback_id": "b", "text": "Terrible service, the worst ever.",
             "campaign": "never-seen", "age_range": "25-34"},
            {"feedback_id": "c", "text": "El servicio fue terrible y la comida estaba fría."},
            {"feedback_id": "d", "text": ""}]
    response = client.post(ROUTE, json={"rows": rows}, headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    answers = {a["key"]: a for a in response.json()["predictions"]}
    for answer in answers.values():
        assert answer["model_version"] == champion["version"]
        assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert answer["model_status"]["level"] == "global"
        assert answer["model_status"]["campaign_model"] is False
    assert answers["a"]["sentiment"] == "positive" and answers["a"]["vader_compound"] > 0.5
    assert answers["b"]["sentiment"] == "negative" and answers["b"]["vader_compound"] < -0.5
    assert answers["c"]["language"] == "es" and answers["c"]["vader_compound"] is None
    assert answers["c"]["model_status"]["read_text"] is False
    assert "not English" in answers["c"]["model_status"]["message"]
    assert answers["d"]["language"] == "und" and answers["d"]["vader_compound"] == 0.0


def test_bad_rows_are_refused_with_the_field(client):
    for row, field in (({"feedback_id": "x"}, "text"),
                       ({"feedback_id": "x", "text": "y" * 20_001}, "text"),
                       ({"feedback_id": "x", "text": "ok", "age_range": "teen"}, "age_range"),
                       ({"feedback_id": "x", "text": "ok", "mood": "?"}, "mood")):
        response = client.post(ROUTE, json=row, headers={"X-API-Key": KEY})
        assert response.status_code == 422 and field in response.text, row


def test_the_request_model_defaults_missing_demographics_to_unknown():
    row = FeedbackRow(feedback_id="1", text="")
    assert (row.campaign, row.gender, row.age_range) == ("unknown",) * 3
    with pytest.raises(ValidationError, match="campaign"):
        FeedbackRow(feedback_id="1", text="x", campaign="")
    frame = TASK.request_frame([row.model_dump()])
    assert np.asarray(frame["timezone"]).tolist() == ["unknown"]
