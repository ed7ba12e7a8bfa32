"""Run real Airflow commands against a throw-away home and the project's DAGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def airflow_env(project_root: Path, home: Path) -> dict[str, str]:
    """Environment for an isolated Airflow (SQLite) + MLflow (SQLite) + EngageFlow state."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "ENGAGEFLOW", "MLFLOW"))}
    env.update({
        "ENGAGEFLOW_HOME": str(project_root),
        "ENGAGEFLOW_STATE": str(home / "state"),
        "ENGAGEFLOW_DATA": str(home / "data"),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/state/mlflow.db",
        "HF_HUB_OFFLINE": "1",
    })
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    return env


def run_airflow(args: list[str], env: dict[str, str], check: bool = True
                ) -> subprocess.CompletedProcess:
    """Run the venv's ``airflow`` CLI; on failure (with ``check``) show its output tail."""
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, (f"airflow {args} failed:\n{done.stdout[-4000:]}\n"
                                      f"{done.stderr[-4000:]}")
    return done
