"""Campaign rate models with fallback for the ad rate tasks, through the product's path:
the task's stages on seeded demo ads, ``run_register`` into a real MLflow registry and
``POST /tasks/ad_rates/predict``.

In campaign 936 women click less than men and the click rate falls with age (everywhere
else the opposite), an interaction the global logistic model cannot learn, so 936's own
model beats it through the impression-weighted gate; campaign 916 behaves like the rest
and has 78 training ads, so its model is not shown better and falls back; a campaign the
training never saw gets the global model. (1178 keeps a model too: the global model
averages over 936's contrary rule, so the biggest campaign gains from its own.)"""

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines.tasks import get_task
from pipelines.tasks.ad_rates_training import CampaignRateModels
from tests.conftest import settings_for_test, tracking_uri_env
from tests.unit.tasks.conftest import AS_OF, project_in

TASK = get_task("ad_rates")


def ads_with_a_contrary_campaign(rows: int, seed: int) -> pd.DataFrame:
    """Demo ads whose campaign 936 clicks by a reversed audience rule."""
    from pipelines.tasks.ad_rates_data import generate_ads
    from pipelines.tasks.ad_vocabulary import AGES

    ads = generate_ads(rows, seed)
    rng = np.random.default_rng(seed + 1)
    contrary = (ads["campaign"] == "936").to_numpy()
    age = ads["age"].map({a: i for i, a in enumerate(AGES)}).to_numpy()
    female = (ads["gender"] == "F").to_numpy()
    log_odds = -7.0 - 0.6 * age - 1.0 * female
    clicks = rng.binomial(ads["impressions"].to_numpy(), 1 / (1 + np.exp(-log_odds)))
    ads.loc[contrary, "clicks"] = clicks[contrary]
    ads["conversions"] = np.minimum(ads["conversions"], ads["impressions"])
    return ads


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks.binary_table_task import QUARANTINE_KEY
    from pipelines.validate.entity_contract import quarantine_frame
    from pipelines.validate.entity_stage import rejects_path

    root = tmp_path_factory.mktemp("ad_campaigns")
    paths, uri = project_in(root), f"sqlite:///{root / 'mlflow.db'}"
    settings = settings_for_test({
        "train.task": "ad_rates", "train.models": ["logistic_regression"],
        "validate.min_rows": 100, "register.experiment": "ad-campaigns",
        "promote.resamples": 500, "ad_rates.campaign_min_samples": 30,
        "ad_rates.campaign_min_holdout": 10})
    raw = paths.raw(TASK.input.entity)
    raw.parent.mkdir(parents=True, exist_ok=True)
    ads_with_a_contrary_campaign(2000, 5).to_parquet(raw, index=False)
    quarantine_frame([], QUARANTINE_KEY).to_parquet(rejects_path(raw), index=False)
    TASK.validate(paths, settings, as_of=AS_OF, reports=False)
    for stage in ("features", "train", "evaluate"):
        getattr(TASK, stage)(paths, settings)
    TASK.refit(paths, settings)
    with tracking_uri_env(uri):
        record = run_register(TASK, paths, settings, run_key="ad-campaigns")
        move_alias(record["model_name"], "champion", record["version"], actor="test",
                   reason="the served model")
    decisions = json.loads((paths.models / "campaign_models.json").read_text())
    return {"paths": paths, "uri": uri, "model_name": record["model_name"],
            "decisions": decisions["logistic_regression"]}


def answers(run, tmp_path, rows):
    from pipelines.serve.app import create_app
    from tests.unit.serve.test_task_routes import KEY, task_service

    service = task_service({**run, "tracking_uri": run["uri"]},
                           f"sqlite:///{tmp_path / 'log.db'}",
                           task="ad_rates")
    with TestClient(create_app(service)) as client:
        response = client.post("/tasks/ad_rates/predict", json={"rows": rows},
                               headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    return {a["key"]: a for a in response.json()["predictions"]}


def ad(key: str, campaign: str, gender: str = "F") -> dict:
    return {"ad_id": key, "campaign": campaign, "age": "45-49", "gender": gender,
            "interest": 16}


def test_the_contrary_campaign_keeps_its_model_and_answers_with_it(run, tmp_path):
    record = run["decisions"]["campaigns"]["936"]
    assert record["kept"] is True and record["decision"] == "promote"
    metrics = record["valid_metrics"]
    assert metrics["campaign"]["rate_log_loss"] < metrics["global"]["rate_log_loss"]
    got = answers(run, tmp_path, [ad("a1", "936"), ad("a2", "936", "M")])
    status = got["a1"]["model_status"]
    assert status["level"] == "campaign" and status["campaign_model"] is True
    assert status["segment"] == "campaign=936"
    assert "the campaign model of '936' answered" in status["message"]
    # the contrary rule, learnt per campaign: old women click less than old men there
    assert got["a1"]["prediction"] < got["a2"]["prediction"]


@pytest.fixture(scope="module")
def champion(run):
    import mlflow

    with tracking_uri_env(run["uri"]):
        return mlflow.sklearn.load_model(f"models:/{run['model_name']}@champion")


def global_rate(model, row: dict) -> float:
    return float(model.global_model.predict(TASK.model_input(pd.DataFrame([row])))[0])


def test_an_ordinary_campaign_falls_back_and_says_why(run, champion, tmp_path):
    record = run["decisions"]["campaigns"]["916"]
    assert record["train_rows"] >= 30 and record["kept"] is False
    assert record["decision"] != "promote"
    got = answers(run, tmp_path, [ad("b1", "916")])
    status = got["b1"]["model_status"]
    assert status["level"] == "global" and status["campaign_model"] is False
    assert "'916' was not shown to beat the global model" in status["message"]
    assert got["b1"]["prediction"] == pytest.approx(global_rate(champion, ad("b1", "916")))


def test_an_unseen_campaign_gets_the_global_model(run, champion, tmp_path):
    got = answers(run, tmp_path, [ad("c1", "2024")])
    status = got["c1"]["model_status"]
    assert status == {"level": "global", "segment": "campaign=2024", "campaign_model": False,
                      "trained_this_cycle": False, "retrained_this_cycle": False,
                      "message": "campaign '2024' has 0 of 30 training ads; using the "
                                 "global model"}
    assert isinstance(champion, CampaignRateModels)
    assert got["c1"]["prediction"] == pytest.approx(global_rate(champion, ad("c1", "2024")))


def test_evaluate_reports_each_campaign_for_the_hierarchy_and_the_global_model(run):
    report = json.loads(run["paths"].metrics.read_text())
    candidate = report["candidates"]["logistic_regression"]
    both, alone = candidate["test_by_campaign"], candidate["test_by_campaign_global_model"]
    assert both["936"]["rate_log_loss"] < alone["936"]["rate_log_loss"]
    assert both["916"] == alone["916"]


def test_the_train_stage_declares_the_promote_settings_it_gates_campaigns_with():
    from pipelines.pipeline import declared_sections, stage

    assert "promote" in declared_sections(stage("train"), TASK)
    assert "promote" in declared_sections(stage("train"), get_task("ad_conversion_rates"))
