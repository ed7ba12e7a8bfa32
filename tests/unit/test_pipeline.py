"""The pipeline order is written once: dvc.yaml, the CLI and the training DAG derive from
it, and a stage can only read the params sections it declares."""

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
    return replace(base, caption_cache=base.feature_table("caption_embeddings"))


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
        assert set(params[1:]) == set(s for s in step.sections) | (
            {task.section_name} if task.section_name is not None else set())
    for before, after in zip(STAGE_NAMES, STAGE_NAMES[1:], strict=False):
        outs = [o if isinstance(o, str) else next(iter(o)) for o in stages[before]["outs"]]
        assert any(o in stages[after]["deps"] for o in outs + [
            next(iter(m)) for m in stages[before].get("metrics", [])]), (before, after)


def test_every_output_of_every_stage_is_under_the_data_folder():
    paths = _cli_paths()
    for name in TASK_NAMES:
        for step in PIPELINE:
            for path in step.outputs(get_task(name), paths):
                assert Path(path).is_relative_to(paths.data), (name, step.name, path)


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
