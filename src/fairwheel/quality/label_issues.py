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
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from fairwheel.errors import Conflict, SchemaError
from fairwheel.quality.softmax import softmax_regression

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
        filter_by: cleanlab's ``find_label_issues`` method, or ``"calibrated_rank"``: the
            records of lowest self-confidence, as many as cleanlab's calibrated confident joint
            estimates are mislabelled (:func:`rank_by_self_confidence`).
        seed: Seed of the fold split.
        flagged_score: A flagged contributor's record with a label-issue score at or above
            this is quarantined even in a class too small to judge.
        lexical: With texts given, blend in TF-IDF probabilities (weight by log-loss).
        lexical_c: Inverse regularisation strength of the TF-IDF logistic regression.
        c_grid: With two or more values, the embedding regression's ``c`` is the one of these
            whose out-of-sample log-loss is lowest (``c`` is then unused).
        lexical_c_grid: The same choice for the TF-IDF regression's ``lexical_c``.
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
    c_grid: tuple[float, ...] = ()
    lexical_c_grid: tuple[float, ...] = ()


#: The offline audit's label check (``fairwheel quality audit``): given the texts it can choose
#: among more models than the gate and rank globally (``docs/quality.md``, "vs cleanlab").
AUDIT_LABEL_POLICY = LabelPolicy(
    lexical=True,
    c_grid=(1.0, 3.0, 10.0, 30.0),
    lexical_c_grid=(1.0, 10.0),
    filter_by="calibrated_rank",
    min_per_class=5,
)


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
        c: The embedding regression's inverse regularisation strength that was used.
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
    c: float = 10.0

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
            np.ones(len(classes)), c=policy.c,
        )  # fmt: skip
    policy, (classes, probs, temperature, warm) = _best_c(vectors, labels, policy)
    _, y = encode(labels)
    weight: float | None = None
    if texts is not None and policy.lexical:
        if len(texts) != n:
            raise SchemaError("texts and labels must have the same length")
        from fairwheel.quality.lexical import best_tfidf_probs, blend_probs

        folds = _folds(y, policy.folds, policy.seed)
        grid = policy.lexical_c_grid or (policy.lexical_c,)
        lexical = best_tfidf_probs(texts, y, len(classes), folds, grid)
        probs, weight = blend_probs(probs, lexical, y)
    judged = np.asarray([counts[x] >= policy.min_per_class for x in labels])
    scores = np.clip(1.0 - probs[np.arange(n), y], 0.0, 1.0)
    issues = np.zeros(n, dtype=bool)
    big = [c for c in classes if counts[c] >= policy.min_per_class]
    if len(big) >= 2:
        rows = np.flatnonzero(judged)
        cols = np.asarray([classes.index(c) for c in big], dtype=np.int64)
        sub = probs[np.ix_(rows, cols)]
        sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
        remap = {int(c): i for i, c in enumerate(cols)}
        sub_y = np.asarray([remap[int(v)] for v in y[rows]], dtype=np.int64)
        issues[rows] = _flag(sub_y, sub, policy.filter_by)
    thresholds = class_thresholds(probs, y)
    return LabelReport(
        classes, probs, scores, issues, judged, thresholds, temperature, weight, warm, policy.c
    )


_Fit = tuple[list[str], FloatArray, float, npt.NDArray[np.float32] | None]


def _best_c(
    vectors: npt.ArrayLike, labels: Sequence[str], policy: LabelPolicy
) -> tuple[LabelPolicy, _Fit]:
    """:func:`_cross_validated` at the ``c`` of ``policy.c_grid`` with the lowest log-loss."""
    if len(policy.c_grid) < 2 or policy.model != "logreg":
        return policy, _cross_validated(vectors, labels, policy)
    from fairwheel.quality.lexical import lowest_log_loss

    _, y = encode(labels)
    trials = (replace(policy, c=float(c)) for c in policy.c_grid)
    fits = ((trial, _cross_validated(vectors, labels, trial)) for trial in trials)
    return lowest_log_loss(fits, y, key=lambda fit: fit[1][1])[1]


def _flag(y: npt.NDArray[np.int64], probs: FloatArray, filter_by: str) -> npt.NDArray[np.bool_]:
    """Confident learning's flags over rows whose every class has enough rows to be judged."""
    with warnings.catch_warnings():  # "too few examples in class k": known, see min_per_class
        warnings.simplefilter("ignore", UserWarning)
        if filter_by == "calibrated_rank":
            return rank_by_self_confidence(y, probs)
        from cleanlab.filter import find_label_issues

        # n_jobs=1: cleanlab otherwise forks a multiprocessing pool, and a fork of a process
        # with threads (ONNX Runtime's, a server's) can deadlock in the child (seen in CI).
        flags = find_label_issues(y, probs, filter_by=filter_by, n_jobs=1)
        return np.asarray(flags, dtype=bool)


def rank_by_self_confidence(
    y: npt.NDArray[np.int64], probs: FloatArray
) -> npt.NDArray[np.bool_]:
    """The ``m`` records of lowest ``p(given label)``, ``m`` estimated by confident learning.

    ``m`` is cleanlab's ``num_label_issues(..., estimation_method="off_diagonal_calibrated")``:
    the off-diagonal mass of the confident joint after calibrating its rows to the given
    labels' counts. Ranking all records together, not class by class, is what keeps small
    classes of a many-class set from being over- or under-pruned (docs/quality.md).
    """
    from cleanlab.count import num_label_issues

    m = int(num_label_issues(y, probs, estimation_method="off_diagonal_calibrated"))
    flags = np.zeros(len(y), dtype=bool)
    order = np.argsort(probs[np.arange(len(y)), y], kind="stable")
    flags[order[:m]] = True
    return flags


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
        self.policy = replace(policy or LabelPolicy(), c=report.c)  # the c chosen by CV
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
