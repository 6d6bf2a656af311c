"""EIP-2612 ``permit`` signatures, for one-transaction escrow deposits.

A permit lets ``owner`` authorise ``spender`` to pull ``value`` tokens by signing, instead of
sending an ``approve`` transaction. Its digest is EIP-712 in the *token's* domain (for the
FairToken: name "Fairwheel Token", version "1", the chain id and the token's address)::

    Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)

``nonce`` is the token's ``nonces(owner)``, so a permit can be used once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fairwheel.domain.merkle import keccak256
from fairwheel.domain.typed_data import Eip712Domain, sign_digest

__all__ = ["PERMIT_TYPE", "Permit", "permit_digest", "sign_permit", "split_signature"]

PERMIT_TYPE = "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
_PERMIT_TYPEHASH = keccak256(PERMIT_TYPE.encode())


@dataclass(frozen=True)
class Permit:
    """An EIP-2612 permit: ``owner`` lets ``spender`` pull ``value`` until ``deadline``."""

    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int

    def struct_hash(self) -> bytes:
        """``hashStruct(Permit)``."""
        return keccak256(
            _PERMIT_TYPEHASH
            + _addr(self.owner)
            + _addr(self.spender)
            + _word(self.value)
            + _word(self.nonce)
            + _word(self.deadline)
        )


def _word(value: int) -> bytes:
    return int(value).to_bytes(32, "big")


def _addr(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def permit_digest(permit: Permit, domain: Eip712Domain) -> bytes:
    """The EIP-712 digest a permit signs, in the token's domain."""
    return keccak256(b"\x19\x01" + domain.separator + permit.struct_hash())


def sign_permit(permit: Permit, domain: Eip712Domain, private_key: Any) -> bytes:
    """Sign a permit; 65 bytes ``r || s || v`` (low-s, ``v`` in {27, 28})."""
    return sign_digest(permit_digest(permit, domain), private_key)


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """``(v, r, s)`` of a 65-byte ``r || s || v`` signature, as ``permit`` takes them.

    Raises:
        ValueError: If the signature is not 65 bytes.
    """
    if len(signature) != 65:
        raise ValueError("signature must be 65 bytes")
    return signature[64], signature[:32], signature[32:64]
