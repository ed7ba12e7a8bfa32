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
def airflow_home(tmp_path_factory, project_root, migrated_airflow_db
                 ) -> tuple[Path, dict[str, str]]:
    """A migrated Airflow home for this module: (folder, environment). Its database is a
    fresh copy of the session's migrated one, so modules never see each other's runs."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_env(project_root, home)
    shutil.copyfile(migrated_airflow_db, home / "airflow" / "airflow.db")
    return home, env
