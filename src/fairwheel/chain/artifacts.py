"""The compiled contracts shipped with the package, and decoding of their revert data.

Artifacts live in ``fairwheel/chain/artifacts/<Name>.json`` (built by ``contracts/build.mjs``,
checked byte for byte by ``scripts/build_contracts.sh --check``), so the node needs no compiler.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = [
    "CONTRACT_NAMES",
    "abi_of",
    "bytecode_of",
    "decode_revert",
    "error_selectors",
    "load_artifact",
]

#: The contracts of the protocol, in deployment order.
CONTRACT_NAMES: tuple[str, ...] = (
    "FairToken",
    "PoolRegistry",
    "UsageEscrow",
    "RewardDistributor",
    "Staking",
)

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


@functools.cache
def load_artifact(name: str) -> dict[str, Any]:
    """The artifact of contract ``name`` (abi, bytecode, deployedBytecode, compiler).

    Raises:
        KeyError: If there is no such contract.
    """
    if name not in CONTRACT_NAMES:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(CONTRACT_NAMES)}")
    path = resources.files("fairwheel.chain").joinpath("artifacts", f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def abi_of(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name``."""
    abi: list[dict[str, Any]] = load_artifact(name)["abi"]
    return abi


def bytecode_of(name: str) -> bytes:
    """The creation bytecode of contract ``name``."""
    return bytes.fromhex(load_artifact(name)["bytecode"][2:])


def _canonical_type(param: dict[str, Any]) -> str:
    typ: str = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


@functools.cache
def error_selectors() -> dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Map of 4-byte selector to ``(error name, argument names, argument types)`` over all ABIs."""
    from eth_utils import keccak

    out: dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for name in CONTRACT_NAMES:
        for item in abi_of(name):
            if item.get("type") != "error":
                continue
            types = tuple(_canonical_type(p) for p in item.get("inputs", []))
            names = tuple(p.get("name") or f"arg{i}" for i, p in enumerate(item.get("inputs", [])))
            selector = bytes(keccak(text=f"{item['name']}({','.join(types)})"))[:4]
            out[selector] = (item["name"], names, types)
    return out


def _checksum(value: Any) -> Any:
    from eth_utils import to_checksum_address

    return to_checksum_address(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def decode_revert(data: bytes | str | None) -> tuple[str, dict[str, Any]]:
    """Decode revert data into ``(reason, args)``.

    ``reason`` is the custom error's name (e.g. ``"NothingToClaim"``), ``"Error"`` for a
    ``require`` message (``args["message"]``), ``"Panic"`` (``args["code"]``), ``"Revert"`` for
    empty revert data, or ``"UnknownError"`` for an unknown selector (``args["data"]``).
    Byte values are returned as 0x-hex strings so the details are JSON-ready.
    """
    from eth_abi import decode

    if isinstance(data, str):
        text = data[2:] if data.startswith("0x") else data
        try:
            data = bytes.fromhex(text)
        except ValueError:
            return "UnknownError", {"data": data}
    if not data:
        return "Revert", {}
    selector, payload = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return "Error", {"message": decode(["string"], payload)[0]}
        if selector == _PANIC:
            return "Panic", {"code": decode(["uint256"], payload)[0]}
        known = error_selectors().get(selector)
        if known is not None:
            name, names, types = known
            values = decode(list(types), payload)
            return name, {
                n: _plain(_checksum(v) if t == "address" else v)
                for n, t, v in zip(names, types, values, strict=True)
            }
    except Exception:  # malformed payload: report it raw
        pass
    return "UnknownError", {"data": "0x" + data.hex()}
