"""The near-duplicate finder's cost per query as a pool of templated texts grows, with and
without the LSH bucket cap, and the near copies it still finds.

Usage::

    python benchmarks/near_duplicates.py [--sizes 30000 60000 100000] [--queries 300]

Data: ``benchmarks/scale.py``'s pool — the 10,003 texts of ``../shared/data/banking77/
train.csv`` (CC BY 4.0; never copied), then synthetic variants of them with a generated
reference clause, each from the contributor who sent the original. One
``NearDuplicateFinder`` (text only, no embedding neighbours) grows to each size; at each, on
the same pool, its LSH buckets are rebuilt once with ``BUCKET_CAP`` and once without a cap, and
it prints per cap:

* the time of one ``find`` for the next ``--queries`` texts of the stream, and the candidate
  slots LSH returned for each (what grows with the pool without the cap);
* of as many near copies (``fairwheel.quality.synthetic.near_copy``: one or two typos, dropped
  words, affixes, recasing) of random pool texts sent by a new owner, how many are matched to a
  text equal to their source.

Below 20,000 texts the finder compares every signature (no LSH), so sizes start above it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import CONTRIBUTORS, DATA, variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30_000, 60_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    import fairwheel.quality.near_duplicate as nd
    from fairwheel.quality.synthetic import near_copy
    from fairwheel.sim.data import load_csv

    base = [e.text for e in load_csv(DATA / "train.csv")]
    rng = random.Random(0)
    total = max(args.sizes) + args.queries
    texts = [t if i < len(base) else variant(t, rng)
             for i, t in enumerate(base[i % len(base)] for i in range(total))]  # fmt: skip
    owners = [f"c{(i % len(base)) % CONTRIBUTORS}" for i in range(total)]
    finder = nd.NearDuplicateFinder()
    slots: list[int] = []
    lsh_slots = finder._lsh_slots

    def counted(sig):  # type: ignore[no-untyped-def]
        out = lsh_slots(sig)
        slots.append(len(out))
        return out

    finder._lsh_slots = counted  # type: ignore[method-assign]
    cap = nd.BUCKET_CAP
    print(f"{'texts':>8} {'bucket cap':>10} {'find ms':>8} {'LSH slots':>10} {'copies found':>13}")
    added = 0
    for size in sorted(args.sizes):
        while added < size:
            finder.add(added, texts[added], owner=owners[added])
            added += 1
        probe = random.Random(size)
        sources = [probe.randrange(size) for _ in range(args.queries)]
        copies = [near_copy(texts[s], probe) for s in sources]
        for label, limit in ((str(cap), cap), ("none", total)):
            nd.BUCKET_CAP = limit
            finder._buckets = None  # rebuilt under this cap on the next find (not timed)
            finder.find("rebuild the buckets", owner="nobody")
            slots.clear()
            ms = []
            for i in range(size, size + args.queries):
                start = time.perf_counter()
                finder.find(texts[i], owner=owners[i])
                ms.append((time.perf_counter() - start) * 1e3)
            found = sum(
                m is not None and texts[m.owner] == texts[s]  # type: ignore[index]
                for m, s in ((finder.find(c, owner="0xcopier"), s)
                             for c, s in zip(copies, sources, strict=True))
            )  # fmt: skip
            print(f"{size:>8} {label:>10} {statistics.median(ms):>8.3f} "
                  f"{statistics.mean(slots):>10.0f} {found:>6}/{len(copies):<6}")  # fmt: skip
    nd.BUCKET_CAP = cap


if __name__ == "__main__":
    main()
