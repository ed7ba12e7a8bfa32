"""Fixtures of the integration tests: an isolated, migrated Airflow home."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow_helpers import airflow_env, run_airflow


@pytest.fixture(scope="session")
def migrated_airflow_db(tmp_path_factory, project_root) -> Path:
    """An Airflow metadata database after ``airflow db migrate``, made once a session: a
    migration takes seconds (tens under load) and its result is the same for every module."""
    home = tmp_path_factory.mktemp("airflow-migrated")
    run_airflow(["db", "migrate"], airflow_env(project_root, home))
    return home / "airflow" / "airflow.db"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory, project_root, migrated_airflow_db, migrated_mlflow_db
                 ) -> tuple[Path, dict[str, str]]:
    """A migrated Airflow home for this module: (folder, environment). Its Airflow and
    MLflow databases are fresh copies of the session's migrated ones, so modules never see
    each other's runs and no task process re-runs MLflow's migrations."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_env(project_root, home)
    shutil.copyfile(migrated_airflow_db, home / "airflow" / "airflow.db")
    mlflow_db = Path(env["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    mlflow_db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_mlflow_db, mlflow_db)
    return home, env
