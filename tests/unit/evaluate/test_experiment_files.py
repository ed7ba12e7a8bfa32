"""The small git-tracked files `dvc exp show`, `dvc metrics diff` and `dvc plots diff` read:
the evaluated run's numbers, predicted vs actual, and the error per slice."""

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.config import FeatureSettings
from pipelines.evaluate import experiment_files as files
from pipelines.features.stage import run_features
from pipelines.paths import ProjectPaths
from pipelines.tasks import TASK_NAMES, get_task
from pipelines.tasks.post_counts import LIKES
from pipelines.train.stage import run_train
from tests.conftest import SCALE


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, demo_posts):
    """A likes run evaluated for real (ridge: quick) and its experiment files."""
    from pipelines.evaluate.stage import run_evaluate

    root = tmp_path_factory.mktemp("experiment_files")
    paths = ProjectPaths(root=root, state=root / ".engageflow", data=root / "data",
                         tracked=root)
    paths.validated("posts").parent.mkdir(parents=True)
    demo_posts.to_parquet(paths.validated("posts"))
    run_features(paths.validated("posts"), paths.features, settings=FeatureSettings())
    run_train(paths.features, paths.models, target="likes", models=("ridge",),
              hyperparameters={}, seed=0, valid_fraction=0.15, test_fraction=0.15,
              cold_account_fraction=0.2, history_dropout=0.3, cv_folds=0, scale=SCALE)
    report = run_evaluate(paths.features, paths.models, paths.metrics)
    (paths.models / "manifest.json").write_text(json.dumps(
        {**json.loads((paths.models / "manifest.json").read_text()), "task": "likes"}))
    return paths, report, files.write_evaluation_files(LIKES, paths)


def test_the_metrics_file_holds_the_chosen_candidate_and_the_baseline(evaluated):
    paths, report, metrics = evaluated
    on_disk = json.loads((paths.root / "metrics" / "evaluation.json").read_text())
    assert on_disk == metrics
    test = report["candidates"]["ridge"]["test"]
    assert metrics["chosen"]["mae_log"] == pytest.approx(test["mae_log"], abs=1e-4)
    assert metrics["baselines"]["account_median"]["mae_log"] == pytest.approx(
        report["baselines"]["account_median"]["test"]["mae_log"], abs=1e-4)
    assert set(metrics["candidates"]["ridge"]) == {"valid", "test"}
    # only numbers DVC can compare: no instants, paths or nested lists
    flat = json.dumps(metrics)
    assert "/" not in flat and "[" not in flat


def test_predicted_vs_actual_is_the_chosen_model_on_the_test_part_in_log1p(evaluated):
    paths, report, _ = evaluated
    table = pd.read_csv(paths.root / "plots" / "predicted_vs_actual.csv")
    assert list(table.columns) == ["actual", "predicted", "platform"]
    assert len(table) == report["candidates"]["ridge"]["test"]["n"]
    # the metric the run reported, recomputed from the plotted values (log1p scale)
    mae_log = float(np.mean(np.abs(table["actual"] - table["predicted"])))
    assert mae_log == pytest.approx(report["candidates"]["ridge"]["test"]["mae_log"], abs=1e-3)


def test_the_error_per_platform_matches_the_per_platform_report(evaluated):
    paths, report, _ = evaluated
    table = pd.read_csv(paths.root / "plots" / "error_by_platform.csv")
    by_platform = report["candidates"]["ridge"]["test_by_platform"]
    assert set(table["platform"]) <= set(by_platform) and len(table) > 0
    for row in table.itertuples():
        expected = by_platform[row.platform]
        if "mae_log" in expected:
            assert row.mae_log == pytest.approx(expected["mae_log"], abs=1e-4)
    assert (table["rows"] >= files.MIN_SLICE_ROWS).all()


def test_the_predicted_vs_actual_table_is_capped_and_evenly_spaced_in_time():
    n = files.MAX_PLOTTED_ROWS * 3
    test = pd.DataFrame({"posted_at": pd.date_range("2026-01-01", periods=n, freq="h",
                                                    tz="UTC")[::-1],
                         "likes": np.arange(n, dtype=float), "platform": "x"})
    table = files._predictions_table(LIKES, test, np.arange(n, dtype=float))
    assert len(table) == files.MAX_PLOTTED_ROWS
    actual = np.expm1(table["actual"].to_numpy())
    # time order is the reverse of the row order here: the oldest post comes first
    assert actual[0] == pytest.approx(n - 1, rel=1e-3) and actual[-1] == pytest.approx(0)


def test_slices_smaller_than_the_minimum_are_left_out():
    test = pd.DataFrame({"likes": np.arange(30, dtype=float),
                         "platform": ["a"] * 25 + ["b"] * 5})
    table = files.slice_errors(LIKES, test, np.arange(30, dtype=float) + 1)
    assert list(table["platform"]) == ["a"] and table["rows"].tolist() == [25]
    assert table["mae_log"].iloc[0] > 0


def test_the_validation_metrics_are_the_counts_and_the_quality_score(tmp_path):
    paths = ProjectPaths(root=tmp_path, state=tmp_path / "s", data=tmp_path / "data")
    paths.validation_report.parent.mkdir(parents=True)
    paths.validation_report.write_text(json.dumps({
        "rows_in": 10, "rows_accepted": 9, "rows_quarantined": 1, "quarantine_rate": 0.1,
        "quality": {"score": 97.5}, "as_of": "2026-12-02T00:00:00+00:00",
        "data_docs": "/somewhere/index.html"}))
    metrics = files.write_validation_metrics(paths)
    assert metrics == {"rows_in": 10, "rows_accepted": 9, "rows_quarantined": 1,
                       "quarantine_rate": 0.1, "quality_score": 97.5}
    # without a tracked root, the files stay beside the run's layers
    assert files.validation_metrics_path(paths) == \
        tmp_path / "data" / "05_reporting" / "metrics" / "validation.json"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_task_draws_predicted_vs_actual_and_its_slices(name, tmp_path):
    task = get_task(name)
    paths = ProjectPaths(root=tmp_path, state=tmp_path / "s", data=tmp_path / "data",
                         tracked=tmp_path)
    drawn = files.plot_outputs(task, paths)
    if task.problem not in files.ONE_NUMBER_PROBLEMS:   # a probability per class
        assert drawn == {}
        return
    assert drawn[tmp_path / "plots" / "predicted_vs_actual.csv"]["template"] == "scatter"
    if task.slice_column is not None:
        errors = drawn[tmp_path / "plots" / f"error_by_{task.slice_column}.csv"]
        assert errors["x"] == task.selection_metric and errors["y"] == task.slice_column
        # the plotted metric is one the task's metrics compute
        assert task.selection_metric in task.metrics(np.array([0.0, 1.0, 1.0, 0.0]),
                                                 np.array([0.2, 0.7, 0.6, 0.4]))
