"""Benchmark the labeling workforce: aggregation quality, labeler scoring, pay, speed.

Usage::

    python benchmarks/labeling.py [--seeds S] [--quick]

Prints, over simulated crowds (honest labelers of skill uniform in 0.6..0.95,
spammers answering at random, adversaries always answering wrong; see
``fairwheel.labeling.simulate``):

1. aggregation accuracy of Dawid–Skene and majority vote with honest labelers
   only, and when spammers and adversaries join on top (their answers added);
2. full labeling jobs (pull assignment, overlap, gold mixed in, Dawid–Skene,
   pay): item accuracy, the AUROC with which the estimated accuracy separates
   bad from good labelers, the share of the bounty paid to bad labelers, honest
   labelers left unpaid or proposed for slashing;
3. time to aggregate 50k answers (and 100k answers over 50 classes);
4. label accuracy of our MV, DS (defaults), DS with ``shrink=sqrt(K)``, MACE, hierarchical DS
   (``hds``: a per-worker MACE prior of K pseudo-answers per row) and ``auto`` (DS or HDS by
   held-out predictive likelihood; the CLI's default) against crowd-kit's
   MV, DS, GLAD and MACE on the same answers: simulated 2-, 4- and 20-class crowds with random
   and constant spammers, adversaries, permuters and long-tailed sparse workers, and
   banking77's test texts (77 intents, ``--data``) labelled by a simulated crowd. crowd-kit runs
   in its own environment, ``CROWDKIT_PYTHON`` (default /tmp/crowdkit-venv/bin/python), in a
   subprocess fed CSV files; without it only our columns are printed. ``--only-crowdkit``
   runs part 4 alone.

Targets: DS accuracy does not drop when bad labelers join; AUROC >= 0.9; bad
labelers get < 2% of the bounty.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fairwheel.labeling.aggregate import Answers, aggregate, dawid_skene, majority_vote
from fairwheel.labeling.job import LabelingJob
from fairwheel.labeling.simulate import (
    answer,
    answers_for,
    answers_from_confusions,
    auroc,
    confusion_crowd,
    crowd,
    extra_answers,
)


def _accuracy(agg: object, truth: np.ndarray) -> float:
    from fairwheel.labeling.aggregate import Aggregation

    assert isinstance(agg, Aggregation)
    got = np.array([int(agg.label_of(i)[1:]) for i in range(len(agg.tasks))])
    want = np.array([truth[int(t[1:])] for t in agg.tasks])
    return float((got == want).mean())


def robustness(k: int, seed: int) -> dict[str, float]:
    """Honest-only vs honest + spammers + adversaries joined on top."""
    rng = np.random.default_rng(seed)
    n_items, overlap = 1500, 5
    labelers = crowd(30, 10, 5, rng)
    honest = [x for x in labelers if not x.bad]
    bad = [x for x in labelers if x.bad]
    truth = rng.integers(0, k, n_items)
    rows = answers_for(truth, honest, overlap, rng, k)
    per = len(rows) // len(honest)
    joined = rows + extra_answers(truth, bad, per, rng, k)
    out = {}
    for name, data in (("honest", rows), ("joined", joined)):
        ds = aggregate(data)
        out[f"ds_{name}"] = _accuracy(ds, truth)
        out[f"mv_{name}"] = _accuracy(aggregate(data, method="mv"), truth)
        if name == "joined":
            acc = dict(zip(ds.workers, ds.accuracy, strict=True))
            out["auroc"] = auroc([acc[x.id] for x in honest], [acc[x.id] for x in bad])
    return out


def job_run(k: int, seed: int) -> dict[str, float]:
    """One full job: 24 honest, 8 spammers, 4 adversaries pull tasks until done."""
    rng = np.random.default_rng(seed)
    labels = [f"c{i}" for i in range(k)]
    labelers = crowd(24, 8, 4, rng)
    truth = {f"item{i:04d}": int(rng.integers(k)) for i in range(600)}
    gold_truth = {f"gold{i:03d}": int(rng.integers(k)) for i in range(60)}
    everything = {**truth, **gold_truth}
    budget = 10**21
    job = LabelingJob.open(
        f"bench-{k}-{seed}",
        list(truth),
        labels,
        overlap=5,
        budget=budget,
        gold={g: labels[z] for g, z in gold_truth.items()},
        gold_share=0.1,
        seed=seed,
    )
    by_id = {x.id: x for x in labelers}
    busy = True
    while busy:
        busy = False
        for w in rng.permutation(list(by_id)):
            for task in job.take(str(w), 5):
                busy = True
                z = everything[task.item]
                job.submit(str(w), task.task_id, labels[answer(by_id[str(w)], z, k, rng)])
    result = job.close()
    ds_acc = statistics.mean(result.labels[i].label == labels[z] for i, z in truth.items())
    rows = [(job.issued[t][1], job.issued[t][0], lab) for t, lab in job.answers.items()]
    mv = majority_vote(Answers.from_rows(rows, labels))
    mv_labels = {t: mv.label_of(i) for i, t in enumerate(mv.tasks)}
    mv_acc = statistics.mean(mv_labels[i] == labels[z] for i, z in truth.items())
    reports = result.workers
    good = [reports[x.id].combined_accuracy for x in labelers if not x.bad]
    bad = [reports[x.id].combined_accuracy for x in labelers if x.bad]
    paid = result.payout.paid
    total_paid = sum(paid.values())
    return {
        "ds": ds_acc,
        "mv": mv_acc,
        "auroc": auroc(good, bad),
        "bad_share_budget": sum(paid.get(x.id, 0) for x in labelers if x.bad) / budget,
        "bad_share_paid": sum(paid.get(x.id, 0) for x in labelers if x.bad) / total_paid,
        "honest_unpaid": sum(paid.get(x.id, 0) == 0 for x in labelers if not x.bad),
        "honest_slashed": sum(reports[x.id].slashed for x in labelers if not x.bad),
        "bad_slashed": sum(reports[x.id].slashed for x in labelers if x.bad),
        "unspent": result.payout.unspent / budget,
    }


def _timing(n_tasks: int, n_workers: int, k: int, overlap: int) -> tuple[int, float, float, int]:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, k, n_tasks)
    skill = rng.uniform(0.5, 0.95, n_workers)
    task = np.repeat(np.arange(n_tasks), overlap)
    worker = rng.integers(0, n_workers, len(task))
    right = rng.random(len(task)) < skill[worker]
    label = np.where(right, truth[task], rng.integers(0, k, len(task)))
    answers = Answers(
        task,
        worker,
        label,
        tuple(map(str, range(n_tasks))),
        tuple(map(str, range(n_workers))),
        tuple(map(str, range(k))),
    )
    t0 = time.perf_counter()
    ds = dawid_skene(answers)
    t1 = time.perf_counter()
    majority_vote(answers)
    t2 = time.perf_counter()
    return len(task), t1 - t0, t2 - t1, ds.iterations


# ---------------------------------------------------------------- 4. against crowd-kit

#: Every kind of worker at once: a third of the crowd is bad.
MIX_ALL = {"honest": 40, "random_spammer": 8, "constant_spammer": 4, "adversary": 4, "permuter": 4}
#: Crowds of the comparison: name -> (K, items, worker mix, Pareto shape of the loads or None).
CROWDS: dict[str, tuple[int, int, dict[str, int], float | None]] = {
    "K=4 random spammers": (4, 1500, {"honest": 20, "random_spammer": 12}, None),
    "K=4 constant spammers": (4, 1500, {"honest": 20, "constant_spammer": 8}, None),
    "K=4 adversaries+permuters": (4, 1500, {"honest": 20, "adversary": 4, "permuter": 5}, None),
    "K=4 sparse, all kinds": (4, 1500, {**MIX_ALL}, 1.0),
    "K=20 random spammers": (20, 2000, {"honest": 20, "random_spammer": 12}, None),
    "K=20 constant spammers": (20, 2000, {"honest": 20, "constant_spammer": 8}, None),
    "K=20 adversaries+permuters": (20, 2000, {"honest": 20, "adversary": 4, "permuter": 5}, None),
    "K=20 sparse, all kinds": (20, 2000, {**MIX_ALL}, 1.0),
    "K=2 sparse, all kinds": (2, 1500, {**MIX_ALL}, 1.0),
}
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "banking77"
BANKING = "banking77 (K=77), all kinds, sparse"
CROWDKIT_PYTHON = os.environ.get("CROWDKIT_PYTHON", "/tmp/crowdkit-venv/bin/python")
CROWDKIT_METHODS = ("MV", "DS", "GLAD", "MACE")

CROWDKIT_CACHE = Path(os.environ.get("CROWDKIT_CACHE", "/tmp/crowdkit-cache"))

# Run by CROWDKIT_PYTHON: every CSV in argv[1] -> the same name in argv[2] with one column of
# labels per crowd-kit method, in parallel over the CPUs; prints crowd-kit's version.
_CROWDKIT_RUNNER = """
import os, sys
from multiprocessing import Pool
import pandas as pd
import crowdkit.aggregation as ck

