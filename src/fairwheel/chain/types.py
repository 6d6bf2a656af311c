"""Plain results returned by the chain client (no web3 types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "ModelInfo",
    "PendingWithdrawal",
    "PoolInfo",
    "RootInfo",
    "StakeInfo",
    "StakeRole",
    "TxResult",
]


@dataclass(frozen=True)
class TxResult:
    """A mined transaction.

    Attributes:
        tx_hash: 0x-prefixed transaction hash.
        gas_used: Gas the transaction used.
        block_number: Block it was mined in.
        value: The function's natural result taken from its events (pool id, batch id, model id,
            amount paid ...), or ``None``.
        events: Decoded events of the protocol's contracts, in log order; each is
            ``{"event": name, "contract": contract name, "address": checksum address,
            "args": {...}, "block_number": int, "log_index": int}`` with bytes as ``bytes``.
    """

    tx_hash: str
    gas_used: int
    block_number: int
    value: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, name: str) -> dict[str, Any]:
        """The args of the first event called ``name``.

        Raises:
            KeyError: If the transaction emitted no such event.
        """
        for ev in self.events:
            if ev["event"] == name:
                args: dict[str, Any] = ev["args"]
                return args
        raise KeyError(name)


@dataclass(frozen=True)
class PoolInfo:
    """A pool as stored by ``PoolRegistry.getPool``."""

    pool_id: int
    operator: str
    guardian: str
    token: str
    search_price: int
    predict_price: int
    operator_fee_bps: int
    builder_share_bps: int
    metadata_hash: bytes
    batch_count: int
    model_count: int


@dataclass(frozen=True)
class ModelInfo:
    """A model as stored by ``PoolRegistry.model``."""

    pool_id: int
    model_id: int
    model_hash: bytes
    dataset_root: bytes
    metrics_hash: bytes
    registered_at: int
    uri: str


@dataclass(frozen=True)
class RootInfo:
    """An epoch root as stored by ``RewardDistributor.epochRoot`` (all zero if never posted)."""

    pool_id: int
    epoch: int
    root: bytes
    total_cumulative: int
    active_at: int
    cancelled: bool
    epoch_file_hash: bytes

    @property
    def exists(self) -> bool:
        """Whether a root was posted for this epoch."""
        return self.root != bytes(32)


@dataclass(frozen=True)
class PendingWithdrawal:
    """A consumer's requested escrow withdrawal (zeros if none)."""

    amount: int
    ready_at: int


class StakeRole(IntEnum):
    """What a stake backs (``Staking.Role``); ``OPERATOR`` stakes only by the pool's operator."""

    LABELER = 0
    RATER = 1
    OPERATOR = 2


@dataclass(frozen=True)
class StakeInfo:
    """One account's stake in one pool and role (``Staking.stakeOf``).

    Attributes:
        staked: Active stake.
        unbonding: Stake requested out, withdrawable at ``ready_at`` (still slashable).
        ready_at: When ``unstake`` can pay the unbonding stake (0 if none).
    """

    staked: int
    unbonding: int
    ready_at: int

    @property
    def total(self) -> int:
        """Everything the guardian could still slash."""
        return self.staked + self.unbonding
