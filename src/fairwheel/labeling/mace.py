"""MACE, and Dawid–Skene with a per-worker MACE prior ("hierarchical" Dawid–Skene).

**MACE** (Hovy, Berg-Kirkpatrick, Vaswani and Hovy 2013, "Learning Whom to Trust with MACE"):
on every answer worker ``w`` either *knows* (probability ``theta_w``) and gives the true class,
or spams and draws a label from their own distribution ``spam_w``. Their confusion matrix is
therefore ``conf[w, k, l] = theta_w [k == l] + (1 - theta_w) spam_w[l]``: K parameters per
worker instead of Dawid–Skene's K × (K − 1). Fitted here by EM for the MAP estimate (the paper
uses EM or variational Bayes with random restarts; this is deterministic):

* **init**: posteriors ``T`` = vote shares (gold clamped); the first M-step counts an answer as
  "known" with weight ``T[i, l]``;
* **E-step**: ``log T[i, k] = log pi_k + sum_answers log conf[w, k, l]``;
* **M-step**: an answer ``l`` of ``w`` on task ``i`` was known with probability
  ``r = T[i, l] theta_w / (theta_w + (1 - theta_w) spam_w[l])``;
  ``theta_w = (sum r + a) / (answers_w + a + b)``;
  ``spam_w[l] ∝ sum over w's answers l of (1 - r) + spam_smoothing``;
  ``pi_k ∝ sum_i T[i, k] + prior_alpha``;
* **stop** when the objective (log-likelihood + log prior) gains less than ``tol`` per answer.

The prior is Beta(1 + a, 1 + b) on ``theta`` (``a = b = 1``), Dirichlet(1 + spam_smoothing) on
``spam`` (``spam_smoothing = 10`` pseudo-answers per label, the strategy prior crowd-kit's MACE
uses) and Dirichlet(1 + prior_alpha) on the class priors; EM never decreases the objective.

MACE cannot invert an adversary (a worker who is always wrong is a spammer to it), which full
confusion matrices can; it wins where workers give few answers for K² parameters.

**Hierarchical Dawid–Skene** (:func:`hierarchical`): Dawid–Skene whose confusion rows get, per
worker, ``strength`` pseudo-answers spread as that worker's MACE confusion row (on top of
``alpha`` per cell): ``prior[w, k, l] = alpha + strength (theta_w [k == l] + (1 - theta_w)
spam_w[l])``. A worker with a handful of answers keeps the MACE estimate; one with many answers
per row gets their own full matrix. MACE is fitted first and fixes the prior, then EM starts
from MACE's posteriors; the objective is Dawid–Skene's, so EM is monotone again.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fairwheel.errors import SchemaError
from fairwheel.labeling import aggregate as agg_mod
from fairwheel.labeling.aggregate import Aggregation, _Params
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.design import Design, Prior
from fairwheel.labeling.em import posteriors

MACE = "mace"
HDS = "hds"


class MaceFit:
    """The parameters of a MACE fit.

    Attributes:
        posteriors: ``(tasks, K)`` posterior class probabilities (last E-step).
        theta: ``(W,)`` each worker's chance of knowing the answer.
        spam: ``(W, K)`` each worker's label distribution when spamming.
        log_priors: ``(K,)`` log class priors.
        objective: The objective after each E-step.
        iterations: E-steps run.
        converged: Whether the tolerance was reached.
    """

    def __init__(
        self,
        posteriors: np.ndarray,
        theta: np.ndarray,
        spam: np.ndarray,
        log_priors: np.ndarray,
        objective: list[float],
        converged: bool,
    ) -> None:
        """Hold the fitted parameters."""
        self.posteriors = posteriors
        self.theta = theta
        self.spam = spam
        self.log_priors = log_priors
        self.objective = objective
        self.iterations = len(objective)
        self.converged = converged


def _check(a: float, b: float, spam_smoothing: float) -> None:
    for value in (a, b, spam_smoothing):
        if isinstance(value, bool) or not (value > 0 and np.isfinite(value)):
            raise SchemaError("a, b and spam_smoothing must be finite and > 0")


def fit_mace(
    answers: Answers,
    *,
    gold: Mapping[str, str] | None = None,
    a: float = 1.0,
    b: float = 1.0,
    spam_smoothing: float = 10.0,
    prior_alpha: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> MaceFit:
    """Fit MACE by EM (see the module docstring).

    Args:
        answers: The encoded answers.
        gold: Task id -> known class (clamped in every step, left out of the class priors).
        a: Beta pseudo-count of "knows" on every ``theta``.
        b: Beta pseudo-count of "spams" on every ``theta``.
        spam_smoothing: Dirichlet pseudo-count of every label in every ``spam`` row.
        prior_alpha: Dirichlet pseudo-count of every class prior.
        tol: Stop when the objective gains less than ``tol`` per answer.
        max_iter: At most this many E-steps (at least 1 is run).

    Returns:
        The :class:`MaceFit`.

    Raises:
        SchemaError: On bad smoothing, tolerance or iteration count, or a gold label outside
            the label set.
    """
    _check(a, b, spam_smoothing)
    agg_mod._check_smoothing(0.01, prior_alpha, 0.0)
    agg_mod._check_stopping(tol, max_iter)
    n_t, n_w, k = len(answers.tasks), len(answers.workers), len(answers.classes)
    t, w, lab = answers.task, answers.worker, answers.label
    _, post, gold_rows, gold_cls, prior_rows = agg_mod._init(answers, gold)
    n_w_answers = np.bincount(w, minlength=n_w)
    theta: np.ndarray | None = None
    spam = np.full((n_w, k), 1.0 / k)
    objective: list[float] = []
    converged = False
    for _ in range(max(max_iter, 1)):
        # M-step
        known = post[t, lab]
        if theta is not None:
            known = known * theta[w] / (theta[w] + (1.0 - theta[w]) * spam[w, lab])
        theta = (np.bincount(w, weights=known, minlength=n_w) + a) / (n_w_answers + a + b)
        spam_counts = np.bincount(w * k + lab, weights=1.0 - known, minlength=n_w * k)
        spam = spam_counts.reshape(n_w, k) + spam_smoothing
        spam /= spam.sum(axis=1, keepdims=True)
        mass = post[prior_rows].sum(axis=0) + prior_alpha
        log_priors = np.log(mass / mass.sum())
        # E-step: every class gets log((1 - theta) spam_l); the answered class gets more.
        miss = np.log((1.0 - theta[w]) * spam[w, lab])
        hit = np.log(theta[w] + (1.0 - theta[w]) * spam[w, lab]) - miss
        log_joint = np.bincount(t, weights=miss, minlength=n_t)[:, None] + log_priors
        log_joint += np.bincount(t * k + lab, weights=hit, minlength=n_t * k).reshape(n_t, k)
        post, likelihood = posteriors(log_joint, gold_rows, gold_cls)
        density = (
            a * float(np.log(theta).sum())
            + b * float(np.log1p(-theta).sum())
            + spam_smoothing * float(np.log(spam).sum())
            + prior_alpha * float(log_priors.sum())
        )
        objective.append(likelihood + density)
        if len(objective) > 1 and objective[-1] - objective[-2] < tol * answers.n_answers:
            converged = True
            break
    assert theta is not None
    return MaceFit(post, theta, spam, log_priors, objective, converged)


def mace(
    answers: Answers, *, gold: Mapping[str, str] | None = None, **options: float
) -> Aggregation:
    """MACE as an :class:`Aggregation` (confusion ``theta I + (1 - theta) spam``).

    Args:
        answers: The encoded answers.
        gold: Task id -> known class.
        **options: Passed to :func:`fit_mace`.

    Returns:
        The :class:`Aggregation`; ``accuracy`` is ``sum_k pi_k conf[w, k, k]`` as for
        Dawid–Skene, ``alpha`` and ``shrink`` are 0.
    """
    fit = fit_mace(answers, gold=gold, **options)  # type: ignore[arg-type]
    d = Design(answers)
    gold_rows, gold_cls = agg_mod._gold_arrays(answers, gold)
    n_w, k = d.n_workers, d.k
    prior = Prior(np.zeros((k, k)), np.ones(n_w), fit.theta, fit.spam)
    params = _Params(
        fit.log_priors,
        np.zeros((len(d.pair_label), k)),
        np.zeros((n_w, k)),
        np.zeros((len(d.pair_label), k)),
        0.0,
    )
    return agg_mod._result(
        MACE,
        answers,
        d,
        fit.posteriors,
        params,
        (0.0, 0.0, prior),
        gold_rows,
        gold_cls,
        fit.iterations,
        fit.converged,
        fit.objective,
    )


def hierarchical(
    answers: Answers,
    *,
    strength: float | None = None,
    gold: Mapping[str, str] | None = None,
    alpha: float = 0.01,
    prior_alpha: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 100,
    fit: MaceFit | None = None,
) -> Aggregation:
    """Dawid–Skene with a per-worker MACE prior on the confusion rows (module docstring).

    Args:
        answers: The encoded answers.
        strength: Pseudo-answers per confusion row spread as the worker's MACE row
            (default ``K``, the number of classes; 0 is plain Dawid–Skene from MACE's start).
        gold: Task id -> known class.
        alpha: Dirichlet smoothing added to every confusion cell (> 0).
        prior_alpha: Dirichlet smoothing of the class priors (> 0).
        tol: Stop when the objective gains less than ``tol`` per answer.
        max_iter: At most this many E-steps.
        fit: A MACE fit of the same answers and gold to reuse (default: fitted here).

    Returns:
        The :class:`Aggregation` (method ``"hds"``; ``shrink`` holds the strength).

    Raises:
        SchemaError: On bad smoothing, strength, tolerance or iteration count, or a gold
            label outside the label set.
    """
    k = len(answers.classes)
    s = float(k) if strength is None else strength
    if isinstance(s, bool) or not (s >= 0 and np.isfinite(s)):
        raise SchemaError("strength must be finite and >= 0")
    agg_mod._check_smoothing(alpha, prior_alpha, 0.0)
    agg_mod._check_stopping(tol, max_iter)
    if fit is None:
        fit = fit_mace(answers, gold=gold)
    d, _, gold_rows, gold_cls, prior_rows = agg_mod._init(answers, gold)
    prior = Prior(np.full((k, k), alpha), np.full(d.n_workers, s), fit.theta, fit.spam)
    rows = (gold_rows, gold_cls, prior_rows)
    return agg_mod._em(
        HDS, answers, d, fit.posteriors, rows, prior, (alpha, s), prior_alpha, tol, max_iter
    )
