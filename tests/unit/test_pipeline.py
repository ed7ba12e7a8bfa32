"""The pipeline order is written once: dvc.yaml, the CLI and the training DAG derive from
it, and a stage can only read the params sections it declares."""

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_settings
from pipelines.paths import project_paths
from pipelines.pipeline import PIPELINE, STAGE_NAMES, StageSettings, dvc_stages, stage
from pipelines.tasks import TASK_NAMES, get_task

ROOT = Path(__file__).resolve().parents[2]


def _cli_paths():
    base = project_paths(ROOT)
    return replace(base, caption_cache=base.feature_table("caption_embeddings"),
                   tracked=base.root)


def test_the_committed_dvc_yaml_is_the_generated_one():
    settings = load_settings(ROOT / "params.yaml", {})
    committed = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    generated = dvc_stages(get_task(settings.train.task), _cli_paths())
    assert committed == generated, "dvc.yaml is stale: run `engageflow dvc-yaml --write`"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_dvc_stages_chain_every_stage_and_list_the_sections_each_declares(name):
    task = get_task(name)
    stages = dvc_stages(task, _cli_paths())
    assert list(stages) == list(STAGE_NAMES)
    for step in PIPELINE:
        params = stages[step.name]["params"]
        assert params[0] == "train.task"
        assert set(params[1:]) == set(s for s in step.sections) | set(
            task.stage_sections(step.name)) | (
            {task.section_name} if task.section_name is not None else set())
    for before, after in zip(STAGE_NAMES, STAGE_NAMES[1:], strict=False):
        outs = [o if isinstance(o, str) else next(iter(o)) for o in stages[before]["outs"]]
        assert any(o in stages[after]["deps"] for o in outs + [
            next(iter(m)) for m in stages[before].get("metrics", [])]), (before, after)


def test_every_output_is_under_the_data_folder_or_a_tracked_metrics_or_plots_file():
    paths = _cli_paths()
    tracked = (paths.root / "metrics", paths.root / "plots")
    for name in TASK_NAMES:
        for step in PIPELINE:
            for path, kind in step.outputs(get_task(name), paths).items():
                if kind in ("metric", "plot"):  # small files git tracks (dvc exp show)
                    assert Path(path).parent in tracked, (name, step.name, path)
                else:
                    assert Path(path).is_relative_to(paths.data), (name, step.name, path)


def test_dvc_stages_run_the_venv_python_not_a_command_on_path():
    stages = dvc_stages(get_task("likes"), _cli_paths())
    assert all(s["cmd"] == f".venv/bin/python -m pipelines {name}"
               for name, s in stages.items())


def test_metrics_and_plots_are_git_tracked_and_drawn():
    stages = dvc_stages(get_task("likes"), _cli_paths())
    metrics = [next(iter(m)) for s in stages.values() for m in s.get("metrics", [])]
    plots = {k: v for s in stages.values() for p in s.get("plots", []) for k, v in p.items()}
    assert metrics == ["metrics/validation.json", "metrics/evaluation.json"]
    assert set(plots) == {"plots/predicted_vs_actual.csv", "plots/error_by_platform.csv"}
    assert all(p["cache"] is False and p["template"] and p["x"] and p["y"]
               for p in plots.values())
    ignored = subprocess.run(["git", "check-ignore", *metrics, *plots], cwd=ROOT,
                             capture_output=True, text=True)
    assert ignored.stdout == "", f"git ignores {ignored.stdout}"


def test_no_dvc_output_contains_the_collection_dags_reports():
    """`dvc repro` removes a stage's outputs before it runs: none may hold the collection
    DAG's days (05_reporting/validation/date=...)."""
    from pipelines.validate.partition import partition_paths

    paths = _cli_paths()
    day = partition_paths(paths.data, "2026-06-01")
    for name in TASK_NAMES:
        for step in PIPELINE:
            for path in step.outputs(get_task(name), paths):
                for collected in day.values():
                    assert not collected.is_relative_to(path), (name, step.name, path)


def test_params_yaml_survives_dvcs_rewrite_unchanged(tmp_path):
    """`dvc exp run -S` rewrites params.yaml (a YAML round trip; lists it re-creates come
    out in block style): the file is written in the form that rewrite produces, so an
    experiment changes only the values it sets."""
    from dvc.utils.hydra import apply_overrides

    text = (ROOT / "params.yaml").read_text()
    copy = tmp_path / "params.yaml"
    copy.write_text(text)
    seed = load_settings(ROOT / "params.yaml", {}).train.seed
    apply_overrides(copy, [f"train.seed={seed}"])    # DVC's -S, setting a value it has
    assert copy.read_text() == text, (
        "params.yaml is not in the form `dvc exp run -S` writes back (use '' not \"\", "
        "block lists for non-empty lists, no explicit null); see the diff with the copy")


def test_a_stage_cannot_read_a_section_it_does_not_declare():
    settings = load_settings(ROOT / "params.yaml", {})
    view = StageSettings(settings, "evaluate", ())
    assert view.train.task == settings.train.task          # what picks the task
    with pytest.raises(AttributeError, match="stage 'evaluate' reads params section "
                                             "'promote'"):
        _ = view.promote
    with pytest.raises(AttributeError, match="'train.seed'"):
        _ = view.train.seed
    declared = StageSettings(settings, "train", stage("train").sections)
    assert declared.train.seed == settings.train.seed


def test_every_stage_is_a_cli_subcommand_in_pipeline_order():
    from pipelines.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert all(name in commands for name in STAGE_NAMES)


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage must be one of"):
        stage("deploy")
