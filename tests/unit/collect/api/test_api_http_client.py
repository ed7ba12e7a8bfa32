"""ApiClient against a real local HTTP server: retries, rate limits, auth, timeouts."""

from __future__ import annotations

import logging
import socket

import pytest

from pipelines.collect.api import (
    ApiAuthError,
    ApiClient,
    ApiRequestError,
    ApiResponseError,
    HttpSettings,
)

FAST = HttpSettings(connect_timeout_s=1.0, read_timeout_s=1.0, max_retries=3,
                    backoff_base_s=0.01, backoff_max_s=0.05, rate_limit_margin_s=0.5)
NOW = 1_800_000_000.0


def make_client(fake_api, token, sleeps, *, api="x", token_in="bearer", settings=FAST,
                **kwargs) -> ApiClient:
    return ApiClient(api=api, base_url=fake_api.base_url + "/v1", token=token,
                     token_in=token_in, settings=settings, sleep=sleeps.append,
                     clock=lambda: NOW, seed=7, **kwargs)


def assert_no_token(token, *texts) -> None:
    for text in texts:
        assert token not in str(text)


def test_500_then_success_retries_once_with_backoff(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(500, {"error": "boom"}), {"ok": 1})
    with make_client(fake_api, token, sleeps) as client:
        assert client.get_json("/items", {"a": "b"}) == {"ok": 1}
    seen = fake_api.requests_to("/v1/items")
    assert len(seen) == 2 and seen[1].query == {"a": "b"}
    assert seen[0].headers["Authorization"] == f"Bearer {token}"
    assert len(sleeps) == 1 and 0.005 <= sleeps[0] <= 0.01  # base/2 .. base, jittered


def test_backoff_grows_exponentially_and_is_seeded(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(502, {}), fake_api.step(503, {}),
                   fake_api.step(504, {}), {"ok": 1})
    settings = HttpSettings(max_retries=3, backoff_base_s=1.0, backoff_max_s=100.0)
    with make_client(fake_api, token, sleeps, settings=settings) as client:
        client.get_json("/items")
    assert [0.5 <= sleeps[0] <= 1, 1 <= sleeps[1] <= 2, 2 <= sleeps[2] <= 4] == [True] * 3
    again: list[float] = []
    fake_api.route("/v1/items", fake_api.step(502, {}), fake_api.step(503, {}),
                   fake_api.step(504, {}), {"ok": 1})
    with make_client(fake_api, token, again, settings=settings) as client:
        client.get_json("/items")
    assert again == sleeps


def test_429_honours_retry_after_seconds(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(429, {}, headers={"Retry-After": "7"}),
                   {"ok": 1})
    with make_client(fake_api, token, sleeps) as client:
        assert client.get_json("/items") == {"ok": 1}
    assert sleeps == [7.0]
    assert len(fake_api.requests_to("/v1/items")) == 2


def test_429_honours_x_rate_limit_reset_epoch(fake_api, token, sleeps):
    headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 12)}
    fake_api.route("/v1/items", fake_api.step(429, {"title": "Too Many Requests"},
                                              headers=headers), {"ok": 1})
    with make_client(fake_api, token, sleeps) as client:
        assert client.get_json("/items") == {"ok": 1}
    assert sleeps == [12.5]  # until the reset, plus the margin


def test_exhausted_rate_limit_pauses_before_the_next_request(fake_api, token, sleeps):
    headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 3)}
    fake_api.route("/v1/items", fake_api.step(200, {"ok": 1}, headers=headers))
    with make_client(fake_api, token, sleeps) as client:
        client.get_json("/items")
        assert sleeps == []
        client.get_json("/items")
    assert sleeps == [3.5]


def test_server_wait_above_limit_fails_fast(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(429, {}, headers={"Retry-After": "3600"}))
    with make_client(fake_api, token, sleeps) as client, pytest.raises(
        ApiRequestError, match=r"wait 3600 s, above max_retry_wait_s=900"
    ):
        client.get_json("/items")
    assert sleeps == [] and len(fake_api.requests_to("/v1/items")) == 1


