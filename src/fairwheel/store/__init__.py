"""The store port: the node's source of truth, chosen by URL.

``Store`` is the typed protocol (one per aggregate, in :mod:`fairwheel.store.port`) that every
backend implements and every service is typed against. Backends, by URL scheme:

* ``sqlite:///path/to/file.db``: the embedded default (:class:`SqliteStore`);
* ``postgresql://user:password@host:port/database``: PostgreSQL through psycopg 3
  (:class:`~fairwheel.store.postgres.PostgresStore`, imported only when asked for).

Both run the same migrations (:mod:`fairwheel.store._migrate`) and pass the same conformance
suite (``tests/conformance/test_store.py``). Indexes and caches are derived from the store and
can be rebuilt from it.
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
        BackendError: the database cannot be reached or opened.
    """
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from fairwheel.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(
        f"no store backend for {url!r} "
        "(supported: sqlite:///PATH, postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
    )
