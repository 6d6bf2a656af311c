"""Junk, wrong language and outliers, judged against the pool's own text (no downloaded models).

A :class:`PoolProfile` is built from the pool's accepted records. It holds

* a character trigram model of the pool's text (add-``alpha`` smoothing over the characters seen),
* the document frequency of every word,
* the distribution of three features over the pool's own records, each computed leave-one-out
  (a record's own counts are taken out before it is scored), so a new text and a member are
  measured alike:

  - ``char_logp``: mean log-probability per character under the trigram model;
  - ``vocab``: share of the text's words that occur in at least one other record;
  - ``knn``: mean cosine similarity to the ``k`` nearest other records (when vectors are given).

A text's *deviation* on a feature is its robust z-score below the pool's median
(``(median - x) / (1.4826 MAD)``; only the low side counts). Fixed rules catch what needs no
statistics: no letters, one character repeated, mostly digits and symbols. The thresholds
(:class:`JunkPolicy`) were chosen by measurement (``docs/quality.md``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)  # runs of two or more letters
_MAD_TO_SIGMA = 1.4826
_BOUNDARY = "\x02"  # pads each text so its first and last characters have full context


@dataclass(frozen=True)
class JunkPolicy:
    """Thresholds of the junk and outlier checks (see ``docs/quality.md`` for how they were set).

    Attributes:
        min_letter_share: Below this share of letters among non-space characters: junk.
        max_repeat_share: Above this share of one single character: junk.
        min_vocab_share: Below this share of words known to the pool (texts of two or more
            words): wrong language (or junk, when the characters are unlike the pool's too).
            A small pool uses the 0.5% quantile of its own members' shares when that is lower.
        reject_z: Robust z below the pool's median at which ``char_logp`` marks the text as
            junk (or wrong language).
        outlier_z: Robust z at which ``knn`` (distance from the pool in embedding space) sends
            the text to quarantine as an outlier.
        min_pool: Fewer accepted records than this: only the fixed rules apply.
        knn_k: Neighbours averaged for ``knn``.
        flagged_score: A flagged contributor's text at or above this junk score is
            quarantined (about 5% of honest texts of the synthetic vertical reach 0.4; word
            salad of the pool's own words sits at 0.4–0.9).
    """

    min_letter_share: float = 0.5
    max_repeat_share: float = 0.5
    min_vocab_share: float = 0.5
    reject_z: float = 6.0
    outlier_z: float = 4.5
    min_pool: int = 50
    knn_k: int = 5
    flagged_score: float = 0.4


@dataclass(frozen=True)
class JunkVerdict:
    """The junk check's result for one text.

    Attributes:
        kind: ``None`` (fine), ``"junk"``, ``"wrong_language"`` or ``"outlier"``.
        score: Junk score in [0, 1]: the largest deviation relative to its threshold; 1.0 for
            a text of any kind.
        reasons: Human- and machine-readable reasons, e.g. ``"junk letters 0.12"``.
        features: The raw features (``letters``, ``repeat``, ``char_logp``, ``vocab``, ``knn``).
        reject: True: reject (fixed rules, or mostly unknown words); False with a kind:
            quarantine (statistical evidence a growing pool may overturn).
    """

    kind: str | None
    score: float
    reasons: tuple[str, ...]
    features: dict[str, float] = field(default_factory=dict)
    reject: bool = False


def prepare(text: str) -> str:
    """The form the character model sees: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def words_of(text: str) -> list[str]:
    """Lower-case words of two or more letters."""
    return _WORD.findall(prepare(text))


def _script(ch: str) -> str:
    """The Unicode script word of a letter's name (``LATIN``, ``CYRILLIC``, ``CJK`` ...)."""
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def surface_features(text: str) -> dict[str, float]:
    """Surface statistics that need no pool.

    ``letters``: share of letters among non-space characters; ``repeat``: share of the most
    common character; ``latin``: share of Latin-script letters; ``vowels``: share of vowels among
    Latin letters (natural languages in Latin script: about 0.3–0.5; random letters: 0.2).
    """
    chars = [c for c in prepare(text) if not c.isspace()]
    if not chars:
        return {"letters": 0.0, "repeat": 1.0, "latin": 0.0, "vowels": 0.0}
    letters = [c for c in chars if c.isalpha()]
    latin = [c for c in letters if _script(c) == "LATIN"]
    base = [unicodedata.normalize("NFD", c)[0] for c in latin]
    return {
        "letters": len(letters) / len(chars),
        "repeat": Counter(chars).most_common(1)[0][1] / len(chars),
        "latin": len(latin) / len(letters) if letters else 0.0,
        "vowels": sum(c in "aeiouy" for c in base) / len(base) if base else 0.0,
    }


def looks_like_language(feats: dict[str, float]) -> bool:
    """Letters that read like some language: another script, or Latin with natural vowels."""
    if feats["letters"] < 0.8:
        return False
    return feats["latin"] < 0.5 or 0.3 <= feats["vowels"] <= 0.6


def _trigrams(text: str) -> list[str]:
    s = _BOUNDARY * 2 + prepare(text) + _BOUNDARY
    return [s[i : i + 3] for i in range(len(s) - 2)]


@dataclass(frozen=True)
class _Reference:
    median: float
    sigma: float

    def z(self, value: float) -> float:
        return max(0.0, (self.median - value) / self.sigma)


def _reference(values: Sequence[float], floor: float) -> _Reference:
    arr = np.asarray(values, dtype=np.float64)
    median = float(np.median(arr))
    mad = float(np.median(np.abs(arr - median)))
    return _Reference(median, max(_MAD_TO_SIGMA * mad, floor))


@dataclass
class _Counts:
    """Trigram, bigram and word-document counts of some texts (to add or take out)."""

    tri: Counter[str] = field(default_factory=Counter)
    bi: Counter[str] = field(default_factory=Counter)
    df: Counter[str] = field(default_factory=Counter)

    def add(self, text: str) -> None:
        tris = _trigrams(text)
        self.tri.update(tris)
        self.bi.update(t[:2] for t in tris)
        self.df.update(set(words_of(text)))

    @classmethod
    def of(cls, texts: Sequence[str]) -> _Counts:
        counts = cls()
        for text in texts:
            counts.add(text)
        return counts


class PoolProfile:
    """What the pool's accepted text looks like: built once, then used to score many texts.

    With ``owners``, a contributor's text is judged *leave-contributor-out*: against the other
    contributors' text only, so that an attacker cannot make their own junk look normal by
    sending many similar pieces of it.

    Args:
        texts: The pool's accepted texts (at least two).
        vectors: Their unit-length embeddings ``(n, d)``, or None to skip the ``knn`` feature.
        policy: The thresholds (``knn_k`` is used here).
        alpha: Add-alpha smoothing of the trigram model.
        max_reference: Score at most this many members (an even sample) to set the reference
            distributions; the model itself uses every text.
        owners: The contributor of each text, or None.
    """

    def __init__(
        self,
        texts: Sequence[str],
        vectors: npt.NDArray[np.float32] | None = None,
        policy: JunkPolicy | None = None,
        alpha: float = 0.1,
        max_reference: int = 3000,
        owners: Sequence[str | None] | None = None,
    ) -> None:
        if len(texts) < 2:
            raise ValueError("a pool profile needs at least two texts")
        self.policy = policy or JunkPolicy()
        self.size = len(texts)
        self.alpha = alpha
        self._all = _Counts.of(texts)
        self._alphabet = len({c for t in self._all.tri for c in t}) + 1  # +1: unseen characters
        self._vectors = None if vectors is None else np.asarray(vectors, dtype=np.float32)
        self._owner_of: dict[str, int] = {}
        self._owner_counts: list[_Counts] = []
        self._owner_ids = np.full(len(texts), -1, dtype=np.int64)
        if owners is not None:
            for row, (text, owner) in enumerate(zip(texts, owners, strict=True)):
                if owner is None:
                    continue
                oid = self._owner_of.setdefault(owner.lower(), len(self._owner_of))
                if oid == len(self._owner_counts):
                    self._owner_counts.append(_Counts())
                self._owner_counts[oid].add(text)
                self._owner_ids[row] = oid
        step = max(1, len(texts) // max_reference)
        sample = list(range(0, len(texts), step))
        excluded = [self._exclusion(texts[i], i) for i in sample]
        self.reference = {
            "char_logp": _reference(
                [self._char_logp(texts[i], ex) for i, ex in zip(sample, excluded, strict=True)],
                0.05,
            )
        }
        shares = [self._vocab_share(texts[i], ex) for i, ex in zip(sample, excluded, strict=True)]
        # A small pool knows few words: the cut follows its own members' lowest shares.
        self.vocab_cut = min(self.policy.min_vocab_share, float(np.quantile(shares, 0.005)))
        if self._vectors is not None and len(self._vectors) > self.policy.knn_k:
            rows = np.asarray(sample, dtype=np.int64)
            knn = self.knn_similarities(self._vectors[rows], own=rows)
            self.reference["knn"] = _reference(knn.tolist(), 0.01)

    def _exclusion(self, text: str, member: int | None, owner: str | None = None) -> _Counts | None:
        """The counts to take out: the owner's (leave-contributor-out) or the member's own."""
        oid = self._oid(owner, member)
        if oid >= 0:
            return self._owner_counts[oid]
        return _Counts.of([text]) if member is not None else None

    def _oid(self, owner: str | None, member: int | None) -> int:
        if owner is not None:
            return self._owner_of.get(owner.lower(), -1)
        return int(self._owner_ids[member]) if member is not None else -1

    # ------------------------------------------------------------------ features
    def char_logp(self, text: str, own: str | None = None) -> float:
        """Mean natural-log probability per character under the pool's trigram model.

        Args:
            text: The text scored.
            own: The same text when it is a member of the pool: its counts are taken out
                (leave-one-out).
        """
        return self._char_logp(text, _Counts.of([own]) if own is not None else None)

    def _char_logp(self, text: str, exclude: _Counts | None) -> float:
        tris = _trigrams(text)
        if not tris:
            return 0.0
        ex_tri = exclude.tri if exclude is not None else Counter()
        ex_bi = exclude.bi if exclude is not None else Counter()
        a, v = self.alpha, self._alphabet
        total = 0.0
        for t in tris:
            num = self._all.tri.get(t, 0) - ex_tri.get(t, 0) + a
            den = self._all.bi.get(t[:2], 0) - ex_bi.get(t[:2], 0) + a * v
            total += math.log(num / den)
        return total / len(tris)

    def vocab_share(self, text: str, own: str | None = None) -> float:
        """Share of the text's words found in the pool (in another record, for a member)."""
        return self._vocab_share(text, _Counts.of([own]) if own is not None else None)

    def _vocab_share(self, text: str, exclude: _Counts | None) -> float:
        words = words_of(text)
        if not words:
            return 0.0
        ex = exclude.df if exclude is not None else Counter()
        return sum(self._all.df.get(w, 0) - ex.get(w, 0) > 0 for w in words) / len(words)

    def knn_similarity(
        self, vector: npt.NDArray[np.float32], own: int | None = None, owner: str | None = None
    ) -> float:
        """Mean cosine to the ``k`` nearest pool vectors (excluding row ``own`` and the rows of
        ``owner``, or of ``own``'s owner)."""
        rows = None if own is None else np.asarray([own], dtype=np.int64)
        oid = np.asarray([self._oid(owner, own)], dtype=np.int64)
        return float(self.knn_similarities(np.asarray(vector)[None, :], own=rows, owners=oid)[0])

    def knn_similarities(
        self,
        vectors: npt.NDArray[np.float32],
        own: npt.NDArray[np.int64] | None = None,
        owners: npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """:meth:`knn_similarity` for many vectors at once.

        Args:
            vectors: ``(m, d)`` query vectors.
            own: Their pool rows (excluded), if they are members.
            owners: Their owner ids (rows of the same owner are excluded); by default the
                owners of ``own``.
        """
        if self._vectors is None:
            raise ValueError("this profile was built without vectors")
        q = np.asarray(vectors, dtype=np.float32)
        if owners is None and own is not None:
            owners = self._owner_ids[own]
        out = np.empty(len(q), dtype=np.float64)
        for start in range(0, len(q), 512):
            sims = q[start : start + 512] @ self._vectors.T
            if own is not None:
                sims[np.arange(len(sims)), own[start : start + 512]] = -np.inf
            if owners is not None:
                chunk = owners[start : start + 512]
                same = (chunk[:, None] == self._owner_ids[None, :]) & (chunk[:, None] >= 0)
                sims[same] = -np.inf
            k = max(1, min(self.policy.knn_k, int(np.isfinite(sims).sum(axis=1).min())))
            top = -np.partition(-sims, k - 1, axis=1)[:, :k]
            out[start : start + len(sims)] = np.where(np.isfinite(top), top, -1.0).mean(axis=1)
        return out

    # ------------------------------------------------------------------ verdicts
    def judge_members(
        self, texts: Sequence[str], rows: Sequence[int] | None = None
    ) -> list[JunkVerdict]:
        """Judge pool members leave-one-out (leave-contributor-out with owners), in one batch.

        Args:
            texts: The members' texts.
            rows: Their rows in the profile (default: ``0 .. len(texts) - 1``, i.e. the texts
                the profile was built from, in order).
        """
        positions = list(range(len(texts))) if rows is None else list(rows)
        knn: list[float | None] = [None] * len(texts)
        if self._vectors is not None and "knn" in self.reference:
            own = np.asarray(positions, dtype=np.int64)
            for j, value in enumerate(self.knn_similarities(self._vectors[own], own=own)):
                knn[j] = float(value)
        return [
            self.judge(t, member=r, knn=k) for t, r, k in zip(texts, positions, knn, strict=True)
        ]

    def judge(
        self,
        text: str,
        vector: npt.NDArray[np.float32] | None = None,
        member: int | None = None,
        knn: float | None = None,
        owner: str | None = None,
    ) -> JunkVerdict:
        """Judge one text against the pool.

        Args:
            text: The text.
            vector: Its embedding, for the ``knn`` feature (or give ``knn`` directly).
            member: Its row in the profile's texts when it is a pool member (leave-one-out).
            knn: A precomputed ``knn`` feature (e.g. from the node's vector index).
            owner: Its contributor: their texts are left out (for a member, its owner's are
                left out by default when the profile has owners).
        """
        exclude = self._exclusion(text, member, owner)
        feats = surface_features(text)
        feats["char_logp"] = self._char_logp(text, exclude)
        feats["vocab"] = self._vocab_share(text, exclude)
        feats["words"] = float(len(words_of(text)))
        if knn is None and vector is not None and "knn" in self.reference:
            knn = self.knn_similarity(vector, own=member, owner=owner)
        if knn is not None:
            feats["knn"] = knn
        return verdict_from_features(feats, self.reference, self.policy, self.size, self.vocab_cut)


def verdict_from_features(
    feats: dict[str, float],
    reference: dict[str, _Reference] | None,
    policy: JunkPolicy,
    pool_size: int = 0,
    vocab_cut: float | None = None,
) -> JunkVerdict:
    """Apply the fixed rules, then the pool-relative ones (when the pool is big enough).

    ``vocab_cut`` (default ``policy.min_vocab_share``) is the share of known words under which a
    text is in the wrong language (or junk).
    """
    cut = policy.min_vocab_share if vocab_cut is None else vocab_cut
    if feats["letters"] < policy.min_letter_share:
        reason = f"junk letters {feats['letters']:.2f}"
        return JunkVerdict("junk", 1.0, (reason,), feats, reject=True)
    if feats["repeat"] > policy.max_repeat_share:
        reason = f"junk repeated {feats['repeat']:.2f}"
        return JunkVerdict("junk", 1.0, (reason,), feats, reject=True)
    if reference is None or pool_size < policy.min_pool:
        return JunkVerdict(None, 0.0, ("junk unchecked: pool too small",), feats)
    z_char = reference["char_logp"].z(feats["char_logp"])
    z_knn = reference["knn"].z(feats["knn"]) if "knn" in feats and "knn" in reference else 0.0
    vocab = feats["vocab"]
    detail = f"z_char {z_char:.1f} vocab {vocab:.2f} z_knn {z_knn:.1f}"
    # Unknown words alone are not enough (a small pool knows few words): the characters must be
    # unusual for the pool too.
    unknown_words = (
        feats.get("words", 2.0) >= 2 and vocab < cut and z_char >= 0.75 * policy.reject_z
    )
    if z_char >= policy.reject_z or unknown_words:
        # Foreign text reads like language, just with words the pool does not use.
        foreign = vocab < cut and looks_like_language(feats)
        kind = "wrong_language" if foreign else "junk"
        # Mostly unknown words: rejected. Known words in unusual characters: quarantined, as
        # a young pool may simply not have seen this phrasing yet (rescoring can release it).
        return JunkVerdict(kind, 1.0, (f"{kind} {detail}",), feats, reject=vocab < cut)
    if z_knn >= policy.outlier_z:
        return JunkVerdict("outlier", 1.0, (f"outlier {detail}",), feats, reject=False)
    score = max(z_char / policy.reject_z, z_knn / policy.outlier_z)
    return JunkVerdict(None, round(min(1.0, score), 4), (f"junk_score {score:.2f}",), feats)


def judge_standalone(text: str, policy: JunkPolicy | None = None) -> JunkVerdict:
    """The fixed rules only: what can be said of a text with no pool to compare with."""
    return verdict_from_features(surface_features(text), None, policy or JunkPolicy())
