"""Real fitted post models (the training code path) and a real MLflow registry in tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import SCALE

SERVE_MODELS = ("ridge", "lightgbm", "random_forest")
#: Small but real hyperparameters, so the session trains in seconds.
SMALL = {"lightgbm": {"n_estimators": 40, "num_leaves": 7},
         "random_forest": {"n_estimators": 12, "max_depth": 8}, "ridge": {}}


def posts_row_suite() -> dict:
    """The project's posts row contract (what ``engageflow serve`` loads)."""
    from pathlib import Path

    from pipelines.validate.expectations import load_suite

    return load_suite(Path(__file__).resolve().parents[3] / "expectations"
                      / "posts_row_contract.json")


def fit_post_model(posts: pd.DataFrame, name: str, *, target: str = "likes", seed: int = 3,
                   hyperparameters: dict[str, Any] | None = None) -> Any:
    """A registered-model-shaped pipeline fitted the way the train stage fits one."""
    from pipelines.features.engagement_features import tabular_columns
    from pipelines.features.settings import FeatureSettings
    from pipelines.features.stage import build_feature_table
    from pipelines.train.estimators import as_post_model
    from pipelines.train.model_zoo import make_model
    from pipelines.train.split import labelled
    from pipelines.train.stage import feature_matrix

    settings = FeatureSettings()
    table = build_feature_table(posts, settings)
    names = tabular_columns(settings)
    rows = labelled(table, target)
    model = make_model(name, hyperparameters if hyperparameters is not None else SMALL[name],
                       seed, names, scale=SCALE).fit(feature_matrix(rows, names),
                                                     rows[target].astype(float))
    return as_post_model(model, settings, table)


def api_post(row: dict[str, Any], campaign: str | None = None) -> dict[str, Any]:
    """A canonical post row as the JSON body of ``POST /predict``."""
    post = {k: row[k] for k in ("post_id", "account_id", "platform", "content_type")}
    post["posted_at"] = row["posted_at"].isoformat()
    post["caption"] = row["caption"] if isinstance(row["caption"], str) else ""
    for k in ("hashtags_count", "mentions_count", "urls_count", "media_count",
              "followers_at_post_time"):
        post[k] = None if pd.isna(row[k]) else int(row[k])
    if campaign is not None:
        post["campaign_id"] = campaign
    return post


def make_service(tracking_uri: str | None, prediction_log_url: str, *,
                 api_keys: frozenset[str] | None, model_name: str = "m",
                 segments: bool = True, project_dir: str | None = None, history: Any = None,
                 **serve: Any) -> Any:
    """A :class:`Service` for model ``model_name`` (task likes): the ``serve`` settings are
    the model's defaults with ``serve`` changed, no alias polling, all traffic on
    @champion and no auto-train unless asked."""
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig
    from pipelines.serve.app import Service

    settings = ServeConfig(**{"poll_seconds": 0, "challenger_share": 0.0, "auto_train": "off",
                              **serve})
    return Service(settings, model_name=model_name, task="likes",
                   maturity_hours=FeatureSettings().maturity_hours,
                   segments=SegmentsConfig(enabled=segments), row_suite=posts_row_suite(),
                   prediction_log_url=prediction_log_url, tracking_uri=tracking_uri,
                   api_keys=api_keys, project_dir=project_dir, tasks=(), history=history)


@pytest.fixture(name="make_service", scope="session")
def make_service_fixture():
    """:func:`make_service`, for tests."""
    return make_service


@pytest.fixture(name="api_post", scope="session")
def api_post_fixture():
    """:func:`api_post`, for tests."""
    return api_post


@pytest.fixture(scope="session")
def api_posts():
    """Canonical post rows → the JSON bodies of ``POST /predict`` (:func:`api_post`)."""
    return lambda posts: [api_post(row) for row in posts.to_dict("records")]


@pytest.fixture(name="fit_post_model", scope="session")
def fit_post_model_fixture():
    """:func:`fit_post_model`, for tests (a conftest is not importable by name)."""
    return fit_post_model


@pytest.fixture(scope="session")
def serve_posts() -> pd.DataFrame:
    """800 demo posts; the first 600 (by time) train the models, the rest are 'new'."""
    from pipelines.collect.demo_data import generate_posts

    posts = generate_posts(800, accounts=20, seed=11)
    return posts.sort_values(["posted_at", "post_id"]).reset_index(drop=True)


@pytest.fixture(scope="session")
def post_models(serve_posts) -> dict[str, Any]:
    train = serve_posts.iloc[:600]
    return {name: fit_post_model(train, name) for name in SERVE_MODELS}


