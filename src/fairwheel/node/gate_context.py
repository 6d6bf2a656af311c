"""The gate's view of a pool during one submitted batch: the store, the index, the batch.

The index does not change until the batch commits, so the neighbours of every submission are
fetched in one :meth:`VectorIndex.search_many` with one owner lookup; the near-duplicate,
finder and junk steps of one record then share them (plus this batch's accepts, which are not
indexed yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fairwheel.index import VectorIndex
    from fairwheel.store import Store

__all__ = ["StoreGateContext"]

# Index neighbours the near-duplicate step looks at per submission.
_NEIGHBOURS = 20


class StoreGateContext:
    """The gate's view of a pool, read from the store and index, plus this batch's accepts."""

    def __init__(self, store: Store, pool_id: int, index: VectorIndex) -> None:
        self.store = store
        self.pool_id = pool_id
        self.index = index
        self.pending: list[tuple[int, str, np.ndarray]] = []
        self._neighbours: dict[bytes, list[tuple[int, float, str]]] = {}
        self._last_hits: tuple[tuple[bytes, int], list[tuple[int, float, str]]] | None = None

    def nonce_used(self, contributor: str, nonce: int) -> bool:
        return self.store.nonce_used(contributor, nonce)

    def duplicate_owner(self, dup_key: bytes) -> int | None:
        return self.store.owner_of_duplicate(self.pool_id, dup_key)

    def prefetch_neighbours(self, vectors: Sequence[np.ndarray]) -> None:
        """Search the index once for the whole batch (the index does not change until the
        batch is committed), with one owner lookup for every hit."""
        if not len(vectors):
            return
        hits = self.index.search_many(np.stack(vectors), _NEIGHBOURS)
        owners = self.store.record_owners(sorted({rid for row in hits for rid, _ in row}))
        for vector, row in zip(vectors, hits, strict=True):
            self._neighbours[vector.tobytes()] = [
                (rid, cosine, owners[rid]["contributor"]) for rid, cosine in row
            ]

    def _hits(self, vector: np.ndarray) -> list[tuple[int, float, str]]:
        """Index neighbours (prefetched) and this batch's accepts: ``(id, cosine, owner)``."""
        key = (vector.tobytes(), len(self.pending))  # each step of one record asks again
        if self._last_hits is not None and self._last_hits[0] == key:
            return self._last_hits[1]
        hits = self._neighbours.get(key[0])
        if hits is None:  # not prefetched: ask the index now
            self.prefetch_neighbours([vector])
            hits = self._neighbours[key[0]]
        if self.pending:
            cosines = np.stack([other for _, _, other in self.pending]) @ vector
            pending = zip(self.pending, cosines, strict=True)
            hits = hits + [(rid, float(cos), owner.lower()) for (rid, owner, _), cos in pending]
        self._last_hits = (key, hits)
        return hits

    def vector_neighbours(self, vector: np.ndarray) -> list[tuple[int, float]]:
        """``(id, cosine)`` of the record's nearest accepted records, for the finder."""
        return [(rid, cosine) for rid, cosine, _ in self._hits(vector)]

    def knn_other(self, vector: np.ndarray, contributor: str, k: int) -> float | None:
        """The junk check's ``knn`` feature from the index: the mean cosine to the ``k``
        nearest records of other contributors (None if there are none: the pool profile then
        searches its own vectors)."""
        contributor = contributor.lower()
        cosines = sorted((c for _, c, owner in self._hits(vector) if owner != contributor),
                         reverse=True)[:k]  # fmt: skip
        return float(np.mean(cosines)) if cosines else None

    def nearest_other(self, vector: np.ndarray, contributor: str) -> tuple[int, float] | None:
        best: tuple[int, float] | None = None
        contributor = contributor.lower()
        for rid, cosine, owner in self._hits(vector):
            if owner != contributor and (best is None or cosine > best[1]):
                best = (rid, float(cosine))
        return best
