"""Dawid–Skene and majority vote: exact small cases, recovery, robustness, speed, determinism."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from fairwheel.errors import SchemaError
from fairwheel.labeling.aggregate import aggregate, dawid_skene
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.simulate import ADVERSARY, HONEST, Labeler, answers_for, crowd

ALPHA = 0.01


def _reference_em(rows, classes, iterations, alpha=ALPHA, prior_alpha=ALPHA, shrink=0.0):
    """A loop-by-loop MAP Dawid–Skene, written independently of the vectorised one."""
    tasks = sorted({t for t, _, _ in rows})
    workers = sorted({w for _, w, _ in rows})
    k = len(classes)
    by_task = {t: [(w, classes.index(lab)) for tt, w, lab in rows if tt == t] for t in tasks}
    post = {}
    for t in tasks:
        votes = [0.0] * k
        for _, lab in by_task[t]:
            votes[lab] += 1
        post[t] = [v / sum(votes) for v in votes]
    # The prior's pseudo-counts: alpha + shrink * the pooled confusion under majority vote.
    pooled = [[0.1] * k for _ in range(k)]
    for t in tasks:
        for _, lab in by_task[t]:
            for c in range(k):
                pooled[c][lab] += post[t][c]
    pseudo = [[alpha + shrink * x / sum(row) for x in row] for row in pooled]

    def m_step(post):
        mass = [sum(post[t][c] for t in tasks) + prior_alpha for c in range(k)]
        priors = [m / sum(mass) for m in mass]
        conf = {}
        for w in workers:
            cnt = [list(row) for row in pseudo]
            for t in tasks:
                for ww, lab in by_task[t]:
                    if ww == w:
                        for c in range(k):
                            cnt[c][lab] += post[t][c]
            conf[w] = [[x / sum(row) for x in row] for row in cnt]
        return priors, conf

    priors, conf = m_step(post)
    for it in range(iterations):
        for t in tasks:
            like = []
            for c in range(k):
                p = priors[c]
                for w, lab in by_task[t]:
                    p *= conf[w][c][lab]
                like.append(p)
            post[t] = [x / sum(like) for x in like]
        if it < iterations - 1:
            priors, conf = m_step(post)
    return tasks, workers, post, priors, conf


def _random_rows(rng, n_tasks=12, n_workers=5, k=3, per_task=3):
    rows = []
    for i in range(n_tasks):
        for w in rng.choice(n_workers, size=per_task, replace=False):
            rows.append((f"t{i:02d}", f"w{w}", f"c{rng.integers(k)}"))
    return rows


@pytest.mark.parametrize("shrink", [0.0, 2.0])
def test_one_em_step_by_hand(shrink: float) -> None:
    # Two workers, classes a < b. MV init: t1 = a, t2 = b, t3 = (1/2, 1/2).
    rows = [("t1", "w1", "a"), ("t1", "w2", "a"), ("t2", "w1", "b"), ("t2", "w2", "b")]
    rows += [("t3", "w1", "a"), ("t3", "w2", "b"), ("t4", "w1", "a")]
    # t4: only w1, says a -> MV (1, 0). Class mass a = 1 + .5 + 1 = 2.5, b = 1.5.
    a = ALPHA
    pa, pb = (2.5 + a) / (4 + 2 * a), (1.5 + a) / (4 + 2 * a)
    # Pooled confusion under MV, + 0.1 per cell: answers a on class a: t1 twice, t3 half,
    # t4 -> 3.5; b on class a: t3 half -> 0.5; a on class b: 0.5; b on class b: 2.5.
    pool = {("a", "a"): 3.6 / 4.2, ("a", "b"): 0.6 / 4.2, ("b", "a"): 0.6 / 3.2}
    pool[("b", "b")] = 2.6 / 3.2
    # Pseudo-counts per cell (true class, answer); each row's sum is 2 * alpha + shrink.
    p = {cell: a + shrink * x for cell, x in pool.items()}
    row = 2 * a + shrink
    # w1 said a on t1 (a), t3 (.5/.5), t4 (a); b on t2 (b). Row totals: a 2.5, b 1.5.
    d1a, d1b = 2.5 + row, 1.5 + row
    c1 = {("a", "a"): (2.5 + p[("a", "a")]) / d1a, ("b", "a"): (0.5 + p[("b", "a")]) / d1b}
    c1 |= {("a", "b"): p[("a", "b")] / d1a, ("b", "b"): (1 + p[("b", "b")]) / d1b}
    # w2 said a on t1 (a); b on t2 (b), t3 (.5/.5). Row totals: a 1.5, b 1.5.
    d2 = 1.5 + row
    c2 = {("a", "a"): (1 + p[("a", "a")]) / d2, ("a", "b"): (0.5 + p[("a", "b")]) / d2}
    c2 |= {("b", "a"): p[("b", "a")] / d2, ("b", "b"): (1.5 + p[("b", "b")]) / d2}
    # E-step on t3: w1 says a, w2 says b.
    la = pa * c1[("a", "a")] * c2[("a", "b")]
    lb = pb * c1[("b", "a")] * c2[("b", "b")]
    # E-step on t4: w1 says a.
    la4, lb4 = pa * c1[("a", "a")], pb * c1[("b", "a")]
    agg = dawid_skene(Answers.from_rows(rows), max_iter=1, shrink=shrink)
    assert agg.tasks == ("t1", "t2", "t3", "t4") and agg.classes == ("a", "b")
    assert agg.posteriors[2, 0] == pytest.approx(la / (la + lb), rel=1e-12)
    assert agg.posteriors[3, 0] == pytest.approx(la4 / (la4 + lb4), rel=1e-12)
    assert agg.priors == pytest.approx([pa, pb], rel=1e-12)
    assert agg.confusion("w1")[1] == pytest.approx([c1[("b", "a")], c1[("b", "b")]], rel=1e-12)
    assert agg.confusion("w2")[0] == pytest.approx([c2[("a", "a")], c2[("a", "b")]], rel=1e-12)
    acc1 = pa * c1[("a", "a")] + pb * c1[("b", "b")]
    assert agg.accuracy[agg.workers.index("w1")] == pytest.approx(acc1, rel=1e-12)
    q2 = [pa * c2[("a", "a")] + pb * c2[("b", "a")], pa * c2[("a", "b")] + pb * c2[("b", "b")]]
    chance2 = pa * q2[0] + pb * q2[1]
    assert agg.chance[agg.workers.index("w2")] == pytest.approx(chance2, rel=1e-12)
    assert agg.iterations == 1 and agg.label_of(2) == ("a" if la >= lb else "b")
    assert agg.shrink == shrink


@pytest.mark.parametrize(
    ("iterations", "shrink"), [(1, 0.0), (2, 0.0), (5, 0.0), (1, 3.0), (5, 3.0)]
)
def test_matches_a_loop_reference(iterations: int, shrink: float) -> None:
    rng = np.random.default_rng(iterations)
    rows = _random_rows(rng)
    classes = ["c0", "c1", "c2"]
    tasks, workers, post, priors, conf = _reference_em(rows, classes, iterations, shrink=shrink)
    answers = Answers.from_rows(rows, classes)
    agg = dawid_skene(answers, max_iter=iterations, tol=0.0, shrink=shrink)
    assert agg.iterations == iterations
    for t in tasks:
        assert agg.posteriors[agg.tasks.index(t)] == pytest.approx(post[t], rel=1e-9, abs=1e-12)
    assert agg.priors == pytest.approx(priors, rel=1e-9)
    for w in workers:
        assert agg.confusion(w) == pytest.approx(np.array(conf[w]), rel=1e-9)
        acc = sum(priors[c] * conf[w][c][c] for c in range(3))
        assert agg.accuracy[agg.workers.index(w)] == pytest.approx(acc, rel=1e-9)


@pytest.mark.parametrize("shrink", [0.0, 4.0])
def test_objective_never_decreases_and_converges(shrink: float) -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 400)
    rows = answers_for(truth, crowd(10, 3, 2, rng), 4, rng, 4)
    agg = dawid_skene(Answers.from_rows(rows), tol=1e-9, max_iter=500, shrink=shrink)
    steps = np.diff(agg.objective)
    assert (steps >= -1e-9 * abs(agg.objective[-1])).all()
    assert agg.converged and agg.iterations < 500


def test_recovers_true_confusion_matrices() -> None:
    rng = np.random.default_rng(0)
    k, n = 3, 4000
    true_conf = [
        np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
        np.array([[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.3, 0.0, 0.7]]),
        np.array([[0.6, 0.2, 0.2], [0.05, 0.9, 0.05], [0.1, 0.1, 0.8]]),
        np.array([[0.85, 0.1, 0.05], [0.1, 0.85, 0.05], [0.05, 0.1, 0.85]]),
        np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]]),  # a permuter
    ]
    priors = np.array([0.5, 0.3, 0.2])
    truth = rng.choice(k, size=n, p=priors)
    rows = [
        (f"t{i}", f"w{w}", str(rng.choice(k, p=conf[z])))
        for i, z in enumerate(truth)
        for w, conf in enumerate(true_conf)
    ]
    agg = dawid_skene(Answers.from_rows(rows))
    assert agg.priors == pytest.approx(priors, abs=0.03)
    for w, conf in enumerate(true_conf):
        assert np.abs(agg.confusion(f"w{w}") - conf).max() < 0.05
        assert agg.confusion(f"w{w}").sum(axis=1) == pytest.approx(np.ones(k))
        true_acc = float(priors @ np.diag(conf))
        assert agg.accuracy[agg.workers.index(f"w{w}")] == pytest.approx(true_acc, abs=0.03)


def test_beats_majority_vote_when_adversaries_join() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 800)
    # Answers are right 8/11 * 0.8 = 58% of the time: majority vote struggles, but
    # the answers still point the right way (in a binary task, adversaries who
    # outvote the honest make the flipped world exactly as likely: unidentifiable).
    labelers = [Labeler(f"h{i}", HONEST, 0.8) for i in range(8)]
    labelers += [Labeler(f"a{i}", ADVERSARY) for i in range(3)]
    rows = answers_for(truth, labelers, 7, rng, 2)
    ds, mv = aggregate(rows), aggregate(rows, method="mv")

    def acc(agg):
        return np.mean(
            [agg.label_of(i) == f"c{truth[int(t[1:])]}" for i, t in enumerate(agg.tasks)]
        )

    assert acc(ds) > 0.9 and acc(ds) > acc(mv) + 0.15
    estimated = dict(zip(ds.workers, ds.accuracy, strict=True))
    kappa = dict(zip(ds.workers, ds.kappa, strict=True))
    for who in labelers:
        if who.kind == ADVERSARY:
            assert estimated[who.id] < 0.05 and kappa[who.id] < -0.8
        else:
            assert estimated[who.id] == pytest.approx(0.8, abs=0.07)


def test_perfect_workers_agree_with_majority_vote() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 4, 300)
    labelers = [Labeler(f"p{i}", HONEST, 1.0) for i in range(5)]
    rows = answers_for(truth, labelers, 3, rng, 4)
    ds, mv = aggregate(rows), aggregate(rows, method="mv")
    assert (ds.labels == mv.labels).all()
    assert ds.confidence.min() > 0.999 and mv.confidence.min() == 1.0
    assert ds.accuracy.min() > 0.99


def test_single_answer_workers_and_tasks() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 300)
    rows = answers_for(truth, crowd(8, 0, 0, rng, skill=(0.85, 0.95)), 3, rng, 2)
    rows += [(f"t{i:05d}", f"once{i}", f"c{rng.integers(2)}") for i in range(40)]
    rows += [(f"solo{i}", "h000", f"c{i % 2}") for i in range(5)]  # tasks with one answer
    agg = aggregate(rows)
    assert np.isfinite(agg.posteriors).all()
    assert agg.posteriors.sum(axis=1) == pytest.approx(np.ones(len(agg.tasks)))
    assert ((agg.accuracy >= 0) & (agg.accuracy <= 1)).all()
    for i in range(5):  # a good worker's lone answer carries the task
        assert agg.label_of(agg.tasks.index(f"solo{i}")) == f"c{i % 2}"
    once = [agg.answers[agg.workers.index(f"once{i}")] for i in range(40)]
    assert set(once) == {1}
    mv = aggregate(rows, method="mv")
    assert mv.confidence[mv.tasks.index("solo0")] == 1.0


def test_many_classes_fast() -> None:
    rng = np.random.default_rng(5)
    k, n_tasks, overlap, n_workers = 50, 4000, 5, 100
    truth = rng.integers(0, k, n_tasks)
    task = np.repeat(np.arange(n_tasks), overlap)
    worker = rng.integers(0, n_workers, len(task))
    right = rng.random(len(task)) < rng.uniform(0.5, 0.9, n_workers)[worker]
    label = np.where(right, truth[task], rng.integers(0, k, len(task)))
    names = tuple(map(str, range(n_tasks))), tuple(map(str, range(n_workers)))
    answers = Answers(task, worker, label, *names, tuple(map(str, range(k))))
    start = time.perf_counter()
    agg = dawid_skene(answers)
    assert time.perf_counter() - start < 10
    assert (agg.labels == truth).mean() > 0.95
    assert agg.posteriors.shape == (n_tasks, k)


def test_deterministic_and_order_independent() -> None:
    rng = np.random.default_rng(6)
    truth = rng.integers(0, 3, 300)
    rows = answers_for(truth, crowd(10, 2, 1, rng), 4, rng, 3)
    a, b = aggregate(rows), aggregate(rows)
    assert np.array_equal(a.posteriors, b.posteriors) and np.array_equal(a.accuracy, b.accuracy)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    c = aggregate(shuffled)
    for i, t in enumerate(a.tasks):
        j = c.tasks.index(t)
        assert c.posteriors[j] == pytest.approx(a.posteriors[i], abs=1e-6)


def test_ties_go_to_the_first_class() -> None:
    rows = [("t", "w1", "b"), ("t", "w2", "a")]
    assert aggregate(rows, method="mv").label_of(0) == "a"
    assert aggregate(rows, method="mv", classes=["b", "a"]).label_of(0) == "b"
    assert aggregate(rows).confidence[0] == pytest.approx(0.5)


def test_gold_is_clamped_and_scored() -> None:
    rows = [("g", "w1", "a"), ("g", "w2", "b"), ("t", "w1", "b"), ("t", "w2", "b")]
    agg = aggregate(rows, gold={"g": "a", "absent": "b"})
    assert agg.posteriors[agg.tasks.index("g")].tolist() == [1.0, 0.0]
    assert agg.gold_answers.tolist() == [1, 1] and agg.gold_correct.tolist() == [1, 0]
    assert agg.gold_accuracy.tolist() == [1.0, 0.0]
    assert math.isnan(aggregate(rows).gold_accuracy[0])
    with pytest.raises(SchemaError):
        aggregate(rows, gold={"g": "zebra"})


def test_spammer_kappa_is_near_zero() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, 1500)
    labelers = [*crowd(8, 0, 0, rng), Labeler("spam", "spammer")]
    rows = answers_for(truth, labelers, 5, rng, 3)
    agg = aggregate(rows)
    w = agg.workers.index("spam")
    assert abs(agg.kappa[w]) < 0.08
    assert agg.chance[w] == pytest.approx(1 / 3, abs=0.03)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Answers.from_rows([]),
        lambda: Answers.from_rows([("t", "", "a")]),
        lambda: Answers.from_rows([("t", "w", "c")], classes=["a", "b"]),
        lambda: aggregate([("t", "w", "a")], method="em"),
        lambda: aggregate([("t", "w", "a")], alpha=0.0),
        lambda: aggregate([("t", "w", "a")], max_iter=-1),
        lambda: aggregate([("t", "w", "a")], shrink=-1.0),
        lambda: aggregate([("t", "w", "a")], shrink=float("nan")),
        lambda: aggregate([("t", "w", "a")], method="mv", shrink=float("inf")),
    ],
)
def test_bad_input_is_refused(bad) -> None:
    with pytest.raises(SchemaError):
        bad()


def test_zero_iterations_is_majority_vote() -> None:
    rng = np.random.default_rng(8)
    rows = _random_rows(rng, n_tasks=30)
    ds0, mv = aggregate(rows, max_iter=0), aggregate(rows, method="mv")
    assert np.array_equal(ds0.posteriors, mv.posteriors)
    assert np.array_equal(ds0.accuracy, mv.accuracy)


def test_close_to_crowd_kit() -> None:
    pd = pytest.importorskip("pandas")
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    rng = np.random.default_rng(9)
    truth = rng.integers(0, 3, 600)
    rows = answers_for(truth, crowd(15, 4, 2, rng), 5, rng, 3)
    ours = aggregate(rows)
    theirs = crowdkit.DawidSkene(n_iter=100).fit_predict(
        pd.DataFrame(rows, columns=["task", "worker", "label"])
    )
    agree = np.mean([ours.label_of(i) == theirs[t] for i, t in enumerate(ours.tasks)])
    assert agree > 0.98


@pytest.mark.parametrize("shrink", [0.0, 3.0])
def test_objective_is_the_log_posterior(shrink: float) -> None:
    # Recompute the last objective from the returned parameters: log-likelihood of the answers
    # plus sum_w sum_{k,l} pseudo[k, l] log conf[w, k, l] + prior_alpha sum_k log pi_k, where
    # pseudo = alpha + shrink * pooled confusion (MV start, + 0.1 per cell). Workers here skip
    # labels, so the cells of labels a worker never gave count too.
    rng = np.random.default_rng(11)
    rows = _random_rows(rng, n_tasks=20, n_workers=6, k=3, per_task=2)
    answers = Answers.from_rows(rows, ["c0", "c1", "c2"])
    agg = dawid_skene(answers, max_iter=3, tol=0.0, shrink=shrink)
    votes = np.zeros((len(answers.tasks), 3))
    np.add.at(votes, (answers.task, answers.label), 1.0)
    mv = votes / votes.sum(axis=1, keepdims=True)
    pooled = np.full((3, 3), 0.1)
    for t, lab in zip(answers.task, answers.label, strict=True):
        pooled[:, lab] += mv[t]
    pseudo = ALPHA + shrink * pooled / pooled.sum(axis=1, keepdims=True)
    confs = [agg.confusion(w) for w in range(len(agg.workers))]
    loglik = 0.0
    for i in range(len(answers.tasks)):
        like = agg.priors.copy()
        for t, w, lab in zip(answers.task, answers.worker, answers.label, strict=True):
            if t == i:
                like = like * confs[w][:, lab]
        loglik += math.log(like.sum())
    density = sum(float((pseudo * np.log(c)).sum()) for c in confs)
    density += ALPHA * float(np.log(agg.priors).sum())
    assert agg.objective[-1] == pytest.approx(loglik + density, rel=1e-9)
