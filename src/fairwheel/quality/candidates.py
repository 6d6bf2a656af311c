"""Near-duplicate candidates for judging a whole pool in order (rescoring, the audit).

Where :class:`~fairwheel.quality.near_duplicate.NearDuplicateFinder` answers for one new text,
:func:`ordered_candidates` gives every row of a pool its candidate *earlier* rows at once, in
matrix products, so that the caller can judge the rows in first-ownership order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fairwheel.quality.near_duplicate import NUM_PERM, NearDuplicateRule, make_hasher, top_k

__all__ = ["ordered_candidates"]


def ordered_candidates(
    texts: Sequence[str],
    vectors: npt.NDArray[np.float32] | None,
    owners: Sequence[str | None] | None,
    rule: NearDuplicateRule,
    spare: int = 2,
    among: Sequence[int] | None = None,
) -> list[list[tuple[int, float | None]]]:
    """For each row, candidate *earlier* rows of other owners, for judging rows in order.

    Computed in batches (matrix products instead of one scan per row). Each row gets the
    ``spare * rule.candidates`` earlier rows of highest estimated Jaccard similarity (at least
    ``rule.candidate_jaccard``) and the ``spare * 3`` of highest cosine, so that the caller can
    skip rows it has since rejected or removed and still have candidates left.

    Args:
        among: Only these rows may be candidates (all rows by default): comparing every row
            with a few is linear, with all of them quadratic.

    Returns:
        Per row, ``[(earlier row, cosine or None), ...]`` in row order.
    """
    if among is not None:
        return _candidates_among(texts, vectors, owners, rule, spare, sorted(set(among)))
    n = len(texts)
    sigs = make_hasher().signatures(texts).astype(np.uint16)
    owner_ids = np.zeros(n, dtype=np.int64)
    if owners is not None:
        ids: dict[str | None, int] = {}
        owner_ids = np.asarray(
            [ids.setdefault(o.lower() if o else None, len(ids)) for o in owners], dtype=np.int64
        )
        has_owner = np.asarray([o is not None for o in owners])
    out: list[list[tuple[int, float | None]]] = [[] for _ in range(n)]
    k_hash, k_cos = spare * rule.candidates, spare * 3
    step = 32
    for start in range(1, n, step):
        stop = min(n, start + step)
        rows = np.arange(start, stop)
        earlier = np.arange(stop)
        blocked = earlier[None, :] >= rows[:, None]
        if owners is not None:
            same = owner_ids[rows][:, None] == owner_ids[None, :stop]
            blocked |= same & has_owner[rows][:, None]
        est = np.count_nonzero(sigs[rows][:, None, :] == sigs[None, :stop, :], axis=2) / NUM_PERM
        est[blocked] = -1.0
        sims = None
        if vectors is not None:
            sims = vectors[rows] @ vectors[:stop].T
            sims[blocked] = -np.inf
        for r, i in enumerate(rows):
            found: dict[int, float | None] = {}
            for j in top_k(est[r], k_hash):
                if est[r, j] >= rule.candidate_jaccard:
                    found[int(j)] = None
            if sims is not None:
                for j in top_k(sims[r], k_cos):
                    if np.isfinite(sims[r, j]):
                        found[int(j)] = float(sims[r, j])
            out[int(i)] = sorted(found.items())
    return out


def _candidates_among(
    texts: Sequence[str],
    vectors: npt.NDArray[np.float32] | None,
    owners: Sequence[str | None] | None,
    rule: NearDuplicateRule,
    spare: int,
    among: list[int],
) -> list[list[tuple[int, float | None]]]:
    """:func:`ordered_candidates` with the candidates restricted to the rows ``among``."""
    n = len(texts)
    out: list[list[tuple[int, float | None]]] = [[] for _ in range(n)]
    if not among or n < 2:
        return out
    cols = np.asarray(among, dtype=np.int64)
    hasher = make_hasher()
    col_sigs = hasher.signatures([texts[int(j)] for j in cols]).astype(np.uint16)
    ids: dict[str | None, int] = {}
    owner_of = [o.lower() if o else None for o in owners] if owners is not None else [None] * n
    owner_ids = np.asarray([ids.setdefault(o, len(ids)) for o in owner_of], dtype=np.int64)
    has_owner = np.asarray([o is not None for o in owner_of])
    k_hash, k_cos = spare * rule.candidates, spare * 3
    first = int(cols[0]) + 1  # rows before the first candidate have no earlier candidate
    step = max(1, min(256, 8_000_000 // (NUM_PERM * len(cols))))  # ~8M comparisons a block
    for start in range(first, n, step):
        rows = np.arange(start, min(n, start + step))
        sigs = hasher.signatures([texts[int(i)] for i in rows]).astype(np.uint16)
        blocked = cols[None, :] >= rows[:, None]
        same = owner_ids[rows][:, None] == owner_ids[cols][None, :]
        blocked |= same & has_owner[rows][:, None]
        est = np.count_nonzero(sigs[:, None, :] == col_sigs[None, :, :], axis=2) / NUM_PERM
        est[blocked] = -1.0
        sims = None
        if vectors is not None:
            sims = vectors[rows] @ vectors[cols].T
            sims[blocked] = -np.inf
        for r, i in enumerate(rows):
            found: dict[int, float | None] = {}
            for c in top_k(est[r], k_hash):
                if est[r, c] >= rule.candidate_jaccard:
                    found[int(cols[c])] = None
            if sims is not None:
                for c in top_k(sims[r], k_cos):
                    if np.isfinite(sims[r, c]):
                        found[int(cols[c])] = float(sims[r, c])
            out[int(i)] = sorted(found.items())
    return out
