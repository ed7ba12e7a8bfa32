"""`dvc repro` in a temporary copy of the repository: runs every stage, then is a no-op;
an experiment is compared with `dvc exp show`, `dvc metrics diff` and `dvc plots diff`.

The copy's `.venv` links to the venv running the tests, and PATH does not hold it: the
stages run `.venv/bin/python -m pipelines` as a clone with `make install` would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dvc.utils.serialize import modify_yaml

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
#: The collection DAG's Data Docs of one day: `dvc repro` must leave them alone.
COLLECTION_DOCS = "data/05_reporting/validation/date=2026-06-01/data_docs/index.html"


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory, project_root, migrated_mlflow_db):
    """The project's tracked and unignored files in a fresh git repository (its MLflow
    database already migrated: the stages' processes need not each wait for it)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=project_root,
        capture_output=True, text=True, check=True).stdout.split()
    root = tmp_path_factory.mktemp("repo")
    for name in listed:
        if name.startswith(("data/", "bench/results/")):
            continue  # the copy starts from a clean clone's state
        if (project_root / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project_root / name, root / name)
    with modify_yaml(root / "params.yaml") as params:  # DVC's own round trip: comments stay
        params["collect"]["demo_rows"] = 700
        params["train"]["cv_folds"] = 2
        params["train"]["models"] = ["ridge", "lightgbm"]  # quick families
        params["promote"]["resamples"] = 300
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEFLOW", "MLFLOW"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if Path(p).resolve() != BIN.resolve())
    (root / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        _run(args, root, env)
    (root / ".engageflow").mkdir()
    shutil.copyfile(migrated_mlflow_db, root / ".engageflow" / "mlflow.db")
    docs = root / COLLECTION_DOCS
    docs.parent.mkdir(parents=True)
    docs.write_text("<html>the collection DAG's Data Docs of one day</html>")
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
    # the small files DVC compares are where git tracks them, and hold the run's numbers
    evaluation = json.loads((root / "metrics/evaluation.json").read_text())
    assert evaluation["chosen"]["mae_log"] == pytest.approx(
        metrics["candidates"][metrics["best"]]["test"]["mae_log"], abs=1e-4)
    assert json.loads((root / "metrics/validation.json").read_text())["rows_in"] == 700
    plotted = (root / "plots/predicted_vs_actual.csv").read_text().splitlines()
    assert plotted[0] == "actual,predicted,platform" and len(plotted) - 1 == split["test"]
    assert (root / "plots/error_by_platform.csv").read_text().startswith("platform,mae_log,")
    ignored = subprocess.run(["git", "check-ignore", "metrics/evaluation.json",
                              "plots/predicted_vs_actual.csv"], cwd=root, env=env,
                             capture_output=True, text=True)
    assert ignored.stdout == "", f"git ignores {ignored.stdout}"
    # the collection DAG's reports are not DVC's outputs: repro did not remove them
    assert (root / COLLECTION_DOCS).is_file()
    assert (root / "data/05_reporting/training_validation").is_dir()


def test_second_repro_is_a_no_op_and_a_param_change_reruns_downstream(repo_copy):
    root, env = repo_copy
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage" not in out
    assert "up to date" in out
    # a gate setting: only the stages that read `promote` run again (promote, segments);
    # a training change rerunning everything downstream is the experiment test's
    with modify_yaml(root / "params.yaml") as params:
        params["promote"]["resamples"] = 200
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage 'promote'" in out and "Running stage 'segments'" in out
    for stage in ("collect", "validate", "features", "train", "evaluate", "refit", "register"):
        assert f"Running stage '{stage}'" not in out, stage
    shown = _run([str(BIN / "dvc"), "metrics", "show", "--json"], root, env)
    assert "mae_log" in shown


def test_an_experiment_is_compared_with_exp_show_metrics_diff_and_plots_diff(repo_copy):
    """The README's commands: `make exp` (a failed run leaves params.yaml as it was), then
    `.venv/bin/dvc exp run -S ...` as written, without the venv on PATH."""
    root, env = repo_copy
    dvc = ".venv/bin/dvc"
    # commit the current state (dvc.lock, metrics/, plots/) as the baseline
    _run([dvc, "repro"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"],
         root, env)
    before = (root / "params.yaml").read_bytes()
    failed = subprocess.run(["make", "-o", ".venv/.installed", "exp",
                             "ARGS=-S 'train.models=[no_such_model]'"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0 and "params.yaml is as it was before" in failed.stderr
    assert (root / "params.yaml").read_bytes() == before
    _run([dvc, "exp", "run", "-S", "train.models=[xgboost]"], root, env)
    # DVC's own rewrite of params.yaml changed the one value and nothing else
    old, new = before.decode().splitlines(), (root / "params.yaml").read_text().splitlines()
    assert [line.strip() for line in old if line not in new] == ["- ridge", "- lightgbm"]
    assert [line.strip() for line in new if line not in old] == ["- xgboost"]

    shown = json.loads(_run_json([dvc, "exp", "show", "--json"], root, env))
    found = {entry["name"] or entry["rev"]: entry for rev in shown
             for entry in [rev, *(run for exp in rev["experiments"] or [] for run in exp["revs"])]}
    assert len(found) == 3, f"exp show: workspace, HEAD and one experiment; got {list(found)}"
    for name, entry in found.items():   # real numbers, no `!` (a metric DVC could not load)
        evaluation = entry["data"]["metrics"]["metrics/evaluation.json"]
        assert entry["error"] is None and "error" not in evaluation, (name, evaluation)
        assert isinstance(evaluation["data"]["chosen"]["mae_log"], float), name
    models = {str(e["data"]["params"]["params.yaml"]["data"]["train"]["models"])
              for e in found.values()}
    assert models == {"['xgboost']", "['ridge', 'lightgbm']"}
    table = _run_json([dvc, "exp", "show", "--csv"], root, env)
    assert "chosen.mae_log" in table.splitlines()[0] and "!" not in table

    diff = json.loads(_run_json([dvc, "metrics", "diff", "--json"], root, env))
    changed = diff["metrics/evaluation.json"]
    assert changed["candidates.xgboost.test.mae_log"]["old"] is None  # new in the experiment
    assert changed["candidates.ridge.test.mae_log"]["new"] is None  # gone from it
    assert isinstance(changed["chosen.mae_log"]["old"], float)       # HEAD's loaded

    # the page `dvc plots diff` renders: both plots, each drawing HEAD's and the workspace's
    _run([dvc, "plots", "diff", "-o", str(root.parent / "plots_html")], root, env)
    page = (root.parent / "plots_html" / "index.html").read_text()
    assert page.count("vegaEmbed(") == 2
    for drawn in ("predicted vs actual log1p(likes)", "mae_log of the chosen model by platform",
                  '"field": "actual"', '"field": "mae_log"', '"rev": "HEAD"',
                  '"rev": "workspace"'):
        assert drawn in page, drawn
    metrics = json.loads((root / "data/05_reporting/metrics.json").read_text())
    assert list(metrics["candidates"]) == ["xgboost"]


def _run_json(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """stdout of a DVC command that prints JSON (warnings go to stderr)."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_another_task_runs_through_the_same_dvc_pipeline(repo_copy):
    """`make repro` for train.task: conversion — dvc.yaml is regenerated for the task (its
    entity's files), then every stage runs through the CLI."""
    root, env = repo_copy
    with modify_yaml(root / "params.yaml") as params:
        params["train"]["task"] = "conversion"
        params["train"]["models"] = ["logistic_regression", "lightgbm"]
        params["conversion"]["demo_rows"] = 2000
    _run([".venv/bin/python", "-m", "pipelines", "dvc-yaml", "--write"], root, env)
    assert "data/01_raw/sessions.parquet" in (root / "dvc.yaml").read_text()
    out = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage 'promote'" in out
    metrics = json.loads((root / "data/05_reporting/metrics.json").read_text())
    assert metrics["target"] == "converted" and metrics["selection_metric"] == "log_loss"
    best = metrics["candidates"][metrics["best"]]["test"]
    assert best["log_loss"] < metrics["baselines"]["prior_rate"]["test"]["log_loss"]
    promotion = json.loads((root / "data/05_reporting/promotion.json").read_text())
    assert promotion["model_name"] == "engagement-conversion"
    learned = json.loads((root / "data/05_reporting/segments.json").read_text())
    assert learned["chosen_k"] >= 2 and learned["sessions"] > 0   # the segments stage
    assert (root / "data/05_reporting/session_segments/profiles.png").is_file()
