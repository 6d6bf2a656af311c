"""Store tables of money and models: models, the ledger and its open fold, epochs,
earnings and labeling jobs.

A table group of every SQL backend (``SqliteStore``, ``PostgresStore``); every write runs inside
the caller's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from fairwheel.domain.rows import EpochRow, LedgerEntry, LedgerTail, ModelRow
from fairwheel.errors import NotFound
from fairwheel.store._connection import SqlConnection
from fairwheel.store._rows import epoch_row, ledger_entry, model_row


class LedgerTables(SqlConnection):
    """Queries over ``models``, ``model_values``, ``ledger``, ``open_epochs``,
    ``open_earnings``, ``epochs``, ``earnings`` and the labeling tables."""

    # -- models -------------------------------------------------------------
    def insert_model(self, model: dict[str, Any], values: dict[int, float]) -> int:
        model_id = self._insert_id(
            "INSERT INTO models(pool_id, chain_id, builder, model_hash, dataset_root, metrics, "
            "metrics_hash, artifact, tx_hash, version, trigger, report, created_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (model["pool_id"], model["chain_id"], model["builder"], model["model_hash"],
             model["dataset_root"], model["metrics"], model["metrics_hash"], model["artifact"],
             model["tx_hash"], model.get("version", 0), model.get("trigger", "manual"),
             json.dumps(model.get("report", {}), sort_keys=True), time.time()),
        )  # fmt: skip
        self._exec_many(
            "INSERT INTO model_values(model_id, record_id, value) VALUES(?,?,?)",
            [(model_id, rid, float(v)) for rid, v in values.items()],
        )
        return model_id

    def latest_model(self, pool_id: int) -> ModelRow:
        row = self._one(
            "SELECT * FROM models WHERE pool_id = ? ORDER BY id DESC LIMIT 1", (pool_id,)
        )
        if row is None:
            raise NotFound(f"pool {pool_id} has no trained model yet", pool_id=pool_id)
        return model_row(row)

    def models(self, pool_id: int) -> list[ModelRow]:
        """Every model version of the pool, oldest first, with its metrics."""
        rows = self._all("SELECT * FROM models WHERE pool_id = ? ORDER BY id", (pool_id,))
        return [model_row(row) for row in rows]

    def model_values(self, model_id: int) -> dict[int, float]:
        rows = self._all(
            "SELECT record_id, value FROM model_values WHERE model_id = ? ORDER BY record_id",
            (model_id,),
        )
        return {int(r["record_id"]): float(r["value"]) for r in rows}

    # -- ledger --------------------------------------------------------------
    def ledger_tail(self, pool_id: int) -> LedgerTail:
        """The last sequence number of the whole ledger (0 if empty), the hash of the pool's
        last entry (the genesis hash if none) and the dust it carried out (0 if none), in one
        read: each pool's entries form their own hash chain, so a pool's epoch file verifies
        alone; sequence numbers are unique across pools."""
        last = "FROM ledger WHERE pool_id = ? ORDER BY seq DESC LIMIT 1"
        row = self._one(
            f"SELECT (SELECT COALESCE(MAX(seq), 0) FROM ledger) AS seq, (SELECT hash {last}) "
            f"AS hash, (SELECT body {last}) AS body",
            (pool_id, pool_id),
        )
        if row is None or row["hash"] is None:
            return LedgerTail(int(row["seq"]) if row else 0, "0x" + "00" * 32, 0)
        dust = int(json.loads(row["body"])["dust_out"])
        return LedgerTail(int(row["seq"]), str(row["hash"]), dust)

    def append_ledger(self, seq: int, pool_id: int, body: str, entry_hash: str) -> None:
        self._exec(
            "INSERT INTO ledger(seq, pool_id, body, hash) VALUES(?,?,?,?)",
            (seq, pool_id, body, entry_hash),
        )

    def pool_dust(self, pool_id: int) -> int:
        """Rounding dust the pool carries into its next call."""
        row = self._one(
            "SELECT body FROM ledger WHERE pool_id = ? ORDER BY seq DESC LIMIT 1", (pool_id,)
        )
        if row is not None:
            return int(json.loads(row["body"])["dust_out"])
        return 0

    def fold_open(self, pool_id: int, body: dict[str, Any]) -> None:
        """Add one new ledger entry to the pool's running fold of its open epoch."""
        row = self._one("SELECT * FROM open_epochs WHERE pool_id = ?", (pool_id,))
        fee = int(body["operator_fee"])
        if row is None:
            self._exec(
                "INSERT INTO open_epochs(pool_id, first_seq, first_prev_hash, dust_in, paid, "
                "fees, entries) VALUES(?,?,?,?,?,?,1)",
                (
                    pool_id,
                    body["seq"],
                    body["prev_hash"],
                    str(body["dust_in"]),
                    str(body["price"]),
                    str(fee),
                ),
            )
        else:
            self._exec(
                "UPDATE open_epochs SET paid = ?, fees = ?, entries = entries + 1 "
                "WHERE pool_id = ?",
                (str(int(row["paid"]) + int(body["price"])), str(int(row["fees"]) + fee), pool_id),
            )
        credits = [(a, int(v)) for a, v in body["attribution"]]
        if body["builder"] and int(body["builder_amount"]):
            credits.append((body["builder"], int(body["builder_amount"])))
        if not credits:
            return
        # One read and one batched upsert, not two statements per credited account (amounts
        # are decimal text: integers beyond SQLite's 64 bits are added here, not in SQL).
        added: dict[str, int] = {}
        for account, amount in credits:
            added[account] = added.get(account, 0) + amount
        marks = ",".join("?" * len(added))
        current = {
            str(r["account"]): int(r["amount"])
            for r in self._all(
                f"SELECT account, amount FROM open_earnings WHERE pool_id = ? AND account IN "
                f"({marks})",
                [pool_id, *added],
            )
        }
        self._exec_rows(
            "INSERT INTO open_earnings(pool_id, account, amount) VALUES(?,?,?) "
            "ON CONFLICT(pool_id, account) DO UPDATE SET amount = excluded.amount",
            [(pool_id, a, str(v + current.get(a, 0))) for a, v in added.items()],
        )

    def open_fold(self, pool_id: int) -> dict[str, Any] | None:
        """The running fold of the pool's open epoch (None if it has no entries)."""
        row = self._one("SELECT * FROM open_epochs WHERE pool_id = ?", (pool_id,))
        if row is None:
            return None
        rows = self._all("SELECT account, amount FROM open_earnings WHERE pool_id = ?", (pool_id,))
        out = dict(row)
        out["earnings"] = {str(r["account"]): int(r["amount"]) for r in rows}
        return out

    def open_entry_lines(self, pool_id: int) -> Iterator[tuple[int, str, str]]:
        """``(seq, body JSON, hash)`` of the open epoch's entries, streamed in order."""
        rows = self._rows(
            "SELECT seq, body, hash FROM ledger WHERE pool_id = ? AND epoch IS NULL ORDER BY seq",
            (pool_id,),
        )
        for row in rows:
            yield int(row["seq"]), str(row["body"]), str(row["hash"])

    def seal_open_epoch(self, pool_id: int, epoch: int, last_seq: int) -> None:
        """Assign the open entries up to ``last_seq`` to ``epoch``; the running fold then holds
        only the entries after it."""
        self._exec(
            "UPDATE ledger SET epoch = ? WHERE pool_id = ? AND epoch IS NULL AND seq <= ?",
            (epoch, pool_id, last_seq),
        )
        self._exec("DELETE FROM open_epochs WHERE pool_id = ?", (pool_id,))
        self._exec("DELETE FROM open_earnings WHERE pool_id = ?", (pool_id,))
        # Entries appended after the close read the ledger (on another worker, or after a close
        # that was interrupted and is finished later) stay open: fold them again.
        for row in self._all(
            "SELECT body FROM ledger WHERE pool_id = ? AND epoch IS NULL ORDER BY seq", (pool_id,)
        ):
            self.fold_open(pool_id, json.loads(row["body"]))

    def open_ledger(self, pool_id: int) -> list[LedgerEntry]:
        """Entries of the pool not yet folded into an epoch, in order."""
        rows = self._all(
            "SELECT seq, body, hash FROM ledger WHERE pool_id = ? AND epoch IS NULL ORDER BY seq",
            (pool_id,),
        )
        return [ledger_entry(r) for r in rows]

    def ledger(self, pool_id: int | None = None) -> list[LedgerEntry]:
        if pool_id is None:
            rows = self._all("SELECT body, hash FROM ledger ORDER BY seq")
        else:
            rows = self._all(
                "SELECT body, hash FROM ledger WHERE pool_id = ? ORDER BY seq", (pool_id,)
            )
        return [ledger_entry(r) for r in rows]

    # -- epochs -------------------------------------------------------------
    def last_epoch(self, pool_id: int) -> EpochRow | None:
        row = self._one(
            "SELECT * FROM epochs WHERE pool_id = ? ORDER BY epoch DESC LIMIT 1", (pool_id,)
        )
        return None if row is None else epoch_row(row)

    def epoch(self, pool_id: int, epoch: int) -> EpochRow:
        row = self._one("SELECT * FROM epochs WHERE pool_id = ? AND epoch = ?", (pool_id, epoch))
        if row is None:
            raise NotFound(f"pool {pool_id} has no closed epoch {epoch}")
        return epoch_row(row)

    def insert_epoch(self, ep: dict[str, Any], earnings: dict[str, int]) -> None:
        self._exec(
            "INSERT INTO epochs(pool_id, epoch, root, total, dust, file_path, file_hash, tx_hash, "
            "closed_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (ep["pool_id"], ep["epoch"], ep["root"], str(ep["total"]), str(ep["dust"]),
             ep["file_path"], ep["file_hash"], ep["tx_hash"], time.time()),
        )  # fmt: skip
        self._exec_many(
            "INSERT INTO earnings(pool_id, epoch, account, cumulative) VALUES(?,?,?,?)",
            [(ep["pool_id"], ep["epoch"], a, str(v)) for a, v in earnings.items()],
        )

    def earnings(self, pool_id: int, epoch: int) -> dict[str, int]:
        rows = self._all(
            "SELECT account, cumulative FROM earnings WHERE pool_id = ? AND epoch = ?",
            (pool_id, epoch),
        )
        return {str(r["account"]): int(r["cumulative"]) for r in rows}

    # -- labeling -------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO labeling_jobs(id, pool_id, budget, min_stake, status, state, created_at) "
            "VALUES(?,?,?,?,?,?,?)",
            (job["id"], job["pool_id"], str(job["budget"]), str(job["min_stake"]), "open",
             json.dumps(job["state"]), time.time()),
        )  # fmt: skip

    def job(self, job_id: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM labeling_jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFound(f"no labeling job {job_id!r}", job_id=job_id)
        out = dict(row)
        out["budget"], out["min_stake"] = int(out["budget"]), int(out["min_stake"])
        out["state"] = json.loads(out["state"])
        out["result"] = json.loads(out["result"]) if out["result"] else None
        return out

    def open_job_budgets(self, pool_id: int) -> int:
        rows = self._all(
            "SELECT budget FROM labeling_jobs WHERE pool_id = ? AND status = 'open'", (pool_id,)
        )
        return sum(int(r["budget"]) for r in rows)

    def save_job(self, job_id: str, state: dict[str, Any], result: dict[str, Any] | None) -> None:
        self._exec(
            "UPDATE labeling_jobs SET state = ?, result = ?, status = ? WHERE id = ?",
            (json.dumps(state), json.dumps(result) if result else None,
             "closed" if result else "open", job_id),
        )  # fmt: skip

    def put_record_label(self, record_id: int, label: str, confidence: float, job_id: str) -> None:
        self._exec(
            "INSERT INTO record_labels(record_id, label, confidence, job_id) VALUES(?,?,?,?) "
            "ON CONFLICT(record_id) DO UPDATE SET label = excluded.label, "
            "confidence = excluded.confidence, job_id = excluded.job_id",
            (record_id, label, confidence, job_id),
        )

    def record_label(self, record_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM record_labels WHERE record_id = ?", (record_id,))
        return None if row is None else dict(row)

    def put_credit(self, record_id: int, shares: dict[str, float]) -> None:
        self._exec(
            "UPDATE pool_generations SET split = split + 1 "
            "WHERE pool_id = (SELECT pool_id FROM records WHERE id = ?)",
            (record_id,),
        )
        self._exec("DELETE FROM label_credit WHERE record_id = ?", (record_id,))
        self._exec_many(
            "INSERT INTO label_credit(record_id, labeler, share) VALUES(?,?,?)",
            [(record_id, labeler.lower(), float(s)) for labeler, s in shares.items()],
        )

    def credit(self, record_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        if not record_ids:
            return {}
        marks = ",".join("?" * len(record_ids))
        rows = self._all(
            f"SELECT record_id, labeler, share FROM label_credit WHERE record_id IN ({marks})",
            list(record_ids),
        )
        out: dict[int, dict[str, float]] = {}
        for r in rows:
            out.setdefault(int(r["record_id"]), {})[str(r["labeler"])] = float(r["share"])
        return out
