"""Segment models in the registry: one registered model per target, one alias per segment.

A platform or campaign/account model that earned its place (``pipelines.segments.training``)
becomes a version of the target's registered model, tagged ``engageflow.segment`` with its
key and pointed to by the alias ``champion-<level>-<value>``; a segment that no longer beats
the level above loses its alias (it falls back). Every move goes through the audit history.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import joblib

from pipelines.registry import audit, tracking
from pipelines.segments.hierarchy import SEGMENT_TAG, Segment

logger = logging.getLogger(__name__)

TRAINED_THROUGH_TAG = tracking.TRAINED_THROUGH_TAG
TRAINED_ROWS_TAG = "engageflow.trained_rows"
#: On the registered model: the run whose ``segments/segments.json`` is the last cycle.
SEGMENTS_RUN_TAG = "engageflow.segments_run"


def run_register_segments(
    *,
    segments_path: Path,
    tracking_uri: str,
    artifact_root: Path,
    experiment: str,
    model_name: str,
    run_key: str,
    example: Any = None,
) -> dict[str, Any]:
    """Register every used segment model and move the segment aliases.

    Idempotent per ``run_key``: a retried task finds the versions it already registered.

    Returns:
        ``{"registered": {key: version}, "removed": [keys], "kept": [keys]}``.
    """
    import mlflow
    from mlflow import MlflowClient

    result = json.loads(segments_path.read_text())
    tracking.connect(tracking_uri)
    client = MlflowClient()
    experiment_id = tracking.ensure_experiment(experiment, artifact_root)
    parent = tracking.parent_run_id(experiment_id, run_key, run_name=run_key)
    current = segment_models(model_name)
    registered, removed, kept = {}, [], []
    for key, record in sorted(result["segments"].items()):
        segment = Segment.from_key(key)
        if record.get("skipped"):
            if segment in current:
                kept.append(key)
            continue
        if not record["used"]:
            if segment in current:
                audit.move_alias(model_name, segment.alias, None, actor=f"segments:{run_key}",
                                 reason=f"{key} falls back: {record['reason']}",
                                 decision=record.get("gate"))
                removed.append(key)
            continue
        child = tracking.child_run_id(experiment_id, parent, f"segment:{key}")
        found = client.search_model_versions(f"name='{model_name}' and run_id='{child}'")
        if found:
            version = str(found[0].version)
        else:
            model = joblib.load(record["model_file"])
            with mlflow.start_run(run_id=child, nested=True):
                mlflow.set_tag(SEGMENT_TAG, key)
                mlflow.log_dict(record.get("gate") or {}, "segment_gate.json")
                info = mlflow.sklearn.log_model(
                    model, name="model", registered_model_name=model_name,
                    input_example=example, pip_requirements=tracking.pip_requirements(),
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
            version = str(info.registered_model_version)
        for tag, value in ((SEGMENT_TAG, key), (TRAINED_THROUGH_TAG, result["trained_through"]),
                           (TRAINED_ROWS_TAG, str(record["train_rows"]))):
            client.set_model_version_tag(model_name, version, tag, value)
        audit.move_alias(model_name, segment.alias, version, actor=f"segments:{run_key}",
                         reason=f"{key}: {record['reason']}", decision=record.get("gate"))
        registered[key] = version
    client.log_artifact(parent, str(segments_path), "segments")
    if registered or segment_models(model_name):
        client.set_registered_model_tag(model_name, SEGMENTS_RUN_TAG, parent)
    logger.info("segments: registered %s; removed %s", registered or "none", removed or "none")
    return {"registered": registered, "removed": removed, "kept": kept}


def segment_models(model_name: str) -> dict[Segment, dict[str, Any]]:
    """The models that exist for ``model_name``: global champion and segment champions.

    Returns:
        segment → ``{"version", "alias", "trained_through", "trained_rows",
        "maturity_hours"}`` (``maturity_hours``: the version's
        :data:`~pipelines.registry.tracking.MATURITY_TAG` text, None without one).
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        model = client.get_registered_model(model_name)
    except MlflowException:
        return {}
    out: dict[Segment, dict[str, Any]] = {}
    for alias, version in (model.aliases or {}).items():
        if alias == "champion":
            segment = Segment("global")
        elif alias.startswith("champion-"):
            tags = client.get_model_version(model_name, str(version)).tags
            if SEGMENT_TAG not in tags:
                continue
            segment = Segment.from_key(tags[SEGMENT_TAG])
        else:
            continue
        tags = client.get_model_version(model_name, str(version)).tags
        out[segment] = {"version": str(version), "alias": alias,
                        "trained_through": tags.get(TRAINED_THROUGH_TAG),
                        "trained_rows": int(tags.get(TRAINED_ROWS_TAG, 0) or 0),
                        "maturity_hours": tags.get(tracking.MATURITY_TAG)}
    return out


def last_cycle(model_name: str) -> dict[str, Any] | None:
    """The segment decisions of the last training cycle of ``model_name`` (segments.json),
    or None when no cycle recorded any."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        run_id = MlflowClient().get_registered_model(model_name).tags.get(SEGMENTS_RUN_TAG)
    except MlflowException:
        return None
    if not run_id:
        return None
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/segments/segments.json")
