"""The `serve` section of params.yaml and the `engageflow serve` edge checks."""

import pytest

from pipelines.cli import main
from pipelines.config import load_settings


def test_serve_section_parses_with_the_task_substituted(project_root):
    settings = load_settings(project_root / "params.yaml")
    serve = settings.serve
    assert serve.routing in ("sticky", "thompson") and serve.host == "127.0.0.1"
    assert serve.score_model_uri == f"models:/engagement-{settings.train.task}@champion"
    comments = load_settings(project_root / "params.yaml", {"train.task": "comments"})
    assert comments.serve.score_model_uri == "models:/engagement-comments@champion"


@pytest.mark.parametrize(("key", "value", "match"), [
    ("routing", "random", r"'serve.routing' must be 'sticky' or 'thompson'; got 'random'"),
    ("challenger_share", 1.2, r"'serve.challenger_share' must be a number in \[0, 1\]; got 1.2"),
    ("exploration_floor", 0.6, r"'serve.exploration_floor' must be a number in \[0, 0.5\]"),
    ("max_batch", 0, r"'serve.max_batch' must be an int in \[1, 10000\]; got 0"),
    ("score_format", "xml", r"'serve.score_format' must be 'canonical', 'instagram_graph'"),
    ("score_model_uri", "runs:/x", r"'serve.score_model_uri' must be a registry URI"),
    ("auto_train", "airflow", r"'serve.airflow_url' must be the Airflow API server URL when "
                              r"serve.auto_train is 'airflow'; got ''"),
])
def test_bad_serve_settings_name_key_rule_and_value(project_root, key, value, match):
    with pytest.raises(ValueError, match=match):
        load_settings(project_root / "params.yaml", {f"serve.{key}": value})


def test_an_unknown_serve_key_is_named(project_root):
    with pytest.raises(ValueError, match=r"unknown key 'serve.colour'; allowed in 'serve'"):
        load_settings(project_root / "params.yaml", {"serve.colour": "red"})


def test_serve_refuses_to_start_without_api_keys(monkeypatch, capsys, project_root):
    monkeypatch.delenv("ENGAGEFLOW_API_KEYS", raising=False)
    assert main(["serve", "--project-dir", str(project_root)]) == 2
    assert "set ENGAGEFLOW_API_KEYS" in capsys.readouterr().err


def test_serve_tasks_lists_servable_tasks_once(project_root):
    from pipelines.config import ServeConfig, read_params

    assert read_params(project_root / "params.yaml")["serve"]["tasks"] == []
    assert load_settings(project_root / "params.yaml").serve.tasks == () == ServeConfig().tasks
    assert load_settings(project_root / "params.yaml",
                         {"serve.tasks": ["conversion"]}).serve.tasks == ("conversion",)
    for value, match in (
            # the servable tasks (conversion among them, never a post task)
            (["likes"], r"'serve.tasks' must be a list drawn from \[[^\]]*'conversion'"
                        r"[^\]]*\]; got \['likes'\]"),
            (["conversion", "conversion"], r"'serve.tasks' must be a list of distinct task "
                                           r"names")):
        with pytest.raises(ValueError, match=match):
            load_settings(project_root / "params.yaml", {"serve.tasks": value})
