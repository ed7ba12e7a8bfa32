"""The conversion task through its hooks: demo data end to end, reproducibility, the
model-facing hooks, bad settings, and the real UCI file (shared_data)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.tasks.base import Task
from pipelines.tasks.conversion import ConversionSettings, ConversionTask
from pipelines.tasks.conversion_data import INPUT_COLUMNS
from pipelines.train.classifiers import CLASSIFIER_NAMES

TASK = ConversionTask()
DEMO = {"source": "demo", "demo_rows": 4000, "seed": 7}
REAL_CSV = "audience/online_shoppers/online_shoppers_intention.csv"


def run_all(paths, settings, as_of) -> dict:
    """collect -> validate -> features -> train -> evaluate, as the platform runs them."""
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=as_of, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings)}
    records["evaluate"] = TASK.evaluate(paths, settings)
    return records


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, make_settings, make_project, as_of):
    paths = make_project(tmp_path_factory.mktemp("conversion"))
    settings = make_settings(**DEMO)
    return paths, settings, run_all(paths, settings, as_of)


# ------------------------------------------------------------------------- the task spec
def test_the_task_declares_what_the_platform_reads():
    assert isinstance(TASK, Task) and TASK.name == "conversion"
    assert TASK.input.entity == "sessions" and TASK.input.key == ("session_id",)
    assert TASK.input.time_column == "month_start"
    assert (TASK.table, TASK.target, TASK.problem) == ("sessions", "converted", "binary")
    assert TASK.families == CLASSIFIER_NAMES
    assert TASK.selection_metric == "log_loss" == TASK.gate.primary
    assert TASK.gate.guards == ("roc_auc", "brier")
    assert TASK.gate.first_model_bounds == {"roc_auc": ("min", 0.6)}
    assert TASK.slice_column == "visitor_type" and TASK.segments is False
    assert TASK.settings_model is ConversionSettings
    assert TASK.metric_columns() == ("log_loss", "roc_auc", "brier")


def test_importing_the_task_loads_no_data_or_ml_library():
    code = ("import sys, pipelines.tasks.conversion; "
            "print([m for m in ('pandas', 'numpy', 'sklearn', 'lightgbm', 'xgboost', "
            "'great_expectations') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_settings_defaults_bounds_and_consistency():
    settings = ConversionSettings()
    assert (settings.source, settings.use_page_values, settings.demo_rows) == ("demo", False,
                                                                             10_000)
    with pytest.raises(ValidationError, match="conversion.path must name the sessions CSV"):
        ConversionSettings(source="file")
    with pytest.raises(ValidationError, match="valid_fraction \\+ conversion.test_fraction"):
        ConversionSettings(valid_fraction=0.5, test_fraction=0.4)
    with pytest.raises(ValidationError, match="demo_rows"):
        ConversionSettings(demo_rows=10)
    with pytest.raises(ValidationError, match="extra"):
        ConversionSettings(rows=10)
    with pytest.raises(ValidationError, match="frozen"):
        settings.seed = 3
    schema = ConversionSettings.model_json_schema()["properties"]
    assert all(schema[name].get("title") and schema[name].get("description") for name in schema)


# --------------------------------------------------------------------------- end to end
def test_demo_end_to_end_beats_the_prior_rate(demo_run):
    paths, _, records = demo_run
    metrics = records["evaluate"]
    best = metrics["candidates"][metrics["best"]]
    prior = metrics["baselines"]["prior_rate"]
    assert best["test"]["log_loss"] < prior["test"]["log_loss"]
    assert best["test"]["roc_auc"] > 0.75
    assert metrics["best"] == min(metrics["candidates"],
                                  key=lambda n: metrics["candidates"][n]["valid"]["log_loss"])
    assert set(metrics["candidates"]) == set(CLASSIFIER_NAMES)  # empty train.models: all
    assert json.loads(paths.metrics.read_text()) == json.loads(json.dumps(metrics))


def test_every_stage_writes_its_layer_and_accounts_for_every_row(demo_run):
    paths, _, records = demo_run
    assert records["collect"]["rows"] == 4000 and records["collect"]["rejected"] == 0
    report = json.loads(paths.validation_report.read_text())
    assert report["rows_in"] == report["rows_accepted"] + report["rows_quarantined"] == 4000
    assert set(report) >= {"rows_in", "rows_accepted", "rows_quarantined", "top_reasons"}
    assert len(pd.read_parquet(paths.validated("sessions"))) == 4000
    assert pd.read_parquet(paths.quarantined("sessions")).empty
    manifest = json.loads(paths.feature_table("sessions").with_suffix(".json").read_text())
    assert manifest == records["features"] and manifest["rows"] == 4000


def test_the_manifest_and_metrics_have_the_agreed_keys(demo_run):
    paths, _, records = demo_run
    manifest = json.loads((paths.models / "manifest.json").read_text())
    assert set(manifest) >= {"target", "seed", "rows", "input_columns", "feature_columns",
                             "split", "candidates"}
    assert set(manifest["split"]) >= {"train", "valid", "test", "time_column",
                                      "valid_fraction", "test_fraction"}
    for name, candidate in manifest["candidates"].items():
        assert set(candidate) == {"fit_seconds", "hyperparameters", "feature_importance",
                                  "importance_kind"}
        assert candidate["importance_kind"] == ("coefficient" if name == "logistic_regression"
                                                else "gain")
        assert sum(candidate["feature_importance"].values()) == pytest.approx(1, abs=1e-3)
        assert candidate["hyperparameters"]["random_state"] == 1  # train.seed
    metrics = records["evaluate"]
    assert set(metrics) >= {"target", "selection_metric", "best", "candidates", "baselines",
                            "split"}
    for part in ("valid", "test"):
        assert set(metrics["baselines"]["prior_rate"][part]) == {
            "roc_auc", "pr_auc", "log_loss", "brier", "base_rate", "mean_predicted",
            "calibration", "n"}
    split = manifest["split"]
    assert split["train"]["months"][-1] < split["valid"]["months"][0]
    assert split["valid"]["months"][-1] < split["test"]["months"][0]
    assert split["train"]["rows"] + split["valid"]["rows"] + split["test"]["rows"] == 4000


def test_saved_models_take_session_rows_and_return_probabilities(demo_run):
    import joblib

    paths, _, _ = demo_run
    table = pd.read_parquet(paths.feature_table("sessions"))
    features = json.loads(paths.feature_table("sessions").with_suffix(".json").read_text())
    raw = pd.read_parquet(paths.validated("sessions"))[list(INPUT_COLUMNS)].head(50)
    for name in CLASSIFIER_NAMES:
        model = joblib.load(paths.models / f"{name}.joblib")
        p = model.predict(raw)
        assert p.dtype == float and ((p > 0) & (p < 1)).all()
        np.testing.assert_array_equal(p, model.predict_proba(raw)[:, 1])
        # The featurizer inside the model reproduces the training table's features.
        by_id = table.set_index("session_id").loc[
            pd.read_parquet(paths.validated("sessions"))["session_id"].head(50)]
        np.testing.assert_allclose(p, model[-1].predict(by_id[features["feature_columns"]]))


def test_mlflow_sklearn_flavor_predicts_probabilities(demo_run, tmp_path):
    import joblib
    import mlflow
    from mlflow.models import infer_signature

    paths, _, records = demo_run
    model = joblib.load(paths.models / f"{records['evaluate']['best']}.joblib")
    _, test = TASK.holdout(paths)
    rows = TASK.model_input(test.head(20))
    expected = TASK.predict(model, rows)
    mlflow.sklearn.save_model(
        model, tmp_path / "model", signature=infer_signature(rows, expected),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pip_requirements=[])  # no requirement inference (a subprocess, ~7 s)
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    np.testing.assert_allclose(np.asarray(loaded.predict(rows), dtype=float), expected)


def test_same_seed_same_metrics(demo_run, tmp_path, make_settings, make_project, as_of):
    _, _, first = demo_run
    again = run_all(make_project(tmp_path), make_settings(**DEMO), as_of)
    assert again["evaluate"] == first["evaluate"]


# ----------------------------------------------------------------------- model-facing hooks
def test_holdout_baseline_metrics_and_inputs(demo_run):
    paths, _, records = demo_run
    train, test = TASK.holdout(paths)
    split = records["train"]["split"]
    assert (len(train), len(test)) == (split["train"]["rows"], split["test"]["rows"])
    assert train["month_start"].max() < test["month_start"].min()
    baseline = TASK.baseline(train, test)
    assert baseline.shape == (len(test),) and np.all(baseline == train["converted"].mean())
    metrics = TASK.metrics(test["converted"].to_numpy(), baseline)
    assert metrics == records["evaluate"]["baselines"]["prior_rate"]["test"]
    assert list(TASK.model_input(test).columns) == list(INPUT_COLUMNS)
    assert "page_values" in INPUT_COLUMNS and "converted" not in INPUT_COLUMNS
    # the reference drift monitoring keeps: the inputs, their month and the outcome
    assert list(TASK.drift_reference(train).columns) == [*INPUT_COLUMNS, "month_start",
                                                         "converted"]
    assert len(TASK.drift_reference(train)) == len(train)
    with pytest.raises(ValueError, match=r"rows lack session column\(s\) \['month'\]"):
        TASK.model_input(test.drop(columns="month"))


def test_predict_example_and_describe(demo_run):
    import joblib

    paths, _, records = demo_run
    model = joblib.load(paths.models / f"{records['evaluate']['best']}.joblib")
    example = TASK.example(paths)
    assert len(example) == 1 and set(INPUT_COLUMNS) <= set(example.columns)
    assert example["month_start"].iloc[0] == pd.read_parquet(
        paths.feature_table("sessions"))["month_start"].max()
    p = TASK.predict(model, example)
    assert p.shape == (1,) and 0 < p[0] < 1
    assert TASK.describe(0.1234, 1) == "predicted probability of a purchase 12.3% (actual: " \
                                       "purchased)"
    assert TASK.describe(0.5, 0).endswith("(actual: no purchase)")
    assert TASK.describe(0.5, None).endswith("(not known yet)")


# ------------------------------------------------------------------------------ errors
def test_train_refuses_unknown_families_and_a_stale_table(demo_run, make_settings):
    paths, _, _ = demo_run
    with pytest.raises(ValueError, match=r"'train.models' must be empty or models that can "
                                         r"learn task 'conversion'"):
        make_settings(models=("ridge", "lightgbm"), **DEMO)
    with pytest.raises(ValueError, match="built with use_page_values=False, but "
                                         "conversion.use_page_values is True; rerun features"):
        TASK.train(paths, make_settings(use_page_values=True, **DEMO))


def test_validate_needs_the_logical_date(demo_run):
    paths, settings, _ = demo_run
    with pytest.raises(ValueError, match="'as_of' must be the run's logical date"):
        TASK.validate(paths, settings, as_of=None, reports=False)


def test_a_file_with_bad_records_is_quarantined_then_stops_the_run(
        tmp_path, make_settings, make_project, as_of):
    from pipelines.tasks.conversion_data import COLUMNS, generate_sessions
    from pipelines.validate.stage import DataContractError

    rows = generate_sessions(150, seed=1)
    csv = pd.DataFrame({header: rows[column] for column, (_, header) in COLUMNS.items()
                        if header})
    csv.loc[:4, "BounceRates"] = 0.7          # row contract: quarantined at validate
    csv = csv.astype({"Administrative": object})
    csv.loc[5:9, "Administrative"] = "many"   # unreadable: rejected at collect
    (tmp_path / "in").mkdir()
    csv.to_csv(tmp_path / "in" / "sessions.csv", index=False)
    paths = make_project(tmp_path)
    settings = make_settings(source="file", path=str(tmp_path / "in" / "sessions.csv"),
                             min_rows=145, max_quarantine_rate=0.05)
    collected = TASK.collect(paths, settings)
    assert (collected["records_read"], collected["rows"], collected["rejected"]) == (150, 145, 5)
    with pytest.raises(DataContractError) as raised:
        TASK.validate(paths, settings, as_of=as_of, reports=True)
    message = str(raised.value)
    assert "quarantine rate 6.67% (10 of 150 rows) exceeds validate.max_quarantine_rate" in message
    assert "140 accepted rows is below validate.min_rows 145" in message
    report = json.loads(paths.validation_report.read_text())
    assert (report["rows_in"], report["rows_accepted"], report["rows_quarantined"]) == (150, 140,
                                                                                        10)
    assert report["top_reasons"] == {"expect_column_values_to_be_between (bounce_rates)": 5,
                                     "parse_int (Administrative)": 5}
    quarantined = pd.read_parquet(paths.quarantined("sessions"))
    assert sorted(quarantined["stage"].value_counts().items()) == [("collect", 5),
                                                                  ("validate", 5)]
    assert (paths.validation_reports / "sessions").is_dir()  # Data Docs
    exploration = json.loads(Path(report["exploration_report"]).with_suffix(".json").read_text())
    assert exploration["rows"]["total"] == 140 and exploration["rows"]["quarantined"] == 10
    assert exploration["target"]["per_platform"]["(all)"]["count"] == 140   # converted


# ------------------------------------------------------------------------ the real file
@pytest.mark.shared_data
def test_real_sessions_every_row_accounted_and_page_values_help(
        shared_data_dir, tmp_path, make_settings, make_project, as_of):
    results = {}
    for use_page_values in (False, True):
        paths = make_project(tmp_path / f"page_values_{use_page_values}")
        settings = make_settings(source="file", path=str(shared_data_dir / REAL_CSV),
                                 use_page_values=use_page_values)
        records = run_all(paths, settings, as_of)
        validated = records["validate"]
        assert records["collect"]["records_read"] == 10_603
        assert validated["rows_in"] == 10_603 == (validated["rows_accepted"]
                                                   + validated["rows_quarantined"])
        assert records["features"]["rows"] == validated["rows_accepted"]
        results[use_page_values] = records["evaluate"]
    for use_page_values, metrics in results.items():
        prior = metrics["baselines"]["prior_rate"]["test"]
        print(f"\npage_values={use_page_values}: best {metrics['best']}; test "
              f"(ROC-AUC, PR-AUC, log-loss, Brier); prior rate log-loss {prior['log_loss']:.4f}")
        for name, candidate in metrics["candidates"].items():
            t = candidate["test"]
            print(f"  {name:20s} {t['roc_auc']:.4f} {t['pr_auc']:.4f} {t['log_loss']:.4f} "
                  f"{t['brier']:.4f}")
        best = metrics["candidates"][metrics["best"]]["test"]
        assert best["log_loss"] < prior["log_loss"] and best["roc_auc"] > 0.6
    auc = {k: m["candidates"][m["best"]]["test"]["roc_auc"] for k, m in results.items()}
    assert auc[True] > auc[False]
