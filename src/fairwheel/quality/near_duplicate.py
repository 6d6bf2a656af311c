"""Near duplicates across contributors: is a new text an edited copy of an earlier record?

Embedding cosine alone cannot tell (measured on banking77, ``docs/quality.md``): honest
paraphrases of one intent sit at cosine 0.9–0.99 while a copy with two typos can fall to 0.5.
So the decision is textual. Candidates come from MinHash/LSH over character 3-grams (and from the
embedding neighbours when the caller has them); each candidate is then aligned with the new text
word by word, with typo-tolerant word equality (:func:`same_word`), which counts

* ``dropped``: words of the earlier record missing from the new text, and
* ``added``: words of the new text missing from the earlier record.

Typos, casing and punctuation leave both at zero; a dropped word makes ``dropped`` 1; a suffix or
prefix raises ``added``. Honest paraphrases usually change words on both sides. The rule
(:class:`NearDuplicateRule`) has two tiers:

* **strict** — a copy beyond reasonable doubt: the gate rejects it (``near_duplicate
  duplicate_of N``);
* **loose** — *suspect*: accepted, but counted as evidence against its contributor; a
  contributor whose share of suspect records crosses a threshold has them quarantined
  (:mod:`fairwheel.quality.review`).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from fairwheel.quality.minhash import MinHasher, MinHashIndex, shingle_text

#: MinHash parameters of the gate: 120 permutations in 40 bands of 3 rows over 3-grams. A pair
#: of Jaccard similarity 0.5 becomes a candidate with probability 0.994, one of 0.1 with 0.04.
NUM_PERM = 120
BANDS = 40
SHINGLE = 3

#: Most texts an LSH bucket keeps (its first, in first-ownership order). A band value shared by
#: more is boilerplate (a template, a reference clause): without a cap, every text carrying it
#: collides with all earlier ones, and a query's candidates grow with the pool (7,300 slots a
#: query at 100k templated texts, 4.4 ms). A later text stays reachable through its other bands
#: and the caller's embedding neighbours; a near copy matches in ~20 of the 40 bands.
BUCKET_CAP = 32


def make_hasher() -> MinHasher:
    """The MinHasher whose signatures the near-duplicate check compares."""
    return MinHasher(num_perm=NUM_PERM, k=SHINGLE, seed=1)


def make_index() -> MinHashIndex:
    """An empty LSH index matching :func:`make_hasher`."""
    return MinHashIndex(num_perm=NUM_PERM, bands=BANDS)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) by Myers' bit-parallel algorithm."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    pattern, text = b, a  # the shorter string is the bit pattern
    m = len(pattern)
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


@lru_cache(maxsize=1 << 16)
def same_word(a: str, b: str) -> bool:
    """Typo-tolerant word equality: equal, two letters swapped, or a small edit distance.

    Words of five letters or fewer may differ by one edit, longer ones by two; words of one or
    two letters must be equal (or swapped, ``ym`` for ``my``).
    """
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 2:
        return False
    swapped = la == lb >= 2 and sum(x != y for x, y in zip(a, b, strict=True)) == 2
    if swapped and sorted(a) == sorted(b):
        return True  # one transposition
    if min(la, lb) < 3:
        return False
    return levenshtein(a, b) <= (1 if max(la, lb) <= 5 else 2)


@dataclass(frozen=True)
class Alignment:
    """How a new text's words line up with an earlier record's words."""

    dropped: int  # words of the earlier record missing from the new text
    added: int  # words of the new text missing from the earlier record
    new_words: int
    old_words: int


@lru_cache(maxsize=1 << 14)
def words(text: str) -> tuple[str, ...]:
    """The words the alignment compares (normalised as for shingling)."""
    return tuple(shingle_text(text).split())


def _unpaired(mine: tuple[str, ...], theirs: tuple[str, ...], limit: int) -> int:
    """How many of ``mine`` have no :func:`same_word` partner in ``theirs`` — a lower bound on
    the words an alignment leaves out of ``mine`` — counted only as far as the one question
    callers ask: the result exceeds ``limit`` exactly when the true count does.

    Words with an exact partner are skipped by a set lookup; the typo-tolerant comparison runs
    only while the answer is open, and only against words whose length is within two.
    """
    exact = set(theirs)
    loose = [word for word in mine if word not in exact]
    missing = 0
    for left, word in zip(range(len(loose), 0, -1), loose, strict=True):
        if missing + left <= limit:
            return missing + left  # within limit even if no word left has a partner
        size = len(word)
        if not any(same_word(word, other) for other in theirs if abs(len(other) - size) <= 2):
            missing += 1
            if missing > limit:
                return missing
    return missing


def align(new: str, old: str) -> Alignment:
    """Align two texts word by word (longest common subsequence under :func:`same_word`)."""
    a = words(new)
    b = words(old)
    prev = [0] * (len(b) + 1)
    for wa in a:
        cur = [0] * (len(b) + 1)
        for j, wb in enumerate(b, 1):
            cur[j] = prev[j - 1] + 1 if same_word(wa, wb) else max(prev[j], cur[j - 1])
        prev = cur
    common = prev[-1]
    return Alignment(len(b) - common, len(a) - common, len(a), len(b))


@dataclass(frozen=True)
class NearDuplicateRule:
    """The thresholds of the near-duplicate check (chosen by measurement, ``docs/quality.md``).

    Attributes:
        min_words: Texts of fewer words (either side) are never near duplicates: too little
            text to tell a copy from a coincidence (exact copies are caught before).
        strict_added: Strict: no word dropped and at most this many added ...
        strict_dropped: ... or at most this many dropped and none added ...
        strict_dropped_min_words: ... when the earlier record has at least this many words.
        loose_dropped: Loose (suspect): at most this many dropped ...
        loose_added: ... and at most this many added.
        strict_cosine: Strict on embeddings alone at or above this cosine; None (the default)
            disables it: measured, it flags template twins ("my peso payment" / "my rupee
            payment") more than copies.
        candidate_jaccard: Least estimated 3-gram Jaccard similarity for a MinHash candidate.
        candidates: Most MinHash candidates aligned per text.
    """

    min_words: int = 3
    strict_added: int = 1
    strict_dropped: int = 1
    strict_dropped_min_words: int = 8
    loose_dropped: int = 1
    loose_added: int = 3
    strict_cosine: float | None = None
    candidate_jaccard: float = 0.25
    candidates: int = 8

    def possible(self, new_words: int, old_words: int) -> bool:
        """Whether texts of these lengths can match at all (spares the alignment)."""
        if min(new_words, old_words) < self.min_words:
            return False
        most_dropped = max(self.loose_dropped, self.strict_dropped)
        return new_words - old_words <= self.loose_added and old_words - new_words <= most_dropped

    def classify(self, al: Alignment, cosine: float | None = None) -> str | None:
        """``"strict"``, ``"loose"`` or None for one aligned pair."""
        if cosine is not None and self.strict_cosine is not None and cosine >= self.strict_cosine:
            return "strict"
        if min(al.new_words, al.old_words) < self.min_words:
            return None
        if (al.dropped == 0 and al.added <= self.strict_added) or (
            al.added == 0
            and al.dropped <= self.strict_dropped
            and al.old_words >= self.strict_dropped_min_words
        ):
            return "strict"
        if al.dropped <= self.loose_dropped and al.added <= self.loose_added:
            return "loose"
        return None


@dataclass(frozen=True)
class NearDuplicateMatch:
    """The strongest near-duplicate match of a text, if any.

    Attributes:
        kind: ``"strict"`` or ``"loose"``.
        owner: The earlier record's key (record id or row number).
        alignment: The word alignment with that record (None for a match by cosine alone).
        cosine: Their embedding cosine, when known.
    """

    kind: str
    owner: Hashable
    alignment: Alignment | None
    cosine: float | None

    @property
    def strict(self) -> bool:
        return self.kind == "strict"

    def reason(self) -> str:
        """``"near_duplicate duplicate_of N (...)"`` or ``"near_duplicate_suspect ..."``."""
        tag = "near_duplicate" if self.strict else "near_duplicate_suspect"
        parts = [f"{tag} duplicate_of {self.owner}"]
        if self.alignment is not None:
            parts.append(f"dropped {self.alignment.dropped} added {self.alignment.added}")
        if self.cosine is not None:
            parts.append(f"cosine {self.cosine:.3f}")
        return " ".join(parts)


def best_match(
    text: str,
    candidates: Sequence[tuple[Hashable, str, float | None]],
    rule: NearDuplicateRule,
) -> NearDuplicateMatch | None:
    """The strongest match among candidates: strict before loose, then fewest word changes,
    then the earliest candidate (the order given).

    Args:
        text: The new text.
        candidates: ``(key, earlier text, cosine or None)`` in first-ownership order.
        rule: The thresholds.
    """
    best: tuple[tuple[int, int], NearDuplicateMatch] | None = None
    n_new = len(words(text))
    most_dropped = max(rule.strict_dropped, rule.loose_dropped)
    most_added = max(rule.strict_added, rule.loose_added)
    for key, other, cosine in candidates:
        strict_cosine = rule.strict_cosine is not None and (cosine or 0.0) >= rule.strict_cosine
        if not strict_cosine and not rule.possible(n_new, len(words(other))):
            continue
        # Unpaired words bound the alignment from below: most candidates (paraphrases) fail
        # this before the quadratic alignment runs.
        if not strict_cosine and (
            _unpaired(words(other), words(text), most_dropped) > most_dropped
            or _unpaired(words(text), words(other), most_added) > most_added
        ):
            continue
        al = align(text, other)
        kind = rule.classify(al, cosine)
        if kind is None:
            continue
        rank = (0 if kind == "strict" else 1, al.dropped + al.added)
        if best is None or rank < best[0]:
            best = (rank, NearDuplicateMatch(kind, key, al, cosine))
    return None if best is None else best[1]


class NearDuplicateFinder:
    """An in-memory near-duplicate finder over a growing set of texts.

    Signatures are kept in an array. Up to ``exact_limit`` texts they are compared by brute
    force (no LSH misses; 120 comparisons per stored text); past it, candidates come from LSH
    buckets (40 bands of 3 rows: a pair at Jaccard 0.5 is found with probability 0.994, at 0.25
    with 0.47), each holding at most ``BUCKET_CAP`` texts, so that a query costs about the same
    in a pool of 100,000 as of 20,000. The three nearest embedding neighbours are candidates
    too: those the caller found (``neighbours``, e.g. from the pool's vector index) or, with
    vectors stored (``dim``), by brute force. Only
    texts of *other* owners are compared when owners are given; removed texts (quarantined,
    revoked) no longer own their content.

    Args:
        rule: The thresholds.
        dim: Embedding width (then every :meth:`add` needs a vector), or None for text alone.
        exact_limit: Brute-force signature comparison up to this many texts.
    """

    def __init__(
        self,
        rule: NearDuplicateRule | None = None,
        dim: int | None = None,
        exact_limit: int = 20_000,
    ) -> None:
        self.rule = rule or NearDuplicateRule()
        self.hasher = make_hasher()
        self._dim = dim
        self._exact_limit = exact_limit
        self._buckets: list[dict[bytes, list[int]]] | None = None  # built past exact_limit
        self._last_sig: tuple[str | None, npt.NDArray[np.uint16]] = (None, np.empty(0, np.uint16))
        self._keys: list[Hashable] = []
        self._texts: list[str] = []
        self._slot: dict[Hashable, int] = {}
        self._owner_ids: dict[str | None, int] = {}
        # b-bit MinHash with b = 16: a false match per position has probability 2**-16, so the
        # estimate is biased by < 0.0001 and the comparison moves half the bytes.
        self._sigs = np.empty((0, NUM_PERM), dtype=np.uint16)
        self._vectors = np.empty((0, dim or 0), dtype=np.float32)
        self._owners = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)

    def __len__(self) -> int:
        return int(self._alive[: len(self._keys)].sum())

    def find(
        self,
        text: str,
        vector: npt.NDArray[np.float32] | None = None,
        owner: str | None = None,
        neighbours: Sequence[tuple[Hashable, float]] | None = None,
    ) -> NearDuplicateMatch | None:
        """The strongest match of ``text`` among the live texts of other owners.

        Args:
            text: The new text.
            vector: Its embedding, for the brute-force neighbour search (ignored when
                ``neighbours`` are given or the finder stores no vectors).
            owner: Its contributor: their own texts are never matches.
            neighbours: Its nearest embedding neighbours as ``(key, cosine)``, found by the
                caller; unknown, removed and same-owner keys are skipped.
        """
        n = len(self._keys)
        if not n:
            return None
        usable = self._alive[:n].copy()
        if owner is not None and owner.lower() in self._owner_ids:
            usable &= self._owners[:n] != self._owner_ids[owner.lower()]
        sig = self._signature(text)
        found: dict[int, float | None] = {}
        need = _least_agreements(self.rule.candidate_jaccard)
        if n > self._exact_limit:
            slots = self._lsh_slots(sig)
            slots = slots[usable[slots]]
            matches = agreements(self._sigs[slots], sig)
            close = np.flatnonzero(matches >= need)
            slots, matches = slots[close], matches[close]
        else:  # compared in place (no copy of the rows)
            matches = agreements(self._sigs[:n], sig)
            slots = np.flatnonzero((matches >= need) & usable)
            matches = matches[slots]
        for j in top_k(matches, self.rule.candidates):
            found[int(slots[j])] = None
        if neighbours is not None:
            slot = self._slot
            known = ((cos, slot[key]) for key, cos in neighbours if key in slot)
            nearest = heapq.nlargest(3, ((cos, i) for cos, i in known if usable[i]))
            found.update({i: float(cos) for cos, i in nearest})
        elif vector is not None and self._dim is not None:
            sims = self._vectors[:n] @ np.asarray(vector, dtype=np.float32)
            sims[~usable] = -np.inf
            for i in top_k(sims, 3):
                if np.isfinite(sims[i]):
                    found[int(i)] = float(sims[i])
        cands = [(self._keys[i], self._texts[i], found[i]) for i in sorted(found)]
        return best_match(text, cands, self.rule)

    def _signature(self, text: str) -> npt.NDArray[np.uint16]:
        """The text's signature in 16 bits (see ``_sigs``); the last one is kept, since the
        gate adds a text right after finding its matches."""
        if self._last_sig[0] != text:
            self._last_sig = (text, self.hasher.signature(text).astype(np.uint16))
        return self._last_sig[1]

    def _band_keys(self, sig: npt.NDArray[np.uint16]) -> list[bytes]:
        rows = NUM_PERM // BANDS
        return [sig[b * rows : (b + 1) * rows].tobytes() for b in range(BANDS)]

    def _lsh_slots(self, sig: npt.NDArray[np.uint16]) -> npt.NDArray[np.int64]:
        """Slots sharing at least one band with ``sig`` (buckets built on first use)."""
        if self._buckets is None:
            self._buckets = [{} for _ in range(BANDS)]
            for slot in range(len(self._keys)):
                self._bucket(slot)
        hits: list[int] = []
        for bucket, key in zip(self._buckets, self._band_keys(sig), strict=True):
            hits.extend(bucket.get(key, ()))
        return np.unique(np.asarray(hits, dtype=np.int64))

    def _bucket(self, slot: int) -> None:
        assert self._buckets is not None
        for bucket, key in zip(self._buckets, self._band_keys(self._sigs[slot]), strict=True):
            slots = bucket.setdefault(key, [])
            if len(slots) < BUCKET_CAP:  # a full bucket keeps its earliest texts
                slots.append(slot)

    def add(
        self,
        key: Hashable,
        text: str,
        vector: npt.NDArray[np.float32] | None = None,
        owner: str | None = None,
    ) -> None:
        """Add an accepted text under ``key`` (keys are kept in first-ownership order)."""
        if key in self._slot:
            raise ValueError(f"key {key!r} is already in the finder")
        if self._dim is not None and vector is None:
            raise ValueError("this finder was made with vectors: add() needs one")
        n = len(self._keys)
        if n == len(self._alive):
            self._grow(max(64, 2 * n))
        owner_key = owner.lower() if owner is not None else None
        self._sigs[n] = self._signature(text)
        if self._dim is not None:
            self._vectors[n] = vector
        self._owners[n] = self._owner_ids.setdefault(owner_key, len(self._owner_ids))
        self._alive[n] = True
        self._slot[key] = n
        self._keys.append(key)
        self._texts.append(text)
        if self._buckets is not None:
            self._bucket(n)

    def remove(self, key: Hashable) -> None:
        """Forget a text (quarantined or revoked): it no longer owns its content."""
        slot = self._slot.get(key)
        if slot is not None:
            self._alive[slot] = False

    def restore(self, key: Hashable) -> None:
        """Undo :meth:`remove` (a quarantined record released back into the pool)."""
        slot = self._slot.get(key)
        if slot is not None:
            self._alive[slot] = True

    def _grow(self, size: int) -> None:
        n = len(self._keys)
        sigs = np.empty((size, NUM_PERM), dtype=np.uint16)
        sigs[:n] = self._sigs[:n]
        vectors = np.empty((size, self._dim or 0), dtype=np.float32)
        vectors[:n] = self._vectors[:n]
        owners = np.empty(size, dtype=np.int64)
        owners[:n] = self._owners[:n]
        alive = np.zeros(size, dtype=bool)
        alive[:n] = self._alive[:n]
        self._sigs, self._vectors, self._owners, self._alive = sigs, vectors, owners, alive


#: Bytes of one row of equalities (bool) summed at once as one 64-bit word: eight counters.
_LANES = np.uint64(0x0101010101010101)


def agreements(sigs: npt.NDArray[np.uint16], sig: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint64]:
    """How many positions of each row of ``sigs`` equal ``sig`` (rows of NUM_PERM, a multiple
    of 8): the equalities are summed eight bytes at a time as 64-bit words (each byte counts at
    most NUM_PERM / 8 < 256), then the eight byte counters are added by one multiplication —
    the same counts as ``(sigs == sig).sum(axis=1)`` at a quarter less time."""
    equal = np.ascontiguousarray(sigs == sig).view(np.uint64)
    return (np.add.reduce(equal, axis=1) * _LANES) >> np.uint64(56)


def top_k(values: npt.NDArray[Any], k: int) -> npt.NDArray[np.intp]:
    """Positions of the ``k`` largest values (all of them if fewer): those above the k-th
    value in position order, then the earliest of its ties — the same answer whatever order
    partitioning leaves."""
    if len(values) <= k:
        return np.arange(len(values))
    kth = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > kth)
    return np.concatenate([above, np.flatnonzero(values == kth)[: k - len(above)]])


@lru_cache(maxsize=16)
def _least_agreements(jaccard: float) -> int:
    """The fewest equal positions whose estimate (``m / NUM_PERM``) reaches ``jaccard``."""
    return next((m for m in range(NUM_PERM + 1) if m / NUM_PERM >= jaccard), NUM_PERM + 1)
