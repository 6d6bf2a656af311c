"""The contribution gate (proof of contribution), in the order of DESIGN.md.

1. signature and consent (signer, pool, content hash — or, for a record under one consent over
   its whole batch, inclusion in the signed root — expiry, replayed nonce); schema and size;
   per-contributor rate limits (:class:`fairwheel.quality.review.ContributorReputation`);
2. exact duplicates after normalisation — the first accepted submitter owns the content;
3. near duplicates across contributors — same rule of first ownership. Textual (MinHash
   candidates, typo-tolerant word alignment: :mod:`fairwheel.quality.near_duplicate`), with the
   embedding cosine of :func:`check_near_duplicate` as a backstop;
4. junk and outliers against the pool's own text (:mod:`fairwheel.quality.junk`);
5. label issues by confident learning (:mod:`fairwheel.quality.label_issues`): quarantined.

Steps 3–5 and the score of an accepted record are :func:`judge_content`. The gate is pure: it
reads the node's state through small protocols and snapshots (:class:`GateContext`,
:class:`fairwheel.quality.review.PoolQuality`), so it is tested with in-memory fakes and run by
the node on the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fairwheel.domain.batch_consent import (
    BatchConsent,
    BatchRecordConsent,
    recover_batch_consent_signer,
)
from fairwheel.domain.eip712 import check_signer
from fairwheel.domain.records import (
    GateDecision,
    RecordStatus,
    RejectReason,
    Submission,
    content_hash,
    duplicate_key,
)
from fairwheel.domain.typed_data import Eip712Domain, verify_consent
from fairwheel.errors import SignatureError
from fairwheel.quality.junk import JunkPolicy, judge_standalone
from fairwheel.quality.label_issues import LabelPolicy
from fairwheel.quality.near_duplicate import NearDuplicateMatch, NearDuplicateRule

if TYPE_CHECKING:
    from fairwheel.quality.review import PoolQuality


class QualityReason(StrEnum):
    """Machine-readable reasons of the quality steps (the first word of a reason string)."""

    RATE_LIMITED = "rate_limited"
    NEAR_DUPLICATE = "near_duplicate"
    NEAR_DUPLICATE_SUSPECT = "near_duplicate_suspect"
    JUNK = "junk"
    WRONG_LANGUAGE = "wrong_language"
    OUTLIER = "outlier"
    LABEL_ISSUE = "label_issue"


class GateContext(Protocol):
    """What the gate needs to know about the pool's current state.

    One context serves one submit call. :func:`check_consent` keeps the batch-consent
    signatures it verified in the context's optional ``consent_cache`` attribute (a dict; the
    gate attaches one to a context that has none), so a batch's signature is recovered once
    per call however many of its records come.
    """

    def nonce_used(self, contributor: str, nonce: int) -> bool: ...

    def duplicate_owner(self, dup_key: bytes) -> int | None: ...

    def nearest_other(self, vector: np.ndarray, contributor: str) -> tuple[int, float] | None:
        """The most similar accepted record of *another* contributor: (record id, cosine)."""
        ...


@dataclass(frozen=True)
class GatePolicy:
    """Per-pool thresholds of the gate (how each was chosen: ``docs/quality.md``).

    Attributes:
        max_bytes: Largest accepted text, in UTF-8 bytes.
        min_chars: Shortest accepted text (stripped).
        near_duplicate_cosine: Backstop of :func:`check_near_duplicate`: embedding cosine at or
            above which a record of another contributor is a near copy. Measured on banking77,
            0.97 rejected 12% of honest rows (paraphrases of one intent) and caught 36% of
            typo'd copies; 0.995 keeps it for near-identical texts only.
        labels: The pool's label set; empty: any label is allowed.
        near_duplicate: The textual near-duplicate rule (:func:`judge_content`).
        junk: Junk, wrong-language and outlier thresholds.
        label: Label-issue detection.
    """

    max_bytes: int = 8192
    min_chars: int = 3
    near_duplicate_cosine: float = 0.995
    labels: frozenset[str] = frozenset()  # empty: any label is allowed
    near_duplicate: NearDuplicateRule = field(default_factory=NearDuplicateRule)
    junk: JunkPolicy = field(default_factory=JunkPolicy)
    label: LabelPolicy = field(default_factory=LabelPolicy)


def _reject(
    reason: RejectReason | QualityReason, detail: str = "", duplicate_of: int | None = None
) -> GateDecision:
    text = f"{reason.value} {detail}".strip()
    return GateDecision(RecordStatus.REJECTED, 0.0, (text,), duplicate_of)


_CONSENT_CACHE = "consent_cache"


def _consent_cache(ctx: GateContext) -> dict[Any, tuple[str, str]] | None:
    """The context's cache of verified batch signatures, attached on first use if possible."""
    cache = getattr(ctx, _CONSENT_CACHE, None)
    if isinstance(cache, dict):
        return cache
    cache = {}
    try:
        setattr(ctx, _CONSENT_CACHE, cache)
    except (AttributeError, TypeError):  # a context with __slots__: verify every record
        return None
    return cache


