"""The vector index port: its protocol, input checks and the exact ranking both backends share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from fairwheel.errors import SchemaError

# Candidates whose float32 score is within this of the k-th best are re-scored in float64, so
# float32 rounding can neither reorder near-ties nor drop a tied id with a smaller number.
_TIE_SLACK = 1e-4


@runtime_checkable
class VectorIndex(Protocol):
    """Cosine-similarity search over vectors keyed by int64 record ids.

    The index is derived data: the database is the source of truth, and :attr:`generation`
    tells the node whether the index still mirrors it.
    """

    dim: int

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert vectors; re-adding an id (live or removed) replaces its vector."""
        ...

    def remove(self, ids: Sequence[int]) -> None:
        """Remove ids so that no later search returns them; unknown ids are ignored."""
        ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` most similar live ids as ``(id, cosine)``, best first, ties by smaller id."""
        ...

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each row of ``queries`` ``(m, dim)``, in one pass where the
        backend can batch it (the gate asks for a whole submission batch's neighbours)."""
        ...

    def __len__(self) -> int:
        """Number of live (not removed) ids."""
        ...

    def ids(self) -> set[int]:
        """The live ids (a copy)."""
        ...

    def save(self) -> None:
        """Persist the index and its generation (a no-op for in-memory backends)."""
        ...

    @property
    def generation(self) -> str:
        """Opaque marker saved with the index; ``""`` for a new or cleared index."""
        ...

    def set_generation(self, value: str) -> None:
        """Set the marker (persisted by the next :meth:`save`)."""
        ...

    def clear(self) -> None:
        """Remove every id and reset the generation to ``""``."""
        ...


def check_batch(ids: Sequence[int], vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate an ``add`` batch; return ``(ids, unit float32 rows)``, last duplicate winning.

    Raises:
        SchemaError: shape or dimension mismatch, negative ids, or non-finite / zero vectors.
    """
    id_array = np.asarray(list(ids), dtype=np.int64).reshape(-1)
    matrix = np.asarray(vectors)
    if matrix.ndim == 1 and len(id_array) == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise SchemaError(
            f"vectors must have shape (n, {dim}), got {matrix.shape}", expected_dim=dim
        )
    if matrix.shape[0] != len(id_array):
        raise SchemaError(f"{len(id_array)} ids for {matrix.shape[0]} vectors")
    if len(id_array) and int(id_array.min()) < 0:
        raise SchemaError("record ids must be non-negative")
    # Keep the last occurrence of a repeated id, as if the adds had been made one by one.
    _, last = np.unique(id_array[::-1], return_index=True)
    keep = np.sort(len(id_array) - 1 - last)
    return id_array[keep], normalise_rows(matrix[keep])


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit float32 rows (norms taken in float64).

    Raises:
        SchemaError: a row is not finite or has zero length (cosine is undefined for it).
    """
    wide = np.asarray(matrix, dtype=np.float64)
    if not np.isfinite(wide).all():
        raise SchemaError("vectors must be finite (found NaN or infinity)")
    norms = np.linalg.norm(wide, axis=1, keepdims=True)
    if len(norms) and float(norms.min()) == 0.0:
        raise SchemaError("zero vectors have no direction and cannot be indexed or searched")
    return (wide / norms).astype(np.float32)


def check_queries(queries: np.ndarray, k: int, dim: int) -> np.ndarray:
    """Validate a batch of queries ``(m, dim)``; return them as unit float64 rows.

    Raises:
        SchemaError: wrong shape, negative ``k``, or a non-finite / zero query.
    """
    if k < 0:
        raise SchemaError(f"k must be non-negative, got {k}")
    matrix = np.asarray(queries)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise SchemaError(f"queries must have shape (m, {dim}), got {matrix.shape}",
                          expected_dim=dim)  # fmt: skip
    return normalise_rows(matrix).astype(np.float64)


def check_query(query: np.ndarray, k: int, dim: int) -> np.ndarray:
    """Validate a query; return it as a unit float64 vector.

    Raises:
        SchemaError: wrong dimension, negative ``k``, or a non-finite / zero query.
    """
    if k < 0:
        raise SchemaError(f"k must be non-negative, got {k}")
    vector = np.asarray(query)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1 or vector.shape[0] != dim:
        raise SchemaError(f"query must have shape ({dim},), got {vector.shape}", expected_dim=dim)
    return normalise_rows(vector.reshape(1, -1))[0].astype(np.float64)


def rank_exact(
    ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Exact top-k by cosine, best first, ties broken by smaller id.

    A float32 pass over all rows finds the candidates (everything within ``_TIE_SLACK`` of the
    k-th score); they are then re-scored in float64 row by row, which is bit-for-bit the same
    for identical vectors, so ties are real ties and break on the id.

    Args:
        ids: ``(n,)`` int64 ids.
        vectors: ``(n, dim)`` unit float32 rows.
        query: ``(dim,)`` unit float64 query.
        k: How many results; more than ``n`` returns all.

    Returns:
        Up to ``k`` ``(id, cosine)`` pairs.
    """
    n = len(ids)
    if k <= 0 or n == 0:
        return []
    rough = vectors @ query.astype(np.float32)
    if k < n:
        kth = np.partition(rough, n - k)[n - k]
        candidates = np.flatnonzero(rough >= kth - _TIE_SLACK)
    else:
        candidates = np.arange(n)
    # Row-wise multiply-and-sum (not BLAS), so equal rows give equal scores.
    scores = np.clip((vectors[candidates].astype(np.float64) * query).sum(axis=1), -1.0, 1.0)
    cand_ids = ids[candidates]
    order = np.lexsort((cand_ids, -scores))[:k]
    return [(int(cand_ids[i]), float(scores[i])) for i in order]
