"""The records behind a prediction: the serving version's training records nearest the query.

A prediction is the model's answer, and the model learnt it from its training records, so the
records a rating of that answer re-weights are the version's own training records with the
predicted label, nearest the query — not whatever the pool holds now (a record sent after the
version was trained had no part in its answer).

A version's training set never changes, so its records' labels and vectors are read once per
process and grouped by label (:class:`LabelGroups`). A call then compares the query with its
label's group: one matrix product over a few hundred rows, cheaper than a second index search.
A group past :data:`EXACT_LIMIT` rows is searched through the pool's index instead, keeping the
training records of that label among the nearest (see ``ServingService._neighbours``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fairwheel.index.base import rank_exact

if TYPE_CHECKING:
    from fairwheel.store import Store

__all__ = ["EXACT_LIMIT", "LabelGroups", "label_groups"]

#: Largest label group compared by brute force (4,096 × 384 floats: ~0.3 ms); past it the
#: pool's index finds the nearest, as a search does.
EXACT_LIMIT = 4096

_CHUNK = 2000  # ids per read: well under SQLite's limit on bound parameters


@dataclass(frozen=True)
class LabelGroups:
    """One model version's training records by label.

    Attributes:
        ids: Label → the records' ids (ascending), int64.
        vectors: Label → their unit embeddings, ``(len(ids), dim)`` float32, row for row.
    """

    ids: dict[str, np.ndarray]
    vectors: dict[str, np.ndarray]

    def nearest(self, label: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` of the label's training records nearest ``vector`` by cosine, as
        ``(id, cosine)``, best first, ties to the lower id (the index's exact ranking)."""
        ids = self.ids.get(label)
        if ids is None:
            return []
        return rank_exact(ids, self.vectors[label], np.asarray(vector, dtype=np.float64), k)


def label_groups(store: Store, model_id: int) -> LabelGroups:
    """Read model version ``model_id``'s training records (their labels and stored
    embeddings) and group them by label; records without either are left out."""
    ids = store.model_records_of(model_id)
    labels: dict[int, str] = {}
    vectors: dict[int, np.ndarray] = {}
    for part in _chunks(ids):
        labels.update({rid: row["label"] for rid, row in store.served_records(part).items()
                       if row["label"] is not None})  # fmt: skip
        vectors.update(store.vectors_of(part))
    by_label: dict[str, list[int]] = {}
    for rid in ids:
        if rid in labels and rid in vectors:
            by_label.setdefault(labels[rid], []).append(rid)
    return LabelGroups(
        ids={label: np.asarray(group, dtype=np.int64) for label, group in by_label.items()},
        vectors={
            label: np.stack([vectors[rid] for rid in group]).astype(np.float32)
            for label, group in by_label.items()
        },
    )


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[start : start + _CHUNK]) for start in range(0, len(ids), _CHUNK)]
