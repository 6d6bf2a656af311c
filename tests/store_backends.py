"""Store backends for the tests: SQLite in the test's folder, or a fresh PostgreSQL schema.

``FAIRWHEEL_TEST_POSTGRES_URL`` names a PostgreSQL database the tests may create schemas in
(``scripts/postgres.sh start`` prints one; ``scripts/test.sh`` sets it); without it the
PostgreSQL cases of the conformance suite are skipped with that reason. ``FAIRWHEEL_TEST_STORE
=postgresql`` runs every node the tests open (``node_factory``, the API worlds) on PostgreSQL.
Each test gets its own schema, dropped afterwards, so tests stay isolated as with SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

POSTGRES_URL = os.environ.get("FAIRWHEEL_TEST_POSTGRES_URL", "")
NO_POSTGRES = "no PostgreSQL for tests: set FAIRWHEEL_TEST_POSTGRES_URL (scripts/postgres.sh)"


def nodes_use_postgres() -> bool:
    """Whether the nodes the tests open should use PostgreSQL (``FAIRWHEEL_TEST_STORE``)."""
    wanted = os.environ.get("FAIRWHEEL_TEST_STORE", "sqlite")
    if wanted not in ("sqlite", "postgresql"):
        raise RuntimeError(f"FAIRWHEEL_TEST_STORE must be sqlite or postgresql, not {wanted!r}")
    if wanted == "postgresql" and not POSTGRES_URL:
        raise RuntimeError("FAIRWHEEL_TEST_STORE=postgresql needs FAIRWHEEL_TEST_POSTGRES_URL")
    return wanted == "postgresql"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL on a new, empty schema of the test database; the schema is dropped after."""
    import psycopg

    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def node_database() -> Iterator[dict[str, str]]:
    """Settings overrides that put a test node's store on the chosen backend ({} = SQLite)."""
    if not nodes_use_postgres():
        yield {}
        return
    with postgres_schema() as url:
        yield {"database_url": url}
