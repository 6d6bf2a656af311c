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
4. if crowd-kit is importable: agreement of our Dawid–Skene with crowd-kit's.

Targets: DS accuracy does not drop when bad labelers join; AUROC >= 0.9; bad
labelers get < 2% of the bounty.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from fairwheel.labeling.aggregate import Answers, aggregate, dawid_skene, majority_vote
from fairwheel.labeling.job import LabelingJob
from fairwheel.labeling.simulate import answer, answers_for, auroc, crowd, extra_answers


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


def crowdkit_agreement(seeds: int) -> str:
    """Label agreement with crowd-kit's DawidSkene, if it is installed."""
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except Exception:  # optional reference only
        return "crowd-kit not importable: skipped"
    lines = []
    for k in (2, 5):
        agree, ours, theirs = [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            truth = rng.integers(0, k, 1500)
            labelers = crowd(30, 10, 5, rng)
            rows = answers_for(truth, labelers, 5, rng, k)
            mine = aggregate(rows)
            df = pd.DataFrame(rows, columns=["task", "worker", "label"])
            ck = DawidSkene(n_iter=100).fit_predict(df)
            a = {t: mine.label_of(i) for i, t in enumerate(mine.tasks)}
            agree.append(statistics.mean(a[t] == ck[t] for t in a))
            ours.append(statistics.mean(a[t] == f"c{truth[int(t[1:])]}" for t in a))
            theirs.append(statistics.mean(ck[t] == f"c{truth[int(t[1:])]}" for t in a))
        lines.append(
            f"  K={k}: label agreement {statistics.mean(agree):.4f}; accuracy ours "
            f"{statistics.mean(ours):.4f}, crowd-kit {statistics.mean(theirs):.4f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Run every part and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, skip the 100k timing")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"seeds per setting: {seeds}\n")

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
    if not args.quick:
        settings.append((20_000, 500, 50, 5))
    for n_tasks, n_workers, k, overlap in settings:
        n, t_ds, t_mv, iters = _timing(n_tasks, n_workers, k, overlap)
        print(
            f"   {n:,} answers, {n_tasks:,} tasks, {n_workers} workers, {k} classes: "
            f"DS {t_ds:.2f} s ({iters} iterations), MV {t_mv:.3f} s"
        )

    print("\n4. Reference: crowd-kit 1.4 DawidSkene(n_iter=100), 1500 items, overlap 5 drawn from")
    print("   30 honest + 10 spammers + 5 adversaries:")
    print(crowdkit_agreement(min(seeds, 3)))


if __name__ == "__main__":
    main()
