"""The drift check end to end on a real champion (real MLflow on SQLite in tmp_path)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.collect.demo_data import generate_posts
from pipelines.monitor.stage import run_drift_check, run_drift_report
from pipelines.paths import ProjectPaths
from pipelines.tasks import get_task

LIKES = get_task("likes")

MODEL = "engagement-likes-drift"
SETTINGS = {"maturity_hours": 48.0, "min_rows": 100, "drift_share": 0.3,
            "min_effect": {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1},
            "chunks": 10, "quantile": 0.95, "safety_factor": 1.5, "calibration_rows": 100_000,
            "max_error_increase": 0.15, "min_outcomes": 50, "report_rows": 2000, "seed": 0,
            "text": None}


def _register(root, posts: pd.DataFrame, ridge_champion):
    """A ridge champion on ``posts`` (real MLflow, SQLite)."""
    paths = ProjectPaths(root=root, state=root / ".engageflow", data=root / "data")
    paths.validated_posts.parent.mkdir(parents=True)
    posts.to_parquet(paths.validated_posts)
    tracking_uri = f"sqlite:///{paths.state / 'mlflow.db'}"
    ridge_champion(paths, tracking_uri=tracking_uri, model_name=MODEL)
    return paths, tracking_uri, posts


@pytest.fixture(scope="module")
def champion(demo_champion):
    """The package's demo champion (conftest, registered as MODEL): (paths, tracking URI,
    its posts)."""
    return demo_champion["run"], demo_champion["tracking_uri"], demo_champion["posts"]


def _check(champion, posts, out, run_key, report=False, **overrides):
    paths, tracking_uri, _ = champion
    return run_drift_check(
        task=LIKES, rows=posts, tracking_uri=tracking_uri, experiment="test",
        artifact_root=paths.mlflow_artifacts, model_name=MODEL, alias="champion",
        window_start=pd.Timestamp("2026-05-01", tz="UTC"),
        window_end=pd.Timestamp("2026-06-29", tz="UTC"), out_dir=out, run_key=run_key,
        report=report, **{**SETTINGS, **overrides})


def _report(champion, posts, out, run_key, model_name=MODEL):
    paths, tracking_uri, _ = champion
    return run_drift_report(
        task=LIKES, rows=posts, tracking_uri=tracking_uri, experiment="test",
        artifact_root=paths.mlflow_artifacts, model_name=model_name, alias="champion",
        summary_path=out / "drift_summary.json", run_key=run_key,
        report_rows=SETTINGS["report_rows"], seed=SETTINGS["seed"], text=None)


def shifted(posts: pd.DataFrame) -> pd.DataFrame:
    """Follower inflation and a platform-mix change: every account becomes an Instagram
    account with 8x the followers; the outcomes stay as they were."""
    out = posts.copy()
    out["followers_at_post_time"] = (out["followers_at_post_time"] * 8).astype("Int64")
    out["platform"] = "instagram"
    return out


def test_the_champion_keeps_its_training_data_as_reference(champion):
    from pipelines.registry.reference import load_champion

    _, tracking_uri, posts = champion
    loaded = load_champion(tracking_uri=tracking_uri, model_name=MODEL, alias="champion")
    assert 1500 < len(loaded.reference) < 3000  # the train split, not the whole set
    assert loaded.reference["post_id"].isin(posts["post_id"]).all()
    assert loaded.reference["posted_at"].is_monotonic_increasing
    assert loaded.offline["mae_log"] > 0 and loaded.target == "likes"


def test_the_champions_own_future_is_not_drift(champion, tmp_path):
    _, _, posts = champion
    decision = _check(champion, posts, tmp_path, "quiet")
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert decision["retrain"] is False, decision["reason"]
    assert decision["reason"].startswith("no drift")
    assert summary["drift"]["dataset_drift"] is False
    assert summary["drift"]["prediction_drift"] is False
    assert summary["realized_performance"]["judged"] is True
    assert summary["realized_performance"]["performance_loss"] is False
    # the error expected before the labels (DLE of the log-scale error), per chunk with a
    # band, beside the realized error of the same rows
    estimated = summary["estimated_performance"]
    assert estimated["method"] == "DLE" and estimated["metric"] == "mae_log"
    assert estimated["performance_loss"] is False and len(estimated["chunks"]) >= 2
    for chunk in estimated["chunks"]:
        band = chunk["estimated"]["mae_log"]
        assert band["lower"] < band["value"] < band["upper"]
    assert estimated["comparison"]["chunks_compared"] >= 1
    # every column says which method and threshold decided it
    for column in summary["drift"]["columns"].values():
        assert column["method"] in ("wasserstein", "psi", "jensenshannon")
        assert column["threshold"] >= 0.1
    # the decision does not wait for the human report: no Evidently, no HTML
    assert summary["evidently"] is None and summary["report"] is None
    assert not (tmp_path / "drift_report.html").exists()
    assert decision["report"] == str(tmp_path / "drift_report.html")  # where it will be


def test_outcomes_mature_after_the_champions_training_horizon_not_todays_params(
        champion, tmp_path, caplog):
    """The champion was trained with features.maturity_hours 48 (its model version tag);
    params saying 6 h today do not change what its outcomes mean."""
    import logging

    from mlflow import MlflowClient

    _, _, posts = champion
    version = MlflowClient().get_model_version_by_alias(MODEL, "champion")
    assert version.tags["engageflow.maturity_hours"] == "48.0"
    with caplog.at_level(logging.INFO, logger="pipelines"):
        _check(champion, posts, tmp_path, "maturity", maturity_hours=6.0)
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert summary["maturity_hours"] == 48.0
    assert any("engageflow.maturity_hours = 48.0 h" in r.getMessage()
               and "features.maturity_hours = 6.0 h (params)" in r.getMessage()
               for r in caplog.records if r.levelno == logging.INFO)


def test_follower_inflation_and_a_platform_change_trigger_retraining(champion, tmp_path):
    from mlflow import MlflowClient

    paths, tracking_uri, posts = champion
    decision = _check(champion, shifted(posts), tmp_path, "shifted")
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert decision["retrain"] is True
    assert "prediction drift" in decision["reason"]
    drifted = summary["drift"]["drifted_features"]
    assert {"log_followers", "platform", "platform_instagram"} <= set(drifted)
    assert summary["realized_performance"]["performance_loss"] is True
    assert not (tmp_path / "drift_report.html").exists()
    run = MlflowClient(tracking_uri).get_run(decision["mlflow_run_id"])
    assert run.data.tags["engageflow.retrain"] == "True"
    assert run.data.metrics["share_drifted"] == pytest.approx(summary["drift"]["share_drifted"])


def test_the_report_shows_the_rule_that_decided_and_joins_the_decisions_run(champion,
                                                                            tmp_path):
    from mlflow import MlflowClient

    _, tracking_uri, posts = champion
    decision = _check(champion, shifted(posts), tmp_path, "report")
    decided = json.loads((tmp_path / "drift_summary.json").read_text())["drift"]["columns"]
    done = _report(champion, shifted(posts), tmp_path, "report")
    html = tmp_path / "drift_report.html"
    assert done["report"] == str(html) == decision["report"]
    assert html.stat().st_size > 10_000
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert summary["report"] == str(html)
    assert summary["retrain"] is True  # the decision is kept as it was
    evidently = summary["evidently"]["columns"]
    assert set(evidently) == set(decided)
    for column, judged in decided.items():  # Evidently ran the rule that decided
        assert evidently[column]["method"] == judged["method"], column
        assert evidently[column]["threshold"] == judged["threshold"], column
    assert evidently["platform"]["drifted"] and evidently["log_followers"]["drifted"]
    # same monitoring run as the decision (same run_key), with the HTML logged
    assert done["mlflow_run_id"] == decision["mlflow_run_id"]
    client = MlflowClient(tracking_uri)
    logged = {a.path for a in client.list_artifacts(decision["mlflow_run_id"], "monitoring")}
    assert logged == {"monitoring/drift_summary.json", "monitoring/drift_report.html"}
    run = client.get_run(decision["mlflow_run_id"])
    assert run.data.tags["engageflow.retrain"] == "True" and "report_seconds" in \
        run.data.metrics


def test_the_cli_path_decides_and_reports_in_one_go(champion, tmp_path):
    _, _, posts = champion
    decision = _check(champion, posts, tmp_path, "cli", report=True)
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert decision["report"] == summary["report"] == str(tmp_path / "drift_report.html")
    assert (tmp_path / "drift_report.html").stat().st_size > 10_000
    assert summary["evidently"]["columns"]["prediction"]["threshold"] == \
        summary["drift"]["columns"]["prediction"]["threshold"]


def test_the_report_refuses_what_the_decision_did_not_judge(champion, tmp_path):
    _, _, posts = champion
    with pytest.raises(ValueError, match="summary_path"):
        _report(champion, posts, tmp_path, "none")
    _check(champion, posts, tmp_path, "mismatch")
    with pytest.raises(ValueError, match="model_name@alias"):
        _report(champion, posts, tmp_path, "mismatch", model_name="another-model")
    inside = pd.to_datetime(posts["posted_at"], utc=True) >= pd.Timestamp("2026-05-01",
                                                                          tz="UTC")
    with pytest.raises(ValueError, match="the store changed"):
        _report(champion, posts.drop(index=posts.index[inside][0]), tmp_path, "mismatch")
    assert not (tmp_path / "drift_report.html").exists()


def test_a_window_with_too_few_posts_gives_no_verdict(champion, tmp_path):
    _, _, posts = champion
    decision = _check(champion, posts.head(0), tmp_path, "empty")
    assert decision["retrain"] is False
    assert decision["reason"] == "too few posts in the window for a verdict"
    assert decision["report"] is None
    done = _report(champion, posts.head(0), tmp_path, "empty")
    assert done["report"] is None and done["reason"] == decision["reason"]
    assert not (tmp_path / "drift_report.html").exists()


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_other_demo_histories_do_not_cry_wolf_and_still_catch_a_shift(tmp_path, seed,
                                                                      ridge_champion):
    # Followers, likes and the model's predictions grow through every demo year, and the
    # window lies after the validation and test periods: before trends were removed, seed
    # 4 flagged its own later data (prediction drift 0.279 >= 0.257).
    champion = _register(tmp_path / "project", generate_posts(2000, accounts=40, seed=seed),
                         ridge_champion)
    _, _, posts = champion
    quiet = _check(champion, posts, tmp_path / "quiet", f"quiet-{seed}")
    summary = json.loads((tmp_path / "quiet" / "drift_summary.json").read_text())["drift"]
    assert quiet["retrain"] is False, quiet["reason"]
    assert summary["prediction_drift"] is False and summary["dataset_drift"] is False
    assert {"prev_posts_count", "log_followers"} <= set(summary["detrended"])
    loud = _check(champion, shifted(posts), tmp_path / "loud", f"loud-{seed}")
    assert loud["retrain"] is True
    assert "prediction drift" in loud["reason"] or "data drift" in loud["reason"]


def _serve_log(url: str, posts: pd.DataFrame, version: str, factor: float) -> None:
    """Log what serving answered for ``posts`` (prediction = actual x factor) + outcomes."""
    from datetime import UTC, datetime

    from pipelines.prediction_log import PredictionLog

    log = PredictionLog(url)
    now = datetime.now(UTC)
    log.log_predictions([
        {"request_id": f"r{i}", "post_id": p.post_id, "account_id": p.account_id,
         "platform": p.platform, "model_name": MODEL, "model_version": version,
         "arm": "champion", "target": "likes", "prediction": float(p.likes) * factor,
         "features_hash": "h", "predicted_at": now,
         "posted_at": p.posted_at.to_pydatetime()} for i, p in enumerate(posts.itertuples())])
    log.record_outcomes([{"post_id": p.post_id, "likes": int(p.likes), "observed_at": now}
                         for p in posts.itertuples()])
    log.close()


def test_served_predictions_in_the_log_decide_the_realized_performance(champion, tmp_path):
    from pipelines.registry.reference import load_champion

    paths, tracking_uri, posts = champion
    version = load_champion(tracking_uri=tracking_uri, model_name=MODEL,
                            alias="champion").version
    window = posts[(posts["posted_at"] >= pd.Timestamp("2026-05-01", tz="UTC"))
                   & (posts["posted_at"] < pd.Timestamp("2026-06-27", tz="UTC"))]
    good, bad = f"sqlite:///{tmp_path / 'good.db'}", f"sqlite:///{tmp_path / 'bad.db'}"
    _serve_log(good, window, version, factor=1.0)
    _serve_log(bad, window, version, factor=30.0)   # users were served 30x too many likes

    def check(url, name):
        return run_drift_check(
            task=LIKES, rows=posts, tracking_uri=tracking_uri, experiment="test",
            artifact_root=paths.mlflow_artifacts, model_name=MODEL, alias="champion",
            window_start=pd.Timestamp("2026-05-01", tz="UTC"),
            window_end=pd.Timestamp("2026-06-29", tz="UTC"), out_dir=tmp_path / name,
            run_key=name, prediction_log_url=url, **SETTINGS)

    served_bad = check(bad, "bad")
    summary = json.loads((tmp_path / "bad" / "drift_summary.json").read_text())
    assert summary["served_performance"]["served_predictions"] == len(window)
    assert summary["realized_performance"]["source"] == "prediction log (served predictions)"
    assert served_bad["retrain"] is True and "realized performance loss" in served_bad["reason"]
    check(good, "good")
    good_summary = json.loads((tmp_path / "good" / "drift_summary.json").read_text())
    assert good_summary["served_performance"]["mae_log"] == 0.0
    assert good_summary["served_performance"]["performance_loss"] is False
    # no log file: nothing is created, the validated posts decide as before
    check(f"sqlite:///{tmp_path / 'absent.db'}", "absent")
    assert not (tmp_path / "absent.db").exists()


def test_the_reference_calibration_is_stored_at_registration_and_used(champion, tmp_path):
    from pipelines.config import MonitorConfig
    from pipelines.registry.reference import load_champion

    paths, tracking_uri, posts = champion
    loaded = load_champion(tracking_uri=tracking_uri, model_name=MODEL, alias="champion")
    assert loaded.calibration is not None
    assert loaded.calibration.settings["seed"] == MonitorConfig().seed
    assert loaded.calibration.settings["reference_rows"] == len(loaded.reference)
    # registered with monitor's defaults: a check with them scores only the window ...
    _check(champion, posts, tmp_path / "stored", "stored-1", seed=MonitorConfig().seed)
    summary = json.loads((tmp_path / "stored" / "drift_summary.json").read_text())
    assert summary["drift"]["calibration"]["source"] == "stored with the model"
    # ... one with other settings (SETTINGS' seed) calibrates itself
    _check(champion, posts, tmp_path / "other", "other-1")
    summary = json.loads((tmp_path / "other" / "drift_summary.json").read_text())
    assert summary["drift"]["calibration"]["source"].startswith("computed (other settings")
