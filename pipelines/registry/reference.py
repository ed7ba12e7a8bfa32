"""The champion's reference data: recorded with the model, loaded back through its alias.

Drift is judged against the data the current champion learned from. At registration a
time-ordered sample of the model's training rows (the task's ``drift_reference``: model
input columns, the task's time column and the target) is logged as the artifact
:data:`REFERENCE_ARTIFACT` of the model's MLflow run; :func:`load_champion` finds the
alias, loads the model and that sample, and the champion's offline test metrics.

Beside it, :data:`CALIBRATION_ARTIFACT` stores the reference's drift-threshold calibration
(:func:`log_calibration`, computed once at registration with ``monitor``'s settings), so the
weekly check only scores its window; a model registered without one is calibrated at
check time, as before. :data:`ESTIMATOR_ARTIFACT` stores the estimator of the model's
performance before labels arrive (:func:`log_performance_estimator`: CBPE or DLE, fitted on
the held-out test rows); a model registered without one gets no estimate.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitor.calibration import Calibration

logger = logging.getLogger(__name__)

REFERENCE_ARTIFACT = "reference/reference.parquet"
CALIBRATION_ARTIFACT = "reference/calibration.json"
ESTIMATOR_ARTIFACT = "reference/performance_estimator.json"
#: Reference rows kept with a model by default: enough for stable calibration chunks.
DEFAULT_REFERENCE_ROWS = 50_000


def reference_sample(rows: pd.DataFrame, *, target: str, time_column: str, max_rows: int,
                     seed: int) -> pd.DataFrame:
    """``rows`` (a task's drift reference: model input columns + target), at most
    ``max_rows`` (a seeded sample), in time order.

    Raises:
        ValueError: if ``max_rows`` < 1 or the target column is absent.
    """
    if max_rows < 1:
        raise ValueError(f"reference_sample: 'max_rows' must be >= 1; got {max_rows}.")
    if target not in rows.columns:
        raise ValueError(f"reference_sample: target column {target!r} is not in the rows.")
    if len(rows) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
        rows = rows.iloc[keep]
    out = rows.copy()
    out[target] = pd.to_numeric(rows[target]).to_numpy(dtype="float64")
    return out.sort_values(time_column, kind="stable").reset_index(drop=True)


def log_reference(rows: pd.DataFrame, *, target: str, time_column: str, max_rows: int,
                  seed: int) -> pd.DataFrame:
    """Log the reference sample of ``rows`` into the active MLflow run; returns it as
    :func:`load_champion` will read it back."""
    import mlflow

    sample = reference_sample(rows, target=target, time_column=time_column,
                              max_rows=max_rows, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(REFERENCE_ARTIFACT).name
        sample.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
        stored = pd.read_parquet(path)
    mlflow.set_tag("engageflow.reference_rows", str(len(sample)))
    return stored


def log_calibration(task: Any, model: Any, reference: pd.DataFrame, *, chunks: int,
                    quantile: float, safety_factor: float, min_effect: dict[str, float],
                    calibration_rows: int, seed: int) -> Calibration:
    """Calibrate the drift thresholds of ``reference`` (as :func:`log_reference` returned
    it) judged through ``model`` and log them into the active MLflow run as
    :data:`CALIBRATION_ARTIFACT`: the weekly check then only scores its window.

    Args:
        task: The model's task (its ``drift_frame`` and time column: what the check
            judges).
        model: The registered model (its predictions are a judged column).
        Others: ``monitor``'s settings (:class:`pipelines.config.MonitorConfig`); a check
            run with other settings calibrates itself.
    """
    import mlflow

    from pipelines.monitor.drift import reference_calibration

    frame = task.drift_frame(model, reference, outcome_known=None)
    calibration = reference_calibration(
        frame, chunks=chunks, quantile=quantile, safety_factor=safety_factor,
        min_effect=min_effect, calibration_rows=calibration_rows, seed=seed,
        reference_time=reference[task.input.time_column])
    mlflow.log_dict(calibration.to_dict(), CALIBRATION_ARTIFACT)
    logger.info("reference calibration stored: %d columns, %d chunks of %d rows",
                len(calibration.thresholds), calibration.chunks, calibration.chunk_rows)
    return calibration


def log_performance_estimator(task: Any, model: Any, rows: pd.DataFrame, *, seed: int
                              ) -> Any:
    """Fit ``task``'s performance estimator (:meth:`pipelines.tasks.base.Task.
    performance_estimator`) on ``rows`` judged through ``model`` and log it into the active
    MLflow run as :data:`ESTIMATOR_ARTIFACT`; returns it (None: the task has none, or the
    rows cannot support one, logged as a warning: the model is still registered).

    Args:
        task: The model's task.
        model: A model that did not learn from ``rows`` (the registered candidate, fitted
            without its test rows): its errors there are the errors to expect on new rows.
        rows: Held-out rows with known outcomes (the run's test rows).
        seed: Seed of the estimator (``monitor.seed``).
    """
    import mlflow

    from pipelines.monitor.drift import TARGET

    estimator = task.performance_estimator(seed=seed)
    if estimator is None:
        return None
    frame = task.drift_frame(model, rows, outcome_known=None)
    frame = frame[frame[TARGET].notna()].reset_index(drop=True)
    try:
        estimator.fit(frame)
    except ValueError as error:
        logger.warning("performance estimator (%s) not stored: %s", estimator.method, error)
        return None
    mlflow.log_dict(estimator.to_dict(), ESTIMATOR_ARTIFACT)
    logger.info("performance estimator stored: %s fitted on %d held-out rows",
                estimator.method, len(frame))
    return estimator


@dataclass
class Champion:
    """The model behind an alias and what monitoring needs of it.

    Attributes:
        model: The registered scikit-learn pipeline (featurizer + model).
        reference: Its training-data sample (model inputs, time column, target).
        name, alias, version, run_id: Where it came from.
        target: The outcome it predicts.
        task: The task it was registered for (None: registered without the tag).
        offline: Its offline test metrics, without the ``test_`` prefix (``mae_log``,
            ``<platform>_mae_log``, ``log_loss``, ...).
        calibration: The reference's drift calibration stored at registration (None: a
            model registered before it was stored; the check calibrates).
        performance_estimator: Its estimator of performance before labels arrive
            (:mod:`pipelines.monitor.estimated_performance`; None: none stored).
        tags: Its model version tags (``engageflow.maturity_hours``: the maturity horizon
            it was trained with).
    """

    model: Any
    reference: pd.DataFrame
    name: str
    alias: str
    version: str
    run_id: str
    target: str
    task: str | None = None
    offline: dict[str, float] = field(default_factory=dict)
    calibration: Calibration | None = None
    performance_estimator: Any = None
    tags: dict[str, str] = field(default_factory=dict)


def load_champion(*, tracking_uri: str, model_name: str, alias: str,
                  version: str | None = None) -> Champion:
    """Load ``model_name@alias``, its reference sample and its offline test error.

    Args:
        version: Load this version instead of the one the alias points to now (a later
            task describing what an earlier one judged, after the alias may have moved).

    Raises:
        ValueError: if the alias or version does not exist, or the version has no
            reference artifact (registered before references were recorded: retrain to
            record one).
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipelines.registry import tracking

    tracking.connect(tracking_uri)
    client = MlflowClient()
    wanted = f"{model_name}@{alias}" if version is None else f"{model_name} version {version}"
    try:
        found = (client.get_model_version_by_alias(model_name, alias) if version is None
                 else client.get_model_version(model_name, str(version)))
    except MlflowException as error:
        raise ValueError(f"load_champion: no model '{wanted}' in {tracking_uri} "
                         f"(train and register one first): {error}") from None
    try:
        with tempfile.TemporaryDirectory() as folder:
            local = mlflow.artifacts.download_artifacts(
                run_id=found.run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=folder)
            reference = pd.read_parquet(local)
    except (MlflowException, OSError) as error:
        raise ValueError(f"load_champion: '{model_name}' version {found.version} (run "
                         f"{found.run_id}) has no '{REFERENCE_ARTIFACT}' artifact; it was "
                         f"registered before reference data was recorded: {error}") from None
    try:
        calibration = Calibration.from_dict(mlflow.artifacts.load_dict(
            f"runs:/{found.run_id}/{CALIBRATION_ARTIFACT}"))
    except (MlflowException, OSError):  # registered before calibrations were stored
        calibration = None
    try:
        from pipelines.monitor.estimated_performance import load_estimator

        estimator = load_estimator(mlflow.artifacts.load_dict(
            f"runs:/{found.run_id}/{ESTIMATOR_ARTIFACT}"))
    except (MlflowException, OSError):  # registered without one
        estimator = None
    # by version, not alias: the model and its reference must be the same version even
    # if the alias moves meanwhile
    model = mlflow.sklearn.load_model(f"models:/{model_name}/{found.version}")
    metrics = client.get_run(found.run_id).data.metrics
    offline = {key.removeprefix("test_"): value for key, value in metrics.items()
               if key.startswith("test_")}
    tags = found.tags or {}
    target = tags.get("engageflow.target") or "likes"
    logger.info("champion: %s version %s (@%s, task %s), %d reference rows", model_name,
                found.version, alias, tags.get("engageflow.task"), len(reference))
    return Champion(model=model, reference=reference, name=model_name, alias=alias,
                    version=str(found.version), run_id=found.run_id, target=target,
                    task=tags.get("engageflow.task"), offline=offline,
                    calibration=calibration, performance_estimator=estimator,
                    tags=dict(tags))
