"""One EIP-712 consent over a whole batch of records (issue #16, item 7).

A contributor signs a single :class:`BatchConsent` whose ``contentRoot`` is the root of an
OpenZeppelin ``StandardMerkleTree`` over the batch's per-record content hashes; each record then
travels with its inclusion proof (:class:`BatchRecordConsent`). It binds exactly what one
:class:`~fairwheel.domain.typed_data.Consent` per record would: contributor, pool, the record's
content (text and label, through :func:`fairwheel.domain.records.content_hash`), licence,
purposes and expiry; the nonce is the batch's::

    BatchConsent(address contributor,uint256 poolId,bytes32 contentRoot,string licence,
                 uint8 purposes,uint64 expiry,uint256 nonce)  -- domain "Fairwheel PoolRegistry"
    leaf        = keccak256(keccak256(abi.encode(bytes32 contentHash)))
    recordNonce = uint256(keccak256(abi.encode(bytes32 hashStruct(batch), bytes32 contentHash)))

``recordNonce`` is what the node spends for one record of the batch (its ``used nonces`` are per
contributor, shared with single consents): each record of a signed batch is accepted at most
once, in the submit call it comes in; the same record again, in that call or any later one, is
``consent_replayed``. A batch may be sent over several calls (the API takes 1,000 records per
request), each record once. Nothing on chain checks a batch consent: like single consents it is
verified off-chain by the contribution gate (:func:`fairwheel.quality.gate.check_consent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fairwheel.domain.eip712 import (
    Eip712Domain,
    address_field,
    address_word,
    bytes32_field,
    check_signer,
    recover_signer,
    sign_digest,
    struct_fields,
    typed_digest,
    typed_payload,
    word,
)
from fairwheel.domain.merkle import StandardMerkleTree, keccak256, process_proof
from fairwheel.domain.typed_data import check_consent_terms
from fairwheel.errors import SchemaError

__all__ = [
    "BATCH_CONSENT_TYPE",
    "CONTENT_LEAF_ENCODING",
    "MAX_PROOF_LENGTH",
    "BatchConsent",
    "BatchRecordConsent",
    "batch_consent_digest",
    "content_leaf",
    "content_tree",
    "recover_batch_consent_signer",
    "sign_batch_consent",
    "verify_batch_consent",
]

BATCH_CONSENT_TYPE = (
    "BatchConsent(address contributor,uint256 poolId,bytes32 contentRoot,string licence,"
    "uint8 purposes,uint64 expiry,uint256 nonce)"
)
#: Leaf encoding of the batch's tree: one ``bytes32 contentHash`` per record.
CONTENT_LEAF_ENCODING: tuple[str, ...] = ("bytes32",)
#: Longest accepted inclusion proof (a tree of 2**32 records is far past any batch).
MAX_PROOF_LENGTH = 32

_TYPEHASH = keccak256(BATCH_CONSENT_TYPE.encode())
_FIELDS = struct_fields(BATCH_CONSENT_TYPE)


def content_leaf(content_hash: bytes) -> bytes:
    """The tree's leaf of one record: ``keccak256(keccak256(abi.encode(contentHash)))``."""
    return keccak256(keccak256(bytes32_field(content_hash, "content_hash")))


def content_tree(content_hashes: Sequence[bytes]) -> StandardMerkleTree:
    """The batch's tree over the records' content hashes (caller's order kept for proofs).

    Raises:
        SchemaError: No records, or a content hash that is not 32 bytes.
    """
    if not content_hashes:
        raise SchemaError("a batch consent needs at least one record")
    values = [[bytes32_field(h, "content_hash")] for h in content_hashes]
    return StandardMerkleTree.of(values, CONTENT_LEAF_ENCODING)


