"""Fixtures of the integration tests: an isolated, migrated Airflow home."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow_helpers import airflow_env, run_airflow


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory, project_root) -> tuple[Path, dict[str, str]]:
    """A migrated Airflow home for this module: (folder, environment)."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_env(project_root, home)
    run_airflow(["db", "migrate"], env)
    return home, env
