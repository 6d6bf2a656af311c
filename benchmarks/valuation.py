"""Valuation and settlement figures (issue: pay for every use, exactly).

Prints:
1. exact KNN-Shapley time for N = 10,000 and 100,000 training rows x 1,000 validation rows
   (384-d, embedding-like vectors), and pyDVL's ``KNNShapleyValuation`` on the same data as a
   ratio. pyDVL 0.10 needs numpy < 2, so it runs in its own virtualenv (``.venv-pydvl``, made on
   first use) on the same saved arrays; the values of both are compared too.
2. the cost of attribution per paid search as a ratio to the rest of the paid search, measured
   inside a real node (ONNX embedder, hnswlib index, SQLite, embedded chain) on banking77 rows.
3. the time to close an epoch of 1,000,000 ledger entries (fold, Merkle tree, epoch file, store
   writes, voucher redemptions and the root on the embedded chain), and to verify its file.

Usage: python benchmarks/valuation.py [--sizes 10000,100000] [--valid 1000] [--entries 1000000]
       [--skip-pydvl] [--searches 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"
PYDVL_VENV = ROOT / ".venv-pydvl"
PYDVL_SCRIPT = """
import sys, time, json, numpy as np
from pydvl.valuation import Dataset, KNNShapleyValuation
from sklearn.neighbors import KNeighborsClassifier
d = np.load(sys.argv[1])
train = Dataset(d["xt"], d["yt"]); test = Dataset(d["xv"], d["yv"])
model = KNeighborsClassifier(n_neighbors=int(sys.argv[2]))
v = KNNShapleyValuation(model, test_data=test, progress=False)
t = time.perf_counter(); v.fit(train); dt = time.perf_counter() - t
res = v.result
values = np.zeros(len(d["yt"])); values[res.indices] = res.values
np.save(sys.argv[3], values)
print(json.dumps({"seconds": dt}))
"""


def embedding_like(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors of low effective rank, like sentence embeddings."""
    basis = rng.standard_normal((32, dim))
    x = rng.standard_normal((n, 32)) @ basis + 0.3 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def ensure_pydvl() -> Path | None:
    python = PYDVL_VENV / "bin" / "python"
    if python.exists():
        return python
    print("  (creating .venv-pydvl with pyDVL 0.10.0 and numpy<2 …)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PYDVL_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "pydvl==0.10.0", "numpy<2"],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"  pyDVL could not be installed: {exc}")
        return None
    return python


def knn_shapley_figures(sizes: list[int], n_valid: int, k: int, skip_pydvl: bool) -> None:
    from fairwheel.valuation import knn_shapley_classification

    print(f"== exact KNN-Shapley, {n_valid} validation rows, 384-d, K={k}, 10 classes")
    rng = np.random.default_rng(0)
    python = None if skip_pydvl else ensure_pydvl()
    for n in sizes:
        xt, xv = embedding_like(n, 384, rng), embedding_like(n_valid, 384, rng)
        yt, yv = rng.integers(0, 10, n), rng.integers(0, 10, n_valid)
        knn_shapley_classification(xt[:500], yt[:500], xv[:50], yv[:50], k=k)  # warm up BLAS
        t = time.perf_counter()
        ours = knn_shapley_classification(xt, yt, xv, yv, k=k, metric="euclidean")
        mine = time.perf_counter() - t
        line = f"  N={n:>7,}: fairwheel {mine:7.2f} s"
        if python is not None:
            with tempfile.TemporaryDirectory() as tmp:
                data, out = Path(tmp) / "d.npz", Path(tmp) / "v.npy"
                np.savez(data, xt=xt.astype(np.float64), yt=yt, xv=xv.astype(np.float64), yv=yv)
                proc = subprocess.run(
                    [str(python), "-c", PYDVL_SCRIPT, str(data), str(k), str(out)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if proc.returncode == 0:
                    theirs = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
                    diff = float(np.max(np.abs(np.load(out) - ours)))
                    line += (
                        f" | pyDVL {theirs:7.2f} s | pyDVL/fairwheel = {theirs / mine:5.1f}x"
                        f" | max |difference| of values {diff:.1e}"
                    )
                else:
                    line += f" | pyDVL failed: {proc.stderr.strip().splitlines()[-1:]}"
        print(line, flush=True)


def attribution_figures(searches: int, n_records: int) -> None:
    from eth_account import Account  # noqa: F401  (imported for its side-effect-free warm-up)

    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from fairwheel.node.paid_weights import search_weights
    from fairwheel.sim.data import load_csv, synthetic_support_queries
    from fairwheel.valuation import SplitPolicy, split_call
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    print(f"== attribution per paid search ({searches} searches, k=10, real node)")
    if (BANKING77 / "train.csv").is_file():
        rows = load_csv(BANKING77 / "train.csv")[:n_records]
        queries = [e.text for e in load_csv(BANKING77 / "test.csv")[:searches]]
    else:
        rows = synthetic_support_queries(n_records)
        queries = [e.text for e in rows[:searches]]
    with tempfile.TemporaryDirectory() as home:
        node = Node.open(load_settings(home=Path(home), chain_url="embedded://"))
        pool = node.create_pool("bench", search_price=10**6 + 3, predict_price=10**6,
                                operator_fee_bps=1000, builder_share_bps=2000)  # fmt: skip
        pid = int(pool["id"])
        people = [ContributorWallet(node.chain.new_account(), node.consent_domain())
                  for _ in range(20)]  # fmt: skip
        now = node.chain.now()
        subs = [
            people[i % 20].submission(pid, e.text, e.label, now=now) for i, e in enumerate(rows)
        ]
        node.submit(pid, subs)
        consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
        proto = node.protocol
        proto.mint(consumer.address, 10**15, sender=node.operator)
        proto.approve_and_deposit(pid, 10**15, sender=consumer.account)
        index = node.index(pid)
        total = attribution = 0.0
        policy = SplitPolicy(1000, 2000)
        for q in queries:
            voucher, sig = consumer.pay(pid, 10**6 + 3)
            t = time.perf_counter()
            node.search(pid, q, 10, voucher, sig)
            total += time.perf_counter() - t
            consumer.confirm(voucher)
            # The attribution step of that same search, on the same candidates.
            candidates = node.serving.servable(pid, index.search(node.embedder.embed([q])[0], 20))
            records = node.store.records_by_ids([r for r, _ in candidates])
            t = time.perf_counter()
            weights = search_weights(candidates, records, 10)
            split_call(10**6 + 3, weights, policy, kind="search")
            attribution += time.perf_counter() - t
        node.close()
    rest = total - attribution
    print(f"  paid search {1000 * total / searches:.2f} ms/call on {len(rows)} records; "
          f"attribution {1000 * attribution / searches:.3f} ms/call = "
          f"{100 * attribution / rest:.1f}% of the rest of the call")  # fmt: skip


def epoch_figures(entries: int) -> None:
    from fairwheel.config import load_settings
    from fairwheel.domain.typed_data import Voucher
    from fairwheel.node import Node
    from fairwheel.settlement.epoch import verify_epoch_file
    from fairwheel.settlement.ledger import GENESIS_HASH
    from fairwheel.valuation import SplitPolicy, split_call
    from fairwheel.wallet import ConsumerWallet

    n_consumers, n_contributors = 100, 2000
    print(f"== epoch close with {entries:,} ledger entries "
          f"({n_consumers} consumers, {n_contributors} beneficiaries, 5 per call)")  # fmt: skip
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as home:
        node = Node.open(load_settings(home=Path(home), chain_url="embedded://",
                                       embedder_url="fake-hash://8"))  # fmt: skip
        pool = node.create_pool("bench", search_price=1001, predict_price=1001,
                                operator_fee_bps=1000, builder_share_bps=0)  # fmt: skip
        pid = int(pool["id"])
        proto = node.protocol
        consumers = [ConsumerWallet(node.chain.new_account(), node.voucher_domain())
                     for _ in range(n_consumers)]  # fmt: skip
        per_consumer = entries // n_consumers + 1
        for c in consumers:
            proto.mint(c.address, 1001 * per_consumer, sender=node.operator)
            proto.approve_and_deposit(pid, 1001 * per_consumer, sender=c.account)
        accounts = [f"0x{i:040x}" for i in range(1, n_contributors + 1)]
        spent = dict.fromkeys(range(n_consumers), 0)
        t = time.perf_counter()
        policy = SplitPolicy(1000, 0)
        dust = 0
        # Setup only: stamp every entry with one block time instead of asking the embedded
        # chain a million times; the close below runs against the real chain.
        chain_now, fixed = node.chain.now, node.chain.now()
        node.chain.now = lambda: fixed
        with node.store.transaction():
            for seq in range(1, entries + 1):
                ci = seq % n_consumers
                spent[ci] += 1001
                picks = rng.integers(0, n_contributors, 5)
                shares = zip(picks, rng.random(5), strict=True)
                weights = {accounts[int(p)]: float(w) for p, w in shares}
                split = split_call(1001, weights, policy, kind="search", dust_in=dust)
                dust = split.dust_out
                # The node's own append (hash chain, running fold); the voucher of each call
                # is signed once per consumer below, for its final cumulative amount.
                node.ledger.append(
                    pid, Voucher(consumers[ci].address, pid, spent[ci]), b"", kind="search",
                    price=1001, query_hash=GENESIS_HASH, operator_fee=split.operator_fee,
                    builder=None, builder_amount=0,
                    attribution=sorted(split.contributors.items()), dust_in=split.dust_in,
                    dust_out=split.dust_out,
                )  # fmt: skip
            for ci, c in enumerate(consumers):
                _, sig = c.pay(pid, spent[ci])
                node.store.put_voucher(pid, c.address, spent[ci], sig)
        node.chain.now = chain_now
        print(f"  (setup: wrote the ledger in {time.perf_counter() - t:.1f} s)", flush=True)
        t = time.perf_counter()
        report = node.close_epoch(pid)
        closed = time.perf_counter() - t
        t = time.perf_counter()
        check = verify_epoch_file(Path(report.file_path))
        verified = time.perf_counter() - t
        size = Path(report.file_path).stat().st_size / 1e6
        node.close()
    print(f"  close_epoch: {closed:.1f} s (redeemed {report.redeemed:,} units from "
          f"{n_consumers} vouchers, {len(report.earnings)} leaves, file {size:.0f} MB); "
          f"verify from the file alone: {verified:.1f} s, "
          f"root matches: {check.root == report.root}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--skip-pydvl", action="store_true")
    parser.add_argument("--only", choices=["knn", "attribution", "epoch"], default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.only in (None, "knn"):
        sizes = [int(s) for s in args.sizes.split(",")]
        knn_shapley_figures(sizes, args.valid, args.k, args.skip_pydvl)
    if args.only in (None, "attribution"):
        attribution_figures(args.searches, args.records)
    if args.only in (None, "epoch"):
        epoch_figures(args.entries)


if __name__ == "__main__":
    main()
