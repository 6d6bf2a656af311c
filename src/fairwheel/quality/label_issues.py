"""Label issues by confident learning on out-of-sample predicted probabilities.

1. Every labelled record gets predicted class probabilities from a classifier that never saw it:
   ``folds``-fold cross-validation of a logistic regression on the records' embeddings
   (or, with ``model="centroid"``, a softmax over cosine similarity to the class centroids with
   a temperature fitted on the out-of-sample scores — 50x faster, a little less accurate).
2. Confident learning (Northcutt et al., JAIR 2021, via cleanlab): a record whose given label
   has a probability below that class's average self-confidence while another class is above its
   own average is counted off the diagonal of the confident joint; ``find_label_issues`` prunes
   the most likely wrong ones.
3. The label-issue score is ``1 - p(given label)`` (cleanlab's self-confidence): higher means the
   label is more likely wrong.

Given the records' texts too (``label_issues(..., texts=...)``, the offline audit), step 1 also
fits a logistic regression on TF-IDF word and character n-grams in the same folds and uses the
weighted average of both probability sets whose cross-validated log-loss is lowest
(:mod:`fairwheel.quality.lexical`).

A new record is judged by :class:`LabelModel` — a classifier fitted on the whole pool plus the
pool's per-class thresholds — with the same one-record rule. scipy and cleanlab are imported
inside the functions that use them.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fairwheel.errors import Conflict, SchemaError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LabelPolicy:
    """How label issues are found (defaults chosen by measurement, ``docs/quality.md``).

    Attributes:
        model: ``"logreg"`` (multinomial logistic regression) or ``"centroid"``.
        folds: Cross-validation folds for out-of-sample probabilities.
        c: Inverse regularisation strength of the logistic regression.
        max_iter: L-BFGS iterations (stopping early loses nothing measurable here).
        min_per_class: Records of a class with fewer labelled records are not judged.
        min_pool: Fewer labelled records than this: no label check at all.
        filter_by: cleanlab's ``find_label_issues`` method.
        seed: Seed of the fold split.
        flagged_score: A flagged contributor's record with a label-issue score at or above
            this is quarantined even in a class too small to judge.
        lexical: With texts given, blend in TF-IDF probabilities (weight by log-loss).
        lexical_c: Inverse regularisation strength of the TF-IDF logistic regression.
    """

    model: str = "logreg"
    folds: int = 5
    c: float = 10.0
    max_iter: int = 100
    min_per_class: int = 25
    min_pool: int = 50
    filter_by: str = "both"
    seed: int = 0
    flagged_score: float = 0.9
    lexical: bool = False  # opt in: it lowered F1 on one benchmark set (docs/quality.md)
    lexical_c: float = 10.0


@dataclass(frozen=True)
class LabelReport:
    """Out-of-sample label judgement of a set of records.

    Attributes:
        classes: The class names, in column order of ``probs``.
        probs: ``(n, K)`` out-of-sample predicted probabilities.
        scores: ``(n,)`` label-issue scores ``1 - p(given label)``, in [0, 1].
        issues: ``(n,)`` True where confident learning flags the label.
        judged: ``(n,)`` False where the record's class is too small to be judged.
        thresholds: ``(K,)`` per-class average self-confidence (confident learning's ``t_j``).
        temperature: The softmax temperature of the scores (1.0 for ``logreg``).
        lexical_weight: Weight of the TF-IDF probabilities in ``probs`` (None: not used).
        warm: The last fold's classifier weights, a starting point for the next fit on (almost)
            the same rows (:class:`LabelModel`); None for the centroid model.
    """

    classes: list[str]
    probs: FloatArray
    scores: FloatArray
    issues: npt.NDArray[np.bool_]
    judged: npt.NDArray[np.bool_]
    thresholds: FloatArray
    temperature: float = 1.0
    lexical_weight: float | None = None
    warm: npt.NDArray[np.float32] | None = None

    def suggested(self, i: int) -> str:
        """The most probable class of record ``i``."""
        return self.classes[int(np.argmax(self.probs[i]))]


class _Fitted:
    """A classifier fitted on some rows; :meth:`scores` gives raw ``(m, K)`` scores."""

    def __init__(
        self,
        policy: LabelPolicy,
        x: FloatArray,
        y: npt.NDArray[np.int64],
        k: int,
        init: npt.NDArray[np.float32] | None = None,
    ) -> None:
        self.k = k
        self.present = np.unique(y)
        self.weights: npt.NDArray[np.float32] | None = None
        self.centroids: FloatArray | None = None
        if policy.model == "centroid":
            sums = np.zeros((k, x.shape[1]))
            np.add.at(sums, y, x)
            c = sums[self.present]
            self.centroids = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        elif policy.model != "logreg":
            raise ValueError(f"unknown label model {policy.model!r}: expected logreg or centroid")
        elif len(self.present) > 1:
            self.weights = softmax_regression(x, y, k, policy.c, policy.max_iter, init)

    def scores(self, x: FloatArray) -> FloatArray:
        out = np.full((len(x), self.k), -1e9)
        if self.centroids is not None:
            out[:, self.present] = x @ self.centroids.T
        elif self.weights is None:
            out[:, self.present] = 0.0
        else:
            logits = x.astype(np.float32) @ self.weights[:-1] + self.weights[-1]
            out[:, self.present] = logits[:, self.present]
        return out


def softmax_regression(
    x: FloatArray,
    y: npt.NDArray[np.int64],
    k: int,
    c: float,
    max_iter: int,
    init: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Multinomial logistic regression by L-BFGS, in float32 numpy.

    Minimises ``sum_i -log p(y_i | x_i) + ||W||^2 / (2 c)`` (the intercept is not penalised),
    the objective of scikit-learn's ``LogisticRegression(C=c)``. Written out because it is
    5-10x faster here (float32, no per-iteration overhead of a general optimiser) and the result
    is the same to the figures we report (``docs/quality.md``).

    Args:
        init: Starting weights ``(d + 1, k)``, e.g. a fit on overlapping rows (the objective is
            strictly convex: the start changes the iterations needed, not the optimum).

    Returns:
        ``(d + 1, k)`` float32 weights, the last row the intercepts.
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float32)
    onehot = np.zeros((n, k), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0
    penalty = np.ones((d + 1, 1), dtype=np.float32) / np.float32(c)
    penalty[-1] = 0.0

    def objective(w: npt.NDArray[np.float32]) -> tuple[float, npt.NDArray[np.float32]]:
        z = xb @ w
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        loss = -float((onehot * (z - np.log(total))).sum()) + 0.5 * float((penalty * w * w).sum())
        return loss, xb.T @ (e / total - onehot) + penalty * w

    start = np.zeros((d + 1, k), dtype=np.float32)
    if init is not None and init.shape == start.shape:
        start = init.astype(np.float32, copy=True)
    return _lbfgs(objective, start, max_iter)


def _lbfgs(
    objective: Callable[[npt.NDArray[np.float32]], tuple[float, npt.NDArray[np.float32]]],
    w: npt.NDArray[np.float32],
    max_iter: int,
    memory: int = 10,
) -> npt.NDArray[np.float32]:
    """Minimise a smooth convex objective by L-BFGS with a backtracking (Armijo) line search."""
    loss, grad = objective(w)
    s_hist: list[npt.NDArray[np.float32]] = []
    y_hist: list[npt.NDArray[np.float32]] = []
    for _ in range(max_iter):
        # Two-loop recursion: direction = -H grad.
        q = grad.copy()
        alphas = []
        for s, yv in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float((s * q).sum()) / float((yv * s).sum())
            alphas.append(a)
            q -= a * yv
        if s_hist:
            q *= float((s_hist[-1] * y_hist[-1]).sum()) / float((y_hist[-1] ** 2).sum())
        else:
            q /= max(1.0, float(np.abs(grad).max()))
        for s, yv, a in zip(s_hist, y_hist, reversed(alphas), strict=True):
            b = float((yv * q).sum()) / float((yv * s).sum())
            q += (a - b) * s
        direction = -q
        slope = float((grad * direction).sum())
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            direction = -grad / max(1.0, float(np.abs(grad).max()))
            slope = float((grad * direction).sum())
        step = 1.0
        for _ in range(20):
            w_new = w + np.float32(step) * direction
            loss_new, grad_new = objective(w_new)
            if loss_new <= loss + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            return w
        s_vec, y_vec = w_new - w, grad_new - grad
        if float((s_vec * y_vec).sum()) > 1e-10:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        converged = abs(loss - loss_new) <= 1e-7 * max(1.0, abs(loss))
        w, loss, grad = w_new, loss_new, grad_new
        if converged:
            break
    return w


def _softmax(scores: FloatArray, temperature: float) -> FloatArray:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def _fit_temperature(scores: FloatArray, y: npt.NDArray[np.int64]) -> float:
    """The softmax temperature minimising the log-loss of the given labels (golden search)."""
    rows = np.arange(len(y))

    def loss(log_t: float) -> float:
        p = _softmax(scores, float(np.exp(log_t)))
        return float(-np.log(np.maximum(p[rows, y], 1e-12)).mean())

    lo, hi = -3.0, 6.0
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if loss(a) < loss(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def encode(labels: Sequence[str]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Sorted class names and each label's column."""
    classes = sorted(set(labels))
    col = {c: i for i, c in enumerate(classes)}
    return classes, np.asarray([col[x] for x in labels], dtype=np.int64)


def out_of_sample_probs(
    vectors: npt.ArrayLike, labels: Sequence[str], policy: LabelPolicy | None = None
) -> tuple[list[str], FloatArray, float]:
    """Out-of-sample class probabilities by stratified ``folds``-fold cross-validation.

    Returns:
        ``(classes, probs (n, K), temperature)``; the temperature is 1.0 for ``logreg`` (its
        probabilities are already calibrated by the log-loss it minimises).
    """
    classes, probs, temperature, _ = _cross_validated(vectors, labels, policy or LabelPolicy())
    return classes, probs, temperature


def _cross_validated(
    vectors: npt.ArrayLike, labels: Sequence[str], policy: LabelPolicy
) -> tuple[list[str], FloatArray, float, npt.NDArray[np.float32] | None]:
    """:func:`out_of_sample_probs` and the last fold's weights. Each fold starts from the
    previous fold's optimum: the folds share most of their rows, so it is close."""
    x = np.asarray(vectors, dtype=np.float64)
    classes, y = encode(labels)
    k = len(classes)
    scores = np.zeros((len(y), k))
    warm: npt.NDArray[np.float32] | None = None
    for train, test in _folds(y, policy.folds, policy.seed):
        fitted = _Fitted(policy, x[train], y[train], k, init=warm)
        scores[test] = fitted.scores(x[test])
        warm = fitted.weights if fitted.weights is not None else warm
    temperature = _fit_temperature(scores, y) if policy.model == "centroid" else 1.0
    return classes, _softmax(scores, temperature), temperature, warm


def _folds(
    y: npt.NDArray[np.int64], folds: int, seed: int
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Stratified folds that tolerate classes smaller than the number of folds."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    offset = 0
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        rng.shuffle(members)
        fold_of[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return [
        (np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f))
        for f in range(folds)
        if np.any(fold_of == f)
    ]


def class_thresholds(probs: FloatArray, y: npt.NDArray[np.int64]) -> FloatArray:
    """Confident learning's per-class thresholds: mean ``p_j`` over records labelled ``j``."""
    k = probs.shape[1]
    out = np.ones(k)
    for j in range(k):
        members = y == j
        if members.any():
            out[j] = float(probs[members, j].mean())
    return out


def label_issues(
    vectors: npt.ArrayLike,
    labels: Sequence[str],
    policy: LabelPolicy | None = None,
    texts: Sequence[str] | None = None,
) -> LabelReport:
    """Judge every label of a labelled set out of sample.

    Args:
        vectors: ``(n, d)`` embeddings.
        labels: ``n`` labels.
        policy: The method and thresholds.
        texts: The ``n`` texts; with ``policy.lexical``, TF-IDF probabilities are blended in.

    Returns:
        The :class:`LabelReport`; with fewer than ``min_pool`` records or a single class,
        nothing is flagged and every score is 0.
    """
    policy = policy or LabelPolicy()
    n = len(labels)
    counts = Counter(labels)
    if n < policy.min_pool or len(counts) < 2:
        classes, y = encode(labels)
        zeros = np.zeros(n)
        return LabelReport(
            classes, np.eye(len(classes))[y], zeros, zeros.astype(bool), zeros.astype(bool),
            np.ones(len(classes)),
        )  # fmt: skip
    classes, probs, temperature, warm = _cross_validated(vectors, labels, policy)
    _, y = encode(labels)
    weight: float | None = None
    if texts is not None and policy.lexical:
        if len(texts) != n:
            raise SchemaError("texts and labels must have the same length")
        from fairwheel.quality.lexical import blend_probs, tfidf_probs

        folds = _folds(y, policy.folds, policy.seed)
        lexical = tfidf_probs(texts, y, len(classes), folds, policy.lexical_c)
        probs, weight = blend_probs(probs, lexical, y)
    judged = np.asarray([counts[x] >= policy.min_per_class for x in labels])
    scores = np.clip(1.0 - probs[np.arange(n), y], 0.0, 1.0)
    issues = np.zeros(n, dtype=bool)
    big = [c for c in classes if counts[c] >= policy.min_per_class]
    if len(big) >= 2:
        from cleanlab.filter import find_label_issues

        rows = np.flatnonzero(judged)
        cols = np.asarray([classes.index(c) for c in big], dtype=np.int64)
        sub = probs[np.ix_(rows, cols)]
        sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
        remap = {int(c): i for i, c in enumerate(cols)}
        sub_y = np.asarray([remap[int(v)] for v in y[rows]], dtype=np.int64)
        with warnings.catch_warnings():  # "too few examples in class k": known, see min_per_class
            warnings.simplefilter("ignore", UserWarning)
            issues[rows] = find_label_issues(sub_y, sub, filter_by=policy.filter_by)
    thresholds = class_thresholds(probs, y)
    return LabelReport(
        classes, probs, scores, issues, judged, thresholds, temperature, weight, warm
    )


class LabelModel:
    """Judges the label of a new record against the pool (the online half of the check).

    Args:
        vectors: The pool's labelled embeddings ``(n, d)``.
        labels: Their labels.
        report: The pool's :func:`label_issues` report (its thresholds are reused).
        policy: The method.
        keep: Rows to fit the classifier on (default: those whose label is not flagged).
    """

    def __init__(
        self,
        vectors: npt.ArrayLike,
        labels: Sequence[str],
        report: LabelReport,
        policy: LabelPolicy | None = None,
        keep: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self.policy = policy or LabelPolicy()
        self.classes = report.classes
        self.thresholds = report.thresholds
        counts = Counter(labels)
        self.judgeable = {c for c in self.classes if counts[c] >= self.policy.min_per_class}
        x = np.asarray(vectors, dtype=np.float64)
        _, y = encode(labels)
        if keep is None:
            keep = ~report.issues
        self.temperature = report.temperature
        self._size = len(labels)
        self._fitted = len(labels) >= self.policy.min_pool and len(self.judgeable) >= 2
        self._model = (
            _Fitted(self.policy, x[keep], y[keep], len(self.classes), init=report.warm)
            if self._fitted
            else None
        )

    @property
    def fitted(self) -> bool:
        """Whether the pool was big enough to fit a classifier (:meth:`probs` needs one)."""
        return self._model is not None

    def probs(self, vectors: npt.ArrayLike) -> FloatArray:
        """Class probabilities of new records ``(m, K)`` under the model fitted on the pool.

        Raises:
            Conflict: The pool was too small to fit a model (see :attr:`fitted`).
        """
        if self._model is None:
            raise Conflict(
                f"the label model needs a bigger pool: {self._size} labelled records "
                f"(needs {self.policy.min_pool}) and {len(self.judgeable)} classes of "
                f"{self.policy.min_per_class}+ records (needs 2)"
            )
        q = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        return _softmax(self._model.scores(q), self.temperature)

    def judge(
        self, vector: npt.ArrayLike, label: str | None, strict: bool = False
    ) -> tuple[float, bool, str]:
        """``(issue score, flagged, reason)`` of one new record.

        Flagged by confident learning's rule for one record: ``p(given) < t_given`` while some
        other class ``j`` has ``p_j >= t_j``. With ``strict`` (a flagged contributor), flagged
        whenever the most probable class is not the given one. Unlabelled records, unknown
        classes and classes too small to judge get ``(0, False, reason)``.
        """
        if label is None:
            return 0.0, False, "label none"
        if not self._fitted or label not in self.judgeable:
            return 0.0, False, "label unchecked: too few records of this class"
        p = self.probs(vector)[0]
        j = self.classes.index(label)
        score = float(np.clip(1.0 - p[j], 0.0, 1.0))
        others = [i for i in range(len(p)) if i != j and p[i] >= self.thresholds[i]]
        best = max(range(len(p)), key=lambda i: p[i])
        flagged = (p[j] < self.thresholds[j] and bool(others)) or (strict and best != j)
        reason = f"label_issue_score {score:.3f} likely {self.classes[best]} p {p[best]:.2f}"
        return score, flagged, ("label_issue " if flagged else "") + reason
