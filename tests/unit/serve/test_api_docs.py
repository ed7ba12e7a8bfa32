"""``/docs`` and ``/redoc`` work offline: every asset they load is served by the app."""

import re

import pytest
from fastapi.testclient import TestClient

from pipelines.serve.app import create_app


@pytest.fixture()
def client(tmp_path, make_service):
    # no lifespan (no `with`): the docs pages need neither a model nor the threads
    service = make_service(None, f"sqlite:///{tmp_path / 'predictions.db'}",
                           api_keys=frozenset({"k"}))
    return TestClient(create_app(service))


ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")
REMOTE = re.compile(r"""[a-z]+://[^"'\s]+""")


def _asset_urls(html: str) -> list[str]:
    """Every URL the page loads: src/href attributes and Swagger UI's ``url:``."""
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets_and_the_assets_are_served(client, page):
    response = client.get(page)
    assert response.status_code == 200, page
    html = response.text
    remote = REMOTE.findall(html)
    assert not remote, f"{page} references other hosts: {remote}"
    urls = _asset_urls(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"{page} loads no script: {urls}"
    for url in urls:
        assert url.startswith("/"), f"{page}: {url} is not a local URL"
        if url == "/openapi.json":
            continue
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
        if url.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), url


def test_swagger_ui_page_points_at_the_bundled_swagger_ui(client):
    html = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in html
    assert "/docs-assets/swagger-ui.css" in html
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    assert client.get("/openapi.json").json()["info"]["title"] == "EngageFlow serving"
    assert client.get("/docs/oauth2-redirect").status_code == 200
