"""Batch scoring's fast paths give what the general path gives: the columnar read of a
canonical Parquet file (the collect reader's frame, or the reader when it would change a
value), predictions in chunks of whole accounts (a single call's), the contract checked
column-wise (the same quarantine)."""

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.collect.formats import ReadLimits, read_posts
from pipelines.serve.chunked_predict import ChunkPredictor
from pipelines.serve.columnar_posts import (
    partition_canonical_parquet,
    read_canonical_parquet,
    read_part,
)
from pipelines.serve.scoring import (
    quarantine_path,
    run_score,
    scoring_failures,
    split_scorable,
    use_threads,
)
from pipelines.tasks import get_task

LIMITS = ReadLimits.defaults()

LIKES = get_task("likes")


def _same_as_reader(path):
    fast = read_canonical_parquet(path, "canonical")
    assert fast is not None
    slow = read_posts(path, "canonical").posts
    columns = [c for c in slow.columns if c != "extra"]  # extra: not read for scoring
    pd.testing.assert_frame_equal(fast[columns], slow[columns])


def test_a_canonical_parquet_file_reads_columnar_as_the_collect_reader_reads_it(
        serve_posts, tmp_path):
    path = tmp_path / "posts.parquet"
    serve_posts.to_parquet(path, index=False)
    _same_as_reader(path)
    serve_posts.drop(columns=["collected_at", "source", "extra"]).to_parquet(path, index=False)
    _same_as_reader(path)


@pytest.mark.parametrize("change", [
    lambda p: p.assign(platform=p["platform"].str.upper()),        # an alias to map
    lambda p: p.assign(post_id=" " + p["post_id"]),                # an id to strip
    lambda p: p.assign(likes=p["likes"].astype("string")),         # counts as text
    lambda p: p.assign(likes=p["likes"].astype("Int64").where(p.index != 3)),  # required gap
    lambda p: p.assign(posted_at=p["posted_at"].astype(str)),      # times as text
    lambda p: p.assign(note="x"),                                  # a column for extra
    lambda p: p.assign(post_kind=p["post_kind"].where(p.index != 2, " ")),  # blank: not said
])
def test_a_file_the_reader_would_change_is_left_to_the_reader(serve_posts, tmp_path, change):
    path = tmp_path / "posts.parquet"
    change(serve_posts.head(20).copy()).to_parquet(path, index=False)
    assert read_canonical_parquet(path, "canonical") is None
    assert read_canonical_parquet(path.with_suffix(".csv"), "canonical") is None


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(2, 300), accounts=st.integers(1, 40), part_rows=st.integers(1, 120),
       seed=st.integers(0, 2**16))
