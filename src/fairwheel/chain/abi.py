"""Minimal ABI codec over the shipped artifacts (eth_abi only: one RPC per read)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fairwheel.chain.artifacts import abi_of

__all__ = ["ContractAbi", "contract_abi"]


def _type(param: dict[str, Any]) -> str:
    typ: str = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


def _convert(param: dict[str, Any], value: Any) -> Any:
    """Checksum addresses and turn structs into dicts keyed by their field names."""
    from eth_utils import to_checksum_address

    typ: str = param["type"]
    if typ.endswith("]"):
        inner = dict(param, type=typ[: typ.rindex("[")])
        return [_convert(inner, v) for v in value]
    if typ == "tuple":
        return {
            c["name"]: _convert(c, v)
            for c, v in zip(param.get("components", []), value, strict=True)
        }
    if typ == "address":
        return str(to_checksum_address(value))
    if isinstance(value, bytearray):
        return bytes(value)
    return value


@dataclass(frozen=True)
class _Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class _Event:
    name: str
    params: tuple[dict[str, Any], ...]


class ContractAbi:
    """Encoder/decoder for one contract's functions, outputs and events."""

    def __init__(self, name: str, abi: Sequence[dict[str, Any]] | None = None) -> None:
        """Index the ABI of artifact ``name`` (or ``abi``, for a contract not shipped)."""
        from eth_utils import keccak

        self.name = name
        self.functions: dict[str, _Function] = {}
        self.events: dict[bytes, _Event] = {}
        for item in abi_of(name) if abi is None else abi:
            kind = item.get("type")
            if kind == "function":
                inputs = tuple(_type(p) for p in item.get("inputs", []))
                signature = f"{item['name']}({','.join(inputs)})"
                self.functions[item["name"]] = _Function(
                    item["name"],
                    bytes(keccak(text=signature))[:4],
                    inputs,
                    tuple(item.get("outputs", [])),
                )
            elif kind == "event":
                params = tuple(item.get("inputs", []))
                signature = f"{item['name']}({','.join(_type(p) for p in params)})"
                self.events[bytes(keccak(text=signature))] = _Event(item["name"], params)

    def encode_call(self, fn: str, args: Sequence[Any]) -> bytes:
        """Calldata of ``fn(*args)``."""
        from eth_abi import encode

        f = self.functions[fn]
        return f.selector + (encode(list(f.inputs), list(args)) if f.inputs else b"")

    def decode_output(self, fn: str, data: bytes) -> Any:
        """Decode a return value: the single value, or a tuple for several outputs."""
        from eth_abi import decode

        f = self.functions[fn]
        values = decode([_type(p) for p in f.outputs], data)
        converted = [_convert(p, v) for p, v in zip(f.outputs, values, strict=True)]
        return converted[0] if len(converted) == 1 else tuple(converted)

    def decode_log(self, topics: Sequence[bytes], data: bytes) -> tuple[str, dict[str, Any]] | None:
        """Decode a log of this contract, or ``None`` if its topic is not one of its events."""
        from eth_abi import decode

        if not topics:
            return None
        event = self.events.get(bytes(topics[0]))
        if event is None:
            return None
        indexed = [p for p in event.params if p.get("indexed")]
        plain = [p for p in event.params if not p.get("indexed")]
        values: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=False):
            (value,) = decode([_type(param)], bytes(topic))
            values[param["name"]] = _convert(param, value)
        decoded = decode([_type(p) for p in plain], data) if plain else ()
        for param, value in zip(plain, decoded, strict=True):
            values[param["name"]] = _convert(param, value)
        return event.name, {p["name"]: values[p["name"]] for p in event.params}


@functools.cache
def contract_abi(name: str) -> ContractAbi:
    """The (cached) codec of artifact ``name``."""
    return ContractAbi(name)
