"""The contribution gate (proof of contribution), in the order of DESIGN.md.

1. signature and consent (signer, pool, content hash, expiry, replayed nonce);
2. schema and size;
3. exact duplicates after normalisation — the first accepted submitter owns the content;
4. near duplicates across contributors (embedding cosine) — same rule of first ownership.

The gate is pure: it reads the node's state through the small :class:`GateContext`
protocol, so it is tested with in-memory fakes and run by the node on the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

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


class GateContext(Protocol):
    """What the gate needs to know about the pool's current state."""

    def nonce_used(self, contributor: str, nonce: int) -> bool: ...

    def duplicate_owner(self, dup_key: bytes) -> int | None: ...

    def nearest_other(self, vector: np.ndarray, contributor: str) -> tuple[int, float] | None:
        """The most similar accepted record of *another* contributor: (record id, cosine)."""
        ...


@dataclass(frozen=True)
class GatePolicy:
    """Per-pool thresholds of the gate."""

    max_bytes: int = 8192
    min_chars: int = 3
    near_duplicate_cosine: float = 0.97
    labels: frozenset[str] = frozenset()  # empty: any label is allowed


def _reject(
    reason: RejectReason, detail: str = "", duplicate_of: int | None = None
) -> GateDecision:
    text = f"{reason.value} {detail}".strip()
    return GateDecision(RecordStatus.REJECTED, 0.0, (text,), duplicate_of)


def check_consent(
    sub: Submission, pool_id: int, domain: Eip712Domain, now: int, ctx: GateContext
) -> GateDecision | None:
    """Step 1: the consent must be signed by its contributor, for this pool and content."""
    consent = sub.consent
    try:
        verify_consent(consent, domain, sub.signature)
    except SignatureError as exc:
        return _reject(RejectReason.BAD_SIGNATURE, exc.message)
    if consent.pool_id != pool_id or consent.content_hash != content_hash(sub.text, sub.label):
        return _reject(RejectReason.CONSENT_MISMATCH, "consent signs another pool or content")
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


def accept(novelty: float, text: str) -> GateDecision:
    """The accepted verdict: a score in [0, 1] from novelty and length, with its reasons."""
    words = len(text.split())
    length_factor = min(1.0, words / 6)
    score = round(0.5 * length_factor + 0.5 * min(1.0, novelty / 0.5), 4)
    reasons = (f"novelty {novelty:.3f}", f"words {words}")
    return GateDecision(RecordStatus.ACCEPTED, score, reasons)


def run_static_checks(
    subs: Sequence[Submission],
    pool_id: int,
    domain: Eip712Domain,
    now: int,
    policy: GatePolicy,
    ctx: GateContext,
) -> list[GateDecision | None]:
    """Steps 1–2 for a batch: a decision for each refused submission, None for the rest."""
    return [check_consent(s, pool_id, domain, now, ctx) or check_schema(s, policy) for s in subs]
