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
