"""When a campaign is due for retraining from labelled feedback, and on which rows: a
record's split is a stable hash of its id, its label replaces the features table's for the
same id, test rows stay out; a campaign never tried is due at ``campaign_min_samples``
training rows, a tried one at ``retrain_after`` new labels; over ``max_rows`` or under the
minimum nothing is fitted. The end-to-end sequence (intake → retrain → registry → answers)
is in tests/unit/serve/test_task_outcomes.py."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipelines.tasks import get_task
from pipelines.tasks.feedback_campaigns import CampaignModels
from pipelines.tasks.feedback_retrain import (
    campaign_rows,
    labels_since,
    record_split,
    retrain_campaigns,
    tried,
)
from tests.conftest import settings_for_test
from tests.unit.tasks.conftest import project_in

TASK = get_task("feedback_sentiment")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def section(**changes):
    settings = settings_for_test({"train.task": "feedback_sentiment",
                                  **{f"feedback_sentiment.{k}": v for k, v in changes.items()}})
    return settings, TASK.section(settings)


def record(key: str, label: str = "positive", campaign: str = "c") -> dict:
    return {"feedback_id": key, "text": "Great service, thank you so much!",
            "campaign": campaign, "label": label, "created_at": "2026-11-01T00:00:00+00:00",
            "recorded_at": NOW, "gender": "unknown", "age_range": "unknown",
            "education": "unknown", "country": "unknown", "state": "unknown",
            "timezone": "unknown", "sentiment": label}


def test_a_records_split_is_a_stable_hash_of_its_id_at_the_valid_share():
    ids = pd.Series([f"f-{i}" for i in range(4000)])
    split = record_split(ids, valid_fraction=0.15, seed=42)
    assert (record_split(ids[::-1], valid_fraction=0.15, seed=42)[::-1] == split).all()
    assert set(split) == {"train", "valid"}
    assert 0.12 < (split == "valid").mean() < 0.18
    assert (record_split(ids, valid_fraction=0.15, seed=7) != split).any()


def test_a_record_replaces_the_tables_row_of_its_id_and_test_rows_stay_out():
    _, feedback = section()
    table = pd.DataFrame({
        "feedback_id": ["a", "b", "t", "other"], "campaign": ["c", "c", "c", "d"],
        "text": ["x"] * 4, "sentiment": [0, 0, 0, 0], "language": ["en"] * 4,
        "split": ["train", "valid", "test", "train"]})
    rows = campaign_rows(table, [record("a", "positive"), record("n", "neutral")], "c",
                         feedback)
    assert sorted(rows["feedback_id"]) == ["a", "b", "n"]
    by_id = rows.set_index("feedback_id")
    assert by_id.loc["a", "sentiment"] == 2 and by_id.loc["b", "sentiment"] == 0
    assert by_id.loc["n", "sentiment"] == 1 and by_id.loc["n", "language"] == "en"
    assert "recorded_at" not in rows.columns
    assert campaign_rows(None, [], "c", feedback).empty


def hierarchy(**since) -> CampaignModels:
    model = CampaignModels(object(), {"kept": (object(), 0.5)}, {"kept": 40, "few": 5},
                           {"fell": "the gate said no"}, 20)
    if since:
        model.labels_since_ = since
    return model


def test_tried_and_labels_since_read_the_models_own_record():
    model = hierarchy(new=NOW)
    assert tried(model, "kept") and tried(model, "fell") and tried(model, "new")
    assert not tried(model, "few") and not tried(model, "unseen")
    assert labels_since(model, "new") == NOW and labels_since(model, "kept") is None
    model.base_since_ = datetime(2026, 1, 1, tzinfo=UTC)
    assert labels_since(model, "kept") == model.base_since_
    assert labels_since(object(), "x") is None


@pytest.mark.parametrize(("campaign", "records", "new", "due", "words"), [
    ("few", 10, 10, False, "not due (10 of 50 labelled feedbacks"),      # 5 + ~8 < 20
    ("kept", 49, 49, False, "not due (49 of 50"),                       # tried: needs 50
    ("kept", 50, 50, True, "over serve.auto_train_max_rows=10"),
    ("unseen", 30, 30, True, "over serve.auto_train_max_rows=10"),      # ~25 train rows
])
def test_due_follows_min_samples_for_a_new_campaign_and_retrain_after_for_a_tried_one(
        tmp_path, campaign, records, new, due, words):
    settings, _ = section()
    model, report = retrain_campaigns(
        TASK, hierarchy(), {campaign: [record(f"{campaign}-{i}", campaign=campaign)
                                       for i in range(records)]},
        {campaign: {"labelled": records, "since_training": new}}, paths=project_in(tmp_path),
        settings=settings, max_rows=10, now=NOW, registered_at=None)
    assert model is None
    assert report[campaign]["due"] is due and report[campaign]["retrained"] is False
    assert words in report[campaign]["message"], report[campaign]["message"]


def test_a_due_campaign_under_the_minimum_training_rows_is_not_fitted(tmp_path):
    settings, _ = section(retrain_after=3)
    records = [record(f"r-{i}") for i in range(4)]
    model, report = retrain_campaigns(
        TASK, hierarchy(fell=NOW), {"fell": records},
        {"fell": {"labelled": 4, "since_training": 4}}, paths=project_in(tmp_path),
        settings=settings, max_rows=1000, now=NOW, registered_at=None)
    assert model is None and report["fell"]["due"] is True
    assert report["fell"]["train_rows"] == int(np.sum(record_split(
        pd.Series([r["feedback_id"] for r in records]), valid_fraction=0.15,
        seed=42) == "train"))
    assert "of 20 training rows: the global model answers it" in report["fell"]["message"]
