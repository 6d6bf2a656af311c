"""x402 v2 payments for the paid routes, mapped onto the escrow and the cumulative voucher.

An unpaid call of a paid route is answered ``402`` with a ``PAYMENT-REQUIRED`` header (base64
of the JSON ``PaymentRequired`` object of the x402 v2 specification); the client pays by sending
the request again with a ``PAYMENT-SIGNATURE`` header (base64 of a JSON ``PaymentPayload``), and
the answer carries a ``PAYMENT-RESPONSE`` header (base64 of a JSON ``SettlementResponse``).

The one scheme offered, :data:`SCHEME` (``fairwheel-voucher``), is a capital-backed batch
settlement on the pool's own contracts: the payload carries the same EIP-712
``Voucher(address payer,uint256 poolId,uint256 cumulativeAmount)`` signature the
``X-Fairwheel-Voucher`` headers carry, so the node checks and stores it exactly as before and
redeems it with ``UsageEscrow.redeemMany`` at the next epoch close. Nothing moves on-chain during
the request: the settlement response's ``transaction`` is empty and its ``extra`` says what was
charged, the new cumulative amount and the ledger entry. docs/payments.md is the specification.

This module only translates: requirements built from the node's read models, headers encoded
and decoded, a payload turned into the node's :class:`~fairwheel.domain.typed_data.Voucher` and
signature. The voucher checks and the ledger are the node's (:meth:`fairwheel.node.Node.search`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fairwheel.api.jsonlimits import loads_bounded
from fairwheel.errors import FairwheelError, PaymentRequired, SchemaError

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

    from fairwheel.domain.typed_data import Voucher
    from fairwheel.node import Node

__all__ = [
    "MAX_HEADER_CHARS",
    "PAYER_HEADER",
    "PAYMENT_REQUIRED",
    "PAYMENT_RESPONSE",
    "PAYMENT_SIGNATURE",
    "SCHEME",
    "X402_VERSION",
    "decode_header",
    "encode_header",
    "network_of",
    "payer_of",
    "payment_required",
    "refusal_response",
    "requirements",
    "settlement",
    "to_voucher",
    "unpaid_response",
]

X402_VERSION = 2
SCHEME = "fairwheel-voucher"
PAYMENT_REQUIRED = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE = "PAYMENT-RESPONSE"
#: Names the payer of an unpaid request, so its 402 can say the payer's next cumulative amount.
PAYER_HEADER = "X-Fairwheel-Payer"
#: The longest ``PAYMENT-SIGNATURE`` accepted (base64 characters).
MAX_HEADER_CHARS = 8192
#: Seconds a client has to answer a 402 before its terms may have moved on (a price change).
MAX_TIMEOUT_SECONDS = 300

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_DIGITS = re.compile(r"^[0-9]{1,78}$")
_DESCRIPTION = {"search": "A paid top-k search of pool {pool}", "predict": "A paid prediction "
                "by pool {pool}'s model"}  # fmt: skip


# ------------------------------------------------------------------------ header encoding


def encode_header(value: Mapping[str, Any]) -> str:
    """Base64 (standard alphabet, padded) of the compact UTF-8 JSON of ``value``."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_header(raw: str, name: str = PAYMENT_SIGNATURE) -> dict[str, Any]:
    """The JSON object carried base64-encoded in header ``name``.

    Raises:
        SchemaError: If the header is too long, not base64, not UTF-8 JSON or not an object.
    """
    if len(raw) > MAX_HEADER_CHARS:
        raise SchemaError(f"{name} is longer than {MAX_HEADER_CHARS} characters", header=name)
    text = raw.strip()
    if not _BASE64.fullmatch(text):
        raise SchemaError(f"{name} is not base64", header=name)
    try:
        data = loads_bounded(base64.b64decode(text, validate=True).decode("utf-8"), name)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SchemaError(f"{name} is not base64 of UTF-8 JSON", header=name) from None
    if not isinstance(data, dict):
        raise SchemaError(f"{name} must be a JSON object", header=name)
    return data


# ----------------------------------------------------------------------------- requirements


