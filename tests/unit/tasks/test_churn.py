"""The account_churn task through its hooks on small seeded demo activity: the table, the
split, the metrics against the recency rule and the prior rate, the threshold chosen on
validation, the request model; settings and import lightness."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.binary_table_task import PART
from pipelines.tasks.churn import ChurnSettings
from pipelines.tasks.churn_features import SNAPSHOT_COLUMNS

TASK = get_task("account_churn")
DEMO = {"account_churn.demo_accounts": 100, "account_churn.demo_days": 420,
        "account_churn.seed": 3}


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_project, as_of):
    from pipelines.config import load_settings

    paths = make_project(tmp_path_factory.mktemp("churn"))
    settings = load_settings(paths.root / "params.yaml", {
        "train.task": "account_churn", "train.models": ["logistic_regression"],
        "validate.min_rows": 100, **DEMO})
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    return paths, settings, records


def test_demo_run_counts_rows_and_splits_by_cutoff(run):
    paths, _, records = run
    assert records["collect"]["rows"] == records["validate"]["rows_accepted"] > 1000
    snapshots = records["features"]["snapshots"]
    assert snapshots["eligible"] == snapshots["rows"] + snapshots["censored"]
    assert snapshots["censored"] > 0
    split = records["features"]["split"]
    assert split["train"]["rows"] + split["valid"]["rows"] + split["test"]["rows"] + split[
        "purged"] == snapshots["rows"]
    table = pd.read_parquet(paths.feature_table(TASK.table))
    parts = table.groupby(PART)["cutoff"].agg(["min", "max"])
    assert parts.loc["train", "max"] < parts.loc["valid", "min"]
    assert parts.loc["valid", "max"] < parts.loc["test", "min"]


def test_models_beat_the_prior_rate_and_the_threshold_comes_from_validation(run):
    paths, _, records = run
    report = json.loads(paths.metrics.read_text())
    best = report["candidates"][report["best"]]
    prior = report["baselines"]["prior_rate"]["test"]
    assert best["test"]["log_loss"] < prior["log_loss"]
    assert best["test"]["roc_auc"] > 0.75
    assert "recency_rule" in report["baselines"]
    decision = best["decision"]
    assert decision["valid"]["threshold"] == decision["test"]["threshold"]
    assert 0 < decision["test"]["precision"] <= 1 and 0 < decision["test"]["recall"] <= 1
    assert report["threshold_rule"] == "F1-best on the validation part"


def test_the_saved_model_takes_what_a_client_sends(run):
    import joblib

    paths, _, _ = run
    train, test = TASK.holdout(paths)
    model = joblib.load(paths.models / "logistic_regression.joblib")
    sent = TASK.model_input(test)
    assert list(sent.columns) == list(SNAPSHOT_COLUMNS)
    predicted = TASK.predict(model, test)
    assert predicted.shape == (len(test),) and ((predicted > 0) & (predicted < 1)).all()
    # Recency carries the signal: long-quiet accounts are predicted to churn more.
    quiet = test["days_since_last_activity"] >= 14
    assert predicted[quiet.to_numpy()].mean() > predicted[(~quiet).to_numpy()].mean()


def test_the_recency_rule_is_the_training_rate_of_the_same_bucket():
    train = pd.DataFrame({"days_since_last_activity": [0, 0, 20, 20, 20, 70],
                          "churned": [0, 0, 1, 1, 0, 1]})
    test = pd.DataFrame({"days_since_last_activity": [0, 21, 3]})
    assert TASK.baseline(train, test).tolist() == pytest.approx([0.0, 2 / 3, 0.5])


def test_the_request_model_carries_the_snapshot_rules(make_project, tmp_path):
    model = TASK.request_model(make_project(tmp_path))
    assert list(model.model_fields) == ["account_id", *SNAPSHOT_COLUMNS]
    good = {"account_id": "a", "days_since_last_activity": 3, "active_days_7": 2,
            "active_days_30": 10, "active_days_90": 30, "posts_30": 40, "retweets_30": 5,
            "tenure_days": 200, "followers": 1000, "following": 50,
            "follower_growth_30": 0.1, "category": "RightTroll"}
    model(**good)
    for column, value in (("active_days_7", 8), ("followers", -1), ("category", None)):
        with pytest.raises(ValidationError, match=column):
            model(**{**good, column: value})


def test_settings_defaults_and_refusals():
    settings = ChurnSettings()
    assert (settings.source, settings.horizon_days, settings.spacing_days) == ("demo", 30, 14)
    with pytest.raises(ValidationError, match="account_churn.path must name"):
        ChurnSettings(source="file")
    with pytest.raises(ValidationError, match="horizon_days"):
        ChurnSettings(horizon_days=0)
    with pytest.raises(ValidationError, match="valid_fraction"):
        ChurnSettings(valid_fraction=0.5, test_fraction=0.5)


def test_importing_the_task_loads_no_data_or_ml_library():
    code = ("import sys, pipelines.tasks.churn, pipelines.tasks.retention; "
            "print([m for m in ('pandas', 'numpy', 'sklearn', 'lightgbm', 'great_expectations')"
            " if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_the_table_matches_the_featurizer_columns(run):
    paths, _, records = run
    manifest = json.loads(paths.feature_table(TASK.table).with_suffix(".json").read_text())
    assert manifest["feature_columns"] == records["train"]["feature_columns"]
    assert np.isfinite(pd.read_parquet(paths.feature_table(TASK.table))[
        list(SNAPSHOT_COLUMNS)[:-1]].to_numpy(dtype=float)).all()
