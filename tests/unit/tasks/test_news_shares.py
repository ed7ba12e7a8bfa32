"""The news_shares task through its hooks on demo news (validated rows written directly:
the contract has its own tests in test_news_data.py), and its request model."""

import json

import pytest
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.news_data import FEATURES, generate_news
from pipelines.tasks.news_shares import NewsSettings
from tests.conftest import settings_for_test

TASK = get_task("news_shares")


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_project):
    paths = make_project(tmp_path_factory.mktemp("news"))
    settings = settings_for_test({"train.task": "news_shares", "train.models": ["ridge"]})
    paths.validated("news").parent.mkdir(parents=True)
    generate_news(800, seed=4).to_parquet(paths.validated("news"), index=False)
    records = {"features": TASK.features(paths, settings), "train": TASK.train(paths, settings),
               "evaluate": TASK.evaluate(paths, settings)}
    return paths, records


def test_the_task_reads_its_own_section():
    assert TASK.section_name == "news_shares" and TASK.settings_model is NewsSettings
    assert TASK.section(settings_for_test({"news_shares.demo_rows": 700})).demo_rows == 700
    with pytest.raises(ValidationError, match="news_shares.path must name"):
        NewsSettings(source="online_news")


def test_train_and_evaluate_on_demo_news_beat_the_median(run):
    paths, records = run
    assert records["features"]["rows"] == 800
    split = records["train"]["split"]
    assert split["train"] + split["valid"] + split["test"] == 800
    assert "f_timedelta" not in records["train"]["candidates"]["ridge"]["features"]
    report = json.loads(paths.metrics.read_text())
    best = report["candidates"]["ridge"]["test"]
    assert best["mae_log"] < report["baselines"]["training_median"]["test"]["mae_log"]
    assert best["spearman"] > 0.2
    known, test = TASK.holdout(paths)
    assert known["published_at"].max() < test["published_at"].min()
    assert (TASK.baseline(known, test) == known["shares"].median()).all()
    reference = TASK.drift_reference(known)
    assert {"published_at", "shares", *FEATURES} <= set(reference.columns)
    import joblib

    from pipelines.monitor.drift import PREDICTION

    drift = TASK.drift_frame(joblib.load(paths.models / "ridge.joblib"), test,
                             outcome_known=None)
    assert {PREDICTION, *FEATURES} <= set(drift.columns)


def test_the_request_model_carries_the_contract(run):
    paths, _ = run
    model = TASK.request_model(paths)
    row = {"article_id": "a", **{c: float(v) for c, v in generate_news(1, 0)[list(FEATURES)]
                                  .iloc[0].items()}}
    model(**row)
    with pytest.raises(ValidationError, match="LDA_01"):
        model(**dict(row, LDA_01=2.0))
    with pytest.raises(ValidationError, match="data_channel_is_bus"):
        model(**dict(row, data_channel_is_bus=0.5))
