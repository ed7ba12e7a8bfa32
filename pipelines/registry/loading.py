"""Read side of the registry for serving: which version an alias points at, and the model.

Serving polls :func:`alias_versions` and loads with :func:`load_version`; nothing else in
``serve/`` talks to MLflow. The caller must have pointed MLflow at the store
(``tracking.connect``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version: its name, version and the URI it was asked for by."""

    name: str
    version: str
    uri: str


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` into (name, alias, version).

    Raises:
        ValueError: naming the URI and the two accepted shapes.
    """
    match = _MODELS_URI.match(uri or "")
    if match is None:
        raise ValueError(f"parse_models_uri: model URI must look like 'models:/NAME@ALIAS' or "
                         f"'models:/NAME/VERSION'; got {uri!r}.")
    return match["name"], match["alias"], match["version"]


def alias_versions(model_name: str, aliases: tuple[str, ...]) -> dict[str, str]:
    """The version behind each of ``aliases`` of ``model_name`` (absent aliases left out).

    One registry call, so a poller can run it every few seconds.

    Raises:
        LookupError: if ``model_name`` is not registered.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        model = MlflowClient().get_registered_model(model_name)
    except MlflowException as error:
        raise LookupError(f"alias_versions: registered model {model_name!r} not found in the "
                          f"registry ({error.error_code}).") from None
    return {alias: str(model.aliases[alias]) for alias in aliases if alias in model.aliases}


def resolve(uri: str) -> ModelRef:
    """The concrete version a ``models:/`` URI points at now.

    Raises:
        ValueError: for a malformed URI.
        LookupError: if the model or alias does not exist.
    """
    name, alias, version = parse_models_uri(uri)
    if alias is not None:
        found = alias_versions(name, (alias,))
        if alias not in found:
            raise LookupError(f"resolve: registered model {name!r} has no alias {alias!r} "
                              f"(asked for {uri!r}).")
        version = found[alias]
    return ModelRef(name=name, version=str(version), uri=uri)


def version_task(model_name: str, version: str) -> str | None:
    """The task a registered version was trained for (its ``engageflow.task`` tag, set at
    registration), or None for a version registered without one."""
    from mlflow import MlflowClient

    return (MlflowClient().get_model_version(model_name, version).tags or {}).get(
        "engageflow.task")


def load_version(model_name: str, version: str) -> Any:
    """The scikit-learn model of ``model_name`` version ``version`` (fully loaded).

    Loading by version, not by alias, pins what was loaded even if the alias moves meanwhile.
    """
    import mlflow

    model = mlflow.sklearn.load_model(f"models:/{model_name}/{version}")
    logger.info("registry: loaded %s version %s", model_name, version)
    return model
