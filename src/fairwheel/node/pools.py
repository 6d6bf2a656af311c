"""Pools and their anchored batches: create a pool on-chain, anchor records, receipts, stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fairwheel.domain.records import canonical_json, checksum_address
from fairwheel.domain.rows import PoolRow
from fairwheel.errors import Conflict, SchemaError
from fairwheel.node.service import Service

__all__ = ["CONTRIBUTION_LEAF", "PoolService", "Receipt"]

# The leaf of a contribution batch (and of a model's dataset root): record hash, contributor.
CONTRIBUTION_LEAF = ("bytes32", "address")


@dataclass(frozen=True)
class Receipt:
    """Proof that a record is in an anchored batch: verify it with ``PoolRegistry.isAnchored``.

    ``status``, ``score`` and ``reasons`` are the record's current verdict: rescoring as the pool
    grows can quarantine a record accepted (and anchored) earlier; it then earns nothing.
    """

    record_id: int
    pool_id: int
    batch_id: int
    record_hash: str
    contributor: str
    root: str
    proof: list[str]
    tx_hash: str
    status: str = "accepted"
    score: float = 0.0
    reasons: tuple[str, ...] = ()


class PoolService(Service):
    """Pools, anchoring and inclusion receipts."""

    def create_pool(
        self,
        name: str,
        *,
        search_price: int,
        predict_price: int,
        operator_fee_bps: int,
        builder_share_bps: int,
        labels: Sequence[str] = (),
        licence: str = "CC-BY-4.0",
        guardian: str | None = None,
        labeler_share_bps: int = 0,
    ) -> PoolRow:
        """Create a pool on-chain and record it; the node's key is its operator.

        ``labeler_share_bps`` is the off-chain part of a labelled record's earnings that goes
        to its labelers; it is bound into the pool's on-chain metadata hash.
        """
        from eth_utils import keccak

        if not 0 <= labeler_share_bps <= 10_000:
            raise SchemaError("labeler_share_bps must be within 0..10000")
        meta = {"name": name, "labels": sorted(labels), "licence": licence,
                "labeler_share_bps": labeler_share_bps}  # fmt: skip
        tx = self.protocol.create_pool(
            sender=self.operator,
            guardian=guardian or self.operator.address,
            search_price=search_price,
            predict_price=predict_price,
            operator_fee_bps=operator_fee_bps,
            builder_share_bps=builder_share_bps,
            metadata_hash=keccak(canonical_json(meta)),
        )
        self._record_gas("create_pool", tx)
        pool_id = int(tx.value)
        pool = {
            "id": pool_id,
            "name": name,
            "operator": self.operator.address,
            "guardian": guardian or self.operator.address,
            "search_price": search_price,
            "predict_price": predict_price,
            "operator_fee_bps": operator_fee_bps,
            "builder_share_bps": builder_share_bps,
            "labeler_share_bps": labeler_share_bps,
            "labels": sorted(labels),
            "licence": licence,
            "tx_hash": tx.tx_hash,
        }
        self.store.insert_pool(pool)
        return self.store.pool(pool_id)

    def anchor(self, pool_id: int) -> list[Receipt]:
        """Anchor every accepted, not yet anchored record of the pool as one Merkle batch."""
        from fairwheel.domain.merkle import StandardMerkleTree

        records = self.store.unanchored(pool_id)
        if not records:
            return []
        leaves = [[r["record_hash"], checksum_address(r["contributor"])] for r in records]
        tree = StandardMerkleTree.of(leaves, list(CONTRIBUTION_LEAF))
        uri = f"fairwheel://pool/{pool_id}/batch"
        tx = self.protocol.anchor_batch(pool_id, tree.root, len(records), uri, sender=self.operator)
        self._record_gas("anchor_batch", tx)
        batch_id = int(tx.value)
        with self.store.transaction():
            self.store.insert_batch(
                {"pool_id": pool_id, "batch_id": batch_id, "root": tree.root_hex,
                 "count": len(records), "uri": uri, "tx_hash": tx.tx_hash}
            )  # fmt: skip
            for i, rec in enumerate(records):
                self.store.set_anchor(rec["id"], batch_id, ["0x" + p.hex() for p in tree.proof(i)])
        return [self.receipt(r["id"]) for r in records]

    def receipt(self, record_id_: int) -> Receipt:
        """The inclusion receipt of an anchored record."""
        rec = self.store.record(record_id_)
        if rec["batch_id"] is None:
            raise Conflict(f"record {record_id_} is not anchored yet (status {rec['status']})")
        batch = self.store.batch(rec["pool_id"], rec["batch_id"])
        return Receipt(
            record_id=record_id_,
            pool_id=rec["pool_id"],
            batch_id=rec["batch_id"],
            record_hash="0x" + rec["record_hash"].hex(),
            contributor=checksum_address(rec["contributor"]),
            root=batch["root"],
            proof=list(rec["proof"] or ()),
            tx_hash=batch["tx_hash"],
            status=rec["status"],
            score=rec["score"],
            reasons=tuple(rec["reasons"]),
        )

    def verify_receipt(self, receipt: Receipt) -> bool:
        """Ask the PoolRegistry contract whether the receipt's proof is valid."""
        return bool(
            self.protocol.is_anchored(
                receipt.pool_id,
                receipt.batch_id,
                bytes.fromhex(receipt.record_hash[2:]),
                receipt.contributor,
                [bytes.fromhex(p[2:]) for p in receipt.proof],
            )
        )

    # -- stats --------------------------------------------------------------
    def pool_stats(self, pool_id: int) -> dict[str, Any]:
        """Counts by status and rejection reason, index size and ledger totals."""
        ledger = self.store.ledger(pool_id)
        return {
            "pool": self.store.pool(pool_id),
            "records": self.store.status_counts(pool_id),
            "rejected_by_reason": self.store.rejection_counts(pool_id),
            "index_size": len(self.index(pool_id)),
            "calls": len(ledger),
            "revenue": sum(int(e["price"]) for e in ledger),
        }
