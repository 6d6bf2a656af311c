"""Paid search and prediction against their bare work: query embedding + index (+ model).

Usage::

    python benchmarks/paid_calls.py [--records 2000] [--calls 200] [--embedder minilm://onnx]
        [--database-url postgresql://...]

Loads ``--records`` rows of ``../shared/data/banking77/train.csv`` (CC BY 4.0; never copied)
into a node on the embedded chain (real embedder, hnswlib index, SQLite, or the empty
PostgreSQL database or schema ``--database-url`` names), trains a model, then
times, on the same queries (rows of ``test.csv``) in one process, each bare call right before
its paid twin:

* **bare search**: embed the query + index search (2k candidates, as the node asks);
* **paid search**: ``Node.search`` with a fresh voucher each call (k=10) — voucher signature,
  escrow check, attribution, the ledger entry, all of it; the consumer signs each voucher
  before the clock starts (that is the consumer's machine's work, not the node's);
* **bare predict**: embed the query + the model's ``predict_proba``;
* **paid predict**: ``Node.predict`` with a fresh voucher;

each also with the escrow cache turned off (three contract reads a call, as before issue #15),
and prints p50/p99, the ratio paid / bare (issue #15 target: ≤ 1.2×) and the paid call's
overhead (the median over calls of paid minus its bare twin). Last, the floor a
durable paid call cannot go under on this disk: one SQLite commit of one row (WAL,
``synchronous=FULL``, as the store commits) in the node's folder, as a share of the bare search.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"


def _ms(fn: Callable[[Any], object], arg: Any) -> float:
    start = time.perf_counter()
    fn(arg)
    return (time.perf_counter() - start) * 1e3


def _times(
    fn: Callable[[Any], object], calls: int, setup: Callable[[int], Any] | None = None
) -> list[float]:
    """Milliseconds of ``fn`` per call. ``setup(i)``, untimed, makes call ``i``'s argument
    (the consumer's side of a paid call: signing its voucher); without it the argument is i."""
    return [_ms(fn, setup(i) if setup is not None else i) for i in range(calls)]


def _interleaved(
    bare: Callable[[Any], object], paid: Callable[[Any], object], calls: int,
    setup: Callable[[int], Any],
) -> tuple[list[float], list[float]]:
    """Milliseconds of the bare and the paid call, alternating on the same query, so that
    drift in the machine's speed (a shared VM) falls on both alike."""
    bare_ms, paid_ms = [], []
    for i in range(calls):
        bare_ms.append(_ms(bare, i))
        paid_ms.append(_ms(paid, setup(i)))
    return bare_ms, paid_ms


def _row(name: str, ms: list[float], bare: list[float] | None, paired: bool = False) -> str:
    """One line: p50, p99, the ratio of p50s to ``bare``'s and, for calls timed right after
    their bare twin (``paired``), the median of the per-pair differences (the overhead, which
    the shared machine's drift moves less than the ratio)."""
    p50, p99 = statistics.median(ms), sorted(ms)[int(0.99 * (len(ms) - 1))]
    ratio = f"{p50 / statistics.median(bare):>6.2f}x" if bare else "   1.00x"
    extra = ""
    if bare and paired:
        extra = f" {statistics.median(p - b for p, b in zip(ms, bare, strict=True)):>8.2f} ms"
    return f"{name:<34} {p50:>8.2f} ms {p99:>8.2f} ms {ratio}{extra}"


def _commit_times(folder: Path, calls: int) -> list[float]:
    """Milliseconds of one durable one-row commit (WAL, synchronous=FULL) in ``folder``."""
    import sqlite3

    db = sqlite3.connect(folder / "commit-floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")

    def commit(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t(body) VALUES(?)", ("x" * 300,))
        db.execute("COMMIT")

    try:
        return _times(commit, calls)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--embedder", default="minilm://onnx")
    parser.add_argument("--database-url", default=None, help="an empty store (default SQLite)")
    args = parser.parse_args()

    from fairwheel.chain.escrow_cache import EscrowCache
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from fairwheel.sim.data import load_csv
    from fairwheel.training.classifier import LinearModel
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    train = load_csv(DATA / "train.csv")[: args.records]
    queries = [e.text for e in load_csv(DATA / "test.csv")[: args.calls]]
    home = Path(tempfile.mkdtemp(prefix="fairwheel-bench-"))
    node = Node.open(load_settings(home=home, chain_url="embedded://", embedder_url=args.embedder,
                                   database_url=args.database_url))  # fmt: skip
    pid = int(node.create_pool("bench", search_price=1000, predict_price=3000,
                               operator_fee_bps=1000, builder_share_bps=2000,
                               labels=sorted({e.label for e in train}))["id"])  # fmt: skip
    wallets = [ContributorWallet(node.chain.new_account(), node.consent_domain()) for _ in range(8)]
    now = node.chain.now()
    for start in range(0, len(train), 500):
        batch = train[start : start + 500]
        node.submit(pid, [wallets[(start + i) % 8].submission(pid, e.text, e.label, now=now)
                          for i, e in enumerate(batch)])  # fmt: skip
    node.anchor(pid)
    node.train(pid, node.chain.new_account().address)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**15, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**12, sender=consumer.account)
    embedder, index = node.embedder, node.index(pid)
    model = LinearModel.from_bytes(node.store.serving_model(pid)["artifact"])
    accepted = node.store.status_counts(pid)["accepted"]
    store = node.settings.database_url.split(":", 1)[0]
    print(f"{accepted} banking77 records accepted, {args.calls} queries, {args.embedder}, {store}")

    def bare_search(i: int) -> object:
        return index.search(embedder.embed([queries[i]])[0], 20)

    def bare_predict(i: int) -> object:
        return model.predict_proba(embedder.embed([queries[i]]))

    def sign(kind: str) -> Callable[[int], Any]:
        """The consumer's side, untimed: price and voucher signature for call i."""

        def setup(i: int) -> tuple[int, Any, bytes]:
            return (i, *consumer.pay(pid, node.price_of(pid, kind)))

        return setup

    def paid(kind: str) -> Callable[[tuple[int, Any, bytes]], object]:
        """The node's side, timed: the whole paid call with the voucher fully checked."""

        def call(arg: tuple[int, Any, bytes]) -> object:
            i, voucher, sig = arg
            if kind == "search":
                out = node.search(pid, queries[i], 10, voucher, sig)
            else:
                out = node.predict(pid, queries[i], voucher, sig)
            consumer.confirm(voucher)
            return out

        return call

    _times(bare_search, 5)
    _times(bare_predict, 5)
    for kind in ("search", "predict"):  # warm up
        _times(paid(kind), 5, sign(kind))
    cached = node.escrow_cache
    results: dict[str, list[float]] = {}
    for kind, bare in (("search", bare_search), ("predict", bare_predict)):
        label = "embed + index" if kind == "search" else "embed + model"
        results[f"bare {kind} ({label})"], results[f"paid {kind}"] = _interleaved(
            bare, paid(kind), args.calls, sign(kind)
        )
    node.ports.escrow_cache = EscrowCache(node.protocol, capacity=0)  # three reads a call
    for kind in ("search", "predict"):
        results[f"paid {kind}, no escrow cache"] = _times(paid(kind), args.calls, sign(kind))
    node.ports.escrow_cache = cached
    print(f"{'':<34} {'p50':>11} {'p99':>11} {'ratio':>7} {'overhead':>11}")
    bare_s, bare_p = results["bare search (embed + index)"], results["bare predict (embed + model)"]
    for name, ms in results.items():
        paired = name.startswith("paid") and "no escrow" not in name
        print(_row(name, ms, bare_s if "search" in name else bare_p, paired))
    if store == "sqlite":  # the floor of the default store; PostgreSQL's is its server's
        print(_row("one durable commit (the floor)", _commit_times(home, args.calls), bare_s))
    node.close()


if __name__ == "__main__":
    main()
