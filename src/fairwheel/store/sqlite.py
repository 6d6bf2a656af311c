"""The SQLite backend of the store port (WAL journal, synchronous=FULL)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np

from fairwheel.domain.rows import EpochRow, LedgerEntry, ModelRow, PoolRow, RecordOwner, RecordRow
from fairwheel.errors import BackendError, ConfigError, NotFound
from fairwheel.store._flywheel import (
    FlywheelTables,
    _epoch_row,
    _ledger_entry,
    _model_dict,
    _record_dict,
)
from fairwheel.store._settlement import SettlementTables

# Bumped on every incompatible schema change; 0 is every database written before versions
# (which kept record text in plaintext columns). Migrations come with the store port (#13/#14).
SCHEMA_VERSION = 2


class SqliteStore(FlywheelTables, SettlementTables):  # both are SqliteConnection
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
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and version != SCHEMA_VERSION:
                raise ConfigError(
                    f"database {path} has schema version {version}, this node needs "
                    f"{SCHEMA_VERSION} (record content moved out of the database, issue #12): "
                    "export what you need with the older version and start a new home",
                    found=version, expected=SCHEMA_VERSION,
                )  # fmt: skip
            schema = resources.files("fairwheel.store").joinpath("schema.sql").read_text()
            self._db.executescript(schema)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open database {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block atomically; nested blocks join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open on this connection."""
        return self._depth > 0

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._exec(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- pools --------------------------------------------------------------
    def insert_pool(self, pool: dict[str, Any]) -> None:
        with self.transaction():
            self._exec(
                "INSERT INTO pools(id, name, operator, guardian, search_price, predict_price, "
                "operator_fee_bps, builder_share_bps, labeler_share_bps, labels, licence, tx_hash, "
                "created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pool["id"], pool["name"], pool["operator"], pool["guardian"],
                    str(pool["search_price"]), str(pool["predict_price"]),
                    pool["operator_fee_bps"], pool["builder_share_bps"],
                    pool.get("labeler_share_bps", 0),
                    json.dumps(pool["labels"]), pool["licence"], pool["tx_hash"], time.time(),
                ),
            )  # fmt: skip

    def pool(self, pool_id: int) -> PoolRow:
        row = self._one("SELECT * FROM pools WHERE id = ?", (pool_id,))
        if row is None:
            raise NotFound(f"no pool {pool_id}", pool_id=pool_id)
        out = dict(row)
        out["search_price"] = int(out["search_price"])
        out["predict_price"] = int(out["predict_price"])
        out["labels"] = json.loads(out["labels"])
        return cast(PoolRow, out)

    def pools(self) -> list[PoolRow]:
        return [self.pool(int(r["id"])) for r in self._all("SELECT id FROM pools ORDER BY id")]

    # -- records ------------------------------------------------------------
    def nonce_used(self, contributor: str, nonce: int) -> bool:
        row = self._one(
            "SELECT 1 FROM used_nonces WHERE contributor = ? AND nonce = ?",
            (contributor.lower(), str(nonce)),
        )
        return row is not None

    def use_nonce(self, contributor: str, nonce: int) -> None:
        self._exec(
            "INSERT INTO used_nonces(contributor, nonce) VALUES(?, ?)",
            (contributor.lower(), str(nonce)),
        )

    def insert_record(self, rec: dict[str, Any]) -> int:
        cur = self._exec(
            "INSERT INTO records(pool_id, record_hash, contributor, content_hash, dup_key, "
            "blob_name, label, status, score, reasons, duplicate_of, licence, purposes, "
            "expiry, nonce, signature, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec["pool_id"], rec["record_hash"], rec["contributor"], rec["content_hash"],
                rec["dup_key"], rec.get("blob_name"), rec.get("label"),
                rec["status"], rec["score"], json.dumps(list(rec["reasons"])),
                rec.get("duplicate_of"), rec["licence"], rec["purposes"], rec["expiry"],
                str(rec["nonce"]), rec["signature"], time.time(),
            ),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def set_blob_names(self, names: Sequence[tuple[int, str]]) -> None:
        """Point records at their encrypted content: ``(record id, blob name)`` pairs."""
        for record_id, name in names:
            self._exec("UPDATE records SET blob_name = ? WHERE id = ?", (name, record_id))

    def record(self, record_id: int) -> RecordRow:
        row = self._one("SELECT * FROM records WHERE id = ?", (record_id,))
        if row is None:
            raise NotFound(f"no record {record_id}", record_id=record_id)
        return _record_dict(row)

    def records(self, pool_id: int, status: str | None = None) -> list[RecordRow]:
        if status is None:
            rows = self._all("SELECT * FROM records WHERE pool_id = ? ORDER BY id", (pool_id,))
        else:
            rows = self._all(
                "SELECT * FROM records WHERE pool_id = ? AND status = ? ORDER BY id",
                (pool_id, status),
            )
        return [_record_dict(r) for r in rows]

    def records_by_ids(self, ids: Sequence[int]) -> dict[int, RecordRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._all(f"SELECT * FROM records WHERE id IN ({marks})", list(ids))
        return {int(r["id"]): _record_dict(r) for r in rows}

    def record_owners(self, ids: Sequence[int]) -> dict[int, RecordOwner]:
        """``{id: {"contributor", "status"}}``: what splitting a payment needs, without
        parsing whole rows (a prediction pays every training record)."""
        out: dict[int, RecordOwner] = {}
        for start in range(0, len(ids), 900):
            chunk = list(ids[start : start + 900])
            marks = ",".join("?" * len(chunk))
            for row in self._all(
                f"SELECT id, contributor, status FROM records WHERE id IN ({marks})", chunk
            ):
                out[int(row[0])] = RecordOwner(contributor=row[1], status=row[2])
        return out

    def owner_of_duplicate(self, pool_id: int, dup_key: bytes) -> int | None:
        """The earliest accepted (or revoked) record with this duplicate key: its owner."""
        row = self._one(
            "SELECT id FROM records WHERE pool_id = ? AND dup_key = ? "
            "AND status IN ('accepted', 'revoked', 'quarantined') ORDER BY id LIMIT 1",
            (pool_id, dup_key),
        )
        return None if row is None else int(row["id"])

    def unanchored(self, pool_id: int) -> list[RecordRow]:
        rows = self._all(
            "SELECT * FROM records WHERE pool_id = ? AND status = 'accepted' "
            "AND batch_id IS NULL ORDER BY id",
            (pool_id,),
        )
        return [_record_dict(r) for r in rows]

    def set_anchor(self, record_id: int, batch_id: int, proof: list[str]) -> None:
        self._exec(
            "UPDATE records SET batch_id = ?, proof = ? WHERE id = ?",
            (batch_id, json.dumps(proof), record_id),
        )

    def set_status(self, record_id: int, status: str, reasons: Sequence[str]) -> None:
        self._exec(
            "UPDATE records SET status = ?, reasons = ? WHERE id = ?",
            (status, json.dumps(list(reasons)), record_id),
        )

    def set_verdict(
        self,
        record_id: int,
        status: str,
        score: float,
        reasons: Sequence[str],
        pinned: bool | None = None,
    ) -> None:
        """Store a (re)scored verdict; ``pinned`` None leaves the review pin as it is."""
        self._exec(
            "UPDATE records SET status = ?, score = ?, reasons = ?, "
            "pinned = COALESCE(?, pinned) WHERE id = ?",
            (status, score, json.dumps(list(reasons)),
             None if pinned is None else int(pinned), record_id),
        )  # fmt: skip

    def status_counts(self, pool_id: int) -> dict[str, int]:
        rows = self._all(
            "SELECT status, COUNT(*) AS n FROM records WHERE pool_id = ? GROUP BY status",
            (pool_id,),
        )
        return {str(r["status"]): int(r["n"]) for r in rows}

    def rejection_counts(self, pool_id: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rec in self.records(pool_id, "rejected"):
            reason = rec["reasons"][0].split(" ")[0] if rec["reasons"] else "unknown"
            counts[reason] = counts.get(reason, 0) + 1
        return counts

    # -- embeddings ---------------------------------------------------------
    def put_embedding(self, record_id: int, model_id: str, vector: np.ndarray) -> None:
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        self._exec(
            "INSERT OR REPLACE INTO embeddings(record_id, model_id, vector) VALUES(?,?,?)",
            (record_id, model_id, blob),
        )

    def embeddings(
        self, pool_id: int, statuses: Sequence[str] = ("accepted",)
    ) -> tuple[list[int], np.ndarray]:
        marks = ",".join("?" * len(statuses))
        rows = self._all(
            "SELECT e.record_id, e.vector FROM embeddings e JOIN records r ON r.id = e.record_id "
            f"WHERE r.pool_id = ? AND r.status IN ({marks}) ORDER BY e.record_id",
            [pool_id, *statuses],
        )
        ids = [int(r["record_id"]) for r in rows]
        if not rows:
            return ids, np.zeros((0, 0), dtype=np.float32)
        return ids, np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])

    def vectors_of(self, record_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored embeddings of some records (those that have one)."""
        if not record_ids:
            return {}
        marks = ",".join("?" * len(record_ids))
        rows = self._all(
            f"SELECT record_id, vector FROM embeddings WHERE record_id IN ({marks})",
            list(record_ids),
        )
        return {int(r["record_id"]): np.frombuffer(r["vector"], dtype=np.float32) for r in rows}

    def labelled_count(self, pool_id: int) -> int:
        """Accepted, embedded records of the pool that carry a label."""
        row = self._one(
            "SELECT COUNT(*) AS n FROM records r JOIN embeddings e ON e.record_id = r.id "
            "WHERE r.pool_id = ? AND r.status = 'accepted' AND r.label IS NOT NULL",
            (pool_id,),
        )
        return int(row["n"]) if row else 0

    def index_generation(self, pool_id: int) -> str:
        """A marker that changes whenever the set of servable records changes."""
        row = self._one(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS m, "
            "COALESCE(SUM(id * (status = 'accepted')), 0) AS s "
            "FROM records WHERE pool_id = ? AND status = 'accepted'",
            (pool_id,),
        )
        assert row is not None
        return f"{row['n']}:{row['m']}:{row['s']}"

    # -- batches ------------------------------------------------------------
    def insert_batch(self, batch: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO batches(pool_id, batch_id, root, count, uri, tx_hash) VALUES(?,?,?,?,?,?)",
            (batch["pool_id"], batch["batch_id"], batch["root"], batch["count"], batch["uri"],
             batch["tx_hash"]),
        )  # fmt: skip

    def batch(self, pool_id: int, batch_id: int) -> dict[str, Any]:
        row = self._one(
            "SELECT * FROM batches WHERE pool_id = ? AND batch_id = ?", (pool_id, batch_id)
        )
        if row is None:
            raise NotFound(f"no batch {batch_id} in pool {pool_id}")
        return dict(row)

    # -- models -------------------------------------------------------------
    def insert_model(self, model: dict[str, Any], values: dict[int, float]) -> int:
        cur = self._exec(
            "INSERT INTO models(pool_id, chain_id, builder, model_hash, dataset_root, metrics, "
            "metrics_hash, artifact, tx_hash, version, trigger, report, created_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (model["pool_id"], model["chain_id"], model["builder"], model["model_hash"],
             model["dataset_root"], model["metrics"], model["metrics_hash"], model["artifact"],
             model["tx_hash"], model.get("version", 0), model.get("trigger", "manual"),
             json.dumps(model.get("report", {}), sort_keys=True), time.time()),
        )  # fmt: skip
        model_id = int(cur.lastrowid or 0)
        self._db.executemany(
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
        return _model_dict(row)

    def models(self, pool_id: int) -> list[ModelRow]:
        """Every model version of the pool, oldest first, with its metrics."""
        rows = self._all("SELECT * FROM models WHERE pool_id = ? ORDER BY id", (pool_id,))
        return [_model_dict(row) for row in rows]

    def model_values(self, model_id: int) -> dict[int, float]:
        rows = self._all(
            "SELECT record_id, value FROM model_values WHERE model_id = ?", (model_id,)
        )
        return {int(r["record_id"]): float(r["value"]) for r in rows}

    # -- vouchers and ledger -------------------------------------------------
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

    def ledger_tail(self, pool_id: int) -> tuple[int, str]:
        """The last sequence number of the whole ledger (0 if empty) and the hash of the pool's
        last entry (the genesis hash if none): each pool's entries form their own hash chain,
        so a pool's epoch file verifies alone; sequence numbers are unique across pools."""
        row = self._one("SELECT COALESCE(MAX(seq), 0) AS seq FROM ledger")
        last = self._one(
            "SELECT hash FROM ledger WHERE pool_id = ? ORDER BY seq DESC LIMIT 1", (pool_id,)
        )
        seq = int(row["seq"]) if row else 0
        return seq, "0x" + "00" * 32 if last is None else str(last["hash"])

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
                (pool_id, body["seq"], body["prev_hash"], body["dust_in"], body["price"], str(fee)),
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
        self._exec_many(
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
        cur = self._exec(
            "SELECT seq, body, hash FROM ledger WHERE pool_id = ? AND epoch IS NULL ORDER BY seq",
            (pool_id,),
        )
        for row in cur:
            yield int(row[0]), str(row[1]), str(row[2])

    def seal_open_epoch(self, pool_id: int, epoch: int, last_seq: int) -> None:
        """Assign the open entries up to ``last_seq`` to ``epoch`` and reset the running fold."""
        self._exec(
            "UPDATE ledger SET epoch = ? WHERE pool_id = ? AND epoch IS NULL AND seq <= ?",
            (epoch, pool_id, last_seq),
        )
        self._exec("DELETE FROM open_epochs WHERE pool_id = ?", (pool_id,))
        self._exec("DELETE FROM open_earnings WHERE pool_id = ?", (pool_id,))

    def open_ledger(self, pool_id: int) -> list[LedgerEntry]:
        """Entries of the pool not yet folded into an epoch, in order."""
        rows = self._all(
            "SELECT seq, body, hash FROM ledger WHERE pool_id = ? AND epoch IS NULL ORDER BY seq",
            (pool_id,),
        )
        return [_ledger_entry(r) for r in rows]

    def ledger(self, pool_id: int | None = None) -> list[LedgerEntry]:
        if pool_id is None:
            rows = self._all("SELECT body, hash FROM ledger ORDER BY seq")
        else:
            rows = self._all(
                "SELECT body, hash FROM ledger WHERE pool_id = ? ORDER BY seq", (pool_id,)
            )
        return [_ledger_entry(r) for r in rows]

    # -- epochs -------------------------------------------------------------
    def last_epoch(self, pool_id: int) -> EpochRow | None:
        row = self._one(
            "SELECT * FROM epochs WHERE pool_id = ? ORDER BY epoch DESC LIMIT 1", (pool_id,)
        )
        return None if row is None else _epoch_row(row)

    def epoch(self, pool_id: int, epoch: int) -> EpochRow:
        row = self._one("SELECT * FROM epochs WHERE pool_id = ? AND epoch = ?", (pool_id, epoch))
        if row is None:
            raise NotFound(f"pool {pool_id} has no closed epoch {epoch}")
        return _epoch_row(row)

    def insert_epoch(self, ep: dict[str, Any], earnings: dict[str, int]) -> None:
        self._exec(
            "INSERT INTO epochs(pool_id, epoch, root, total, dust, file_path, file_hash, tx_hash, "
            "closed_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (ep["pool_id"], ep["epoch"], ep["root"], str(ep["total"]), str(ep["dust"]),
             ep["file_path"], ep["file_hash"], ep["tx_hash"], time.time()),
        )  # fmt: skip
        self._db.executemany(
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
            "INSERT OR REPLACE INTO record_labels(record_id, label, confidence, job_id) "
            "VALUES(?,?,?,?)",
            (record_id, label, confidence, job_id),
        )

    def record_label(self, record_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM record_labels WHERE record_id = ?", (record_id,))
        return None if row is None else dict(row)

    def put_credit(self, record_id: int, shares: dict[str, float]) -> None:
        self._exec("DELETE FROM label_credit WHERE record_id = ?", (record_id,))
        self._db.executemany(
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
