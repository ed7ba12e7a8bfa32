"""Every move of a registry alias, with who/what/when/why, kept in MLflow.

An alias (``champion``, ``challenger``, ``previous``) only moves through :func:`move_alias`,
which writes an audit event before returning; a decision that moves nothing (a gate keeping
its challenger, a day of the online test) is audited by :func:`record_decision`. Events
live in MLflow itself, so the registry UI and the history agree:

- one JSON artifact per event in a per-model audit run (experiment ``AUDIT_EXPERIMENT``),
  ``events/<sequence>-<alias>-<action>.json``, read back in order by :func:`alias_history`;
- a short summary on the registered model (tag ``engageflow.audit.last``) and on the model
  version that gained or lost the alias (tag ``engageflow.audit.<alias>``).

The caller must have pointed MLflow at the store (``tracking.connect``).
"""

from __future__ import annotations

import getpass
import json
import socket
from datetime import UTC, datetime
from typing import Any

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
AUDIT_EXPERIMENT = "engageflow-registry-audit"
AUDIT_MODEL_TAG = "engageflow.audit_model"


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _audit_run_id(model_name: str) -> str:
    """The id of the audit run for ``model_name``, created on first use."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if experiment is None:
        experiment_id = client.create_experiment(
            AUDIT_EXPERIMENT, artifact_location=_artifact_location(client, model_name))
    else:
        experiment_id = experiment.experiment_id
    found = client.search_runs([experiment_id],
                               filter_string=f"tags.`{AUDIT_MODEL_TAG}` = '{model_name}'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"audit:{model_name}",
                            tags={AUDIT_MODEL_TAG: model_name})
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def _artifact_location(client: Any, model_name: str) -> str | None:
    """Beside the artifacts of the model's own experiment (never the process's cwd)."""
    versions = client.search_model_versions(f"name='{model_name}'", max_results=1)
    if not versions or not versions[0].run_id:
        return None
    run = client.get_run(versions[0].run_id)
    location = client.get_experiment(run.info.experiment_id).artifact_location
    return location.rstrip("/") + "-registry-audit"


def _current(client: Any, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def move_alias(
    model_name: str,
    alias: str,
    version: str | int | None,
    *,
    reason: str,
    actor: str | None = None,
    decision: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Point ``model_name@alias`` at ``version`` (None removes the alias) and audit it.

    Args:
        reason: why, in a sentence a person reads in the history.
        actor: who or what moved it (a DAG task id, a user); defaults to user@host.
        decision: the full decision record (gate numbers, test statistics).
        metrics: headline metrics to show beside the event.

    Returns:
        The event as written (also the last entry of :func:`alias_history`); a move to
        where the alias already points writes nothing and returns ``{"unchanged": True}``,
        so a retried task does not repeat history.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    before = _current(client, model_name, alias)
    new = None if version is None else str(version)
    if before == new:
        return {"unchanged": True, "model_name": model_name, "alias": alias, "version": new}
    if new is None:
        if before is not None:
            client.delete_registered_model_alias(model_name, alias)
        action = "remove"
    else:
        client.set_registered_model_alias(model_name, alias, new)
        action = "set"
    run_id = _audit_run_id(model_name)
    sequence = len(_event_paths(client, run_id))
    event = {
        "sequence": sequence, "model_name": model_name, "alias": alias, "action": action,
        "from_version": before, "to_version": new, "reason": reason, "actor": _actor(actor),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics or {}, "decision": decision or {},
    }
    client.log_dict(run_id, event, f"events/{sequence:06d}-{alias}-{action}.json")
    summary = f"{event['at']} {alias} {before}->{new} by {event['actor']}: {reason}"[:4500]
    client.set_registered_model_tag(model_name, "engageflow.audit.last", summary)
    touched = new if new is not None else before
    if touched is not None:
        client.set_model_version_tag(model_name, touched, f"engageflow.audit.{alias}", summary)
    return event


def record_decision(
    model_name: str,
    alias: str,
    *,
    reason: str,
    actor: str | None = None,
    decision: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit a decision that leaves ``model_name@alias`` where it is (action ``keep``):
    a gate that keeps a challenger, a daily look of the online test that keeps testing.

    The alias is not touched (moves go through :func:`move_alias`). A retried task — the
    same actor recording a ``keep`` of the same alias and version as the latest event —
    writes nothing and returns ``{"unchanged": True}``.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    current = _current(client, model_name, alias)
    who = _actor(actor)
    run_id = _audit_run_id(model_name)
    paths = _event_paths(client, run_id)
    if paths:
        import mlflow

        last = mlflow.artifacts.load_dict(f"runs:/{run_id}/{paths[-1]}")
        if (last.get("action"), last.get("alias"), last.get("to_version"),
                last.get("actor")) == ("keep", alias, current, who):
            return {"unchanged": True, "model_name": model_name, "alias": alias,
                    "version": current}
    event = {
        "sequence": len(paths), "model_name": model_name, "alias": alias, "action": "keep",
        "from_version": current, "to_version": current, "reason": reason, "actor": who,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics or {}, "decision": decision or {},
    }
    client.log_dict(run_id, event, f"events/{event['sequence']:06d}-{alias}-keep.json")
    if current is not None:
        summary = f"{event['at']} {alias} kept at {current} by {who}: {reason}"[:4500]
        client.set_model_version_tag(model_name, current, f"engageflow.audit.{alias}", summary)
    return event


def promote(model_name: str, version: str, *, champion: str | None, reason: str, actor: str,
            metrics: dict[str, Any] | None = None,
            decision: dict[str, Any] | None = None) -> None:
    """Make ``version`` the champion, audited: the old ``champion`` (if any) becomes
    ``@previous`` and ``@challenger`` is removed."""
    if champion is not None:
        move_alias(model_name, PREVIOUS, champion, actor=actor, metrics=metrics,
                   decision=decision,
                   reason=f"replaced as champion by version {version}: {reason}")
    move_alias(model_name, CHAMPION, version, actor=actor, reason=reason, metrics=metrics,
               decision=decision)
    move_alias(model_name, CHALLENGER, None, actor=actor, metrics=metrics, decision=decision,
               reason=f"promoted to champion: {reason}")


def retire_challenger(model_name: str, version: str, *, reason: str, actor: str,
                      metrics: dict[str, Any] | None = None,
                      decision: dict[str, Any] | None = None) -> None:
    """Remove ``@challenger``, audited, if it still points at ``version`` (a newer
    challenger registered meanwhile stays)."""
    from mlflow import MlflowClient

    if _current(MlflowClient(), model_name, CHALLENGER) == str(version):
        move_alias(model_name, CHALLENGER, None, actor=actor, reason=reason, metrics=metrics,
                   decision=decision)


def _event_paths(client: Any, run_id: str) -> list[str]:
    return sorted(item.path for item in client.list_artifacts(run_id, "events")
                  if item.path.endswith(".json"))


def alias_history(model_name: str) -> list[dict[str, Any]]:
    """Every audited alias move of ``model_name``, oldest first (empty if none)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if experiment is None:
        return []
    found = client.search_runs([experiment.experiment_id],
                               filter_string=f"tags.`{AUDIT_MODEL_TAG}` = '{model_name}'",
                               max_results=1)
    if not found:
        return []
    run_id = found[0].info.run_id
    return [mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
            for path in _event_paths(client, run_id)]


def format_history(events: list[dict[str, Any]]) -> str:
    """The history as a table a person reads in a terminal."""
    if not events:
        return "no alias moves recorded"
    lines = [f"{'#':>3}  {'when (UTC)':<25} {'alias':<10} {'change':<12} {'actor':<28} reason"]
    for e in events:
        change = f"{e['from_version'] or '-'} -> {e['to_version'] or '-'}"
        lines.append(f"{e['sequence']:>3}  {e['at']:<25} {e['alias']:<10} {change:<12} "
                     f"{e['actor'][:28]:<28} {e['reason']}")
    return "\n".join(lines)


def dumps(events: list[dict[str, Any]]) -> str:
    """The history as JSON (``engageflow registry history --json``)."""
    return json.dumps(events, indent=2, default=str)
