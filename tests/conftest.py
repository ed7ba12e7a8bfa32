"""Shared fixtures: tiny demo data, the project root, the shared real-data folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


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


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real data folder {SHARED_DATA}, absent on this machine")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_posts() -> pd.DataFrame:
    """1,500 seeded demo posts (canonical schema); treat as read-only."""
    from pipelines.collect.demo_data import generate_posts

    return generate_posts(1500, accounts=25, seed=7)
