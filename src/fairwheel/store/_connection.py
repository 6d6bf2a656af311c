"""The SQL connection every store backend shares: query helpers, transactions, error mapping.

A backend (``SqliteStore``, ``PostgresStore``) is the table groups (``RecordTables``,
``LedgerTables``, ``FlywheelTables``, ``SettlementTables``) over one backend connection class.
The table groups write their SQL once, with ``?`` placeholders and the common subset of SQLite
and PostgreSQL; a backend connection runs it (PostgreSQL's turns ``?`` into ``%s``) and maps its
driver's errors onto the port's: a broken constraint is ``Conflict``, any other database failure
``BackendError``.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol

from fairwheel.errors import FairwheelError

__all__ = ["Cursor", "Row", "SqlConnection"]

_ONE_ROW = re.compile(
    r"^(?P<head>INSERT\b.*?\bVALUES)\s*(?P<row>\(\?(?:,\s*\?)*\))(?P<tail>.*)$", re.S
)
"""An insert of one row of placeholders: what :meth:`SqlConnection._exec_rows` repeats."""

Row = Mapping[str, Any]
"""A result row: column name → value (``sqlite3.Row`` and psycopg's ``dict_row`` both are)."""


class Cursor(Protocol):
    """What the table groups read from an executed statement."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(ABC):
    """One database connection, serialised by a re-entrant lock, and its query helpers.

    Subclasses implement the driver calls (:meth:`_execute`, :meth:`_execute_many`), the
    mapping of its exceptions (:meth:`_port_error`) and the three transaction verbs.
    """

    _lock: threading.RLock
    _depth: int

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor: ...

    @abstractmethod
    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _port_error(self, exc: Exception) -> FairwheelError | None:
        """The port's error for a driver's exception: ``Conflict`` for a broken constraint,
        ``BackendError`` for any other database failure; None for a non-driver exception."""

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """Raise the driver's exceptions inside the block as the port's (:meth:`_port_error`)."""
        try:
            yield
        except Exception as exc:
            mapped = self._port_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        with self._mapped():
            return self._execute(sql, params)

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many rows, with :meth:`_exec`'s error mapping."""
        if not rows:
            return
        with self._mapped():
            self._execute_many(sql, rows)

    def _exec_rows(self, sql: str, rows: Sequence[Sequence[Any]], chunk: int = 500) -> None:
        """An ``INSERT … VALUES(?,…)`` (upserts too) over many rows as one multi-row statement
        per ``chunk`` rows. A statement costs the driver more than a row does (on PostgreSQL
        an ``executemany`` of ten rows costs ten statements); the rows must not hit one key
        twice, since one statement may not upsert a row twice.
        """
        if not rows:
            return
        match = _ONE_ROW.match(sql)
        if match is None:
            raise ValueError(f"not an INSERT … VALUES(?,…) statement: {sql!r}")
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ",".join([match["row"]] * len(part))
            self._exec(f"{match['head']} {values}{match['tail']}", [v for r in part for v in r])

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """The result rows, fetched with the error mapping (in a pipelined transaction an
        earlier statement's failure surfaces when results are fetched)."""
        cur = self._exec(sql, params)
        with self._mapped():
            yield from cur

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cur = self._exec(sql, params)
        with self._mapped():
            row: Row | None = cur.fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._rows(sql, params))

    def _batched(self) -> AbstractContextManager[None]:
        """Where a backend may send a transaction's statements without waiting for each
        result (PostgreSQL's pipeline mode: one round trip per read instead of per
        statement); the block ends before a rollback is sent. Default: as they come."""
        return nullcontext()

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT … RETURNING id`` and answer the new row's id."""
        row = self._one(sql, params)
        if row is None:  # pragma: no cover - RETURNING always yields the row
            raise RuntimeError("INSERT … RETURNING id gave no row")
        return int(row["id"])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block atomically; nested blocks join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            begun = False
            try:
                with self._batched():
                    self._begin()
                    begun = True
                    yield
                    self._commit()
            except BaseException:
                if begun:  # after the batch: an aborted batch would skip it
                    self._rollback()
                raise
            finally:
                self._depth = 0

    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open on this connection."""
        return self._depth > 0
