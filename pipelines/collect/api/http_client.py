"""The HTTP client every API collector shares: timeouts, retries, rate limits, auth errors.

One :class:`ApiClient` wraps a ``requests.Session`` for one API and one token. It

* applies connect/read timeouts from :class:`HttpSettings`;
* retries 429, 5xx, Graph API rate-limit / transient errors, timeouts and connection
  errors with exponential backoff and jitter, honouring ``Retry-After`` and
  ``x-rate-limit-reset`` (epoch seconds), up to ``max_retries``;
* pauses before the next request when a response reports ``x-rate-limit-remaining: 0``;
* turns 401/403 and Graph ``OAuthException`` code 190 into an immediate
  :class:`~pipelines.collect.api.errors.ApiAuthError` that names the env var / connection;
* never follows a redirect (it could carry the token to another host): a 3xx is an
  :class:`~pipelines.collect.api.errors.ApiRequestError` naming where it pointed;
* never puts the token into a log line or an exception: URLs are shown without their
  query string and any echoed text is scrubbed.

``sleep``, ``clock`` and ``seed`` are injectable so tests run fast and deterministically.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests

from pipelines.collect.api.credentials import token_source
from pipelines.collect.api.errors import ApiAuthError, ApiRequestError, ApiResponseError

logger = logging.getLogger(__name__)

#: Graph API error codes that mean "rate limited": app (4), user (17), page (32),
#: custom (613) and the business-use-case family (80001-80014).
GRAPH_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
#: Graph API error code for an invalid, expired or revoked access token.
GRAPH_TOKEN_ERROR_CODE = 190
_BODY_EXCERPT_CHARS = 300
_TOKEN_PARAM = re.compile(r"(access_token=)[^&\s'\"]+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retry policy of one API client.

    Attributes:
        connect_timeout_s: Seconds to wait for the TCP/TLS connection.
        read_timeout_s: Seconds to wait for response bytes.
        max_retries: Retries after the first attempt (0 = no retries).
        backoff_base_s: First backoff delay; doubles each retry, with jitter.
        backoff_max_s: Cap on one backoff delay.
        max_retry_wait_s: Longest server-requested wait (Retry-After, rate-limit reset)
            the client accepts; a longer one fails fast instead of stalling the task.
        rate_limit_margin_s: Added to waits derived from ``x-rate-limit-reset``, whose
            whole-second resolution and clock skew could otherwise wake us too early.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_wait_s: float = 900.0
    rate_limit_margin_s: float = 1.0

    def __post_init__(self) -> None:
        problems = [
            f"'{name}' must be > 0; got {getattr(self, name)!r}"
            for name in ("connect_timeout_s", "read_timeout_s")
            if not getattr(self, name) > 0
        ]
        problems += [
            f"'{name}' must be >= 0; got {getattr(self, name)!r}"
            for name in ("max_retries", "backoff_base_s", "backoff_max_s",
                         "max_retry_wait_s", "rate_limit_margin_s")
            if not getattr(self, name) >= 0
        ]
        if problems:
            raise ValueError("HttpSettings: " + "; ".join(problems) + ".")


def strip_query(url: str) -> str:
    """``url`` without query string and fragment: safe to show, the endpoint's identity."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with ``access_token=…`` values, bearer tokens and ``secrets`` masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _TOKEN_PARAM.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class _RedactTokens(logging.Filter):
    """Masks ``access_token=…`` in records of urllib3, which logs request lines (with
    their query string) at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message.lower():
            record.msg, record.args = redact(message), ()
        return True


def _guard_urllib3_logging() -> None:
    """Attach :class:`_RedactTokens` to urllib3's request logger, once."""
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactTokens) for f in urllib3_logger.filters):
        urllib3_logger.addFilter(_RedactTokens())


