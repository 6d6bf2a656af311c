"""Sending signed transactions: every send path ends in :func:`submit`, which checks the receipt.

A mined transaction can revert (``status`` 0) even when its preflight succeeded, for example
when it was signed elsewhere, sent with a fixed gas limit, or raced by another transaction.
:func:`submit` never hands such a receipt back: it replays the transaction as an ``eth_call``
against the state before its block to recover the revert data, and raises the decoded custom
error (:func:`~fairwheel.chain.reverts.revert_error`) with the transaction's hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairwheel.chain.reverts import revert_error
from fairwheel.errors import ChainError

if TYPE_CHECKING:
    from fairwheel.chain.client import Chain

__all__ = ["call_fields", "reverted", "submit"]


def call_fields(raw: bytes, action: str) -> dict[str, Any]:
    """The ``from``, ``to``, ``data`` and ``value`` of a signed typed (EIP-2718) transaction.

    Args:
        raw: The signed transaction's bytes.
        action: A label for error messages.

    Raises:
        ChainError: ``reason="Refused"`` if the bytes are not a signed typed transaction.
    """
    from eth_account import Account
    from eth_account.typed_transactions import TypedTransaction
    from eth_utils import to_checksum_address
    from hexbytes import HexBytes

    try:
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        sender = str(Account.recover_transaction(raw))
    except Exception as exc:  # rlp and eth_account raise many kinds
        raise ChainError(
            f"{action}: not a signed typed transaction: {exc}", reason="Refused"
        ) from None
    tx: dict[str, Any] = {
        "from": sender,
        "data": "0x" + bytes(fields.get("data") or b"").hex(),
        "value": int(fields.get("value") or 0),
    }
    to = fields.get("to")
    if to:
        tx["to"] = str(to_checksum_address(_hex(to)))
    return tx


def submit(
    chain: Chain, raw: bytes, tx: dict[str, Any], action: str, *, refused: str | None = None
) -> dict[str, Any]:
    """Send signed bytes, wait for the receipt and raise the decoded revert of a failure.

    The caller holds the chain's lock.

    Args:
        chain: The chain to send on.
        raw: The signed transaction.
        tx: Its ``from``, ``to``, ``data`` and ``value`` (to replay a revert as a call).
        action: A label for error messages.
        refused: The reason to give a send the chain refuses without revert data
            (``"Refused"`` for relayed transactions); ``None`` keeps ``"ChainFailure"``.

    Returns:
        The receipt as a plain dict, with ``status`` 1.

    Raises:
        ChainError: If the chain refuses the transaction, or its receipt has ``status`` 0
            (``details["reason"]`` names the custom error, ``details["tx_hash"]`` the
            transaction).
    """
    w3 = chain.w3
    try:
        tx_hash = w3.eth.send_raw_transaction(raw)
        receipt = w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=120, poll_latency=0.01 if chain.is_embedded else 0.05
        )
    except Exception as exc:
        error = revert_error(exc, action)
        if refused is not None and error.details.get("reason") == "ChainFailure":
            error = ChainError(
                f"{action}: the chain refused the transaction: {exc}", reason=refused
            )
        raise error from exc
    result: dict[str, Any] = dict(receipt)
    if int(result.get("status", 0)) != 1:
        raise reverted(chain, tx, result, action)
    return result


def reverted(chain: Chain, tx: dict[str, Any], receipt: dict[str, Any], action: str) -> ChainError:
    """The error of a mined transaction that reverted, re-run as a call to recover its data.

    Args:
        chain: The chain it was mined on.
        tx: Its ``from``, ``to``, ``data`` and ``value``.
        receipt: Its receipt (``status`` 0).
        action: A label for error messages.

    Returns:
        A :class:`ChainError` with the decoded custom error as ``details["reason"]`` (or
        ``"Reverted"`` when the replay succeeds, e.g. out of gas) and ``details["tx_hash"]``.
    """
    block = int(receipt["blockNumber"])
    tx_hash = _hex(receipt["transactionHash"])
    call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
    try:
        chain.w3.eth.call(call, block_identifier=max(block - 1, 0))  # type: ignore[arg-type]
    except Exception as exc:
        error = revert_error(exc, action)
        error.details["tx_hash"] = tx_hash
        return error
    return ChainError(
        f"{action} reverted on chain (out of gas?)",
        reason="Reverted",
        tx_hash=tx_hash,
        gas_used=int(receipt["gasUsed"]),
    )


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text