def network_of(chain_id: int) -> str:
    """The CAIP-2 network of an EVM chain: ``eip155:<chain id>``."""
    return f"eip155:{chain_id}"


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def requirements(node: Node, pool_id: int, kind: str, payer: str | None = None) -> dict[str, Any]:
    """The ``PaymentRequirements`` of one ``kind`` call in the pool (x402 v2, our scheme).

    ``amount`` is the price; ``asset`` the pool's token; ``payTo`` the UsageEscrow, the
    voucher's verifying contract, which pays the pool's operator (``extra.receiver``) when the
    vouchers are redeemed. With a known ``payer``, ``extra`` also says what they have spent and
    the ``cumulativeAmount`` their voucher for this call must carry.

    Raises:
        NotFound: If there is no such pool.
    """
    price = node.price_of(pool_id, kind)
    domain = node.voucher_domain()
    pool = node.onchain.pool_info(pool_id)
    extra: dict[str, Any] = {
        "name": domain.name,
        "version": domain.version,
        "poolId": str(pool_id),
        "kind": kind,
        "escrow": domain.verifying_contract,
        "receiver": _checksum(pool.operator),
        "settlement": "batched",
        "redemptionWindow": node.settings.voucher_window,
    }
    if payer is not None:
        payer = _checksum(payer)
        spent = node.spent(pool_id, payer)
        extra.update(payer=payer, spent=str(spent), cumulativeAmount=str(spent + price))
    return {
        "scheme": SCHEME,
        "network": network_of(domain.chain_id),
        "amount": str(price),
        "asset": _checksum(pool.token),
        "payTo": domain.verifying_contract,
        "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
        "extra": extra,
    }


def payment_required(
    node: Node,
    pool_id: int,
    kind: str,
    url: str,
    *,
    payer: str | None = None,
    error: str = "PAYMENT-SIGNATURE header is required",
) -> dict[str, Any]:
    """The ``PaymentRequired`` object of a 402 for the resource at ``url``."""
    return {
        "x402Version": X402_VERSION,
        "error": error,
        "resource": {
            "url": url,
            "description": _DESCRIPTION[kind].format(pool=pool_id),
            "mimeType": "application/json",
        },
        "accepts": [requirements(node, pool_id, kind, payer)],
    }


# ------------------------------------------------------------------------------- payments


def _field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise SchemaError(f"{PAYMENT_SIGNATURE}: {where}.{key} is missing", field=f"{where}.{key}")
    return data[key]


