"""Schema migrations: one mechanism for every SQL backend.

A migration is a file ``migrations/NNNN_name.sql`` in this package; ``NNNN`` is the schema
version it brings the database to. The files are written once, in the SQL both backends speak
(SQLite's type names; a backend may translate its DDL, as PostgreSQL's does), and never edited
after they shipped: a change is a new file. Opening a store runs the pending files in order,
each with its version bump, inside one transaction, so a failed migration leaves the database
as it was.

Version 2 is the baseline: every database written before schema versions (version 0, which
kept record text in plaintext columns, issue #12) is refused, not migrated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Protocol

from fairwheel.errors import ConfigError

__all__ = ["BASELINE", "Migration", "latest_version", "migrate", "migrations", "statements"]

BASELINE = 2
"""The oldest schema version a store can open (and migrate forward from)."""

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema step: the SQL that brings a database to ``version``."""

    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with this package, oldest first.

    Raises:
        ConfigError: Two files claim one version, or a file name is malformed.
    """
    found: dict[int, Migration] = {}
    for entry in resources.files("fairwheel.store").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise ConfigError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ConfigError(f"two migrations bring the schema to version {version}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return tuple(found[v] for v in sorted(found))


def latest_version() -> int:
    """The schema version this node writes."""
    return migrations()[-1].version


def statements(sql: str) -> list[str]:
    """Split a migration into statements (``;`` at the end of a line; comments dropped)."""
    lines = [line.split("--", 1)[0].rstrip() for line in sql.splitlines()]
    out, current = [], []
    for line in lines:
        if not line.strip():
            continue
        current.append(line)
        if line.endswith(";"):
            out.append("\n".join(current).rstrip(";").strip())
            current = []
    if current:
        out.append("\n".join(current).strip())
    return out


class Migratable(Protocol):
    """What a backend gives the runner; every call runs inside the runner's transaction."""

    def _schema_version(self) -> int:
        """The stored schema version (0 when none is recorded)."""
        ...

    def _has_tables(self) -> bool:
        """Whether the database holds any table of ours."""
        ...

    def _apply_migration(self, migration: Migration) -> None:
        """Run one migration's statements and record its version."""
        ...


def migrate(db: Migratable, where: str) -> list[int]:
    """Bring the database to :func:`latest_version`; the versions applied, oldest first.

    Args:
        db: The backend connection, inside a transaction the caller commits.
        where: The database, for messages (a path, or a host and database name).

    Raises:
        ConfigError: The database predates schema versions, or a newer node wrote it.
    """
    found = db._schema_version()
    latest = latest_version()
    if found < BASELINE and db._has_tables():
        raise ConfigError(
            f"database {where} has schema version {found}, this node needs {latest} "
            "(record content moved out of the database, issue #12): export what you need "
            "with the older version and start a new home",
            found=found, expected=latest,
        )  # fmt: skip
    if found > latest:
        raise ConfigError(
            f"database {where} has schema version {found}, newer than this node's {latest}: "
            "upgrade fairwheel to open it",
            found=found, expected=latest,
        )  # fmt: skip
    pending = [m for m in migrations() if m.version > found]
    for migration in pending:
        db._apply_migration(migration)
    return [m.version for m in pending]
