"""EIP-712 machinery shared by every Fairwheel message: domains, digests, signatures.

The arithmetic of OpenZeppelin's ``EIP712`` (a cached domain separator, ``hashStruct``) and
``ECDSA.recover`` (65-byte ``r || s || v``, ``v`` in {27, 28}, low ``s``), done directly, plus the
``eth_signTypedData_v4`` payload a wallet signs. The messages themselves live in
:mod:`fairwheel.domain.typed_data`, :mod:`fairwheel.domain.batch_consent` and
:mod:`fairwheel.domain.receipts`.

A served payload's ``types`` never lists ``EIP712Domain``: ethers' ``signTypedData`` refuses it
(an unused type), viem and ``eth_account`` derive it from the ``domain``'s keys. A wallet reached
over JSON-RPC (``eth_signTypedData_v4``, MetaMask) needs it listed: add it with
:func:`with_domain_type` before sending.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from fairwheel.domain.merkle import keccak256
from fairwheel.errors import SchemaError, SignatureError

__all__ = [
    "DOMAIN_TYPE",
    "Eip712Domain",
    "address_field",
    "address_word",
    "bytes32_field",
    "check_signer",
    "recover_signer",
    "sign_digest",
    "struct_fields",
    "typed_digest",
    "typed_payload",
    "uint_field",
    "with_domain_type",
    "word",
]

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE.encode())

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2

# --------------------------------------------------------------------- fields


def address_field(value: Any, field: str) -> str:
    """``value`` as a checksum address.

    Raises:
        SchemaError: Not an address (``field`` names it).
    """
    from eth_utils import is_address, to_checksum_address

    if not isinstance(value, str) or not is_address(value):
        raise SchemaError(f"{field} must be an address", field=field)
    return str(to_checksum_address(value))


def uint_field(value: Any, bits: int, field: str) -> int:
    """``value`` if it is an int that fits in ``uint<bits>``.

    Raises:
        SchemaError: Not such an int (``field`` names it).
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise SchemaError(f"{field} must be a uint{bits}", field=field)
    return value


def bytes32_field(value: Any, field: str) -> bytes:
    """``value`` (bytes or 0x hex) as 32 bytes.

    Raises:
        SchemaError: Not 32 bytes (``field`` names it).
    """
    if isinstance(value, str) and value.startswith("0x"):
        try:
            value = bytes.fromhex(value[2:])
        except ValueError:
            raise SchemaError(f"{field} must be 32 bytes", field=field) from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise SchemaError(f"{field} must be 32 bytes", field=field)
    return bytes(value)


def word(value: int) -> bytes:
    """A uint as one 32-byte ABI word."""
    return value.to_bytes(32, "big")


def address_word(address: str) -> bytes:
    """An address as one 32-byte ABI word (left-padded)."""
    return bytes(12) + bytes.fromhex(address[2:])


@dataclass(frozen=True)
class Eip712Domain:
    """An EIP-712 domain with name, version, chain id and verifying contract."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        uint_field(self.chain_id, 256, "chain_id")
        object.__setattr__(
            self, "verifying_contract", address_field(self.verifying_contract, "verifying_contract")
        )

    @property
    def separator(self) -> bytes:
        """The 32-byte domain separator (``_domainSeparatorV4()`` on chain)."""
        return _separator(self.name, self.version, self.chain_id, self.verifying_contract)

    def to_dict(self) -> dict[str, Any]:
        """The domain as an ``eth_signTypedData_v4`` ``domain`` object."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@functools.lru_cache(maxsize=256)
def _separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    return keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(name.encode())
        + keccak256(version.encode())
        + word(chain_id)
        + address_word(verifying_contract)
    )


def typed_digest(domain: Eip712Domain, struct_hash: bytes) -> bytes:
    """The EIP-712 digest ``keccak256(0x19 0x01 || domainSeparator || struct_hash)``."""
    return keccak256(b"\x19\x01" + domain.separator + struct_hash)


def struct_fields(spec: str) -> list[dict[str, str]]:
    """The ``types`` entry of a struct from its type string: ``[{"name", "type"}, ...]``."""
    inner = spec[spec.index("(") + 1 : -1]
    return [{"name": n, "type": t} for t, n in (part.split(" ") for part in inner.split(","))]


