"""Signed call receipts: the node's EIP-712 signature over one paid answer.

Every paid answer carries a :class:`CallReceipt` signed by the node's operator key in the
voucher domain (the UsageEscrow's)::

    CallReceipt(uint256 seq,bytes32 requestHash,bytes32 responseHash)

``seq`` is the call's ledger entry, ``requestHash`` the entry's ``query_hash`` (keccak-256 of the
canonical JSON ``{"kind", "query"}``, published in the epoch file) and ``responseHash`` the
keccak-256 of the canonical JSON of the answer's body (sorted keys, no spaces, UTF-8). So anyone
holding an answer can prove that the node gave it for that paid call — and a rating that carries
the receipt provably refers to a real answer. Nothing on-chain checks receipts; the signer is the
node's operator, whose address is in the pool's on-chain record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fairwheel.domain.merkle import keccak256
from fairwheel.domain.records import canonical_json
from fairwheel.domain.typed_data import (
    Eip712Domain,
    _bytes32,
    _full_message,
    _typed_digest,
    _uint,
    _word,
    recover_signer,
    sign_digest,
)

__all__ = ["CALL_RECEIPT_TYPE", "CallReceipt", "receipt_signer", "response_hash", "sign_receipt"]

CALL_RECEIPT_TYPE = "CallReceipt(uint256 seq,bytes32 requestHash,bytes32 responseHash)"
_TYPEHASH = keccak256(CALL_RECEIPT_TYPE.encode())
_FIELDS = [
    {"name": "seq", "type": "uint256"},
    {"name": "requestHash", "type": "bytes32"},
    {"name": "responseHash", "type": "bytes32"},
]


def response_hash(body: Any) -> bytes:
    """keccak-256 of the canonical JSON of a response body (a parsed JSON value)."""
    return keccak256(canonical_json(body))


@dataclass(frozen=True)
class CallReceipt:
    """What the node signs for one paid answer."""

    seq: int
    request_hash: bytes
    response_hash: bytes

    def __post_init__(self) -> None:
        _uint(self.seq, 256, "seq")
        object.__setattr__(self, "request_hash", _bytes32(self.request_hash, "request_hash"))
        object.__setattr__(self, "response_hash", _bytes32(self.response_hash, "response_hash"))

    def struct_hash(self) -> bytes:
        """``hashStruct(CallReceipt)``."""
        return keccak256(_TYPEHASH + _word(self.seq) + self.request_hash + self.response_hash)

    def digest(self, domain: Eip712Domain) -> bytes:
        return _typed_digest(domain, self.struct_hash())

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` payload (to verify with ethers or viem)."""
        message = {"seq": self.seq, "requestHash": "0x" + self.request_hash.hex(),
                   "responseHash": "0x" + self.response_hash.hex()}  # fmt: skip
        return _full_message(domain, "CallReceipt", _FIELDS, message)


def sign_receipt(receipt: CallReceipt, domain: Eip712Domain, private_key: Any) -> bytes:
    """The 65-byte signature of a receipt."""
    return sign_digest(receipt.digest(domain), private_key)


def receipt_signer(receipt: CallReceipt, domain: Eip712Domain, signature: bytes | str) -> str:
    """The checksum address that signed the receipt.

    Raises:
        SignatureError: The signature is malformed.
    """
    return recover_signer(receipt.digest(domain), signature)
