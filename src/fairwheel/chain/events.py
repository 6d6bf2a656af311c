"""Rebuilding the protocol's state from its events alone.

Every state change of the contracts emits an event that carries enough to replay it. A node (or
an indexer, or an auditor) that has only the logs can rebuild pools, pauses, batch roots,
revocations, models, escrow balances, redemptions, pending withdrawals, epoch roots, funding,
claims and stakes::

    view = ProtocolView.from_events(protocol.logs(from_block=deployment_block))

The tests rebuild the view after random sequences of operations and compare it, field by field,
with the contracts' own views.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EpochView", "PoolView", "ProtocolView"]


@dataclass
class PoolView:
    """A pool as its events describe it."""

    operator: str
    guardian: str
    token: str
    search_price: int
    predict_price: int
    operator_fee_bps: int
    builder_share_bps: int
    metadata_hash: bytes
    batch_count: int = 0
    model_count: int = 0
    paused: bool = False


@dataclass
class EpochView:
    """An epoch root as its events describe it."""

    root: bytes
    total_cumulative: int
    active_at: int
    epoch_file_hash: bytes
    cancelled: bool = False


@dataclass
class ProtocolView:
    """The protocol's state, rebuilt from events (keys are tuples of ids and addresses)."""

    pools: dict[int, PoolView] = field(default_factory=dict)
    batch_roots: dict[tuple[int, int], bytes] = field(default_factory=dict)
    revoked: set[tuple[int, bytes]] = field(default_factory=set)
    models: dict[tuple[int, int], tuple[bytes, bytes, bytes, str]] = field(default_factory=dict)
    escrow_balance: dict[tuple[int, str], int] = field(default_factory=dict)
    redeemed: dict[tuple[int, str], int] = field(default_factory=dict)
    pending_withdrawal: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    epochs: dict[tuple[int, int], EpochView] = field(default_factory=dict)
    last_epoch: dict[int, int] = field(default_factory=dict)
    funded: dict[int, int] = field(default_factory=dict)
    total_claimed: dict[int, int] = field(default_factory=dict)
    claimed: dict[tuple[int, str], int] = field(default_factory=dict)
    stakes: dict[tuple[int, str, int], tuple[int, int, int]] = field(default_factory=dict)
    total_staked: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_events(cls, events: Iterable[dict[str, Any]]) -> ProtocolView:
        """Replay decoded events (as :meth:`Protocol.logs` returns them) in chain order."""
        view = cls()
        for event in events:
            view.apply(event)
        return view

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one decoded event; events of other contracts or kinds are ignored.

        Raises:
            KeyError: If the event refers to a pool whose creation was not replayed.
        """
        handler = getattr(self, f"_on_{event['event']}", None)
        if handler is not None:
            handler(event["args"])

    # ----------------------------------------------------------------- registry

    def _on_PoolCreated(self, a: dict[str, Any]) -> None:
        self.pools[a["poolId"]] = PoolView(
            operator=a["operator"],
            guardian=a["guardian"],
            token=a["token"],
            search_price=a["searchPrice"],
            predict_price=a["predictPrice"],
            operator_fee_bps=a["operatorFeeBps"],
            builder_share_bps=a["builderShareBps"],
            metadata_hash=a["metadataHash"],
        )

    def _on_PoolPaused(self, a: dict[str, Any]) -> None:
        self.pools[a["poolId"]].paused = True

    def _on_PoolUnpaused(self, a: dict[str, Any]) -> None:
        self.pools[a["poolId"]].paused = False

    def _on_BatchAnchored(self, a: dict[str, Any]) -> None:
        self.batch_roots[(a["poolId"], a["batchId"])] = a["root"]
        self.pools[a["poolId"]].batch_count = a["batchId"]

    def _on_Revoked(self, a: dict[str, Any]) -> None:
        self.revoked.add((a["poolId"], a["recordId"]))

    def _on_ModelRegistered(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["modelId"])
        self.models[key] = (a["modelHash"], a["datasetRoot"], a["metricsHash"], a["uri"])
        self.pools[a["poolId"]].model_count = a["modelId"]

    # ------------------------------------------------------------------- escrow

    def _on_Deposited(self, a: dict[str, Any]) -> None:
        self.escrow_balance[(a["poolId"], a["payer"])] = a["balance"]

    def _on_Redeemed(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["payer"])
        self.redeemed[key] = a["cumulativeAmount"]
        self.escrow_balance[key] = self.escrow_balance.get(key, 0) - a["paid"]

    def _on_WithdrawRequested(self, a: dict[str, Any]) -> None:
        self.pending_withdrawal[(a["poolId"], a["payer"])] = (a["amount"], a["readyAt"])

    def _on_Withdrawn(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["payer"])
        self.pending_withdrawal.pop(key, None)
        self.escrow_balance[key] = self.escrow_balance.get(key, 0) - a["amount"]

    # -------------------------------------------------------------- distributor

    def _on_RootPosted(self, a: dict[str, Any]) -> None:
        pool = a["poolId"]
        self.epochs[(pool, a["epoch"])] = EpochView(
            root=a["root"],
            total_cumulative=a["totalCumulative"],
            active_at=a["activeAt"],
            epoch_file_hash=a["epochFileHash"],
        )
        self.last_epoch[pool] = a["epoch"]
        self.funded[pool] = self.funded.get(pool, 0) + a["fundedAmount"]

    def _on_RootCancelled(self, a: dict[str, Any]) -> None:
        self.epochs[(a["poolId"], a["epoch"])].cancelled = True

    def _on_Funded(self, a: dict[str, Any]) -> None:
        self.funded[a["poolId"]] = a["funded"]

    def _on_Claimed(self, a: dict[str, Any]) -> None:
        pool = a["poolId"]
        self.claimed[(pool, a["account"])] = a["cumulativeAmount"]
        self.total_claimed[pool] = self.total_claimed.get(pool, 0) + a["paid"]

    # ------------------------------------------------------------------ staking

    def _on_Staked(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["account"], a["role"])
        _, unbonding, ready_at = self.stakes.get(key, (0, 0, 0))
        self.stakes[key] = (a["staked"], unbonding, ready_at)
        self._add_stake(a["poolId"], a["amount"])

    def _on_UnstakeRequested(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["account"], a["role"])
        staked, _, _ = self.stakes.get(key, (0, 0, 0))
        self.stakes[key] = (staked - a["amount"], a["unbonding"], a["readyAt"])

    def _on_Unstaked(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["account"], a["role"])
        staked, _, _ = self.stakes.get(key, (0, 0, 0))
        self.stakes[key] = (staked, 0, 0)
        self._add_stake(a["poolId"], -a["amount"])

    def _on_Slashed(self, a: dict[str, Any]) -> None:
        key = (a["poolId"], a["account"], a["role"])
        staked, unbonding, ready_at = self.stakes.get(key, (0, 0, 0))
        amount = a["amount"]
        from_staked = min(amount, staked)
        self.stakes[key] = (staked - from_staked, unbonding - (amount - from_staked), ready_at)
        self._add_stake(a["poolId"], -amount)

    def _add_stake(self, pool: int, delta: int) -> None:
        self.total_staked[pool] = self.total_staked.get(pool, 0) + delta
