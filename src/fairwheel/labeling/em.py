"""The machinery of Dawid–Skene EM: the :class:`Aggregation` result, the E- and M-steps, the
smoothing prior and each worker's accuracy and chance level.

The model, the steps and the prior are described in :mod:`fairwheel.labeling.aggregate`, whose
functions (``dawid_skene``, ``majority_vote``, ``aggregate``) are the entry points; it
re-exports :class:`Aggregation`, and :mod:`~fairwheel.labeling.mace` and
:mod:`~fairwheel.labeling.select` build on these steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fairwheel.errors import SchemaError
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.design import Design as _Design
from fairwheel.labeling.design import Prior


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
        chance: Each worker's chance-level accuracy (see :mod:`fairwheel.labeling.aggregate`).
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
    return posteriors(d.task_sums(params.log_conf) + params.log_priors, gold_rows, gold_cls)


def posteriors(
    log_joint: np.ndarray, gold_rows: np.ndarray, gold_cls: np.ndarray
) -> tuple[np.ndarray, float]:
    """Normalise ``log p(task's answers, class)`` ``(tasks, K)`` into posteriors, with gold
    tasks fixed to their class; also the log-likelihood of the answers."""
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
    """The prior's shared pseudo-counts ``alpha + shrink * C`` (see
    :mod:`fairwheel.labeling.aggregate`)."""
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
