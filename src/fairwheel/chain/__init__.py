"""The chain port: contracts, artifacts and a typed client.

``connect_chain("embedded://")`` gives an in-process EVM; ``connect_chain("http://...")`` any
JSON-RPC node (anvil in the tests); one conformance suite runs against both.
``chain.deploy(account)`` or ``chain.attach(addresses)`` gives a :class:`Protocol` with one
method per contract function. Importing this package is cheap: web3 and eth-tester load on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fairwheel.chain.types import (
    ModelInfo,
    PendingWithdrawal,
    PoolInfo,
    RootInfo,
    StakeInfo,
    StakeRole,
    TxResult,
)

if TYPE_CHECKING:
    from fairwheel.chain.artifacts import CONTRACT_NAMES, decode_revert, load_artifact
    from fairwheel.chain.client import Chain, connect_chain
    from fairwheel.chain.protocol import Protocol

__all__ = [
    "CONTRACT_NAMES",
    "Chain",
    "ModelInfo",
    "PendingWithdrawal",
    "PoolInfo",
    "Protocol",
    "RootInfo",
    "StakeInfo",
    "StakeRole",
    "TxResult",
    "connect_chain",
    "decode_revert",
    "load_artifact",
]

_LAZY = {
    "Chain": "fairwheel.chain.client",
    "connect_chain": "fairwheel.chain.client",
    "Protocol": "fairwheel.chain.protocol",
    "CONTRACT_NAMES": "fairwheel.chain.artifacts",
    "decode_revert": "fairwheel.chain.artifacts",
    "load_artifact": "fairwheel.chain.artifacts",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fairwheel.chain' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
