"""Read models for the edges: what the API, dashboard and CLI show, asked of the node rather
than of its ports, so an edge never depends on which store or chain backend serves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fairwheel.domain.records import checksum_address
from fairwheel.domain.rows import EpochRow, LedgerEntry, ModelRow, PoolRow, RecordRow
from fairwheel.errors import FairwheelError
from fairwheel.node.service import Service

__all__ = [
    "AccountState",
    "ChainFacts",
    "ComponentHealth",
    "EscrowState",
    "NodeHealth",
    "QueryService",
]


@dataclass(frozen=True)
class ChainFacts:
    """The chain and the deployment a node runs on."""

    chain_id: int
    embedded: bool
    now: int
    block: int
    contracts: dict[str, str]


@dataclass(frozen=True)
class EscrowState:
    """A payer's escrow in one pool, in token base units."""

    balance: int
    redeemed: int
    spent: int  # cumulative amount of the payer's latest accepted voucher
    pending: int  # queued for withdrawal
    ready_at: int  # when the queued withdrawal can complete

    @property
    def unredeemed(self) -> int:
        return max(0, self.spent - self.redeemed)

    @property
    def available(self) -> int:
        """What the escrow still covers beyond the vouchers not yet redeemed."""
        return max(0, self.balance - self.unredeemed)


@dataclass(frozen=True)
class AccountState:
    """An account on the node's chain, with what a wallet needs to sign a transaction."""

    address: str
    nonce: int
    eth_balance: int
    token_balance: int
    base_fee: int


@dataclass(frozen=True)
class ComponentHealth:
    """One part of the node: whether it answers, and what it said."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class NodeHealth:
    """The node's parts (``chain``, ``database``, ``index``), each checked by a real call."""

    checks: dict[str, ComponentHealth]
    chain_id: int
    block: int | None = None
    pools: int | None = None
    embedded_chain: bool = False

    @property
    def ok(self) -> bool:
        """Whether every part answered."""
        return all(check.ok for check in self.checks.values())


# Health is public: an RPC URL can carry a provider's API key, so URLs never leave in a detail.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def _failure(exc: Exception) -> ComponentHealth:
    text = (
        f"{exc.code}: {exc.message}"
        if isinstance(exc, FairwheelError)
        else (f"{type(exc).__name__}: {exc}")
    )
    return ComponentHealth(False, _URL.sub("<url>", text)[:300])


