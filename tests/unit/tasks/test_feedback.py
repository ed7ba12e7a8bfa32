"""The feedback_sentiment task through its hooks on demo data (the families that need no
text encoder; MiniLM runs in bench/feedback_quality.py), the gate on its predictions, and
bad settings."""

import json
import subprocess
import sys

import joblib
import numpy as np
import pytest
from pydantic import ValidationError

from pipelines.evaluate.promotion_gate import promotion_decision
from pipelines.tasks import get_task
from pipelines.tasks.feedback import FeedbackSettings
from pipelines.tasks.feedback_models import FAMILIES
from tests.unit.tasks.conftest import PROJECT_ROOT

TASK = get_task("feedback_sentiment")
MODELS = ("vader", "categorical_nb", "gaussian_nb")


def settings_with(**section):
    from pipelines.config import load_settings

    return load_settings(PROJECT_ROOT / "params.yaml", {
        "train.task": "feedback_sentiment", "train.models": list(MODELS), "train.seed": 1,
        "validate.min_rows": 100, "validate.max_quarantine_rate": 0.05,
        **{f"feedback_sentiment.{k}": v for k, v in section.items()}})


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, make_project, as_of):
    paths = make_project(tmp_path_factory.mktemp("feedback"))
    settings = settings_with(demo_rows=400, seed=3, holdout_campaign="campaign-0")
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    return paths, settings, records


def test_the_task_declares_what_the_platform_reads():
    assert TASK.name == "feedback_sentiment" and TASK.problem == "multiclass"
    assert TASK.input.entity == "feedback" and TASK.input.key == ("feedback_id",)
    assert TASK.families == FAMILIES
    assert TASK.gate.primary == TASK.selection_metric == "multiclass_log_loss"
    assert TASK.gate.guards == ("macro_f1",)
    assert set(TASK.default_models) <= set(FAMILIES)


def test_importing_the_task_loads_no_data_or_ml_library():
    code = ("import sys, pipelines.tasks.feedback; print([m for m in ('pandas', 'numpy', "
            "'sklearn', 'vaderSentiment', 'langdetect') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]"


def test_every_row_is_accounted_for_and_language_is_a_column(demo_run):
    paths, _, records = demo_run
    validate = records["validate"]
    assert validate["rows_in"] == 400 == validate["rows_accepted"] + validate["rows_quarantined"]
    import pandas as pd

    table = pd.read_parquet(paths.feature_table("feedback"))
    assert {"language", "split", "unseen_campaign"} <= set(table.columns)
    languages = records["features"]["languages"]
    assert languages["scored_as_english"] + languages["not_english"] == 400
    assert languages["not_english"] > 0         # the demo writes Spanish, French, German


def test_the_unseen_campaign_is_only_in_the_test_part(demo_run):
    paths, _, records = demo_run
    train, test = TASK.holdout(paths)
    assert "campaign-0" not in set(train["campaign"])
    unseen = test[test["unseen_campaign"]]
    assert set(unseen["campaign"]) == {"campaign-0"}
    assert records["evaluate"]["rows"]["test_unseen_campaign"] == len(unseen) > 0


def test_models_beat_the_prior_and_report_every_metric(demo_run):
    _, _, records = demo_run
    report = records["evaluate"]
    assert set(report["candidates"]) == set(MODELS)
    best = report["candidates"][report["best"]]
    prior, majority = report["baselines"]["prior"], report["baselines"]["majority"]
    assert best["test"]["multiclass_log_loss"] < prior["test"]["multiclass_log_loss"]
    assert best["test"]["macro_f1"] > majority["test"]["macro_f1"]
    for key in ("macro_f1", "accuracy", "ece", "recall_negative", "recall_neutral",
                "recall_positive"):
        assert key in best["test"] and key in best["test_unseen_campaign"]
    assert report["candidates"]["vader"]["test_abstained_not_english"] > 0
    assert report["candidates"]["categorical_nb"]["test_abstained_not_english"] == 0


def test_the_gate_judges_the_task_predictions(demo_run):
    paths, _, records = demo_run
    train, test = TASK.holdout(paths)
    model = joblib.load(paths.models / f"{records['evaluate']['best']}.joblib")
    predicted = TASK.predict(model, test)
    assert predicted.shape == (len(test), 3)
    record = promotion_decision(
        test[TASK.target].to_numpy(dtype=float), predicted, None,
        baseline=TASK.baseline(train, test), baseline_name=TASK.gate.baseline,
        metric=TASK.gate.primary, secondary_metrics=TASK.gate.guards,
        first_model_bounds=TASK.gate.first_model_bounds, confidence=0.95, resamples=200,
        min_delta=0.0, non_inferiority_margin=0.05, min_slice_rows=50,
        min_baseline_improvement=0.0, seed=0)
    assert record["decision"] == "promote"
    assert record["challenger"]["macro_f1"] == pytest.approx(
        TASK.metrics(test[TASK.target].to_numpy(), predicted)["macro_f1"])


def test_the_models_manifest_records_the_vader_thresholds(demo_run):
    paths, _, _ = demo_run
    manifest = json.loads((paths.models / "manifest.json").read_text())
    thresholds = manifest["candidates"]["vader"]["thresholds"]
    assert thresholds["negative_below"] <= thresholds["positive_above"]


def test_describe_names_the_class_and_probabilities():
    line = TASK.describe(np.array([0.1, 0.2, 0.7]), 0)
    assert line == "predicted positive (negative 10%, neutral 20%, positive 70%; actual negative)"


def test_settings_defaults_and_consistency():
    assert FeedbackSettings().source == "demo"
    with pytest.raises(ValidationError, match="feedback_sentiment.path must name the CSV"):
        FeedbackSettings(source="airline_tweets")
    with pytest.raises(ValidationError, match="at most 0.8"):
        FeedbackSettings(valid_fraction=0.5, test_fraction=0.4)
    from pipelines.config import load_settings

    with pytest.raises(ValueError, match="'train.models' must be empty or models that can "
                                         "learn task 'feedback_sentiment'.*got \\['ridge'\\]"):
        load_settings(PROJECT_ROOT / "params.yaml", {"train.task": "feedback_sentiment",
                                                     "train.models": ["ridge"]})


def test_a_holdout_campaign_that_does_not_exist_is_named():
    import pandas as pd

    from pipelines.tasks.feedback_training import assign_split

    campaigns = pd.Series(["a", "b", "a", "c"] * 10)
    split, unseen = assign_split(campaigns, holdout_campaign="b", valid_fraction=0.2,
                                 test_fraction=0.2, seed=1)
    assert set(split[unseen]) == {"test"} and unseen.sum() == 10
    assert set(split[~unseen]) <= {"train", "valid", "test"}
    with pytest.raises(ValueError, match="'campaign-99' is not a campaign of the data"):
        assign_split(campaigns, holdout_campaign="campaign-99", valid_fraction=0.2,
                     test_fraction=0.2, seed=1)
