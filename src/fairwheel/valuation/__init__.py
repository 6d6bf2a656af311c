"""Valuation and attribution: exact KNN-Shapley values and the per-call money split.

Pure modules (numpy and the standard library). The rule, precise enough to
reimplement, is in ``docs/valuation.md``.
"""

from __future__ import annotations

from fairwheel.valuation.knn_shapley import (
    METRICS,
    KNNShapley,
    group_values,
    knn_shapley_classification,
    knn_shapley_scores,
    rank_order,
    ranked_retrieval_shapley,
    retrieval_shapley,
)
from fairwheel.valuation.split import (
    BPS,
    PREDICT,
    SEARCH,
    WEIGHT_SCALE,
    CallSplit,
    SplitPolicy,
    Totals,
    aggregate,
    split_call,
)

__all__ = [
    "BPS",
    "METRICS",
    "PREDICT",
    "SEARCH",
    "WEIGHT_SCALE",
    "CallSplit",
    "KNNShapley",
    "SplitPolicy",
    "Totals",
    "aggregate",
    "group_values",
    "knn_shapley_classification",
    "knn_shapley_scores",
    "rank_order",
    "ranked_retrieval_shapley",
    "retrieval_shapley",
    "split_call",
]