class QueryService(Service):
    """Read-only views of the node for its edges."""

    def health(self) -> NodeHealth:
        """Check the chain (latest block), the database (pools) and the loaded indexes
        (generation against the database). Never raises: a failing part is reported."""
        block: int | None = None
        try:
            block = int(self.chain.block_number())
            chain = ComponentHealth(True, f"block {block} on chain {self.chain.chain_id}")
        except Exception as exc:
            chain = _failure(exc)
        pools: list[int] | None = None
        try:
            pools = [int(p["id"]) for p in self.store.pools()]
            database = ComponentHealth(True, f"{len(pools)} pools")
        except Exception as exc:
            database = _failure(exc)
        index = self._index_health(pools or [])
        return NodeHealth(
            checks={"chain": chain, "database": database, "index": index},
            chain_id=self.chain.chain_id, block=block, pools=None if pools is None else len(pools),
            embedded_chain=self.chain.is_embedded,
        )  # fmt: skip

    def _index_health(self, pools: list[int]) -> ComponentHealth:
        stale = []
        try:
            for pool_id in pools:
                index = self.ports.loaded_index(pool_id)
                if index is not None and index.generation != self.store.index_generation(pool_id):
                    stale.append(pool_id)
        except Exception as exc:
            return _failure(exc)
        if stale:  # not a failure: the next call to the pool rebuilds it from the database
            return ComponentHealth(True, f"stale for pools {stale}: rebuilt on their next call")
        return ComponentHealth(True, "in step with the database")

    # -- pools, records -------------------------------------------------------------------
    def pools(self) -> list[PoolRow]:
        """Every pool, by id."""
        return self.store.pools()

    def pool(self, pool_id: int) -> PoolRow:
        """One pool.

        Raises:
            NotFound: there is no such pool.
        """
        return self.store.pool(pool_id)

    def record(self, record_id: int) -> RecordRow:
        """One record (its content stays sealed; see ``record_preview``).

        Raises:
            NotFound: there is no such record.
        """
        return self.store.record(record_id)

    def records_of(self, contributor: str, pool_id: int | None = None,
                   status: str | None = None) -> list[RecordRow]:  # fmt: skip
        """A contributor's records, oldest first, optionally of one pool and status."""
        return [
            r for r in self.store.records_of(contributor.lower())
            if (pool_id is None or r["pool_id"] == pool_id)
            and (status is None or r["status"] == status)
        ]  # fmt: skip

    def status_counts(self, pool_id: int) -> dict[str, int]:
        """The pool's records by status."""
        return self.store.status_counts(pool_id)

    def unanchored_count(self, pool_id: int) -> int:
        """Accepted records of the pool not yet in an on-chain batch."""
        return len(self.store.unanchored(pool_id))

    def revocation(self, record_id: int) -> dict[str, Any] | None:
        """Each step of a record's revocation so far (None if it was never revoked)."""
        return self.store.revocation(record_id)

    # -- the ledger -----------------------------------------------------------------------
    def calls(self, pool_id: int, after: int = 0, limit: int | None = None) -> list[LedgerEntry]:
        """The pool's paid calls with ``seq > after``, oldest first.

        Raises:
            NotFound: there is no such pool.
        """
        self.store.pool(pool_id)
        entries = [e for e in self.store.ledger(pool_id) if e["seq"] > after]
        return entries if limit is None else entries[:limit]

    def call(self, seq: int) -> LedgerEntry:
        """One ledger entry.

        Raises:
            NotFound: there is no such paid call.
        """
        return self.store.ledger_entry(seq)

    def calls_by(self, consumer: str) -> list[LedgerEntry]:
        """A consumer's paid calls in every pool, oldest first."""
        return [e for e in self.store.ledger() if e["consumer"] == consumer.lower()]

    def open_calls(self, pool_id: int) -> int:
        """Paid calls of the pool not yet settled in an epoch."""
        running = self.store.open_fold(pool_id)
        return 0 if running is None else int(running["entries"])

    # -- epochs ---------------------------------------------------------------------------
    def epoch(self, pool_id: int, epoch: int) -> EpochRow:
        """A closed epoch.

        Raises:
            NotFound: the pool has no such closed epoch.
        """
        return self.store.epoch(pool_id, epoch)

    def epoch_count(self, pool_id: int) -> int:
        """How many epochs of the pool are closed (0 before the first)."""
        last = self.store.last_epoch(pool_id)
        return 0 if last is None else last["epoch"]

    def epoch_earnings(self, pool_id: int, epoch: int) -> dict[str, int]:
        """Cumulative earnings per account in the pool's root of ``epoch``."""
        return self.store.earnings(pool_id, epoch)

    def open_call_seqs(self, pool_id: int) -> set[int]:
        """Sequence numbers of the pool's calls not yet in an epoch."""
        return {e["seq"] for e in self.store.open_ledger(pool_id)}

    # -- feedback -------------------------------------------------------------------------
    def feedback_budget(self, pool_id: int) -> tuple[int, int]:
        """``(per epoch, dust carried)`` paid to the pool's raters, in base units."""
        return self.store.feedback_budget(pool_id)

    def rating_of(self, seq: int, rater: str) -> dict[str, Any] | None:
        """The rating ``rater`` gave paid call ``seq`` (None if none)."""
        return self.store.feedback_of(seq, rater)

    def ratings(self, pool_id: int) -> list[dict[str, Any]]:
        """Every rating given in the pool."""
        return self.store.feedback(pool_id)

    # -- the chain ------------------------------------------------------------------------
    def chain_facts(self) -> ChainFacts:
        """The chain and deployment this node runs on."""
        return ChainFacts(
            chain_id=self.chain.chain_id, embedded=self.chain.is_embedded, now=self.chain.now(),
            block=int(self.chain.block_number()), contracts=dict(self.protocol.addresses),
        )  # fmt: skip

    @property
    def chain_id(self) -> int:
        """The chain id (what EIP-712 domains and SIWE messages carry)."""
        return self.chain.chain_id

    def chain_now(self) -> int:
        """The latest block's timestamp."""
        return self.chain.now()

    def claimed(self, pool_id: int, account: str) -> int:
        """What ``account`` has claimed from the pool so far, on-chain."""
        return int(self.protocol.claimed(pool_id, checksum_address(account)))

    def epoch_on_chain(self, pool_id: int, epoch: int) -> Any:
        """The distributor's record of an epoch root (``active_at``, ``cancelled``, …)."""
        return self.protocol.epoch_root(pool_id, epoch)

    def model_count(self, pool_id: int) -> int:
        """Model versions registered for the pool on-chain."""
        return int(self.protocol.get_pool(pool_id).model_count)

    def model_on_chain(self, pool_id: int, version: int) -> Any:
        """The registry's record of one model version (hashes, time, uri)."""
        return self.protocol.get_model(pool_id, version)

    def models(self, pool_id: int) -> list[ModelRow]:
        """The pool's model versions in the store, oldest first."""
        return self.store.models(pool_id)

    def escrow(self, pool_id: int, payer: str) -> EscrowState:
        """A payer's escrow in a pool: on-chain balance, redeemed, pending withdrawal, and the
        cumulative amount of their latest voucher here.

        Raises:
            NotFound: there is no such pool.
        """
        self.store.pool(pool_id)
        pending = self.protocol.pending_withdrawal(pool_id, payer)
        current = self.store.voucher(pool_id, payer)
        return EscrowState(
            balance=int(self.protocol.escrow_balance(pool_id, payer)),
            redeemed=int(self.protocol.redeemed(pool_id, payer)),
            spent=0 if current is None else current[0],
            pending=int(pending.amount), ready_at=int(pending.ready_at),
        )  # fmt: skip

    def account(self, address: str) -> AccountState:
        """An account on the node's chain: nonce, ETH and pool-token balances, fee levels."""
        from eth_utils import to_checksum_address

        checksum = checksum_address(address)
        w3 = self.chain.w3
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        return AccountState(
            address=checksum,
            nonce=int(w3.eth.get_transaction_count(to_checksum_address(checksum), "pending")),
            eth_balance=int(self.chain.eth_balance(checksum)),
            token_balance=int(self.protocol.token_balance(checksum)),
            base_fee=base_fee,
        )
