"""Store tables of vouchers and settlement shortfalls: each payer's latest voucher, every
voucher accepted, entries a close could not collect, and each payer's debt after each
close (docs/settlement.md, "Shortfalls and debt").

A table group of every SQL backend (``SqliteStore``, ``PostgresStore``); every write runs inside
the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fairwheel.store._connection import SqlConnection


class SettlementTables(SqlConnection):
    """Queries over ``vouchers``, ``voucher_history``, ``unsettled`` and ``debts``."""

    def voucher(self, pool_id: int, payer: str) -> tuple[int, bytes] | None:
        row = self._one(
            "SELECT cumulative, signature FROM vouchers WHERE pool_id = ? AND payer = ?",
            (pool_id, payer.lower()),
        )
        return None if row is None else (int(row["cumulative"]), bytes(row["signature"]))

    def vouchers(self, pool_id: int) -> list[tuple[str, int, bytes]]:
        rows = self._all(
            "SELECT payer, cumulative, signature FROM vouchers WHERE pool_id = ? ORDER BY payer",
            (pool_id,),
        )
        return [(str(r["payer"]), int(r["cumulative"]), bytes(r["signature"])) for r in rows]

    def put_voucher(self, pool_id: int, payer: str, cumulative: int, signature: bytes) -> None:
        self._exec(
            "INSERT INTO vouchers(pool_id, payer, cumulative, signature) VALUES(?,?,?,?) "
            "ON CONFLICT(pool_id, payer) DO UPDATE SET cumulative = excluded.cumulative, "
            "signature = excluded.signature",
            (pool_id, payer.lower(), str(cumulative), signature),
        )
        self.record_voucher(pool_id, payer, cumulative, signature)

    def record_voucher(self, pool_id: int, payer: str, cumulative: int, signature: bytes) -> None:
        """Keep an accepted voucher (every one, not only the latest)."""
        self._exec(
            "INSERT INTO voucher_history(pool_id, payer, cumulative, signature) "
            "VALUES(?,?,?,?) ON CONFLICT DO NOTHING",
            (pool_id, payer.lower(), str(cumulative), signature),
        )

    def best_voucher(
        self, pool_id: int, payer: str, above: int, at_most: int
    ) -> tuple[int, bytes] | None:
        """The payer's largest accepted voucher with ``above < cumulative <= at_most``."""
        best: tuple[int, bytes] | None = None
        rows = self._all(
            "SELECT cumulative, signature FROM voucher_history WHERE pool_id = ? AND payer = ?",
            (pool_id, payer.lower()),
        )
        for row in rows:  # amounts are decimal text: compare them as integers
            amount = int(row["cumulative"])
            if above < amount <= at_most and (best is None or amount > best[0]):
                best = (amount, bytes(row["signature"]))
        return best

    def prune_vouchers(self, pool_id: int, collected: Mapping[str, int]) -> None:
        """Forget vouchers at or below what was collected: they can never be redeemed again."""
        for payer, amount in collected.items():
            rows = self._all(
                "SELECT cumulative FROM voucher_history WHERE pool_id = ? AND payer = ?",
                (pool_id, payer.lower()),
            )
            for row in rows:
                if int(row["cumulative"]) <= amount:
                    self._exec(
                        "DELETE FROM voucher_history WHERE pool_id = ? AND payer = ? "
                        "AND cumulative = ?",
                        (pool_id, payer.lower(), row["cumulative"]),
                    )

    def unsettled_lines(self, pool_id: int) -> Iterator[tuple[int, str, str]]:
        """``(seq, body JSON, hash)`` of entries published earlier but not yet collected."""
        rows = self._rows(
            "SELECT l.seq, l.body, l.hash FROM unsettled u JOIN ledger l ON l.seq = u.seq "
            "WHERE u.pool_id = ? ORDER BY u.seq",
            (pool_id,),
        )
        for row in rows:
            yield int(row["seq"]), str(row["body"]), str(row["hash"])

    def has_unsettled(self, pool_id: int) -> bool:
        return bool(self._all("SELECT 1 FROM unsettled WHERE pool_id = ? LIMIT 1", (pool_id,)))

    def set_unsettled(self, pool_id: int, epoch: int, entries: Sequence[Mapping[str, Any]]) -> None:
        """Replace the pool's uncollected entries after a close (first-published epoch kept)."""
        first = {
            int(r["seq"]): int(r["epoch"])
            for r in self._all("SELECT seq, epoch FROM unsettled WHERE pool_id = ?", (pool_id,))
        }
        self._exec("DELETE FROM unsettled WHERE pool_id = ?", (pool_id,))
        for entry in entries:
            seq = int(entry["seq"])
            self._exec(
                "INSERT INTO unsettled(seq, pool_id, payer, voucher_amount, epoch) "
                "VALUES(?,?,?,?,?)",
                (seq, pool_id, str(entry["consumer"]), str(entry["voucher_amount"]),
                 first.get(seq, epoch)),
            )  # fmt: skip

    def insert_debts(
        self, pool_id: int, epoch: int, debts: Mapping[str, Mapping[str, int]]
    ) -> None:
        """Record each payer's debt after a close: ``{payer: {owed, withheld, collected}}``."""
        for payer, debt in debts.items():
            self._exec(
                "INSERT INTO debts(pool_id, epoch, payer, owed, withheld, collected) "
                "VALUES(?,?,?,?,?,?)",
                (pool_id, epoch, payer, str(debt["owed"]), str(debt["withheld"]),
                 str(debt["collected"])),
            )  # fmt: skip

    def debts(self, pool_id: int, epoch: int | None = None) -> dict[str, dict[str, int]]:
        """Debts after the pool's latest close (or after ``epoch``)."""
        if epoch is None:
            latest = self._all("SELECT MAX(epoch) AS e FROM epochs WHERE pool_id = ?", (pool_id,))
            if not latest or latest[0]["e"] is None:
                return {}
            epoch = int(latest[0]["e"])
        rows = self._all("SELECT * FROM debts WHERE pool_id = ? AND epoch = ?", (pool_id, epoch))
        return {
            str(r["payer"]): {
                "owed": int(r["owed"]),
                "withheld": int(r["withheld"]),
                "collected": int(r["collected"]),
            }
            for r in rows
        }


class PendingCloseTables(SqlConnection):
    """Queries over ``pending_closes``: an epoch close between writing and posting its root."""

    def put_pending_close(
        self, pool_id: int, epoch: int, root: str, file_hash: str, body: str
    ) -> None:
        """Keep what finishing the close will write (committed before the root is posted)."""
        self._exec(
            "INSERT INTO pending_closes(pool_id, epoch, root, file_hash, body) VALUES(?,?,?,?,?) "
            "ON CONFLICT(pool_id) DO UPDATE SET epoch = excluded.epoch, root = excluded.root, "
            "file_hash = excluded.file_hash, body = excluded.body",
            (pool_id, epoch, root, file_hash, body),
        )

    def pending_close(self, pool_id: int) -> dict[str, Any] | None:
        """``{epoch, root, file_hash, body}`` of the pool's close in flight, or None."""
        row = self._one("SELECT * FROM pending_closes WHERE pool_id = ?", (pool_id,))
        return None if row is None else dict(row)

    def drop_pending_close(self, pool_id: int) -> None:
        self._exec("DELETE FROM pending_closes WHERE pool_id = ?", (pool_id,))