def register(model: Any, model_name: str, example: pd.DataFrame, experiment_id: str) -> str:
    """Log ``model`` as a new version of ``model_name``; returns the version."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=model_name, input_example=None,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            pip_requirements=["scikit-learn", "lightgbm", "pandas"])
    return str(info.registered_model_version)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, post_models, serve_posts) -> dict[str, Any]:
    """A SQLite registry holding model 'm': v1 ridge @champion, v2 lightgbm @challenger,
    v3 random_forest (no alias). Module-scoped: a test that moves an alias puts it back."""
    from mlflow import MlflowClient

    from pipelines.registry import tracking

    tmp_path = tmp_path_factory.mktemp("registry")

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.connect(uri)
    experiment = tracking.ensure_experiment("serve-test", tmp_path / "artifacts")
    versions = {name: register(post_models[name], "m", serve_posts.head(3), experiment)
                for name in SERVE_MODELS}
    client = MlflowClient()
    client.set_registered_model_alias("m", "champion", versions["ridge"])
    client.set_registered_model_alias("m", "challenger", versions["lightgbm"])
    return {"uri": uri, "versions": versions, "tmp": tmp_path}


FEEDBACK_MODEL = "engagement-feedback_sentiment"
FEEDBACK_KEY = "k"


def feedback_project(folder: Path, project_root: Path, **feedback: Any) -> Path:
    """A project folder: the checkout's suites and params.yaml with a fast feedback run
    (VADER only) and ``feedback`` set in the feedback_sentiment section."""
    import shutil

    import yaml

    shutil.copytree(project_root / "expectations", folder / "expectations")
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    params["train"].update(models=["vader"], cv_folds=0)
    params["feedback_sentiment"].update(feedback)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return folder


def _feedback_service(root: Path, **serve: Any) -> Any:
    from pipelines.config import FeatureSettings, SegmentsConfig, ServeConfig, load_settings
    from pipelines.paths import project_paths
    from pipelines.serve.app import Service
    from pipelines.serve.task_serving import served_task

    paths = project_paths(str(root))
    settings = load_settings(paths.params_file, {"train.task": "feedback_sentiment"})
    served = served_task("feedback_sentiment", model_name=FEEDBACK_MODEL, paths=paths,
                         settings=settings)
    return Service(ServeConfig(**{"poll_seconds": 0, "challenger_share": 0.0, **serve}),
                   model_name="no-post-model", task="likes",
                   maturity_hours=FeatureSettings().maturity_hours,
                   segments=SegmentsConfig(enabled=False), row_suite=posts_row_suite(),
                   prediction_log_url=f"sqlite:///{root / 'log.db'}",
                   tracking_uri=paths.tracking_uri, api_keys=frozenset({FEEDBACK_KEY}),
                   project_dir=str(root), tasks=[served])


@pytest.fixture(scope="session")
def feedback_server(tmp_path_factory, project_root):
    """A server of feedback_sentiment with no model (real MLflow registry and prediction
    log in a tmp project, 300 demo rows, the project's campaign_min_samples 20 and
    retrain_after 50), after
    its first calls: ``first_calls`` holds the first call (503), a second one while
    training, the training's status, a call after it and /health; ``api`` stays open."""
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    root = feedback_project(tmp_path_factory.mktemp("feedback_server") / "project",
                            project_root, demo_rows=300, campaign_min_samples=20,
                            retrain_after=50)
    headers = {"X-API-Key": FEEDBACK_KEY}
    route = "/tasks/feedback_sentiment/predict"
    row = {"feedback_id": "f-1", "text": "Terrible delays, the worst service ever.",
           "campaign": "campaign-1"}
    patch = pytest.MonkeyPatch()
    patch.setenv("ENGAGEFLOW_HOME", str(root))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    service = _feedback_service(root, auto_train="sync", auto_train_max_rows=1000)
    with TestClient(create_app(service)) as api:
        try:
            first = api.post(route, headers=headers, json=row)
            second = api.post(route, headers=headers, json=row)
            trainer = service.tasks["feedback_sentiment"].trainer
            trainer.join(timeout=300)
            after = api.post(route, headers=headers, json=row)
            health = api.get("/health").json()
        finally:
            # the training is over: the rest of the session sees its own environment (the
            # champion's registration time is cached by the call above)
            patch.undo()
        yield {"api": api, "service": service, "headers": headers, "first_calls": {
            "first": first, "second": second, "status": dict(trainer.status),
            "after": after, "health": health}}
