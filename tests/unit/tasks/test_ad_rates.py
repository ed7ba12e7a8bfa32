"""The ad_rates task: demo ads end to end through its hooks, registered, gated with
impressions as row weights, and served by POST /tasks/ad_rates/predict (real MLflow
registry, prediction log); the binomial rate model, the baselines and the seeded split."""

import json
import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.ad_rates import AdRatesSettings
from pipelines.tasks.ad_rates_data import ad_table, generate_ads
from pipelines.tasks.ad_rates_training import (
    BinomialRateModel,
    campaign_rate,
    weighted_rate_metrics,
)
from pipelines.tasks.binary_table_task import PART

TASK = get_task("ad_rates")
KEY = "ads-key"


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_project, as_of):
    from pipelines.config import load_settings
    from pipelines.registry.promotion import run_promotion_gate
    from pipelines.registry.register import run_register

    root = tmp_path_factory.mktemp("ad_rates")
    paths = make_project(root)
    settings = load_settings(paths.root / "params.yaml", {
        "train.task": "ad_rates", "train.models": ["logistic_regression", "lightgbm"],
        "validate.min_rows": 100, "ad_rates.demo_rows": 1200,
        "register.experiment": "ad-rates-test", "promote.resamples": 300})
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    TASK.refit(paths, settings)
    uri, before = f"sqlite:///{root / 'mlflow.db'}", os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        registered = run_register(TASK, paths, settings, run_key="ad-rates-test")
        gate = run_promotion_gate(TASK, paths, settings, run_key="ad-rates-test")
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
    return {"paths": paths, "settings": settings, "records": records, "uri": uri,
            "registered": registered, "gate": gate}


def test_demo_run_beats_both_rate_baselines_per_impression(run):
    report = json.loads(run["paths"].metrics.read_text())
    best = report["candidates"][report["best"]]["test"]
    assert run["records"]["validate"]["rows_in"] == 1200
    for baseline in ("global_rate", "campaign_rate"):
        assert best["rate_log_loss"] < report["baselines"][baseline]["test"]["rate_log_loss"]
    assert best["spearman"] > report["baselines"]["campaign_rate"]["test"]["spearman"]
    assert set(report["candidates"][report["best"]]["test_by_campaign"]) <= {"916", "936",
                                                                           "1178"}


def test_the_gate_weighs_ads_by_impressions_and_counts_ads(run):
    gate, table = run["gate"], pd.read_parquet(run["paths"].feature_table("ads"))
    test = table[table[PART] == "test"]
    assert gate["settings"]["row_weights"] is True
    assert gate["settings"]["metric"] == "rate_log_loss"
    [check] = [c for c in gate["checks"] if c["name"].startswith("beats baseline")]
    assert check["n"] == len(test)              # rows, not impressions
    # the gate's baseline loss is the impression-weighted one the evaluate stage reports
    report = json.loads(run["paths"].metrics.read_text())
    assert check["reference"] == pytest.approx(
        report["baselines"]["global_rate"]["test"]["rate_log_loss"], rel=1e-9)
    assert gate["decision"] == "promote"


def test_the_route_answers_what_the_registered_model_says(run, tmp_path):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from pipelines.serve.task_serving import served_task
    from pipelines.validate.expectations import load_suite

    paths, registered = run["paths"], run["registered"]
    served = served_task("ad_rates", model_name=registered["model_name"], paths=paths)
    service = Service(
        ServeConfig(poll_seconds=0, challenger_share=0.0, auto_train="off"),
        model_name="no-post-model", task="likes",
        maturity_hours=FeatureSettings().maturity_hours,
        segments=SegmentsConfig(enabled=False),
        row_suite=load_suite(paths.root / "expectations" / "posts_row_contract.json"),
        prediction_log_url=f"sqlite:///{tmp_path / 'predictions.db'}", tracking_uri=run["uri"],
        api_keys=frozenset({KEY}), project_dir=None, tasks=[served])
    _, test = TASK.holdout(paths)
    rows = test.head(3)
    body = [{"ad_id": r.ad_id, "campaign": r.campaign, "age": r.age, "gender": r.gender,
             "interest": int(r.interest)} for r in rows.itertuples()]
    model = mlflow.sklearn.load_model(
        f"models:/{registered['model_name']}/{registered['version']}")
    with TestClient(create_app(service)) as client:
        answer = client.post("/tasks/ad_rates/predict", json=body[0],
                             headers={"X-API-Key": KEY})
        assert answer.status_code == 200, answer.text
        [prediction] = answer.json()["predictions"]
        assert prediction["key"] == body[0]["ad_id"]
        assert prediction["prediction"] == pytest.approx(TASK.predict(model, rows)[0])
        for broken in ({"gender": "X"}, {"age": "18-24"}, {"interest": 0}):
            refused = client.post("/tasks/ad_rates/predict", json={**body[1], **broken},
                                  headers={"X-API-Key": KEY})
            assert refused.status_code == 422 and next(iter(broken)) in refused.text


