"""Escrow state for serve-time voucher checks, read once per chain head.

A paid call must only be served if the payer's escrow covers every unredeemed voucher after
every queued withdrawal (docs/settlement.md). Reading that from the contract costs three
``eth_call`` s per call (balance, redeemed, pending withdrawal). The escrow's state can only
change in a new block, so the three values read at a head are exact for as long as that head is
the latest: the cache is keyed by the head's *hash* (not its number, so a revert to a snapshot
followed by other blocks at the same height is a different head) and emptied when the head moves.
A call then costs one ``eth_getBlockByNumber`` (which also gives the time the call is stamped
with) and, between blocks, no contract read at all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Head:
    """The latest block: what every read of one paid call is consistent with."""

    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class EscrowState:
    """One payer's escrow in one pool, at one head."""

    balance: int
    redeemed: int
    pending: int  # queued for withdrawal: not there to pay with

    def unredeemed_cover(self) -> int:
        """What further (not yet redeemed) voucher value the escrow still backs."""
        return self.balance - self.pending

    def covers(self, cumulative: int) -> bool:
        """Whether a voucher of ``cumulative`` (and all before it) is backed."""
        return cumulative - self.redeemed <= self.unredeemed_cover()


class EscrowCache:
    """Escrow reads per ``(pool, payer)``, valid for exactly one chain head.

    Args:
        protocol: The contract bindings (``escrow_balance``, ``redeemed``,
            ``pending_withdrawal``).
        capacity: Most payers remembered per head (a flood of payers only costs reads).
    """

    def __init__(self, protocol: Any, capacity: int = 100_000) -> None:
        self._protocol = protocol
        self._capacity = capacity
        self._lock = threading.Lock()
        self._head = ""
        self._states: dict[tuple[int, str], EscrowState] = {}
        self.reads = 0  # contract reads made (three per miss), for benchmarks and tests

    def state(self, head: Head, pool_id: int, payer: str) -> EscrowState:
        """The payer's escrow at ``head`` (read from the contract on the first ask per head)."""
        key = (pool_id, payer.lower())
        with self._lock:
            if head.hash != self._head:
                self._head, self._states = head.hash, {}
            cached = self._states.get(key)
        if cached is not None:
            return cached
        p = self._protocol
        state = EscrowState(
            balance=int(p.escrow_balance(pool_id, payer)),
            redeemed=int(p.redeemed(pool_id, payer)),
            pending=int(p.pending_withdrawal(pool_id, payer).amount),
        )
        with self._lock:
            self.reads += 3
            if head.hash == self._head and len(self._states) < self._capacity:
                self._states[key] = state
        return state

    def clear(self) -> None:
        """Forget everything (the next call reads afresh)."""
        with self._lock:
            self._head, self._states = "", {}
