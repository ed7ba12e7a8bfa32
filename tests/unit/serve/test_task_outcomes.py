"""Labelled outcomes of a served task: the ``task_outcomes`` store (counts per group, a
relabelled key counted once, since the last training) and
``POST /tasks/feedback_sentiment/outcomes`` on a server whose model it auto-trained (real
registry, real prediction log): whole records stored per campaign, reported in
``model_status`` against the section's ``campaign_min_samples`` / ``retrain_after``; bad
records get a 422 naming the field.

Then the seed's sequence end to end on that server (``sequence``), with the project's
params (``campaign_min_samples`` 20, ``retrain_after`` 50):

1. the first call found no model: 503 with Retry-After, the server trained one (auto-train
   on the seeded demo feedback), the next call was answered by it (``trained_this_cycle``);
2. a new campaign with 12 labelled feedbacks (POST intake) is under 20: the global model
   answers and says so;
3. its labels pass 20: the campaign's model is trained in the intake request, beats the
   global model on the campaign's holdout through the gate, is registered as @champion
   and answers the campaign;
4. 50 more labels arrive: the campaign is retrained (``retrained_this_cycle``), a new
   version replaces the champion (the old one is @previous), the counts start again;
5. a campaign whose model does not beat the global one falls back to it, saying why.

The "sarcastic" campaign labels its feedback opposite to its words (the global VADER model
reads them straight), so only its own model gets it right; the "plain" campaign is
labelled like everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipelines.tasks.feedback_data import CLASSES
from pipelines.tasks.feedback_serving import feedback_outcome

OUTCOME = feedback_outcome(Path(__file__).resolve().parents[3] / "expectations"
                           / "feedback_row_contract.json")
OUTCOMES = "/tasks/feedback_sentiment/outcomes"
POSITIVE_WORDS = "I love it, wonderful and perfect!"
PREDICT = "/tasks/feedback_sentiment/predict"


@pytest.fixture()
def store(tmp_path):
    from pipelines.prediction_log import make_engine
    from pipelines.serve.task_outcomes import TaskOutcomes

    return TaskOutcomes(make_engine(f"sqlite:///{tmp_path / 'log.db'}"))


def test_counts_are_per_group_and_a_relabelled_key_counts_once(store):
    then = datetime(2026, 11, 1, tzinfo=UTC)
    store.record("t", [{"key": "a", "group": "c1", "label": "negative"},
                       {"key": "b", "group": "c1", "label": "positive"},
                       {"key": "c", "group": "c2", "label": "neutral"}], now=then)
    store.record("t", [{"key": "a", "group": "c1", "label": "neutral"}],
                 now=then + timedelta(days=2))
    store.record("other", [{"key": "z", "group": "c1", "label": "neutral"}], now=then)
    assert store.counts("t", ["c1", "c2", "c3"], since=None) == {
        "c1": {"labelled": 2, "since_training": 2}, "c2": {"labelled": 1, "since_training": 1}}
    # trained a day later: only the relabelled key arrived since
    assert store.counts("t", ["c1", "c2"], since=then + timedelta(days=1)) == {
        "c1": {"labelled": 2, "since_training": 1}, "c2": {"labelled": 1, "since_training": 0}}
    assert [r["label"] for r in store.labels("t") if r["key"] == "a"] == ["negative",
                                                                          "neutral"]


def labelled(key: str, sentiment: str, campaign: str, **more) -> dict:
    return {"feedback_id": key, "sentiment": sentiment, "campaign": campaign,
            "text": f"feedback {key}", **more}


def test_outcomes_are_stored_per_campaign_and_reported_in_model_status(feedback_server):
    api, headers = feedback_server["api"], feedback_server["headers"]
    labels = [labelled("o-1", "negative", "camp-a", gender="female"),
              labelled("o-2", "positive", "camp-a"), labelled("o-3", "neutral", "camp-b")]
    first = api.post(OUTCOMES, headers=headers, json={"outcomes": labels})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["groups"] == {"camp-a": {"labelled": 2, "since_training": 2},
                              "camp-b": {"labelled": 1, "since_training": 1}}
    assert body["retrain"]["camp-a"]["due"] is False, body["retrain"]
    # the whole record is kept, demographics filled as the contract stores them
    store = feedback_server["service"].tasks["feedback_sentiment"].outcomes
    (kept,) = [r for r in store.records("feedback_sentiment", "camp-a")
               if r["feedback_id"] == "o-1"]
    assert (kept["text"], kept["gender"], kept["age_range"], kept["label"]) == (
        "feedback o-1", "female", "unknown", "negative")
    assert kept["created_at"] and kept["recorded_at"]

    def status(campaign: str) -> dict:
        answer = api.post(PREDICT, headers=headers, json={
            "feedback_id": f"p-{campaign}", "text": "fine", "campaign": campaign})
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"][0]["model_status"]

    # the project's params: campaign_min_samples 20, retrain_after 50
    a, b = status("camp-a"), status("camp-b")
    assert (a["labelled_feedback"], a["labelled_since_training"]) == (2, 2)
    assert a["campaign_min_samples"] == 20 and a["retrain_after"] == 50
    assert a["retrain_due"] is False and "18 short of a campaign model" in a["labelled_message"]
    assert b["labelled_feedback"] == 1 and "19 short of a campaign model" in b["labelled_message"]
    assert status("camp-new")["labelled_feedback"] == 0

    again = api.post(OUTCOMES, headers=headers, json={"outcomes": [
        labelled("o-1", "neutral", "camp-a"),   # relabelled
        labelled("o-4", "negative", "camp-a")]})
    assert again.json()["groups"]["camp-a"] == {"labelled": 3, "since_training": 3}
    report = again.json()["retrain"]["camp-a"]
    assert report["due"] is False and report["retrained"] is False
    assert "3 of 50 labelled feedbacks since its last training" in report["message"]
    a = status("camp-a")
    assert a["retrain_due"] is False and "a retrain is due at 50" in a["labelled_message"]


GOOD = {"feedback_id": "x", "sentiment": "negative", "text": "late again"}


@pytest.mark.parametrize(("body", "field"), [
    ({"outcomes": [{**GOOD, "sentiment": "happy"}]}, "sentiment"),
    ({"outcomes": [{"sentiment": "negative", "text": "t"}]}, "feedback_id"),
    ({"outcomes": [{**GOOD, "feedback_id": ""}]}, "feedback_id"),
    ({"outcomes": [{**GOOD, "campaign": ""}]}, "campaign"),
    ({"outcomes": [{**GOOD, "score": 1}]}, "score"),
    ({"outcomes": [{"feedback_id": "x", "sentiment": "negative"}]}, "text"),
    ({"outcomes": [{**GOOD, "text": None}]}, "text"),
    ({"outcomes": [{**GOOD, "text": "x" * 20_001}]}, "text"),
    ({"outcomes": [{**GOOD, "age_range": "12-17"}]}, "age_range"),
    ({"outcomes": [{**GOOD, "created_at": "1999-12-31T00:00:00Z"}]}, "created_at"),
    ({"outcomes": [{**GOOD, "created_at": "2999-01-01T00:00:00Z"}]}, "created_at"),
    ({"outcomes": [{**GOOD, "created_at": "yesterday"}]}, "created_at"),
    ({"outcomes": [{**GOOD, "created_at": None}]}, "created_at"),
    ({"outcomes": [{**GOOD, "gender": 3}]}, "gender"),
    ({"outcomes": []}, "outcomes"),
    ({"labels": [GOOD]}, "outcomes"),
])
def test_a_bad_outcome_is_a_422_naming_the_field(feedback_server, body, field):
    api, headers = feedback_server["api"], feedback_server["headers"]
    response = api.post(OUTCOMES, headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert any(field in [str(part) for part in error["loc"]]
               for error in response.json()["detail"]), response.text


def test_outcomes_need_the_api_key(feedback_server):
    response = feedback_server["api"].post(OUTCOMES, json={"outcomes": [GOOD]})
    assert response.status_code == 401


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=20))
def test_only_the_three_classes_are_accepted_as_sentiment(label):
    row = {**GOOD, "sentiment": label}
    if label in CLASSES:
        assert OUTCOME.model_validate(row).sentiment == label
    else:
        with pytest.raises(ValidationError, match="sentiment"):
            OUTCOME.model_validate(row)


# --- the seed's sequence ----------------------------------------------------------------

def records(rows: int, seed: int, campaign: str, *, sarcastic: bool) -> list[dict]:
    """``rows`` labelled feedback records of ``campaign`` as a client posts them."""
    from pipelines.tasks.feedback_data import generate_feedback

    frame = generate_feedback(rows, seed, campaigns=1)
    labels = 2 - frame["sentiment"] if sarcastic else frame["sentiment"]
    return [{"feedback_id": f"{campaign}-{seed}-{i}", "text": text, "campaign": campaign,
             "sentiment": CLASSES[int(label)], "age_range": age,
             "created_at": created.isoformat()}
            for i, (text, label, age, created) in enumerate(zip(
                frame["text"], labels, frame["age_range"], frame["created_at"], strict=True))]


@pytest.fixture(scope="module")
def sequence(feedback_server):
    """Every step's answers, on the auto-trained server (its registry, as it serves)."""
    import mlflow
    from mlflow import MlflowClient

    from pipelines.registry import tracking
    from tests.unit.serve.conftest import FEEDBACK_MODEL

    api, headers, service = (feedback_server[k] for k in ("api", "headers", "service"))

    def predict(campaign: str, key: str) -> dict:
        answer = api.post(PREDICT, headers=headers, json={
            "feedback_id": key, "text": POSITIVE_WORDS, "campaign": campaign})
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"][0]

    def label(batch: list[dict]) -> dict:
        answer = api.post(OUTCOMES, headers=headers, json={"outcomes": batch})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def alias(name: str) -> str:
        return str(MlflowClient().get_model_version_by_alias(FEEDBACK_MODEL, name).version)

    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    tracking.connect(service.tracking_uri)
    sarcastic = records(150, 8, "sarcastic", sarcastic=True)
    try:
        first = feedback_server["first_calls"]
        steps = {"first": {"response": first["first"], "after": first["after"].json()[
            "predictions"][0], "version": first["status"]["version"]}}
        steps["under"] = {"intake": label(sarcastic[:12]),
                          "answer": predict("sarcastic", "s-under"), "version": alias("champion")}
        steps["passes"] = {"intake": label(sarcastic[12:100]),
                           "answer": predict("sarcastic", "s-passes"),
                           "version": alias("champion")}
        steps["plus50"] = {"intake": label(sarcastic[100:150]),
                           "answer": predict("sarcastic", "s-plus50"),
                           "version": alias("champion"), "previous": alias("previous")}
        steps["worse"] = {"intake": label(records(100, 9, "plain", sarcastic=False)),
                          "answer": predict("plain", "p-worse"),
                          "sarcastic": predict("sarcastic", "s-last"),
                          "version": alias("champion")}
    finally:
        tracking.connect(before[0])
        mlflow.set_registry_uri(before[1])
    return steps


