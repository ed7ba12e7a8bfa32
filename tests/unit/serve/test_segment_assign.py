"""``POST /segments/sessions/assign`` against a real MLflow registry in tmp_path: the
newest registered segmenter answers with the ids its ``predict`` gives and the names of its
profiles; bad rows get 422 naming the field, no registered version 503, a big batch 413."""

import json

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from pipelines.paths import ProjectPaths
from pipelines.serve.segment_assign import PATH, SegmentAssigner, add_segment_assign_route
from pipelines.serve.strict_json import StrictJSONRoute, validation_error_response
from pipelines.tasks import get_task
from pipelines.tasks.conversion_data import INPUT_COLUMNS, generate_sessions

CONVERSION = get_task("conversion")
SESSIONS = generate_sessions(400, seed=5)


def _rows(frame) -> list[dict]:
    return json.loads(frame[["session_id", *INPUT_COLUMNS]].to_json(orient="records"))


def _client(model_name: str, request_model) -> TestClient:
    app = FastAPI()
    app.router.route_class = StrictJSONRoute
    app.add_exception_handler(RequestValidationError, validation_error_response)
    add_segment_assign_route(app, SegmentAssigner(model_name, "session_id"),
                             request_model=request_model, authorized=lambda: None,
                             max_batch=20)
    return TestClient(app)


@pytest.fixture(scope="module")
def served(tmp_path_factory, project_root):
    import mlflow

    from pipelines.registry.session_segmenter import register_segmenter
    from pipelines.segments.session_segmentation import (
        SessionSegmenter,
        profile_figure,
        segment_names,
        segment_profiles,
    )

    folder = tmp_path_factory.mktemp("assign")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        model = SessionSegmenter(3, 4, seed=1).fit(SESSIONS)
        profiles = segment_profiles(SESSIONS, model.predict(SESSIONS))
        profiles.insert(0, "name", segment_names(profiles))
        register_segmenter(model, comparison={"per_k": {3: {"silhouette": 0.3}},
                                              "chosen_k": 3, "rule": "test"},
                           profiles=profiles,
                           figure=profile_figure(profiles.drop(columns=["name"])),
                           example=SESSIONS.head(3), model_name="segments-test",
                           experiment="segments-test", description="three segments")
        request_model = CONVERSION.request_model(ProjectPaths(
            root=project_root, state=folder / "state", data=folder / "data"))
        yield _client("segments-test", request_model), model, profiles, request_model
    mlflow.set_tracking_uri(before[0])     # later tests must not find this store
    mlflow.set_registry_uri(before[1])


def test_assigns_the_registered_segmenters_ids_and_profile_names(served):
    client, model, profiles, _ = served
    sample = SESSIONS.head(12)
    answer = client.post(PATH, json={"rows": _rows(sample)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == "segments-test" and body["model_version"] == "1"
    got = [a["segment"] for a in body["assignments"]]
    np.testing.assert_array_equal(got, model.predict(sample))
    assert [a["key"] for a in body["assignments"]] == sample["session_id"].astype(str).tolist()
    assert [a["name"] for a in body["assignments"]] == [profiles.loc[s, "name"] for s in got]


@pytest.mark.parametrize(("change", "field"), [
    ({"exit_rates": 0.7}, "exit_rates"),
    ({"visitor_type": "Robot"}, "visitor_type"),
    ({"product_related": -1}, "product_related"),
    ({"weekend": "yes"}, "weekend"),
    ({"bounce_rates": None}, "bounce_rates")])
def test_a_row_breaking_the_sessions_contract_is_refused_naming_the_field(served, change,
                                                                           field):
    client = served[0]
    rows = _rows(SESSIONS.head(2))
    rows[1].update(change)
    answer = client.post(PATH, json={"rows": rows})
    assert answer.status_code == 422
    assert field in answer.text


def test_an_empty_or_oversized_batch_and_unknown_keys_are_refused(served):
    client = served[0]
    assert client.post(PATH, json={"rows": []}).status_code == 422
    assert client.post(PATH, json={"rows": _rows(SESSIONS.head(1)), "x": 1}).status_code == 422
    assert client.post(PATH, json={"rows": _rows(SESSIONS.head(21))}).status_code == 413


def test_no_registered_segmenter_answers_503_naming_the_command(served):
    request_model = served[3]
    answer = _client("segments-absent", request_model).post(
        PATH, json={"rows": _rows(SESSIONS.head(1))})
    assert answer.status_code == 503
    assert "segment-sessions" in answer.json()["detail"]


def test_only_a_task_that_learns_segments_has_an_assigner():
    """``engageflow serve`` asks each served task (Task.segment_assigner), never a name."""
    from tests.conftest import settings_for_test

    settings = settings_for_test({"session_segments.model_name": "segments-x"})
    assigner = CONVERSION.segment_assigner(settings)
    assert isinstance(assigner, SegmentAssigner)
    assert (assigner.model_name, assigner.key) == ("segments-x", CONVERSION.serve_key)
    assert [name for name in ("likes", "click_through", "feedback_sentiment")
            if get_task(name).segment_assigner(settings) is not None] == []


def test_the_serving_app_serves_the_route_behind_its_api_key(served, tmp_path):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from tests.conftest import settings_for_test
    from tests.unit.serve.conftest import posts_row_suite

    # the assigner and row body engageflow serve takes from the conversion task's hooks
    assigner = CONVERSION.segment_assigner(
        settings_for_test({"session_segments.model_name": "segments-test"}))
    service = Service(ServeConfig(poll_seconds=0, auto_train="off"), model_name="m",
                      task="likes", maturity_hours=FeatureSettings().maturity_hours,
                      segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
                      prediction_log_url=f"sqlite:///{tmp_path / 'log.db'}",
                      tracking_uri=None, api_keys=frozenset({"k"}), project_dir=None,
                      tasks=(), session_segments=(assigner, served[3]))
    client = TestClient(create_app(service))   # no lifespan: nothing else is loaded
    body = {"rows": _rows(SESSIONS.head(3))}
    assert client.post(PATH, json=body).status_code == 401
    answer = client.post(PATH, json=body, headers={"X-API-Key": "k"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["assignments"]) == 3
