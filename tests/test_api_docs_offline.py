"""The API's documentation pages work with no internet (issue #16, item 6).

``/docs`` (Swagger UI) and ``/redoc`` load their scripts, styles and icon from the node itself
(``fairwheel.api.docs``, the files of the ``fastapi-offline`` package), never from a CDN: the
pages name no outside host, and every file they name is served with its content type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from fairwheel.api.docs import ASSETS, ASSETS_PATH
from tests.test_api_support import live_server

_REFS = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_KINDS = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from tests.store_backends import node_database

    with node_database() as database:
        settings = load_settings(
            home=tmp_path_factory.mktemp("docs"),
            chain_url="embedded://",
            embedder_url="fake-hash://384",
            **database,
        )
        node = Node.open(settings)
        try:
            with live_server(node, rate_per_second=0) as live:
                yield live
        finally:
            node.close()


def _page(server: Any, path: str) -> tuple[str, list[str]]:
    answer = httpx.get(server.url + path, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text, _REFS.findall(answer.text)


@pytest.mark.parametrize(
    ("path", "needs"),
    [
        ("/docs", {"swagger_js", "swagger_css", "favicon"}),
        ("/redoc", {"redoc_js", "favicon"}),
    ],
)
def test_the_docs_pages_load_everything_from_the_node(
    server: Any, path: str, needs: set[str]
) -> None:
    html, refs = _page(server, path)
    assert not re.search(r"https?://", html), "the page names an outside host"
    assert "fonts.googleapis" not in html and "cdn." not in html
    wanted = {f"{ASSETS_PATH}/{ASSETS[what]}" for what in needs}
    assert wanted <= set(refs)
    for ref in refs:
        url = urljoin(server.url + path, ref)
        assert urlparse(url).netloc == urlparse(server.url).netloc, ref
        if ref.endswith("openapi.json"):
            continue
        asset = httpx.get(url, timeout=30)
        assert asset.status_code == 200, ref
        kind = _KINDS[ref[ref.rindex(".") :]]
        assert kind in asset.headers["content-type"], (ref, asset.headers["content-type"])
        assert len(asset.content) > 1000


def test_the_scripts_are_swagger_ui_and_redoc_themselves(server: Any) -> None:
    swagger = httpx.get(f"{server.url}{ASSETS_PATH}/{ASSETS['swagger_js']}", timeout=30).text
    redoc = httpx.get(f"{server.url}{ASSETS_PATH}/{ASSETS['redoc_js']}", timeout=30).text
    css = httpx.get(f"{server.url}{ASSETS_PATH}/{ASSETS['swagger_css']}", timeout=30).text
    assert "SwaggerUIBundle" in swagger and "Redoc" in redoc and ".swagger-ui" in css
    # The page turns Swagger UI's validator badge off: it would load from validator.swagger.io.
    html, _ = _page(server, "/docs")
    assert '"validatorUrl": null' in html


def test_the_oauth2_redirect_and_the_schema_still_answer(server: Any) -> None:
    assert httpx.get(f"{server.url}/docs/oauth2-redirect", timeout=30).status_code == 200
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert not any(p.startswith(("/docs", "/redoc", ASSETS_PATH)) for p in spec["paths"])
    missing = httpx.get(f"{server.url}{ASSETS_PATH}/nothing.js", timeout=30)
    assert missing.status_code == 404
