"""Lexical (TF-IDF) out-of-sample probabilities, and their blend with the embedding's.

Embeddings miss what words and spellings show (a question's first word, a product code, a
misspelt intent); TF-IDF misses paraphrases. :func:`blend_probs` takes the out-of-sample
probabilities of both and keeps the weighted average whose log-loss on the given labels is
lowest — the weight is chosen by cross-validation, and a weight of 0 or 1 means one feature set
alone was better. scikit-learn is imported inside the functions that use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

#: Candidate weights of the lexical probabilities (the rest is the embedding's).
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tfidf_features(texts: Sequence[str]) -> object:
    """Sparse TF-IDF of word 1-2 grams and character 3-5 grams (within word bounds), stacked.

    Fitted without labels on the texts themselves (no label leaks into the folds).
    """
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [t if t.strip() else "_" for t in texts]
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    parts = [word.fit_transform(docs)]
    with contextlib.suppress(ValueError):  # too few texts for min_df=2: words alone
        parts.append(char.fit_transform(docs))
    return hstack(parts).tocsr()


def tfidf_probs(
    texts: Sequence[str],
    y: npt.NDArray[np.int64],
    k: int,
    folds: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    c: float = 10.0,
    max_iter: int = 200,
    features: object | None = None,
) -> FloatArray:
    """``(n, k)`` out-of-sample probabilities of a logistic regression on :func:`tfidf_features`.

    Args:
        texts: The records' texts.
        y: Their label columns.
        k: The number of classes.
        folds: ``(train, test)`` index pairs covering every row once as test.
        c: Inverse regularisation strength.
        max_iter: Solver iterations.
        features: ``tfidf_features(texts)`` if already computed.
    """
    from sklearn.linear_model import LogisticRegression

    x = tfidf_features(texts) if features is None else features
    probs = np.zeros((len(y), k))
    for train, test in folds:
        present = np.unique(y[train])
        if len(present) < 2:
            probs[np.ix_(test, present)] = 1.0 / len(present)
            continue
        model = LogisticRegression(C=c, max_iter=max_iter)
        model.fit(x[train], y[train])  # type: ignore[index]
        probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])  # type: ignore[index]
    return probs


def best_tfidf_probs(
    texts: Sequence[str],
    y: npt.NDArray[np.int64],
    k: int,
    folds: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    grid: Sequence[float],
) -> FloatArray:
    """:func:`tfidf_probs` at the ``c`` of ``grid`` whose out-of-sample log-loss is lowest.

    The features are computed once; ties go to the earlier value of ``grid``.
    """
    x = tfidf_features(texts)
    fits = (tfidf_probs(texts, y, k, folds, float(c), features=x) for c in grid)
    return lowest_log_loss(fits, y, key=lambda probs: probs)[1]


def log_loss(probs: FloatArray, y: npt.NDArray[np.int64]) -> float:
    """Mean ``-log p(given label)``."""
    return float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)).mean())


def blend_probs(
    embedding: FloatArray,
    lexical: FloatArray,
    y: npt.NDArray[np.int64],
    weights: Sequence[float] = WEIGHTS,
) -> tuple[FloatArray, float]:
    """The weighted average of two out-of-sample probability sets with the lowest log-loss.

    Returns:
        ``(probs, weight of the lexical set)``; ties go to the earlier weight in ``weights``.
    """
    blends = ((float(w), (1.0 - w) * embedding + w * lexical) for w in weights)
    w, probs = lowest_log_loss(blends, y, key=lambda blend: blend[1])[1]
    return probs, w


def lowest_log_loss(
    candidates: Iterable[T], y: npt.NDArray[np.int64], key: Callable[[T], FloatArray]
) -> tuple[float, T]:
    """``(log-loss, candidate)`` of the candidate whose probabilities ``key(candidate)`` have
    the lowest :func:`log_loss`; ties (within 1e-9) go to the earlier candidate.

    Raises:
        ValueError: no candidates.
    """
    best: tuple[float, T] | None = None
    for candidate in candidates:
        loss = log_loss(key(candidate), y)
        if best is None or loss < best[0] - 1e-9:
            best = (loss, candidate)
    if best is None:
        raise ValueError("no candidates to choose from")
    return best
