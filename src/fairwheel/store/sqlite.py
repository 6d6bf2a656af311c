"""The SQLite backend of the store port (WAL journal, synchronous=FULL): the embedded default."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairwheel.errors import BackendError, Conflict, FairwheelError
from fairwheel.store._access import AccessTables
from fairwheel.store._flywheel import FlywheelTables
from fairwheel.store._jobs import JobTables
from fairwheel.store._ledger import LedgerTables
from fairwheel.store._migrate import Migration, latest_version, migrate, statements
from fairwheel.store._records import RecordTables
from fairwheel.store._settlement import PendingCloseTables, SettlementTables

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

SCHEMA_VERSION = latest_version()
"""The schema version this node writes (``PRAGMA user_version``)."""


class SqliteStore(
    RecordTables, LedgerTables, FlywheelTables, SettlementTables, AccessTables, JobTables,
    PendingCloseTables,
):
    """Records, embeddings, models, ledger and epochs in one SQLite file.

    Every public write runs inside :meth:`transaction`, so a failure leaves no
    partial state. Money is stored as decimal text and returned as ``int``.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open database {path}: {exc}") from exc
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self.transaction():
                migrate(self, str(path))
        except sqlite3.Error as exc:
            self._db.close()
            raise BackendError(f"cannot open database {path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    # -- the connection ------------------------------------------------------
    def _execute(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _port_error(self, exc: Exception) -> FairwheelError | None:
        if isinstance(exc, sqlite3.IntegrityError):
            return Conflict(f"database constraint failed: {exc}")
        if isinstance(exc, sqlite3.Error):
            return BackendError(f"database error: {exc}")
        return None

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock up front: two writers never deadlock on an upgrade.
        self._exec("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._exec("COMMIT")

    def _rollback(self) -> None:
        self._exec("ROLLBACK")

    def lock(self, name: str) -> None:
        """Nothing to take: ``BEGIN IMMEDIATE`` already serialises every writer of the file."""
        if not self.in_transaction:
            raise RuntimeError("Store.lock must run inside a transaction")

    # -- migrations (fairwheel.store._migrate) -------------------------------
    def _schema_version(self) -> int:
        row = self._one("PRAGMA user_version")
        return 0 if row is None else int(row["user_version"])

    def _has_tables(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1") is not None

    def _apply_migration(self, migration: Migration) -> None:
        for statement in statements(migration.sql):
            self._exec(statement)
        # PRAGMA takes no parameters; the version is an int from a checked file name.
        self._exec(f"PRAGMA user_version = {int(migration.version)}")
