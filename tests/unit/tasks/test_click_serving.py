"""Serving the click-through task: the request body is read off the impressions row
contract, and ``POST /tasks/click_through/predict`` answers what the registered model says
(demo impressions through the stage hooks, ``run_register``, a real MLflow registry)."""

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pipelines.collect.formats import ReadLimits
from pipelines.tasks import get_task
from pipelines.tasks.click_data import INPUT_COLUMNS, generate_impressions
from pipelines.validate.entity_contract import split_scorable

LIMITS = ReadLimits.defaults()

CLICK = get_task("click_through")
KEY = "click-key"
HEADERS = {"X-API-Key": KEY}
ROUTE = "/tasks/click_through/predict"
COLUMNS = ["impression_id", *INPUT_COLUMNS]
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def settings_for_test(overrides: dict):
    from pipelines.config import load_settings

    return load_settings(PROJECT_ROOT / "params.yaml", overrides)


@contextmanager
def tracking_uri_env(uri: str):
    """``MLFLOW_TRACKING_URI`` = ``uri`` inside the block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        yield


def bodies(rows: pd.DataFrame) -> list[dict]:
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
            for row in rows[COLUMNS].to_dict("records")]


@pytest.fixture(scope="module")
def champion(tmp_path_factory, make_project, conversion_champion) -> dict:
    """A click_through logistic regression trained by the task's hooks on 4,000 demo
    impressions (the generator's rows stand for the validated layer: the contract tests
    check that they pass), registered and made @champion in the session's MLflow store of
    the conversion champion (a store is slow to create; the serve tests built it)."""
    import joblib
    import mlflow
    from mlflow import MlflowClient

    from pipelines.registry import tracking

    root = tmp_path_factory.mktemp("click-serving")
    paths = make_project(root)
    uri = conversion_champion["tracking_uri"]
    settings = settings_for_test({
        "train.task": "click_through", "train.models": ["logistic_regression"],
        "click_through.min_level_count": 10})
    validated = paths.validated("impressions")
    validated.parent.mkdir(parents=True)
    generate_impressions(4_000, seed=8).to_parquet(validated, index=False)
    CLICK.features(paths, settings)
    CLICK.train(paths, settings)
    model = joblib.load(paths.models / "logistic_regression.joblib")
    name = "engagement-click_through-route-test"
    with tracking_uri_env(uri):
        tracking.connect(uri)           # tracking and registry: neither left from elsewhere
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=name,
                pip_requirements=tracking.pip_requirements(),
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
        version = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(name, "champion", version)
    return {"paths": paths, "tracking_uri": uri, "model_name": name, "version": version}


def test_the_body_carries_the_contracts_rules(make_project, tmp_path):
    model = CLICK.request_model(make_project(tmp_path))
    assert list(model.model_fields) == COLUMNS
    schema = model.model_json_schema()["properties"]
    assert schema["position"]["enum"] == [1, 2, 3]
    assert schema["campaign"]["enum"] == ["all", "men", "women"]
    assert schema["item_affinity"]["minimum"] == 0
    row = bodies(generate_impressions(5, seed=1))[0]
    model(**row)
    for field, value in (("position", 4), ("item_affinity", -1.0), ("campaign", "kids")):
        with pytest.raises(ValidationError, match=field):
            model(**dict(row, **{field: value}))


def test_batch_scoring_rules_are_the_same_rules(make_project, tmp_path):
    from pipelines.validate.expectations import load_suite

    paths = make_project(tmp_path)
    rows = generate_impressions(20, seed=2)
    rows.loc[3, "position"] = 7
    accepted, quarantined = split_scorable(
        rows, load_suite(paths.resolve(CLICK.input.row_suite)), key="impression_id",
        columns=tuple(COLUMNS), source="test")
    assert len(accepted) == 19
    assert quarantined[["stage", "impression_id", "column", "value"]].values.tolist() == [
        ["score", rows.loc[3, "impression_id"], "position", "7"]]


def test_the_route_answers_what_the_registered_model_says(champion, tmp_path):
    import mlflow

    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from pipelines.serve.task_serving import served_task
    from pipelines.validate.expectations import load_suite

    served = served_task("click_through", model_name=champion["model_name"],
                         paths=champion["paths"])
    service = Service(
        ServeConfig(poll_seconds=0, challenger_share=0.0, auto_train="off"),
        model_name="no-post-model", task="likes",
        maturity_hours=FeatureSettings().maturity_hours,
        segments=SegmentsConfig(enabled=False),
        row_suite=load_suite(champion["paths"].resolve("expectations/posts_row_contract.json")),
        prediction_log_url=f"sqlite:///{tmp_path / 'log.db'}",
        tracking_uri=champion["tracking_uri"], api_keys=frozenset({KEY}), project_dir=None,
        tasks=[served])
    rows = pd.read_parquet(champion["paths"].validated("impressions")).tail(40)
    with tracking_uri_env(champion["tracking_uri"]):
        model = mlflow.sklearn.load_model(
            f"models:/{champion['model_name']}/{champion['version']}")
    expected = CLICK.predict(model, rows)
    with TestClient(create_app(service)) as client:
        answer = client.post(ROUTE, json={"rows": bodies(rows)}, headers=HEADERS)
        bad = client.post(ROUTE, json=dict(bodies(rows)[0], position=5), headers=HEADERS)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [p["key"] for p in predictions] == list(rows["impression_id"])
    np.testing.assert_allclose([p["prediction"] for p in predictions], expected, rtol=1e-9)
    assert all(0 < p["prediction"] < 1 for p in predictions)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "position"


def test_batch_scoring_reads_an_open_bandit_log_and_quarantines_what_it_cannot_score(
        make_project, tmp_path):
    paths = make_project(tmp_path / "project")
    log = tmp_path / "obd" / "random" / "men"
    log.mkdir(parents=True)
    (log / "item_context.csv").write_text(
        ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
        "0,0,-0.5,a,b,c\n1,1,0.5,a,b,d\n")
    header = (",timestamp,item_id,position,propensity_score,user_feature_0,user_feature_1,"
              "user_feature_2,user_feature_3,user-item_affinity_0,user-item_affinity_1")
    lines = ["0,2019-11-24 00:00:01+00:00,1,2,0.5,u,v,w,x,0.0,1.0",
             "1,2019-11-24 00:00:02+00:00,0,9,0.5,u,v,w,x,0.0,0.0",      # position 9
             "2,not a time,0,1,0.5,u,v,w,x,0.0,0.0"]                      # unreadable
    (log / "men.csv").write_text("\n".join([header, *lines]) + "\n")
    read = CLICK.read_for_scoring(log / "men.csv", "canonical", paths=paths, limits=LIMITS)
    assert read.records_read == 3 == len(read.rows) + len(read.rejects)
    assert read.rows["impression_id"].tolist() == ["random-men-0000001"]
    assert read.rows["click"].isna().all()
    assert sorted(zip(read.rejects["stage"], read.rejects["column"], strict=True)) == [
        ("collect", "timestamp"), ("score", "position")]
    with pytest.raises(ValueError, match="'format' must be 'canonical'"):
        CLICK.read_for_scoring(log / "men.csv", "instagram_json", paths=paths, limits=LIMITS)
