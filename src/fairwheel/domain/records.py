"""Records, their canonical form and identity, and the statuses the gate gives them.

Pure: no I/O, no project imports beyond the standard library and eth_utils.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_SPACE = re.compile(r"\s+")


class RecordStatus(StrEnum):
    """Where a record stands after the contribution gate."""

    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"
    REVOKED = "revoked"


class RejectReason(StrEnum):
    """Machine-readable rejection reasons, in the gate's order."""

    BAD_SIGNATURE = "bad_signature"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_REPLAYED = "consent_replayed"
    CONSENT_MISMATCH = "consent_mismatch"
    SCHEMA = "schema"
    TOO_LARGE = "too_large"
    TOO_SHORT = "too_short"
    UNKNOWN_LABEL = "unknown_label"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"


def normalize_text(text: str) -> str:
    """The form used to detect exact duplicates: NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def checksum_address(address: str) -> str:
    """The EIP-55 form of an address (eth_utils is imported lazily: the CLI starts fast)."""
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(text: str, label: str | None) -> bytes:
    """SHA-256 of a record's canonical content: what the contributor's consent signs."""
    return hashlib.sha256(canonical_json({"label": label, "text": text})).digest()


def duplicate_key(text: str) -> bytes:
    """SHA-256 of the normalised text: equal keys are exact duplicates whatever the label."""
    return hashlib.sha256(normalize_text(text).encode()).digest()


def record_id(pool_id: int, contributor: str, text: str, label: str | None) -> bytes:
    """A record's identity: SHA-256 of its canonical form (pool, contributor, content)."""
    body = {
        "contributor": contributor.lower(),
        "content": content_hash(text, label).hex(),
        "pool": pool_id,
    }
    return hashlib.sha256(canonical_json(body)).digest()


@dataclass(frozen=True)
class Submission:
    """A record as a contributor submits it, with its signed consent.

    Attributes:
        text: the record's content.
        label: an optional class label.
        consent: the EIP-712 consent message fields: a ``domain.typed_data.Consent`` of its
            own, or a ``domain.batch_consent.BatchRecordConsent`` (the record's share of one
            consent over a whole batch: the batch, the record's content hash and its proof).
        signature: the contributor's 65-byte signature over the consent (for a batch record,
            over the batch's consent: the same for every record of the batch).
    """

    text: str
    label: str | None
    consent: Any
    signature: bytes


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict for one submission."""

    status: RecordStatus
    score: float
    reasons: tuple[str, ...]
    duplicate_of: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status is RecordStatus.ACCEPTED
