"""The label-issue experiments of ``benchmarks/quality.py``: detection on banking77 with 10% of
labels flipped (:func:`label_experiment`), and ``--label-issues``, the comparison with cleanlab
baselines on three text sets (:func:`label_benchmark`).
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from fairwheel.quality.gate import GatePolicy
from fairwheel.quality.label_issues import label_issues
from fairwheel.quality.synthetic import flip_label
from quality_stream import embed_all, load


def label_experiment(
    texts_vectors: np.ndarray, labels: list[str], policy: GatePolicy, rng: random.Random
) -> str:
    classes = sorted(set(labels))
    noisy = list(labels)
    flipped = np.zeros(len(labels), dtype=bool)
    for i in rng.sample(range(len(labels)), len(labels) // 10):
        noisy[i] = flip_label(labels[i], classes, rng)
        flipped[i] = True
    start = time.perf_counter()
    report = label_issues(texts_vectors, noisy, policy.label)
    seconds = time.perf_counter() - start
    k = int(flipped.sum())
    top = np.zeros(len(labels), dtype=bool)
    top[np.argsort(-report.scores, kind="stable")[:k]] = True
    tp = int((top & flipped).sum())
    f1 = 2 * tp / (top.sum() + k)
    auroc = _auroc(report.scores, flipped)
    flagged = report.issues
    ftp = int((flagged & flipped).sum())
    return (
        f"label issues: {len(labels)} honest rows, {k} labels flipped (10%), "
        f"out-of-sample {policy.label.model} ({policy.label.folds} folds) + confident learning, "
        f"{seconds:.1f} s\n"
        f"  F1 of the 10% highest label-issue scores {f1:.3f}   AUROC {auroc:.4f}\n"
        f"  confident learning flags {int(flagged.sum())}: precision "
        f"{ftp / max(1, int(flagged.sum())):.3f}  recall {ftp / k:.3f}"
    )


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive outranks a negative (ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):  # average ranks of ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = int(positive.sum())
    neg = len(scores) - pos
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


_QUESTIONS = {  # question type -> phrasings; {t} is a topic
    "date": ("When did {t} start?", "In what year was {t} founded?", "What date is {t} held?",
             "When does {t} usually happen?"),
    "place": ("Where is {t} based?", "In which city did {t} begin?", "Where can I find {t}?",
              "What country hosts {t}?"),
    "person": ("Who founded {t}?", "Who is in charge of {t}?", "Which person invented {t}?",
               "Who was the first to study {t}?"),
    "number": ("How many people work on {t}?", "How much does {t} cost?",
               "What is the size of {t}?", "How many times has {t} changed?"),
    "reason": ("Why is {t} important?", "Why did {t} fail?", "What caused {t} to grow?",
               "Why do people care about {t}?"),
    "definition": ("What is {t}?", "What does {t} mean?", "Can you define {t}?",
                   "What is meant by {t}?"),
}  # fmt: skip
_TOPICS = (
    "the olympic games", "the red cross", "jazz music", "the printing press", "bitcoin",
    "the roman empire", "photosynthesis", "the world cup", "the internet", "the eiffel tower",
    "vaccination", "the stock market", "the silk road", "quantum computing", "the nobel prize",
    "origami", "the amazon rainforest", "chess", "the moon landing", "electric cars",
    "the harvest festival", "the local library", "solar power", "the city marathon",
)  # fmt: skip


def question_types(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` generated questions labelled by the kind of answer they ask for (six types)."""
    rng = random.Random(seed)
    kinds = sorted(_QUESTIONS)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < min(n, len(kinds) * 4 * len(_TOPICS)):
        kind = kinds[len(out) % len(kinds)]
        text = rng.choice(_QUESTIONS[kind]).format(t=rng.choice(_TOPICS))
        if text not in seen:
            seen.add(text)
            out.append((text, kind))
    return out


def _f1(flags: np.ndarray, truth: np.ndarray) -> float:
    tp = int((flags & truth).sum())
    return 2 * tp / max(1, int(flags.sum()) + int(truth.sum()))


