"""Pydantic models of a contribution upload: single consents and batch consents (issue #16).

A contribution request carries records under their own ``Consent`` each (``records``), and/or
whole batches signed once (``batches``): one EIP-712 ``BatchConsent`` over the Merkle root of
the batch's content hashes, each record with its inclusion proof (docs/protocol.md).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from fairwheel.api.models_base import U64, Address, Amount, Hash32, Id, Model, Signature, TypedData
from fairwheel.api.models_records import SubmissionIn

#: Most records one contribution request carries, single and batch records together.
MAX_RECORDS = 1000


class BatchConsentIn(Model):
    """The fields of the EIP-712 ``BatchConsent`` the contributor signed once for a batch."""

    contributor: Address
    pool_id: Id
    content_root: Hash32 = Field(
        description="Root of the StandardMerkleTree of the batch's content hashes (bytes32 leaves)."
    )
    licence: str = Field(max_length=200)
    purposes: int = Field(ge=0, le=7)
    expiry: int = Field(ge=0, le=U64)
    nonce: Amount


class BatchRecordIn(Model):
    """One record of a signed batch: its content and the proof of its content hash."""

    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)
    proof: list[Hash32] = Field(
        default_factory=list,
        max_length=32,
        description="Sibling hashes from the record's leaf to content_root, leaf level first.",
    )


class SignedBatchIn(Model):
    """Records under one signed ``BatchConsent``: one signature for all of them."""

    consent: BatchConsentIn
    signature: Signature
    records: list[BatchRecordIn] = Field(min_length=1, max_length=MAX_RECORDS)


class ContributionBatch(Model):
    """A contribution request: records with a consent each, and batches signed once.

    Together 1 to 1,000 records. The results come back in order: ``records`` first, then each
    batch's records, batch by batch; ``index`` counts across all of them.
    """

    records: list[SubmissionIn] = Field(default_factory=list, max_length=MAX_RECORDS)
    batches: list[SignedBatchIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _one_to_a_thousand(self) -> Self:
        total = len(self.records) + sum(len(b.records) for b in self.batches)
        if not 1 <= total <= MAX_RECORDS:
            raise ValueError(f"a request carries 1 to {MAX_RECORDS} records, this one {total}")
        return self


class BatchRecordDraft(Model):
    """One record's place in a drafted batch (same order as the request's records)."""

    content_hash: Hash32
    proof: list[Hash32]


class BatchConsentDraft(Model):
    """An unsigned ``BatchConsent`` over the request's records, for the wallet to sign once."""

    consent: BatchConsentIn
    typed_data: TypedData
    records: list[BatchRecordDraft]
