"""Store tables of the HTTP edge's shared state: login nonces, sessions, idempotent responses.

A table group of every SQL backend. Kept in the node's database, not in a server's memory, so
that every worker of a node (``fairwheel serve --workers N``) sees one sign-in and one
idempotency record, and a restart keeps them. Each method is one short transaction of its own.
"""

from __future__ import annotations

import json
from typing import Literal

from fairwheel.domain.rows import SessionRow, StoredResponseRow
from fairwheel.store._connection import SqlConnection

IN_PROGRESS: Literal["in-progress"] = "in-progress"


class AccessTables(SqlConnection):
    """Queries over ``api_nonces``, ``api_sessions`` and ``api_idempotency``."""

    # -- login nonces --------------------------------------------------------
    def put_nonce(self, nonce: str, expires: float, now: float) -> None:
        """Keep a fresh login nonce (and forget the expired ones)."""
        with self.transaction():
            self._exec("DELETE FROM api_nonces WHERE expires <= ?", (now,))
            self._exec("INSERT INTO api_nonces(nonce, expires) VALUES(?,?)", (nonce, expires))

    def take_nonce(self, nonce: str, now: float) -> bool:
        """Spend a nonce: True once if it exists and has not expired, then never again."""
        with self.transaction():
            row = self._one("DELETE FROM api_nonces WHERE nonce = ? RETURNING expires", (nonce,))
        return row is not None and float(row["expires"]) > now

    def nonce_count(self, now: float) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM api_nonces WHERE expires > ?", (now,))
        return int(row["n"]) if row else 0

    # -- sessions --------------------------------------------------------------
    def put_session(self, digest: str, session: SessionRow, now: float, capacity: int) -> None:
        """Keep a session; beyond ``capacity`` live sessions the oldest are dropped."""
        with self.transaction():
            self._exec("DELETE FROM api_sessions WHERE expires <= ?", (now,))
            self._exec(
                "INSERT INTO api_sessions(digest, address, is_operator, expires, created) "
                "VALUES(?,?,?,?,?)",
                (digest, session["address"], int(session["is_operator"]), session["expires"], now),
            )
            row = self._one("SELECT COUNT(*) AS n FROM api_sessions")
            excess = (int(row["n"]) if row else 0) - capacity
            if excess > 0:
                self._exec(
                    "DELETE FROM api_sessions WHERE digest IN (SELECT digest FROM api_sessions "
                    "ORDER BY created, digest LIMIT ?)",
                    (excess,),
                )

    def session(self, digest: str, now: float) -> SessionRow | None:
        """The live session of a token digest, or None (unknown or expired)."""
        row = self._one(
            "SELECT address, is_operator, expires FROM api_sessions WHERE digest = ? "
            "AND expires > ?",
            (digest, now),
        )
        if row is None:
            return None
        return SessionRow(
            address=str(row["address"]),
            is_operator=bool(row["is_operator"]),
            expires=float(row["expires"]),
        )

    def drop_session(self, digest: str) -> bool:
        """End a session; True if it existed."""
        with self.transaction():
            row = self._one("DELETE FROM api_sessions WHERE digest = ? RETURNING digest", (digest,))
        return row is not None

    def session_count(self, now: float) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM api_sessions WHERE expires > ?", (now,))
        return int(row["n"]) if row else 0

    # -- idempotency -------------------------------------------------------------
    def claim_slot(self, slot: str, now: float) -> StoredResponseRow | str | None:
        """Look an idempotency slot up and claim it if free.

        Returns:
            The stored response, ``"in-progress"`` while another request (on any worker)
            holds the slot, or None once the slot is claimed for the caller.
        """
        with self.transaction():
            self._exec(
                "DELETE FROM api_idempotency WHERE slot = ? AND in_progress = 0 AND expires <= ?",
                (slot, now),
            )
            claimed = self._one(
                "INSERT INTO api_idempotency(slot, in_progress, fingerprint, status, headers, "
                "body, expires, created) VALUES(?, 1, '', 0, '[]', ?, 0, ?) "
                "ON CONFLICT(slot) DO NOTHING RETURNING slot",
                (slot, b"", now),
            )
            if claimed is not None:
                return None
            row = self._one("SELECT * FROM api_idempotency WHERE slot = ?", (slot,))
        if row is None or row["in_progress"]:
            return IN_PROGRESS
        return StoredResponseRow(
            fingerprint=str(row["fingerprint"]),
            status=int(row["status"]),
            headers=[(bytes.fromhex(k), bytes.fromhex(v)) for k, v in json.loads(row["headers"])],
            body=bytes(row["body"]),
            expires=float(row["expires"]),
        )

    def finish_slot(
        self, slot: str, response: StoredResponseRow, now: float, capacity: int, max_bytes: int
    ) -> None:
        """Store the response of a claimed slot; expired records go, and the oldest beyond
        ``capacity`` records or ``max_bytes`` of bodies."""
        headers = json.dumps([[k.hex(), v.hex()] for k, v in response["headers"]])
        with self.transaction():
            self._exec(
                "UPDATE api_idempotency SET in_progress = 0, fingerprint = ?, status = ?, "
                "headers = ?, body = ?, expires = ? WHERE slot = ?",
                (response["fingerprint"], response["status"], headers, response["body"],
                 response["expires"], slot),
            )  # fmt: skip
            self._exec("DELETE FROM api_idempotency WHERE in_progress = 0 AND expires <= ?", (now,))
            totals = self._one(
                "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(body)), 0) AS size "
                "FROM api_idempotency WHERE in_progress = 0"
            )
            if totals is None or (
                int(totals["n"]) <= capacity and int(totals["size"]) <= max_bytes
            ):
                return
            rows = self._all(
                "SELECT slot, LENGTH(body) AS size FROM api_idempotency WHERE in_progress = 0 "
                "ORDER BY created DESC, slot"
            )
            total = 0
            for kept, row in enumerate(rows, start=1):
                total += int(row["size"] or 0)
                if kept > capacity or total > max_bytes:
                    self._exec("DELETE FROM api_idempotency WHERE slot = ?", (row["slot"],))

    def release_slot(self, slot: str) -> None:
        """Give a claimed slot back without storing anything (the request had no effect)."""
        with self.transaction():
            self._exec("DELETE FROM api_idempotency WHERE slot = ? AND in_progress = 1", (slot,))

    def slot_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM api_idempotency")
        return int(row["n"]) if row else 0