def _text(value: Any, pattern: re.Pattern[str], where: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SchemaError(f"{PAYMENT_SIGNATURE}: {where} is malformed", field=where)
    return value


def _uint(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return int(_text(value, _DIGITS, where))


def to_voucher(
    node: Node, pool_id: int, kind: str, payload: Mapping[str, Any]
) -> tuple[Voucher, bytes]:
    """The node's voucher and signature carried by a decoded ``PaymentPayload``.

    The payload must be x402 v2 for our scheme, on this chain, to this escrow, in the pool's
    token and for this pool; the amount, signature and escrow cover are then the node's to
    check (:meth:`fairwheel.node.Node.search`), as for the ``X-Fairwheel-Voucher`` headers.

    Raises:
        SchemaError: If the payload is malformed or meant for other terms.
    """
    from fairwheel.domain.typed_data import Voucher

    if payload.get("x402Version") != X402_VERSION:
        raise SchemaError(f"{PAYMENT_SIGNATURE}: x402Version must be {X402_VERSION}")
    accepted = _field(payload, "accepted", "payload")
    if not isinstance(accepted, dict):
        raise SchemaError(f"{PAYMENT_SIGNATURE}: accepted must be an object", field="accepted")
    if accepted.get("scheme") != SCHEME:
        raise SchemaError(
            f"{PAYMENT_SIGNATURE}: scheme {accepted.get('scheme')!r} is not offered; "
            f"this node accepts {SCHEME!r}",
            field="accepted.scheme",
        )
    terms = requirements(node, pool_id, kind)
    for key in ("network", "payTo", "asset"):
        sent = accepted.get(key)
        if not isinstance(sent, str) or sent.lower() != terms[key].lower():
            raise SchemaError(
                f"{PAYMENT_SIGNATURE}: accepted.{key} must be {terms[key]}, not {sent!r}",
                field=f"accepted.{key}",
                expected=terms[key],
            )
    inner = _field(payload, "payload", "payload")
    if not isinstance(inner, dict):
        raise SchemaError(f"{PAYMENT_SIGNATURE}: payload must be an object", field="payload")
    signed = _field(inner, "voucher", "payload")
    if not isinstance(signed, dict):
        raise SchemaError(f"{PAYMENT_SIGNATURE}: payload.voucher must be an object")
    payer = _text(_field(signed, "payer", "voucher"), _ADDRESS, "voucher.payer")
    pool = _uint(_field(signed, "poolId", "voucher"), "voucher.poolId")
    amount = _uint(_field(signed, "cumulativeAmount", "voucher"), "voucher.cumulativeAmount")
    signature = _text(_field(inner, "signature", "payload"), _SIGNATURE, "payload.signature")
    if pool != pool_id:
        raise SchemaError(f"voucher is for pool {pool}, not pool {pool_id}", field="voucher.poolId")
    return Voucher(payer, pool, amount), bytes.fromhex(signature[2:])


def payer_of(raw: str | None) -> str | None:
    """The payer named by a ``PAYMENT-SIGNATURE`` header, if it names one at all (best effort,
    for the corrective 402 of a refused payment)."""
    if raw is None:
        return None
    try:
        voucher = decode_header(raw).get("payload", {}).get("voucher", {})
        payer = voucher.get("payer") if isinstance(voucher, dict) else None
    except (FairwheelError, AttributeError):
        return None
    return payer if isinstance(payer, str) and _ADDRESS.fullmatch(payer) else None


def settlement(
    node: Node, pool_id: int, voucher: Voucher, *, charged: int, seq: int
) -> dict[str, Any]:
    """The ``SettlementResponse`` of an accepted payment.

    Nothing was sent on-chain: ``transaction`` and ``amount`` are empty (as in the x402
    batch-settlement scheme) and ``extra`` says what was charged, the new cumulative amount,
    the ledger entry and how it settles.
    """
    domain = node.voucher_domain()
    return {
        "success": True,
        "transaction": "",
        "network": network_of(domain.chain_id),
        "payer": voucher.payer,
        "amount": "",
        "extra": {
            "scheme": SCHEME,
            "chargedAmount": str(charged),
            "cumulativeAmount": str(voucher.cumulative_amount),
            "seq": seq,
            "poolId": str(pool_id),
            "escrow": domain.verifying_contract,
            "settlement": "batched",
            "redemptionWindow": node.settings.voucher_window,
        },
    }


# ------------------------------------------------------------------------------ responses


def _error(exc: FairwheelError, headers: Mapping[str, str]) -> JSONResponse:
    from fairwheel.api.app import error_response

    return error_response(exc, headers=headers)


def unpaid_response(
    node: Node, pool_id: int, kind: str, url: str, payer: str | None
) -> JSONResponse:
    """The 402 of a paid route called without any payment, with ``PAYMENT-REQUIRED``."""
    required = payment_required(node, pool_id, kind, url, payer=payer)
    terms = required["accepts"][0]
    details: dict[str, Any] = {"price": terms["amount"], "scheme": SCHEME}
    if payer is not None:
        details["next_cumulative"] = terms["extra"]["cumulativeAmount"]
    exc = PaymentRequired(
        f"this {kind} costs {terms['amount']}: pay with a voucher (the X-Fairwheel-Voucher "
        f"and X-Fairwheel-Signature headers, or x402's {PAYMENT_SIGNATURE})",
        **details,
    )
    return _error(exc, {PAYMENT_REQUIRED: encode_header(required)})


def refusal_response(
    node: Node, pool_id: int, kind: str, url: str, exc: FairwheelError, payer: str | None
) -> JSONResponse:
    """The answer to a refused x402 payment: the error, a failed ``PAYMENT-RESPONSE`` and,
    for a 402, a corrective ``PAYMENT-REQUIRED`` with the payer's expected cumulative amount."""
    headers = {
        PAYMENT_RESPONSE: encode_header(
            {
                "success": False,
                "errorReason": exc.code,
                "errorMessage": exc.message,
                "transaction": "",
                "network": network_of(node.voucher_domain().chain_id),
                **({"payer": _checksum(payer)} if payer else {}),
            }
        )
    }
    if exc.http_status == 402:
        required = payment_required(node, pool_id, kind, url, payer=payer, error=exc.message)
        headers[PAYMENT_REQUIRED] = encode_header(required)
    return _error(exc, headers)
