"""The store port: the node's source of truth, chosen by URL.

``Store`` is the typed protocol (one per aggregate, in :mod:`fairwheel.store.port`) that every
backend implements and every service is typed against; ``sqlite:///path/to/file.db`` is the
embedded default. Indexes and caches are derived from the store and can be rebuilt from it.
"""

from __future__ import annotations

from pathlib import Path

from fairwheel.errors import ConfigError
from fairwheel.store.port import Store
from fairwheel.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store", "open_store"]


def open_store(url: str) -> Store:
    """Open the store named by ``url``.

    Raises:
        ConfigError: the URL's scheme has no backend.
    """
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    raise ConfigError(f"no store backend for {url!r} (supported: sqlite:///PATH)")
