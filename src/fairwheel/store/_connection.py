"""The SQLite connection the store's table groups share, with the error mapping of the port.

``SqliteStore`` is composed of table groups (``FlywheelTables``, ``SettlementTables`` and its
own); each is a subclass of :class:`SqliteConnection`, so a group's queries are checked against
real helpers rather than ``NotImplementedError`` stubs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fairwheel.errors import BackendError, Conflict

__all__ = ["SqliteConnection"]


class SqliteConnection:
    """One SQLite connection (``_db``, opened by ``SqliteStore``) and its query helpers.

    A broken constraint raises ``Conflict``; any other database failure ``BackendError``.
    """

    _db: sqlite3.Connection

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"database constraint failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise BackendError(f"database error: {exc}") from exc

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many rows (``executemany``), with ``_exec``'s error mapping."""
        if not rows:
            return
        try:
            self._db.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"database constraint failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise BackendError(f"database error: {exc}") from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._exec(sql, params).fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self._exec(sql, params).fetchall())