def run(name):
    df = pd.read_csv(os.path.join(src, name), dtype=str, keep_default_na=False)
    make = {"MV": ck.MajorityVote, "DS": lambda: ck.DawidSkene(n_iter=100),
            "GLAD": ck.GLAD, "MACE": ck.MACE}
    out = pd.DataFrame({m: f().fit_predict(df) for m, f in make.items()})
    out.rename_axis("task").to_csv(os.path.join(dst, name + ".part"))
    os.replace(os.path.join(dst, name + ".part"), os.path.join(dst, name))

src, dst = sys.argv[1], sys.argv[2]
if __name__ == "__main__":
    with Pool(os.cpu_count()) as pool:
        pool.map(run, sorted(os.listdir(src)), chunksize=1)
    from importlib.metadata import version
    print(version("crowd-kit"))
"""


def _loads(n: int, tail: float | None, rng: np.random.Generator) -> np.ndarray | None:
    """Long-tailed worker loads (Pareto with shape ``tail``), or None for equal loads."""
    return None if tail is None else rng.pareto(tail, n) + 0.05


def simulated_crowd(name: str, seed: int) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """The answers of crowd ``name`` and the true label of every task.

    Honest workers (skill uniform in 0.5..0.9) mix each class up with its two neighbours on a
    ring of the classes; see :func:`fairwheel.labeling.simulate.confusion_of` for the others.
    Every item gets 5 answers.
    """
    k, n_items, mix, tail = CROWDS[name]
    rng = np.random.default_rng(seed)
    ring = [[(c - 1) % k, (c + 1) % k] for c in range(k)]
    ids, confs, _ = confusion_crowd(mix, k, rng, skill=(0.5, 0.9), neighbours=ring)
    truth = rng.integers(0, k, n_items)
    rows = answers_from_confusions(truth, confs, 5, rng, _loads(len(ids), tail, rng), ids)
    return rows, {f"t{i:05d}": f"c{z}" for i, z in enumerate(truth)}


def _banking_mixups(
    texts: list[str],
    labels: np.ndarray,
    train: list[tuple[str, str]],
    classes: list[str],
    m: int = 3,
) -> np.ndarray:
    """Per text, the ``m`` wrong intents whose train texts look most like it (tf-idf cosine)."""
    from scipy import sparse

    def tokens(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    vocab: dict[str, int] = {}
    for text, _ in train:
        for tok in tokens(text):
            vocab.setdefault(tok, len(vocab))

    def matrix(docs: list[str]) -> Any:
        cells = [(r, vocab[t]) for r, d in enumerate(docs) for t in tokens(d) if t in vocab]
        rr, cc = zip(*cells, strict=True) if cells else ((), ())
        return sparse.csr_matrix((np.ones(len(rr)), (rr, cc)), shape=(len(docs), len(vocab)))

    x_train = matrix([t for t, _ in train])
    idf = np.log(x_train.shape[0] / (1.0 + np.asarray((x_train > 0).sum(axis=0))[0]))
    cls_ix = {c: j for j, c in enumerate(classes)}
    member = sparse.csr_matrix(
        (np.ones(len(train)), ([cls_ix[c] for _, c in train], np.arange(len(train)))),
        shape=(len(classes), len(train)),
    )
    centroids = np.asarray((member @ x_train).todense()) * idf
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    x = np.asarray(matrix(texts).todense()) * idf
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = x @ centroids.T
    sim[np.arange(len(texts)), labels] = -np.inf
    return np.argsort(-sim, axis=1)[:, :m]


def banking_crowd(seed: int, data: Path) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """banking77's test texts labelled by a simulated sparse crowd of every kind.

    An honest worker's mistake on a text is one of the three intents whose train texts are
    most like it, so mistakes depend on the text, not only on its intent (the model of
    Dawid–Skene does not hold exactly).
    """

    def read(name: str) -> list[tuple[str, str]]:
        with (data / name).open(newline="", encoding="utf-8") as fh:
            return [(r["text"], r["category"]) for r in csv.DictReader(fh)]

    train, test = read("train.csv"), read("test.csv")
    classes = sorted({c for _, c in train})
    k = len(classes)
    rng = np.random.default_rng(seed)
    labels = np.array([classes.index(c) for _, c in test])
    mixups = _banking_mixups([t for t, _ in test], labels, train, classes)
    ids, confs, kinds = confusion_crowd({**MIX_ALL}, k, rng, skill=(0.5, 0.9))
    honest = [kind == "honest" for kind in kinds]
    load = _loads(len(ids), 1.0, rng)
    rows = answers_from_confusions(labels, confs, 5, rng, load, ids, mixups, honest)
    return rows, {f"t{i:05d}": f"c{z}" for i, z in enumerate(labels)}


def _label_accuracy(labels: dict[str, str], truth: dict[str, str]) -> float:
    return statistics.mean(labels.get(t) == z for t, z in truth.items())


#: Our columns: name -> (method of :func:`aggregate`, options; "sqrtK" = sqrt(number of classes)).
OURS: dict[str, tuple[str, dict[str, Any]]] = {
    "MV": ("mv", {}),
    "DS": ("ds", {}),
    "DS √K": ("ds", {"shrink": "sqrtK"}),
    "MACE": ("mace", {}),
    "HDS": ("hds", {}),
    "auto": ("auto", {}),
}


def _ours(rows: list[tuple[str, str, str]]) -> tuple[dict[str, dict[str, str]], str]:
    """Our labels per column of :data:`OURS`, and what ``auto`` chose."""
    out, chose = {}, ""
    k = len({lab for _, _, lab in rows})
    for col, (method, options) in OURS.items():
        opts = {n: float(np.sqrt(k)) if v == "sqrtK" else v for n, v in options.items()}
        agg = aggregate(rows, method=method, **opts)
        out[col] = {t: agg.label_of(i) for i, t in enumerate(agg.tasks)}
        if method == "auto":
            chose = agg.method if agg.method == "ds" else f"hds {agg.shrink:.3g}"
    return out, chose


def _csv_bytes(rows: list[tuple[str, str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["task", "worker", "label"])
    writer.writerows(rows)
    return buf.getvalue().encode()


def crowdkit_labels(
    crowds: dict[str, list[tuple[str, str, str]]],
) -> tuple[dict[str, dict[str, dict[str, str]]], str]:
    """crowd-kit's labels per crowd and method, run by ``CROWDKIT_PYTHON`` in a subprocess.

    Results are kept in ``CROWDKIT_CACHE`` under the SHA-256 of the answers' CSV, so a rerun
    on the same answers does not rerun crowd-kit (GLAD takes a minute on a 20-class crowd).

    Returns:
        ``({crowd: {method: {task: label}}}, version)``; ``({}, why)`` if it could not run.
    """
    if not Path(CROWDKIT_PYTHON).exists():
        return {}, f"{CROWDKIT_PYTHON} not found (set CROWDKIT_PYTHON)"
    CROWDKIT_CACHE.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, rows in crowds.items():
        data = _csv_bytes(rows)
        files[name] = (f"{hashlib.sha256(data).hexdigest()}.csv", data)
    todo = {file: data for file, data in files.values() if not (CROWDKIT_CACHE / file).exists()}
    with tempfile.TemporaryDirectory() as tmp:  # run even if all is cached: it gives the version
        for file, data in todo.items():
            Path(tmp, file).write_bytes(data)
        done = subprocess.run(
            [CROWDKIT_PYTHON, "-c", _CROWDKIT_RUNNER, tmp, str(CROWDKIT_CACHE)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        return {}, "crowd-kit failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    version = done.stdout.strip()
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name, (file, _) in files.items():
        with (CROWDKIT_CACHE / file).open(newline="", encoding="utf-8") as fh:
            table = list(csv.DictReader(fh))
        out[name] = {m: {r["task"]: r[m] for r in table} for m in CROWDKIT_METHODS}
    cached = len(files) - len(todo)
    return out, f"{version}; {cached} of {len(files)} crowds read from {CROWDKIT_CACHE}"


def comparison(seeds: int, data: Path) -> list[str]:
    """The table: accuracy of our columns (:data:`OURS`) and of crowd-kit's MV, DS, GLAD and
    MACE, per crowd; then ``auto`` and our DS minus crowd-kit's best, and what ``auto`` chose.
    """
    crowds: dict[str, list[tuple[str, str, str]]] = {}
    truths: dict[str, dict[str, str]] = {}
    names = list(CROWDS) + ([BANKING] if (data / "test.csv").exists() else [])
    for name in names:
        for seed in range(seeds):
            make = banking_crowd(seed, data) if name == BANKING else simulated_crowd(name, seed)
            crowds[f"{name}#{seed}"], truths[f"{name}#{seed}"] = make
    theirs, version = crowdkit_labels(crowds)
    head = f"   {'crowd':<36} | answers | " + " | ".join(f"{c:<6}" for c in OURS)
    if theirs:
        head += " | " + " | ".join(f"ck {m:<4}" for m in CROWDKIT_METHODS)
        head += " | auto - best ck | DS - best ck"
    head += " | auto chose"
    lines = [f"   crowd-kit {version}" if theirs else f"   crowd-kit not run: {version}", head]
    for name in names:
        keys = [f"{name}#{s}" for s in range(seeds)]
        acc: dict[str, list[float]] = {}
        chosen = []
        for key in keys:
            ours, chose = _ours(crowds[key])
            chosen.append(chose)
            got = {f"ours {m}": lab for m, lab in ours.items()}
            got |= {f"ck {m}": lab for m, lab in theirs.get(key, {}).items()}
            for col, labels in got.items():
                acc.setdefault(col, []).append(_label_accuracy(labels, truths[key]))
        m = {col: statistics.mean(v) for col, v in acc.items()}
        n = statistics.mean(len(crowds[key]) for key in keys)
        line = f"   {name:<36} | {n:7.0f} | "
        line += " | ".join(f"{m[f'ours {c}']:.4f}" for c in OURS)
        if theirs:
            best = max(m[f"ck {c}"] for c in CROWDKIT_METHODS)
            line += " | " + " | ".join(f"{m[f'ck {c}']:.4f} " for c in CROWDKIT_METHODS)
            line += f" | {m['ours auto'] - best:+.4f}        | {m['ours DS'] - best:+.4f}"
        line += " | " + ", ".join(chosen)
        lines.append(line)
    return lines


def earlier_parts(seeds: int, quick: bool) -> None:
    """Parts 1 to 3: robustness, jobs, speed."""
    print("1. Aggregation: 1500 items, overlap 5 from 30 honest labelers (skill 0.6..0.95);")
    print("   'joined' adds 10 spammers + 5 adversaries, each answering as many items as")
    print("   an honest labeler (250). Mean accuracy over seeds.")
    print("   K | DS honest | DS joined | MV honest | MV joined | AUROC(DS accuracy)")
    for k in (2, 5):
        runs = [robustness(k, s) for s in range(seeds)]
        m = {key: statistics.mean(r[key] for r in runs) for key in runs[0]}
        print(
            f"   {k} |   {m['ds_honest']:.4f}  |   {m['ds_joined']:.4f}  |   "
            f"{m['mv_honest']:.4f}  |   {m['mv_joined']:.4f}  |  {m['auroc']:.4f}"
        )

    print("\n2. Jobs: 600 items, overlap 5, 60 gold items at share 0.1; 24 honest, 8 spammers,")
    print("   4 adversaries pull 5 tasks at a time in random order; Dawid–Skene; pay rule")
    print("   min_kappa 0.25. Means over seeds (counts are totals).")
    print(
        "   K | DS acc | MV acc | AUROC  | bad/budget | bad/paid | unspent | "
        "honest unpaid | honest slashed | bad slashed"
    )
    for k in (2, 5):
        runs = [job_run(k, s) for s in range(seeds)]
        m = {key: statistics.mean(r[key] for r in runs) for key in runs[0]}
        t = {key: sum(r[key] for r in runs) for key in runs[0]}
        print(
            f"   {k} | {m['ds']:.4f} | {m['mv']:.4f} | {m['auroc']:.4f} | "
            f"{m['bad_share_budget']:10.4%} | {m['bad_share_paid']:8.4%} | "
            f"{m['unspent']:7.2%} | {int(t['honest_unpaid']):>6}/{24 * seeds:<6} | "
            f"{int(t['honest_slashed']):>7}/{24 * seeds:<6} | "
            f"{int(t['bad_slashed']):>5}/{12 * seeds}"
        )

    print("\n3. Speed (one process, this machine):")
    settings = [(10_000, 200, 5, 5)]
    if not quick:
        settings.append((20_000, 500, 50, 5))
    for n_tasks, n_workers, k, overlap in settings:
        n, t_ds, t_mv, iters = _timing(n_tasks, n_workers, k, overlap)
        print(
            f"   {n:,} answers, {n_tasks:,} tasks, {n_workers} workers, {k} classes: "
            f"DS {t_ds:.2f} s ({iters} iterations), MV {t_mv:.3f} s"
        )


def main() -> None:
    """Run every part and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA, help="banking77 folder")
    parser.add_argument("--only-crowdkit", action="store_true", help="only part 4")
    parser.add_argument("--quick", action="store_true", help="2 seeds, skip the 100k timing")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"seeds per setting: {seeds}\n")

    if not args.only_crowdkit:
        earlier_parts(seeds, args.quick)
    print(f"\n4. Against crowd-kit: label accuracy, mean over {seeds} seeds; 5 answers per item;")
    print("   honest skill 0.5..0.9; 'sparse': worker loads Pareto(1), most answer a handful.")
    for line in comparison(seeds, args.data):
        print(line)


if __name__ == "__main__":
    main()
