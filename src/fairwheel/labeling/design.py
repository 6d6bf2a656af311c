"""Building blocks shared by the aggregators: the sparse answer design and confusion priors.

:class:`Design` holds one answer set as sparse task × (worker, label)-pair matrices, so every
EM step is a few sparse–dense products, O(answers × K). :class:`Prior` holds the Dirichlet
pseudo-counts of every worker's confusion matrix in a structured form that never needs the
dense workers × K × K array:

``prior[w, k, l] = base[k, l] + strength[w] * ((1 - theta[w]) * spam[w, l] + theta[w] * [k == l])``

``base`` is shared by all workers (plain Dawid–Skene: ``alpha`` in every cell, plus the pooled
confusion with ``shrink``); the per-worker part is a MACE-like one-coin worker (Hovy et al.
2013: right with probability ``theta``, otherwise a draw from the worker's own answer
distribution ``spam``) worth ``strength[w]`` pseudo-answers per confusion row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fairwheel.labeling.answers import Answers


class Design:
    """Sparse matrices of one answer set, built once and reused by every EM step.

    Answers are grouped by (worker, label) *pair*: ``conf[w, k, l]`` is only
    ever needed for pairs that occur, so memory is O(answers × K), not
    O(workers × K²).
    """

    def __init__(self, answers: Answers) -> None:
        """Build the matrices.

        Args:
            answers: The encoded answers.
        """
        from scipy import sparse

        n_t, n_w, k = len(answers.tasks), len(answers.workers), len(answers.classes)
        self.n_tasks, self.n_workers, self.k = n_t, n_w, k
        keys, pair = np.unique(answers.worker * k + answers.label, return_inverse=True)
        self.pair_worker = keys // k
        self.pair_label = keys % k
        n_p = len(keys)
        ones = np.ones(answers.n_answers)
        # s[i, p]: how many times task i got the (worker, label) pair p.
        self.s = sparse.csr_matrix((ones, (answers.task, pair)), shape=(n_t, n_p))
        self.st = self.s.T.tocsr()
        self.pw = sparse.csr_matrix(
            (np.ones(n_p), (self.pair_worker, np.arange(n_p))), shape=(n_w, n_p)
        )
        flat = np.bincount(answers.task * k + answers.label, minlength=n_t * k)
        self.votes = flat.reshape(n_t, k).astype(float)
        self.observed = np.bincount(self.pair_worker, minlength=n_w)  # labels used per worker
        self.answers = np.bincount(answers.worker, minlength=n_w)

    def pooled_confusion(self, post: np.ndarray, smoothing: float = 0.1) -> np.ndarray:
        """The crowd's ``(K, K)`` confusion matrix under posteriors ``post``, rows summing to 1."""
        pooled = np.zeros((self.k, self.k))
        np.add.at(pooled.T, self.pair_label, self.pair_sums(post))
        pooled += smoothing
        return np.asarray(pooled / pooled.sum(axis=1, keepdims=True))

    def task_sums(self, per_pair: np.ndarray) -> np.ndarray:
        """``out[i] = sum over task i's answers of per_pair[pair of the answer]``."""
        return np.asarray(self.s @ per_pair)

    def pair_sums(self, per_task: np.ndarray) -> np.ndarray:
        """``out[p] = sum over pair p's answers of per_task[task of the answer]``."""
        return np.asarray(self.st @ per_task)

    def worker_sums(self, per_pair: np.ndarray) -> np.ndarray:
        """``out[w] = sum over worker w's pairs of per_pair``."""
        return np.asarray(self.pw @ per_pair)


def _xlogx(x: np.ndarray) -> np.ndarray:
    """``x log x`` with ``0 log 0 = 0``."""
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, x * np.log(safe), 0.0)


@dataclass(frozen=True, eq=False)
class Prior:
    """Dirichlet pseudo-counts of every worker's confusion rows (see the module docstring).

    Attributes:
        base: ``(K, K)`` pseudo-counts shared by every worker.
        strength: ``(W,)`` pseudo-answers per row of the worker's one-coin part (0: none).
        theta: ``(W,)`` the one-coin part's chance of the right answer.
        spam: ``(W, K)`` the one-coin part's answer distribution otherwise (rows sum to 1).
    """

    base: np.ndarray
    strength: np.ndarray
    theta: np.ndarray
    spam: np.ndarray

    @classmethod
    def shared(cls, base: np.ndarray, n_workers: int) -> Prior:
        """The same ``base`` pseudo-counts for every worker (plain Dawid–Skene)."""
        k = base.shape[0]
        zeros = np.zeros(n_workers)
        return cls(base, zeros, zeros, np.full((n_workers, k), 1.0 / k))

    @property
    def _off(self) -> np.ndarray:
        """``(W, K)``: ``strength * (1 - theta) * spam``, the per-worker part of every cell."""
        return np.asarray((self.strength * (1.0 - self.theta))[:, None] * self.spam)

    @property
    def _on(self) -> np.ndarray:
        """``(W,)``: ``strength * theta``, added on the diagonal."""
        return np.asarray(self.strength * self.theta)

    def row_sums(self) -> np.ndarray:
        """``(W, K)``: each worker's pseudo-answers per confusion row."""
        return np.asarray(self.base.sum(axis=1)[None, :] + self.strength[:, None])

    def seen(self, pair_worker: np.ndarray, pair_label: np.ndarray) -> np.ndarray:
        """``(P, K)``: ``prior[w_p, k, l_p]`` for every (worker, label) pair ``p``."""
        out = self.base[:, pair_label].T + self._off[pair_worker, pair_label][:, None]
        out[np.arange(len(pair_label)), pair_label] += self._on[pair_worker]
        return np.asarray(out)

    def diag(self) -> np.ndarray:
        """``(W, K)``: ``prior[w, k, k]``."""
        return np.asarray(np.diag(self.base)[None, :] + self._off + self._on[:, None])

    def mix(self, weights: np.ndarray) -> np.ndarray:
        """``(W, K)``: ``out[w, l] = sum_k weights[w, k] * prior[w, k, l]``."""
        return np.asarray(
            weights @ self.base
            + weights.sum(axis=1, keepdims=True) * self._off
            + weights * self._on[:, None]
        )

    def dense(self, worker: int) -> np.ndarray:
        """``(K, K)``: one worker's pseudo-counts."""
        out = self.base + self._off[worker][None, :]
        return np.asarray(out + self._on[worker] * np.eye(len(self.base)))

    def xlogx_total(self, chunk: int = 256) -> float:
        """``sum over w, k, l of prior log prior`` (in chunks of workers: bounded memory)."""
        n_w = len(self.strength)
        if not self.strength.any():
            return float(n_w * _xlogx(self.base).sum())
        eye = np.eye(len(self.base))
        total = 0.0
        for lo in range(0, n_w, chunk):
            off, on = self._off[lo : lo + chunk], self._on[lo : lo + chunk]
            cells = self.base[None] + off[:, None, :] + on[:, None, None] * eye[None]
            total += float(_xlogx(cells).sum())
        return total
