"""Register a served model retrained in part (some of its groups) as the new @champion.

A task that retrains a group of the champion from labelled outcomes
(:meth:`pipelines.tasks.base.Task.retrain_on_outcomes`, e.g. one campaign's model of
feedback_sentiment) changes nothing else: the global model is the champion's, and the
group's new model passed the group's own gate against it. So the result replaces the
champion directly, audited: it is logged as a new run in the champion's experiment and
registered under the same name with the champion's tags (plus
``engageflow.retrained_from``), the old champion becomes ``@previous`` (the rollback) and
``@challenger`` is left alone. The caller must have pointed MLflow at the store
(``tracking.connect``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipelines.registry import audit, tracking

logger = logging.getLogger(__name__)

RETRAINED_FROM_TAG = "engageflow.retrained_from"


def register_retrained(model_name: str, base_version: str, model: Any, example: Any, *,
                       actor: str, reason: str, decision: dict[str, Any]) -> str:
    """Register ``model`` (``base_version`` of ``model_name`` with some groups retrained)
    and make it ``@champion``; the new version.

    Args:
        example: A few model-input rows (signature and input example).
        decision: What was retrained and why, per group (audited, logged as
            ``retrain.json``).
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    client = MlflowClient()
    base = client.get_model_version(model_name, base_version)
    experiment_id = client.get_run(base.run_id).info.experiment_id
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"retrain-of-v{base_version}") as run:
        mlflow.set_tags({RETRAINED_FROM_TAG: str(base_version), "engageflow.actor": actor})
        mlflow.log_dict(json.loads(json.dumps(decision, default=str)), "retrain.json")
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(example, model.predict(example)),
            input_example=example, pip_requirements=tracking.pip_requirements(),
            registered_model_name=model_name,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    version = str(info.registered_model_version)
    for key, value in base.tags.items():
        if key.startswith("engageflow.") and not key.startswith("engageflow.audit"):
            client.set_model_version_tag(model_name, version, key, value)
    client.set_model_version_tag(model_name, version, RETRAINED_FROM_TAG, str(base_version))
    client.set_model_version_tag(model_name, version, "engageflow.run_id", run.info.run_id)
    audit.move_alias(model_name, audit.PREVIOUS, base_version, actor=actor, decision=decision,
                     reason=f"replaced as champion by version {version}: {reason}")
    audit.move_alias(model_name, audit.CHAMPION, version, actor=actor, decision=decision,
                     reason=reason)
    logger.info("registry: %s v%s (retrained from v%s) is @champion: %s", model_name,
                version, base_version, reason)
    return version
