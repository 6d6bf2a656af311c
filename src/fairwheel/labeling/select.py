"""``auto``: pick Dawid–Skene or hierarchical Dawid–Skene per crowd, by held-out likelihood.

No truth is needed. The non-gold tasks are dealt into ``folds`` folds by their index (task
``i`` goes to fold ``i mod folds``, in order of first appearance, so the choice is
deterministic); gold tasks always stay in training. For each candidate and fold the model is
fitted on the other folds' answers and scores the held-out tasks' answers by their marginal
log-likelihood ``log sum_k pi_k prod_answers conf'[w, k, l]`` (a worker with no training
answers gets the prior's row). The candidate with the highest total wins (ties: the earlier
one) and is refitted on all answers.

``conf'`` is the candidate's predictive confusion, not its MAP point: the same pseudo-count,
:data:`SCORE_PSEUDO_ANSWERS` (one answer per row, ``1/K`` per cell: Perks' prior), is added to
every cell of every candidate's fitted counts, ``conf'[w, k, l] = (n[w, k, l] + a[w, k, l] +
1/K) / (n[w, k] + a[w, k] + 1)``. Without it plain Dawid–Skene (``a = 0.01`` per cell) gives a
label a worker never gave in training a probability near zero, which held-out answers punish
far more than it costs in labels. The row weight is one answer whatever K is (add-one per cell
would be K answers per row, about as many as a typical worker gives per row at K = 20).

Candidates, in order: plain Dawid–Skene (``ds``), and Dawid–Skene with a per-worker MACE prior
of ``sqrt(K)`` and of ``K`` pseudo-answers per row (``hds``; :mod:`fairwheel.labeling.mace`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fairwheel.labeling.aggregate import Aggregation, _gold_arrays, dawid_skene
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.mace import fit_mace, hierarchical

AUTO = "auto"
#: Pseudo-answers per confusion row, spread evenly over the K labels, added to every candidate's
#: fitted counts when it scores held-out answers.
SCORE_PSEUDO_ANSWERS = 1.0


def candidates(k: int) -> list[tuple[str, float]]:
    """``(method, strength)`` in order of preference on ties: DS, then HDS at √K and K."""
    return [("ds", 0.0), ("hds", float(np.sqrt(k))), ("hds", float(k))]


def _subset(answers: Answers, keep: np.ndarray) -> Answers:
    """The answers of the tasks with ``keep[task]``; workers and classes keep their indices."""
    sel = keep[answers.task]
    old = np.flatnonzero(keep)
    new = np.full(len(answers.tasks), -1, dtype=np.int64)
    new[old] = np.arange(len(old))
    return Answers(
        new[answers.task[sel]],
        answers.worker[sel],
        answers.label[sel],
        tuple(answers.tasks[i] for i in old),
        answers.workers,
        answers.classes,
    )


def log_conf(
    agg: Aggregation, worker: np.ndarray, label: np.ndarray, extra: float = 0.0
) -> np.ndarray:
    """``(n, K)``: ``log conf[worker[j], k, label[j]]`` for arbitrary (worker, label) pairs.

    Args:
        agg: A fitted aggregation.
        worker: Worker indices.
        label: Label indices.
        extra: Pseudo-answers added to every cell on top of the fit's counts and prior (0: the
            fitted confusion, :meth:`Aggregation.confusion`).

    Returns:
        The log probabilities; each row of the confusion still sums to 1 over labels.
    """
    k = len(agg.classes)
    prior = agg._prior
    keys = agg._pair_worker * k + agg._pair_label
    want = worker * k + label
    at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    found = keys[at] == want if len(keys) else np.zeros(len(want), dtype=bool)
    counts = np.where(found[:, None], agg._counts[at], 0.0)
    cells = prior.seen(worker, label)
    denom = agg._row_totals[worker] + prior.row_sums()[worker]
    return np.asarray(np.log(counts + cells + extra) - np.log(denom + k * extra))


def heldout_loglik(agg: Aggregation, test: Answers, tasks: np.ndarray, extra: float = 0.0) -> float:
    """Sum over ``tasks`` of the marginal log-likelihood of their answers in ``test``.

    Args:
        agg: The model fitted on the training answers.
        test: Answers holding the held-out tasks (same worker and class indices as the fit).
        tasks: Indices of the held-out tasks in ``test``.
        extra: Pseudo-answers per confusion cell added before scoring (see :func:`log_conf`).

    Returns:
        ``sum_i log sum_k pi_k prod_{answers (i, w, l)} conf[w, k, l]``.
    """
    sel = np.isin(test.task, tasks)
    n_t, k = len(test.tasks), len(test.classes)
    lc = log_conf(agg, test.worker[sel], test.label[sel], extra)
    joint = np.zeros((n_t, k))
    np.add.at(joint, test.task[sel], lc)
    joint = joint[tasks] + np.log(agg.priors)
    top = joint.max(axis=1, keepdims=True)
    return float((top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))).sum())


def _fit(
    answers: Answers, method: str, strength: float, gold: Mapping[str, str] | None, fits: dict
) -> Aggregation:
    if method == "ds":
        return dawid_skene(answers, gold=gold)
    key = id(answers)
    if key not in fits:  # one MACE fit per answer set, shared by the strengths
        fits[key] = (answers, fit_mace(answers, gold=gold))
    return hierarchical(answers, strength=strength, gold=gold, fit=fits[key][1])


def auto(answers: Answers, *, gold: Mapping[str, str] | None = None, folds: int = 5) -> Aggregation:
    """The candidate with the best held-out predictive log-likelihood, refitted on all answers.

    Args:
        answers: The encoded answers.
        gold: Task id -> known class (always in training; used by every candidate).
        folds: Number of folds (>= 2); fewer tasks than folds: plain Dawid–Skene.

    Returns:
        The chosen :class:`Aggregation` (its ``method`` says which: ``"ds"`` or ``"hds"``;
        ``shrink`` holds the strength of ``"hds"``).
    """
    gold_rows, _ = _gold_arrays(answers, gold)
    free = np.ones(len(answers.tasks), dtype=bool)
    free[gold_rows] = False
    free_ix = np.flatnonzero(free)
    cands = candidates(len(answers.classes))
    if len(free_ix) < folds or folds < 2:
        return dawid_skene(answers, gold=gold)
    fold_of = np.full(len(answers.tasks), -1)
    fold_of[free_ix] = np.arange(len(free_ix)) % folds
    scores = np.zeros(len(cands))
    extra = SCORE_PSEUDO_ANSWERS / len(answers.classes)
    for f in range(folds):
        train = _subset(answers, fold_of != f)
        tasks = np.flatnonzero(fold_of == f)
        fits: dict = {}
        for c, (method, strength) in enumerate(cands):
            fitted = _fit(train, method, strength, gold, fits)
            scores[c] += heldout_loglik(fitted, answers, tasks, extra)
    method, strength = cands[int(np.argmax(scores))]
    return _fit(answers, method, strength, gold, {})
