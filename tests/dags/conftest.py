"""Airflow reads its configuration at import: point it at a throw-away home first."""

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="engageflow-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")
