"""A paid call's reads of its pool's ledger tail, against the length of the ledger.

Usage::

    python benchmarks/ledger_tail.py [--sizes 1000 10000 100000] [--reads 200]

Every paid call reads its pool's last ledger entry twice inside its transaction (the carried
dust, ``Store.pool_dust``; the hash chain's tail, ``Store.ledger_tail``). This grows a real
SQLite store's ledger through ``Store.append_ledger`` (hash-chained entries made by
``make_entry``, one pool, in transactions of 1,000) and, at each size, times both reads with
the schema's ``ledger(pool_id, seq)`` index and with that index dropped (the schema before
migration 0007, which sorted all of the pool's entries on each read). Prints the p50 of the
two reads together per size: flat with the index.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fairwheel.store.sqlite import SqliteStore


def _read_ms(store: SqliteStore, reads: int) -> float:
    """p50 milliseconds of one call's two tail reads."""
    out = []
    for _ in range(reads):
        start = time.perf_counter()
        store.pool_dust(1)
        store.ledger_tail(1)
        out.append((time.perf_counter() - start) * 1e3)
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()

    from fairwheel.settlement.ledger import make_entry
    from fairwheel.store.sqlite import SqliteStore

    path = Path(tempfile.mkdtemp(prefix="fairwheel-ledger-")) / "store.db"
    store = SqliteStore(path)
    with store.transaction():
        store.insert_pool(
            {"id": 1, "name": "bench", "operator": "0x" + "a1" * 20, "guardian": "0x" + "b2" * 20,
             "search_price": 1000, "predict_price": 3000, "operator_fee_bps": 1000,
             "builder_share_bps": 0, "labeler_share_bps": 0, "labels": ["a"],
             "licence": "CC-BY-4.0", "tx_hash": "0x" + "00" * 32}
        )  # fmt: skip
    side = sqlite3.connect(path, isolation_level=None)  # drops and restores the index
    print(f"{'entries':>8} {'with index':>12} {'without':>12} {'ratio':>8}")
    seq = 0
    for size in args.sizes:
        while seq < size:
            with store.transaction():
                for _ in range(min(1000, size - seq)):
                    _, prev = store.ledger_tail(1)
                    body, digest = make_entry(
                        seq=seq + 1, time=1_700_000_000 + seq, pool=1, consumer="0x" + "c3" * 20,
                        kind="search", price=1000, voucher_amount=1000 * (seq + 1),
                        query_hash="0x" + "11" * 32, operator_fee=100, builder=None,
                        builder_amount=0, attribution=[("0x" + "d4" * 20, 900)], dust_in=0,
                        dust_out=0, prev_hash=prev,
                    )  # fmt: skip
                    store.append_ledger(seq + 1, 1, json.dumps(body), digest)
                    seq += 1
        with_index = _read_ms(store, args.reads)
        side.execute("DROP INDEX ledger_pool_seq")
        without = _read_ms(store, max(5, args.reads // 10))
        side.execute("CREATE INDEX ledger_pool_seq ON ledger(pool_id, seq)")
        print(f"{size:>8} {with_index:>9.3f} ms {without:>9.3f} ms {without / with_index:>7.0f}x",
              flush=True)  # fmt: skip
    side.close()
    store.close()


if __name__ == "__main__":
    main()
