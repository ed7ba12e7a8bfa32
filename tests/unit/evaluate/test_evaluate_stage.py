import json

import numpy as np
import pytest

from pipelines.config import FeatureSettings
from pipelines.evaluate.stage import run_evaluate
from pipelines.features.stage import run_features
from pipelines.train.stage import run_train
from tests.conftest import SCALE

HYPER = {"lightgbm": {"n_estimators": 40, "num_leaves": 7},
         "two_stage_soft": {"classifier_params": {"n_estimators": 30},
                            "regressor_params": {"n_estimators": 30}, "min_class_rows": 20}}


@pytest.fixture(scope="module")
def report(tmp_path_factory, demo_posts):
    root = tmp_path_factory.mktemp("evaluate")
    demo_posts.to_parquet(root / "validated.parquet")
    run_features(root / "validated.parquet", root / "features.parquet",
                 settings=FeatureSettings())
    run_train(root / "features.parquet", root / "models", target="likes",
              models=("lightgbm", "two_stage_soft"), hyperparameters=HYPER, seed=0,
              valid_fraction=0.15, test_fraction=0.15,
              cold_account_fraction=0.2, history_dropout=0.3, cv_folds=0, scale=SCALE)
    run_evaluate(root / "features.parquet", root / "models", root / "metrics.json")
    return json.loads((root / "metrics.json").read_text())


def test_best_is_chosen_on_validation_and_compared_with_the_baseline(report):
    best = report["best"]
    valid = {name: c["valid"]["mae_log"] for name, c in report["candidates"].items()}
    assert valid[best] == min(valid.values())
    assert report["improvement_over_baseline_mae_log"] == pytest.approx(
        report["baselines"]["account_median"]["test"]["mae_log"]
        - report["candidates"][best]["test"]["mae_log"])


def test_every_candidate_reports_popularity_classes_of_its_predictions(report):
    thresholds = report["popularity_class_thresholds"]
    assert 0 < thresholds["p75"] < thresholds["p95"]
    for name, candidate in report["candidates"].items():
        classes = candidate["test_popularity_class"]
        assert np.sum(classes["confusion_matrix"]) == candidate["test"]["n"], name
        assert 0 <= classes["macro_f1"] <= 1


def test_two_stage_also_reports_its_classifier_with_calibration(report):
    own = report["candidates"]["two_stage_soft"]["test_popularity_class_classifier"]
    assert set(own["reliability"]) == {"0", "1", "2"} and "brier" in own


def test_platform_slices_cover_the_test_rows(report):
    slices = report["candidates"]["lightgbm"]["test_by_platform"]
    counted = sum(v.get("n", v.get("insufficient_support", 0)) for v in slices.values())
    assert counted == report["candidates"]["lightgbm"]["test"]["n"]
