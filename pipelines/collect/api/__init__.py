"""API collectors: Instagram Graph, Facebook Page, LinkedIn and X v2 → canonical posts.

Core fetch functions take the token and base URL as arguments and return an
:class:`ApiResult`; :func:`resolve_token` reads a token from the environment or an
Airflow connection; :func:`collect_api_posts` is the stage runner.
"""

from pipelines.collect.api.credentials import TOKEN_SOURCES, resolve_token
from pipelines.collect.api.errors import (
    ApiAuthError,
    ApiError,
    ApiRequestError,
    ApiResponseError,
)
from pipelines.collect.api.facebook import fetch_facebook_posts
from pipelines.collect.api.http_client import ApiClient, HttpSettings
from pipelines.collect.api.instagram import fetch_instagram_posts
from pipelines.collect.api.linkedin import fetch_linkedin_posts
from pipelines.collect.api.records import ApiResult
from pipelines.collect.api.runner import (
    COLLECTORS,
    DEFAULT_BASE_URLS,
    ApiCollection,
    collect_api_posts,
)
from pipelines.collect.api.x import fetch_x_posts

__all__ = [
    "COLLECTORS",
    "DEFAULT_BASE_URLS",
    "TOKEN_SOURCES",
    "ApiAuthError",
    "ApiClient",
    "ApiCollection",
    "ApiError",
    "ApiRequestError",
    "ApiResponseError",
    "ApiResult",
    "HttpSettings",
    "collect_api_posts",
    "fetch_facebook_posts",
    "fetch_instagram_posts",
    "fetch_linkedin_posts",
    "fetch_x_posts",
    "resolve_token",
]
