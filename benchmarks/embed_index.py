"""Benchmark the embedder and vector index ports on this machine.

Usage::

    python benchmarks/embed_index.py [--n N] [--queries Q] [--sentences S] [--rounds R]
                                     [--skip-embed] [--cache-dir DIR] [--texts CSV]

Prints, for all-MiniLM-L6-v2: sentences/s on ONNX Runtime and on sentence-transformers/torch
(same process, rounds interleaved so background load hits both alike; medians and their
ratio), single-query latency and the cosine agreement of the two runtimes; then, for ``N``
embedding-like vectors (384-d, low rank plus noise, unit length): build time, p50/p99 search
latency and recall@10 of ``hnsw://`` against ``exact://``; with ``--texts``, the same on real
embeddings of a CSV's ``text`` column.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fairwheel.embed import Embedder, open_embedder
from fairwheel.index import VectorIndex, open_index

_VOCABULARY = """
data model vector index search query record pool token consent price epoch root proof the a of
to and in for on with by from that this is are was be can will new old fast slow good bad small
large people market city river music history science energy water health school family travel
weather garden kitchen computer network language picture story paper letter answer question
problem reason result method system process value
"""
WORDS = _VOCABULARY.split()


def make_sentences(count: int, rng: np.random.Generator) -> list[str]:
    """Sentences of 8 to 40 words (about 45 word pieces on average, like STACK.md's set)."""
    out = []
    for _ in range(count):
        words = rng.choice(WORDS, size=int(rng.integers(8, 41)))
        out.append(" ".join(words).capitalize() + ".")
    return out


def embedding_like(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    """Unit vectors shaped like one pool's sentence embeddings.

    Topics (cluster centres) in a 192-d subspace with a decaying spectrum, points scattered
    around them with a heavy-tailed spread, plus a direction every vector shares. Calibrated on
    13k all-MiniLM-L6-v2 embeddings of banking77 (mean pairwise cosine 0.22, mean cosine to the
    1st / 10th neighbour 0.86 / 0.71, 90 % of variance in 101 components); this gives 0.24,
    0.77 / 0.69 and 102, so neighbours are a little *less* distinct than in real text and the
    recall measured here is, if anything, pessimistic. (A plain low-rank Gaussian is much
    harder than real text: recall@10 0.91 where banking77 gives 1.00 at ef 64.)
    """
    topics, rank = 100, 192
    scale = (1.0 + np.arange(rank)) ** -0.2
    basis = rng.standard_normal((rank, dim))
    centres = rng.standard_normal((topics, rank)) * scale
    spread = 0.9 * np.exp(0.7 * rng.standard_normal((n, 1)))
    latent = centres[rng.integers(topics, size=n)] + spread * rng.standard_normal((n, rank)) * scale
    x = latent @ basis
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    shared = rng.standard_normal(dim)
    x += 0.55 * shared / np.linalg.norm(shared)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def read_texts(path: Path) -> list[str]:
    """The ``text`` column of a CSV file."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh) if row.get("text")]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_embedders(sentences: list[str], rounds: int, cache: Path) -> None:
    print(f"\n## Embedding: {len(sentences)} sentences, batch 64, {rounds} interleaved rounds")
    t_open = time.perf_counter()
    onnx = open_embedder("minilm://onnx", cache)
    print(f"open minilm://onnx: {time.perf_counter() - t_open:.1f} s ({onnx.model_id})")
    t_open = time.perf_counter()
    torch = open_embedder("minilm://torch", cache)
    print(f"open minilm://torch: {time.perf_counter() - t_open:.1f} s ({torch.model_id})")
    runtimes: dict[str, Embedder] = {"onnx": onnx, "torch": torch}
    for embedder in runtimes.values():
        embedder.embed(sentences[:64])  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in runtimes}
    for _ in range(rounds):
        for name, embedder in runtimes.items():
            rates[name].append(len(sentences) / timed(partial(embedder.embed, sentences)))
    agreement = np.sum(onnx.embed(sentences) * torch.embed(sentences), axis=1)
    queries = ["what does the pool pay per search?", "river city weather", "how to claim rewards"]
    latency: dict[str, list[float]] = {name: [] for name in runtimes}
    for i in range(60):
        for name, embedder in runtimes.items():
            text = queries[i % len(queries)]
            latency[name].append(1000 * timed(partial(embedder.embed, [text])))
    print(f"{'runtime':<8} {'sentences/s (median)':>21} {'all rounds':>24} {'1 query p50':>12}")
    for name in runtimes:
        spread = ", ".join(f"{r:.0f}" for r in rates[name])
        p50 = statistics.median(latency[name])
        print(f"{name:<8} {statistics.median(rates[name]):>21.0f} {spread:>24} {p50:>9.1f} ms")
    ratio = statistics.median(rates["onnx"]) / statistics.median(rates["torch"])
    print(f"onnx/torch throughput ratio: {ratio:.2f}x")
    print(f"cosine(onnx, torch) per sentence: min {agreement.min():.6f}")


def bench_indexes(data: np.ndarray, n_queries: int, what: str, k: int = 10) -> None:
    """Index all but the last ``n_queries`` rows of ``data``; query with those."""
    vectors, queries = data[:-n_queries], data[-n_queries:]
    n = len(vectors)
    print(f"\n## Vector index: {n} x {data.shape[1]} {what}, {n_queries} queries, top-{k}")
    ids = list(range(n))
    with tempfile.TemporaryDirectory() as folder:
        indexes: dict[str, VectorIndex] = {
            "exact": open_index("exact://", data.shape[1]),
            "hnsw": open_index(f"hnsw://{folder}/idx", data.shape[1]),
        }
        build: dict[str, float] = {}
        for name, index in indexes.items():
            build[name] = timed(partial(index.add, ids, vectors))
        save = timed(indexes["hnsw"].save)
        reopen = timed(lambda: open_index(f"hnsw://{folder}/idx", data.shape[1]))
        results: dict[str, list[list[int]]] = {name: [] for name in indexes}
        times: dict[str, list[float]] = {name: [] for name in indexes}
        for q in queries:
            for name, index in indexes.items():
                start = time.perf_counter()
                hits = index.search(q, k)
                times[name].append(1000 * (time.perf_counter() - start))
                results[name].append([i for i, _ in hits])
    recall = np.mean(
        [len(set(a) & set(b)) / k for a, b in zip(results["hnsw"], results["exact"], strict=True)]
    )
    print(f"{'index':<6} {'build':>8} {'p50':>9} {'p99':>9} {'recall@10':>10}")
    for name in indexes:
        p50, p99 = np.percentile(times[name], [50, 99])
        rec = 1.0 if name == "exact" else recall
        print(f"{name:<6} {build[name]:>6.2f} s {p50:>6.2f} ms {p99:>6.2f} ms {rec:>10.3f}")
    print(f"hnsw save: {save:.2f} s, reopen: {reopen:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="vectors in the index benchmark")
    parser.add_argument("--queries", type=int, default=500, help="queries per index")
    parser.add_argument("--sentences", type=int, default=512, help="sentences per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved embedding rounds")
    parser.add_argument("--skip-embed", action="store_true", help="only the index benchmark")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX graph cache folder")
    parser.add_argument(
        "--texts",
        type=Path,
        default=None,
        help="also benchmark the indexes on real embeddings of this CSV's 'text' column",
    )
    args = parser.parse_args()
    # Shared machines are noisy: print the load so every figure carries its context.
    print(f"# load average at start: {os.getloadavg()[0]:.2f}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    cache = args.cache_dir or os.environ.get("FAIRWHEEL_CACHE_DIR")
    if not cache:
        from fairwheel.config import default_cache_dir

        cache = default_cache_dir()
    cache = Path(cache)
    if not args.skip_embed:
        sentences = make_sentences(args.sentences, np.random.default_rng(0))
        bench_embedders(sentences, args.rounds, cache)
    synthetic = embedding_like(np.random.default_rng(0), args.n + args.queries)
    bench_indexes(synthetic, args.queries, "embedding-like vectors")
    if args.texts:
        texts = read_texts(args.texts)
        embedder = open_embedder("minilm://onnx", cache)
        start = time.perf_counter()
        vectors = embedder.embed(texts)
        rate = len(texts) / (time.perf_counter() - start)
        print(f"\nembedded {len(texts)} texts of {args.texts.name} at {rate:.0f} sentences/s")
        shuffled = vectors[np.random.default_rng(0).permutation(len(vectors))]
        bench_indexes(
            shuffled, min(args.queries, len(texts) // 10), f"embeddings of {args.texts.name}"
        )


if __name__ == "__main__":
    main()
