"""The player_retention task: demo players end to end through its hooks, registered and
served by POST /tasks/player_retention/predict (real MLflow registry, prediction log), the
seeded split, the 1-day rule, and the real Cookie Cats file (shared_data)."""

import json
import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pipelines.collect.formats import ReadLimits
from pipelines.tasks import get_task
from pipelines.tasks.binary_table_task import PART
from pipelines.tasks.retention import RetentionSettings
from pipelines.tasks.retention_data import generate_players, hash_parts, read_cookie_cats

LIMITS = ReadLimits.defaults()

TASK = get_task("player_retention")
KEY = "retention-key"


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_project, as_of):
    from pipelines.config import load_settings
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register

    root = tmp_path_factory.mktemp("retention")
    paths = make_project(root)
    settings = load_settings(paths.root / "params.yaml", {
        "train.task": "player_retention", "train.models": ["logistic_regression"],
        "validate.min_rows": 100, "player_retention.demo_rows": 3000,
        "register.experiment": "retention-test"})
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    uri, before = f"sqlite:///{root / 'mlflow.db'}", os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        registered = run_register(TASK, paths, settings, run_key="retention-test")
        move_alias(registered["model_name"], "champion", registered["version"], actor="test",
                   reason="the served model")
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
    return {"paths": paths, "settings": settings, "records": records, "uri": uri,
            "registered": registered}


def test_demo_run_beats_the_prior_rate_and_reports_the_threshold(run):
    report = json.loads(run["paths"].metrics.read_text())
    best = report["candidates"][report["best"]]
    assert run["records"]["validate"]["rows_in"] == 3000
    assert best["test"]["log_loss"] < report["baselines"]["prior_rate"]["test"]["log_loss"]
    assert best["test"]["roc_auc"] > report["baselines"]["1_day_rule"]["test"]["roc_auc"]
    assert best["decision"]["test"]["threshold"] == best["decision"]["valid"]["threshold"]
    # the logistic regression's importance: its standardized coefficients' shares
    logistic = run["records"]["train"]["candidates"]["logistic_regression"]
    assert logistic["importance_kind"] == "coefficient"
    assert sum(logistic["feature_importance"].values()) == pytest.approx(1, abs=1e-3)


def test_the_split_is_a_seeded_hash_of_the_player_id():
    ids = pd.Series([f"p{i}" for i in range(4000)])
    parts = hash_parts(ids, seed=1, valid_fraction=0.15, test_fraction=0.2)
    assert np.array_equal(parts, hash_parts(ids, seed=1, valid_fraction=0.15,
                                            test_fraction=0.2))
    shuffled = ids.sample(frac=1, random_state=0)
    assert np.array_equal(hash_parts(shuffled, seed=1, valid_fraction=0.15,
                                     test_fraction=0.2), parts[shuffled.index])
    assert not np.array_equal(parts, hash_parts(ids, seed=2, valid_fraction=0.15,
                                                test_fraction=0.2))
    shares = pd.Series(parts).value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.2, abs=0.03)
    assert shares["valid"] == pytest.approx(0.15, abs=0.03)


def test_the_one_day_rule_is_the_training_rate_by_one_day_retention():
    train = pd.DataFrame({"retention_1": [0, 0, 1, 1, 1, 1], "retention_7": [0, 1, 1, 1, 0, 1]})
    test = pd.DataFrame({"retention_1": [1, 0]})
    assert TASK.baseline(train, test).tolist() == pytest.approx([0.75, 0.5])


def test_the_route_answers_what_the_registered_model_says(run, tmp_path):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from pipelines.serve.task_serving import served_task
    from pipelines.validate.expectations import load_suite

    paths, registered = run["paths"], run["registered"]
    served = served_task("player_retention", model_name=registered["model_name"], paths=paths)
    service = Service(
        ServeConfig(poll_seconds=0, challenger_share=0.0, auto_train="off"),
        model_name="no-post-model", task="likes",
        maturity_hours=FeatureSettings().maturity_hours,
        segments=SegmentsConfig(enabled=False),
        row_suite=load_suite(paths.root / "expectations" / "posts_row_contract.json"),
        prediction_log_url=f"sqlite:///{tmp_path / 'predictions.db'}", tracking_uri=run["uri"],
        api_keys=frozenset({KEY}), project_dir=None, tasks=[served])
    _, test = TASK.holdout(paths)
    rows = test.head(5)
    body = [{"player_id": r.player_id, "arm": r.arm, "sum_gamerounds": int(r.sum_gamerounds),
             "retention_1": int(r.retention_1)} for r in rows.itertuples()]
    model = mlflow.sklearn.load_model(
        f"models:/{registered['model_name']}/{registered['version']}")
    with TestClient(create_app(service)) as client:
        answer = client.post("/tasks/player_retention/predict", json=body[0],
                             headers={"X-API-Key": KEY})
        assert answer.status_code == 200, answer.text
        [prediction] = answer.json()["predictions"]
        assert prediction["key"] == body[0]["player_id"]
        assert prediction["prediction"] == pytest.approx(TASK.predict(model, rows)[0])
        for broken in ({"arm": "gate_50"}, {"retention_1": 2}, {"sum_gamerounds": -1}):
            refused = client.post("/tasks/player_retention/predict",
                                  json={**body[1], **broken}, headers={"X-API-Key": KEY})
            assert refused.status_code == 422 and next(iter(broken)) in refused.text


def test_settings_defaults_and_refusals():
    assert RetentionSettings().source == "demo"
    with pytest.raises(ValidationError, match="player_retention.path must name"):
        RetentionSettings(source="file")
    with pytest.raises(ValidationError, match="demo_rows"):
        RetentionSettings(demo_rows=5)


def test_demo_players_are_seeded_and_shaped_like_cookie_cats():
    players = generate_players(20_000, seed=1)
    assert players.equals(generate_players(20_000, seed=1))
    assert 0.40 < players["retention_1"].mean() < 0.50
    assert 0.15 < players["retention_7"].mean() < 0.24
    assert set(players["arm"]) == {"gate_30", "gate_40"}


@pytest.mark.shared_data
def test_real_cookie_cats_file_reads_every_player(shared_data_dir):
    read = read_cookie_cats(shared_data_dir / "audience" / "cookie_cats" / "cookie_cats.csv",
                            limits=LIMITS)
    assert read.records_read == len(read.rows) == 90_189 and read.rejects.empty
    rates = read.rows.groupby("arm")["retention_7"].mean()
    assert rates["gate_30"] == pytest.approx(0.1902, abs=1e-4)
    assert rates["gate_40"] == pytest.approx(0.1820, abs=1e-4)
    table, split = TASK.build_table(read.rows, RetentionSettings(source="file", path="x"))
    assert split["split"]["test"]["rows"] + split["split"]["valid"]["rows"] + split["split"][
        "train"]["rows"] == len(table) == 90_189
    assert set(table[PART]) == {"train", "valid", "test"}
