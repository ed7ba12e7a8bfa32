"""The click-through task through its hooks: demo impressions end to end, the
position-CTR baseline, normalized entropy, the learned featurizer, bad settings."""

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.evaluate.click_metrics import base_rate_entropy, click_metrics
from pipelines.tasks.base import Task
from pipelines.tasks.click_data import INPUT_COLUMNS, generate_impressions
from pipelines.tasks.click_features import (
    ImpressionFeaturizer,
    position_ctr,
    position_ctr_baseline,
)
from pipelines.tasks.click_through import ClickThroughSettings, ClickThroughTask

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TASK = ClickThroughTask()
MODELS = ("logistic_regression", "lightgbm")
DEMO_ROWS = 12_000


def click_settings(**section):
    """params.yaml with task click_through and ``section`` keys of its own section."""
    from pipelines.config import load_settings

    return load_settings(PROJECT_ROOT / "params.yaml", {
        "train.task": "click_through", "train.models": list(MODELS), "train.seed": 1,
        "validate.min_rows": 100, **{f"click_through.{k}": v for k, v in section.items()}})


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, make_project, as_of):
    paths = make_project(tmp_path_factory.mktemp("click"))
    settings = click_settings(demo_rows=DEMO_ROWS, seed=5, min_level_count=20)
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    return paths, settings, records


def test_the_task_declares_what_the_platform_reads():
    assert isinstance(TASK, Task) and TASK.name == "click_through"
    assert (TASK.input.entity, TASK.input.key, TASK.input.time_column) == (
        "impressions", ("impression_id",), "shown_at")
    assert (TASK.table, TASK.target, TASK.problem) == ("impressions", "click", "binary")
    assert TASK.selection_metric == "log_loss" == TASK.gate.primary
    assert TASK.gate.baseline == "position CTR" and TASK.slice_column == "campaign"
    assert "normalized_entropy" in TASK.metric_columns()


