"""Models of contributions and records: consents, submissions, the gate's verdicts, receipts,
review, reputation, revocation and anchoring.

Batch consents (one signature for many records) are in :mod:`fairwheel.api.models_contrib`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fairwheel.api.models_base import U64, Address, Amount, Hash32, Id, Model, Signature, TypedData


class ConsentIn(Model):
    """The fields of the EIP-712 ``Consent`` the contributor signed."""

    contributor: Address
    pool_id: Id
    content_hash: Hash32
    licence: str = Field(max_length=200)
    purposes: int = Field(ge=0, le=7)
    expiry: int = Field(ge=0, le=U64)
    nonce: Amount


class SubmissionIn(Model):
    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)
    consent: ConsentIn
    signature: Signature


# ContributionBatch (single and batch consents): fairwheel.api.models_contrib.


class SubmitResultView(Model):
    index: int
    record_id: int | None
    status: str
    score: float
    reasons: list[str]
    duplicate_of: int | None = None


class ContributionResult(Model):
    pool_id: int
    counts: dict[str, int]
    results: list[SubmitResultView]


class DraftRecord(Model):
    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)


class ConsentRequest(Model):
    records: list[DraftRecord] = Field(min_length=1, max_length=1000)
    licence: str | None = Field(None, min_length=1, max_length=200)
    purposes: int = Field(3, ge=1, le=7)
    lifetime: int = Field(365 * 24 * 3600, ge=60, le=10 * 365 * 24 * 3600)


class ConsentDraft(Model):
    consent: ConsentIn
    typed_data: TypedData


class ConsentDrafts(Model):
    items: list[ConsentDraft]


class RecordView(Model):
    """A record as its contributor sees it (never shown to anyone else)."""

    id: int
    pool_id: int
    record_hash: str
    status: str
    score: float
    reasons: list[str]
    duplicate_of: int | None
    label: str | None
    preview: str
    licence: str
    purposes: int
    expiry: int
    batch_id: int | None
    created_at: float


class ReceiptView(Model):
    record_id: int
    pool_id: int
    batch_id: int
    record_hash: str
    contributor: str
    root: str
    proof: list[str]
    tx_hash: str
    status: str = Field(description="The record's current verdict: accepted or quarantined.")
    score: float = Field(description="Quality score in [0, 1] (0 unless accepted).")
    reasons: list[str] = Field(description="Machine-readable reasons, the deciding one first.")
    verified: bool = Field(description="PoolRegistry.isAnchored answered true just now.")


class ReviewIn(Model):
    decision: Literal["release", "quarantine"] = Field(
        description="release: accepted, indexed and paid from the next call; quarantine: not."
    )
    note: str = Field("", max_length=500, description="Why; stored with the reasons.")


class StatusChangeView(Model):
    record_id: int
    before: str
    after: str
    reasons: list[str]


class EvidenceView(Model):
    record: int | None
    time: int
    status: str
    reason: str


class ReputationView(Model):
    contributor: str
    submissions: int = Field(description="Judged submissions (rate-limit rejections excluded).")
    bad_share: float = Field(description="Share rejected or quarantined.")
    suspect_share: float = Field(description="Share that were strict or loose near copies.")
    flagged: bool = Field(description="Rate-limited and judged without the benefit of doubt.")
    evidence: list[EvidenceView]


class RevocationIn(Model):
    signature: Signature


class RevocationOut(Model):
    record_id: int
    status: str
    tx_hash: str | None = Field(description="None when the record was never anchored.")


class AnchorOut(Model):
    pool_id: int
    anchored: int
    batch_id: int | None
    root: str | None
    tx_hash: str | None
