"""Schema migrations, one mechanism for every store backend (``fairwheel.store._migrate``).

Each test runs on SQLite and on PostgreSQL (skipped without a test database): a fresh store
is at the latest version, a new migration file is applied once and in order, a failing one
leaves the database as it was, and databases too old or too new are refused with the versions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from fairwheel.errors import BackendError, ConfigError
from fairwheel.store import _migrate, open_store
from fairwheel.store._migrate import BASELINE, Migration, latest_version, statements
from tests.store_backends import postgres_schema


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    context: AbstractContextManager[str] = (
        postgres_schema()
        if request.param == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'store.db'}")
    )
    with context as opened:
        yield opened


def raw(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run one statement on the database behind ``url`` with the driver, not the store."""
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            return list(db.execute(sql).fetchall())
        finally:
            db.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        cur = db.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def version_of(url: str) -> int:
    if url.startswith("sqlite:///"):
        return int(raw(url, "PRAGMA user_version")[0][0])  # type: ignore[call-overload]
    return int(raw(url, "SELECT MAX(version) FROM fairwheel_schema")[0][0])  # type: ignore[call-overload]


def has_table(url: str, name: str) -> bool:
    if url.startswith("sqlite:///"):
        return bool(raw(url, f"SELECT 1 FROM sqlite_master WHERE name = '{name}'"))
    return raw(url, f"SELECT to_regclass('{name}')")[0][0] is not None


def with_extra(monkeypatch: pytest.MonkeyPatch, *extra: Migration) -> None:
    shipped = _migrate.migrations()
    monkeypatch.setattr(_migrate, "migrations", lambda: (*shipped, *extra))


def test_a_fresh_store_is_at_the_latest_version_and_reopening_changes_nothing(url: str) -> None:
    open_store(url).close()
    assert version_of(url) == latest_version() >= BASELINE
    store = open_store(url)
    with store.transaction():
        store.set_meta("k", "v")
    store.close()
    open_store(url).close()
    assert version_of(url) == latest_version()


def test_a_new_migration_runs_once_in_order_and_keeps_the_data(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(url)
    with store.transaction():
        store.set_meta("kept", "yes")
    store.close()
    base = latest_version()
    with_extra(
        monkeypatch,
        Migration(base + 1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"),
        Migration(base + 2, "seed", "INSERT INTO notes(id, body) VALUES (1, 'after notes');"),
    )
    store = open_store(url)
    assert store.get_meta("kept") == "yes"
    store.close()
    assert version_of(url) == base + 2
    assert raw(url, "SELECT id, body FROM notes") == [(1, "after notes")]
    open_store(url).close()  # run once: a second seed would break the primary key
    assert raw(url, "SELECT COUNT(*) FROM notes")[0][0] == 1


def test_a_failing_migration_leaves_the_database_as_it_was(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(url).close()
    base = latest_version()
    with_extra(
        monkeypatch,
        Migration(base + 1, "half", "CREATE TABLE half (id INTEGER PRIMARY KEY);\nNOT SQL AT ALL;"),
    )
    with pytest.raises(BackendError):
        open_store(url)
    assert version_of(url) == base and not has_table(url, "half")


def test_a_database_from_a_newer_node_is_refused(url: str) -> None:
    open_store(url).close()
    newer = latest_version() + 5
    if url.startswith("sqlite:///"):
        raw(url, f"PRAGMA user_version = {newer}")
    else:
        raw(url, f"INSERT INTO fairwheel_schema(version) VALUES ({newer})")
    with pytest.raises(ConfigError, match="newer than this node") as info:
        open_store(url)
    assert info.value.details == {"found": newer, "expected": latest_version()}


def test_a_database_from_before_versions_is_refused_not_migrated(url: str) -> None:
    raw(url, "CREATE TABLE records (id INTEGER PRIMARY KEY, preview TEXT NOT NULL)")
    with pytest.raises(ConfigError, match="schema version 0") as info:
        open_store(url)
    assert info.value.details == {"found": 0, "expected": latest_version()}
    assert not has_table(url, "ledger")


def test_migration_files_split_into_statements() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT); -- trailing\n\nSELECT 1;\n"
    assert statements(sql) == ["CREATE TABLE a (x TEXT)", "SELECT 1"]
    assert [m.version for m in _migrate.migrations()] == sorted(
        m.version for m in _migrate.migrations()
    )
