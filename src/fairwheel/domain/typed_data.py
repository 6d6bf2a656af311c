"""EIP-712 messages of the Fairwheel protocol: consent, vouchers and revocations.

The digests are computed here directly (a cached domain separator and a struct hash, the same
arithmetic the contracts do with OpenZeppelin's ``EIP712``) and checked in the tests against
``eth_account.messages.encode_typed_data`` and against the contracts' own digest views.
Signing and recovery go through ``eth_account``. Signatures must be 65 bytes ``r || s || v`` with
``v`` in {27, 28} and a low ``s`` (EIP-2), exactly what OpenZeppelin's ``ECDSA.recover`` accepts.
The shared machinery (domains, digests, signatures, the wallet payload) is
:mod:`fairwheel.domain.eip712`, re-exported here; a contributor's one consent over a whole batch
of records is :mod:`fairwheel.domain.batch_consent`.

Types::

    EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
    Consent(address contributor,uint256 poolId,bytes32 contentHash,string licence,uint8 purposes,
            uint64 expiry,uint256 nonce)          -- domain "Fairwheel PoolRegistry", "1"
    Revocation(address contributor,uint256 poolId,bytes32 recordId)
                                                  -- domain "Fairwheel PoolRegistry", "1"
    Voucher(address payer,uint256 poolId,uint256 cumulativeAmount)
                                                  -- domain "Fairwheel UsageEscrow", "1"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fairwheel.domain.eip712 import (
    DOMAIN_TYPE,
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
    uint_field,
    word,
)
from fairwheel.domain.merkle import keccak256
from fairwheel.errors import SchemaError

__all__ = [
    "CONSENT_TYPE",
    "DOMAIN_TYPE",
    "PURPOSE_RESALE",
    "PURPOSE_SEARCH",
    "PURPOSE_TRAINING",
    "REVOCATION_TYPE",
    "VOUCHER_TYPE",
    "Consent",
    "Eip712Domain",
    "Revocation",
    "Voucher",
    "consent_digest",
    "consent_domain",
    "recover_consent_signer",
    "recover_revocation_signer",
    "recover_signer",
    "recover_voucher_signer",
    "revocation_digest",
    "sign_consent",
    "sign_digest",
    "sign_revocation",
    "sign_voucher",
    "verify_consent",
    "verify_revocation",
    "verify_voucher",
    "voucher_digest",
    "voucher_domain",
]

PURPOSE_SEARCH = 1
PURPOSE_TRAINING = 2
PURPOSE_RESALE = 4
_ALL_PURPOSES = PURPOSE_SEARCH | PURPOSE_TRAINING | PURPOSE_RESALE

CONSENT_TYPE = (
    "Consent(address contributor,uint256 poolId,bytes32 contentHash,string licence,"
    "uint8 purposes,uint64 expiry,uint256 nonce)"
)
VOUCHER_TYPE = "Voucher(address payer,uint256 poolId,uint256 cumulativeAmount)"
REVOCATION_TYPE = "Revocation(address contributor,uint256 poolId,bytes32 recordId)"

REGISTRY_DOMAIN_NAME = "Fairwheel PoolRegistry"
ESCROW_DOMAIN_NAME = "Fairwheel UsageEscrow"
DOMAIN_VERSION = "1"

_CONSENT_TYPEHASH = keccak256(CONSENT_TYPE.encode())
_VOUCHER_TYPEHASH = keccak256(VOUCHER_TYPE.encode())
_REVOCATION_TYPEHASH = keccak256(REVOCATION_TYPE.encode())

# The names :mod:`fairwheel.domain.receipts` (and older callers) import from here.
_address = address_field
_uint = uint_field
_bytes32 = bytes32_field
_word = word
_addr_word = address_word
_typed_digest = typed_digest
_full_message = typed_payload
_check_signer = check_signer

# -------------------------------------------------------------------- domains


# Cached: a domain checksums its address (a keccak) when built, and every paid call and
# submission needs one; the domain is immutable.
@lru_cache(maxsize=64)
def consent_domain(chain_id: int, registry_address: str) -> Eip712Domain:
    """The consent (and revocation) domain: the PoolRegistry at ``registry_address``."""
    return Eip712Domain(REGISTRY_DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry_address)


@lru_cache(maxsize=64)
def voucher_domain(chain_id: int, escrow_address: str) -> Eip712Domain:
    """The voucher domain: the UsageEscrow at ``escrow_address``."""
    return Eip712Domain(ESCROW_DOMAIN_NAME, DOMAIN_VERSION, chain_id, escrow_address)


def check_consent_terms(pool_id: int, licence: str, purposes: int, expiry: int, nonce: int) -> None:
    """Check the terms a consent (single or over a batch) grants.

    Raises:
        SchemaError: a field out of its Solidity type's range, unknown purpose bits, or a
            licence that is not a string.
    """
    _uint(pool_id, 256, "pool_id")
    _uint(purposes, 8, "purposes")
    if purposes & ~_ALL_PURPOSES:
        raise SchemaError("purposes has unknown bits", field="purposes")
    _uint(expiry, 64, "expiry")
    _uint(nonce, 256, "nonce")
    if not isinstance(licence, str):
        raise SchemaError("licence must be a string", field="licence")


@dataclass(frozen=True)
class Consent:
    """A contributor's consent to a pool's use of one piece of content.

    ``purposes`` is a bit set of :data:`PURPOSE_SEARCH`, :data:`PURPOSE_TRAINING` and
    :data:`PURPOSE_RESALE`; ``expiry`` is a unix time (0 = never).
    """

    contributor: str
    pool_id: int
    content_hash: bytes
    licence: str
    purposes: int
    expiry: int
    nonce: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "contributor", _address(self.contributor, "contributor"))
        object.__setattr__(self, "content_hash", _bytes32(self.content_hash, "content_hash"))
        check_consent_terms(self.pool_id, self.licence, self.purposes, self.expiry, self.nonce)

    def allows(self, purpose: int) -> bool:
        """Whether every bit of ``purpose`` is granted."""
        return self.purposes & purpose == purpose

    def struct_hash(self) -> bytes:
        """``hashStruct(Consent)``."""
        return keccak256(
            _CONSENT_TYPEHASH
            + _addr_word(self.contributor)
            + _word(self.pool_id)
            + self.content_hash
            + keccak256(self.licence.encode())
            + _word(self.purposes)
            + _word(self.expiry)
            + _word(self.nonce)
        )

    def to_message(self) -> dict[str, Any]:
        """The message object of ``eth_signTypedData_v4``."""
        return {
            "contributor": self.contributor,
            "poolId": self.pool_id,
            "contentHash": "0x" + self.content_hash.hex(),
            "licence": self.licence,
            "purposes": self.purposes,
            "expiry": self.expiry,
            "nonce": self.nonce,
        }

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The full ``eth_signTypedData_v4`` payload (for wallets)."""
        return _full_message(domain, "Consent", _CONSENT_FIELDS, self.to_message())


