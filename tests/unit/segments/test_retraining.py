"""Retraining is due per segment once enough new labelled, matured posts arrived."""

import pandas as pd
import pytest

from pipelines.segments.hierarchy import Segment
from pipelines.segments.retraining import segments_due

NOW = pd.Timestamp("2026-06-30", tz="UTC")

#: params.yaml's segments rules and maturity, as the segments stage passes them.
RULES = {"target": "likes", "segment_key": "campaign_id", "min_samples": 20,
         "retrain_after": 50, "maturity_hours": 48.0}


def _posts(n, *, platform, campaign, start, likes=5):
    times = pd.date_range(start, periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"posted_at": times, "platform": platform, "campaign_id": campaign,
                         "likes": pd.array([likes] * n, dtype="Int64")})


def test_counts_only_new_matured_labelled_posts_since_the_models_training():
    posts = pd.concat([
        _posts(60, platform="instagram", campaign="a", start="2026-06-01"),   # after training
        _posts(40, platform="instagram", campaign="b", start="2026-05-01"),   # before
        _posts(55, platform="twitter", campaign=None, start="2026-06-29 12:00"),  # too fresh
    ], ignore_index=True)
    models = {Segment("global"): {"trained_through": "2026-05-20T00:00:00+00:00"},
              Segment("campaign", "a"): {"trained_through": "2026-05-25T00:00:00"}}
    due = segments_due(posts, models, now=NOW, **RULES)
    assert [d["segment"] for d in due] == ["campaign=a", "platform=instagram"]
    assert due[0] == {"segment": "campaign=a", "new_labelled": 60, "labelled": 60,
                      "since": "2026-05-25T00:00:00", "has_model": True}
    assert due[1]["new_labelled"] == 60 and due[1]["labelled"] == 100
    assert due[1]["has_model"] is False  # fell back: counted since the global training


def test_unlabelled_posts_do_not_count_and_a_missing_column_is_named():
    posts = _posts(80, platform="x", campaign="c", start="2026-06-01")
    posts["likes"] = pd.array([None] * 80, dtype="Int64")
    assert segments_due(posts, {}, now=NOW, **RULES) == []
    with pytest.raises(ValueError, match=r"lack column\(s\) \['likes'\]"):
        segments_due(posts.drop(columns=["likes"]), {}, now=NOW, **RULES)


def test_account_segments_when_the_key_is_the_account():
    posts = _posts(70, platform="x", campaign=None, start="2026-06-01")
    posts["account_id"] = "acc-9"
    due = segments_due(posts, {}, now=NOW, **{**RULES, "segment_key": "account_id"})
    assert {d["segment"] for d in due} == {"account=acc-9", "platform=x"}


@pytest.mark.parametrize(("tag", "due"), [("6.0", True), (None, False)])
def test_the_plan_counts_posts_matured_by_the_champions_training_horizon(tmp_path, tag, due):
    """The global champion was trained with 6 h maturity (its model version tag): 60 posts
    11-70 h old all count toward a retraining (50 make one due) although params say 48 h
    today. Without the tag the params' 48 h decide: 23 have matured, none is due."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.dummy import DummyRegressor

    from pipelines.paths import ProjectPaths
    from pipelines.registry import tracking
    from pipelines.segments.stage import segment_plan
    from pipelines.tasks import get_task
    from tests.conftest import settings_for_test

    task = get_task("likes")
    paths = ProjectPaths(root=tmp_path, state=tmp_path / "state", data=tmp_path / "data")
    posts = _posts(60, platform="x", campaign="c", start=NOW - pd.Timedelta(hours=70))
    paths.validated(task.input.entity).parent.mkdir(parents=True)
    posts.to_parquet(paths.validated(task.input.entity))
    tracking.connect(paths.tracking_uri)
    experiment = tracking.ensure_experiment("seg", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(DummyRegressor().fit([[0]], [0]), name="model",
                                        registered_model_name="m")
    client, version = MlflowClient(), str(info.registered_model_version)
    client.set_registered_model_alias("m", "champion", version)
    client.set_model_version_tag("m", version, tracking.TRAINED_THROUGH_TAG,
                                 str(NOW - pd.Timedelta(days=3)))
    if tag is not None:
        client.set_model_version_tag("m", version, tracking.MATURITY_TAG, tag)
    settings = settings_for_test({"features.maturity_hours": 48.0})

    plan = segment_plan(task, paths, settings, model_name="m", now=NOW)
    assert {d["segment"]: d["new_labelled"] for d in plan["due"]} == (
        {"platform=x": 60, "campaign=c": 60} if due else {})
