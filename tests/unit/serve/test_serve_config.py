"""The `serve` section of params.yaml and the `engageflow serve` edge checks."""

import copy

import pytest

from pipelines.cli import main
from pipelines.config import load_params, settings_from_params


@pytest.fixture(scope="module")
def params(project_root):
    return load_params(project_root / "params.yaml")


def test_serve_section_parses_with_target_substituted(params):
    serve = settings_from_params(params).serve
    assert serve.routing in ("sticky", "thompson") and serve.host == "127.0.0.1"
    assert serve.score_model_uri == f"models:/engagement-{params['train']['target']}@champion"


@pytest.mark.parametrize(("key", "value", "match"), [
    ("routing", "random", r"'serve.routing' must be 'sticky' or 'thompson'; got 'random'"),
    ("challenger_share", 1.2, r"'serve.challenger_share' must be a number in \[0, 1\]; got 1.2"),
    ("exploration_floor", 0.6, r"'serve.exploration_floor' must be a number in \[0, 0.5\]"),
    ("max_batch", 0, r"'serve.max_batch' must be an int in \[1, 10000\]; got 0"),
    ("score_format", "xml", r"'serve.score_format' must be one of \['canonical'"),
    ("score_model_uri", "runs:/x", r"'serve.score_model_uri' must be a registry URI"),
    ("colour", "red", r"unknown key\(s\) \['colour'\] in 'serve'"),
])
def test_bad_serve_settings_name_key_rule_and_value(params, key, value, match):
    bad = copy.deepcopy(params)
    bad["serve"][key] = value
    with pytest.raises(ValueError, match=match):
        settings_from_params(bad)


def test_serve_refuses_to_start_without_api_keys(monkeypatch, capsys, project_root):
    monkeypatch.delenv("ENGAGEFLOW_API_KEYS", raising=False)
    assert main(["serve", "--project-dir", str(project_root)]) == 2
    assert "set ENGAGEFLOW_API_KEYS" in capsys.readouterr().err
