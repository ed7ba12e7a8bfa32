"""Register a learned session segmenter in MLflow like any model: a run with the k
comparison (silhouette, Davies-Bouldin, bootstrap stability per k), the segment profiles
(table and plot) and the fitted :class:`~pipelines.segments.session_segmentation.
SessionSegmenter` as a registered version whose ``predict`` assigns a segment."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from pipelines.registry import tracking

logger = logging.getLogger(__name__)


def register_segmenter(model: Any, *, comparison: dict[str, Any], profiles: pd.DataFrame,
                       figure: Any, example: pd.DataFrame, model_name: str,
                       experiment: str, description: str) -> dict[str, Any]:
    """Log one run and register ``model`` as a new version of ``model_name``, with
    ``description`` (a model card: data, features, k rule, the segments) on the version.
    The profiles (with their ``name`` column) are logged as ``segments/profiles.json``,
    which the serving assign route reads.

    Returns:
        ``{"model_name", "version", "run_id", "chosen_k"}``.
    """
    import mlflow
    from mlflow.models import infer_signature

    # by id, not mlflow.set_experiment: that sets a process-wide active experiment, and a
    # later start_run(run_id=...) of another experiment in the same process then fails
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"segments-k{comparison['chosen_k']}") as run:
        mlflow.log_params({"n_clusters": model.n_clusters, "n_components": model.n_components,
                           "seed": model.seed, "k_rule": comparison["rule"]})
        for k, values in comparison["per_k"].items():
            mlflow.log_metrics({f"k{k}_{name}": value for name, value in values.items()})
        mlflow.log_metrics({"explained_variance": float(model.explained_variance_.sum())})
        mlflow.log_dict({"per_k": {str(k): v for k, v in comparison["per_k"].items()},
                         "chosen_k": comparison["chosen_k"], "rule": comparison["rule"]},
                        "segments/k_comparison.json")
        mlflow.log_text(profiles.to_csv(), "segments/profiles.csv")
        mlflow.log_text(profiles.reset_index().to_json(orient="records", indent=2),
                        "segments/profiles.json")
        mlflow.log_text(description, "segments/model_card.md")
        mlflow.log_figure(figure, "segments/profiles.png")
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(example, model.predict(example)),
            pip_requirements=tracking.pip_requirements(), registered_model_name=model_name,
            # a project class: skops (MLflow's default format) refuses it unless trusted
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    mlflow.MlflowClient().update_model_version(model_name, str(info.registered_model_version),
                                               description=description)
    record = {"model_name": model_name, "version": str(info.registered_model_version),
              "run_id": run.info.run_id, "chosen_k": comparison["chosen_k"]}
    logger.info("register_segmenter: %s version %s (k=%d), run %s", model_name,
                record["version"], record["chosen_k"], record["run_id"])
    return record


def load_newest_segmenter(model_name: str) -> tuple[Any, str]:
    """(the newest registered version of ``model_name``, its version).

    Raises:
        LookupError: when ``model_name`` has no version, naming the command that registers
            one.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        versions = mlflow.MlflowClient().search_model_versions(f"name='{model_name}'")
    except MlflowException:
        versions = []
    if not versions:
        raise LookupError(f"no version of the session segmenter {model_name!r} is registered; "
                          f"run `engageflow segment-sessions` first (after collect and validate "
                          f"with train.task=conversion).")
    newest = max(versions, key=lambda v: int(v.version))
    model = mlflow.sklearn.load_model(f"models:/{model_name}/{newest.version}")
    logger.info("load_newest_segmenter: %s version %s", model_name, newest.version)
    return model, str(newest.version)