class ApiClient:
    """A retrying JSON GET client for one API, one base URL and one token.

    Args:
        api: API key (``instagram``, ``facebook``, ``linkedin``, ``x``); names the env var
            and Airflow connection in auth errors.
        base_url: Scheme, host and version prefix, e.g. ``https://graph.facebook.com/v23.0``.
        token: The access token; sent as ``access_token`` query parameter
            (``token_in="query"``, Graph API) or ``Authorization: Bearer`` header.
        token_in: Where the token goes.
        settings: Timeouts and retry policy.
        headers: Extra headers for every request (e.g. ``LinkedIn-Version``).
        session: A ``requests.Session`` to use; a new one is made (and closed) otherwise.
        sleep: Called with seconds to wait between attempts.
        clock: Returns epoch seconds; used with ``x-rate-limit-reset``.
        seed: Seed of the backoff jitter.

    Raises:
        ValueError: if ``base_url`` is not http(s) or ``token`` is empty.
    """

    def __init__(
        self,
        *,
        api: str,
        base_url: str,
        token: str,
        token_in: Literal["query", "bearer"],
        settings: HttpSettings | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                f"ApiClient({api}): 'base_url' must be an http(s) URL without query string, "
                f"e.g. https://graph.facebook.com/v23.0; got {strip_query(base_url or '')!r}."
            )
        if not isinstance(token, str) or not token.strip():
            raise ValueError(
                f"ApiClient({api}): 'token' must be a non-empty string; got an empty value. "
                f"{token_source(api).hint()}"
            )
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self._token = token
        self._token_in = token_in
        self._headers = dict(headers or {})
        if token_in == "query":
            _guard_urllib3_logging()
        if token_in == "bearer":
            self._headers["Authorization"] = f"Bearer {token}"
        self._own_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._resume_at: float | None = None
        self.requests_sent = 0

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._own_session:
            self._session.close()

    # -- public ---------------------------------------------------------------------------

    def endpoint(self, target: str) -> str:
        """The endpoint of ``target`` (a path under base_url or an absolute URL), no query."""
        return strip_query(self._url(target))

    def get_json(
        self, target: str, params: Mapping[str, Any] | None = None, *, page: int | None = None
    ) -> dict[str, Any]:
        """GET ``target`` and return its JSON object, retrying transient failures.

        Args:
            target: A path below ``base_url`` (``/123/media``) or an absolute URL from a
                paging link; an absolute URL must lie under ``base_url`` so the token is
                never sent elsewhere. An ``access_token`` in its query is replaced.
            params: Query parameters (never the token: the client adds it).
            page: 1-based page number, for error messages.

        Raises:
            ApiAuthError: on 401/403 or Graph OAuthException code 190 (not retried).
            ApiRequestError: when retries are exhausted, the server asks for a wait above
                ``max_retry_wait_s``, the status is a non-retryable 4xx, or a redirect.
            ApiResponseError: when a 2xx body is not a JSON object.
        """
        url = self._url(target)
        endpoint = strip_query(url)
        query = {k: v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
                 if k != "access_token"}
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        shown = f"GET {endpoint}" + (f" (page {page})" if page is not None else "")
        if self._token_in == "query":
            query["access_token"] = self._token
        attempts = self.settings.max_retries + 1
        failure, status = "", None
        for attempt in range(attempts):
            self._wait_for_rate_limit_reset(shown, endpoint)
            self.requests_sent += 1
            logger.debug("%s: %s attempt %d/%d", self.api, shown, attempt + 1, attempts)
            wait: float | None = None
            try:
                response = self._session.get(
                    endpoint,
                    params=query,
                    headers=self._headers,
                    timeout=(self.settings.connect_timeout_s, self.settings.read_timeout_s),
                    allow_redirects=False,
                )
            except requests.Timeout:
                status, failure = None, (
                    f"timed out (connect timeout {self.settings.connect_timeout_s} s, "
                    f"read timeout {self.settings.read_timeout_s} s)"
                )
            except requests.ConnectionError as exc:
                status, failure = None, f"connection failed: {self._excerpt(str(exc))[:200]}"
            except requests.RequestException as exc:
                # A bad URL and the like: no retry can fix it. Raised outside the except
                # block so the original, which may quote the URL with its token, is not
                # chained onto our error.
                status, failure = None, f"{type(exc).__name__}: {self._excerpt(str(exc))}"
                break
            else:
                status = response.status_code
                body = self._json_or_none(response)
                if 200 <= status < 300:
                    self._note_rate_limit(response)
                    return self._checked_object(response, body, shown)
                self._raise_if_auth(status, body, shown)
                if 300 <= status < 400:
                    target = strip_query(self._scrub(response.headers.get("Location", "")))
                    raise ApiRequestError(
                        f"{self.api}: {shown} was redirected (HTTP {status}) to "
                        f"{target[:200]!r}; redirects are not followed, so the token never "
                        f"leaves base_url. Point collect_daily.api_base_urls at the final URL.",
                        endpoint=endpoint, status=status,
                    )
                failure = f"HTTP {status}, body: {self._excerpt(response.text)!r}"
                if not self._retryable(status, body):
                    raise ApiRequestError(
                        f"{self.api}: {shown} failed with {failure}; this status is not "
                        f"retried. Check the request's ids and fields.",
                        endpoint=endpoint, status=status,
                    )
                wait = self._server_wait(response, shown, endpoint)
            if attempt + 1 < attempts:
                wait = self._backoff(attempt) if wait is None else wait
                logger.warning(
                    "%s: %s %s; retry %d/%d in %.2f s",
                    self.api, shown, failure, attempt + 1, self.settings.max_retries, wait,
                )
                self._sleep(wait)
        else:
            raise ApiRequestError(
                f"{self.api}: {shown} failed after {attempts} attempt(s); last error: "
                f"{failure}. Retries cover 429, 5xx, timeouts and connection errors "
                f"(max_retries={self.settings.max_retries}); check the service or raise "
                f"the limit.",
                endpoint=endpoint, status=status,
            )
        raise ApiRequestError(
            f"{self.api}: {shown} could not be sent ({failure}); not retried.",
            endpoint=endpoint, status=None,
        )

    # -- internals ------------------------------------------------------------------------

    def _url(self, target: str) -> str:
        if target.startswith(("http://", "https://")):
            if not strip_query(target).startswith(self.base_url + "/"):
                raise ApiResponseError(
                    f"{self.api}: paging link {strip_query(target)!r} is not under base_url "
                    f"{self.base_url!r}; refusing to send the token to another host."
                )
            return target
        return f"{self.base_url}/{target.lstrip('/')}"

    def _scrub(self, text: str) -> str:
        return redact(text, (self._token,))

    def _excerpt(self, text: str) -> str:
        return self._scrub(" ".join(text.split()))[:_BODY_EXCERPT_CHARS]

    @staticmethod
    def _json_or_none(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _checked_object(self, response: requests.Response, body: Any, shown: str) -> dict:
        if not isinstance(body, dict):
            what = "not valid JSON" if body is None else f"a JSON {type(body).__name__}"
            raise ApiResponseError(
                f"{self.api}: {shown} returned HTTP {response.status_code} but the body is "
                f"{what}, expected a JSON object; body: {self._excerpt(response.text)!r}."
            )
        return body

    def _raise_if_auth(self, status: int, body: Any, shown: str) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        graph_code = error.get("code") if isinstance(error, dict) else None
        if graph_code in GRAPH_RATE_LIMIT_CODES:
            return
        if status in (401, 403) or graph_code == GRAPH_TOKEN_ERROR_CODE:
            detail = ""
            if isinstance(error, dict):
                detail = (f", {error.get('type', 'error')} code {graph_code}: "
                          f"{self._excerpt(str(error.get('message', '')))[:200]}")
            elif isinstance(body, dict):
                said = body.get("detail") or body.get("message") or body.get("title") or ""
                detail = f": {self._excerpt(str(said))[:200]}"
            raise ApiAuthError(
                f"{self.api}: {shown} was refused (HTTP {status}{detail}); the token is "
                f"missing, expired, revoked or lacks permissions and retrying will not help. "
                f"{token_source(self.api).hint()}"
            )

    @staticmethod
    def _retryable(status: int, body: Any) -> bool:
        if status == 429 or status >= 500:
            return True
        error = body.get("error") if isinstance(body, dict) else None
        return isinstance(error, dict) and (
            error.get("code") in GRAPH_RATE_LIMIT_CODES or error.get("is_transient") is True
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2**attempt)
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _server_wait(
        self, response: requests.Response, shown: str, endpoint: str
    ) -> float | None:
        """Seconds the server asked us to wait (Retry-After, x-rate-limit-reset), if any."""
        wait: float | None = None
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            try:
                wait = max(0.0, float(retry_after))
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(retry_after).timestamp()
                    wait = max(0.0, when - self._clock())
                except (TypeError, ValueError):
                    logger.warning("%s: %s ignoring unparseable Retry-After %r",
                                   self.api, shown, retry_after[:50])
        if wait is None:
            wait = self._reset_wait(response)
        if wait is not None and wait > self.settings.max_retry_wait_s:
            raise ApiRequestError(
                f"{self.api}: {shown} is rate limited (HTTP {response.status_code}) and the "
                f"server asks to wait {wait:.0f} s, above max_retry_wait_s="
                f"{self.settings.max_retry_wait_s:.0f} s; run again after the reset.",
                endpoint=endpoint, status=response.status_code,
            )
        return wait

    def _reset_wait(self, response: requests.Response) -> float | None:
        reset = response.headers.get("x-rate-limit-reset")
        if not reset:
            return None
        try:
            return max(0.0, float(reset) - self._clock()) + self.settings.rate_limit_margin_s
        except ValueError:
            return None

    def _note_rate_limit(self, response: requests.Response) -> None:
        if response.headers.get("x-rate-limit-remaining", "").strip() == "0":
            wait = self._reset_wait(response)
            if wait is not None:
                self._resume_at = self._clock() + wait

    def _wait_for_rate_limit_reset(self, shown: str, endpoint: str) -> None:
        if self._resume_at is None:
            return
        wait, self._resume_at = self._resume_at - self._clock(), None
        if wait <= 0:
            return
        if wait > self.settings.max_retry_wait_s:
            raise ApiRequestError(
                f"{self.api}: the rate limit is used up until the reset in {wait:.0f} s, "
                f"above max_retry_wait_s={self.settings.max_retry_wait_s:.0f} s; stopped "
                f"before {shown}. Run again after the reset.",
                endpoint=endpoint, status=None,
            )
        logger.info("%s: rate limit used up; waiting %.2f s for the reset", self.api, wait)
        self._sleep(wait)
