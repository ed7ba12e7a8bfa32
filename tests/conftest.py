"""Shared fixtures: tiny demo data, the project root, the shared real-data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _scale_defaults() -> dict[str, float]:
    from pipelines.config.training import ScaleRelativeParams

    return ScaleRelativeParams().model_dump()


#: ``train.scale_relative`` as params.yaml's typed model defaults it (tests fit with it).
SCALE = _scale_defaults()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``shared_data`` where ../shared/data is absent (a user's machine)."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(
        reason=f"needs the real data folder {SHARED_DATA}, which is absent on this machine"
    )
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module", autouse=True)
def _mlflow_uris_restored_after_each_module() -> Iterator[None]:
    """MLflow's tracking and registry URIs are process-wide: a module that sets them (a
    fixture registering a model) must not send a later module's registrations to its store
    (with pytest-xdist the modules a worker ran before differ from run to run)."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    before = tracking._tracking_uri, registry._registry_uri
    yield
    tracking._tracking_uri, registry._registry_uri = before


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty MLflow SQLite database at the newest schema, made once a session (MLflow's
    own table creation and alembic migrations: 2-5 s a database)."""
    import sqlalchemy
    from mlflow.store.db import utils

    path = tmp_path_factory.mktemp("mlflow-migrated") / "mlflow.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:  # before the patch below (which depends on this fixture): MLflow's own migration
        utils._initialize_tables(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(scope="session", autouse=True)
def _new_mlflow_sqlite_stores_start_migrated(migrated_mlflow_db) -> Iterator[None]:
    """Every MLflow SQLite store a test creates in this process starts as a copy of
    :func:`migrated_mlflow_db` (sqlite's backup API) instead of re-running the migrations;
    other databases, and the subprocesses the integration tests start, migrate as usual (the
    integration homes copy the migrated file themselves). The copy is the same schema MLflow
    would build: the tests still check the product against a real, current store."""
    import sqlite3

    from mlflow.store.db import utils
    from mlflow.store.model_registry import sqlalchemy_store as registry_store

    original = utils._initialize_tables

    def initialize(engine) -> None:
        if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
            return original(engine)
        template = sqlite3.connect(migrated_mlflow_db)
        connection = engine.raw_connection()
        try:
            template.backup(connection.driver_connection)
        finally:
            connection.close()
            template.close()

    utils._initialize_tables = registry_store._initialize_tables = initialize
    yield
    utils._initialize_tables = registry_store._initialize_tables = original


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real data folder {SHARED_DATA}, absent on this machine")
    return SHARED_DATA


@pytest.fixture(scope="session")
def text_model_cache_dir(tmp_path_factory) -> Path:
    """Where the exported ONNX text model is kept: one export (and int8 quantization, tens
    of seconds) per test session, shared by every test that embeds captions with it."""
    return tmp_path_factory.mktemp("onnx_models")


@pytest.fixture(scope="session")
def demo_posts() -> pd.DataFrame:
    """1,500 seeded demo posts (canonical schema); treat as read-only."""
    from pipelines.collect.demo_data import generate_posts

    return generate_posts(1500, accounts=25, seed=7)


#: A fast promotion gate for tests on small holdouts.
SEGMENT_GATE = {"resamples": 300, "confidence": 0.9, "seed": 1, "min_delta": 0.0,
                "non_inferiority_margin": 0.05}


def settings_for_test(overrides: dict | None = None):
    """The project's params.yaml with dotted ``overrides`` (what a trigger form sends)."""
    from pipelines.config import load_settings

    return load_settings(PROJECT_ROOT / "params.yaml", overrides or {})


def train_segments_for_test(root: Path, gate: dict, **kwargs) -> dict:
    """The segments stage's training step on a :func:`segment_run` folder (``kwargs``:
    segment_key, min_samples, min_holdout, only; the rest as params.yaml says)."""
    from pipelines.config import PromoteConfig
    from pipelines.segments.training import run_train_segments
    from pipelines.tasks import get_task

    options = {"segment_key": "campaign_id", "min_samples": 20, "min_holdout": 10,
               "only": (), **kwargs}
    return run_train_segments(
        get_task("likes"), root / "features.parquet", root / "models", root / "metrics.json",
        kwargs.pop("segments_path", root / "segments.json"), root / "segment_models",
        gate=PromoteConfig(**gate), seed=1, model_cache_dir=root / "cache",
        **{k: v for k, v in options.items() if k != "segments_path"})


def _boosted_campaign_posts() -> pd.DataFrame:
    """Demo posts where one campaign's posts do 40x better: only its own model can know."""
    from pipelines.collect.demo_data import generate_posts

    posts = generate_posts(2400, accounts=30, seed=5)
    boosted = posts["campaign_id"] == posts["campaign_id"].value_counts().index[0]
    posts.loc[boosted, "likes"] = (posts.loc[boosted, "likes"] * 40).astype("Int64")
    return posts


@pytest.fixture(scope="session")
def segment_run(tmp_path_factory):
    """A trained and evaluated global model (LightGBM) on :func:`boosted_campaign_posts`."""
    from pipelines.config import FeatureSettings
    from pipelines.evaluate.stage import run_evaluate
    from pipelines.features.stage import run_features
    from pipelines.train.stage import run_train

    root = tmp_path_factory.mktemp("segments")
    _boosted_campaign_posts().to_parquet(root / "posts.parquet")
    run_features(root / "posts.parquet", root / "features.parquet", settings=FeatureSettings())
    run_train(root / "features.parquet", root / "models", target="likes",
              models=("lightgbm",), hyperparameters={"lightgbm": {"n_estimators": 60}},
              seed=1, valid_fraction=0.15, test_fraction=0.25,
              cold_account_fraction=0.2, history_dropout=0.3, cv_folds=0, scale=SCALE)
    run_evaluate(root / "features.parquet", root / "models", root / "metrics.json")
    return root


@pytest.fixture(scope="session")
def make_settings():
    """:func:`settings_for_test`: params.yaml with dotted overrides."""
    return settings_for_test


@pytest.fixture(scope="session")
def train_segments():
    """:func:`train_segments_for_test`: the segments stage's training step."""
    return train_segments_for_test


@pytest.fixture(scope="session")
def segment_gate() -> dict:
    return dict(SEGMENT_GATE)


@pytest.fixture(scope="session")
def boosted_campaign() -> str:
    """The campaign of :func:`segment_run` whose posts do 40x better."""
    return str(_boosted_campaign_posts()["campaign_id"].value_counts().index[0])


def _ridge_champion(paths, *, tracking_uri: str, model_name: str, experiment: str = "test",
                    run_key: str = "run-1", seed: int = 1) -> dict:
    """Train, evaluate and register a ridge model on ``paths.validated_posts`` (already
    written) and make it ``@champion`` (register sets ``@challenger``; the promotion gate
    would promote it — here what is tested is what happens to a champion)."""
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks import get_task

    task = get_task("likes")
    settings = settings_for_test({
        "train.models": ["ridge"], "train.seed": seed, "train.cv_folds": 0,
        "register.model_name": model_name, "register.experiment": experiment})
    task.features(paths, settings)
    task.train(paths, settings)
    task.evaluate(paths, settings)
    with tracking_uri_env(tracking_uri):
        record = run_register(task, paths, settings, run_key=run_key)
    move_alias(model_name, "champion", record["version"], actor="setup",
               reason="the monitored model")
    return record


@contextmanager
def tracking_uri_env(uri: str) -> Iterator[None]:
    """``MLFLOW_TRACKING_URI`` = ``uri`` inside the block (stages read it from the paths)."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def tracking_env():
    """:func:`tracking_uri_env`: point the stages at a test's MLflow store."""
    return tracking_uri_env


@pytest.fixture(scope="session")
def ridge_champion():
    """:func:`_ridge_champion`: a registered ridge ``@champion`` on the validated posts."""
    return _ridge_champion


#: The demo sessions of the conversion champion (small: the fixture trains in seconds).
CONVERSION_DEMO_ROWS = 2000
CONVERSION_AS_OF = pd.Timestamp("2026-12-01", tz="UTC")


def _conversion_champion(root: Path, *, tracking_uri: str,
                         families: tuple[str, ...] = ("logistic_regression", "lightgbm")
                         ) -> dict:
    """Demo sessions through the conversion task's stage hooks (collect → evaluate), one
    registration per family with ``run_register``: version 1 (the first family) is made
    ``@champion``, the last registered version stays ``@challenger``. The project's
    contracts, data and MLflow store under ``root`` (``engagement-conversion``)."""
    from pipelines.paths import ProjectPaths
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks import get_task

    task = get_task("conversion")
    paths = ProjectPaths(root=PROJECT_ROOT, state=root / ".engageflow", data=root / "data")
    base = {"train.task": "conversion", "conversion.demo_rows": CONVERSION_DEMO_ROWS,
            "register.experiment": "conversion-test"}
    settings = settings_for_test(base)
    task.collect(paths, settings)
    task.validate(paths, settings, as_of=CONVERSION_AS_OF, reports=False)
    task.features(paths, settings)
    versions = {}
    with tracking_uri_env(tracking_uri):
        for family in families:
            settings = settings_for_test({**base, "train.models": [family]})
            task.train(paths, settings)
            task.evaluate(paths, settings)
            record = run_register(task, paths, settings, run_key=f"conversion-{family}")
            versions[family] = record["version"]
            if len(versions) == 1:
                move_alias(record["model_name"], "champion", record["version"], actor="setup",
                           reason="the served and monitored model")
    return {"paths": paths, "tracking_uri": tracking_uri, "model_name": record["model_name"],
            "versions": versions, "settings": settings_for_test(base)}


@pytest.fixture(scope="session")
def conversion_champion(tmp_path_factory) -> dict:
    """A registered conversion model on ~2,000 demo sessions (:func:`_conversion_champion`):
    ``paths`` (validated sessions in ``paths.validated("sessions")``), ``tracking_uri``,
    ``model_name``, ``versions`` by family, ``settings`` (train.task conversion)."""
    root = tmp_path_factory.mktemp("conversion")
    return _conversion_champion(root, tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
