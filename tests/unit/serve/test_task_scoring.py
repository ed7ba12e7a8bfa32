"""Batch scoring of a task other than posts: a sessions CSV scored by the registered
conversion model; every row is scored or quarantined."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.collect.formats import ReadLimits
from pipelines.serve.scoring import quarantine_path
from pipelines.tasks import get_task
from pipelines.tasks.conversion_data import COLUMNS, read_sessions_csv

LIMITS = ReadLimits.defaults()

CONVERSION = get_task("conversion")


@pytest.fixture()
def sessions_csv(conversion_champion, tmp_path):
    """60 validated sessions as the UCI CSV without its Revenue column (sessions to score
    have no outcome yet): row 4 breaks the contract (BounceRates 0.5), and one record
    cannot be read."""
    sessions = pd.read_parquet(conversion_champion["paths"].validated("sessions")).head(60)
    header = {column: source for column, (_, source) in COLUMNS.items()
              if source and column != "converted"}
    table = sessions[list(header)].rename(columns=header)
    table.loc[table.index[3], "BounceRates"] = 0.5
    path = tmp_path / "shoppers.csv"
    table.to_csv(path, index=False)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("not,a,session\n")
    return path


def test_score_cli_scores_sessions_with_the_models_own_task(
        conversion_champion, sessions_csv, tmp_path, monkeypatch, capsys, project_root):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", conversion_champion["tracking_uri"])
    output = tmp_path / "out" / "sessions_scored.parquet"
    name = conversion_champion["model_name"]
    # params.yaml says train.task likes: the version's own task (conversion) wins
    code = main(["score", "--model", f"models:/{name}@champion", "--input", str(sessions_csv),
                 "--output", str(output), "--project-dir", str(project_root)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "conversion"
    assert result["rows_in"] == 61 == result["scored"] + result["quarantined"]
    assert (result["scored"], result["quarantined"]) == (59, 2)

    scored = pd.read_parquet(output)
    assert list(scored.columns) == ["session_id", "month_start", "prediction", "task",
                                    "model_uri", "model_name", "model_version", "scored_at"]
    assert set(scored["task"]) == {"conversion"}
    version = conversion_champion["versions"]["logistic_regression"]
    assert set(scored["model_version"]) == {version}
    read = read_sessions_csv(sessions_csv, outcome_required=False, limits=LIMITS).sessions
    good = read[read["session_id"] != "shoppers-0000004"]
    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    np.testing.assert_allclose(scored["prediction"], CONVERSION.predict(model, good),
                               rtol=1e-12)
    assert scored["session_id"].tolist() == good["session_id"].tolist()

    quarantine = pd.read_parquet(quarantine_path(output)).set_index("stage")
    assert sorted(quarantine.index) == ["collect", "score"]
    bad = quarantine.loc["score"]
    assert (bad["session_id"], bad["column"], bad["value"]) == ("shoppers-0000004",
                                                                 "bounce_rates", "0.5")
    assert bad["rule"] == "expect_column_values_to_be_between"
    assert quarantine.loc["collect", "rule"] == "field_count"


def test_a_task_without_a_scoring_reader_is_refused(conversion_champion, sessions_csv,
                                                   tmp_path, monkeypatch, capsys,
                                                   project_root):
    from pipelines.paths import ProjectPaths
    from pipelines.serve.scoring import run_score

    monkeypatch.setenv("MLFLOW_TRACKING_URI", conversion_champion["tracking_uri"])
    paths = ProjectPaths(root=project_root, state=tmp_path, data=tmp_path)
    with pytest.raises(ValueError, match="task 'follower_growth' declares no batch-scoring"):
        get_task("follower_growth").read_for_scoring(sessions_csv, "canonical", paths=paths,
                                                     limits=LIMITS)
    with pytest.raises(ValueError, match="'format' must be 'canonical'.*got 'tweets_csv'"):
        run_score(task="conversion", paths=paths, input_path=sessions_csv,
                  model_uri=f"models:/{conversion_champion['model_name']}@champion",
                  input_format="tweets_csv", output_path=tmp_path / "x.parquet",
                  chunk_rows=100, threads=1, limits=LIMITS)
