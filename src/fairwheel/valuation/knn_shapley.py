"""Exact KNN-Shapley values (Jia et al., VLDB 2019, Theorem 1).

For one test point, the N training points are ranked by distance ascending,
ties broken by record id ascending, so the ranking is a total order and the
result is deterministic. With per-point scores ``u_i`` in rank order (for
classification ``u_i = 1[y_i == y_test]``) the game is

    U(S) = (1 / K) * sum of u over the min(K, |S|) best-ranked members of S

and its exact Shapley values follow from one backward recursion (1-based ranks)::

    s_{N+1} = 0,  u_{N+1} = 0
    s_i = s_{i+1} + (u_i - u_{i+1}) / K * min(K, i) / i      for i = N .. 1

so ``s_N = u_N / N`` as in the paper when N >= K (and ``u_N / K`` when K > N).

The values sum to ``U(full set)`` (efficiency). The same game with ``u_i`` set to
a candidate's relevance is the retrieval game of one paid search
(:func:`retrieval_shapley`). See ``docs/valuation.md`` for the full rule.

This module is pure: numpy and the standard library only.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fairwheel.errors import SchemaError

METRICS: tuple[str, ...] = ("euclidean", "cosine")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# --------------------------------------------------------------------------- checks


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise SchemaError("k must be an integer >= 1", k=repr(k))
    return int(k)


def _check_ids(ids: Any, n: int, name: str = "ids") -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise SchemaError(f"{name} must be 1-D of length {n}", shape=list(arr.shape))
    if arr.dtype.kind not in "iuUS" and n > 0:  # an empty list has dtype float64
        raise SchemaError(f"{name} must be integers or strings", dtype=str(arr.dtype))
    if np.unique(arr).shape[0] != n:
        raise SchemaError(f"{name} must be unique")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise SchemaError(f"{name} must be finite (no NaN or inf)")


def _as_floats(x: Any, name: str, dtype: type[np.floating[Any]] = np.float64) -> np.ndarray:
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{name} must be numeric") from exc


def _as_float_matrix(x: Any, name: str, dtype: type[np.floating[Any]]) -> np.ndarray:
    arr = _as_floats(x, name, dtype)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise SchemaError(f"{name} must be a non-empty 2-D array", shape=list(arr.shape))
    _check_finite(arr, name)
    return arr


def _as_labels(y: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise SchemaError(f"{name} must be 1-D of length {n}", shape=list(arr.shape))
    return arr


# --------------------------------------------------------------------------- core game


def knn_shapley_scores(order_scores: npt.ArrayLike, k: int) -> FloatArray:
    """Exact Shapley values of the top-K game for scores already in rank order.

    Args:
        order_scores: Scores ``u`` in rank order (best first), shape ``(N,)`` or
            ``(M, N)`` for M independent games (one per row).
        k: The K of the game, ``>= 1``; ``K > N`` is allowed.

    Returns:
        Float64 values in the same rank order and shape; each row sums to
        ``U(full set) = sum(u[:K]) / K``.

    Raises:
        SchemaError: If the scores are not a finite 1-D/2-D array or ``k < 1``.
    """
    k = _check_k(k)
    u = _as_floats(order_scores, "order_scores")
    if u.ndim not in (1, 2):
        raise SchemaError("order_scores must be 1-D or 2-D", shape=list(u.shape))
    _check_finite(u, "order_scores")
    n = u.shape[-1]
    if n == 0:
        return np.zeros(u.shape, dtype=np.float64)
    # The recursion runs from a virtual rank N+1 with u = 0 and s = 0, which gives
    # s_N = u_N * min(K, N) / (K N): the paper's u_N / N when N >= K, and u_N / K
    # when K > N (the last point then always counts).
    ranks = np.arange(1, n + 1, dtype=np.float64)  # i = 1 .. N
    coef = np.minimum(ranks, k) / (k * ranks)  # min(K, i) / (K i)
    nxt = np.zeros_like(u)
    nxt[..., :-1] = u[..., 1:]  # u_{i+1}, with u_{N+1} = 0
    steps = (u - nxt) * coef
    # s_i = sum_{j >= i} steps_j: a cumulative sum from the end.
    out = np.flip(np.cumsum(np.flip(steps, axis=-1), axis=-1), axis=-1)
    return out


def rank_order(distances: npt.ArrayLike, ids: npt.ArrayLike) -> IntArray:
    """Rank points by distance ascending, ties broken by id ascending.

    Args:
        distances: Shape ``(N,)``, or ``(M, N)`` for one ranking per row.
        ids: Shape ``(N,)``, unique integers or strings.

    Returns:
        Indices into the last axis, best first (shape of ``distances``).

    Raises:
        SchemaError: On bad shapes, non-unique ids or non-finite distances.
    """
    d = np.asarray(distances)
    if d.ndim not in (1, 2) or d.dtype.kind not in "iuf":
        raise SchemaError("distances must be a 1-D or 2-D numeric array", shape=list(d.shape))
    if d.dtype.kind == "f":
        _check_finite(d, "distances")
    n = d.shape[-1]
    id_arr = _check_ids(ids, n)
    # Put points in id order first; a stable sort on distance then keeps id order in ties.
    by_id = np.argsort(id_arr, kind="stable")
    within = np.argsort(d[..., by_id], axis=-1, kind="stable")
    return by_id[within]


def retrieval_shapley(relevance: npt.ArrayLike, ids: npt.ArrayLike, k: int) -> FloatArray:
    """Exact Shapley values of the top-K retrieval game of one paid search.

    Candidates are ranked by relevance descending (ties by id ascending) and a
    candidate's score is its relevance, so ``U(S)`` is the mean relevance of
    the top ``min(K, |S|)`` members of S, divided by K rather than ``|S|``.

    Args:
        relevance: Shape ``(N,)``, finite; callers pass e.g. cosine similarity
            clipped to ``>= 0`` so that every value is non-negative.
        ids: Shape ``(N,)``, unique record ids (integers or strings).
        k: The K of the search, ``>= 1``.

    Returns:
        Float64 values aligned with the input order (not rank order).

    Raises:
        SchemaError: On bad shapes, non-unique ids, non-finite relevance or ``k < 1``.
    """
    k = _check_k(k)
    rel = _as_floats(relevance, "relevance")
    if rel.ndim != 1:
        raise SchemaError("relevance must be 1-D", shape=list(rel.shape))
    _check_finite(rel, "relevance")
    order = rank_order(-rel, ids)
    out = np.empty_like(rel)
    out[order] = knn_shapley_scores(rel[order], k)
    return out


def ranked_retrieval_shapley(relevance: Sequence[float], k: int) -> list[float]:
    """:func:`retrieval_shapley` for relevances already in rank order, in plain Python.

    A paid search values 20 candidates per call, where numpy's per-call overhead is ten times
    the arithmetic; this is the same recursion, summed in the same order. Ties need no id
    order here: tied candidates get equal values whatever their order.

    Args:
        relevance: Finite, non-negative and non-increasing (best first).
        k: The K of the search, ``>= 1``.

    Returns:
        The values, in the given order.

    Raises:
        SchemaError: ``k < 1``, or relevance not finite, negative or out of rank order.
    """
    k = _check_k(k)
    rel = [float(u) for u in relevance]
    if any(not math.isfinite(u) or u < 0 for u in rel):
        raise SchemaError("relevance must be finite and non-negative")
    if any(a < b for a, b in itertools.pairwise(rel)):
        raise SchemaError("relevance must be in rank order (non-increasing)")
    out = [0.0] * len(rel)
    total, nxt = 0.0, 0.0
    for i in range(len(rel), 0, -1):
        u = rel[i - 1]
        total += (u - nxt) * (min(i, k) / (k * i))
        out[i - 1] = total
        nxt = u
    return out


def group_values(values: npt.ArrayLike, owners: Sequence[str]) -> dict[str, float]:
    """Sum values per owner (e.g. per contributor address).

    Args:
        values: Shape ``(N,)``.
        owners: N owner keys aligned with ``values``.

    Returns:
        ``{owner: total}`` with owners sorted; sums use ``math.fsum`` so the
        result does not depend on the input order.

    Raises:
        SchemaError: If lengths differ or values are not a finite 1-D array.
    """
    vals = _as_floats(values, "values")
    if vals.ndim != 1 or vals.shape[0] != len(owners):
        raise SchemaError("values must be 1-D and as long as owners", shape=list(vals.shape))
    _check_finite(vals, "values")
    buckets: defaultdict[str, list[float]] = defaultdict(list)
    for owner, v in zip(owners, vals.tolist(), strict=True):
        buckets[owner].append(v)
    return {owner: math.fsum(buckets[owner]) for owner in sorted(buckets)}


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class _Train:
    """Training set prepared once: rows in id order, float32, labels as codes."""

    x: npt.NDArray[np.float32]  # (N, D) rows sorted by id
    sq_norms: npt.NDArray[np.float32]  # (N,) squared norms (euclidean only)
    codes: npt.NDArray[np.int32]  # (N,) label codes in id order
    classes: np.ndarray  # sorted distinct training labels
    by_id: IntArray  # position in id order -> original row
    metric: str


def _normalise(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # Zero vectors stay zero: cosine similarity 0 to everything, distance 1.
    out = x / np.where(norms > 0, norms, np.float32(1.0))
    return out.astype(np.float32, copy=False)


def _prepare(train_x: Any, train_y: Any, metric: str, ids: Any) -> _Train:
    if metric not in METRICS:
        raise SchemaError(f"metric must be one of {METRICS}", metric=metric)
    x = _as_float_matrix(train_x, "train_x", np.float32)
    n = x.shape[0]
    if n >= 2**32:
        raise SchemaError("at most 2**32 - 1 training rows")
    y = _as_labels(train_y, n, "train_y")
    id_arr = np.arange(n) if ids is None else _check_ids(ids, n)
    by_id = np.argsort(id_arr, kind="stable")
    xs = np.ascontiguousarray(x[by_id])
    if metric == "cosine":
        xs = _normalise(xs)
    try:
        classes, codes = np.unique(y[by_id], return_inverse=True)
    except TypeError as exc:  # e.g. a mix of str and int in an object array
        raise SchemaError("train_y labels must be mutually comparable") from exc
    sq = np.einsum("ij,ij->i", xs, xs) if metric == "euclidean" else np.zeros(n, np.float32)
    return _Train(xs, sq.astype(np.float32), codes.astype(np.int32), classes, by_id, metric)


def _encode_valid(train: _Train, valid_y: np.ndarray) -> npt.NDArray[np.int32]:
    """Label codes of validation points; -1 for labels absent from training."""
    try:
        pos = np.searchsorted(train.classes, valid_y)
        pos = np.minimum(pos, train.classes.shape[0] - 1)
        hit = train.classes[pos] == valid_y
    except (TypeError, np.exceptions.DTypePromotionError) as exc:
        raise SchemaError("valid_y labels are not comparable with train_y labels") from exc
    return np.where(hit, pos, -1).astype(np.int32)


# Cells (validation x training) per batch: the float32 distance block (64 MB).
_MAX_CELLS = 2**24
# Cells per chunk of the memory-bound passes: ~34 bytes each, a few MB, cache-sized.
_CHUNK_CELLS = 2**17

# Halves of a little- or big-endian uint64 seen as two uint32 words.
_HI, _LO = (1, 0) if sys.byteorder == "little" else (0, 1)


class _Batch:
    """One worker's buffers, reused across batches (first-touch page faults cost as
    much as the arithmetic), and the per-batch computation."""

    def __init__(self, train: _Train, k: int, rows: int) -> None:
        n = train.x.shape[0]
        self.train = train
        self.pos = np.arange(n, dtype=np.uint32)  # position in id order: the tie-break
        ranks = np.arange(1, n + 1, dtype=np.float64)
        self.coef = np.minimum(ranks, k) / (k * ranks)  # see knn_shapley_scores
        self.keys = np.empty((rows, n), dtype=np.float32)
        # After the matrix product (best on many rows) the passes are memory-bound:
        # they run on chunks of a few rows that stay in cache.
        self.chunk = c = max(1, min(rows, _CHUNK_CELLS // n))
        self.packed = np.empty((c, n), dtype=np.uint64)
        self.idx = np.empty((c, n), dtype=np.intp)
        self.vals = np.empty((c, n), dtype=np.float64)
        self.tmp = np.empty((c, n), dtype=np.int32)
        self.diff = np.empty((c, n), dtype=np.int8)

    def run(self, q: npt.NDArray[np.float32], qcodes: npt.NDArray[np.int32]) -> FloatArray:
        """Sum over the batch's games of each training row's value (id order)."""
        train, n = self.train, self.train.x.shape[0]
        keys = self.keys[: q.shape[0]]
        np.matmul(q, train.x.T, out=keys)
        if train.metric == "euclidean":
            keys += train.sq_norms
        else:
            keys += np.float32(0.0)  # -0.0 -> +0.0: equal floats must get equal bits
        total = np.zeros(n, dtype=np.float64)
        for start in range(0, q.shape[0], self.chunk):
            total += self._chunk(keys[start : start + self.chunk], qcodes[start:])
        return total

    def _chunk(self, keys: npt.NDArray[np.float32], qcodes: npt.NDArray[np.int32]) -> FloatArray:
        b, n = keys.shape
        packed, idx, vals = self.packed[:b], self.idx[:b], self.vals[:b]
        tmp, diff = self.tmp[:b], self.diff[:b]
        # Pack (sortable distance bits, id position) into one uint64 per cell. All cells
        # are distinct, so a plain (fast, unstable) sort gives the exact (distance, id)
        # order. Float order as unsigned order: negative -> flip all bits, else set the
        # sign bit.
        signed = keys.view(np.int32)
        np.right_shift(signed, 31, out=tmp)  # arithmetic: -1 where negative, else 0
        tmp |= np.int32(-(2**31))
        tmp ^= signed
        words = packed.view(np.uint32).reshape(b, n, 2)
        words[:, :, _HI] = tmp.view(np.uint32)
        lo = words[:, :, _LO]
        lo[...] = self.pos
        packed.sort(axis=1)
        idx[...] = lo  # rank -> id position, contiguous for the gather and the bincount
        # Scores in rank order, then the backward recursion of knn_shapley_scores.
        u8 = (self.train.codes[idx] == qcodes[:b, None]).view(np.int8)
        np.subtract(u8[:, :-1], u8[:, 1:], out=diff[:, :-1])  # u_i - u_{i+1}, u_{N+1} = 0
        diff[:, -1] = u8[:, -1]
        np.multiply(diff, self.coef, out=vals)
        rev = vals[:, ::-1]
        np.cumsum(rev, axis=1, out=rev)
        sums = np.bincount(idx.ravel(), weights=vals.ravel(), minlength=n)
        return cast(FloatArray, sums)  # float64 when weighted; the stubs say intp


def _values(
    train: _Train, valid_x: Any, valid_y: Any, k: int, batch_size: int, workers: int
) -> FloatArray:
    for name, v in (("batch_size", batch_size), ("workers", workers)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SchemaError(f"{name} must be an integer >= 1", **{name: repr(v)})
    vx = _as_float_matrix(valid_x, "valid_x", np.float32)
    if vx.shape[1] != train.x.shape[1]:
        raise SchemaError("valid_x and train_x have different widths", shape=list(vx.shape))
    m = vx.shape[0]
    vcodes = _encode_valid(train, _as_labels(valid_y, m, "valid_y"))
    if train.metric == "cosine":
        vx = _normalise(vx)
    # Scaling the queries by -2 (euclidean) or -1 (cosine) is exact and saves a pass:
    # keys = |x|^2 - 2 q.x (|q - x|^2 less its row constant |q|^2) or -cos(q, x).
    vx = vx * np.float32(-2.0 if train.metric == "euclidean" else -1.0)
    # Cap the cells per batch so that memory stays bounded however large N is.
    rows = max(1, min(batch_size, m, _MAX_CELLS // train.x.shape[0]))
    starts = range(0, m, rows)
    local = threading.local()

    def run(start: int) -> FloatArray:
        if not hasattr(local, "batch"):
            local.batch = _Batch(train, k, rows)
        batch: _Batch = local.batch
        return batch.run(vx[start : start + rows], vcodes[start : start + rows])

    total = np.zeros(train.x.shape[0], dtype=np.float64)
    # Sorting is single-threaded, so batches run on `workers` threads (numpy releases
    # the GIL); the per-batch sums are added in batch order, so threads never change
    # the result.
    with ThreadPoolExecutor(max_workers=min(workers, len(starts))) as pool:
        for part in pool.map(run, starts):
            total += part
    out = np.empty_like(total)
    out[train.by_id] = total / m
    return out


def knn_shapley_classification(
    train_x: npt.ArrayLike,
    train_y: npt.ArrayLike,
    valid_x: npt.ArrayLike,
    valid_y: npt.ArrayLike,
    k: int,
    *,
    metric: str = "euclidean",
    ids: npt.ArrayLike | None = None,
    batch_size: int = 256,
    workers: int = 2,
) -> FloatArray:
    """Exact KNN-Shapley value of each training row for a K-NN classifier.

    Distances are computed in float32 (a matrix product per batch of
    validation points); each validation point is one game with
    ``u_i = 1[y_i == y_valid]``, and a row's value is its mean over the games.

    Args:
        train_x: ``(N, D)`` training features.
        train_y: ``(N,)`` training labels (any sortable dtype).
        valid_x: ``(M, D)`` validation features.
        valid_y: ``(M,)`` validation labels; labels unseen in training match nothing.
        k: The K of the classifier, ``>= 1``.
        metric: ``"euclidean"`` or ``"cosine"`` (``1 - cosine similarity``;
            zero vectors are at distance 1 from everything).
        ids: ``(N,)`` unique record ids for the tie-break; default ``arange(N)``.
        batch_size: At most this many validation points per batch (also capped
            at ``2**24 // N``); each worker holds a float32 block of
            ``batch * N`` distances (at most 64 MB) plus ~5 MB of chunk buffers.
        workers: Threads that run batches concurrently. The result does not
            depend on it (batch sums are added in batch order).

    Returns:
        ``(N,)`` float64 values aligned with the training rows. Their sum is the
        mean over validation points of ``U(full set)``.

    Raises:
        SchemaError: On bad shapes, arguments, non-finite features or ids.
    """
    k = _check_k(k)
    train = _prepare(train_x, train_y, metric, ids)
    return _values(train, valid_x, valid_y, k, batch_size, workers)


class KNNShapley:
    """Strategy object around :func:`knn_shapley_classification` (pyDVL-like).

    Example:
        >>> v = KNNShapley(k=5).fit(train_x, train_y).values(valid_x, valid_y)  # doctest: +SKIP
    """

    def __init__(
        self, k: int, metric: str = "euclidean", *, batch_size: int = 256, workers: int = 2
    ) -> None:
        """Configure the game.

        Args:
            k: The K of the classifier, ``>= 1``.
            metric: ``"euclidean"`` or ``"cosine"``.
            batch_size: Validation points per batch.
            workers: Threads that run batches concurrently.
        """
        self.k = _check_k(k)
        if metric not in METRICS:
            raise SchemaError(f"metric must be one of {METRICS}", metric=metric)
        self.metric = metric
        self.batch_size = batch_size
        self.workers = workers
        self._train: _Train | None = None

    def fit(
        self, train_x: npt.ArrayLike, train_y: npt.ArrayLike, ids: npt.ArrayLike | None = None
    ) -> KNNShapley:
        """Prepare the training set once (id order, float32, label codes).

        Args:
            train_x: ``(N, D)`` training features.
            train_y: ``(N,)`` training labels.
            ids: ``(N,)`` unique record ids; default ``arange(N)``.

        Returns:
            ``self``.
        """
        self._train = _prepare(train_x, train_y, self.metric, ids)
        return self

    def values(self, valid_x: npt.ArrayLike, valid_y: npt.ArrayLike) -> FloatArray:
        """Values of the fitted training rows on a validation set.

        Args:
            valid_x: ``(M, D)`` validation features.
            valid_y: ``(M,)`` validation labels.

        Returns:
            ``(N,)`` float64 values aligned with the fitted training rows.

        Raises:
            SchemaError: If called before :meth:`fit`, or on bad inputs.
        """
        if self._train is None:
            raise SchemaError("KNNShapley.values called before fit")
        return _values(self._train, valid_x, valid_y, self.k, self.batch_size, self.workers)
