"""Store tables of the loop: model versions and their serving history, revocation steps,
the records behind paid answers, feedback, arena pairs, record weights and feedback budgets.

A table group of every SQL backend (``SqliteStore``, ``PostgresStore``); every write runs inside
the caller's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from fairwheel.domain.rows import LedgerEntry, ModelRow, RecordRow
from fairwheel.errors import NotFound
from fairwheel.store._connection import SqlConnection
from fairwheel.store._rows import ledger_entry, model_row, record_row


class FlywheelTables(SqlConnection):
    """Queries over the loop's tables (see ``migrations/``)."""

    def model(self, model_id: int) -> ModelRow:
        row = self._one("SELECT * FROM models WHERE id = ?", (model_id,))
        if row is None:
            raise NotFound(f"no model {model_id}", model_id=model_id)
        return model_row(row)

    def next_model_version(self, pool_id: int) -> int:
        row = self._one(
            "SELECT COALESCE(MAX(version), 0) AS v FROM models WHERE pool_id = ?", (pool_id,)
        )
        return int(row["v"] if row else 0) + 1

    def put_model_records(self, model_id: int, record_ids: Iterable[int]) -> None:
        self._exec_many(
            "INSERT INTO model_records(model_id, record_id) VALUES(?,?) ON CONFLICT DO NOTHING",
            [(model_id, int(r)) for r in record_ids],
        )

    def model_records_of(self, model_id: int) -> list[int]:
        rows = self._all(
            "SELECT record_id FROM model_records WHERE model_id = ? ORDER BY record_id",
            (model_id,),
        )
        return [int(r["record_id"]) for r in rows]

    def records_of(self, contributor: str) -> list[RecordRow]:
        """Every record a contributor sent, in any pool, oldest first."""
        rows = self._all("SELECT * FROM records WHERE contributor = ? ORDER BY id", (contributor,))
        return [record_row(r) for r in rows]

    def models_with_record(self, record_id: int) -> list[int]:
        rows = self._all(
            "SELECT model_id FROM model_records WHERE record_id = ? ORDER BY model_id", (record_id,)
        )
        return [int(r["model_id"]) for r in rows]

    def taint(self, model_id: int, record_id: int) -> None:
        self._exec(
            "INSERT INTO model_taints(model_id, record_id, time) VALUES(?,?,?) "
            "ON CONFLICT DO NOTHING",
            (model_id, record_id, time.time()),
        )

    def taints(self, model_id: int) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT record_id, time FROM model_taints WHERE model_id = ? ORDER BY record_id",
            (model_id,),
        )
        return [dict(r) for r in rows]

    def add_model_event(self, pool_id: int, model_id: int, action: str, detail: str) -> None:
        self._exec(
            "INSERT INTO model_events(pool_id, model_id, action, detail, time) VALUES(?,?,?,?,?)",
            (pool_id, model_id, action, detail, time.time()),
        )

    def model_events(self, pool_id: int) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM model_events WHERE pool_id = ? ORDER BY id", (pool_id,))
        return [dict(r) for r in rows]

    def serving_stack(self, pool_id: int) -> list[int]:
        """Promoted model ids, oldest first; a rollback pops the newest. The last one serves."""
        stack: list[int] = []
        for event in self.model_events(pool_id):
            if event["action"] == "promoted":
                stack.append(int(event["model_id"]))
            elif event["action"] == "rollback" and stack:
                stack.pop()
        return stack

    def serving_model(self, pool_id: int) -> ModelRow:
        """The model version that answers predictions now."""
        stack = self.serving_stack(pool_id)
        if not stack:
            raise NotFound(f"pool {pool_id} has no promoted model yet", pool_id=pool_id)
        return self.model(stack[-1])

    # -- revocation steps ----------------------------------------------------------------
    def add_revocation_step(
        self, record_id: int, step: str, detail: str = "", tx_hash: str = ""
    ) -> None:
        row = self._one("SELECT steps FROM revocations WHERE record_id = ?", (record_id,))
        steps = json.loads(row["steps"]) if row else []
        steps.append({"step": step, "time": time.time(), "detail": detail})
        if row is None:
            self._exec(
                "INSERT INTO revocations(record_id, tx_hash, steps) VALUES(?,?,?)",
                (record_id, tx_hash, json.dumps(steps)),
            )
        else:
            self._exec(
                "UPDATE revocations SET steps = ? WHERE record_id = ?",
                (json.dumps(steps), record_id),
            )

    def revocation(self, record_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM revocations WHERE record_id = ?", (record_id,))
        if row is None:
            return None
        return {
            "record_id": record_id,
            "tx_hash": row["tx_hash"],
            "steps": json.loads(row["steps"]),
        }

    def revoked_records(self, pool_id: int) -> list[int]:
        rows = self._all(
            "SELECT r.record_id FROM revocations r JOIN records x ON x.id = "
            "r.record_id WHERE x.pool_id = ? ORDER BY r.record_id",
            (pool_id,),
        )
        return [int(r["record_id"]) for r in rows]

    # -- the records behind answers, feedback, arena -------------------------------------
    def put_call_records(self, seq: int, shares: Sequence[tuple[int, float]]) -> None:
        latest = {int(r): float(s) for r, s in shares}  # a record named twice: the last share
        self._exec_rows(
            "INSERT INTO call_records(seq, record_id, share) VALUES(?,?,?) "
            "ON CONFLICT(seq, record_id) DO UPDATE SET share = excluded.share",
            [(seq, r, s) for r, s in latest.items()],
        )

    def call_records(self, seqs: Sequence[int]) -> dict[int, list[tuple[int, float]]]:
        out: dict[int, list[tuple[int, float]]] = {int(s): [] for s in seqs}
        for chunk in _chunks(list(seqs), 500):
            marks = ",".join("?" * len(chunk))
            for r in self._all(
                f"SELECT seq, record_id, share FROM call_records WHERE seq IN "
                f"({marks}) ORDER BY seq, record_id",
                chunk,
            ):
                out[int(r["seq"])].append((int(r["record_id"]), float(r["share"])))
        return out

    def put_call_hits(self, seq: int, record_ids: Sequence[int]) -> None:
        """Keep the records a paid call served, in rank order (inside the call's transaction)."""
        self._exec_rows(
            "INSERT INTO call_hits(seq, rank, record_id) VALUES(?,?,?) "
            "ON CONFLICT(seq, rank) DO UPDATE SET record_id = excluded.record_id",
            [(seq, rank, int(r)) for rank, r in enumerate(record_ids)],
        )

    def call_hits(self, seqs: Sequence[int]) -> dict[int, list[int]]:
        """The records each of ``seqs`` served, best first ([] for a call that served none)."""
        out: dict[int, list[int]] = {int(s): [] for s in seqs}
        for chunk in _chunks(list(seqs), 500):
            marks = ",".join("?" * len(chunk))
            for r in self._all(
                f"SELECT seq, record_id FROM call_hits WHERE seq IN ({marks}) ORDER BY seq, rank",
                chunk,
            ):
                out[int(r["seq"])].append(int(r["record_id"]))
        return out

    def ledger_entry(self, seq: int) -> LedgerEntry:
        row = self._one("SELECT body, hash FROM ledger WHERE seq = ?", (seq,))
        if row is None:
            raise NotFound(f"no paid call {seq}", seq=seq)
        return ledger_entry(row)

    def add_feedback(
        self, pool_id: int, seq: int, rater: str, kind: str, value: int, now: float
    ) -> None:
        self._exec(
            "INSERT INTO feedback(pool_id, seq, rater, kind, value, time) VALUES(?,?,?,?,?,?)",
            (pool_id, seq, rater.lower(), kind, value, now),
        )

    def feedback_of(self, seq: int, rater: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM feedback WHERE seq = ? AND rater = ?", (seq, rater.lower()))
        return None if row is None else dict(row)

    def feedback(self, pool_id: int, *, unpaid: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM feedback WHERE pool_id = ?" + (" AND epoch IS NULL" if unpaid else "")
        return [dict(r) for r in self._all(sql + " ORDER BY time, seq", (pool_id,))]

    def rater_feedback_since(self, rater: str, since: float) -> int:
        row = self._one(
            "SELECT COUNT(*) AS n FROM feedback WHERE rater = ? AND time > ?",
            (rater.lower(), since),
        )
        return int(row["n"]) if row else 0

    def mark_feedback_paid(self, pool_id: int, epoch: int) -> None:
        self._exec(
            "UPDATE feedback SET epoch = ? WHERE pool_id = ? AND epoch IS NULL", (epoch, pool_id)
        )

    def put_arena(
        self, seq: int, pool_id: int, prompt_blob: str, answers: list[dict[str, Any]]
    ) -> None:
        """Store an arena call: ``prompt_blob`` names the query sealed in the blob store."""
        self._exec(
            "INSERT INTO arena(seq, pool_id, prompt_blob, answers) VALUES(?,?,?,?)",
            (seq, pool_id, prompt_blob, json.dumps(answers)),
        )

    def arenas(self, pool_id: int) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM arena WHERE pool_id = ? ORDER BY seq", (pool_id,))
        return [{**dict(r), "answers": json.loads(r["answers"])} for r in rows]

    def arena(self, seq: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM arena WHERE seq = ?", (seq,))
        return None if row is None else {**dict(row), "answers": json.loads(row["answers"])}

    def set_record_weights(self, rows: Sequence[tuple[int, float, float, float]]) -> None:
        ids = sorted({int(r[0]) for r in rows})
        for start in range(0, len(ids), 500):  # the pools these records pay in split anew
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self._exec(
                "UPDATE pool_generations SET split = split + 1 WHERE pool_id IN "
                f"(SELECT DISTINCT pool_id FROM records WHERE id IN ({marks}))",
                chunk,
            )
        self._exec_many(
            "INSERT INTO record_weights(record_id, weight, good, bad) VALUES(?,?,?,?) "
            "ON CONFLICT(record_id) DO UPDATE SET weight = excluded.weight, "
            "good = excluded.good, bad = excluded.bad",
            list(rows),
        )

    def record_weights(self, record_ids: Sequence[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for chunk in _chunks(list(record_ids), 500):
            marks = ",".join("?" * len(chunk))
            for r in self._all(
                f"SELECT record_id, weight FROM record_weights WHERE record_id IN ({marks})", chunk
            ):
                out[int(r["record_id"])] = float(r["weight"])
        return out

    def record_feedback(self, record_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
        """``record -> (good mass, bad mass)`` for records with feedback."""
        out: dict[int, tuple[float, float]] = {}
        for chunk in _chunks(list(record_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._all(
                f"SELECT record_id, good, bad FROM record_weights WHERE record_id IN ({marks})",
                chunk,
            )
            for r in rows:
                out[int(r["record_id"])] = (float(r["good"]), float(r["bad"]))
        return out

    def put_call_model(self, seq: int, model_id: int) -> None:
        self._exec(
            "INSERT INTO call_models(seq, model_id) VALUES(?,?) "
            "ON CONFLICT(seq) DO UPDATE SET model_id = excluded.model_id",
            (seq, model_id),
        )

    def calls_of_model(self, model_id: int) -> list[int]:
        rows = self._all("SELECT seq FROM call_models WHERE model_id = ? ORDER BY seq", (model_id,))
        return [int(r["seq"]) for r in rows]

    def set_gold(self, seq: int, bit: int) -> None:
        self._exec(
            "INSERT INTO feedback_gold(seq, bit) VALUES(?,?) "
            "ON CONFLICT(seq) DO UPDATE SET bit = excluded.bit",
            (seq, int(bit)),
        )

    def gold(self, seqs: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(list(seqs), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._all(f"SELECT seq, bit FROM feedback_gold WHERE seq IN ({marks})", chunk)
            out.update({int(r["seq"]): int(r["bit"]) for r in rows})
        return out

    def set_feedback_budget(self, pool_id: int, per_epoch: int) -> None:
        self._exec(
            "INSERT INTO feedback_budgets(pool_id, per_epoch) VALUES(?,?) ON CONFLICT"
            "(pool_id) DO UPDATE SET per_epoch = excluded.per_epoch",
            (pool_id, str(per_epoch)),
        )

    def feedback_budget(self, pool_id: int) -> tuple[int, int]:
        """``(per epoch, dust carried)`` in base units; (0, 0) when none is set."""
        row = self._one(
            "SELECT per_epoch, dust FROM feedback_budgets WHERE pool_id = ?", (pool_id,)
        )
        return (0, 0) if row is None else (int(row["per_epoch"]), int(row["dust"]))

    def set_feedback_dust(self, pool_id: int, dust: int) -> None:
        self._exec("UPDATE feedback_budgets SET dust = ? WHERE pool_id = ?", (str(dust), pool_id))


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
