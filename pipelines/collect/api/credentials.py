"""Where each API's token comes from: an environment variable, else an Airflow Connection.

Core fetch functions take the token as an argument; only entry points call
:func:`resolve_token`. The token itself is never logged or put in a message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.collect.api.errors import ApiAuthError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenSource:
    """Where one API's token is configured.

    Attributes:
        api: API key (instagram, facebook, linkedin, x).
        env_var: Environment variable read first.
        conn_id: Airflow connection whose password holds the token, read second.
    """

    api: str
    env_var: str
    conn_id: str

    def hint(self) -> str:
        """One sentence telling an operator where to put a valid token."""
        return (
            f"Set environment variable {self.env_var} or the password of Airflow "
            f"connection '{self.conn_id}' to a valid {self.api} token."
        )


TOKEN_SOURCES: dict[str, TokenSource] = {
    "instagram": TokenSource("instagram", "ENGAGEFLOW_INSTAGRAM_TOKEN", "engageflow_instagram"),
    "facebook": TokenSource("facebook", "ENGAGEFLOW_FACEBOOK_TOKEN", "engageflow_facebook"),
    "linkedin": TokenSource("linkedin", "ENGAGEFLOW_LINKEDIN_TOKEN", "engageflow_linkedin"),
    "x": TokenSource("x", "ENGAGEFLOW_X_BEARER_TOKEN", "engageflow_x"),
}


def token_source(api: str) -> TokenSource:
    """The :class:`TokenSource` of ``api``.

    Raises:
        ValueError: if ``api`` is not one of :data:`TOKEN_SOURCES`.
    """
    try:
        return TOKEN_SOURCES[api]
    except KeyError:
        raise ValueError(
            f"token_source: 'api' must be one of {sorted(TOKEN_SOURCES)}; got {api!r}."
        ) from None


def airflow_connection_password(conn_id: str) -> str | None:
    """The password of Airflow connection ``conn_id``, or None if it is not defined.

    Imports Airflow lazily (Task SDK first, then the classic hook) so that this module
    stays importable and cheap without it.

    Raises:
        ApiAuthError: if Airflow is not installed, or looking the connection up failed
            for another reason than "not defined".
    """
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        try:
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
        except ImportError:
            raise ApiAuthError(
                f"airflow_connection_password: Airflow is not installed, so connection "
                f"{conn_id!r} cannot be read; set the token in the environment instead."
            ) from None
    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as exc:  # Airflow raises several types; "not found" is one of them.
        if "NotFound" in type(exc).__name__:
            return None
        raise ApiAuthError(
            f"airflow_connection_password: looking up Airflow connection {conn_id!r} "
            f"failed with {type(exc).__name__}: {str(exc)[:200]}."
        ) from None
    return connection.password or None


def resolve_token(
    api: str,
    *,
    environ: Mapping[str, str] | None = None,
    connection_lookup: Callable[[str], str | None] = airflow_connection_password,
) -> str:
    """The token of ``api``: its environment variable, else its Airflow connection password.

    Args:
        api: instagram, facebook, linkedin or x.
        environ: The environment to read (``os.environ`` by default).
        connection_lookup: Returns a connection's password or None; tests inject one.

    Raises:
        ValueError: if ``api`` is unknown.
        ApiAuthError: if neither place holds a non-empty token (the message names both).
    """
    source = token_source(api)
    env = os.environ if environ is None else environ
    token = (env.get(source.env_var) or "").strip()
    if token:
        logger.debug("%s: token from environment variable %s", api, source.env_var)
        return token
    token = (connection_lookup(source.conn_id) or "").strip()
    if token:
        logger.debug("%s: token from Airflow connection %s", api, source.conn_id)
        return token
    raise ApiAuthError(
        f"resolve_token: no {api} token found: environment variable {source.env_var} is "
        f"unset or empty and Airflow connection '{source.conn_id}' is not defined or has "
        f"no password. {source.hint()}"
    )
