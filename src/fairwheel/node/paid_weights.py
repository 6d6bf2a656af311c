"""Who a paid call pays: its records' values, reweighted by feedback, shared with labelers.

Pure functions over what the serving path has read (candidates, their rows, labelers'
credit); :mod:`fairwheel.node.serving` calls them on every paid search and prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["beneficiary_weights", "reweighted", "search_values", "search_weights"]


def beneficiary_weights(
    values: Mapping[int, float],
    records: Mapping[int, Mapping[str, Any]],
    credit: Mapping[int, Mapping[str, float]] | None = None,
    labeler_share_bps: int = 0,
) -> dict[str, float]:
    """Sum records' values per beneficiary; labelled records share theirs with their labelers.

    A record with labeler credit gives ``labeler_share_bps`` of its value to the labelers
    whose answers confirmed its label (by their credit shares), the rest to its contributor.
    """
    weights: dict[str, float] = {}
    part = labeler_share_bps / 10_000
    for rid, value in values.items():
        shares = (credit or {}).get(rid)
        owner = records[rid]["contributor"]
        if shares and part > 0:
            weights[owner] = weights.get(owner, 0.0) + value * (1 - part)
            for labeler, share in shares.items():
                weights[labeler] = weights.get(labeler, 0.0) + value * part * share
        else:
            weights[owner] = weights.get(owner, 0.0) + value
    return weights


def search_weights(
    candidates: list[tuple[int, float]],
    records: Mapping[int, Mapping[str, Any]],
    k: int,
    credit: Mapping[int, Mapping[str, float]] | None = None,
    labeler_share_bps: int = 0,
) -> dict[str, float]:
    """Beneficiaries' weights for one paid search: their records' exact retrieval Shapley values.

    Args:
        candidates: (record id, cosine similarity) of the servable candidates, best first.
        records: the candidates' store rows (for their contributors).
        k: the number of results the consumer paid for.
        credit: labelers' credit per record (see :func:`beneficiary_weights`).
        labeler_share_bps: the pool's labeler share.
    """
    values = search_values(candidates, k)
    return beneficiary_weights(values, records, credit, labeler_share_bps)


def search_values(candidates: list[tuple[int, float]], k: int) -> dict[int, float]:
    """Each candidate record's exact retrieval Shapley value for one top-``k`` search.

    ``candidates`` are best first (as :func:`reweighted` orders them); negative cosines count
    as relevance 0, which keeps that order.
    """
    from fairwheel.valuation import ranked_retrieval_shapley

    values = ranked_retrieval_shapley([max(score, 0.0) for _, score in candidates], k)
    return {rid: v for (rid, _), v in zip(candidates, values, strict=True)}


def reweighted(
    candidates: list[tuple[int, float]], weights: Mapping[int, float]
) -> list[tuple[int, float]]:
    """Candidates with their scores times their feedback weight (1.0 without feedback),
    best first: records behind bad answers sink in the ranking and in the revenue share."""
    scored = [(rid, score * weights.get(rid, 1.0)) for rid, score in candidates]
    return sorted(scored, key=lambda c: (-c[1], c[0]))
