"""Interactive API docs that work offline: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from
Google Fonts): without internet they stay blank. Here the same pages load the JavaScript
and CSS that the ``fastapi-offline`` package ships (its ``static/`` folder), served by
this app under :data:`ASSETS_URL`; nothing on either page comes from another host.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the app serves the docs assets.
ASSETS_URL = "/docs-assets"
DOCS_URL, REDOC_URL = "/docs", "/redoc"
#: The asset files the pages load (all shipped by fastapi-offline).
SWAGGER_JS, SWAGGER_CSS = "swagger-ui-bundle.js", "swagger-ui.css"
REDOC_JS, FAVICON = "redoc.standalone.js", "favicon.png"


def assets_dir() -> Path:
    """The folder of Swagger UI / ReDoc assets that the ``fastapi-offline`` package ships.

    Raises:
        FileNotFoundError: The package is installed without its assets.
    """
    folder = Path(str(files("fastapi_offline") / "static"))
    missing = [n for n in (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)
               if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"api_docs: the fastapi-offline package at {folder} lacks "
                                f"{missing}; reinstall it (requirements.lock pins it).")
    return folder


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` on ``app`` from local assets.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages
    off); its ``openapi_url`` stays where it is. The pages honour the ASGI ``root_path``,
    so they also work behind a proxy that serves the API under a prefix.
    """
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            swagger_js_url=f"{root}{ASSETS_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{root}{ASSETS_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}", with_google_fonts=False)
