"""Read models for the edges: what the API, dashboard, CLI and simulator show, asked of the
node rather than of its ports.

The edges never touch the store: they read pools, records, the ledger, epochs, models and
feedback here (what the chain says comes from :mod:`fairwheel.node.onchain`), so a read
replica or a cache can serve these later without an edge changing. Rows are the typed rows of
:mod:`fairwheel.domain.rows`; an unknown id raises ``NotFound``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairwheel.errors import FairwheelError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fairwheel.domain.rows import EpochRow, LedgerEntry, ModelRow, PoolRow, RecordRow

__all__ = ["ComponentHealth", "NodeHealth", "QueryService"]


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

    # -- pools and records -------------------------------------------------------
    def pool(self, pool_id: int) -> PoolRow:
        """One pool. Raises ``NotFound`` for an unknown id (the edges' 404)."""
        return self.store.pool(pool_id)

    def pools(self) -> list[PoolRow]:
        """Every pool, oldest first."""
        return self.store.pools()

    def record(self, record_id: int) -> RecordRow:
        """One record. Raises ``NotFound`` for an unknown id."""
        return self.store.record(record_id)

    def records(self, pool_id: int, status: str | None = None) -> list[RecordRow]:
        """The pool's records, optionally of one status."""
        return self.store.records(pool_id, status)

    def records_by_ids(self, ids: Sequence[int]) -> dict[int, RecordRow]:
        """The records with these ids (unknown ids are left out)."""
        return self.store.records_by_ids(ids)

    def records_of(
        self, contributor: str, pool_id: int | None = None, status: str | None = None
    ) -> list[RecordRow]:
        """A contributor's records, in one pool or all, optionally of one status."""
        pools = [pool_id] if pool_id is not None else [int(p["id"]) for p in self.store.pools()]
        who = contributor.lower()
        return [
            r for pid in pools for r in self.store.records(pid, status) if r["contributor"] == who
        ]

    def status_counts(self, pool_id: int) -> dict[str, int]:
        """How many of the pool's records are in each status."""
        return self.store.status_counts(pool_id)

    def unanchored(self, pool_id: int) -> list[RecordRow]:
        """Accepted records not yet in an anchored batch."""
        return self.store.unanchored(pool_id)

    def pending_anchors(self, pool_id: int) -> int:
        """How many accepted records wait for the pool's next anchored batch."""
        return len(self.store.unanchored(pool_id))

    def revocation(self, record_id: int) -> dict[str, Any] | None:
        """A revoked record's steps (revoked, unserved, key destroyed, models marked)."""
        return self.store.revocation(record_id)

    # -- the ledger and epochs ---------------------------------------------------
    def ledger(
        self, pool_id: int | None = None, *, after: int = 0, consumer: str | None = None
    ) -> list[LedgerEntry]:
        """Paid calls in sequence order: of one pool or all, after a seq, of one consumer."""
        entries = self.store.ledger(pool_id)
        who = None if consumer is None else consumer.lower()
        return [
            e for e in entries
            if int(e["seq"]) > after and (who is None or e["consumer"] == who)
        ]  # fmt: skip

    def ledger_entry(self, seq: int) -> LedgerEntry:
        """One paid call. Raises ``NotFound`` for an unknown seq."""
        return self.store.ledger_entry(seq)

    def open_ledger(self, pool_id: int) -> list[LedgerEntry]:
        """The pool's paid calls not yet in a closed epoch."""
        return self.store.open_ledger(pool_id)

    def open_fold(self, pool_id: int) -> dict[str, Any] | None:
        """The running totals of the pool's open epoch (None before its first call)."""
        return self.store.open_fold(pool_id)

    def latest_vouchers(self, pool_id: int) -> dict[str, int]:
        """Each payer's latest accepted voucher in the pool: its cumulative amount (what the
        node can redeem; what is redeemed already is on-chain, ``node.onchain.redeemed``)."""
        return {payer: cumulative for payer, cumulative, _sig in self.store.vouchers(pool_id)}

    def epoch(self, pool_id: int, epoch: int) -> EpochRow:
        """One closed epoch. Raises ``NotFound`` if it was never closed."""
        return self.store.epoch(pool_id, epoch)

    def last_epoch(self, pool_id: int) -> EpochRow | None:
        """The pool's latest closed epoch, if any."""
        return self.store.last_epoch(pool_id)

    def epoch_count(self, pool_id: int) -> int:
        """How many epochs the pool has closed."""
        last = self.store.last_epoch(pool_id)
        return 0 if last is None else int(last["epoch"])

    def earnings(self, pool_id: int, epoch: int) -> dict[str, int]:
        """Cumulative earnings per account as of a closed epoch (what its Merkle root holds)."""
        return self.store.earnings(pool_id, epoch)

    # -- models and feedback -------------------------------------------------------
    def models(self, pool_id: int) -> list[ModelRow]:
        """The pool's model versions, oldest first."""
        return self.store.models(pool_id)

    def serving_model(self, pool_id: int) -> ModelRow:
        """The version the pool serves. Raises ``NotFound`` before the first training."""
        return self.store.serving_model(pool_id)

    def models_with_record(self, record_id: int) -> list[int]:
        """The model ids trained on a record."""
        return self.store.models_with_record(record_id)

    def feedback(self, pool_id: int) -> list[dict[str, Any]]:
        """The pool's ratings, oldest first."""
        return self.store.feedback(pool_id)

    def feedback_of(self, seq: int, rater: str) -> dict[str, Any] | None:
        """The rating ``rater`` gave paid call ``seq``, if any."""
        return self.store.feedback_of(seq, rater)

    def feedback_budget(self, pool_id: int) -> tuple[int, int]:
        """``(per epoch, dust carried)`` of the pool's rater budget, in token base units."""
        return self.store.feedback_budget(pool_id)

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
