"""The register stage: log the run to MLflow, register the best model as ``@challenger``.

Every new version becomes ``@challenger`` — the first model of a name too — and, when a
champion exists, is compared with it on the same time-ordered test rows. Only the
statistical promotion gate (``pipelines.registry.promotion``, the next task) moves
``@champion``: a first model that fails its absolute thresholds never serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from pipelines.config import Settings
from pipelines.paths import ProjectPaths
from pipelines.registry import audit, model_card, tracking
from pipelines.registry.reference import (
    DEFAULT_REFERENCE_ROWS,
    log_calibration,
    log_performance_estimator,
    log_reference,
)
from pipelines.tasks.base import Task, registered_name

logger = logging.getLogger(__name__)

CHAMPION, CHALLENGER = audit.CHAMPION, audit.CHALLENGER


def file_sha256(path: Path) -> str:
    """Content hash of a file, to tie a model to the exact data it learned from."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_alias_version(model_name: str, alias: str) -> str | None:
    """The version behind ``model_name@alias``, or None if the alias (or model) is absent."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def run_register(task: Task, paths: ProjectPaths, settings: Settings, *, run_key: str,
                 ) -> dict[str, Any]:
    """Stage runner: track the run in MLflow, register the best candidate, set the alias.

    The best candidate's run also keeps a sample of its training rows (the task's
    ``drift_reference``), the reference of drift monitoring.

    Idempotent per ``run_key``: a retried task reuses the parent and child runs and the
    model version it already registered.

    Returns:
        The registration record (also written to ``paths.registration``).
    """
    features_path, models_dir = paths.feature_table(task.table), paths.models
    metrics_path, registration_path = paths.metrics, paths.registration
    validation_report = paths.validation_report
    tracking_uri, artifact_root = paths.tracking_uri, paths.mlflow_artifacts
    experiment = settings.register.experiment
    model_name = registered_name(settings.register.model_name, task)
    params, project_root = settings.params(), paths.root
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    tracking.connect(tracking_uri)
    client = MlflowClient()
    experiment_id = tracking.ensure_experiment(experiment, artifact_root)
    parent = tracking.parent_run_id(experiment_id, run_key, run_name=run_key)
    report = json.loads(metrics_path.read_text())
    manifest = json.loads((models_dir / "manifest.json").read_text())
    data_hash = file_sha256(features_path)
    tags = {"engageflow.data_sha256": data_hash, "engageflow.git_commit":
            tracking.git_commit(project_root),
            "engageflow.feature_set": str(report.get("feature_set_hash")),
            "engageflow.target": report["target"], "engageflow.task": task.name,
            tracking.MATURITY_TAG: str(settings.features.maturity_hours)}

    with mlflow.start_run(run_id=parent):
        mlflow.set_tags(tags)
        mlflow.log_params({f"{section}.{key}": json.dumps(value) if isinstance(value, (list, dict))
                           else value for section, values in params.items()
                           for key, value in values.items()})
        for baseline, parts in report["baselines"].items():
            for part, values in parts.items():
                mlflow.log_metrics({f"baseline_{baseline}_{part}_{k}": v
                                    for k, v in values.items()})
        for baseline, regimes in report.get("baselines_by_regime", {}).items():
            for regime, values in regimes.items():
                mlflow.log_metrics({f"baseline_{baseline}_test_{regime}_{k}": v
                                    for k, v in values.items()})
        mlflow.log_artifact(str(metrics_path))
        if validation_report is not None and validation_report.exists():
            mlflow.log_artifact(str(validation_report))

    train_rows, test_rows = task.holdout(paths)
    example = task.model_input(test_rows.head(5))
    best = report["best"]
    best_child = ""
    for name, metrics in report["candidates"].items():
        child = tracking.child_run_id(experiment_id, parent, name)
        with mlflow.start_run(run_id=child, nested=True):
            mlflow.set_tags(tags)
            mlflow.log_params({f"model.{k}": v for k, v in
                               manifest["candidates"][name]["hyperparameters"].items()})
            mlflow.log_param("model.name", name)
            for part in ("valid", "test"):
                mlflow.log_metrics({f"{part}_{k}": v for k, v in metrics[part].items()})
            for regime, values in metrics.get("test_by_regime", {}).items():
                mlflow.log_metrics({f"test_{regime}_{k}": v for k, v in values.items()
                                    if isinstance(v, int | float)})
            for platform, values in metrics.get("test_by_platform", {}).items():
                if "mae_log" in values:
                    mlflow.log_metrics({f"test_{platform}_{k}": values[k]
                                        for k in ("mae_log", "spearman", "n")})
            for key, value in (metrics.get("cv_mean") or {}).items():
                mlflow.log_metric(f"cv_{key}", value)
            classes = metrics.get("test_popularity_class") or {}
            if "macro_f1" in classes:
                mlflow.log_metrics({"test_class_macro_f1": classes["macro_f1"],
                                    "test_class_accuracy": classes["accuracy"]})
            candidate = manifest["candidates"][name]
            mlflow.log_metric("fit_seconds", candidate["fit_seconds"])
            _log_plots(task, name, joblib.load(models_dir / f"{name}.joblib"), test_rows,
                       candidate, metrics)
            mlflow.log_dict({"feature_importance": candidate.get("feature_importance"),
                             "importance_kind": candidate.get("importance_kind"),
                             "cv": candidate.get("cv"),
                             "popularity_class": metrics.get("test_popularity_class"),
                             "popularity_class_classifier":
                                 metrics.get("test_popularity_class_classifier"),
                             "test_by_platform": metrics.get("test_by_platform")},
                            "evaluation.json")
        if name == best:
            best_child = child

    reference = task.drift_reference(train_rows)
    if reference is not None:
        with mlflow.start_run(run_id=best_child, nested=True):
            # The champion's training data, for drift monitoring (pipelines.monitor).
            reference = log_reference(reference, target=task.target,
                                      time_column=task.input.time_column,
                                      max_rows=DEFAULT_REFERENCE_ROWS, seed=settings.train.seed)
    refit_file = paths.final_model / "refit.json"
    refit = json.loads(refit_file.read_text()) if refit_file.exists() else {"refit": False}
    with mlflow.start_run(run_id=best_child, nested=True):
        mlflow.log_dict(refit, "refit.json")
        mlflow.set_tag("engageflow.refit", str(bool(refit.get("refit"))).lower())
    version = _registered_version(client, model_name, best_child)
    if version is None:
        # the final refit on every matured label where the task refits; the gate's
        # evidence stays the candidate fitted without its holdout (models/<best>.joblib)
        model = joblib.load(paths.final_model / "model.joblib" if refit.get("refit")
                            else models_dir / f"{best}.joblib")
        with mlflow.start_run(run_id=best_child, nested=True):
            info = mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(example, model.predict(example)),
                input_example=example, pip_requirements=tracking.pip_requirements(),
                registered_model_name=model_name,
                # The featurizer holds the frozen account history as a DataFrame, which
                # skops (MLflow's default format) cannot store; cloudpickle can.
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            )
        version = str(info.registered_model_version)
    if reference is not None:
        # once per model, so the weekly drift check only scores its window
        monitor = settings.monitor
        with mlflow.start_run(run_id=best_child, nested=True):
            log_calibration(task, mlflow.sklearn.load_model(f"models:/{model_name}/{version}"),
                            reference, chunks=monitor.chunks, quantile=monitor.quantile,
                            safety_factor=monitor.safety_factor,
                            min_effect=monitor.min_effect.model_dump(),
                            calibration_rows=monitor.calibration_rows, seed=monitor.seed)
            # on the candidate's test rows, which it did not learn from: the estimator
            # learns the errors to expect on new rows
            log_performance_estimator(task, joblib.load(models_dir / f"{best}.joblib"),
                                      test_rows, seed=monitor.seed)
    client.set_model_version_tag(model_name, version, "engageflow.run_key", run_key)
    # the newest label the registered model learned from: a later gate does not judge it
    # on rows it trained on
    through = (refit.get("newest_label") if refit.get("refit")
               else str(train_rows[task.table_time_column].max()))
    client.set_model_version_tag(model_name, version, tracking.TRAINED_THROUGH_TAG, through)
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)

    champion = current_alias_version(model_name, CHAMPION)
    comparison = None
    if champion == version:
        # a register task re-run after the gate promoted this version: leave it champion
        alias = CHAMPION
    else:
        alias = CHALLENGER
        if champion is not None:
            comparison = compare_with_champion(task, model_name, champion, test_rows,
                                               report["candidates"][best]["test"])
        audit.move_alias(model_name, CHALLENGER, version, actor=f"register:{run_key}",
                         reason=("first model of this name awaits the promotion gate "
                                 "(absolute thresholds, naive baseline)" if champion is None
                                 else "new candidate awaits the promotion gate"),
                         metrics=report["candidates"][best]["test"],
                         decision={"comparison": comparison} if comparison else None)
    time = task.table_time_column
    model_card.publish(model_name, version, *model_card.register_card(
        task=task, model_name=model_name, version=version, family=best, report=report,
        manifest=manifest, refit=refit, tags=tags, comparison=comparison,
        champion_version=champion,
        train_window=(str(min(train_rows[time].min(), test_rows[time].min())), str(through)),
        train_rows=int(refit["rows"]) if refit.get("refit") else len(train_rows)))
    record = {
        "model_name": model_name, "version": version, "alias": alias, "candidate": best,
        "run_id": best_child, "parent_run_id": parent, "experiment": experiment,
        "test_metrics": report["candidates"][best]["test"], "champion_version": champion,
        "comparison": comparison, "model_uri": f"models:/{model_name}@{alias}",
        "refit": refit,
        "data_sha256": data_hash,
    }
    registration_path.parent.mkdir(parents=True, exist_ok=True)
    registration_path.write_text(json.dumps(record, indent=2, default=str))
    with mlflow.start_run(run_id=parent):
        mlflow.log_artifact(str(registration_path))
    logger.info("register: %s version %s is @%s", model_name, version, alias)
    return record


def _registered_version(client: Any, model_name: str, run_id: str) -> str | None:
    """The version already registered from ``run_id`` (a retried task), if any."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    except MlflowException:
        return None
    return str(versions[0].version) if versions else None


