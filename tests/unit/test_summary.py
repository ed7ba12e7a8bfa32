"""The summary: its next steps point where the Makefile's targets listen; on a data folder
the pipeline did not finish (`dvc repro` stopped before register, a failed stage) it says
what it can show and what is missing, never a raw FileNotFoundError."""

from __future__ import annotations

import json
import re

import pytest

from pipelines.paths import ProjectPaths
from pipelines.summary import AIRFLOW_UI, API, MLFLOW_UI, format_summary
from pipelines.tasks.post_counts import LIKES


def test_the_addresses_are_the_makefiles(project_root):
    makefile = (project_root / "Makefile").read_text()
    target = {name: re.search(rf"^{name}:.*## (.*)$", makefile, re.M)[1]
              for name in ("airflow", "mlflow-ui", "serve")}
    assert AIRFLOW_UI in target["airflow"]
    assert MLFLOW_UI in target["mlflow-ui"] and "--port 5000" in makefile
    assert API in target["serve"]


def _paths(tmp_path) -> ProjectPaths:
    return ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "data")


def test_before_register_it_shows_rows_and_candidates_and_says_what_is_missing(tmp_path):
    paths = _paths(tmp_path)
    paths.validation_report.parent.mkdir(parents=True)
    paths.validation_report.write_text(json.dumps(
        {"rows_in": 700, "rows_accepted": 690, "rows_quarantined": 10}))
    paths.metrics.parent.mkdir(parents=True)
    test = {"mae_log": 0.7767, "rmse_log": 0.9675, "r2_log": 0.6575, "spearman": 0.8181}
    paths.metrics.write_text(json.dumps({
        "target": "likes", "selection_metric": "mae_log", "best": "lightgbm",
        "candidates": {"lightgbm": {"test": test}},
        "baselines": {"account_median": {"test": {**test, "mae_log": 0.8975}}}}))
    text = format_summary(LIKES, paths)
    assert "rows collected 700, accepted 690, quarantined 10" in text
    assert "lightgbm *" in text and "0.7767" in text and "0.8975" in text
    assert f"{paths.registration} does not exist" in text and "before `register`" in text
    assert "Errno" not in text


def test_with_nothing_run_it_says_how_to_run_the_pipeline(tmp_path):
    with pytest.raises(ValueError, match="no pipeline output under .*make repro"):
        format_summary(LIKES, _paths(tmp_path))