def test_parts_hold_every_row_once_and_each_account_whole(serve_posts, tmp_path, rows,
                                                          accounts, part_rows, seed):
    rng = np.random.default_rng(seed)
    posts = serve_posts.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    posts["post_id"] = [f"p{i}" for i in range(rows)]
    posts["account_id"] = [f"a{k}" for k in rng.integers(0, accounts, rows)]
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))   # one per example
    path = workdir / "posts.parquet"
    posts.to_parquet(path, index=False)
    parts = partition_canonical_parquet(path, "canonical", group="account_id",
                                        part_rows=part_rows, workdir=workdir)
    whole = read_canonical_parquet(path, "canonical")
    if rows <= part_rows:
        assert parts is None                     # small enough: read whole
        return
    assert 1 <= len(parts) <= -(-rows // part_rows)
    seen, owner = [], {}
    for part in parts:
        frame, numbers = read_part(part, path, "canonical")
        assert list(numbers) == sorted(numbers)  # file order within a part
        pd.testing.assert_frame_equal(frame, whole.iloc[numbers].reset_index(drop=True))
        for account in frame["account_id"].unique():
            assert owner.setdefault(account, part) == part   # an account in one part only
        seen.extend(numbers)
    assert sorted(seen) == list(range(rows))     # every row exactly once


def test_a_file_the_reader_would_change_is_not_split(serve_posts, tmp_path):
    path = tmp_path / "posts.parquet"
    posts = serve_posts.head(60).copy()
    posts.loc[posts.index[50], "platform"] = "Instagram"          # an alias: the reader's
    posts.to_parquet(path, index=False)
    assert partition_canonical_parquet(path, "canonical", group="account_id", part_rows=20,
                                       workdir=tmp_path) is None


def test_the_column_wise_contract_quarantines_as_the_row_wise_rules(serve_posts):
    posts = serve_posts.iloc[600:640].copy().reset_index(drop=True)
    posts["platform"] = posts["platform"].astype(object)
    posts.loc[[2, 9], "platform"] = "myspace"
    posts.loc[9, "hashtags_count"] = -1
    posts.loc[30, "followers_at_post_time"] = pd.NA
    good, quarantine = split_scorable(posts)
    failures = scoring_failures(posts)
    assert list(quarantine["source_row"]) == [i + 1 for i, f in enumerate(failures) if f]
    assert [json.loads(r) for r in quarantine["reasons"]] == [f for f in failures if f]
    assert good["post_id"].tolist() == [p for p, f in zip(posts["post_id"], failures,
                                                          strict=True) if not f]


def test_chunks_of_whole_accounts_predict_as_one_call(post_models, serve_posts):
    rows = serve_posts.iloc[600:].reset_index(drop=True)
    for name in ("ridge", "lightgbm"):
        model = post_models[name]
        whole = np.asarray(LIKES.predict(model, LIKES.model_input(rows)), float)
        use_threads(model, 2)
        chunked = ChunkPredictor(LIKES, model, threads=2).predict(rows, chunk_rows=37)
        if name == "lightgbm":   # the compiled batch path: the model's own answer exactly
            np.testing.assert_array_equal(chunked, whole)
            np.testing.assert_array_equal(
                ChunkPredictor(LIKES, model, threads=1).predict(rows, chunk_rows=10**6), whole)
        else:  # equal up to the last bits of a dot product over another number of rows
            np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_chunk_rows_must_be_positive(post_models, serve_posts):
    with pytest.raises(ValueError, match="chunk_rows"):
        ChunkPredictor(LIKES, post_models["ridge"], threads=1).predict(serve_posts,
                                                                      chunk_rows=0)


def test_run_score_on_parquet_equals_the_model_on_the_readers_rows(registry, serve_posts,
                                                                   tmp_path, monkeypatch):
    from pipelines.paths import ProjectPaths

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    posts = serve_posts.iloc[600:].copy()
    posts.loc[posts.index[5], "followers_at_post_time"] = -3   # breaks the contract only
    source = tmp_path / "posts.parquet"
    posts.to_parquet(source, index=False)
    paths = ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "d")
    output = tmp_path / "scores.parquet"
    result = run_score(task="likes", model_uri="models:/m@challenger", input_path=source,
                       input_format="canonical", output_path=output, paths=paths,
                       chunk_rows=50, threads=2, limits=LIMITS)
    assert (result["rows_in"], result["scored"], result["quarantined"]) == (200, 199, 1)
    model = mlflow.sklearn.load_model(f"models:/m/{registry['versions']['lightgbm']}")
    good = read_posts(source, "canonical").posts.drop(index=5)
    # 200 rows in parts of ~50 rows of whole accounts: the output goes part by part
    scored = pd.read_parquet(output).set_index("post_id")
    assert sorted(scored.index) == sorted(good["post_id"])
    np.testing.assert_array_equal(scored.loc[good["post_id"], "prediction"],
                                  model.predict(LIKES.model_input(good)))
    quarantined = pd.read_parquet(quarantine_path(output))
    assert quarantined["rule"].tolist() == ["followers_non_negative"]
    assert quarantined["source_row"].tolist() == [6]           # the file's row, 1-based
    assert quarantined["post_id"].tolist() == [posts["post_id"].iloc[5]]


def test_run_score_in_chunks_with_a_history_source_equals_one_call(registry, serve_posts,
                                                                   tmp_path, monkeypatch):
    from pipelines.features.history_source import FrameHistory
    from pipelines.paths import ProjectPaths
    from pipelines.serve.scoring import attach_history

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    posts = serve_posts.iloc[700:].copy()
    source = tmp_path / "posts.parquet"
    posts.to_parquet(source, index=False)
    paths = ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "d")
    output = tmp_path / "scores.parquet"
    history = FrameHistory(serve_posts.iloc[600:700], maturity_hours=48.0)
    run_score(task="likes", model_uri="models:/m@challenger", input_path=source,
              input_format="canonical", output_path=output, paths=paths, history=history,
              chunk_rows=30, threads=2, limits=LIMITS)
    model = mlflow.sklearn.load_model(f"models:/m/{registry['versions']['lightgbm']}")
    attach_history(model, history, where="test")
    good = read_posts(source, "canonical").posts
    scored = pd.read_parquet(output).set_index("post_id")
    assert len(scored) == len(good)
    np.testing.assert_array_equal(scored.loc[good["post_id"], "prediction"],
                                  model.predict(LIKES.model_input(good)))


def test_a_run_that_fails_midway_leaves_the_previous_output_whole(registry, serve_posts,
                                                                  tmp_path, monkeypatch):
    from pipelines.paths import ProjectPaths

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    source = tmp_path / "posts.parquet"
    serve_posts.iloc[600:].to_parquet(source, index=False)
    paths = ProjectPaths(root=tmp_path, state=tmp_path / ".engageflow", data=tmp_path / "d")
    output = tmp_path / "out" / "scores.parquet"

    def score(chunk_rows):
        return run_score(task="likes", model_uri="models:/m@challenger", input_path=source,
                         input_format="canonical", output_path=output, paths=paths,
                         chunk_rows=chunk_rows, threads=1, limits=LIMITS)

    score(10**6)
    before = pd.read_parquet(output)
    original, calls = ChunkPredictor.predict, []

    def second_part_fails(self, rows, *, chunk_rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("the machine went away")
        return original(self, rows, chunk_rows=chunk_rows)

    monkeypatch.setattr(ChunkPredictor, "predict", second_part_fails)
    with pytest.raises(RuntimeError, match="went away"):
        score(50)                                   # 200 rows: four parts
    pd.testing.assert_frame_equal(pd.read_parquet(output), before)
    assert sorted(p.name for p in output.parent.iterdir()) == [
        "scores.parquet", "scores.quarantine.parquet"]   # no part files left behind
