"""The paid path's per-call reads are index seeks on SQLite, not scans or sorts that grow with
the store (a paid call must cost the same after a million calls as after the first)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fairwheel.store.sqlite import SqliteStore

# Every statement a paid search or prediction runs per call, with the parameters inlined.
PER_CALL_READS = [
    "SELECT body FROM ledger WHERE pool_id = 1 ORDER BY seq DESC LIMIT 1",
    "SELECT hash FROM ledger WHERE pool_id = 1 ORDER BY seq DESC LIMIT 1",
    "SELECT COALESCE(MAX(seq), 0) AS seq FROM ledger",
    "SELECT cumulative, signature FROM vouchers WHERE pool_id = 1 AND payer = 'x'",
    "SELECT * FROM open_epochs WHERE pool_id = 1",
    "SELECT account, amount FROM open_earnings WHERE pool_id = 1 AND account IN ('a', 'b')",
    "SELECT servable, split FROM pool_generations WHERE pool_id = 1",
    "SELECT r.id, COALESCE(w.weight, 1.0) FROM records r "
    "LEFT JOIN record_weights w ON w.record_id = r.id WHERE r.id IN (1, 2, 3)",
    "SELECT record_id, labeler, share FROM label_credit WHERE record_id IN (1, 2)",
]


@pytest.mark.parametrize("sql", PER_CALL_READS)
def test_a_per_call_read_seeks_an_index(tmp_path: Path, sql: str) -> None:
    SqliteStore(tmp_path / "store.db").close()  # the schema, migrated to the latest version
    db = sqlite3.connect(tmp_path / "store.db")
    try:
        plan = " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    finally:
        db.close()
    assert "TEMP B-TREE" not in plan, plan  # a sort of every matching row
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan  # a full table scan
