"""Campaign models with fallback, the seed's sequence through the product's path: the task's
stages on seeded demo feedback, ``run_register`` into a real MLflow registry and
``POST /tasks/feedback_sentiment/predict``.

A "sarcastic" campaign labels its feedback opposite to its words (the global VADER model
reads them straight), so a campaign model can beat the global one there; two ordinary
campaigns behave like the rest, so theirs cannot. First the sarcastic campaign has a
dozen rows (under ``campaign_min_samples``: the global model answers and says so), then
it has enough (its campaign model answers); the ordinary campaigns fall back."""

import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pipelines.segments.gated_segment_models import shrink_weight
from pipelines.tasks import get_task
from tests.conftest import settings_for_test, tracking_uri_env
from tests.unit.tasks.conftest import AS_OF, project_in

KEY = "campaign-key"
ROUTE = "/tasks/feedback_sentiment/predict"
TASK = get_task("feedback_sentiment")
POSITIVE_WORDS = "I love it, wonderful and perfect!"


def feedback(sarcastic_rows: int):
    """Seeded demo feedback of two ordinary campaigns plus ``sarcastic_rows`` of a campaign
    whose labels are the opposite of its words."""
    import pandas as pd

    from pipelines.tasks.feedback_data import generate_feedback

    ordinary = generate_feedback(500, 7, campaigns=1)
    ordinary["campaign"] = np.where(np.arange(len(ordinary)) % 2 == 0, "spring-sale",
                                    "summer-sale")
    sarcastic = generate_feedback(sarcastic_rows, 8, campaigns=1)
    sarcastic["campaign"] = "sarcastic"
    sarcastic["sentiment"] = 2 - sarcastic["sentiment"]
    sarcastic["feedback_id"] = [f"sarcastic-{i}" for i in range(len(sarcastic))]
    return pd.concat([ordinary, sarcastic], ignore_index=True).sort_values("created_at")


def trained_and_registered(root, rows):
    """Train VADER with campaign models on ``rows`` and register it as @champion."""
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks.feedback_data import quarantine_frame
    from pipelines.validate.entity_stage import rejects_path

    paths, uri = project_in(root), f"sqlite:///{root / 'mlflow.db'}"
    settings = settings_for_test({
        "train.task": "feedback_sentiment", "train.models": ["vader"],
        "validate.min_rows": 100, "register.experiment": "feedback-campaigns",
        "promote.resamples": 500})
    raw = paths.raw(TASK.input.entity)
    raw.parent.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(raw, index=False)
    quarantine_frame([]).to_parquet(rejects_path(raw), index=False)
    TASK.validate(paths, settings, as_of=AS_OF, reports=False)
    for stage in ("features", "train", "evaluate"):
        getattr(TASK, stage)(paths, settings)
    with tracking_uri_env(uri):
        record = run_register(TASK, paths, settings, run_key=f"campaigns-{root.name}")
        move_alias(record["model_name"], "champion", record["version"], actor="test",
                   reason="the served model")
    decisions = json.loads((paths.models / "campaign_models.json").read_text())["vader"]
    return {"paths": paths, "uri": uri, "model_name": record["model_name"],
            "decisions": decisions}


