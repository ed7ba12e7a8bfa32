"""The prediction log on a real SQLite file: logging, outcomes, matured pairs, bad input."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.prediction_log import PAIR_COLUMNS, PredictionLog

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _record(post_id: str, *, arm: str = "champion", version: str = "1", target: str = "likes",
            prediction: float = 10.0, posted_hours_ago: float = 72.0,
            model_name: str = "engagement-likes", request_id: str | None = None) -> dict:
    return {
        "request_id": request_id or f"req-{post_id}-{arm}", "post_id": post_id,
        "account_id": "acc-1", "platform": "instagram", "model_name": model_name,
        "model_version": version, "arm": arm, "target": target, "prediction": prediction,
        "features_hash": "abc123", "predicted_at": NOW - timedelta(hours=posted_hours_ago - 1),
        "posted_at": NOW - timedelta(hours=posted_hours_ago),
    }


@pytest.fixture()
def log(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'sub' / 'predictions.db'}")
    yield log
    log.close()


def test_matured_pairs_join_latest_outcome_and_respect_horizon(log):
    log.log_predictions([_record("p1", prediction=12.5), _record("p2", arm="challenger",
                                                                 version="2", prediction=3.0),
                         _record("p3", posted_hours_ago=10),          # too young
                         _record("p4"),                                # no outcome
                         _record("p1", target="comments", prediction=1.0),
                         _record("p5", model_name="other")])
    stored = log.record_outcomes([
        {"post_id": "p1", "observed_at": NOW - timedelta(hours=30), "likes": 5},
        {"post_id": "p1", "observed_at": NOW - timedelta(hours=2), "likes": 20, "comments": 4},
        # an older observation that arrives late must not supersede the newer one
        {"post_id": "p1", "observed_at": NOW - timedelta(hours=40), "likes": 1},
        {"post_id": "p2", "observed_at": NOW, "likes": 7},
        {"post_id": "p3", "observed_at": NOW, "likes": 9},
        {"post_id": "p5", "observed_at": NOW, "likes": 9},
    ])
    assert stored == 6

    pairs = log.matured_pairs(model_name="engagement-likes", target="likes",
                              horizon_hours=48, now=NOW)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert pairs.sort_values("post_id")[["post_id", "arm", "model_version", "prediction",
                                         "actual"]].values.tolist() == [
        ["p1", "champion", "1", 12.5, 20.0], ["p2", "challenger", "2", 3.0, 7.0]]
    assert str(pairs["posted_at"].dt.tz) == "UTC"
    assert pairs["posted_at"].iloc[0] == NOW - timedelta(hours=72)

    comments = log.matured_pairs(model_name="engagement-likes", target="comments",
                                 horizon_hours=48, now=NOW)
    assert comments[["post_id", "actual"]].values.tolist() == [["p1", 4.0]]
    # a shorter horizon lets the young post in
    young = log.matured_pairs(model_name="engagement-likes", target="likes", horizon_hours=5,
                              now=NOW)
    assert sorted(young["post_id"]) == ["p1", "p2", "p3"]


def test_since_filters_on_prediction_time(log):
    log.log_predictions([_record("p1", posted_hours_ago=100), _record("p2", posted_hours_ago=60)])
    log.record_outcomes([{"post_id": p, "observed_at": NOW, "likes": 1} for p in ("p1", "p2")])
    pairs = log.matured_pairs(model_name="engagement-likes", target="likes", horizon_hours=48,
                              now=NOW, since=NOW - timedelta(hours=80))
    assert pairs["post_id"].tolist() == ["p2"]


def test_empty_log_gives_typed_empty_frame(log):
    pairs = log.matured_pairs(model_name="m", target="shares", horizon_hours=0, now=NOW)
    assert pairs.empty and list(pairs.columns) == list(PAIR_COLUMNS)


def test_tables_persist_across_instances(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    first = PredictionLog(url)
    first.log_predictions([_record("p1")])
    first.close()
    second = PredictionLog(url)
    assert second.count_predictions(post_id="p1") == 1
    assert second.predictions_for(["req-p1-champion"])["prediction"].tolist() == [10.0]


def test_a_log_created_before_the_kind_column_gets_it_and_says_the_kind(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = PredictionLog(url)
    first.log_predictions([_record("p1")])
    first.close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:          # as a log written by an older version
        connection.execute(sa.text("ALTER TABLE predictions DROP COLUMN post_kind"))
    engine.dispose()
    log = PredictionLog(url)
    log.log_predictions([{**_record("p2"), "post_kind": "quote"}])
    known = log.predicted_posts(["p1", "p2"]).set_index("post_id")["post_kind"]
    assert known.isna()["p1"] and known["p2"] == "quote"
    log.close()


@pytest.mark.parametrize(("change", "match"), [
    ({"target": "views"}, r"record 0: 'target' must be one of .*got 'views'"),
    ({"prediction": float("nan")}, r"'prediction' must be a finite count"),
    ({"prediction": -1.0}, r"'prediction' must be a finite count >= 0 .*got -1.0"),
    ({"arm": ""}, r"'arm' must be a non-empty str; got ''"),
    ({"posted_at": datetime(2026, 1, 1)}, r"'posted_at' must be a tz-aware UTC datetime"),
    ({"post_kind": "retweet"}, r"'post_kind' must be one of \['original', .*got 'retweet'"),
])
def test_bad_prediction_records_name_field_and_value(log, change, match):
    with pytest.raises(ValueError, match=match):
        log.log_predictions([{**_record("p1"), **change}])
    assert log.count_predictions() == 0


def test_missing_prediction_field_is_named(log):
    record = _record("p1")
    del record["features_hash"]
    with pytest.raises(ValueError, match=r"missing field\(s\) \['features_hash'\]"):
        log.log_predictions([_record("ok"), record])
    assert log.count_predictions() == 0   # nothing written when one record is bad


@pytest.mark.parametrize(("outcome", "match"), [
    ({"post_id": "p", "observed_at": NOW}, r"at least one of \['likes'"),
    ({"post_id": "p", "observed_at": NOW, "likes": -3},
     r"'likes' must be an int in \[0, 2\*\*63 - 1\]; got -3"),
    ({"post_id": "p", "observed_at": NOW, "likes": 2**63}, r"'likes' must be an int in"),
    ({"post_id": "x\ud800", "observed_at": NOW, "likes": 1}, r"'post_id' must be a non-empty "
                                                             r"str of valid Unicode"),
    ({"post_id": "p", "observed_at": NOW, "likes": 2.5}, r"'likes' must be an int"),
    ({"post_id": "p", "likes": 1}, r"'observed_at' must be a tz-aware UTC datetime; got None"),
    ({"post_id": "p", "observed_at": NOW, "views": 1}, r"unknown field\(s\) \['views'\]"),
    ({"post_id": "", "observed_at": NOW, "likes": 1}, r"outcome 0: 'post_id'"),
])
def test_bad_outcomes_name_field_and_value(log, outcome, match):
    with pytest.raises(ValueError, match=match):
        log.record_outcomes([outcome])


def test_bad_matured_pairs_arguments(log):
    with pytest.raises(ValueError, match="'target' must be one of"):
        log.matured_pairs(model_name="m", target="saves", horizon_hours=1, now=NOW)
    with pytest.raises(ValueError, match="'now' must be a tz-aware"):
        log.matured_pairs(model_name="m", target="likes", horizon_hours=1,
                          now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="'horizon_hours' must be a number >= 0; got -1"):
        log.matured_pairs(model_name="m", target="likes", horizon_hours=-1, now=NOW)


def test_a_task_row_without_account_or_platform_is_logged(log):
    session = {**_record("demo-0000042", target="converted", prediction=0.27,
                         model_name="engagement-conversion"), "account_id": "", "platform": ""}
    log.log_predictions([session])
    row = log.predictions_for([session["request_id"]]).iloc[0]
    assert (row["post_id"], row["target"], row["account_id"], row["platform"]) == (
        "demo-0000042", "converted", "", "")
    with pytest.raises(ValueError, match=r"'platform' must be a str \('' where the row has "
                                         r"none\); got None"):
        log.log_predictions([{**session, "platform": None}])
