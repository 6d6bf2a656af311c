"""One pool grown to 100k records: ingest rate, paid-search latency, memory and index size.

Usage::

    python benchmarks/scale.py [--records 100000] [--checkpoints 10000 30000 100000]
                               [--batch 500] [--calls 200] [--embedder minilm://onnx]

Data: the 10,003 texts of ``../shared/data/banking77/train.csv`` (CC BY 4.0; never copied),
then **synthetic variants** of them: each text again with a generated reference clause
("… (ref 4821, card ending 3310, via app)") drawn from a seeded generator, so every record is
distinct text with a real embedding. Variants of a text come from the contributor who sent the
original (there are 50), so the gate treats them as that contributor's own texts, not as
another contributor's copies; texts banking77 itself repeats across contributors are still
refused as copies, as they would be in a real pool.

The node runs as under ``fairwheel serve --jobs`` (embedded chain, SQLite, hnswlib, the ONNX
embedder, ``jobs.inline_rescore`` off): rescoring is the background job's work and is not
timed here (``benchmarks/ingest.py`` times it), and the per-contributor rate limit is lifted to
``--records`` (a bulk load; at the default 50 × 1,000 an hour the pool would stop at 50k). At
each checkpoint it prints:

* the ingest rate of the last segment (records/s through ``Node.submit`` with signed
  consents) and the bare embedder's rate on 2,000 of that segment's texts, with the ratio;
* paid search p50/p99 over ``--calls`` searches (k=10, a fresh voucher each, signed before
  the clock starts) with banking77
  test queries, and the bare work (embed + index search) p50;
* the process's resident memory (RSS now and peak), and the pool's index size on disk.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from paid_calls import _times  # same folder: one timing loop for both benchmarks

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
CONTRIBUTORS = 50
CHANNELS = ("via app", "online", "at a branch", "by phone", "abroad", "at an ATM")


def variant(text: str, rng: random.Random) -> str:
    """The text with a generated reference clause (distinct text, same intent)."""
    return (f"{text} (ref {rng.randrange(10_000, 99_999)}, card ending "
            f"{rng.randrange(1000, 9999)}, {rng.choice(CHANNELS)})")  # fmt: skip


def _rss_mib() -> tuple[float, float]:
    """Resident memory now and at peak, MiB."""
    now = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
    return now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--embedder", default="minilm://onnx")
    args = parser.parse_args()

    from fairwheel.config import load_settings
    from fairwheel.embed import open_embedder
    from fairwheel.node import Node
    from fairwheel.sim.data import load_csv
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    base = load_csv(DATA / "train.csv")
    queries = [e.text for e in load_csv(DATA / "test.csv")[: args.calls]]
    rng = random.Random(15)
    texts: list[tuple[str, str, int]] = []  # text, label, contributor
    for i in range(args.records):
        row = base[i % len(base)]
        text = row.text if i < len(base) else variant(row.text, rng)
        texts.append((text, row.label, (i % len(base)) % CONTRIBUTORS))

    home = Path(tempfile.mkdtemp(prefix="fairwheel-scale-"))
    # A bulk load: 50 contributors at the default 1,000 submissions an hour each would stop the
    # pool at 50k (the embedded chain's clock does not move), so the operator lifts the limit.
    settings = load_settings(home=home, chain_url="embedded://", embedder_url=args.embedder,
                             jobs={"inline_rescore": False},
                             rate_limit_per_hour=args.records)  # fmt: skip
    node = Node.open(settings)
    pid = int(node.create_pool("scale", search_price=1000, predict_price=3000,
                               operator_fee_bps=1000, builder_share_bps=0,
                               labels=sorted({e.label for e in base}))["id"])  # fmt: skip
    wallets = [ContributorWallet(node.chain.new_account(), node.consent_domain())
               for _ in range(CONTRIBUTORS)]  # fmt: skip
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**18, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**15, sender=consumer.account)
    bare = open_embedder(args.embedder, cache_dir=settings.cache_dir)
    bare.embed(["warm up"])
    node.embedder.embed(["warm up"])
    print(
        f"banking77 + synthetic variants, {args.embedder}, batches of {args.batch}, "
        f"{CONTRIBUTORS} contributors; home {home}"
    )
    print(f"{'records':>8} {'accepted':>9} {'node rec/s':>11} {'bare rec/s':>11} {'ratio':>6} "
          f"{'search p50':>11} {'p99':>8} {'bare p50':>9} {'RSS MiB':>8} {'peak':>7} "
          f"{'index MiB':>10}", flush=True)  # fmt: skip
    done = 0
    for checkpoint in sorted(c for c in args.checkpoints if c <= args.records):
        segment = texts[done:checkpoint]
        now = node.chain.now()
        start = time.perf_counter()
        for at in range(0, len(segment), args.batch):
            chunk = segment[at : at + args.batch]
            node.submit(pid, [wallets[c].submission(pid, t, lab, now=now)
                              for t, lab, c in chunk])  # fmt: skip
        node_rate = len(segment) / (time.perf_counter() - start)
        done = checkpoint
        sample = [t for t, _, _ in segment[-2000:]]
        start = time.perf_counter()
        for at in range(0, len(sample), args.batch):
            bare.embed(sample[at : at + args.batch])
        bare_rate = len(sample) / (time.perf_counter() - start)

        index = node.index(pid)

        def sign(i: int) -> tuple[int, object, bytes]:  # the consumer's side, untimed
            return (i, *consumer.pay(pid, node.price_of(pid, "search")))

        def paid_search(arg: tuple[int, object, bytes]) -> object:
            i, voucher, sig = arg
            out = node.search(pid, queries[i % len(queries)], 10, voucher, sig)  # type: ignore[arg-type]
            consumer.confirm(voucher)  # type: ignore[arg-type]
            return out

        def bare_search(i: int, index: object = index) -> object:
            return index.search(node.embedder.embed([queries[i % len(queries)]])[0], 20)  # type: ignore[attr-defined]

        _times(paid_search, 5, sign)
        paid = _times(paid_search, args.calls, sign)
        bare_ms = _times(bare_search, args.calls)
        index.save()
        rss, peak = _rss_mib()
        accepted = node.store.status_counts(pid).get("accepted", 0)
        p50, p99 = statistics.median(paid), sorted(paid)[int(0.99 * (len(paid) - 1))]
        print(f"{checkpoint:>8} {accepted:>9} {node_rate:>11.1f} {bare_rate:>11.1f} "
              f"{node_rate / bare_rate:>5.2f}x {p50:>8.2f} ms {p99:>5.1f} ms "
              f"{statistics.median(bare_ms):>6.2f} ms {rss:>8.0f} {peak:>7.0f} "
              f"{_size_mib(home / 'index'):>10.1f}", flush=True)  # fmt: skip
    node.close()


if __name__ == "__main__":
    main()