def answers(champion, tmp_path, rows):
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
        response = client.post(ROUTE, json={"rows": rows}, headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    return {a["key"]: a for a in response.json()["predictions"]}


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    return trained_and_registered(tmp_path_factory.mktemp("few"), feedback(12))


@pytest.fixture(scope="module")
def enough(tmp_path_factory):
    return trained_and_registered(tmp_path_factory.mktemp("enough"), feedback(200))


def test_a_campaign_under_the_minimum_gets_the_global_model_with_its_count(few, tmp_path):
    record = few["decisions"]["campaigns"]["sarcastic"]
    assert record["train_rows"] < 20 and record["kept"] is False
    got = answers(few, tmp_path, [
        {"feedback_id": "s1", "text": POSITIVE_WORDS, "campaign": "sarcastic"},
        {"feedback_id": "n1", "text": POSITIVE_WORDS, "campaign": "never-seen"}])
    for key, count in (("s1", record["train_rows"]), ("n1", 0)):
        status = got[key]["model_status"]
        assert status["level"] == "global" and status["campaign_model"] is False
        assert re.search(rf"has {count} of 20 labelled samples; using the global model",
                         status["message"]), status["message"]
    assert got["s1"]["sentiment"] == got["n1"]["sentiment"] == "positive"


def test_a_campaign_past_the_minimum_that_beats_the_global_model_answers(enough, tmp_path):
    record = enough["decisions"]["campaigns"]["sarcastic"]
    assert record["kept"] is True and record["decision"] == "promote"
    assert record["weight"] == pytest.approx(shrink_weight(record["train_rows"], 20.0),
                                             abs=1e-4)
    metrics = record["valid_metrics"]
    assert metrics["campaign"]["multiclass_log_loss"] < metrics["global"]["multiclass_log_loss"]
    got = answers(enough, tmp_path, [
        {"feedback_id": "s1", "text": POSITIVE_WORDS, "campaign": "sarcastic"},
        {"feedback_id": "o1", "text": POSITIVE_WORDS, "campaign": "spring-sale"}])
    assert got["s1"]["model_status"]["level"] == "campaign"
    assert got["s1"]["model_status"]["campaign_model"] is True
    assert got["s1"]["sentiment"] == "negative"          # sarcasm, learnt per campaign
    assert got["o1"]["sentiment"] == "positive"          # the same words elsewhere


def test_a_campaign_model_not_shown_to_beat_the_global_one_falls_back(enough, tmp_path):
    ordinary = {c: enough["decisions"]["campaigns"][c] for c in ("spring-sale", "summer-sale")}
    for record in ordinary.values():
        assert record["train_rows"] >= 20 and record["kept"] is False
        assert record["decision"] != "promote"
    assert enough["decisions"]["kept"] == ["sarcastic"]
    got = answers(enough, tmp_path, [
        {"feedback_id": "o1", "text": POSITIVE_WORDS, "campaign": "summer-sale"}])
    status = got["o1"]["model_status"]
    assert status["level"] == "global" and status["campaign_model"] is False
    assert "'summer-sale' was not shown to beat the global model" in status["message"]
    assert "falling back to the global model" in status["message"]


def test_a_kept_campaign_blends_its_model_with_the_global_one_by_its_weight():
    from pipelines.tasks.feedback_campaigns import CampaignModels
    from pipelines.tasks.feedback_data import generate_feedback
    from pipelines.tasks.feedback_models import CategoricalDemographics

    rows = generate_feedback(300, 5, campaigns=3)
    x, y = TASK.model_input(rows), rows["sentiment"].to_numpy()
    language = (20, 0.95, 0)
    whole = CategoricalDemographics(language, alpha=1.0).fit(x, y)
    own = rows["campaign"] == "campaign-1"
    local = CategoricalDemographics(language, alpha=1.0).fit(x[own], y[own])
    weight = shrink_weight(int(own.sum()), 20.0)
    model = CampaignModels(whole, {"campaign-1": (local, weight)},
                           {"campaign-1": int(own.sum())}, {}, 20)
    got = model.predict(x)
    assert np.allclose(got[own], weight * local.predict(x[own]) +
                       (1 - weight) * whole.predict(x[own]))
    assert np.allclose(got[~own], whole.predict(x[~own]))
    assert np.allclose(got.sum(axis=1), 1.0)
    assert 0 < weight < 1 and shrink_weight(20, 20.0) == 0.5


def test_the_train_stage_declares_the_promote_settings_it_gates_campaigns_with():
    from pipelines.pipeline import declared_sections, stage

    assert "promote" in declared_sections(stage("train"), TASK)
    assert "promote" not in declared_sections(stage("train"), get_task("likes"))
