"""The node as a service: the HTTP API (FastAPI), wallet login and the dashboard.

``create_app(node, ApiConfig(...))`` builds the ASGI app; ``fairwheel serve`` runs it (see
:mod:`fairwheel.cli.serve`). Importing this package loads nothing heavy; the names below are
resolved on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from fairwheel.api.app import create_app

        return create_app
    if name == "ApiConfig":
        from fairwheel.api.context import ApiConfig

        return ApiConfig
    raise AttributeError(name)
