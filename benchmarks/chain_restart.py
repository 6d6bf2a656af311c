"""What the persistent default chain costs: opening a node fresh, reopening it, and paid calls.

Usage::

    python benchmarks/chain_restart.py [--restarts 5] [--calls 50]

For ``anvil://`` (the default: a local anvil with its state in the home) and ``embedded://``
(py-evm in process, which cannot reopen), on the named fake embedder so only the chain differs:

* **fresh open**: ``Node.open`` on an empty home (start the chain, fund, deploy five contracts);
* **reopen**: ``Node.close`` then ``Node.open`` on the same home (anvil saves and reloads its
  state) — anvil only;
* **paid search**: ``Node.search`` with a fresh voucher (escrow read, ledger entry), p50.

Prints each figure as measured; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _node(home: Path, chain_url: str | None):  # type: ignore[no-untyped-def]
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    overrides = {"chain_url": chain_url} if chain_url else {}
    return Node.open(load_settings(home=home, embedder_url="fake-hash://64", **overrides))


def _paid_search_ms(node, calls: int) -> float:  # type: ignore[no-untyped-def]
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    pid = node.create_pool("bench", search_price=5, predict_price=5, operator_fee_bps=1000,
                           builder_share_bps=0, labels=[])["id"]  # fmt: skip
    person = ContributorWallet(node.chain.new_account(), node.consent_domain())
    now = node.chain.now()
    node.submit(pid, [person.submission(pid, e.text, e.label, now=now)
                      for e in synthetic_support_queries(60, seed=1)])  # fmt: skip
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    proto = node.protocol
    proto.mint(consumer.address, 10**9, sender=node.operator)
    proto.approve(proto.addresses["UsageEscrow"], 10**9, sender=consumer.account)
    proto.deposit(pid, 10**9, sender=consumer.account)
    times = []
    for _ in range(calls):
        voucher, sig = consumer.pay(pid, 5)
        start = time.perf_counter()
        node.search(pid, "lost card", 5, voucher, sig)
        times.append(time.perf_counter() - start)
        consumer.confirm(voucher)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-chain-") as tmp:
        for name, url in (("anvil://", None), ("embedded://", "embedded://")):
            home = Path(tmp) / name.strip(":/")
            start = time.perf_counter()
            node = _node(home, url)
            fresh = time.perf_counter() - start
            paid = _paid_search_ms(node, args.calls)
            node.close()
            line = f"{name:12} fresh open {fresh:6.2f} s   paid search p50 {paid:6.2f} ms"
            if url is None:
                reopen = []
                for _ in range(args.restarts):
                    start = time.perf_counter()
                    node = _node(home, url)
                    reopen.append(time.perf_counter() - start)
                    node.close()
                line += f"   reopen p50 {statistics.median(reopen):5.2f} s over {args.restarts}"
            else:
                line += "   reopen: impossible (state lives in the process)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
