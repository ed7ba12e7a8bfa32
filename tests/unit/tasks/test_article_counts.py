"""The article tasks through their hooks on demo articles: stages end to end, the
references, the model-facing hooks, registration, and POST /tasks/article_points/predict
against the registered model."""

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.article_counts import REFERENCE, ArticleSettings
from pipelines.tasks.articles_data import INPUT_COLUMNS
from tests.conftest import settings_for_test, tracking_uri_env

TASK = get_task("article_points")
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")
KEY = "articles-key"


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_project, conversion_champion):
    """Demo articles through collect → register (no title embeddings: MiniLM is slow here;
    the embedding path is measured on the real file, docs/articles.md), registered in the
    session's MLflow store of the conversion champion (a new store is slow to create)."""
    from pipelines.registry.register import run_register

    root = tmp_path_factory.mktemp("articles")
    paths = make_project(root)
    settings = settings_for_test({
        "train.task": "article_points", "train.models": ["ridge"],
        "article_points.demo_rows": 900, "article_points.demo_authors": 60,
        "article_points.title_components": 0, "register.experiment": "articles-test"})
    records = {"collect": TASK.collect(paths, settings),
               "validate": TASK.validate(paths, settings, as_of=AS_OF, reports=False),
               "features": TASK.features(paths, settings),
               "train": TASK.train(paths, settings), "evaluate": TASK.evaluate(paths, settings)}
    uri = conversion_champion["tracking_uri"]
    with tracking_uri_env(uri):
        records["register"] = run_register(TASK, paths, settings, run_key="articles-demo")
    return paths, settings, records, uri


def test_the_tasks_share_one_section_and_import_nothing_heavy():
    comments = get_task("article_comments")
    assert (TASK.target, comments.target) == ("points", "comments")
    assert TASK.settings_model is ArticleSettings and comments.settings_model is None
    settings = settings_for_test({"article_points.demo_rows": 500})
    assert comments.section(settings).demo_rows == 500 == TASK.section(settings).demo_rows
    code = ("import sys, pipelines.tasks.article_counts; print([m for m in ('pandas', "
            "'sklearn', 'lightgbm', 'great_expectations') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(ValidationError, match="article_points.path must name"):
        ArticleSettings(source="hacker_news")
    with pytest.raises(ValidationError, match="at most 0.8"):
        ArticleSettings(valid_fraction=0.5, test_fraction=0.4)


def test_the_pipeline_gives_article_comments_the_shared_section(tmp_path, make_project):
    from pipelines.pipeline import RunContext, declared_sections, run_stage, stage

    comments = get_task("article_comments")
    assert "article_points" in declared_sections(stage("collect"), comments)
    assert "news_shares" in declared_sections(stage("collect"), get_task("news_shares"))
    settings = settings_for_test({"train.task": "article_comments",
                                  "article_points.demo_rows": 300})
    record = run_stage("collect", paths=make_project(tmp_path), settings=settings,
                       context=RunContext(run_key="t", as_of=AS_OF, reports=False))
    assert record["rows"] == 300


def test_stages_account_for_every_row_and_report_the_references(run):
    paths, _, records, _ = run
    assert records["collect"]["records_read"] == 900
    validate = records["validate"]
    assert validate["rows_in"] == validate["rows_accepted"] + validate["rows_quarantined"]
    report = json.loads(paths.metrics.read_text())
    assert report["best"] == "ridge"
    assert set(report["references"]) == {REFERENCE}
    split = records["train"]["split"]
    assert split["train"] + split["valid"] + split["test"] == 900
    best = report["candidates"][report["best"]]["test"]
    median = report["baselines"]["author_past_median"]["test"]
    # the demo's author skill and title patterns are learnable: the model beats the median
    assert best["mae_log"] < median["mae_log"]
    assert best["spearman"] > 0.2
    features = records["train"]["candidates"]["ridge"]["features"]
    assert "f_author_mean_log_points" in features
    assert "f_author_mean_log_points" not in records["train"]["references"][REFERENCE][
        "features"]


def test_holdout_baseline_and_prediction_hooks(run):
    paths, _, _, _ = run
    known, test = TASK.holdout(paths)
    assert known["created_at"].max() < test["created_at"].min()
    assert set(test["regime"]) <= {"warm", "cold"} and (test["regime"] == "warm").any()
    baseline = TASK.baseline(known, test)
    assert baseline.shape == (len(test),) and (baseline >= 0).all()
    with pytest.raises(ValueError, match="attrs\\['maturity_hours'\\]"):
        TASK.baseline(pd.DataFrame(known.to_dict("list")), test)
    import joblib

    model = joblib.load(paths.models / "ridge.joblib")
    predicted = TASK.predict(model, test)
    assert predicted.shape == (len(test),) and (predicted >= 0).all()
    assert list(TASK.model_input(test).columns) == list(INPUT_COLUMNS)
    from pipelines.monitor.drift import PREDICTION, TARGET

    drift = TASK.drift_frame(model, test, outcome_known=None)
    assert len(drift) == len(test) and {PREDICTION, TARGET, "domain"} <= set(drift.columns)
    assert [c for c in drift.columns if drift[c].dtype == object] == ["domain"]
    np.testing.assert_allclose(np.expm1(drift[PREDICTION]), TASK.predict(
        model, TASK.model_input(test)), rtol=1e-6)


def test_the_route_answers_what_the_registered_model_says(run, tmp_path):
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service, create_app
    from pipelines.serve.task_serving import served_task
    from tests.unit.serve.test_task_routes import posts_row_suite

    paths, _, records, uri = run
    name, version = records["register"]["model_name"], records["register"]["version"]
    with tracking_uri_env(uri):
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
        service = Service(
            ServeConfig(poll_seconds=0, challenger_share=0.0, auto_train="off"),
            model_name="no-post-model", task="likes",
            maturity_hours=FeatureSettings().maturity_hours,
            segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
            prediction_log_url=f"sqlite:///{tmp_path / 'p.db'}", tracking_uri=uri,
            api_keys=frozenset({KEY}), project_dir=None,
            tasks=[served_task("article_points", model_name=name, paths=paths)])
        _, test = TASK.holdout(paths)
        rows = test.head(5)
        body = [{"article_id": r.article_id, "title": r.title, "url": r.url,
                 "author": r.author, "created_at": r.created_at.isoformat()}
                for r in rows.itertuples()]
        with TestClient(create_app(service)) as client:
            answer = client.post("/tasks/article_points/predict", json={"rows": body},
                                 headers={"X-API-Key": KEY})
            assert answer.status_code == 200, answer.text
            model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
            expected = TASK.predict(model, rows[list(INPUT_COLUMNS)])
            got = [p["prediction"] for p in answer.json()["predictions"]]
            np.testing.assert_allclose(got, expected, rtol=1e-6)
            bad = dict(body[0], title="")
            refused = client.post("/tasks/article_points/predict", json=bad,
                                  headers={"X-API-Key": KEY})
            assert refused.status_code == 422 and "title" in refused.text