def test_importing_the_task_loads_no_data_or_ml_library():
    code = ("import sys, pipelines.tasks.click_through; "
            "print([m for m in ('pandas', 'numpy', 'sklearn', 'lightgbm', 'xgboost') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_settings_defaults_bounds_and_consistency():
    settings = ClickThroughSettings()
    assert (settings.source, settings.logs) == ("demo", ("random/men", "random/women",
                                                         "bts/men"))
    with pytest.raises(ValidationError, match="click_through.path must name"):
        ClickThroughSettings(source="open_bandit")
    with pytest.raises(ValidationError, match="logs"):
        ClickThroughSettings(logs=("random/kids",))
    with pytest.raises(ValidationError, match="distinct logs"):
        ClickThroughSettings(logs=("bts/men", "bts/men"))
    with pytest.raises(ValidationError, match="at most 0.8"):
        ClickThroughSettings(valid_fraction=0.5, test_fraction=0.4)
    with pytest.raises(ValidationError, match="min_level_count"):
        ClickThroughSettings(min_level_count=0)


def test_demo_impressions_are_seeded_and_click_at_about_half_a_percent():
    first, again = generate_impressions(60_000, seed=3), generate_impressions(60_000, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert 0.003 < first["click"].mean() < 0.007
    assert first["shown_at"].is_monotonic_increasing
    assert not generate_impressions(2_000, seed=4).equals(generate_impressions(2_000, seed=3))
    with pytest.raises(ValueError, match="'rows' must be an int >= 1"):
        generate_impressions(0, seed=1)


def test_position_ctr_is_the_training_rate_per_position():
    train = pd.DataFrame({"position": [1, 1, 2, 2, 2, 2], "click": [1, 0, 0, 0, 0, 1]})
    assert position_ctr(train["position"], train["click"]) == {1: 0.5, 2: 0.25}
    test = pd.DataFrame({"position": [2, 1, 3]})
    # position 3 never trained: the overall training rate
    assert position_ctr_baseline(train, test).tolist() == [0.25, 0.5, 2 / 6]
    with pytest.raises(ValueError, match="'clicks' must be 0 or 1"):
        position_ctr([1, 2], [0, 2])


def test_normalized_entropy_is_one_for_the_observed_rate_and_lower_for_knowledge():
    actual = np.array([1, 0, 0, 0] * 50)
    assert click_metrics(actual, np.full(200, 0.25))["normalized_entropy"] == pytest.approx(1)
    informed = np.where(actual == 1, 0.6, 0.1)
    assert click_metrics(actual, informed)["normalized_entropy"] < 1
    assert base_rate_entropy(0.0) == 0 and np.isnan(
        click_metrics(np.zeros(5), np.full(5, 0.1))["normalized_entropy"])


def test_the_featurizer_learns_levels_from_training_rows_only():
    rows = generate_impressions(3_000, seed=2)
    featurizer = ImpressionFeaturizer(min_level_count=50).fit(rows.head(1_000))
    seen = set(rows.head(1_000)["user_feature_2"])
    assert set(featurizer.levels_["user_feature_2"]) <= seen
    unseen = rows.assign(user_feature_2="never-seen")
    out = featurizer.transform(unseen.tail(10))
    assert (out["f_user_feature_2=_other"] == 1).all()
    assert list(out.columns) == list(featurizer.get_feature_names_out())
    with pytest.raises(ValueError, match="lack input column"):
        featurizer.transform(rows.drop(columns="position"))
    with pytest.raises(ValueError, match="'min_level_count' must be an int >= 1"):
        ImpressionFeaturizer(0).fit(rows)


def test_demo_end_to_end_accounts_for_rows_and_judges_against_the_baselines(demo_run):
    paths, _, records = demo_run
    report = json.loads(paths.validation_report.read_text())
    assert report["rows_in"] == report["rows_accepted"] + report["rows_quarantined"] == DEMO_ROWS
    metrics = records["evaluate"]
    assert set(metrics["candidates"]) == set(MODELS)
    assert metrics["best"] == min(MODELS, key=lambda n:
                                  metrics["candidates"][n]["valid"]["log_loss"])
    assert set(metrics["baselines"]) == {"position_ctr", "prior_rate"}
    for name in (*MODELS, "position_ctr", "prior_rate"):
        judged = (metrics["candidates"].get(name) or metrics["baselines"][name])["test"]
        assert {"log_loss", "normalized_entropy", "brier", "calibration",
                "roc_auc"} <= set(judged)
    # the prior rate is a constant: no ranking, NE near 1 (the test rate is not training's)
    assert metrics["baselines"]["prior_rate"]["test"]["roc_auc"] == 0.5
    split = records["train"]["split"]
    assert split["train"]["last"] < split["valid"]["first"] <= split["valid"]["last"] \
        < split["test"]["first"]
    assert split["train"]["rows"] + split["valid"]["rows"] + split["test"]["rows"] == DEMO_ROWS
    assert set(metrics["candidates"][metrics["best"]]["test_by_campaign"]) == {"men",
                                                                              "women"}


def test_saved_models_take_impression_columns_and_return_probabilities(demo_run):
    paths, _, _ = demo_run
    rows = pd.read_parquet(paths.validated("impressions"))[list(INPUT_COLUMNS)].tail(200)
    for name in MODELS:
        model = joblib.load(paths.models / f"{name}.joblib")
        predicted = TASK.predict(model, rows)
        assert predicted.shape == (200,) and ((predicted > 0) & (predicted < 1)).all()
        # more affinity with the item shown: the model's click probability reacts
        boosted = rows.assign(item_affinity=rows["item_affinity"] + 3,
                              affinity_total=rows["affinity_total"] + 3,
                              affinity_max=rows["affinity_max"] + 3)
        assert TASK.predict(model, boosted).mean() > predicted.mean()


def test_the_holdout_and_baseline_hooks_give_the_gate_its_rows(demo_run):
    paths, _, records = demo_run
    train, test = TASK.holdout(paths)
    assert len(test) == records["train"]["split"]["test"]["rows"]
    baseline = TASK.baseline(train, test)
    assert set(np.round(baseline, 9)) <= {round(v, 9) for v in position_ctr(
        train["position"], train["click"]).values()}
