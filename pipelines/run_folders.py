"""Finding the data folders of finished training runs.

Each Airflow training run writes its layers to its own folder (``.engageflow/runs/<run>``,
:meth:`pipelines.paths.ProjectPaths.for_run`); the CLI and ``dvc repro`` write to
``data/``. A run is finished once it registered a model (``05_reporting/registration.json``).
The drift check reads the rows a champion was trained on from here when the collection
store is empty, and batch scoring the newest run's rows when its form names no input: both
work right after ``make run``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

REGISTRATION = Path("05_reporting") / "registration.json"
MANIFEST = Path("04_models") / "manifest.json"


def finished_runs(paths: ProjectPaths) -> list[Path]:
    """Data folders of the finished Airflow runs under ``paths.state/runs``, oldest first
    (by when they registered)."""
    runs = [p for p in (paths.state / "runs").glob("*") if (p / REGISTRATION).is_file()]
    return sorted(runs, key=lambda p: (p / REGISTRATION).stat().st_mtime)


def run_task(folder: Path) -> str | None:
    """The task a run folder trained (its models manifest), None if it records none."""
    manifest = folder / MANIFEST
    return json.loads(manifest.read_text()).get("task") if manifest.is_file() else None


def newest_run(paths: ProjectPaths, task: str) -> ProjectPaths | None:
    """The paths of the newest finished Airflow run that trained ``task``, None if none."""
    for folder in reversed(finished_runs(paths)):
        if run_task(folder) == task:
            return replace(paths, data=folder)
    return None


def run_of_version(paths: ProjectPaths, model_name: str, version: str) -> ProjectPaths | None:
    """The paths of the run that registered ``model_name`` version ``version``: an Airflow
    run folder or ``paths.data`` (the CLI, ``dvc repro``); None if no folder records it
    (another machine registered it, or the folder was cleaned)."""
    for folder in [paths.data, *reversed(finished_runs(paths))]:
        registration = folder / REGISTRATION
        if not registration.is_file():
            continue
        record = json.loads(registration.read_text())
        if record.get("model_name") == model_name and str(record.get("version")) == str(version):
            return replace(paths, data=folder)
    return None
