"""Registration against a real MLflow store (SQLite + local artifacts in tmp_path)."""

import json
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pipelines.config import FeatureSettings, load_settings
from pipelines.evaluate.stage import run_evaluate
from pipelines.features.model_input import model_input
from pipelines.features.stage import run_features
from pipelines.paths import ProjectPaths
from pipelines.registry.promotion import run_promotion_gate
from pipelines.registry.register import run_register
from pipelines.tasks import get_task
from pipelines.train.stage import run_train
from tests.conftest import SCALE

MODEL = "engagement-likes-test"
PARAMS = Path(__file__).resolve().parents[3] / "params.yaml"
HYPER = {"lightgbm": {"n_estimators": 50, "num_leaves": 7}, "ridge": {"alpha": 1.0}}


def _run_stages(paths: ProjectPaths, posts: pd.DataFrame, seed: int) -> None:
    paths.validated_posts.parent.mkdir(parents=True)
    posts.to_parquet(paths.validated_posts)
    run_features(paths.validated_posts, paths.features, settings=FeatureSettings())
    run_train(paths.features, paths.models, target="likes", models=("lightgbm", "ridge"),
              hyperparameters=HYPER, seed=seed, valid_fraction=0.15, test_fraction=0.15,
              cold_account_fraction=0.2, history_dropout=0.3,
              cv_folds=0, scale=SCALE)
    run_evaluate(paths.features, paths.models, paths.metrics)


#: 225 test rows cannot prove a lead over the baseline (CI about +-0.05); the rejection
#: itself is tested in test_promotion.py, here the registry flow is.
SETTINGS = {"train.models": ["lightgbm", "ridge"], "train.seed": 1,
            "register.model_name": MODEL, "register.experiment": "test",
            "promote.resamples": 300, "promote.min_baseline_improvement": -1.0}


def _register(paths: ProjectPaths, run_key: str) -> dict:
    return run_register(get_task("likes"), paths, load_settings(PARAMS, SETTINGS),
                        run_key=run_key)


def _gate(paths: ProjectPaths, run_key: str) -> dict:
    return run_promotion_gate(get_task("likes"), paths, load_settings(PARAMS, SETTINGS),
                              run_key=run_key)


@pytest.fixture(scope="module")
def project_root_dir(tmp_path_factory, tracking_env):
    """The project folder; the stages use its MLflow store for the whole module."""
    root = tmp_path_factory.mktemp("project")
    with tracking_env(f"sqlite:///{root / '.engageflow' / 'mlflow.db'}"):
        yield root


@pytest.fixture(scope="module")
def registered(project_root_dir, demo_posts):
    """Two training runs, each registered and then gated (as the DAG does)."""
    root = project_root_dir
    base = ProjectPaths(root=root, state=root / ".engageflow", data=root / "data")
    first, second = replace(base, data=root / "run1"), replace(base, data=root / "run2")
    _run_stages(first, demo_posts, seed=1)
    _run_stages(second, demo_posts, seed=2)
    record_1 = _register(first, "run-1")
    _gate(first, "run-1")
    return base, first, second, record_1, _register(second, "run-2")


