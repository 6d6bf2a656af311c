"""``exact://``: brute-force cosine search in numpy, in memory. The reference backend."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from fairwheel.index.base import check_batch, check_queries, check_query, rank_exact


class ExactIndex:
    """Exact search over unit float32 rows kept in one growing matrix.

    Rows are packed (a removal moves the last row into the hole), so a search is one
    matrix-vector product. Nothing is persisted: :meth:`save` does nothing and a new instance
    starts empty, which the node sees as a stale generation and rebuilds.

    Args:
        dim: Vector length.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._lock = threading.RLock()
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._generation = ""

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert or replace vectors.

        Raises:
            SchemaError: wrong shape or dimension, negative id, non-finite or zero vector.
        """
        id_array, rows = check_batch(ids, vectors, self.dim)
        with self._lock:
            new = [i for i, rid in enumerate(id_array.tolist()) if rid not in self._row]
            start = len(self._row)
            self._reserve(start + len(new))
            for offset, i in enumerate(new):
                self._row[int(id_array[i])] = start + offset
                self._ids[start + offset] = id_array[i]
            positions = [self._row[rid] for rid in id_array.tolist()]
            self._matrix[positions] = rows

    def _reserve(self, needed: int) -> None:
        if needed <= len(self._ids):
            return
        capacity = max(needed, 2 * len(self._ids), 1024)
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        ids = np.zeros(capacity, dtype=np.int64)
        live = len(self._row)
        matrix[:live] = self._matrix[:live]
        ids[:live] = self._ids[:live]
        self._matrix, self._ids = matrix, ids

    def remove(self, ids: Sequence[int]) -> None:
        """Remove ids; unknown ids are ignored."""
        with self._lock:
            for rid in ids:
                row = self._row.pop(int(rid), None)
                if row is None:
                    continue
                last = len(self._row)
                if row != last:
                    moved = int(self._ids[last])
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._row[moved] = row

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top-k by cosine, best first, ties by smaller id.

        Raises:
            SchemaError: wrong query dimension, negative k, non-finite or zero query.
        """
        q = check_query(query, k, self.dim)
        with self._lock:
            live = len(self._row)
            return rank_exact(self._ids[:live], self._matrix[:live], q, k)

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each row of ``queries``, in one lock hold.

        Raises:
            SchemaError: wrong query shape, negative k, non-finite or zero query.
        """
        rows = check_queries(queries, k, self.dim)
        with self._lock:
            live = len(self._row)
            ids, matrix = self._ids[:live], self._matrix[:live]
            return [rank_exact(ids, matrix, q, k) for q in rows]

    def __len__(self) -> int:
        return len(self._row)

    def ids(self) -> set[int]:
        """The live ids."""
        with self._lock:
            return set(self._row)

    def save(self) -> None:
        """Nothing to do: this backend lives in memory only."""

    @property
    def generation(self) -> str:
        """The marker last set (``""`` when new or cleared)."""
        return self._generation

    def set_generation(self, value: str) -> None:
        """Set the generation marker."""
        self._generation = str(value)

    def clear(self) -> None:
        """Drop every vector and reset the generation."""
        with self._lock:
            self._matrix = np.zeros((0, self.dim), dtype=np.float32)
            self._ids = np.zeros(0, dtype=np.int64)
            self._row.clear()
            self._generation = ""