def test_persistent_503_raises_after_max_retries_without_the_token(
    fake_api, token, sleeps, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines, query included, at DEBUG
    # a logging config applied earlier in this process (Airflow's, in another test) may have
    # disabled urllib3's existing logger; its request line is what this test must see
    monkeypatch.setattr(logging.getLogger("urllib3.connectionpool"), "disabled", False)
    fake_api.route("/v1/items", fake_api.step(503, text="<html>Service Unavailable</html>"))
    with make_client(fake_api, token, sleeps, api="instagram", token_in="query") as client:
        with pytest.raises(ApiRequestError) as info:
            client.get_json("/items", {"fields": "id"}, page=3)
    message = str(info.value)
    assert len(fake_api.requests_to("/v1/items")) == FAST.max_retries + 1 == 4
    assert f"GET {fake_api.base_url}/v1/items (page 3)" in message
    assert "after 4 attempt(s)" in message and "HTTP 503" in message
    assert "Service Unavailable" in message
    assert info.value.status == 503 and info.value.endpoint == f"{fake_api.base_url}/v1/items"
    # the token went out as the access_token query parameter, but is shown nowhere
    assert fake_api.requests_to("/v1/items")[0].query["access_token"] == token
    assert len(sleeps) == 3
    assert any("retry 1/3" in r.getMessage() for r in caplog.records)
    assert any("access_token=***" in r.getMessage() for r in caplog.records)  # urllib3 line
    assert_no_token(token, message, caplog.text, *(r.getMessage() for r in caplog.records))


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_raise_auth_error_at_once_naming_env_var(fake_api, token, sleeps, status):
    fake_api.route("/v1/items", fake_api.step(status, {"title": "Unauthorized",
                                                       "detail": "Unauthorized"}))
    with make_client(fake_api, token, sleeps) as client, pytest.raises(ApiAuthError) as info:
        client.get_json("/items")
    message = str(info.value)
    assert f"HTTP {status}" in message
    assert "ENGAGEFLOW_X_BEARER_TOKEN" in message and "'engageflow_x'" in message
    assert len(fake_api.requests_to("/v1/items")) == 1 and sleeps == []
    assert_no_token(token, message)


def test_graph_oauth_exception_190_is_an_auth_error(fake_api, token, sleeps):
    body = {"error": {"message": "Error validating access token: Session has expired",
                      "type": "OAuthException", "code": 190, "error_subcode": 463,
                      "fbtrace_id": "A1"}}
    fake_api.route("/v1/items", fake_api.step(400, body))
    with make_client(fake_api, token, sleeps, api="instagram", token_in="query") as client:
        with pytest.raises(ApiAuthError, match="OAuthException code 190") as info:
            client.get_json("/items")
    assert "ENGAGEFLOW_INSTAGRAM_TOKEN" in str(info.value)
    assert "engageflow_instagram" in str(info.value)
    assert len(fake_api.requests_to("/v1/items")) == 1
    assert_no_token(token, info.value)


def test_graph_rate_limit_code_on_403_is_retried_not_auth(fake_api, token, sleeps):
    body = {"error": {"message": "Application request limit reached", "type": "OAuthException",
                      "code": 4, "is_transient": True}}
    fake_api.route("/v1/items", fake_api.step(403, body), {"ok": 1})
    with make_client(fake_api, token, sleeps, api="facebook", token_in="query") as client:
        assert client.get_json("/items") == {"ok": 1}
    assert len(sleeps) == 1


def test_non_retryable_404_fails_after_one_request(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(404, {"message": "no such user"}))
    with make_client(fake_api, token, sleeps) as client, pytest.raises(
        ApiRequestError, match=r"HTTP 404.*no such user.*not retried"
    ):
        client.get_json("/items")
    assert len(fake_api.requests_to("/v1/items")) == 1


def test_read_timeout_is_retried_then_succeeds(fake_api, token, sleeps):
    settings = HttpSettings(connect_timeout_s=1.0, read_timeout_s=0.15, max_retries=2,
                            backoff_base_s=0.01, backoff_max_s=0.01)
    fake_api.route("/v1/items", fake_api.step(200, {"late": 1}, delay_s=0.6), {"ok": 1})
    with make_client(fake_api, token, sleeps, settings=settings) as client:
        assert client.get_json("/items") == {"ok": 1}
    assert len(fake_api.requests_to("/v1/items")) == 2


def test_persistent_timeout_raises_clear_error(fake_api, token, sleeps):
    settings = HttpSettings(connect_timeout_s=1.0, read_timeout_s=0.1, max_retries=1,
                            backoff_base_s=0.01, backoff_max_s=0.01)
    fake_api.route("/v1/items", fake_api.step(200, {"late": 1}, delay_s=0.4))
    with make_client(fake_api, token, sleeps, settings=settings) as client, pytest.raises(
        ApiRequestError, match=r"after 2 attempt\(s\); last error: timed out .*read timeout 0.1 s"
    ) as info:
        client.get_json("/items")
    assert info.value.status is None


def test_connection_refused_error_hides_the_token(token, sleeps):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ApiClient(api="facebook", base_url=f"http://127.0.0.1:{port}/v1", token=token,
                       token_in="query", settings=FAST, sleep=sleeps.append, seed=1)
    with client, pytest.raises(ApiRequestError, match="connection failed") as info:
        client.get_json("/page/posts", page=1)
    assert len(sleeps) == FAST.max_retries
    assert_no_token(token, info.value, repr(info.value.__cause__), repr(info.value.__context__))


def test_invalid_json_page_is_a_response_error(fake_api, token, sleeps):
    fake_api.route("/v1/items", fake_api.step(200, text='{"data": [1, 2'))
    with make_client(fake_api, token, sleeps) as client, pytest.raises(
        ApiResponseError, match=r"/v1/items \(page 2\) returned HTTP 200 but the body is not "
                                r"valid JSON"
    ):
        client.get_json("/items", page=2)


def test_paging_link_to_another_host_is_refused(fake_api, token, sleeps):
    with make_client(fake_api, token, sleeps) as client, pytest.raises(
        ApiResponseError, match="not under base_url"
    ):
        client.get_json("https://evil.example/v1/items?after=x")
    assert fake_api.seen == []


def test_bad_arguments_are_rejected_with_clear_messages(fake_api, token):
    with pytest.raises(ValueError, match="'read_timeout_s' must be > 0; got 0"):
        HttpSettings(read_timeout_s=0)
    with pytest.raises(ValueError, match="'max_retries' must be >= 0; got -1"):
        HttpSettings(max_retries=-1)
    with pytest.raises(ValueError, match="'base_url' must be an http"):
        ApiClient(api="x", base_url="ftp://x", token=token, token_in="bearer")
    with pytest.raises(ValueError, match="'token' must be a non-empty string.*"
                                         "ENGAGEFLOW_LINKEDIN_TOKEN"):
        ApiClient(api="linkedin", base_url=fake_api.base_url, token=" ", token_in="bearer")