def test_first_model_is_a_challenger_until_the_gate_makes_it_champion(registered, demo_posts):
    base, first, _, record, _ = registered
    assert (record["version"], record["alias"]) == ("1", "challenger")
    assert record["champion_version"] is None and record["comparison"] is None
    gate = json.loads(first.promotion.read_text())
    assert (gate["mode"], gate["decision"]) == ("first_model", "promote")
    assert gate["n_rows"] == record["test_metrics"]["n"]
    mlflow.set_tracking_uri(f"sqlite:///{base.state / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    predictions = model.predict(model_input(demo_posts.tail(20)))
    assert predictions.shape == (20,) and np.isfinite(predictions).all()
    assert (predictions >= 0).all()


def test_second_model_is_challenger_compared_on_the_same_rows(registered):
    _, _, _, first, second = registered
    assert (second["version"], second["alias"]) == ("2", "challenger")
    comparison = second["comparison"]
    assert comparison["champion_version"] == "1"
    assert comparison["champion_test"]["n"] == comparison["challenger_test"]["n"]
    assert comparison["champion_test"]["mae_log"] == pytest.approx(first["test_metrics"]["mae_log"])
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"


def test_a_retried_register_reuses_runs_and_version(registered):
    base, first, _, record, _ = registered
    again = _register(first, "run-1")
    assert again["version"] == record["version"] and again["run_id"] == record["run_id"]
    assert again["alias"] == "champion", "a re-run after promotion leaves the champion be"
    client = MlflowClient(tracking_uri=f"sqlite:///{base.state / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("test")
    parents = client.search_runs([experiment.experiment_id],
                                 "tags.`engageflow.run_key` = 'run-1'")
    assert len(parents) == 1
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2


def test_model_version_carries_lineage_tags_and_parent_logs_metrics(registered):
    base, first, _, record, _ = registered
    client = MlflowClient(tracking_uri=f"sqlite:///{base.state / 'mlflow.db'}")
    version = client.get_model_version(MODEL, record["version"])
    assert version.tags["engageflow.data_sha256"] == record["data_sha256"]
    assert len(version.tags["engageflow.feature_set"]) == 12
    child = client.get_run(record["run_id"])
    assert child.data.tags["mlflow.parentRunId"] == record["parent_run_id"]
    assert child.data.metrics["test_mae_log"] == pytest.approx(record["test_metrics"]["mae_log"])
    written = json.loads(first.registration.read_text())
    assert written["version"] == record["version"]
    assert written["model_uri"] == f"models:/{MODEL}@{written['alias']}"


def test_every_candidate_run_has_its_evaluation_plots(registered):
    base, _, _, record, _ = registered
    client = MlflowClient(tracking_uri=f"sqlite:///{base.state / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("test")
    children = client.search_runs(
        [experiment.experiment_id],
        f"tags.`mlflow.parentRunId` = '{record['parent_run_id']}'")
    assert len(children) == 2
    for child in children:
        plots = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert {"plots/predicted_vs_actual.png", "plots/residuals.png"} <= plots
        # trees from their gain, ridge from its coefficients
        assert "plots/feature_importance.png" in plots


def test_every_version_has_a_model_card_and_filterable_tags(registered):
    client = MlflowClient()
    first = client.get_model_version(MODEL, "1")
    assert first.description.startswith(f"# {MODEL} v1: ")
    for text in ("## Task", "## Training data", "## Features", "| metric | this version | "
                 "baseline (account_median) |", "## Known limits"):
        assert text in first.description, text
    # the gate ran on v1: its decision replaced the pending note, and a retried register
    # (test_a_retried_register_reuses_runs_and_version) did not write "pending" over it
    assert "_Pending" not in first.description and "**PROMOTE**" in first.description
    assert first.tags["engageflow.gate.verdict"] == "promote"
    assert first.tags["engageflow.family"] in ("lightgbm", "ridge")
    assert int(first.tags["engageflow.train_rows"]) > 0
    # v2 awaits its gate and was compared with the champion on the same test rows
    second = client.get_model_version(MODEL, "2")
    assert second.tags["engageflow.gate.verdict"] == "pending"
    assert "champion v1 |" in second.description and "_Pending" in second.description


def test_the_gate_scores_both_real_models_on_the_same_holdout(registered):
    """Last in this module: it may move @champion."""
    base, _, second, _, record = registered
    gate = _gate(second, "run-2")
    assert gate["mode"] == "challenger_vs_champion"
    assert (gate["champion_version"], gate["challenger_version"]) == ("1", "2")
    assert gate["n_rows"] == record["test_metrics"]["n"]
    assert gate["challenger"]["mae_log"] == pytest.approx(record["test_metrics"]["mae_log"])
    assert gate["champion"]["mae_log"] == pytest.approx(
        record["comparison"]["champion_test"]["mae_log"])
    expected = {"promote": {"champion": "2", "previous": "1"},
                "keep_challenger": {"champion": "1", "challenger": "2"},
                "reject": {"champion": "1"}}[gate["decision"]]
    aliases = MlflowClient().get_registered_model(MODEL).aliases
    assert {k: str(v) for k, v in aliases.items()} == expected
    decided = MlflowClient().get_model_version(MODEL, "2")
    assert decided.tags["engageflow.gate.verdict"] == gate["decision"]
    assert f"**{gate['decision'].upper()}**" in decided.description
