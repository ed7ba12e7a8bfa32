"""Errors raised by the API collectors.

Every message names the API, the endpoint (URL without query string, so never a token)
and, for pages, the page number; tokens are scrubbed from anything echoed back.
"""

from __future__ import annotations


class ApiError(RuntimeError):
    """Base class for every API collection failure."""


class ApiAuthError(ApiError):
    """The token is missing, expired, revoked or lacks permissions; retrying cannot help.

    The message says which environment variable or Airflow connection to fix.
    """


class ApiRequestError(ApiError):
    """A request failed: retries exhausted, a non-retryable HTTP status, or a bad URL.

    Attributes:
        endpoint: The endpoint URL without query string.
        status: The last HTTP status, or None when no response arrived (timeout, refused).
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class ApiResponseError(ApiError):
    """A response page is malformed: not JSON, or missing the keys the API documents."""
