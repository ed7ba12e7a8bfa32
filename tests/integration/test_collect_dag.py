"""engagement_collect end to end with real Airflow: demo + file sources, one day, twice."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from airflow_helpers import run_airflow

pytestmark = pytest.mark.integration

DAY = "2026-11-19"  # a daily run at 2026-11-20 00:00 covers the day before


@pytest.fixture(scope="module")
def collected(airflow_home, tmp_path_factory, demo_posts):
    home, env = airflow_home
    drop = tmp_path_factory.mktemp("drop") / "posts.csv"
    posts = demo_posts.head(200).copy()
    posts.loc[3, "likes"] = -7            # fails a row rule → quarantined
    posts.to_csv(drop, index=False)
    bad = {"post_id": "bad-1", "platform": "twitter", "account_id": "acct",
           "posted_at": "not-a-date", "content_type": "text", "caption": "hi",
           "followers_at_post_time": "10", "likes": "5"}
    with open(drop, "a", encoding="utf-8") as handle:   # a record that cannot be parsed
        handle.write(",".join(bad.get(c, "") for c in posts.columns) + "\n")
    conf = json.dumps({"collect_daily.sources": ["demo", "file"], "collect.path": str(drop),
                       "collect.format": "canonical", "collect_daily.demo_rows": 250})
    first = run_airflow(["dags", "test", "engagement_collect", "2026-11-20", "-c", conf], env)
    files_after_first = sorted((home / "data" / "01_raw").rglob("*.parquet"))
    run_airflow(["dags", "test", "engagement_collect", "2026-11-20", "-c", conf], env)
    return home, first, files_after_first


def test_raw_layer_is_partitioned_by_source_and_day_and_a_rerun_adds_nothing(collected):
    home, _, files_after_first = collected
    names = [f.relative_to(home / "data").as_posix() for f in files_after_first]
    assert any(n.startswith(f"01_raw/source=demo/date={DAY}/part-") for n in names)
    assert any(n.startswith(f"01_raw/source=file-canonical/date={DAY}/part-") for n in names)
    assert any(n.startswith(f"01_raw/_quarantine/source=file-canonical/date={DAY}/")
               for n in names)
    assert sorted((home / "data" / "01_raw").rglob("*.parquet")) == files_after_first


def test_rows_in_equal_accepted_plus_quarantined_with_reasons(collected):
    home, _, _ = collected
    report = json.loads((home / "data" / "02_validated" / f"date={DAY}" /
                         "validation.json").read_text())
    assert report["rows_in"] == 250 + 201
    assert report["rows_accepted"] + report["rows_quarantined"] == report["rows_in"]
    quarantine = pd.read_parquet(home / "data" / "02_quarantine" / f"date={DAY}" /
                                 "posts.parquet")
    reasons = set(zip(quarantine["stage"], quarantine["column"], strict=True))
    assert ("validate", "likes") in reasons
    assert ("collect", "posted_at") in reasons
    validated = pd.read_parquet(home / "data" / "02_validated" / f"date={DAY}" /
                                "posts.parquet")
    assert len(validated) == report["rows_accepted"]


def test_reports_are_built_and_logged_to_mlflow(collected):
    from mlflow import MlflowClient

    home, _, _ = collected
    reports = home / "data" / "05_reporting" / "validation" / f"date={DAY}"
    assert (reports / "exploration.html").exists()
    assert (reports / "data_docs" / "index.html").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{home}/state/mlflow.db")
    experiment = client.get_experiment_by_name("engageflow")
    runs = client.search_runs([experiment.experiment_id],
                              "tags.`engageflow.run_key` LIKE 'engagement_collect/%'")
    assert len(runs) == 2
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id, "validation")}
    assert {"validation/exploration.html", "validation/data_docs"} <= artifacts
    assert runs[0].data.metrics["validation_rows_in"] == 451


def test_publish_records_the_day_for_training(collected):
    home, _, _ = collected
    manifest = json.loads((home / "data" / "02_validated" / "_manifest.json").read_text())
    assert list(manifest) == [DAY] and manifest[DAY]["rows_in"] == 451