def test_the_first_call_without_a_model_trains_one(sequence):
    first = sequence["first"]
    assert first["response"].status_code == 503
    assert first["response"].headers["Retry-After"] == "30"
    status = first["after"]["model_status"]
    assert status["trained_this_cycle"] is True and status["retrained_this_cycle"] is False
    assert first["after"]["model_version"] == first["version"]


def test_a_campaign_under_20_labels_is_answered_by_the_global_model(sequence):
    under = sequence["under"]
    assert under["intake"]["stored"] == 12
    assert under["intake"]["groups"]["sarcastic"] == {"labelled": 12, "since_training": 12}
    assert under["intake"]["retrain"]["sarcastic"]["due"] is False
    assert under["version"] == sequence["first"]["version"]       # nothing registered
    status = under["answer"]["model_status"]
    assert status["level"] == "global" and status["campaign_model"] is False
    assert "has 0 of 20 labelled samples; using the global model" in status["message"]
    assert "12 labelled feedbacks (8 short of a campaign model at 20" in \
        status["labelled_message"]
    assert under["answer"]["sentiment"] == "positive"          # the words, read straight


def test_a_campaign_past_20_labels_gets_its_own_model(sequence):
    passes, first = sequence["passes"], sequence["first"]
    report = passes["intake"]["retrain"]["sarcastic"]
    assert report["due"] and report["retrained"] and report["kept"], report
    assert report["train_rows"] >= 20 and report["decision"] == "promote"
    assert "reach campaign_min_samples 20 for a first campaign model" in report["message"]
    assert int(passes["version"]) > int(first["version"])
    answer = passes["answer"]
    assert answer["model_version"] == passes["version"]
    status = answer["model_status"]
    assert status["level"] == "campaign" and status["campaign_model"] is True
    assert status["retrained_this_cycle"] is True
    assert answer["sentiment"] == "negative"                    # sarcasm, learnt
    assert status["labelled_since_training"] == 0 and status["labelled_feedback"] == 100


