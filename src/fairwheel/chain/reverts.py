"""Turning web3 / eth-tester failures into :class:`~fairwheel.errors.ChainError` with the
decoded custom error (``details["reason"]``) and its arguments (``details["args"]``)."""

from __future__ import annotations

from typing import Any

from fairwheel.errors import ChainError

__all__ = ["revert_error"]


def revert_error(exc: BaseException, action: str) -> ChainError:
    """Translate a web3/eth-tester exception into a :class:`ChainError`.

    The revert data is decoded against the protocol's ABIs; ``details["reason"]`` is the custom
    error's name (``"NothingToClaim"``), ``"Error"``/``"Panic"`` for Solidity's built-ins, or
    ``"Revert"`` when there is no data; ``details["args"]`` holds its arguments.
    """
    from fairwheel.chain.artifacts import decode_revert

    data = _revert_data(exc)
    if data is None:
        return ChainError(f"{action} failed: {exc}", reason="ChainFailure", action=action)
    reason, args = decode_revert(data)
    if reason == "Error":
        text = f"{action} reverted: {args.get('message')}"
    else:
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        text = f"{action} reverted with {reason}({shown})"
    return ChainError(text, reason=reason, args=args, action=action)


def _revert_data(exc: BaseException) -> bytes | None:
    """Dig the revert data out of the many shapes web3 and eth-tester give it.

    web3's ``ContractCustomError``/``ContractLogicError`` carry hex in ``.data``; eth-tester's
    ``TransactionFailed`` wraps py-evm's ``Revert(bytes)`` somewhere down the exception chain.
    """
    seen: set[int] = set()
    pending: list[Any] = [exc]
    reverted = False
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseException):
            if id(item) in seen:
                continue
            seen.add(id(item))
            name = type(item).__name__
            if name in ("Revert", "TransactionFailed", "ContractLogicError", "ContractCustomError"):
                reverted = True
            pending.append(getattr(item, "data", None))
            pending.extend(item.args)
            pending.extend(e for e in (item.__cause__, item.__context__) if e is not None)
            continue
        if isinstance(item, dict):
            pending.append(item.get("data"))
        elif isinstance(item, bytes | bytearray) and (len(item) >= 4 or reverted):
            return bytes(item)
        elif isinstance(item, str):
            text = item.strip()
            if text.startswith("0x") and len(text) >= 10:
                try:
                    return bytes.fromhex(text[2:])
                except ValueError:
                    pass
            if "revert" in text.lower():
                reverted = True
            literal = _bytes_literal(text)
            if literal is not None:
                return literal
    if reverted or "revert" in str(exc).lower():
        return b""
    return None


def _bytes_literal(text: str) -> bytes | None:
    """eth-tester's ``eth_call`` reports revert data only as ``"execution reverted: b'...'"``."""
    import ast

    for quote in ("b'", 'b"'):
        start = text.find(quote)
        if start >= 0 and text.endswith(quote[1]):
            try:
                value = ast.literal_eval(text[start:])
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, bytes):
                return value
    return None
