"""One ridge champion for the monitor tests, registered the way `make run` leaves it: trained
in a finished run's folder (``.engageflow/runs/<run>``) with the collection store empty.
Package-scoped: registering costs most of these tests' time."""

from __future__ import annotations

import shutil

import pytest

from pipelines.collect.demo_data import generate_posts
from pipelines.paths import ProjectPaths

#: The champion's registered model and experiment (test_stage.MODEL).
DEMO_MODEL, DEMO_EXPERIMENT = "engagement-likes-drift", "test"
DEMO_RUN = "manual__2026-12-01T10_00_00_00_00"


@pytest.fixture(scope="package")
def demo_champion(tmp_path_factory, ridge_champion, project_root):
    """``{"root", "run", "posts", "tracking_uri"}``: a project whose only data is one
    finished training run (3000 seeded demo posts), its champion registered from there."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(project_root / "params.yaml", root / "params.yaml")
    state = root / ".engageflow"
    run = ProjectPaths(root=root, state=state, data=state / "runs" / DEMO_RUN)
    run.validated_posts.parent.mkdir(parents=True)
    posts = generate_posts(3000, accounts=40, seed=3)
    posts.to_parquet(run.validated_posts)
    uri = f"sqlite:///{state / 'mlflow.db'}"
    ridge_champion(run, tracking_uri=uri, model_name=DEMO_MODEL, experiment=DEMO_EXPERIMENT)
    return {"root": root, "run": run, "posts": posts, "tracking_uri": uri}
