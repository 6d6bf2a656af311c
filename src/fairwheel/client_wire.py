"""What :class:`fairwheel.client.FairwheelClient` puts on the wire, and how it reads errors.

Pure helpers of the client, signed with the caller's key in this process: the request records
of signed consents, a voucher's headers, the raw transactions of an escrow deposit; and the
API's JSON errors raised as the exception classes of :mod:`fairwheel.errors`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import httpx

from fairwheel import errors as E
from fairwheel.domain.records import content_hash
from fairwheel.errors import ApiError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.domain.typed_data import Eip712Domain

__all__ = [
    "account_address",
    "deposit_transactions",
    "raise_for",
    "signed_records",
    "voucher_headers",
]


def account_address(account: LocalAccount | None) -> str:
    """The address of the key that signs; ``ConfigError`` when there is none."""
    if account is None:
        raise E.ConfigError("this client has no account (pass one to sign)")
    return str(account.address)


def raise_for(response: httpx.Response) -> None:
    """Raise the API's JSON error as the class of its ``code`` (from :func:`errors.by_code`).

    ``details['status']`` is set to the HTTP status. A code this client does not know raises
    :class:`ApiError` with the server's ``code``; an answer that is not a JSON error raises
    :class:`ApiError` (``http_error``) with the start of its text.
    """
    if response.is_success:
        return
    try:
        body = response.json()
        code, message, details = body["code"], body["message"], dict(body.get("details") or {})
        if not isinstance(code, str) or not isinstance(message, str):
            raise TypeError(code)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ApiError(response.text[:500], status=response.status_code) from None
    details.setdefault("status", response.status_code)
    cls = E.by_code().get(code)
    if cls is None:
        error: E.FairwheelError = ApiError(message, **details)
        error.code = code
    else:
        error = cls(message, **details)
    raise error


def signed_records(
    account: LocalAccount,
    domain: Eip712Domain,
    pool_id: int,
    records: Iterable[tuple[str, str | None]],
    *,
    licence: str,
    purposes: int,
    expiry: int,
) -> list[dict[str, Any]]:
    """An EIP-712 consent signed by ``account`` for each (text, label): the request records."""
    from fairwheel.domain.typed_data import Consent, sign_consent

    out = []
    for text, label in records:
        consent = Consent(
            account_address(account),
            pool_id,
            content_hash(text, label),
            licence,
            purposes,
            expiry,
            secrets.randbits(64),
        )
        signature = sign_consent(consent, domain, account.key)
        out.append(
            {
                "text": text,
                "label": label,
                "signature": "0x" + signature.hex(),
                "consent": {
                    "contributor": consent.contributor,
                    "pool_id": pool_id,
                    "content_hash": "0x" + consent.content_hash.hex(),
                    "licence": licence,
                    "purposes": purposes,
                    "expiry": expiry,
                    "nonce": str(consent.nonce),
                },
            }
        )
    return out


def voucher_headers(
    account: LocalAccount, domain: Eip712Domain, pool_id: int, cumulative: int
) -> dict[str, str]:
    """The headers of a paid call: the voucher for ``cumulative`` and its signature."""
    from fairwheel.domain.typed_data import Voucher, sign_voucher

    voucher = Voucher(account_address(account), pool_id, cumulative)
    signature = sign_voucher(voucher, domain, account.key)
    header = json.dumps(
        {
            "payer": voucher.payer,
            "pool_id": pool_id,
            "cumulative_amount": str(voucher.cumulative_amount),
        }
    )
    return {"X-Fairwheel-Voucher": header, "X-Fairwheel-Signature": "0x" + signature.hex()}


def deposit_transactions(
    account: LocalAccount, chain: dict[str, Any], info: dict[str, Any], pool_id: int, amount: int
) -> list[str]:
    """The two signed raw transactions (``0x`` hex) of a deposit: approve, then deposit.

    Args:
        account: The payer's key.
        chain: The node's chain facts (``/v1/chain``).
        info: The payer's account facts (``/v1/chain/accounts/{address}``): nonce and fees.
        pool_id: The pool whose escrow receives the deposit.
        amount: Token base units.
    """
    token, escrow = chain["contracts"]["FairToken"], chain["contracts"]["UsageEscrow"]
    approve = bytes.fromhex("095ea7b3") + _word(int(escrow, 16)) + _word(amount)
    deposit = bytes.fromhex("e2bbb158") + _word(pool_id) + _word(amount)
    out = []
    for i, (to, data) in enumerate(((token, approve), (escrow, deposit))):
        tx = {
            "type": 2,
            "chainId": int(chain["chain_id"]),
            "nonce": int(info["nonce"]) + i,
            "to": to,
            "data": "0x" + data.hex(),
            "value": 0,
            "gas": 200_000,
            "maxFeePerGas": int(info["max_fee_per_gas"]),
            "maxPriorityFeePerGas": int(info["max_priority_fee_per_gas"]),
        }
        raw = account.sign_transaction(tx).raw_transaction
        out.append("0x" + bytes(raw).hex())
    return out


def _word(value: int) -> bytes:
    return int(value).to_bytes(32, "big")
