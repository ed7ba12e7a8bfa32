"""Token resolution: environment variable first, then the Airflow connection."""

from __future__ import annotations

import pytest

from pipelines.collect.api import TOKEN_SOURCES, ApiAuthError, resolve_token
from pipelines.collect.api.credentials import airflow_connection_password


def no_connection(conn_id: str) -> None:
    return None


def test_env_var_wins_and_connection_is_not_asked():
    asked: list[str] = []
    token = resolve_token("instagram", environ={"ENGAGEFLOW_INSTAGRAM_TOKEN": " tok "},
                          connection_lookup=asked.append)
    assert token == "tok" and asked == []


def test_connection_password_is_used_when_env_var_is_absent():
    asked: list[str] = []

    def lookup(conn_id: str) -> str:
        asked.append(conn_id)
        return "from-connection"

    assert resolve_token("linkedin", environ={}, connection_lookup=lookup) == "from-connection"
    assert asked == ["engageflow_linkedin"]


@pytest.mark.parametrize("api", sorted(TOKEN_SOURCES))
def test_missing_everywhere_names_env_var_and_connection(api):
    source = TOKEN_SOURCES[api]
    with pytest.raises(ApiAuthError) as info:
        resolve_token(api, environ={source.env_var: ""}, connection_lookup=no_connection)
    assert source.env_var in str(info.value) and f"'{source.conn_id}'" in str(info.value)


def test_unknown_api_is_a_value_error():
    with pytest.raises(ValueError, match=r"'api' must be one of .*; got 'tiktok'"):
        resolve_token("tiktok", environ={})


def test_real_airflow_connection_lookup(monkeypatch, tmp_path):
    """Airflow's own lookup: a defined connection gives its password, a missing one None."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # keep a first import out of ~/airflow
    pytest.importorskip("airflow")
    monkeypatch.setenv("AIRFLOW_CONN_ENGAGEFLOW_X",
                       '{"conn_type": "http", "password": "conn-token"}')
    monkeypatch.delenv("AIRFLOW_CONN_ENGAGEFLOW_FACEBOOK", raising=False)
    assert airflow_connection_password("engageflow_x") == "conn-token"
    assert airflow_connection_password("engageflow_facebook") is None
    monkeypatch.delenv("ENGAGEFLOW_X_BEARER_TOKEN", raising=False)
    assert resolve_token("x") == "conn-token"