@dataclass(frozen=True)
class Voucher:
    """A consumer's promise that their total spend in a pool is ``cumulative_amount``."""

    payer: str
    pool_id: int
    cumulative_amount: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "payer", _address(self.payer, "payer"))
        _uint(self.pool_id, 256, "pool_id")
        _uint(self.cumulative_amount, 256, "cumulative_amount")

    def struct_hash(self) -> bytes:
        """``hashStruct(Voucher)``."""
        return keccak256(
            _VOUCHER_TYPEHASH
            + _addr_word(self.payer)
            + _word(self.pool_id)
            + _word(self.cumulative_amount)
        )

    def to_message(self) -> dict[str, Any]:
        """The message object of ``eth_signTypedData_v4``."""
        return {
            "payer": self.payer,
            "poolId": self.pool_id,
            "cumulativeAmount": self.cumulative_amount,
        }

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The full ``eth_signTypedData_v4`` payload (for wallets)."""
        return _full_message(domain, "Voucher", _VOUCHER_FIELDS, self.to_message())


@dataclass(frozen=True)
class Revocation:
    """A contributor's signed revocation of one anchored record (relayable by anyone)."""

    contributor: str
    pool_id: int
    record_id: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "contributor", _address(self.contributor, "contributor"))
        object.__setattr__(self, "record_id", _bytes32(self.record_id, "record_id"))
        _uint(self.pool_id, 256, "pool_id")

    def struct_hash(self) -> bytes:
        """``hashStruct(Revocation)``."""
        return keccak256(
            _REVOCATION_TYPEHASH
            + _addr_word(self.contributor)
            + _word(self.pool_id)
            + self.record_id
        )

    def to_message(self) -> dict[str, Any]:
        """The message object of ``eth_signTypedData_v4``."""
        return {
            "contributor": self.contributor,
            "poolId": self.pool_id,
            "recordId": "0x" + self.record_id.hex(),
        }

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The full ``eth_signTypedData_v4`` payload (for wallets)."""
        return _full_message(domain, "Revocation", _REVOCATION_FIELDS, self.to_message())


_CONSENT_FIELDS = struct_fields(CONSENT_TYPE)
_VOUCHER_FIELDS = struct_fields(VOUCHER_TYPE)
_REVOCATION_FIELDS = struct_fields(REVOCATION_TYPE)


# ----------------------------------------------------------------- signatures


def consent_digest(consent: Consent, domain: Eip712Domain) -> bytes:
    """The EIP-712 digest of a consent (``PoolRegistry.consentDigest``)."""
    return _typed_digest(domain, consent.struct_hash())


def voucher_digest(voucher: Voucher, domain: Eip712Domain) -> bytes:
    """The EIP-712 digest of a voucher (``UsageEscrow.voucherDigest``)."""
    return _typed_digest(domain, voucher.struct_hash())


def revocation_digest(revocation: Revocation, domain: Eip712Domain) -> bytes:
    """The EIP-712 digest of a revocation."""
    return _typed_digest(domain, revocation.struct_hash())


def sign_consent(consent: Consent, domain: Eip712Domain, private_key: Any) -> bytes:
    """Sign a consent; returns the 65-byte signature."""
    return sign_digest(consent_digest(consent, domain), private_key)


def recover_consent_signer(consent: Consent, domain: Eip712Domain, signature: bytes | str) -> str:
    """The checksum address that signed the consent.

    Raises:
        SignatureError: If the signature is malformed.
    """
    return recover_signer(consent_digest(consent, domain), signature)


def verify_consent(consent: Consent, domain: Eip712Domain, signature: bytes | str) -> None:
    """Check that the contributor signed the consent.

    Raises:
        SignatureError: If the signature is malformed or signed by someone else.
    """
    _check_signer(
        recover_consent_signer(consent, domain, signature), consent.contributor, "consent"
    )


def sign_voucher(voucher: Voucher, domain: Eip712Domain, private_key: Any) -> bytes:
    """Sign a voucher; returns the 65-byte signature."""
    return sign_digest(voucher_digest(voucher, domain), private_key)


def recover_voucher_signer(voucher: Voucher, domain: Eip712Domain, signature: bytes | str) -> str:
    """The checksum address that signed the voucher.

    Raises:
        SignatureError: If the signature is malformed.
    """
    return recover_signer(voucher_digest(voucher, domain), signature)


def verify_voucher(voucher: Voucher, domain: Eip712Domain, signature: bytes | str) -> None:
    """Check that the payer signed the voucher.

    Raises:
        SignatureError: If the signature is malformed or signed by someone else.
    """
    _check_signer(recover_voucher_signer(voucher, domain, signature), voucher.payer, "voucher")


def sign_revocation(revocation: Revocation, domain: Eip712Domain, private_key: Any) -> bytes:
    """Sign a revocation; returns the 65-byte signature."""
    return sign_digest(revocation_digest(revocation, domain), private_key)


def recover_revocation_signer(
    revocation: Revocation, domain: Eip712Domain, signature: bytes | str
) -> str:
    """The checksum address that signed the revocation.

    Raises:
        SignatureError: If the signature is malformed.
    """
    return recover_signer(revocation_digest(revocation, domain), signature)


def verify_revocation(revocation: Revocation, domain: Eip712Domain, signature: bytes | str) -> None:
    """Check that the contributor signed the revocation.

    Raises:
        SignatureError: If the signature is malformed or signed by someone else.
    """
    _check_signer(
        recover_revocation_signer(revocation, domain, signature),
        revocation.contributor,
        "revocation",
    )
