"""The drift check on real data (../shared/data): a champion trained on the 2021 tweets
retrains for a platform change (Instagram 2017) and for March 2022 (docs/drift.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.monitor.stage import run_drift_check
from pipelines.tasks import get_task

pytestmark = pytest.mark.shared_data

MODEL = "engagement-likes-real"
SETTINGS = {"maturity_hours": 48.0, "min_rows": 100, "drift_share": 0.3,
            "min_effect": {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1},
            "chunks": 10, "quantile": 0.95, "safety_factor": 1.5, "calibration_rows": 100_000,
            "max_error_increase": 0.15, "min_outcomes": 100, "report_rows": 500, "seed": 42,
            "text": None}


@pytest.fixture(scope="module")
def real(shared_data_dir, tmp_path_factory, ridge_champion):
    """A ridge champion on the 2021 tweets, registered in a throw-away MLflow store."""
    from pipelines.collect.formats import read_posts
    from pipelines.paths import ProjectPaths

    root = tmp_path_factory.mktemp("real")
    tweets = read_posts(shared_data_dir / "tweets_2022" / "tweets.csv", "tweets_csv").posts
    instagram = read_posts(shared_data_dir / "instagram_2017" / "instagram_posts.csv",
                           "instagram_scrape_csv").posts
    paths = ProjectPaths(root=root, state=root / "state", data=root / "train")
    paths.validated_posts.parent.mkdir(parents=True)
    year = pd.to_datetime(tweets["posted_at"], utc=True).dt.year
    tweets[year == 2021].to_parquet(paths.validated_posts)
    tracking_uri = f"sqlite:///{paths.state / 'mlflow.db'}"
    ridge_champion(paths, tracking_uri=tracking_uri, model_name=MODEL, experiment="real",
                   run_key="real", seed=42)
    return paths, tracking_uri, tweets, instagram


def _judge(real, posts, start, end, out):
    paths, tracking_uri, _, _ = real
    return run_drift_check(
        task=get_task("likes"), rows=posts, tracking_uri=tracking_uri, experiment="real",
        artifact_root=paths.mlflow_artifacts, model_name=MODEL, alias="champion",
        window_start=pd.Timestamp(start, tz="UTC"), window_end=pd.Timestamp(end, tz="UTC"),
        out_dir=out, run_key=out.name, **SETTINGS)


def test_a_platform_change_is_flagged(real, tmp_path):
    decision = _judge(real, real[3], "2013-01-01", "2017-06-01", tmp_path / "instagram")
    assert decision["retrain"] is True
    assert decision["share_drifted"] >= 0.5
    assert "data drift" in decision["reason"]
    assert "realized performance loss" in decision["reason"]


def test_march_2022_retrains_on_its_realized_error(real, tmp_path):
    decision = _judge(real, real[2], "2022-03-01", "2022-04-01", tmp_path / "march")
    assert decision["retrain"] is True
    assert "realized performance loss" in decision["reason"]
