"""Train and score through the product: the stage runner every driver calls, and the
batch scorer behind ``engageflow score``.

Each training run gets its own temporary project (params.yaml and expectations/ copied from
the repository, its own ``.engageflow`` state with an SQLite MLflow store and artifact
folder) and runs every stage of :data:`pipelines.pipeline.PIPELINE` in order, as the
training DAG and ``dvc repro`` do. A stage added to the pipeline runs here unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger("bench.quality")

#: Environment a stage or the scorer reads where state lives (restored after each use).
_PROJECT_ENV = ("ENGAGEFLOW_HOME", "ENGAGEFLOW_STATE", "ENGAGEFLOW_DATA", "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class ProductRun:
    """A project trained through the pipeline and the model version it registered.

    Attributes:
        paths: The project's paths (its data layers and MLflow store).
        settings: The settings it ran with.
        model_uri: ``models:/<name>/<version>`` of the version this run registered.
        stages: Stage name → seconds it took, in pipeline order.
        records: Stage name → the record the stage returned.
    """

    paths: Any
    settings: Any
    model_uri: str
    stages: dict[str, float]
    records: dict[str, dict[str, Any]]


def new_project(root: Path, repo: Path) -> Any:
    """A project at ``root`` with the repository's params.yaml and expectations/; its paths
    as the CLI builds them (caption cache in the feature store), state under ``root``."""
    from pipelines.paths import STATE_DIR_NAME, ProjectPaths

    root.mkdir(parents=True)
    shutil.copy2(repo / "params.yaml", root / "params.yaml")
    shutil.copytree(repo / "expectations", root / "expectations")
    base = ProjectPaths(root=root.resolve(), state=(root / STATE_DIR_NAME).resolve(),
                        data=(root / "data").resolve())
    return replace(base, caption_cache=base.feature_table("caption_embeddings"))


@contextmanager
def project_environment(paths: Any) -> Iterator[None]:
    """``ENGAGEFLOW_HOME`` and the MLflow store of ``paths`` (as the CLI / Makefile set
    them) while the block runs; the previous environment afterwards."""
    saved = {k: os.environ.get(k) for k in _PROJECT_ENV}
    for key in ("ENGAGEFLOW_STATE", "ENGAGEFLOW_DATA"):
        os.environ.pop(key, None)
    os.environ["ENGAGEFLOW_HOME"] = str(paths.root)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{paths.mlflow_db}"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def train_through_pipeline(name: str, *, root: Path, repo: Path, data_file: Path, fmt: str,
                           overrides: Mapping[str, Any], as_of: pd.Timestamp) -> ProductRun:
    """Run every pipeline stage on ``data_file`` in a new project at ``root / name``.

    Args:
        name: The project folder and the run key's suffix.
        root: Where the temporary projects live.
        repo: The repository (params.yaml, expectations/).
        data_file: The carved training file, in its source layout.
        fmt: Its collect format.
        overrides: Dotted params overrides on top of params.yaml (besides collect.*).
        as_of: The run's time (validation's "future post" rule, segment retraining).

    Raises:
        RuntimeError: if the run registered no model version.
    """
    from pipelines.config import load_settings
    from pipelines.pipeline import PIPELINE, RunContext, run_stage

    paths = new_project(root / name, repo)
    settings = load_settings(paths.params_file, {
        "collect.source": "file", "collect.path": str(data_file), "collect.format": fmt,
        **overrides})
    context = RunContext(run_key=f"bench/quality/{name}", as_of=as_of, reports=False)
    stages: dict[str, float] = {}
    records: dict[str, dict[str, Any]] = {}
    with project_environment(paths):
        for step in PIPELINE:
            started = time.perf_counter()
            records[step.name] = run_stage(step.name, paths=paths, settings=settings,
                                           context=context)
            stages[step.name] = round(time.perf_counter() - started, 1)
            logger.info("%s: stage %s done in %.1f s", name, step.name, stages[step.name])
    if not paths.registration.exists():
        raise RuntimeError(f"train_through_pipeline: {name}: no registration record at "
                           f"{paths.registration}; the pipeline registered no model.")
    registration = json.loads(paths.registration.read_text())
    model_uri = f"models:/{registration['model_name']}/{registration['version']}"
    logger.info("%s: registered %s (%s)", name, model_uri,
                records.get("evaluate", {}).get("best", "?"))
    return ProductRun(paths, settings, model_uri, stages, records)


def score_through_product(run: ProductRun, *, input_file: Path, fmt: str, output: Path,
                          history: Any = None) -> pd.DataFrame:
    """Score ``input_file`` with the run's registered version through
    :func:`pipelines.serve.scoring.run_score` (``engageflow score``).

    Returns:
        The predictions file's rows (post_id, account_id, platform, posted_at, prediction).
    """
    from pipelines.collect.formats.source_file import ReadLimits
    from pipelines.serve.scoring import run_score

    with project_environment(run.paths):
        result = run_score(task=run.settings.train.task, model_uri=run.model_uri,
                           input_path=input_file, input_format=fmt, output_path=output,
                           paths=run.paths, history=history,
                           chunk_rows=run.settings.serve.score_chunk_rows,
                           threads=run.settings.serve.score_threads,
                           limits=ReadLimits.from_settings(run.settings.collect))
    scored = pd.read_parquet(output)
    scored.attrs["quarantined"] = result["quarantined"]
    return scored


def fresh_history(run: ProductRun, *, history_file: Path, fmt: str
                  ) -> tuple[pd.DataFrame, Any]:
    """The fresh regime's history: the run's validated posts plus every post of
    ``history_file`` (read by the product's collect format, kept where it meets the serving
    contract), and the product's :class:`FrameHistory` over them.

    Returns:
        (the posts, the history source).
    """
    from pipelines.collect.formats import read_posts
    from pipelines.features.history_source import FrameHistory
    from pipelines.serve.scoring import split_scorable

    validated = pd.read_parquet(run.paths.validated_posts)
    later, _ = split_scorable(read_posts(history_file, fmt).posts)
    posts = pd.concat([validated, later], ignore_index=True)
    posts["posted_at"] = pd.to_datetime(posts["posted_at"], utc=True)
    posts = posts.drop_duplicates(["platform", "post_id"], keep="first")
    return posts, FrameHistory(posts, maturity_hours=run.settings.features.maturity_hours)