def _verify_batch_once(
    batch: BatchConsent, domain: Eip712Domain, signature: bytes | str, ctx: GateContext
) -> None:
    """Check the contributor signed ``batch``, recovering each (batch, signature) once per ctx.

    Raises:
        SignatureError: The signature is malformed or signed by someone else.
    """
    cache = _consent_cache(ctx)
    key = (domain, batch, signature if isinstance(signature, str) else bytes(signature))
    outcome = cache.get(key) if cache is not None else None
    if outcome is None:
        try:
            outcome = (recover_batch_consent_signer(batch, domain, signature), "")
        except SignatureError as exc:
            outcome = ("", exc.message)
        if cache is not None:
            cache[key] = outcome
    recovered, error = outcome
    if error:
        raise SignatureError(error)
    check_signer(recovered, batch.contributor, "batch consent")


def check_consent(
    sub: Submission, pool_id: int, domain: Eip712Domain, now: int, ctx: GateContext
) -> GateDecision | None:
    """Step 1: the consent must be signed by its contributor, for this pool and content.

    A :class:`~fairwheel.domain.batch_consent.BatchRecordConsent` is checked the same way, the
    content through its inclusion proof: the batch's signature (recovered once per context),
    the pool, the record's content hash in the signed root, the expiry, and the record's own
    nonce (:meth:`~fairwheel.domain.batch_consent.BatchConsent.record_nonce`), so each record of
    a signed batch passes once and a replay of the batch is ``consent_replayed``.
    """
    consent = sub.consent
    try:
        if isinstance(consent, BatchRecordConsent):
            _verify_batch_once(consent.batch, domain, sub.signature, ctx)
        else:
            verify_consent(consent, domain, sub.signature)
    except SignatureError as exc:
        return _reject(RejectReason.BAD_SIGNATURE, exc.message)
    if consent.pool_id != pool_id or consent.content_hash != content_hash(sub.text, sub.label):
        return _reject(RejectReason.CONSENT_MISMATCH, "consent signs another pool or content")
    if isinstance(consent, BatchRecordConsent) and not consent.included():
        return _reject(RejectReason.CONSENT_MISMATCH, "record is not in the signed batch")
    if consent.expiry <= now:
        return _reject(RejectReason.CONSENT_EXPIRED)
    if ctx.nonce_used(consent.contributor, consent.nonce):
        return _reject(RejectReason.CONSENT_REPLAYED, f"nonce {consent.nonce} already used")
    return None


def check_schema(sub: Submission, policy: GatePolicy) -> GateDecision | None:
    """Step 2: text present, within size limits; label from the pool's label set."""
    if not isinstance(sub.text, str) or (sub.label is not None and not isinstance(sub.label, str)):
        return _reject(RejectReason.SCHEMA, "text and label must be strings")
    if len(sub.text.encode()) > policy.max_bytes:
        return _reject(RejectReason.TOO_LARGE, f"over {policy.max_bytes} bytes")
    if len(sub.text.strip()) < policy.min_chars:
        return _reject(RejectReason.TOO_SHORT, f"under {policy.min_chars} characters")
    if policy.labels and sub.label is not None and sub.label not in policy.labels:
        return _reject(RejectReason.UNKNOWN_LABEL, repr(sub.label))
    return None


def check_exact_duplicate(sub: Submission, ctx: GateContext) -> GateDecision | None:
    """Step 3: a normalised copy of an accepted record is refused, whoever sends it."""
    owner = ctx.duplicate_owner(duplicate_key(sub.text))
    if owner is not None:
        return _reject(RejectReason.DUPLICATE, f"duplicate_of {owner}", owner)
    return None


def check_near_duplicate(
    sub: Submission, vector: np.ndarray, policy: GatePolicy, ctx: GateContext
) -> tuple[GateDecision | None, float]:
    """Step 4: near copies of another contributor's record are refused.

    Returns the decision (None to accept) and the novelty ``1 - max cosine``.
    """
    nearest = ctx.nearest_other(vector, sub.consent.contributor)
    if nearest is None:
        return None, 1.0
    owner, cosine = nearest
    if cosine >= policy.near_duplicate_cosine:
        return _reject(RejectReason.NEAR_DUPLICATE, f"duplicate_of {owner}", owner), 0.0
    return None, max(0.0, 1.0 - cosine)