@dataclass(frozen=True)
class BatchConsent:
    """A contributor's consent to a pool's use of every record under ``content_root``.

    ``purposes`` is a bit set as in :class:`~fairwheel.domain.typed_data.Consent`; ``expiry`` a
    unix time (0 = never); ``nonce`` chosen by the contributor.
    """

    contributor: str
    pool_id: int
    content_root: bytes
    licence: str
    purposes: int
    expiry: int
    nonce: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "contributor", address_field(self.contributor, "contributor"))
        object.__setattr__(self, "content_root", bytes32_field(self.content_root, "content_root"))
        check_consent_terms(self.pool_id, self.licence, self.purposes, self.expiry, self.nonce)

    def allows(self, purpose: int) -> bool:
        """Whether every bit of ``purpose`` is granted."""
        return self.purposes & purpose == purpose

    def struct_hash(self) -> bytes:
        """``hashStruct(BatchConsent)``."""
        return keccak256(
            _TYPEHASH
            + address_word(self.contributor)
            + word(self.pool_id)
            + self.content_root
            + keccak256(self.licence.encode())
            + word(self.purposes)
            + word(self.expiry)
            + word(self.nonce)
        )

    def record_nonce(self, content_hash: bytes) -> int:
        """The nonce one record of this batch spends at the node (see the module's notes)."""
        digest = keccak256(self.struct_hash() + bytes32_field(content_hash, "content_hash"))
        return int.from_bytes(digest, "big")

    def to_message(self) -> dict[str, Any]:
        """The message object of ``eth_signTypedData_v4``."""
        return {
            "contributor": self.contributor,
            "poolId": self.pool_id,
            "contentRoot": "0x" + self.content_root.hex(),
            "licence": self.licence,
            "purposes": self.purposes,
            "expiry": self.expiry,
            "nonce": self.nonce,
        }

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The ``{types, primaryType, domain, message}`` payload (for wallets)."""
        return typed_payload(domain, "BatchConsent", _FIELDS, self.to_message())


@dataclass(frozen=True)
class BatchRecordConsent:
    """One record's share of a :class:`BatchConsent`: its content hash and inclusion proof.

    It reads like a :class:`~fairwheel.domain.typed_data.Consent` (``contributor``, ``pool_id``,
    ``content_hash``, ``licence``, ``purposes``, ``expiry``, ``nonce``, :meth:`allows`), so the
    node stores and enforces it like one; ``nonce`` is the record's
    :meth:`BatchConsent.record_nonce`. The signature that goes with it is the batch's.
    """

    batch: BatchConsent
    content_hash: bytes
    proof: tuple[bytes, ...] = ()
    nonce: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.batch, BatchConsent):
            raise SchemaError("batch must be a BatchConsent", field="batch")
        object.__setattr__(self, "content_hash", bytes32_field(self.content_hash, "content_hash"))
        if len(self.proof) > MAX_PROOF_LENGTH:
            raise SchemaError(f"proof is longer than {MAX_PROOF_LENGTH} nodes", field="proof")
        proof = tuple(bytes32_field(node, "proof") for node in self.proof)
        object.__setattr__(self, "proof", proof)
        object.__setattr__(self, "nonce", self.batch.record_nonce(self.content_hash))

    @property
    def contributor(self) -> str:
        return self.batch.contributor

    @property
    def pool_id(self) -> int:
        return self.batch.pool_id

    @property
    def licence(self) -> str:
        return self.batch.licence

    @property
    def purposes(self) -> int:
        return self.batch.purposes

    @property
    def expiry(self) -> int:
        return self.batch.expiry

    def allows(self, purpose: int) -> bool:
        """Whether every bit of ``purpose`` is granted."""
        return self.batch.allows(purpose)

    def included(self) -> bool:
        """Whether the proof takes this record's leaf to the batch's signed root."""
        return process_proof(content_leaf(self.content_hash), self.proof) == self.batch.content_root


def batch_consent_digest(batch: BatchConsent, domain: Eip712Domain) -> bytes:
    """The EIP-712 digest of a batch consent (in the consent domain)."""
    return typed_digest(domain, batch.struct_hash())


def sign_batch_consent(batch: BatchConsent, domain: Eip712Domain, private_key: Any) -> bytes:
    """Sign a batch consent; returns the 65-byte signature."""
    return sign_digest(batch_consent_digest(batch, domain), private_key)


def recover_batch_consent_signer(
    batch: BatchConsent, domain: Eip712Domain, signature: bytes | str
) -> str:
    """The checksum address that signed the batch consent.

    Raises:
        SignatureError: If the signature is malformed.
    """
    return recover_signer(batch_consent_digest(batch, domain), signature)


def verify_batch_consent(batch: BatchConsent, domain: Eip712Domain, signature: bytes | str) -> None:
    """Check that the contributor signed the batch consent.

    Raises:
        SignatureError: If the signature is malformed or signed by someone else.
    """
    check_signer(
        recover_batch_consent_signer(batch, domain, signature), batch.contributor, "batch consent"
    )