def test_50_new_labels_retrain_the_campaign_model(sequence):
    plus50, passes = sequence["plus50"], sequence["passes"]
    assert plus50["intake"]["groups"]["sarcastic"] == {"labelled": 150, "since_training": 0}
    report = plus50["intake"]["retrain"]["sarcastic"]
    assert report["retrained"] and report["kept"], report
    assert report["labelled_since_training"] == 50
    assert report["train_rows"] > passes["intake"]["retrain"]["sarcastic"]["train_rows"]
    assert int(plus50["version"]) == int(passes["version"]) + 1
    assert plus50["previous"] == passes["version"]
    status = plus50["answer"]["model_status"]
    assert status["retrained_this_cycle"] is True and status["level"] == "campaign"
    assert "retrained in this cycle (50 labelled feedbacks since its last training" in \
        status["message"]
    assert plus50["answer"]["sentiment"] == "negative"


def test_a_campaign_model_that_is_not_better_falls_back_to_the_global_model(sequence):
    worse, plus50 = sequence["worse"], sequence["plus50"]
    report = worse["intake"]["retrain"]["plain"]
    assert report["retrained"] is True and report["kept"] is False, report
    assert report["decision"] != "promote"
    status = worse["answer"]["model_status"]
    assert status["level"] == "global" and status["campaign_model"] is False
    assert "'plain' was not shown to beat the global model" in status["message"]
    assert "falling back to the global model" in status["message"]
    assert worse["answer"]["sentiment"] == "positive"
    # the other campaign keeps its model in the new version
    assert int(worse["version"]) == int(plus50["version"]) + 1
    assert worse["sarcastic"]["model_status"]["level"] == "campaign"
    assert worse["sarcastic"]["model_status"]["retrained_this_cycle"] is False
    assert np.isclose(sum(worse["sarcastic"]["probabilities"].values()), 1.0, atol=1e-5)
