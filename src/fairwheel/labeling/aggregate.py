"""Aggregating crowd answers: Dawid–Skene EM, with majority vote as the baseline.

The model (Dawid and Skene, 1979): each task ``i`` has a hidden true class
``z_i`` drawn from class priors ``pi``; worker ``w`` answers label ``l`` on a task
of class ``k`` with probability ``conf[w, k, l]`` (a full K×K confusion matrix
per worker, rows = true class), independently of other answers given ``z_i``.
Parameters are fitted by expectation–maximisation:

* **init**: posteriors ``T[i, k]`` = the share of task ``i``'s votes for ``k``
  (soft majority vote); gold tasks are clamped to their known class.
* **M-step**: ``pi_k ∝ sum_i T[i, k] + prior_alpha`` (non-gold tasks only) and
  ``conf[w, k, l] ∝ sum_{answers (i, w, l)} T[i, k] + a[k, l]`` with the pseudo-counts
  ``a[k, l] = alpha + shrink * C[k, l]`` (below).
* **E-step**: ``log T[i, k] = log pi_k + sum_{answers (i, w, l)} log conf[w, k, l]``
  up to normalisation (computed in log space, shifted by the row maximum).
* **stop** when the objective (log-likelihood of the answers plus the log of
  the Dirichlet prior) gains less than ``tol`` per answer, or after ``max_iter``.

The smoothing is a Dirichlet prior with concentration ``1 + a[k, :]`` on each
confusion row (and ``1 + prior_alpha`` on the priors), which makes the M-step a
MAP estimate. ``alpha`` (default ``0.01``, a hundredth of one answer per cell)
keeps every probability positive: a label a worker never gave stays possible,
and a row a worker has no data for is the uniform ``1/K``.

``shrink`` (default ``0``) adds that many pseudo-answers per row spread as the
crowd's pooled confusion matrix ``C`` (every answer weighted by the majority-vote
start, row-normalised; fixed for the run): a worker with a handful of answers is
then judged like an average member of the crowd until their own answers say
otherwise. It is off by default (docs/labeling.md says why). With ``alpha`` and
``shrink`` at their limit 0 this is the maximum-likelihood estimate of the paper. The prior is fixed
before the first E-step, so EM never decreases the objective (a test checks it).

A worker's **estimated accuracy** is ``sum_k pi_k * conf[w, k, k]``: the chance
that they answer a random task correctly. Its **chance level** is the accuracy a
worker with the same answer distribution would reach by answering blindly
(``sum_l pi_l * q_w[l]`` with ``q_w = pi @ conf[w]``); both feed
:mod:`fairwheel.labeling.pay`.

Answers are held as sparse task × (worker, label) count matrices, so one EM
iteration is three sparse-dense products, O(answers × K); scipy is imported
lazily.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairwheel.errors import SchemaError
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.design import Design as _Design
from fairwheel.labeling.design import Prior

DS = "ds"
MV = "mv"
METHODS = (DS, MV, "hds", "mace", "auto")


@dataclass(frozen=True, eq=False)
class Aggregation:
    """The result of an aggregation.

    Attributes:
        method: ``"ds"``, ``"mv"``, ``"mace"`` or ``"hds"``.
        tasks: Task ids (rows of ``posteriors``).
        workers: Worker ids.
        classes: Class labels (columns of ``posteriors``).
        posteriors: ``(tasks, K)`` posterior class probabilities.
        labels: Index of each task's label (argmax, first class on ties).
        confidence: Posterior probability of each task's label.
        priors: Class priors ``pi``.
        accuracy: Each worker's estimated accuracy ``sum_k pi_k conf[w, k, k]``.
        chance: Each worker's chance-level accuracy (see the module docstring).
        answers: Number of answers of each worker.
        gold_answers: Number of each worker's answers on gold tasks.
        gold_correct: How many of those matched the gold class.
        iterations: EM iterations run (0 for majority vote).
        converged: Whether the tolerance was reached (always True for MV).
        objective: The objective after each E-step (DS only).
        alpha: The Dirichlet smoothing of the confusion rows.
        shrink: Pseudo-answers per confusion row spread as the crowd's pooled confusion.
    """

    method: str
    tasks: tuple[str, ...]
    workers: tuple[str, ...]
    classes: tuple[str, ...]
    posteriors: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    priors: np.ndarray
    accuracy: np.ndarray
    chance: np.ndarray
    answers: np.ndarray
    gold_answers: np.ndarray
    gold_correct: np.ndarray
    iterations: int
    converged: bool
    objective: list[float]
    alpha: float
    shrink: float
    _prior: Prior = field(repr=False)  # the confusion rows' pseudo-counts
    _counts: np.ndarray = field(repr=False)  # (pairs, K) expected counts
    _row_totals: np.ndarray = field(repr=False)  # (workers, K)
    _pair_worker: np.ndarray = field(repr=False)
    _pair_label: np.ndarray = field(repr=False)

    @property
    def kappa(self) -> np.ndarray:
        """Chance-corrected accuracy ``(accuracy - chance) / (1 - chance)`` per worker.

        0 for a worker who answers blindly, 1 for a perfect one, negative for one
        who is worse than blind (an adversary). A worker whose chance level is 1
        (a single class) gets 1.
        """
        gap = 1.0 - self.chance
        safe = np.where(gap > 1e-12, gap, 1.0)
        return np.where(gap > 1e-12, (self.accuracy - self.chance) / safe, 1.0)

    @property
    def gold_accuracy(self) -> np.ndarray:
        """Share of each worker's gold answers that were right (NaN without gold answers)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.gold_answers > 0, self.gold_correct / np.maximum(self.gold_answers, 1), np.nan
            )

    def confusion(self, worker: int | str) -> np.ndarray:
        """A worker's full confusion matrix.

        Args:
            worker: Worker index or id.

        Returns:
            ``(K, K)`` array; ``[k, l]`` = P(answer ``l`` | true class ``k``); rows sum to 1.
        """
        w = self.workers.index(worker) if isinstance(worker, str) else int(worker)
        denom = self._row_totals[w] + self._prior.row_sums()[w]
        conf = self._prior.dense(w)
        lo, hi = np.searchsorted(self._pair_worker, [w, w + 1])
        for p in range(lo, hi):
            conf[:, self._pair_label[p]] += self._counts[p]
        return np.asarray(conf / denom[:, None])

    def label_of(self, task: int) -> str:
        """The aggregated label of task index ``task``."""
        return self.classes[int(self.labels[task])]


