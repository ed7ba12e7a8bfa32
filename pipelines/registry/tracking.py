"""MLflow tracking helpers: the store, the experiment, one parent run per pipeline run."""

from __future__ import annotations

import logging
import math
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

#: Model version tag: the newest label the version learned from (the gate never judges a
#: champion on rows up to it; segment models record it too).
TRAINED_THROUGH_TAG = "engageflow.trained_through"

#: Model version tag: the ``features.maturity_hours`` the version was trained with. Its
#: outcomes mean what that horizon made them (account history, targets), so monitoring and
#: segment retraining judge it by this, not by today's params (:func:`trained_maturity_hours`).
MATURITY_TAG = "engageflow.maturity_hours"

RUN_KEY_TAG = "engageflow.run_key"
CANDIDATE_TAG = "engageflow.candidate"
#: MLflow 3's experiment kind: ``custom_model_development`` marks a training experiment (not
#: GenAI). The tag alone does not make the UI open the runs: it may still open the GenAI
#: overview, so every experiment link EngageFlow prints carries :data:`CLASSIC_VIEW_QUERY`.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
#: The MLflow UI query parameter that opens an experiment on the classic machine-learning
#: view (runs, metrics, models) instead of the GenAI overview.
CLASSIC_VIEW_QUERY = "workflowType=machine_learning"


def experiment_url(ui: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI link (``ui``: its address) of an experiment, or of one of its runs,
    that opens on the classic machine-learning view (:data:`CLASSIC_VIEW_QUERY`)."""
    run = f"/runs/{run_id}" if run_id else ""
    return f"{ui}/#/experiments/{experiment_id}{run}?{CLASSIC_VIEW_QUERY}"


def experiment_links(ui: str) -> list[str]:
    """One line per experiment of the current tracking store: its name and
    :func:`experiment_url` (what ``make mlflow-ui`` prints before the UI starts)."""
    from mlflow import MlflowClient

    return [f"{experiment.name}: {experiment_url(ui, experiment.experiment_id)}"
            for experiment in MlflowClient().search_experiments()]


def trained_maturity_hours(tag: str | None, *, configured: float, model: str) -> float:
    """The maturity horizon (hours) a registered version was trained with: its
    :data:`MATURITY_TAG` value ``tag``; ``configured`` (``features.maturity_hours`` today)
    only when the version has none (registered before the tag, or no such version). Logs
    at INFO which one it used; ``model`` names the version in the log and the error.

    Raises:
        ValueError: if the tag is not a finite number >= 0, naming the model, tag and value.
    """
    if tag is None or not str(tag).strip():
        logger.info("%s has no %s tag: outcomes mature after features.maturity_hours = %s h "
                    "(params)", model, MATURITY_TAG, configured)
        return float(configured)
    try:
        hours = float(tag)
    except ValueError:
        hours = -1.0
    if not (math.isfinite(hours) and hours >= 0):
        raise ValueError(f"trained_maturity_hours: {model}'s tag {MATURITY_TAG!r} must be a "
                         f"finite number >= 0; got {tag!r}.")
    if hours != configured:
        logger.info("%s was trained with %s = %s h: outcomes mature after that, not after "
                    "features.maturity_hours = %s h (params)", model, MATURITY_TAG, hours,
                    configured)
    else:
        logger.info("%s was trained with %s = %s h (as params say): outcomes mature after "
                    "that", model, MATURITY_TAG, hours)
    return hours


def connect(tracking_uri: str) -> None:
    """Point MLflow tracking and the registry at ``tracking_uri``."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def ensure_experiment(name: str, artifact_root: Path) -> str:
    """Return the id of experiment ``name``, creating it with a local artifact store; the
    experiment is tagged as custom model development (:data:`EXPERIMENT_KIND`). The tag
    does not make the MLflow UI open on its runs: links to it use :func:`experiment_url`.

    Against a tracking server (``http(s)://``) the server owns the artifact store (its
    proxied ``mlflow-artifacts:/`` folder or S3): a local path would land on whichever
    machine ran the task, out of reach of the server, the UI and the serving API.
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:  # made by an older version
            client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG,
                                      EXPERIMENT_KIND)
        return found.experiment_id
    kind = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    if mlflow.get_tracking_uri().startswith(("http://", "https://")):
        return client.create_experiment(name, tags=kind)
    artifact_root.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=artifact_root.resolve().as_uri(),
                                    tags=kind)


def parent_run_id(experiment_id: str, run_key: str, run_name: str) -> str:
    """The id of the parent run tagged with ``run_key``, created on first use.

    Every task of one pipeline run calls this, so retries and later tasks log into the same
    run instead of creating new ones.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    existing = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'", max_results=1
    )
    if existing:
        return existing[0].info.run_id
    run = client.create_run(experiment_id, run_name=run_name, tags={RUN_KEY_TAG: run_key})
    return run.info.run_id


def child_run_id(experiment_id: str, parent_id: str, candidate: str) -> str:
    """The id of the parent's child run for ``candidate``, created on first use."""
    from mlflow import MlflowClient

    client = MlflowClient()
    existing = client.search_runs(
        [experiment_id],
        filter_string=(f"tags.`mlflow.parentRunId` = '{parent_id}' and "
                       f"tags.`{CANDIDATE_TAG}` = '{candidate}'"),
        max_results=1,
    )
    if existing:
        return existing[0].info.run_id
    run = client.create_run(
        experiment_id, run_name=candidate,
        tags={"mlflow.parentRunId": parent_id, CANDIDATE_TAG: candidate},
    )
    return run.info.run_id


def git_commit(root: Path) -> str:
    """The project's current git commit, or ``unknown`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def log_validation_run(
    *,
    tracking_uri: str,
    artifact_root: Path,
    experiment: str,
    run_key: str,
    report_path: Path,
    reports_dir: Path | None,
) -> str:
    """Log a validation report (counts as metrics; JSON, Data Docs, exploration report as
    artifacts) into the parent run of ``run_key``. Returns the run id."""
    import json

    import mlflow

    connect(tracking_uri)
    experiment_id = ensure_experiment(experiment, artifact_root)
    run_id = parent_run_id(experiment_id, run_key, run_name=run_key)
    report = json.loads(report_path.read_text())
    with mlflow.start_run(run_id=run_id):
        metrics = {"validation_rows_in": report["rows_in"],
                   "validation_rows_accepted": report["rows_accepted"],
                   "validation_rows_quarantined": report["rows_quarantined"]}
        if "quality" in report:  # the posts contract scores quality; not every entity's does
            metrics["validation_quality_score"] = report["quality"]["score"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(report_path), artifact_path="validation")
        if reports_dir is not None and reports_dir.exists():
            mlflow.log_artifacts(str(reports_dir), artifact_path="validation")
    return run_id


def pip_requirements() -> list[str]:
    """The registered models' requirements, pinned to this environment (MLflow would
    otherwise infer them in a subprocess, ~7 s a model)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in
            ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "engageflow")]