def test_the_binomial_model_recovers_group_rates_weighted_by_trials():
    x = pd.DataFrame({"f": [0.0, 0.0, 1.0, 1.0]})
    # group f=0: 10 of 10,000 and 30 of 10,000 -> 0.002; group f=1: 90 of 20,000 -> 0.0045
    trials = np.array([10_000, 10_000, 15_000, 5_000])
    rate = np.array([10, 30, 70, 20]) / trials
    from sklearn.linear_model import LogisticRegression

    model = BinomialRateModel(LogisticRegression(C=1e6, tol=1e-12), ["f"]).fit(x, rate,
                                                                    sample_weight=trials)
    assert model.predict(x) == pytest.approx([0.002, 0.002, 0.0045, 0.0045], rel=1e-3)
    with pytest.raises(ValueError, match="rates in"):
        model.fit(x, rate * 1000, sample_weight=trials)


def test_weighted_metrics_count_impressions_not_ads():
    actual, predicted = np.array([0.001, 0.01]), np.array([0.002, 0.002])
    one_each = weighted_rate_metrics(actual, predicted, np.array([1, 1]))
    heavy = weighted_rate_metrics(actual, predicted, np.array([1, 99]))
    loss = lambda a, p: -(a * np.log(p) + (1 - a) * np.log(1 - p))  # noqa: E731
    assert heavy["rate_log_loss"] == pytest.approx(
        (loss(0.001, 0.002) + 99 * loss(0.01, 0.002)) / 100)
    assert one_each["rate_log_loss"] == pytest.approx(
        (loss(0.001, 0.002) + loss(0.01, 0.002)) / 2)


def test_the_baselines_pool_trials():
    train = pd.DataFrame({"campaign": ["a", "a", "b"], "clicks": [1, 9, 5],
                          "impressions": [100, 900, 10_000]})
    rows = pd.DataFrame({"campaign": ["a", "b", "c"]})
    assert TASK.baseline(train, rows).tolist() == pytest.approx([15 / 11_000] * 3)
    assert campaign_rate(TASK, train, rows).tolist() == pytest.approx(
        [0.01, 0.0005, 15 / 11_000])


def test_the_split_is_a_hash_of_the_ad_id_and_the_target_is_the_rate():
    ads = generate_ads(1500, seed=3)
    table, record = ad_table(ads, successes="clicks", trials="impressions",
                             target="click_rate", seed=1, valid_fraction=0.15,
                             test_fraction=0.2)
    shuffled, _ = ad_table(ads.sample(frac=1, random_state=0), successes="clicks",
                           trials="impressions", target="click_rate", seed=1,
                           valid_fraction=0.15, test_fraction=0.2)
    parts = table.set_index("ad_id")[PART]
    assert (shuffled.set_index("ad_id")[PART].reindex(parts.index) == parts).all()
    assert np.allclose(table["click_rate"], table["clicks"] / table["impressions"])
    assert record["test"]["rows"] == int((table[PART] == "test").sum())


def test_settings_defaults_and_refusals():
    assert AdRatesSettings().source == "demo"
    with pytest.raises(ValidationError, match="path"):
        AdRatesSettings(source="file")
    with pytest.raises(ValidationError, match="at most 0.8"):
        AdRatesSettings(valid_fraction=0.5, test_fraction=0.4)


def test_the_conversion_instance_differs_only_in_its_rate():
    other = get_task("ad_conversion_rates")
    assert (other.successes, other.target) == ("conversions", "conversion_rate")
    assert (TASK.successes, TASK.target) == ("clicks", "click_rate")
    assert other.gate == TASK.gate and other.weight_column == TASK.weight_column
    assert other.settings_model is not TASK.settings_model