@dataclass
class _Params:
    log_priors: np.ndarray
    counts: np.ndarray  # (P, K)
    row_totals: np.ndarray  # (W, K)
    log_conf: np.ndarray  # (P, K): log conf[w_p, k, l_p]
    log_prior_density: float


def _gold_arrays(answers: Answers, gold: Mapping[str, str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Gold task indices and their class indices (tasks without answers are ignored)."""
    if not gold:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    task_ix = {t: i for i, t in enumerate(answers.tasks)}
    class_ix = {c: k for k, c in enumerate(answers.classes)}
    rows, cls = [], []
    for task, label in gold.items():
        if label not in class_ix:
            raise SchemaError("gold label not in the label set", task=task, label=label)
        if task in task_ix:
            rows.append(task_ix[task])
            cls.append(class_ix[label])
    return np.asarray(rows, dtype=np.int64), np.asarray(cls, dtype=np.int64)


def _m_step(
    d: _Design, post: np.ndarray, prior_rows: np.ndarray, prior: Prior, prior_alpha: float
) -> _Params:
    """Class priors and confusion matrices from posteriors (MAP under the Dirichlet prior).

    ``prior`` holds the pseudo-count ``prior[w, k, l]`` of answer ``l`` on class ``k``.
    """
    counts = d.pair_sums(post)  # (P, K): expected times w_p said l_p on class-k tasks
    row_totals = d.worker_sums(counts)  # (W, K): expected answers of w on class-k tasks
    seen = prior.seen(d.pair_worker, d.pair_label)  # (P, K): prior[w_p, k, l_p]
    rows = prior.row_sums()  # (W, K)
    log_rows = np.log(row_totals + rows)
    log_conf = np.log(counts + seen) - log_rows[d.pair_worker]
    mass = post[prior_rows].sum(axis=0) + prior_alpha
    log_priors = np.log(mass / mass.sum())
    # log density of the Dirichlet(1 + prior) priors, up to a constant: sum over workers,
    # classes k and labels l of prior[w, k, l] * log conf[w, k, l]; labels a worker never
    # gave have conf = prior[w, k, l] / row total.
    unseen = (
        prior.xlogx_total()
        - float((seen * np.log(seen)).sum())
        - float(((rows - d.worker_sums(seen)) * log_rows).sum())
    )
    density = float((seen * log_conf).sum()) + unseen + prior_alpha * float(log_priors.sum())
    return _Params(log_priors, counts, row_totals, log_conf, density)


def _e_step(
    d: _Design, params: _Params, gold_rows: np.ndarray, gold_cls: np.ndarray
) -> tuple[np.ndarray, float]:
    """Posteriors of the true classes, and the log-likelihood of the answers."""
    log_joint = d.task_sums(params.log_conf) + params.log_priors
    top = log_joint.max(axis=1, keepdims=True)
    scaled = np.exp(log_joint - top)
    norm = scaled.sum(axis=1, keepdims=True)
    post = scaled / norm
    per_task = top[:, 0] + np.log(norm[:, 0])
    if len(gold_rows):
        per_task[gold_rows] = log_joint[gold_rows, gold_cls]
        post[gold_rows] = 0.0
        post[gold_rows, gold_cls] = 1.0
    return post, float(per_task.sum())


def _worker_stats(d: _Design, params: _Params, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    """Estimated accuracy and chance level of every worker.

    ``conf[w, k, l] = (counts + prior[w, k, l]) / denom[w, k]``, the counts only for labels
    the worker gave: each sum is the prior's part for every label plus the counts' part.
    """
    priors = np.exp(params.log_priors)
    inv = 1.0 / (params.row_totals + prior.row_sums())  # (W, K): 1 / denom
    p_idx = np.arange(len(d.pair_label))
    own = params.counts[p_idx, d.pair_label] * inv[d.pair_worker, d.pair_label]
    accuracy = (inv * prior.diag()) @ priors + np.bincount(
        d.pair_worker, weights=priors[d.pair_label] * own, minlength=d.n_workers
    )
    # q_w[l] = sum_k pi_k conf[w, k, l]; chance_w = sum_l pi_l q_w[l].
    q_prior = prior.mix(inv * priors)  # (W, K): the prior's part of q_w
    q_counts = (params.counts * inv[d.pair_worker]) @ priors  # (P,): the counts' part
    chance = q_prior @ priors + np.bincount(
        d.pair_worker, weights=priors[d.pair_label] * q_counts, minlength=d.n_workers
    )
    return accuracy, chance


def _result(
    method: str,
    answers: Answers,
    d: _Design,
    post: np.ndarray,
    params: _Params,
    smoothing: tuple[float, float, Prior],
    gold_rows: np.ndarray,
    gold_cls: np.ndarray,
    iterations: int,
    converged: bool,
    objective: list[float],
    labels: np.ndarray | None = None,
) -> Aggregation:
    if labels is None:
        labels = post.argmax(axis=1)
    alpha, shrink, prior = smoothing
    accuracy, chance = _worker_stats(d, params, prior)
    gold_of = np.full(d.n_tasks, -1, dtype=np.int64)
    gold_of[gold_rows] = gold_cls
    on_gold = gold_of[answers.task] >= 0
    right = on_gold & (gold_of[answers.task] == answers.label)
    return Aggregation(
        method=method,
        tasks=answers.tasks,
        workers=answers.workers,
        classes=answers.classes,
        posteriors=post,
        labels=labels,
        confidence=post[np.arange(d.n_tasks), labels],
        priors=np.exp(params.log_priors),
        accuracy=accuracy,
        chance=chance,
        answers=d.answers,
        gold_answers=np.bincount(answers.worker[on_gold], minlength=d.n_workers),
        gold_correct=np.bincount(answers.worker[right], minlength=d.n_workers),
        iterations=iterations,
        converged=converged,
        objective=objective,
        alpha=alpha,
        shrink=shrink,
        _prior=prior,
        _counts=params.counts,
        _row_totals=params.row_totals,
        _pair_worker=d.pair_worker,
        _pair_label=d.pair_label,
    )


def _check_smoothing(alpha: float, prior_alpha: float, shrink: float) -> float:
    """Refuse bad smoothing; the shrink as a float."""
    if not (alpha > 0 and np.isfinite(alpha)) or not (prior_alpha > 0 and np.isfinite(prior_alpha)):
        raise SchemaError("alpha and prior_alpha must be finite and > 0")
    if isinstance(shrink, bool) or not (shrink >= 0 and np.isfinite(shrink)):
        raise SchemaError("shrink must be finite and >= 0")
    return float(shrink)


def _pseudo_counts(d: _Design, post: np.ndarray, alpha: float, shrink: float) -> Prior:
    """The prior's shared pseudo-counts ``alpha + shrink * C`` (the module docstring)."""
    if shrink == 0:
        return Prior.shared(np.full((d.k, d.k), alpha), d.n_workers)
    return Prior.shared(alpha + shrink * d.pooled_confusion(post), d.n_workers)


def _init(
    answers: Answers, gold: Mapping[str, str] | None
) -> tuple[_Design, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = _Design(answers)
    gold_rows, gold_cls = _gold_arrays(answers, gold)
    post = d.votes / d.votes.sum(axis=1, keepdims=True)
    post[gold_rows] = 0.0
    post[gold_rows, gold_cls] = 1.0
    prior_rows = np.ones(d.n_tasks, dtype=bool)
    prior_rows[gold_rows] = False
    if not prior_rows.any():  # only gold tasks: estimate the priors from them
        prior_rows[:] = True
    return d, post, gold_rows, gold_cls, prior_rows


def majority_vote(
    answers: Answers,
    *,
    gold: Mapping[str, str] | None = None,
    alpha: float = 0.01,
    prior_alpha: float = 0.01,
    shrink: float = 0.0,
) -> Aggregation:
    """Majority vote: each task's label is its most frequent answer.

    Ties go to the class that comes first in ``answers.classes``. The confidence
    is the winning label's share of the votes. Worker accuracies come from one
    M-step on the vote shares (the same formula as Dawid–Skene).

    Args:
        answers: The encoded answers.
        gold: Task id -> known class for gold tasks (clamped to that class).
        alpha: Dirichlet smoothing of the confusion rows (worker statistics only).
        prior_alpha: Dirichlet smoothing of the class priors.
        shrink: Pseudo-answers per confusion row from the crowd's pooled confusion
            (worker statistics only; as in :func:`dawid_skene`).

    Returns:
        The :class:`Aggregation`.

    Raises:
        SchemaError: On bad smoothing or a gold label outside the label set.
    """
    shrink = _check_smoothing(alpha, prior_alpha, shrink)
    d, post, gold_rows, gold_cls, prior_rows = _init(answers, gold)
    prior = _pseudo_counts(d, post, alpha, shrink)
    params = _m_step(d, post, prior_rows, prior, prior_alpha)
    labels = post.argmax(axis=1)
    smoothing = (alpha, shrink, prior)
    return _result(
        MV, answers, d, post, params, smoothing, gold_rows, gold_cls, 0, True, [], labels
    )


def dawid_skene(
    answers: Answers,
    *,
    gold: Mapping[str, str] | None = None,
    alpha: float = 0.01,
    prior_alpha: float = 0.01,
    shrink: float = 0.0,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> Aggregation:
    """Dawid–Skene EM over per-worker confusion matrices (see the module docstring).

    Args:
        answers: The encoded answers.
        gold: Task id -> known class for gold tasks: their posteriors are clamped
            to that class in every step (semi-supervised Dawid–Skene), and they
            do not count towards the class priors.
        alpha: Dirichlet smoothing added to every confusion cell (> 0).
        prior_alpha: Dirichlet smoothing added to every class prior count (> 0).
        shrink: Pseudo-answers added to every confusion row, spread as the crowd's pooled
            confusion matrix under the majority-vote start (>= 0; default 0: plain
            Dawid–Skene with a symmetric prior; see the module docstring).
        tol: Stop when the objective gains less than ``tol`` per answer.
        max_iter: At most this many E-steps (each followed by an M-step unless it
            is the last); 0 returns the majority-vote initialisation.

    Returns:
        The :class:`Aggregation`: posteriors from the last E-step and the
        parameters that produced them.

    Raises:
        SchemaError: On bad smoothing, tolerance or iteration count, or a gold
            label outside the label set.
    """
    shrink = _check_smoothing(alpha, prior_alpha, shrink)
    _check_stopping(tol, max_iter)
    d, post, gold_rows, gold_cls, prior_rows = _init(answers, gold)
    prior = _pseudo_counts(d, post, alpha, shrink)
    return _em(
        DS,
        answers,
        d,
        post,
        (gold_rows, gold_cls, prior_rows),
        prior,
        (alpha, shrink),
        prior_alpha,
        tol,
        max_iter,
    )


def _check_stopping(tol: float, max_iter: int) -> None:
    if (
        not (tol >= 0)
        or isinstance(max_iter, bool)
        or not isinstance(max_iter, int)
        or max_iter < 0
    ):
        raise SchemaError("tol must be >= 0 and max_iter an int >= 0")


def _em(
    method: str,
    answers: Answers,
    d: _Design,
    post: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    prior: Prior,
    smoothing: tuple[float, float],
    prior_alpha: float,
    tol: float,
    max_iter: int,
) -> Aggregation:
    """Dawid–Skene EM from posteriors ``post`` under the fixed confusion prior ``prior``.

    ``rows`` are the gold task rows, their classes and the rows counted in the class priors.
    """
    gold_rows, gold_cls, prior_rows = rows
    params = _m_step(d, post, prior_rows, prior, prior_alpha)
    objective: list[float] = []
    converged = max_iter == 0
    budget = tol * answers.n_answers
    it = 0
    while it < max_iter:
        it += 1
        post, loglik = _e_step(d, params, gold_rows, gold_cls)
        objective.append(loglik + params.log_prior_density)
        if len(objective) > 1 and objective[-1] - objective[-2] < budget:
            converged = True
            break
        if it < max_iter:
            params = _m_step(d, post, prior_rows, prior, prior_alpha)
    return _result(
        method,
        answers,
        d,
        post,
        params,
        (*smoothing, prior),
        gold_rows,
        gold_cls,
        it,
        converged,
        objective,
    )


def aggregate(
    rows: Iterable[tuple[str, str, str]],
    *,
    method: str = DS,
    classes: Sequence[str] | None = None,
    gold: Mapping[str, str] | None = None,
    **options: Any,
) -> Aggregation:
    """Encode ``(task, worker, label)`` rows and aggregate them.

    Args:
        rows: The answers.
        method: ``"ds"`` (Dawid–Skene), ``"mv"`` (majority vote), ``"mace"``, ``"hds"``
            (Dawid–Skene with a per-worker MACE prior; both :mod:`fairwheel.labeling.mace`)
            or ``"auto"`` (ds or hds by held-out likelihood; :mod:`fairwheel.labeling.select`).
        classes: The label set in tie-break order (default: labels seen, sorted).
        gold: Task id -> known class.
        **options: Passed to the method's function.

    Returns:
        The :class:`Aggregation`.

    Raises:
        SchemaError: On an unknown method or bad answers.
    """
    if method not in METHODS:
        raise SchemaError(f"method must be one of {METHODS}", method=method)
    answers = Answers.from_rows(rows, classes)
    if method == DS:
        return dawid_skene(answers, gold=gold, **options)
    if method == MV:
        return majority_vote(answers, gold=gold, **options)
    from fairwheel.labeling import mace, select  # they import this module

    if method == "auto":
        return select.auto(answers, gold=gold, **options)
    fit = mace.hierarchical if method == "hds" else mace.mace
    return fit(answers, gold=gold, **options)
