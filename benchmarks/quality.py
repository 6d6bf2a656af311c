"""Measure the contribution gate against attackers on banking77, and the label-issue detector.

Usage::

    python benchmarks/quality.py [--n-honest N] [--attack M] [--queries Q] [--seed S]

Data: banking77 (Casanueva et al., "Efficient Intent Detection with Dual Sentence Encoders",
2020, PolyAI), CC BY 4.0, read from ``../shared/data/banking77`` (``--data``); never copied.

The stream: ``N`` honest rows of ``train.csv`` spread over 10 honest contributors, plus one
contributor per attack, ``M`` rows each, all arriving in one random order:

* ``exact_copy`` — a copy of an earlier honest arrival, re-cased or re-spaced;
* ``near_copy`` — an earlier honest arrival with one or two edits: typos, a dropped word,
  casing, a suffix or prefix, punctuation (``fairwheel.quality.synthetic.near_copy``);
* ``label_flip`` — fresh rows of ``train.csv`` no one else sent, with a wrong label;
* ``junk`` — random letters, keyboard mashing, repeats, symbols, lorem ipsum, salad of the
  pool's words, spam, sentences in other languages; random labels.

Each arrival goes through the gate as the node runs it (rate limit, exact duplicate, near
duplicate, junk/outliers, label check against the pool snapshot); the pool is rescored whenever
it has grown by half (at most every 1,000 records) and once at the end, which can quarantine
records accepted earlier. Then ``Q`` paid searches (queries from ``test.csv``, top-5, 10
candidates) are attributed by exact retrieval KNN-Shapley over the accepted records, the node's
rule, and each contributor's share of the payout is summed — once with the gate and once with
every submission accepted.

Separately: label-issue detection on the honest rows with 10% of labels flipped (F1 of the 10%
highest label-issue scores, AUROC, and confident learning's own flags).

``--label-issues`` instead compares label-issue detection with cleanlab baselines
(:func:`label_benchmark`).

The stream is built by ``quality_stream.py`` and the label-issue experiments are in
``quality_labels.py`` (``quality_node.py`` imports the stream's names from here).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fairwheel.domain.records import GateDecision, RecordStatus, Submission, normalize_text
from fairwheel.quality.candidates import ordered_candidates
from fairwheel.quality.gate import GatePolicy, judge_content
from fairwheel.quality.near_duplicate import best_match
from fairwheel.quality.review import (
    ContributorReputation,
    PoolRecord,
    needs_refresh,
    rescore_pool,
)
from fairwheel.valuation import group_values, retrieval_shapley
from quality_labels import label_benchmark, label_experiment
from quality_stream import ATTACKS, HONEST_CONTRIBUTORS, Event, build_stream, embed_all, load

DETECTOR = {
    "exact_copy": ("duplicate",),
    "near_copy": ("near_duplicate", "near_duplicate_suspect"),
    "label_flip": ("label_issue",),
    "junk": ("junk", "wrong_language", "outlier"),
}
DETECTOR_NAME = {
    "exact_copy": "exact duplicate",
    "near_copy": "near duplicate",
    "label_flip": "label issue",
    "junk": "junk/lang/outl.",
}
SEARCH_K = 5


def simulate(
    events: list[Event], vectors: np.ndarray, policy: GatePolicy, hours: float
) -> dict[str, float]:
    """Run every arrival through the gate in order, rescoring as the pool grows."""
    n = len(events)
    ev_vectors = vectors[[e.vector_of for e in events]]
    start = time.perf_counter()
    cands = ordered_candidates(
        [e.text for e in events], ev_vectors, [e.contributor for e in events],
        policy.near_duplicate,
    )  # fmt: skip
    t_candidates = time.perf_counter() - start
    reputation = ContributorReputation()
    alive = np.zeros(n, dtype=bool)
    owner_of: dict[str, int] = {}
    suspect: dict[int, int] = {}
    pool = None
    built_at, rescores, t_rescore = 0, 0, 0.0
    clock = hours * 3600 / n  # the whole stream arrives over ``hours``

    def rescore() -> None:
        nonlocal pool, built_at, rescores, t_rescore
        t0 = time.perf_counter()
        members = [
            i for i in range(n)
            if events[i].status in (RecordStatus.ACCEPTED, RecordStatus.QUARANTINED)
        ]  # fmt: skip
        records = [
            PoolRecord(i, events[i].text, events[i].label, events[i].contributor,
                       events[i].status, suspect.get(i))
            for i in members
        ]  # fmt: skip
        result = rescore_pool(records, ev_vectors[members], policy, reputation)
        for rec, verdict in zip(records, result.verdicts, strict=True):
            e = events[int(rec.key)]  # type: ignore[call-overload]
            if verdict.status != e.status:
                reputation.revise(e.contributor, e.status, verdict.status)
            e.status = verdict.status
            e.reason = verdict.reasons[0] if verdict.status != RecordStatus.ACCEPTED else ""
            if verdict.status == RecordStatus.QUARANTINED:
                bad = [r for r in verdict.reasons if r.split()[0] in _QUARANTINE_WORDS]
                e.reason = bad[0] if bad else e.reason
            alive[int(rec.key)] = verdict.status == RecordStatus.ACCEPTED  # type: ignore[call-overload]
        pool, built_at = result.pool, int(alive.sum())
        rescores += 1
        t_rescore += time.perf_counter() - t0

    t0 = time.perf_counter()
    for i, e in enumerate(events):
        now = int(i * clock)
        limited = reputation.check(e.contributor, now)
        if limited is not None:
            e.status, e.reason = RecordStatus.REJECTED, limited.reasons[0]
            e.gate_status = e.status
            continue
        key = normalize_text(e.text)
        if key in owner_of:
            decision_reason = f"duplicate duplicate_of {owner_of[key]}"
            e.status, e.reason = RecordStatus.REJECTED, decision_reason
            decision = GateDecision(e.status, 0.0, (decision_reason,))
            reputation.observe(e.contributor, decision, i, now)
            e.gate_status = e.status
            continue
        live = [(j, events[j].text, cos) for j, cos in cands[i] if alive[j]]
        match = best_match(e.text, live, policy.near_duplicate)
        cosines = [c for _, _, c in live if c is not None]
        novelty = 1.0 - max(cosines) if cosines else 1.0
        sub = Submission(e.text, e.label, None, b"")
        verdict = judge_content(
            sub, ev_vectors[i], policy, match, novelty, pool,
            contributor_flagged=reputation.is_flagged(e.contributor),
        )  # fmt: skip
        d = verdict.decision
        e.status = e.gate_status = d.status
        e.reason = d.reasons[0] if d.status != RecordStatus.ACCEPTED else ""
        reputation.observe(e.contributor, d, i, now, suspect=match is not None)
        if match is not None and not match.strict:
            suspect[i] = int(match.owner)  # type: ignore[call-overload]
        if d.status == RecordStatus.ACCEPTED:
            alive[i] = True
            owner_of[key] = i
        if needs_refresh(built_at, int(alive.sum()), growth=0.5, every=1000):
            rescore()
    t_stream = time.perf_counter() - t0 - t_rescore
    rescore()
    honest = [c for c in {e.contributor for e in events} if c.startswith("honest")]
    shares = {c: reputation.shares(c) for c in {e.contributor for e in events}}
    return {
        "honest_bad": max(shares[c][1] for c in honest),
        "honest_suspect": max(shares[c][2] for c in honest),
        "attacker_bad": ", ".join(f"{a} {shares[a][1]:.2f}/{shares[a][2]:.2f}" for a in ATTACKS),  # type: ignore[dict-item]
        "candidates_s": t_candidates,
        "stream_s": t_stream,
        "rescore_s": t_rescore,
        "rescores": rescores,
        "flagged": len(reputation.flagged()),
        "flagged_names": ", ".join(sorted(reputation.flagged())),  # type: ignore[dict-item]
    }


_QUARANTINE_WORDS = {"label_issue", "outlier", "junk", "wrong_language", "near_duplicate_suspect"}


def payout_shares(vectors: np.ndarray, owners: list[str], queries: np.ndarray) -> dict[str, float]:
    """Each owner's share of the contributors' payout over the paid searches."""
    totals: defaultdict[str, float] = defaultdict(float)
    ids = np.arange(len(owners))
    for start in range(0, len(queries), 256):
        sims = queries[start : start + 256] @ vectors.T
        for row in sims:
            top = np.argpartition(-row, 2 * SEARCH_K - 1)[: 2 * SEARCH_K]
            relevance = np.clip(row[top].astype(np.float64), 0, None)
            values = retrieval_shapley(relevance, ids[top], SEARCH_K)
            if values.sum() <= 0:
                continue
            per = group_values(values / values.sum(), [owners[int(t)] for t in top])
            for owner, v in per.items():
                totals[owner] += v
    total = sum(totals.values())
    return {o: v / total for o, v in totals.items()}


def family(reason: str) -> str:
    return reason.split()[0] if reason else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-honest", type=int, default=3000)
    parser.add_argument("--attack", type=int, default=150, help="rows per attacker")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--hours", type=float, default=168.0,
        help="the stream arrives over this many hours (rate limits bind under ~10)",
    )  # fmt: skip
    parser.add_argument("--embedder", default="minilm://onnx")
    parser.add_argument("--label-model", default="logreg", choices=("logreg", "centroid"))
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument(
        "--synthetic", action="store_true",
        help="use the synthetic support queries of fairwheel.sim.data instead (transfer check)",
    )  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse embeddings")
    parser.add_argument("--dump", type=Path, default=None, help="write every verdict to a CSV")
    parser.add_argument(
        "--blas-threads", type=int, default=1,
        help="BLAS threads for the gate (1: on a shared 2-core machine small matrix products "
        "run faster on one thread)",
    )  # fmt: skip
    parser.add_argument(
        "--label-issues", action="store_true",
        help="only compare label-issue detection with cleanlab baselines on three text sets",
    )  # fmt: skip
    parser.add_argument("--n-label", type=int, default=2000, help="rows per set (--label-issues)")
    parser.add_argument(
        "--label-seeds", type=int, default=4, help="seeds to average over (--label-issues)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes (--label-issues)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.blas_threads):
        label_benchmark(args) if args.label_issues else run(args)


def run(args: argparse.Namespace) -> None:
    """The whole benchmark; prints its report."""

    started = time.perf_counter()
    rng = random.Random(args.seed)
    if args.synthetic:
        from fairwheel.sim.data import synthetic_support_queries

        examples = [(x.text, x.label) for x in synthetic_support_queries(5000, seed=args.seed)]
        rng.shuffle(examples)
        test, train = examples[: len(examples) // 5], examples[len(examples) // 5 :]
    else:
        train, test = load(args.data / "train.csv"), load(args.data / "test.csv")
    events, texts = build_stream(train, args.n_honest, args.attack, rng)
    queries = [t for t, _ in rng.sample(test, min(args.queries, len(test)))]
    vectors, model_id, embed_s = embed_all(texts + queries, args.embedder, args.cache_dir)
    q_vectors, vectors = vectors[len(texts) :], vectors[: len(texts)]
    import dataclasses

    base = GatePolicy()
    label_policy = dataclasses.replace(base.label, model=args.label_model)
    policy = dataclasses.replace(base, label=label_policy)
    sim = simulate(events, vectors, policy, args.hours)

    if args.dump is not None:
        with open(args.dump, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["arrival", "kind", "contributor", "gate", "final", "reason", "label",
                             "text"])  # fmt: skip
            for i, e in enumerate(events):
                writer.writerow([i, e.kind, e.contributor, e.gate_status.value, e.status.value,
                                 e.reason, e.label, e.text])  # fmt: skip
    ev_vectors = vectors[[e.vector_of for e in events]]
    owners = [e.contributor if e.kind == "honest" else e.kind for e in events]
    share_all = payout_shares(ev_vectors, owners, q_vectors)
    kept = [i for i, e in enumerate(events) if e.status == RecordStatus.ACCEPTED]
    share_gate = payout_shares(ev_vectors[kept], [owners[i] for i in kept], q_vectors)

    if args.synthetic:
        print("Fairwheel quality benchmark on the synthetic support queries (fairwheel.sim.data)")
    else:
        print("Fairwheel quality benchmark on banking77 (Casanueva et al. 2020, PolyAI; CC BY 4.0)")
    print(
        f"stream: {args.n_honest} honest rows from {HONEST_CONTRIBUTORS} "
        f"contributors + {len(ATTACKS)} attackers x {args.attack} rows, random order "
        f"over {args.hours:g} h (seed {args.seed}); {args.queries} paid searches "
        f"(held-out queries, top-{SEARCH_K})"
    )
    print(f"embedder {model_id}: {len(texts) + len(queries)} texts in {embed_s:.1f} s")
    print()
    print(
        f"{'attacker':11s} {'sent':>5s} {'judged':>6s}  {'detector':15s} {'flags':>5s} "
        f"{'honest':>6s} {'precision':>9s} {'recall':>6s} {'not paid':>8s}  "
        "payout share: no gate -> gate"
    )
    flags = Counter(family(e.reason) for e in events if e.status != RecordStatus.ACCEPTED)
    honest_flags = Counter(
        family(e.reason) for e in events
        if e.kind == "honest" and e.status != RecordStatus.ACCEPTED
    )  # fmt: skip
    for attack in ATTACKS:
        mine = [e for e in events if e.kind == attack]
        judged = [e for e in mine if family(e.reason) != "rate_limited"]
        words = DETECTOR[attack]
        hit = sum(family(e.reason) in words for e in judged if e.status != RecordStatus.ACCEPTED)
        fired = sum(flags[w] for w in words)
        on_honest = sum(honest_flags[w] for w in words)
        not_paid = sum(e.status != RecordStatus.ACCEPTED for e in mine) / len(mine)
        print(
            f"{attack:11s} {len(mine):5d} {len(judged):6d}  {DETECTOR_NAME[attack]:15s} "
            f"{fired:5d} {on_honest:6d} {hit / max(1, fired):9.3f} "
            f"{hit / max(1, len(judged)):6.3f} {not_paid:8.3f}  "
            f"{share_all.get(attack, 0):6.2%} -> {share_gate.get(attack, 0):6.2%}"
        )
    honest = [e for e in events if e.kind == "honest"]
    rejected = Counter(family(e.reason) for e in honest if e.status == RecordStatus.REJECTED)
    quarantined = Counter(family(e.reason) for e in honest if e.status == RecordStatus.QUARANTINED)
    h_all = sum(v for k, v in share_all.items() if k.startswith("honest"))
    h_gate = sum(v for k, v in share_gate.items() if k.startswith("honest"))
    print(
        f"{'honest':12s} {len(honest):5d}  false rejection "
        f"{sum(rejected.values()) / len(honest):.2%} {dict(rejected.most_common())}; "
        f"quarantined {sum(quarantined.values()) / len(honest):.2%} "
        f"{dict(quarantined.most_common())}; payout share {h_all:.2%} -> {h_gate:.2%}"
    )
    late = sum(
        e.gate_status == RecordStatus.ACCEPTED and e.status == RecordStatus.QUARANTINED
        for e in events
    )
    print(
        f"rescoring: {sim['rescores']} passes; {late} records accepted at the gate were "
        f"quarantined later; flagged contributors: {sim['flagged_names'] or 'none'}"
    )
    print(
        f"reputation (bad share / near-duplicate share): honest at most "
        f"{sim['honest_bad']:.2f} / {sim['honest_suspect']:.2f}; {sim['attacker_bad']}"
    )
    print()
    print(label_experiment(vectors[[e.vector_of for e in honest]], [e.label for e in honest],
                           policy, random.Random(args.seed)))  # fmt: skip
    print()
    print(
        f"time: embed {embed_s:.1f} s, near-duplicate candidates {sim['candidates_s']:.1f} s, "
        f"gate {sim['stream_s']:.1f} s, rescoring {sim['rescore_s']:.1f} s; "
        f"total {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
