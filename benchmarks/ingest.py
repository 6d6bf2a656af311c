"""Ingest through ``Node.submit`` against the bare embedder on the same texts, by pool size.

Usage::

    python benchmarks/ingest.py [--sizes 1000 5000] [--batch 100] [--embedder minilm://onnx]

For each size, a fresh node on the embedded chain ingests the first SIZE rows of
``../shared/data/banking77/train.csv`` (CC BY 4.0; never copied; rows repeat with a suffix past
its 10,003 rows, which the gate may call near-duplicates) in batches of ``--batch`` with signed
consents, and the bare embedder embeds the same texts in the same batches. Two node modes:

* ``inline``: rescoring inside ``submit`` as the pool grows (a node without jobs);
* ``jobs``: ``jobs.inline_rescore`` off, as under ``fairwheel serve --jobs``, where the rescore
  job judges the grown pool in the background; its run on the final pool is timed after
  the ingest and printed apart (``rescore s``), not hidden.

Prints records/s for each, the ratio to the bare embedder (issue #15 target: >= 0.8x), and the
cost per record of the last tenth of the pool against the first tenth (flat means it does not
grow with the pool).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--embedder", default="minilm://onnx")
    parser.add_argument("--modes", nargs="+", default=["inline", "jobs"],
                        choices=["inline", "jobs"])  # fmt: skip
    args = parser.parse_args()

    from fairwheel.config import load_settings
    from fairwheel.embed import open_embedder
    from fairwheel.node import Node
    from fairwheel.sim.data import Example, load_csv
    from fairwheel.wallet import ContributorWallet

    base = load_csv(DATA / "train.csv")
    print(f"{'records':>8} {'mode':>6} {'node rec/s':>11} {'bare rec/s':>11} {'ratio':>7} "
          f"{'last/first 10%':>15} {'rescore s':>10}")  # fmt: skip
    bare = None
    for size in args.sizes:
        rows = [base[i % len(base)] for i in range(size)]
        rows = [r if i < len(base) else Example(f"{r.text} (again {i // len(base)})", r.label)
                for i, r in enumerate(rows)]  # fmt: skip
        for mode in args.modes:
            home = Path(tempfile.mkdtemp(prefix="fairwheel-ingest-"))
            settings = load_settings(home=home, chain_url="embedded://",
                                     embedder_url=args.embedder,
                                     jobs={"inline_rescore": mode == "inline"})  # fmt: skip
            node = Node.open(settings)
            pid = int(node.create_pool("ingest", search_price=1000, predict_price=3000,
                                       operator_fee_bps=1000, builder_share_bps=0,
                                       labels=sorted({e.label for e in base}))["id"])  # fmt: skip
            wallets = [ContributorWallet(node.chain.new_account(), node.consent_domain())
                       for _ in range(20)]  # fmt: skip
            now = node.chain.now()
            subs = [wallets[i % 20].submission(pid, e.text, e.label, now=now)
                    for i, e in enumerate(rows)]  # fmt: skip
            node.embedder.embed([rows[0].text])  # load the model outside the timing
            per_batch = []
            start = time.perf_counter()
            for at in range(0, size, args.batch):
                t = time.perf_counter()
                node.submit(pid, subs[at : at + args.batch])
                per_batch.append(time.perf_counter() - t)
            node_rate = size / (time.perf_counter() - start)
            rescore = ""
            if mode == "jobs":  # what the rescore job does next, on the grown pool
                t = time.perf_counter()
                node.contributions.rescore(pid)
                rescore = f"{time.perf_counter() - t:.1f}"
            # The bare embedder runs right after each node run, so both see the same load.
            bare = bare or open_embedder(args.embedder, cache_dir=settings.cache_dir)
            bare.embed([rows[0].text])
            start = time.perf_counter()
            for at in range(0, size, args.batch):
                bare.embed([e.text for e in rows[at : at + args.batch]])
            bare_rate = size / (time.perf_counter() - start)
            tenth = max(1, len(per_batch) // 10)
            growth = sum(per_batch[-tenth:]) / sum(per_batch[:tenth])
            print(f"{size:>8} {mode:>6} {node_rate:>11.1f} {bare_rate:>11.1f} "
                  f"{node_rate / bare_rate:>6.2f}x {growth:>14.2f}x {rescore:>10}",
                  flush=True)  # fmt: skip
            node.close()


if __name__ == "__main__":
    main()
