"""The web dashboard, served by the API process: Jinja2 pages, inline SVG charts, one small
script for wallet signing (an injected EIP-1193 wallet, or the built-in test wallets in dev
mode). No build step and no external assets."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["mount_dashboard"]


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and its ``/static`` files to ``app``."""
    from fastapi.staticfiles import StaticFiles

    from fairwheel.web import consumer, contributor, views
    from fairwheel.web.common import HERE

    for module in (views, contributor, consumer):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
