"""Helpers of the task tests: a stand-in for the typed settings and a project in tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.paths import ProjectPaths

PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: The run's logical date in every test.
AS_OF = pd.Timestamp("2026-12-01", tz="UTC")


def real_settings(*, models: tuple[str, ...] = (), train_seed: int = 1,
                  min_rows: int = 100, max_quarantine_rate: float = 0.05,
                  **conversion: Any) -> Any:
    """The project's params.yaml with task conversion and these values, as a trigger form
    would set them (``conversion``: keys of the task's own section)."""
    from pipelines.config import load_settings

    return load_settings(PROJECT_ROOT / "params.yaml", {
        "train.task": "conversion", "train.models": list(models), "train.seed": train_seed,
        "validate.min_rows": min_rows, "validate.max_quarantine_rate": max_quarantine_rate,
        **{f"conversion.{key}": value for key, value in conversion.items()}})


def project_in(folder: Path) -> ProjectPaths:
    """The project's paths (suites from the checkout) with data and state under ``folder``."""
    return ProjectPaths(root=PROJECT_ROOT, state=folder / ".engageflow", data=folder / "data")


@pytest.fixture(name="make_settings", scope="session")
def make_settings_fixture():
    return real_settings


@pytest.fixture(name="make_project", scope="session")
def make_project_fixture():
    return project_in


@pytest.fixture(scope="session")
def as_of() -> pd.Timestamp:
    return AS_OF


@pytest.fixture(scope="session")
def suites() -> tuple[dict, dict]:
    """(row suite, table suite) of the sessions contract."""
    from pipelines.validate.expectations import load_suite

    return (load_suite(PROJECT_ROOT / "expectations" / "sessions_row_contract.json"),
            load_suite(PROJECT_ROOT / "expectations" / "sessions_table_contract.json"))
