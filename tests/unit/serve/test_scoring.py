"""Batch scoring with a real registered model: every row is scored or quarantined."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.features.model_input import model_input
from pipelines.serve.scoring import quarantine_path, score_posts, scoring_failures


@pytest.fixture()
def posts_file(serve_posts, tmp_path):
    posts = serve_posts.iloc[600:660].copy()
    posts["followers_at_post_time"] = posts["followers_at_post_time"].astype("Int64")
    posts.loc[posts.index[3], "followers_at_post_time"] = -5   # read fine, fails scoring
    path = tmp_path / "posts.csv"
    posts.to_csv(path, index=False)
    with open(path, "a", encoding="utf-8") as handle:                 # an unparseable row
        handle.write("broken,row\n")
    return path, posts


def test_score_cli_scores_or_quarantines_every_row(registry, posts_file, tmp_path,
                                                   monkeypatch, capsys):
    path, posts = posts_file
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    output = tmp_path / "out" / "scores.parquet"
    code = main(["score", "--model", "models:/m@challenger", "--input", str(path),
                 "--format", "canonical", "--output", str(output),
                 "--project-dir", str(tmp_path)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["rows_in"] == 61 == result["scored"] + result["quarantined"]
    assert result["model_version"] == registry["versions"]["lightgbm"]

    scored = pd.read_parquet(output)
    assert len(scored) == result["scored"] == 59
    assert set(scored["model_uri"]) == {"models:/m@challenger"}
    model = mlflow.sklearn.load_model(f"models:/m/{registry['versions']['lightgbm']}")
    good = posts.drop(index=posts.index[3])
    expected = model.predict(model_input(good))
    np.testing.assert_allclose(scored.set_index("post_id").loc[good["post_id"], "prediction"],
                               expected, rtol=1e-12)

    quarantine = pd.read_parquet(quarantine_path(output))
    assert len(quarantine) == 2
    by_stage = quarantine.set_index("stage")
    assert by_stage.loc["score", "post_id"] == posts["post_id"].iloc[3]
    assert json.loads(by_stage.loc["score", "reasons"]) == [
        {"rule": "followers_non_negative", "column": "followers_at_post_time", "value": "-5"}]


def test_the_dag_task_logs_what_it_scored_at_info(registry, posts_file, tmp_path, monkeypatch,
                                                 caplog, project_root):
    """batch_scoring's task runs under task_logging like every stage task: its counts reach
    the task log at INFO even where the pipelines loggers were left at WARNING."""
    import logging
    import shutil

    from pipelines.serve.scoring import score_task

    path, _ = posts_file
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    for name in ("TQDM_DISABLE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: task_logging sets them
    shutil.copy(project_root / "params.yaml", tmp_path / "params.yaml")
    pipelines_logger = logging.getLogger("pipelines")
    before = pipelines_logger.level
    pipelines_logger.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.INFO):
            result = score_task(project_dir=str(tmp_path), run_id="manual__1", form_params={
                "serve.score_model_uri": "models:/m@challenger", "serve.score_input": str(path),
                "serve.score_format": "canonical",
                "serve.score_output": str(tmp_path / "out" / "scores.parquet")})
    finally:
        pipelines_logger.setLevel(before)
    assert (result["rows_in"], result["scored"], result["run_id"]) == (61, 59, "manual__1")
    lines = [r.getMessage() for r in caplog.records
             if r.levelno == logging.INFO and r.name.startswith("pipelines.serve.scoring")]
    assert any("61 rows in, 59 scored" in line and "2 quarantined" in line for line in lines), \
        lines


def test_score_rejects_bad_arguments(registry, posts_file, tmp_path, monkeypatch, capsys):
    path, _ = posts_file
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    args = ["score", "--input", str(path), "--project-dir", str(tmp_path)]
    assert main([*args, "--model", "runs:/abc/model", "--output", "x.parquet"]) == 2
    assert "must look like 'models:/NAME@ALIAS'" in capsys.readouterr().err
    assert main([*args, "--model", "models:/m@nope", "--output", str(tmp_path / "x.parquet")]) \
        == 2
    assert "has no alias 'nope'" in capsys.readouterr().err
    assert main([*args, "--model", "models:/m@champion", "--output", "x.csv"]) == 2
    assert "must be a .parquet file; got 'x.csv'" in capsys.readouterr().err


def test_scoring_failures_list_every_rule(post_models, serve_posts):
    posts = serve_posts.iloc[600:603].copy().reset_index(drop=True)
    posts["platform"] = posts["platform"].astype(object)
    posts.loc[0, "platform"] = "myspace"
    posts.loc[0, "hashtags_count"] = -2
    scored, quarantine = score_posts(posts, post_models["ridge"])
    assert len(scored) == 2 and len(quarantine) == 1
    reasons = json.loads(quarantine["reasons"][0])
    assert [(r["rule"], r["value"]) for r in reasons] == [("platform_in_set", "myspace"),
                                                         ("count_non_negative", "-2")]


def test_an_empty_input_scores_the_newest_training_run_of_the_task(tmp_path):
    from pipelines.paths import ProjectPaths
    from pipelines.serve.scoring import newest_run_rows

    paths = ProjectPaths(root=tmp_path, state=tmp_path / "state", data=tmp_path / "data")
    with pytest.raises(ValueError, match=r"no finished run trained task 'likes' under .*; "
                                         r"run `make run`"):
        newest_run_rows(paths, "likes", "canonical")
    run = paths.state / "runs" / "manual__1"
    (run / "04_models").mkdir(parents=True)
    (run / "04_models" / "manifest.json").write_text(json.dumps({"task": "likes"}))
    (run / "05_reporting").mkdir()
    (run / "05_reporting" / "registration.json").write_text(json.dumps({"version": "1"}))
    assert newest_run_rows(paths, "likes", "canonical") == run / "02_validated" / "posts.parquet"
    with pytest.raises(ValueError, match="'serve.score_format' must be 'canonical' when "
                                         "'serve.score_input' is empty"):
        newest_run_rows(paths, "likes", "twitter_v2")


_IDS = st.one_of(st.none(), st.text(alphabet=st.one_of(
    st.sampled_from([" ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u2007",
                     "\u3000", "\u200b", "a", "é"]),
    st.characters(blacklist_categories=("Cs",))), max_size=8))


@settings(max_examples=150, deadline=None)
@given(st.lists(_IDS, min_size=1, max_size=20))
def test_a_blank_id_is_what_str_strip_leaves_empty(ids):
    """The required-id rule, counted on UTF-8 bytes, is ``value is null or
    value.strip() == ""`` for every kind of whitespace."""
    from pipelines.collect.demo_data import generate_posts

    posts = generate_posts(len(ids), accounts=3, seed=0)
    posts["post_id"] = pd.array(ids, dtype="string")
    failures = scoring_failures(posts)
    expected = [value is None or value.strip() == "" for value in ids]
    assert [any(f["rule"] == "required_non_empty" and f["column"] == "post_id"
                for f in row) for row in failures] == expected