def compare_with_champion(
    task: Task, model_name: str, champion_version: str, test_rows: pd.DataFrame,
    challenger_test: dict[str, float],
) -> dict[str, Any]:
    """Score the champion on the challenger's test rows; report both side by side."""
    import mlflow

    champion = mlflow.sklearn.load_model(f"models:/{model_name}/{champion_version}")
    champion_test = task.metrics(test_rows[task.target].to_numpy(),
                                 task.predict(champion, test_rows))
    metric = task.selection_metric
    return {
        "champion_version": champion_version, "champion_test": champion_test,
        "challenger_test": challenger_test, "metric": metric,
        "delta": challenger_test[metric] - champion_test[metric],
        "challenger_better": challenger_test[metric] < champion_test[metric],
    }


def _log_plots(task: Task, name: str, model: Any, test_rows: pd.DataFrame,
               candidate: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Log the evaluation plots of one candidate into the active MLflow run."""
    import mlflow

    from pipelines.evaluate import plots

    actual = test_rows[task.target].to_numpy()
    figures = task.figures(name, actual, task.predict(model, test_rows))
    if candidate.get("feature_importance"):
        kind = candidate.get("importance_kind") or "gain"
        figures["plots/feature_importance.png"] = plots.feature_importance(
            candidate["feature_importance"], f"{name}: feature importance ({kind})",
            kind=kind)
    classes = metrics.get("test_popularity_class_classifier") or {}
    if classes.get("reliability"):
        figures["plots/class_calibration.png"] = plots.calibration(
            classes["reliability"], f"{name}: popularity-class calibration")
    for path, figure in figures.items():
        mlflow.log_figure(figure, path, save_kwargs=plots.SAVE_KWARGS)