def quality_score(novelty: float, text: str, junk_score: float, label_issue_score: float) -> float:
    """An accepted record's score in [0, 1]: the mean of four terms, each in [0, 1].

    Length (``words / 6``, capped), novelty (``(1 - max cosine) / 0.5``, capped),
    ``1 - junk score`` and ``1 - label-issue score``.
    """
    length_factor = min(1.0, len(text.split()) / 6)
    novelty_term = min(1.0, max(0.0, novelty) / 0.5)
    terms = (length_factor, novelty_term, 1.0 - junk_score, 1.0 - label_issue_score)
    return round(sum(min(1.0, max(0.0, t)) for t in terms) / 4, 4)


@dataclass(frozen=True)
class ContentVerdict:
    """The verdict of the content steps (3–5) for one submission.

    Attributes:
        decision: accepted (score and reasons), quarantined or rejected.
        suspect: A loose near-duplicate match: accepted, but evidence against the contributor.
        junk_score: In [0, 1]; 1.0 for junk.
        label_issue_score: ``1 - p(given label)`` under the pool's model; 0.0 when unchecked.
    """

    decision: GateDecision
    suspect: NearDuplicateMatch | None = None
    junk_score: float = 0.0
    label_issue_score: float = 0.0


def _quarantine(reasons: Sequence[str], duplicate_of: int | None = None) -> GateDecision:
    return GateDecision(RecordStatus.QUARANTINED, 0.0, tuple(reasons), duplicate_of)


def judge_content(
    sub: Submission,
    vector: np.ndarray,
    policy: GatePolicy,
    match: NearDuplicateMatch | None,
    novelty: float,
    pool: PoolQuality | None,
    *,
    contributor_flagged: bool = False,
    knn: float | None = None,
) -> ContentVerdict:
    """Steps 3–5 after the exact-duplicate check, and the accepted record's score.

    Args:
        sub: The submission (its text and label are judged).
        vector: Its embedding.
        policy: The pool's thresholds.
        match: The strongest near-duplicate match among *other* contributors' accepted
            records (``NearDuplicateFinder.find``), or None.
        novelty: ``1 - max cosine`` to other contributors' records (from
            :func:`check_near_duplicate`; 1.0 for an empty pool).
        pool: The pool's quality snapshot (``review.build_pool_quality``), None while empty.
        contributor_flagged: The contributor crossed a reputation threshold: a loose match is
            then quarantined instead of accepted, and so are a junk score of at least
            ``policy.junk.flagged_score`` and any label the pool's model would not predict.
        knn: The ``knn`` feature from the caller's index (mean cosine to the k nearest records
            of *other* contributors), to spare the snapshot a brute-force search.

    Returns:
        Rejected (``near_duplicate``; ``junk`` or ``wrong_language`` by fixed rules or mostly
        unknown words), quarantined (``junk`` on character statistics alone, ``outlier``,
        ``label_issue``, a flagged contributor's ``near_duplicate_suspect``) or accepted with
        its score and reasons.
    """
    owner = int(match.owner) if match is not None and isinstance(match.owner, int) else None
    if match is not None and match.strict:
        return ContentVerdict(
            GateDecision(RecordStatus.REJECTED, 0.0, (match.reason(),), owner), match
        )
    if match is not None and contributor_flagged:
        reason = f"{match.reason()} contributor flagged"
        return ContentVerdict(_quarantine((reason,), owner), match)
    contributor = getattr(sub.consent, "contributor", None)
    if pool is not None and pool.profile is not None:
        junk = pool.profile.judge(sub.text, vector, knn=knn, owner=contributor)
    else:
        junk = judge_standalone(sub.text, policy.junk)
    if junk.kind is not None and junk.reject:
        decision = GateDecision(RecordStatus.REJECTED, 0.0, junk.reasons)
        return ContentVerdict(decision, match, junk.score)
    if junk.kind is not None:
        return ContentVerdict(_quarantine(junk.reasons), match, junk.score)
    if contributor_flagged and junk.score >= policy.junk.flagged_score:
        reason = f"{QualityReason.JUNK.value} junk_score {junk.score:.2f} contributor flagged"
        return ContentVerdict(_quarantine((reason,)), match, junk.score)
    label_score, label_reason = 0.0, "label unchecked: pool too small"
    if pool is not None and pool.labels is not None:
        label_score, flagged, label_reason = pool.labels.judge(
            vector, sub.label, strict=contributor_flagged
        )
        if flagged:
            return ContentVerdict(_quarantine((label_reason,)), match, junk.score, label_score)
    score = quality_score(novelty, sub.text, junk.score, label_score)
    reasons = [f"novelty {novelty:.3f}", f"words {len(sub.text.split())}", *junk.reasons]
    reasons.append(label_reason)
    if match is not None:
        reasons.append(match.reason())
    decision = GateDecision(RecordStatus.ACCEPTED, score, tuple(reasons))
    return ContentVerdict(decision, match, junk.score, label_score)