def typed_payload(
    domain: Eip712Domain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> dict[str, Any]:
    """The ``{types, primaryType, domain, message}`` payload of one message, for wallets.

    ``types`` holds the primary type only, never ``EIP712Domain`` (see the module's notes), so
    the payload is what ethers' ``signTypedData(domain, types, message)`` and viem's
    ``signTypedData({domain, types, primaryType, message})`` take as they are.
    """
    return {
        "types": {primary: fields},
        "primaryType": primary,
        "domain": domain.to_dict(),
        "message": message,
    }


def with_domain_type(typed: dict[str, Any]) -> dict[str, Any]:
    """A copy of a payload whose ``types`` also lists ``EIP712Domain`` (for JSON-RPC wallets).

    The domain's fields are the keys the ``domain`` object has, in the EIP-712 order.
    """
    domain = typed["domain"]
    order = (("name", "string"), ("version", "string"), ("chainId", "uint256"),
             ("verifyingContract", "address"), ("salt", "bytes32"))  # fmt: skip
    fields = [{"name": n, "type": t} for n, t in order if n in domain]
    return {**typed, "types": {"EIP712Domain": fields, **typed["types"]}}


# ----------------------------------------------------------------- signatures


def _signature_bytes(signature: Any) -> bytes:
    if isinstance(signature, str):
        text = signature[2:] if signature.startswith("0x") else signature
        try:
            signature = bytes.fromhex(text)
        except ValueError:
            raise SignatureError("signature is not hex") from None
    if not isinstance(signature, bytes | bytearray):
        raise SignatureError("signature must be bytes")
    sig = bytes(signature)
    if len(sig) != 65:
        raise SignatureError(f"signature must be 65 bytes, got {len(sig)}", length=len(sig))
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    v = sig[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}", v=v)
    if not 0 < r < _SECP256K1_N:
        raise SignatureError("signature r out of range")
    if not 0 < s <= _HALF_N:
        raise SignatureError("signature s is not in the lower half order (malleable)")
    return sig


def recover_signer(digest: bytes, signature: bytes | str) -> str:
    """Recover the checksum address that signed a 32-byte digest.

    Applies the same rules as OpenZeppelin's ``ECDSA.recover``: 65 bytes, ``v`` in {27, 28},
    low ``s``.

    Raises:
        SignatureError: If the signature is malformed or does not recover.
    """
    sig = _signature_bytes(signature)
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    recover = _fast_recover()
    try:
        if recover is not None:
            return recover(digest, sig)
        from eth_account import Account

        return str(Account._recover_hash(digest, signature=sig))
    except Exception as exc:  # coincurve / eth_keys raise their own errors
        raise SignatureError(f"signature does not recover: {exc}") from exc


def _checksum(address: bytes) -> str:
    """EIP-55 checksum spelling of a 20-byte address."""
    text = address.hex()
    nibbles = keccak256(text.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(text, nibbles[:40], strict=True)
    )


@functools.cache
def _fast_recover() -> Any:
    """Recovery straight through coincurve (5x faster than eth_account), if installed."""
    try:
        from coincurve import PublicKey
    except ImportError:  # pragma: no cover - coincurve is a dependency of the project
        return None

    def recover(digest: bytes, sig: bytes) -> str:
        rsv = sig[:64] + bytes([sig[64] - 27])
        public = PublicKey.from_signature_and_message(rsv, digest, hasher=None)
        return _checksum(keccak256(public.format(compressed=False)[1:])[12:])

    return recover


def _private_key(private_key: Any) -> Any:
    return getattr(private_key, "key", private_key)


def sign_digest(digest: bytes, private_key: Any) -> bytes:
    """Sign a 32-byte EIP-712 digest; returns 65 bytes ``r || s || v`` (low-s, v in {27, 28}).

    Args:
        digest: The digest (from one of the ``*_digest`` functions, never an arbitrary hash).
        private_key: 32 bytes, a hex string, or an ``eth_account`` ``LocalAccount``.
    """
    from eth_account import Account

    signed = Account.unsafe_sign_hash(digest, _private_key(private_key))
    r, s, v = int(signed.r), int(signed.s), int(signed.v)
    if s > _HALF_N:  # normalise, should a backend ever return a high s
        s, v = _SECP256K1_N - s, 55 - v
    return word(r) + word(s) + bytes([v])


def check_signer(recovered: str, expected: str, what: str) -> None:
    """Raise unless ``recovered`` is ``expected``.

    Raises:
        SignatureError: Signed by someone else (``expected`` and ``recovered`` in details).
    """
    if recovered != expected:
        raise SignatureError(
            f"{what} signed by {recovered}, not by {expected}",
            expected=expected,
            recovered=recovered,
        )
