"""The follower-growth target end to end: period table → candidates → metrics → registry."""

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from pipelines.config import FeatureSettings, load_settings
from pipelines.paths import ProjectPaths
from pipelines.train.follower_growth_training import (
    FEATURES,
    GROWTH_TARGET,
    growth_metrics,
    run_evaluate_growth,
    run_train_growth,
)

MODELS = ("ridge", "lightgbm")
FAST = {"lightgbm": {"n_estimators": 80}}


@pytest.fixture(scope="module")
def periods_path(tmp_path_factory):
    from pipelines.collect.demo_data import generate_posts
    from pipelines.features.stage import run_features

    folder = tmp_path_factory.mktemp("growth")
    generate_posts(3000, accounts=40, seed=11).to_parquet(folder / "posts.parquet")
    run_features(folder / "posts.parquet", folder / "features.parquet",
                 periods_path=folder / "periods.parquet",
                 settings=FeatureSettings())
    return folder / "periods.parquet"


def _train(periods_path, models_dir, seed=3):
    return run_train_growth(periods_path, models_dir, models=MODELS, hyperparameters=FAST,
                            seed=seed, valid_fraction=0.15, test_fraction=0.2)


def test_models_beat_the_no_growth_baseline_on_future_periods(periods_path, tmp_path):
    manifest = _train(periods_path, tmp_path / "models")
    assert manifest["target"] == GROWTH_TARGET and manifest["input_columns"] == list(FEATURES)
    report = run_evaluate_growth(periods_path, tmp_path / "models", tmp_path / "metrics.json")
    best = report["candidates"][report["best"]]["test"]
    zero = report["baselines"]["zero_growth"]["test"]["mae_log"]
    # the demo accounts grow steadily, so the models must learn a positive growth
    assert best["mae_log"] < zero
    assert report["improvement_over_baseline_mae_log"] == pytest.approx(zero - best["mae_log"])
    assert set(report["baselines"]) == {"zero_growth", "last_growth"}
    assert json.loads((tmp_path / "metrics.json").read_text())["best"] == report["best"]
    # the split is by time: every test period ends after every training period
    periods = pd.read_parquet(periods_path)
    assert manifest["split"]["test"] + manifest["split"]["valid"] + manifest["split"][
        "train"] == periods[GROWTH_TARGET].notna().sum()
    assert report["candidates"]["lightgbm"]["test_by_platform"]


def test_same_data_and_seed_give_the_same_model(periods_path, tmp_path):
    _train(periods_path, tmp_path / "a")
    _train(periods_path, tmp_path / "b")
    rows = pd.read_parquet(periods_path)
    for name in MODELS:
        a = joblib.load(tmp_path / "a" / f"{name}.joblib").predict(rows)
        b = joblib.load(tmp_path / "b" / f"{name}.joblib").predict(rows)
        assert np.array_equal(a, b)


def test_lightgbm_learns_with_absolute_error(periods_path, tmp_path):
    _train(periods_path, tmp_path / "m")
    model = joblib.load(tmp_path / "m" / "lightgbm.joblib")
    assert model[-1].get_params()["objective"] == "l1"


def test_a_model_that_cannot_learn_growth_is_refused(periods_path, tmp_path):
    with pytest.raises(ValueError, match=r"models \['mlp'\] cannot learn target"):
        run_train_growth(periods_path, tmp_path, models=("mlp",), hyperparameters={},
                         seed=0, valid_fraction=0.15, test_fraction=0.2)
    with pytest.raises(ValueError, match="'train.models' must be empty or models that can "
                                         "learn task"):
        load_settings("params.yaml", {"train.task": "follower_growth",
                                      "train.models": ["two_stage_soft"]})


def test_missing_period_columns_are_named(periods_path, tmp_path):
    _train(periods_path, tmp_path / "m")
    model = joblib.load(tmp_path / "m" / "ridge.joblib")
    with pytest.raises(ValueError, match="missing period-table columns.*log_followers"):
        model.predict(pd.read_parquet(periods_path).drop(columns=["log_followers"]))


def test_growth_metrics_are_on_the_log_difference():
    m = growth_metrics(np.array([0.0, 0.1, -0.1]), np.array([0.0, 0.0, 0.0]))
    assert m["mae_log"] == pytest.approx(0.2 / 3)
    assert m["n"] == 3
    with pytest.raises(ValueError, match="equal, non-empty"):
        growth_metrics(np.array([]), np.array([]))


def test_stages_register_a_growth_model_and_summarize_it(tmp_path, monkeypatch, demo_posts):
    """The stage functions every driver calls, with task follower_growth, into MLflow."""
    from pipelines.pipeline import RunContext, run_stage
    from pipelines.summary import format_summary
    from pipelines.tasks import get_task

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    paths = ProjectPaths(root=tmp_path, state=tmp_path / "state", data=tmp_path / "data")
    settings = load_settings("params.yaml", {
        "train.task": "follower_growth", "train.models": ["ridge", "lightgbm"],
        "train.lightgbm": {"n_estimators": 60}, "register.model_name": "engagement-{task}"})
    paths.validated_posts.parent.mkdir(parents=True)
    demo_posts.to_parquet(paths.validated_posts)
    (paths.validated_posts.parent / "validation.json").write_text(json.dumps(
        {"rows_in": len(demo_posts), "rows_accepted": len(demo_posts), "rows_quarantined": 0}))
    context = RunContext(run_key="growth-test", as_of=pd.Timestamp.now(tz="UTC"),
                         reports=False)
    for stage in ("features", "train", "evaluate"):
        run_stage(stage, paths=paths, settings=settings, context=context)
    record = run_stage("register", paths=paths, settings=settings, context=context)
    assert record["model_name"] == "engagement-follower_growth"
    run_stage("promote", paths=paths, settings=settings, context=context)
    gate = json.loads(paths.promotion.read_text())
    assert gate["mode"] == "first_model" and gate["decision"] == "promote", gate["reasons"]
    # "no growth" is the baseline the first growth model had to beat
    assert gate["primary"]["reference"] == pytest.approx(json.loads(
        paths.metrics.read_text())["baselines"]["zero_growth"]["test"]["mae_log"])
    summary = format_summary(get_task("follower_growth"), paths)
    assert "predicted growth of log1p(followers)" in summary
    assert "baseline (zero growth)" in summary
    # it ends with where the reports are and what to do next
    registration = json.loads(paths.registration.read_text())
    assert f"/runs/{registration['parent_run_id']}?workflowType=machine_learning" in summary
    assert f"#/models/engagement-follower_growth/versions/{registration['version']}" in summary
    assert "Data Docs            not written by this run" in summary   # reports=False
    assert [line[:5] for line in summary.splitlines()[-4:-1]] == ["  1. ", "  2. ", "  3. "]
