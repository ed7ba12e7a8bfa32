"""Auto-train on the first call of a task route: POST /tasks/feedback_sentiment/predict with
no registered model answers 503 + Retry-After and trains the task in the server through the
pipeline's own stages (collect from the seeded demo source → ... → register → promotion
gate) against a real MLflow registry; the next answer says the model was trained in this
cycle. Over serve.auto_train_max_rows the server does not train (the status says why)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from fastapi.testclient import TestClient

KEY = "k"
HEADERS = {"X-API-Key": KEY}
ROUTE = "/tasks/feedback_sentiment/predict"
MODEL = "engagement-feedback_sentiment"


def _project(folder, project_root, **feedback):
    """A project folder: the checkout's suites and params.yaml with a fast feedback run."""
    shutil.copytree(project_root / "expectations", folder / "expectations")
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    params["train"].update(models=["vader"], cv_folds=0)
    params["feedback_sentiment"].update(feedback)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return folder


def _service(root, tmp, **serve):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig, load_settings
    from pipelines.paths import project_paths
    from pipelines.serve.app import Service
    from pipelines.serve.task_serving import served_task
    from tests.unit.serve.test_task_routes import posts_row_suite

    paths = project_paths(str(root))
    settings = load_settings(paths.params_file, {"train.task": "feedback_sentiment"})
    served = served_task("feedback_sentiment", model_name=MODEL, paths=paths,
                         settings=settings)
    return Service(ServeConfig(**{"poll_seconds": 0, "challenger_share": 0.0, **serve}),
                   model_name="no-post-model", task="likes",
                   maturity_hours=FeatureSettings().maturity_hours,
                   segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
                   prediction_log_url=f"sqlite:///{tmp / 'log.db'}",
                   tracking_uri=paths.tracking_uri, api_keys=frozenset({KEY}),
                   project_dir=str(root), tasks=[served])


@pytest.fixture(scope="module")
def first_calls(tmp_path_factory, project_root):
    """The first call (503), a second one while training, the training's end, and a call
    after it, all against one server."""
    root = _project(tmp_path_factory.mktemp("auto_train") / "project", project_root,
                    demo_rows=300)
    row = {"feedback_id": "f-1", "text": "Terrible delays, the worst service ever.",
           "campaign": "campaign-1"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENGAGEFLOW_HOME", str(root))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        service = _service(root, root, auto_train="sync", auto_train_max_rows=1000)
        from pipelines.serve.app import create_app

        with TestClient(create_app(service)) as api:
            first = api.post(ROUTE, headers=HEADERS, json=row)
            second = api.post(ROUTE, headers=HEADERS, json=row)
            trainer = service.tasks["feedback_sentiment"].trainer
            trainer.join(timeout=300)
            after = api.post(ROUTE, headers=HEADERS, json=row)
            health = api.get("/health").json()
    return {"first": first, "second": second, "status": dict(trainer.status),
            "after": after, "health": health}


def test_the_first_call_answers_503_with_retry_after_and_starts_training(first_calls):
    first = first_calls["first"]
    assert first.status_code == 503 and first.headers["retry-after"] == "30"
    detail = first.json()["detail"]
    assert detail["task"] == "feedback_sentiment"
    assert f"registered model {MODEL!r}" in detail["missing"]
    assert detail["training"]["state"] == "training"
    assert detail["training"]["how"] == "in this server"
    assert detail["action"].startswith("training started (in this server)")


def test_a_second_call_while_training_starts_no_second_training(first_calls):
    second = first_calls["second"]
    assert second.status_code == 503
    assert second.json()["detail"]["training"]["since"] == \
        first_calls["first"].json()["detail"]["training"]["since"]


def test_the_training_ran_the_stages_on_the_demo_source_and_passed_the_gate(first_calls):
    status = first_calls["status"]
    assert status["state"] == "done", status
    assert status["rows"] == 300 and status["decision"] == "promote"
    assert status["version"] == "1"


def test_the_next_call_is_answered_by_the_model_trained_in_this_cycle(first_calls):
    after = first_calls["after"]
    assert after.status_code == 200, after.text
    answer = after.json()["predictions"][0]
    assert answer["model_version"] == "1" and answer["sentiment"] in (
        "negative", "neutral", "positive")
    status = answer["model_status"]
    assert status["trained_this_cycle"] is True
    assert "trained in this cycle" in status["message"]
    assert first_calls["status"]["run_id"] in status["message"]
    assert first_calls["health"]["tasks"]["feedback_sentiment"]["arms"] == {"champion": "1"}


def test_a_source_over_the_row_limit_is_not_trained_in_the_server(tmp_path, project_root,
                                                                    monkeypatch):
    from pipelines.serve.auto_train import AutoTrainer

    root = _project(tmp_path / "project", project_root, demo_rows=300)
    monkeypatch.setenv("ENGAGEFLOW_HOME", str(root))
    trainer = AutoTrainer("sync", model_name=MODEL, project_dir=str(root), max_rows=200,
                          airflow_url=None, task="feedback_sentiment")
    assert trainer.ensure()["state"] == "training"
    trainer.join(timeout=120)
    assert trainer.status["state"] == "failed" and trainer.status["rows"] == 300
    assert "serve.auto_train_max_rows=200" in trainer.status["reason"]
    assert "train.task=feedback_sentiment" in trainer.status["reason"]
    assert not (root / ".engageflow" / "mlflow.db").exists()     # nothing was registered
