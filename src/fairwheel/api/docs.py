"""The API's documentation pages, served with no CDN: ``/docs`` (Swagger UI) and ``/redoc``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and a favicon and Google fonts from
other hosts), so on a node without internet access they stay blank. These pages load the same
scripts and styles from the node itself: the files the PyPI package ``fastapi-offline`` ships
(Swagger UI 5 and ReDoc 2, under their MIT licences), mounted at :data:`ASSETS_PATH`.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from fairwheel.errors import ConfigError

__all__ = ["ASSETS", "ASSETS_PATH", "mount_docs"]

#: Where the documentation's scripts and styles are served.
ASSETS_PATH = "/docs-assets"
#: The files the pages load, by what they are.
ASSETS = {
    "swagger_js": "swagger-ui-bundle.js",
    "swagger_css": "swagger-ui.css",
    "redoc_js": "redoc.standalone.js",
    "favicon": "favicon.png",
}
_PACKAGE = "fastapi_offline"


def _assets_dir() -> str:
    """The folder of the packaged Swagger UI and ReDoc files.

    Raises:
        ConfigError: The package is not installed or lacks a file (reinstall the node).
    """
    try:
        folder = resources.files(_PACKAGE) / "static"
    except ModuleNotFoundError:
        raise ConfigError(
            f"the API docs need the package {_PACKAGE!r}: pip install fairwheel again"
        ) from None
    missing = [name for name in ASSETS.values() if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"the API docs' files are missing from {folder}: {', '.join(missing)}")
    return str(folder)


def _url(root_path: str, what: str) -> str:
    return f"{root_path}{ASSETS_PATH}/{ASSETS[what]}"


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect, ``/redoc`` and their files to ``app``.

    Create ``app`` with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are not
    registered.

    Raises:
        ConfigError: The packaged files are missing.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="docs-assets")
    openapi_url = str(app.openapi_url)
    redirect_url = str(app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect")
    # No "validatorUrl": Swagger UI would load a badge from validator.swagger.io.
    parameters = {**(app.swagger_ui_parameters or {}), "validatorUrl": None}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", ""))
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_url(root, "swagger_js"),
            swagger_css_url=_url(root, "swagger_css"),
            swagger_favicon_url=_url(root, "favicon"),
            oauth2_redirect_url=root + redirect_url,
            swagger_ui_parameters=parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", ""))
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=_url(root, "redoc_js"),
            redoc_favicon_url=_url(root, "favicon"),
            with_google_fonts=False,
        )
