"""Labelled outcomes of a served task: the ``task_outcomes`` store (counts per group, a
relabelled key counted once, since the last training) and
``POST /tasks/feedback_sentiment/outcomes`` on a server whose model it auto-trained (real
registry, real prediction log): stored per campaign, reported in ``model_status`` against
the section's ``campaign_min_samples`` / ``retrain_after``; bad outcomes get a 422 naming
the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipelines.tasks.feedback_data import CLASSES
from pipelines.tasks.feedback_serving import feedback_outcome

OUTCOME = feedback_outcome(Path(__file__).resolve().parents[3] / "expectations"
                           / "feedback_row_contract.json")
OUTCOMES = "/tasks/feedback_sentiment/outcomes"
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

    # the project's params: campaign_min_samples 5, retrain_after 3
    a, b = status("camp-a"), status("camp-b")
    assert (a["labelled_feedback"], a["labelled_since_training"]) == (2, 2)
    assert a["campaign_min_samples"] == 5 and a["retrain_after"] == 3
    assert a["retrain_due"] is False and "3 short of a campaign model" in a["labelled_message"]
    assert b["labelled_feedback"] == 1 and "4 short of a campaign model" in b["labelled_message"]
    assert status("camp-new")["labelled_feedback"] == 0

    again = api.post(OUTCOMES, headers=headers, json={"outcomes": [
        labelled("o-1", "neutral", "camp-a"),   # relabelled
        labelled("o-4", "negative", "camp-a")]})
    assert again.json()["groups"]["camp-a"] == {"labelled": 3, "since_training": 3}
    # due by count, but 3 rows are under the 5 a campaign model needs: nothing retrained
    report = again.json()["retrain"]["camp-a"]
    assert report["due"] is True and report["retrained"] is False
    assert "of 5 training rows: the global model answers it" in report["message"]
    a = status("camp-a")
    assert a["retrain_due"] is True and "a retrain is due" in a["labelled_message"]


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