def label_benchmark(args: argparse.Namespace) -> None:
    """cleanlab on TF-IDF, cleanlab on the embedding, the gate and the audit, at 5/10/20% flips.

    Each cell is the F1 of the flags against the flipped rows, averaged over ``--label-seeds``
    seeds (``--seed``, ``--seed + 1``, ...): each seed draws its own banking77 sample, its own
    generated sets and its own flips. The baselines are cleanlab's standard recipe:
    ``find_label_issues`` (default ``prune_by_noise_rate``) on 5-fold out-of-fold probabilities
    of scikit-learn's ``LogisticRegression`` (default C=1). "gate" is the node's check (the
    embedding only, :class:`LabelPolicy` defaults); "audit" is ``fairwheel quality audit``'s
    (:data:`AUDIT_LABEL_POLICY`, with the texts).
    """
    from concurrent.futures import ProcessPoolExecutor

    seeds = [args.seed + i for i in range(args.label_seeds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        runs = list(pool.map(_label_seed, [(args, s) for s in seeds]))
    print(
        "label issues: F1 of the flags vs the flipped rows, uniform flips, mean over seeds "
        f"{seeds[0]}..{seeds[-1]}; cleanlab: find_label_issues, 5-fold LogisticRegression"
    )
    print(
        f"{'dataset':13s} {'rows':>5s} {'cls':>4s} {'noise':>5s} {'cl+tfidf':>8s} "
        f"{'cl+embed':>8s} {'gate':>6s} {'audit':>6s} {'audit-best':>10s}  audit per seed"
    )
    lost = 0
    for key in runs[0]:
        cells = np.asarray([run[key][1] for run in runs])  # seeds x 4
        mean = cells.mean(axis=0)
        margin = mean[3] - max(mean[0], mean[1])
        lost += margin < 0
        rows, classes = runs[0][key][0]
        name, noise = key
        print(f"{name:13s} {rows:5d} {classes:4d} {noise:5.0%} {mean[0]:8.3f} {mean[1]:8.3f} "
              f"{mean[2]:6.3f} {mean[3]:6.3f} {margin:+10.3f}  "
              + " ".join(f"{v:.3f}" for v in cells[:, 3]))  # fmt: skip
    print(f"audit behind the better cleanlab baseline in {lost} of {len(runs[0])} cells; "
          f"{time.perf_counter() - started:.0f} s")


def _label_seed(
    job: tuple[argparse.Namespace, int],
) -> dict[tuple[str, float], tuple[tuple[int, int], list[float]]]:
    """One seed of :func:`label_benchmark`: ``{(set, noise): ((rows, classes), 4 F1s)}``."""
    args, seed = job
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.blas_threads):
        return _label_cells(args, seed)


def _label_cells(
    args: argparse.Namespace, seed: int
) -> dict[tuple[str, float], tuple[tuple[int, int], list[float]]]:
    from cleanlab.filter import find_label_issues
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from fairwheel.quality.label_issues import AUDIT_LABEL_POLICY, LabelPolicy, encode
    from fairwheel.quality.lexical import tfidf_features
    from fairwheel.sim.data import synthetic_support_queries

    rng = random.Random(seed)
    bank = load(args.data / "train.csv")
    sets = {
        "banking77": rng.sample(bank, min(args.n_label, len(bank))),
        "support(gen)": [
            (x.text, x.label) for x in synthetic_support_queries(args.n_label, seed=seed)
        ],
        "qtype(gen)": question_types(args.n_label, seed),
    }
    out = {}
    for name, rows in sets.items():
        texts = [t for t, _ in rows]
        vectors, _, _ = embed_all(texts, args.embedder, args.cache_dir)
        x_tfidf = tfidf_features(texts)
        classes = sorted({lab for _, lab in rows})
        for noise in (0.05, 0.10, 0.20):
            nrng = random.Random(f"{seed}-{name}-{noise}")
            noisy = [lab for _, lab in rows]
            truth = np.zeros(len(rows), dtype=bool)
            for i in nrng.sample(range(len(rows)), round(noise * len(rows))):
                noisy[i] = flip_label(noisy[i], classes, nrng)
                truth[i] = True
            _, y = encode(noisy)
            cells = []
            for x in (x_tfidf, vectors):
                probs = cross_val_predict(
                    LogisticRegression(max_iter=1000), x, y, cv=5, method="predict_proba"
                )
                cells.append(_f1(find_label_issues(y, probs), truth))
            gate = label_issues(vectors, noisy, LabelPolicy())
            audit = label_issues(vectors, noisy, AUDIT_LABEL_POLICY, texts=texts)
            cells += [_f1(gate.issues, truth), _f1(audit.issues, truth)]
            out[(name, noise)] = ((len(rows), len(classes)), cells)
    return out
