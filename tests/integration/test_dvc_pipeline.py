"""`dvc repro` in a temporary copy of the repository: runs every stage, then is a no-op."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory, project_root):
    """The project's tracked and unignored files in a fresh git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=project_root,
        capture_output=True, text=True, check=True).stdout.split()
    root = tmp_path_factory.mktemp("repo")
    for name in listed:
        if name == "dvc.lock" or name.startswith(("data/", "bench/results/")):
            continue  # the copy starts from a clean clone's state
        if (project_root / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project_root / name, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["collect"]["demo_rows"] = 700
    params["train"]["cv_folds"] = 2
    params["train"]["models"] = ["ridge", "lightgbm"]  # quick families: the pipeline is tested
    params["promote"]["resamples"] = 300
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEFLOW", "MLFLOW"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        _run(args, root, env)
    return root, env


def test_repro_runs_every_stage_and_writes_metrics(repo_copy):
    root, env = repo_copy
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    from pipelines.pipeline import STAGE_NAMES

    for stage in STAGE_NAMES:             # every stage the training DAG runs
        assert f"Running stage '{stage}'" in out
    metrics = json.loads((root / "data/05_reporting/metrics.json").read_text())
    split, refit = metrics["split"], json.loads(
        (root / "data/04_final_model/refit.json").read_text())
    # every post is a label of the final refit or was still growing when collected
    assert refit["refit"] and refit["rows"] + refit["labels_still_growing"] == 700
    # the held-out accounts' older posts train nothing but the refit
    assert split["cold_accounts"] > 0
    assert split["train"] + split["valid"] + split["test"] < refit["rows"]
    assert (root / "dvc.lock").exists()
    assert any((root / ".engageflow" / "dvc-cache").rglob("*")), "DVC cache is empty"
    # the caption-embedding cache is a versioned feature-store output
    lock = (root / "dvc.lock").read_text()
    assert "data/03_features/caption_embeddings.parquet" in lock
    # register and promote ran for real: the gate's record names the registered version
    promotion = json.loads((root / "data/05_reporting/promotion.json").read_text())
    assert promotion["model_name"] == "engagement-likes" and promotion["decision"] in (
        "promote", "reject")


def test_second_repro_is_a_no_op_and_a_param_change_reruns_downstream(repo_copy):
    root, env = repo_copy
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage" not in out
    assert "up to date" in out
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["seed"] = 99
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage 'train'" in out and "Running stage 'collect'" not in out
    shown = _run([str(BIN / "dvc"), "metrics", "show", "--json"], root, env)
    assert "mae_log" in shown


def test_an_experiment_with_another_model_is_tracked(repo_copy):
    root, env = repo_copy
    # commit the current state (lock + metrics) as the baseline an experiment is diffed with
    _run([str(BIN / "dvc"), "repro"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "add", "-f", "data/05_reporting/metrics.json",
          "data/02_validated/validation.json"], root, env)  # metrics are git-tracked
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"],
         root, env)
    _run([str(BIN / "dvc"), "exp", "run", "-S", "train.models=[xgboost]"], root, env)
    done = subprocess.run([str(BIN / "dvc"), "metrics", "diff", "--json"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "failed" not in done.stderr, done.stderr
    changed = json.loads(done.stdout)["data/05_reporting/metrics.json"]
    assert changed["candidates.xgboost.test.mae_log"]["old"] is None  # new in the experiment
    assert changed["candidates.ridge.test.mae_log"]["new"] is None  # gone from it
    shown = subprocess.run([str(BIN / "dvc"), "exp", "show", "--json"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300).stdout
    text = json.dumps(json.loads(shown))
    assert "xgboost" in text and "candidates" in text
    metrics = json.loads((root / "data/05_reporting/metrics.json").read_text())
    assert list(metrics["candidates"]) == ["xgboost"]


def test_another_task_runs_through_the_same_dvc_pipeline(repo_copy):
    """`make repro` for train.task: conversion — dvc.yaml is regenerated for the task (its
    entity's files), then every stage runs through the CLI."""
    root, env = repo_copy
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["task"] = "conversion"
    params["train"]["models"] = ["logistic_regression", "lightgbm"]
    params["conversion"]["demo_rows"] = 2000
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run([str(BIN / "engageflow"), "dvc-yaml", "--write"], root, env)
    assert "data/01_raw/sessions.parquet" in (root / "dvc.yaml").read_text()
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage 'promote'" in out
    metrics = json.loads((root / "data/05_reporting/metrics.json").read_text())
    assert metrics["target"] == "converted" and metrics["selection_metric"] == "log_loss"
    best = metrics["candidates"][metrics["best"]]["test"]
    assert best["log_loss"] < metrics["baselines"]["prior_rate"]["test"]["log_loss"]
    promotion = json.loads((root / "data/05_reporting/promotion.json").read_text())
    assert promotion["model_name"] == "engagement-conversion"
