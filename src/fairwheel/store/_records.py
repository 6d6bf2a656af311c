"""Store tables of the catalogue: meta, pools, records, embeddings and anchored batches.

A table group of every SQL backend (``SqliteStore``, ``PostgresStore``); every write runs inside
the caller's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from fairwheel.domain.rows import PoolRow, RecordOwner, RecordRow, ServedRecord
from fairwheel.errors import NotFound
from fairwheel.store._connection import SqlConnection
from fairwheel.store._rows import record_row

# Bump a pool's servable counter (index_generation) in the transaction of a status change: only
# when the status really changes, so that a rescore confirming every verdict leaves every
# worker's index current instead of making each one rebuild it.
_BUMP_SERVABLE = "UPDATE pool_generations SET servable = servable + 1 WHERE "
_POOL_OF_CHANGED_RECORD = "pool_id = (SELECT pool_id FROM records WHERE id = ? AND status != ?)"


class RecordTables(SqlConnection):
    """Queries over ``meta``, ``pools``, ``records``, ``used_nonces``, ``embeddings`` and
    ``batches``."""

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
            self._exec("INSERT INTO pool_generations(pool_id) VALUES(?)", (pool["id"],))

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
        if rec["status"] == "accepted":
            self._exec(_BUMP_SERVABLE + "pool_id = ?", (rec["pool_id"],))
        return self._insert_id(
            "INSERT INTO records(pool_id, record_hash, contributor, content_hash, dup_key, "
            "blob_name, label, status, score, reasons, duplicate_of, licence, purposes, "
            "expiry, nonce, signature, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "RETURNING id",
            (
                rec["pool_id"], rec["record_hash"], rec["contributor"], rec["content_hash"],
                rec["dup_key"], rec.get("blob_name"), rec.get("label"),
                rec["status"], rec["score"], json.dumps(list(rec["reasons"])),
                rec.get("duplicate_of"), rec["licence"], rec["purposes"], rec["expiry"],
                str(rec["nonce"]), rec["signature"], time.time(),
            ),
        )  # fmt: skip

    def set_blob_names(self, names: Sequence[tuple[int, str]]) -> None:
        """Point records at their encrypted content: ``(record id, blob name)`` pairs."""
        for record_id, name in names:
            self._exec("UPDATE records SET blob_name = ? WHERE id = ?", (name, record_id))

    def record(self, record_id: int) -> RecordRow:
        row = self._one("SELECT * FROM records WHERE id = ?", (record_id,))
        if row is None:
            raise NotFound(f"no record {record_id}", record_id=record_id)
        return record_row(row)

    def records(self, pool_id: int, status: str | None = None) -> list[RecordRow]:
        if status is None:
            rows = self._all("SELECT * FROM records WHERE pool_id = ? ORDER BY id", (pool_id,))
        else:
            rows = self._all(
                "SELECT * FROM records WHERE pool_id = ? AND status = ? ORDER BY id",
                (pool_id, status),
            )
        return [record_row(r) for r in rows]

    def records_by_ids(self, ids: Sequence[int]) -> dict[int, RecordRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._all(f"SELECT * FROM records WHERE id IN ({marks}) ORDER BY id", list(ids))
        return {int(r["id"]): record_row(r) for r in rows}

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
                out[int(row["id"])] = RecordOwner(
                    contributor=row["contributor"], status=row["status"]
                )
        return out

    def served_records(self, ids: Sequence[int]) -> dict[int, ServedRecord]:
        """The candidates of a paid call, with their feedback weights, in one query and
        without the columns a call never reads (a search reads 20 rows, a prediction 30)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._all(
            "SELECT r.id, r.contributor, r.blob_name, r.label, r.status, r.purposes, r.expiry, "
            "COALESCE(w.weight, 1.0) AS weight FROM records r "
            f"LEFT JOIN record_weights w ON w.record_id = r.id WHERE r.id IN ({marks})",
            list(ids),
        )
        out: dict[int, ServedRecord] = {}
        for r in rows:
            out[int(r["id"])] = ServedRecord(
                id=int(r["id"]), contributor=r["contributor"], blob_name=r["blob_name"],
                label=r["label"], status=r["status"], purposes=int(r["purposes"]),
                expiry=int(r["expiry"]), weight=float(r["weight"]),
            )  # fmt: skip
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
        return [record_row(r) for r in rows]

    def set_anchor(self, record_id: int, batch_id: int, proof: list[str]) -> None:
        self._exec(
            "UPDATE records SET batch_id = ?, proof = ? WHERE id = ?",
            (batch_id, json.dumps(proof), record_id),
        )

    def set_status(self, record_id: int, status: str, reasons: Sequence[str]) -> None:
        self._exec(_BUMP_SERVABLE + _POOL_OF_CHANGED_RECORD, (record_id, status))
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
        self._exec(_BUMP_SERVABLE + _POOL_OF_CHANGED_RECORD, (record_id, status))
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
            "INSERT INTO embeddings(record_id, model_id, vector) VALUES(?,?,?) "
            "ON CONFLICT(record_id) DO UPDATE SET model_id = excluded.model_id, "
            "vector = excluded.vector",
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
        """A marker that changes whenever the set of servable records changes (one row read:
        the counter every status change bumps in its own transaction)."""
        return self.generations(pool_id)[0]

    def split_generation(self, pool_id: int) -> str:
        """A marker that changes whenever who a paid call pays may change: a record's status,
        a feedback weight or a labeler's credit."""
        return self.generations(pool_id)[1]

    def generations(self, pool_id: int) -> tuple[str, str]:
        """:meth:`index_generation` and :meth:`split_generation` in one read."""
        row = self._one(
            "SELECT servable, split FROM pool_generations WHERE pool_id = ?", (pool_id,)
        )
        servable, split = (row["servable"], row["split"]) if row else (0, 0)
        return f"s{servable}", f"s{servable}:f{split}"

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
