"""Serving with the model hierarchy (model_status), and the first prediction with no model."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from pipelines.segments.hierarchy import SEGMENT_TAG
from pipelines.serve.app import create_app

KEY = "k"
HEADERS = {"X-API-Key": KEY}


def _app(make_service, uri: str, tmp_path, **options):
    return create_app(make_service(uri, f"sqlite:///{tmp_path / 'predictions.db'}",
                                   api_keys=frozenset({KEY}), **options))


def test_a_platform_model_answers_its_posts_and_says_so(registry, tmp_path, serve_posts,
                                                        post_models, api_post, make_service):
    client = MlflowClient()
    forest = registry["versions"]["random_forest"]
    client.set_model_version_tag("m", forest, SEGMENT_TAG, "platform=instagram")
    client.set_registered_model_alias("m", "champion-platform-instagram", forest)
    try:
        new = serve_posts.iloc[600:]
        insta = new[new["platform"] == "instagram"].iloc[0].to_dict()
        other = new[new["platform"] != "instagram"].iloc[0].to_dict()
        with TestClient(_app(make_service, registry["uri"], tmp_path)) as api:
            answer = api.post("/predict", headers=HEADERS, json={"posts": [
                api_post(insta, "spring"), api_post(other)]}).json()["predictions"]
            health = api.get("/health").json()
    finally:
        client.delete_registered_model_alias("m", "champion-platform-instagram")
    own, fallback = answer
    assert own["arm"] == "segment:platform=instagram" and own["model_version"] == forest
    assert own["model_status"] == {
        "level": "platform", "segment": "platform=instagram", "has_segment_model": False,
        "trained_in_cycle": False, "model_version": forest,
        "message": "Campaign spring has no model; using the instagram model"}
    expected = post_models["random_forest"].predict(pd.DataFrame([insta]))[0]
    assert np.isclose(own["prediction"], expected, rtol=1e-9)
    champion = registry["versions"]["ridge"]
    assert fallback["arm"] == "champion" and fallback["model_version"] == champion
    assert fallback["model_status"]["level"] == "global"
    assert fallback["model_status"]["message"].endswith("using the global model")
    assert health["segment_models"] == {"platform=instagram": forest}


def test_no_model_answers_503_naming_what_is_missing(tmp_path, serve_posts, api_post,
                                                     make_service):
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(_app(make_service, uri, tmp_path, auto_train="off")) as api:
        response = api.post("/predict", headers=HEADERS,
                            json=api_post(serve_posts.iloc[0].to_dict()))
        health = api.get("/health").json()
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    detail = response.json()["detail"]
    assert "registered model 'm' not found in the registry" in detail["missing"]
    assert "make run" in detail["action"] and detail["training"] == {"state": "idle"}
    assert health["status"] == "no_model"


@pytest.fixture()
def small_project(tmp_path, project_root):
    """A project folder with a small validated store (3,000 demo posts) and fast params."""
    from pipelines.collect.demo_data import generate_posts

    root = tmp_path / "project"
    shutil.copytree(project_root / "expectations", root / "expectations")
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    params["train"].update(models=["ridge"], cv_folds=0)
    params["segments"]["enabled"] = False
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    store = root / "data" / "02_validated" / "date=2026-06-30"
    store.mkdir(parents=True)
    generate_posts(3000, accounts=40, seed=21).to_parquet(store / "posts.parquet")
    return root


def test_the_first_prediction_trains_the_first_model_in_the_server(small_project, tmp_path,
                                                                   serve_posts, monkeypatch,
                                                                   api_post, make_service):
    monkeypatch.setenv("ENGAGEFLOW_HOME", str(small_project))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{small_project / '.engageflow' / 'mlflow.db'}"
    app = _app(make_service, uri, tmp_path, model_name="engagement-likes", auto_train="sync",
               project_dir=str(small_project), segments=False)
    post = api_post(serve_posts.iloc[700].to_dict())
    with TestClient(app) as api:
        first = api.post("/predict", headers=HEADERS, json=post)
        assert first.status_code == 503
        training = first.json()["detail"]["training"]
        assert training["state"] == "training" and training["rows"] == 3000
        service = api.app.state.service
        service.trainer.join(timeout=600)
        assert service.trainer.status["state"] == "done", service.trainer.status
        assert service.trainer.status["decision"] == "promote"
        service.store.refresh()          # what the alias poller does every poll_seconds
        second = api.post("/predict", headers=HEADERS, json=post)
    assert second.status_code == 200, second.text
    assert second.json()["predictions"][0]["model_version"] == "1"


def test_auto_train_airflow_triggers_the_training_dag_over_rest(tmp_path):
    """The real client code against a local server speaking Airflow 3's REST wire format."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from pipelines.serve.auto_train import AutoTrainer

    seen: list[tuple[str, str, dict, str]] = []

    class Airflow(BaseHTTPRequestHandler):
        def _reply(self, body: dict, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            seen.append((self.command, self.path, body, self.headers.get("Authorization", "")))
            return body

        def do_POST(self):  # noqa: N802
            body = self._record()
            if self.path == "/auth/token":
                ok = body == {"username": "admin", "password": "pw"}
                return self._reply({"access_token": "tok"} if ok else {}, 201 if ok else 401)
            return self._reply({"dag_run_id": "manual__1", "conf": body["conf"]})

        def do_PATCH(self):  # noqa: N802
            self._record()
            self._reply({"is_paused": False})

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Airflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        import os

        os.environ["ENGAGEFLOW_AIRFLOW_PASSWORD"] = "pw"
        trainer = AutoTrainer("airflow", model_name="engagement-likes", project_dir=None,
                              max_rows=20_000,
                              airflow_url=f"http://127.0.0.1:{server.server_port}")
        status = trainer.ensure()
        again = trainer.ensure()       # at most one training is started
    finally:
        server.shutdown()
        os.environ.pop("ENGAGEFLOW_AIRFLOW_PASSWORD", None)
    assert status == {"state": "training", "how": "Airflow engagement_training",
                      "dag_run_id": "manual__1"} and again == status
    assert [(m, p) for m, p, _, _ in seen] == [
        ("POST", "/auth/token"), ("PATCH", "/api/v2/dags/engagement_training"),
        ("POST", "/api/v2/dags/engagement_training/dagRuns")]
    method, path, body, auth = seen[-1]
    assert auth == "Bearer tok" and body["logical_date"] is None
    assert "no @champion of engagement-likes" in body["conf"]["reason"]


def test_auto_train_airflow_needs_a_url():
    from pipelines.serve.auto_train import AutoTrainer

    with pytest.raises(ValueError, match="needs serve.airflow_url"):
        AutoTrainer("airflow", model_name="m", project_dir=None, max_rows=20_000,
                    airflow_url="")
