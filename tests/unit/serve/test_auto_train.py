"""Auto-train on the first call of a task route: POST /tasks/feedback_sentiment/predict with
no registered model answers 503 + Retry-After and trains the task in the server through the
pipeline's own stages (collect from the seeded demo source → ... → register → promotion
gate) against a real MLflow registry; the next answer says the model was trained in this
cycle. Over serve.auto_train_max_rows the server does not train (the status says why)."""

from __future__ import annotations

import pytest

from tests.unit.serve.conftest import FEEDBACK_MODEL as MODEL
from tests.unit.serve.conftest import feedback_project


@pytest.fixture(name="first_calls", scope="module")
def first_calls_fixture(feedback_server):
    return feedback_server["first_calls"]


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

    root = feedback_project(tmp_path / "project", project_root, demo_rows=300)
    monkeypatch.setenv("ENGAGEFLOW_HOME", str(root))
    trainer = AutoTrainer("sync", model_name=MODEL, project_dir=str(root), max_rows=200,
                          airflow_url=None, task="feedback_sentiment")
    assert trainer.ensure()["state"] == "training"
    trainer.join(timeout=120)
    assert trainer.status["state"] == "failed" and trainer.status["rows"] == 300
    assert "serve.auto_train_max_rows=200" in trainer.status["reason"]
    assert "train.task=feedback_sentiment" in trainer.status["reason"]
    assert not (root / ".engageflow" / "mlflow.db").exists()     # nothing was registered


def test_a_task_trained_through_airflow_names_itself_in_the_run_conf(monkeypatch):
    """The real client code against a local server speaking Airflow 3's REST wire format:
    the training DAG's run conf carries train.task, so the DAG trains that task."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from pipelines.serve.auto_train import AutoTrainer

    confs: list[dict] = []

    class Airflow(BaseHTTPRequestHandler):
        def _reply(self, body: dict, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.path == "/auth/token":
                return self._reply({"access_token": "tok"}, 201)
            confs.append(body["conf"])
            return self._reply({"dag_run_id": "manual__7"})

        def do_PATCH(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self._reply({"is_paused": False})

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Airflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ENGAGEFLOW_AIRFLOW_PASSWORD", "pw")
    try:
        trainer = AutoTrainer("airflow", model_name=MODEL, project_dir=None, max_rows=1000,
                              airflow_url=f"http://127.0.0.1:{server.server_port}",
                              task="feedback_sentiment")
        status = trainer.ensure()
    finally:
        server.shutdown()
    assert status == {"state": "training", "how": "Airflow engagement_training",
                      "dag_run_id": "manual__7"}
    assert confs[0]["train.task"] == "feedback_sentiment"
    assert f"no @champion of {MODEL}" in confs[0]["reason"]
