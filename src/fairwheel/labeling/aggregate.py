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
lazily. The steps and the :class:`Aggregation` result are in :mod:`fairwheel.labeling.em`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fairwheel.errors import SchemaError
from fairwheel.labeling.answers import Answers
from fairwheel.labeling.em import (
    Aggregation,
    _check_smoothing,
    _check_stopping,
    _em,
    _init,
    _m_step,
    _pseudo_counts,
    _result,
)

# Re-exported for mace.py and select.py, which build on the same steps.
from fairwheel.labeling.em import _gold_arrays as _gold_arrays
from fairwheel.labeling.em import _Params as _Params

DS = "ds"
MV = "mv"
METHODS = (DS, MV, "hds", "mace", "auto")


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
