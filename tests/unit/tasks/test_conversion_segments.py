"""Conversion models per learned session segment, with fallback, through the product's
path: demo sessions collected and validated, ``segment-sessions`` registers the segmenter in
a real MLflow registry, the conversion stages train with ``conversion.segment_key:
session_segment``, ``run_register`` registers the model and
``POST /tasks/conversion/predict`` answers with ``model_status``.

In the biggest learned segment the purchase label is flipped (its sessions convert exactly
when the rest would not), which the global model cannot learn, so that segment's own model
beats it through the gate; every segment without a kept model is answered by the global
model and says why."""

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines.tasks import get_task
from pipelines.tasks.conversion_segments import SEGMENT_COLUMN, SessionSegmentModels
from tests.conftest import settings_for_test, tracking_uri_env
from tests.unit.tasks.conftest import AS_OF, project_in

TASK = get_task("conversion")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import mlflow

    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.segments.session_segments_stage import segment_sessions

    root = tmp_path_factory.mktemp("conversion_segments")
    paths, uri = project_in(root), f"sqlite:///{root / 'mlflow.db'}"
    settings = settings_for_test({
        "train.task": "conversion", "train.models": ["logistic_regression"],
        "conversion.demo_rows": 3000, "validate.min_rows": 100,
        "session_segments.ks": [3], "session_segments.bootstrap_rounds": 2,
        "session_segments.silhouette_rows": 300, "register.experiment": "conv-segments",
        "promote.resamples": 300, "conversion.segment_key": "session_segment",
        "conversion.segment_min_samples": 100, "conversion.segment_min_holdout": 50})
    TASK.collect(paths, settings)
    TASK.validate(paths, settings, as_of=AS_OF, reports=False)
    with tracking_uri_env(uri):
        segment_sessions(paths, settings.session_segments)
        segmenter = mlflow.sklearn.load_model(
            f"models:/{settings.session_segments.model_name}/1")
        sessions = pd.read_parquet(paths.validated("sessions"))
        segments = segmenter.predict(sessions)
        flipped = int(np.bincount(segments).argmax())
        rows = segments == flipped
        sessions.loc[rows, "converted"] = 1 - sessions.loc[rows, "converted"]
        sessions.to_parquet(paths.validated("sessions"), index=False)
        for stage in ("features", "train", "evaluate"):
            getattr(TASK, stage)(paths, settings)
        record = run_register(TASK, paths, settings, run_key="conv-segments")
        move_alias(record["model_name"], "champion", record["version"], actor="test",
                   reason="the served model")
    decisions = json.loads((paths.models / "segment_models.json").read_text())
    return {"paths": paths, "uri": uri, "model_name": record["model_name"],
            "decisions": decisions["logistic_regression"], "flipped": str(flipped),
            "sessions": sessions, "segments": segments.astype(str)}


def answers(run, tmp_path, rows):
    from pipelines.serve.app import create_app
    from tests.unit.serve.test_task_routes import KEY, task_service

    service = task_service({**run, "tracking_uri": run["uri"]},
                           f"sqlite:///{tmp_path / 'log.db'}",
                           task="conversion")
    with TestClient(create_app(service)) as client:
        response = client.post("/tasks/conversion/predict", json={"rows": rows},
                               headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    return {a["key"]: a for a in response.json()["predictions"]}


def test_the_flipped_segment_keeps_its_model_through_the_gate(run):
    record = run["decisions"]["session_segments"][run["flipped"]]
    assert record["kept"] is True and record["decision"] == "promote"
    metrics = record["valid_metrics"]
    assert metrics["session_segment"]["log_loss"] < metrics["global"]["log_loss"]
    assert run["decisions"]["segmenter_version"] == "1"


def test_each_segment_answers_at_the_level_the_gate_decided(run, tmp_path):
    from pipelines.tasks.conversion_data import INPUT_COLUMNS

    sessions, segments = run["sessions"], run["segments"]
    picks = [np.flatnonzero(segments == s)[0] for s in sorted(set(segments))]
    body = json.loads(sessions.iloc[picks][["session_id", *INPUT_COLUMNS]].to_json(
        orient="records"))
    got = answers(run, tmp_path, body)
    kept = set(run["decisions"]["kept"])
    for row, segment in zip(body, segments[picks], strict=True):
        status = got[row["session_id"]]["model_status"]
        assert status["segment"] == f"{SEGMENT_COLUMN}={segment}"
        if segment in kept:
            assert status["level"] == SEGMENT_COLUMN and status["segment_model"] is True
            assert f"the session_segment model of '{segment}' answered" in status["message"]
        else:
            assert status["level"] == "global" and status["segment_model"] is False
            assert run["decisions"]["session_segments"][segment]["reason"] in status["message"]
        assert "(segmenter version 1)" in status["message"]


def test_the_registered_model_assigns_the_segment_itself(run):
    import mlflow

    with tracking_uri_env(run["uri"]):
        model = mlflow.sklearn.load_model(f"models:/{run['model_name']}@champion")
    assert isinstance(model[-1], SessionSegmentModels)
    rows = run["sessions"].head(50)
    assigned = model[0].transform(TASK.model_input(rows))[SEGMENT_COLUMN]
    assert (assigned.to_numpy() == run["segments"][:50]).all()
    assert np.allclose(TASK.predict(model, rows), model[-1].predict(assigned.to_frame().join(
        TASK.model_input(rows))))


def test_without_a_registered_segmenter_or_sessions_the_train_stage_says_what_to_run(
        tmp_path):
    """No segmenter registered: the train stage learns the segments first, and where no
    validated sessions exist either, it names the commands that write them."""
    settings = settings_for_test({"train.task": "conversion",
                                  "conversion.segment_key": "session_segment"})
    from pipelines.tasks.conversion_segments import newest_segmenter

    with tracking_uri_env(f"sqlite:///{tmp_path / 'mlflow.db'}"), \
            pytest.raises(FileNotFoundError, match="engageflow collect"):
        newest_segmenter(project_in(tmp_path), settings)
