"""The node: use cases that wire the capabilities to the ports.

``Node.open(settings)`` connects the chain, store, index, blobs and embedder
chosen by the settings' URLs. Contribution and training live here; paid calls
are in :mod:`fairwheel._serving` and epoch settlement in :mod:`fairwheel._settling`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairwheel._contributing import ContributingMixin, SubmitResult
from fairwheel._feedback import FeedbackMixin
from fairwheel._labeling import LabelingMixin
from fairwheel._serving import ServingMixin
from fairwheel._settling import SettlingMixin
from fairwheel._versions import CONTRIBUTION_LEAF, VersionsMixin
from fairwheel.chain.escrow_cache import EscrowCache
from fairwheel.config import Settings, load_settings
from fairwheel.domain.records import (
    RecordStatus,
    canonical_json,
    checksum_address,
)
from fairwheel.domain.typed_data import PURPOSE_SEARCH, Eip712Domain
from fairwheel.errors import ConfigError, Conflict, NotFound, SchemaError
from fairwheel.store import Store, open_store


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


class Node(
    ContributingMixin, VersionsMixin, FeedbackMixin, ServingMixin, SettlingMixin, LabelingMixin
):
    """One Fairwheel node: its settings, ports and operator key."""

    def __init__(self, settings: Settings, store: Store, chain: Any, protocol: Any, operator: Any):
        self.settings = settings
        self.store = store
        self.chain = chain
        self.protocol = protocol
        self.operator = operator
        self.escrow_cache = EscrowCache(protocol)  # serve-time escrow reads, one per chain head
        self._embedder: Any = None
        self._indexes: dict[int, Any] = {}
        self._gates: dict[int, Any] = {}
        self._blobs: Any = None
        self.gas: dict[str, list[int]] = {}

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings | None = None, *, operator: Any = None) -> Node:
        """Open (or create) a node at ``settings.home`` and connect its ports.

        On a fresh database the contracts are deployed; afterwards the node
        attaches to the recorded deployment. The embedded chain lives only in this
        process, so an embedded node cannot be reopened on an existing database.

        Raises:
            ConfigError: an embedded chain with a database from an earlier process.
        """
        from eth_account import Account

        from fairwheel.chain import connect_chain

        settings = (settings or load_settings()).resolved()
        settings.home.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.database_url)
        chain = connect_chain(
            settings.chain_url,
            activation_delay=settings.activation_delay,
            thaw_period=settings.thaw_period,
            redemption_window=settings.voucher_window,
        )
        if operator is None:
            operator = Account.from_key(_operator_key(settings.home))
        recorded = store.get_meta("deployment")
        if recorded is None:
            if settings.chain_url.startswith("embedded://"):
                chain.fund(operator.address, 10**21)
            protocol = chain.deploy(operator)
            store.set_meta("deployment", json.dumps(protocol.addresses))
            store.set_meta("chain_id", str(chain.chain_id))
        elif settings.chain_url.startswith("embedded://"):
            raise ConfigError(
                f"{settings.database_url} belongs to an earlier embedded chain, which lived only "
                "in that process; use a fresh home or a persistent chain (chain_url=http://…)"
            )
        else:
            protocol = chain.attach(json.loads(recorded))
        return cls(settings, store, chain, protocol, operator)

    def close(self) -> None:
        for index in self._indexes.values():
            index.save()
        self.store.close()

    # -- ports, opened lazily so the CLI starts fast --------------------------
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from fairwheel.embed import open_embedder

            self._embedder = open_embedder(self.settings.embedder_url, self.settings.cache_dir)
        return self._embedder

    @property
    def blobs(self) -> Any:
        if self._blobs is None:
            from fairwheel.blobs import open_blobs

            self._blobs = open_blobs(self.settings.blobs_url)
        return self._blobs

    def index(self, pool_id: int) -> Any:
        """The pool's vector index, rebuilt from the store if missing or stale."""
        index = self._indexes.get(pool_id)
        if index is None:
            from fairwheel.index import open_index

            url = self.settings.index_url.rstrip("/") + f"/pool-{pool_id}"
            index = open_index(url, self.embedder.dim)
            self._indexes[pool_id] = index
        generation = self.store.index_generation(pool_id)
        if index.generation != generation:
            self._rebuild_index(pool_id, index, generation)
        return index

    def _rebuild_index(self, pool_id: int, index: Any, generation: str) -> None:
        index.clear()
        ids, vectors = self.store.embeddings(pool_id)
        records = self.store.records_by_ids(ids)
        keep = [i for i, rid in enumerate(ids) if records[rid]["purposes"] & PURPOSE_SEARCH]
        if keep:
            index.add([ids[i] for i in keep], vectors[keep])
        index.set_generation(generation)
        index.save()

    def _record_gas(self, operation: str, tx: Any) -> Any:
        self.gas.setdefault(operation, []).append(int(tx.gas_used))
        return tx

    # -- pools --------------------------------------------------------------
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
    ) -> dict[str, Any]:
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
        pool = {
            "id": int(tx.value),
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
        return self.store.pool(pool["id"])

    def consent_domain(self) -> Eip712Domain:
        return self.protocol.consent_domain()

    def voucher_domain(self) -> Eip712Domain:
        return self.protocol.voucher_domain()

    # -- contribution (submission and the gate: fairwheel._contributing) ----
    def record_text(self, record_id_: int) -> str:
        """Decrypt a record's content (NotFound once revoked: its key is destroyed)."""
        rec = self.store.record(record_id_)
        if not rec["blob_name"]:
            raise NotFound(f"record {record_id_} has no stored content")
        return bytes(self.blobs.get(rec["blob_name"])).decode()

    def record_preview(self, rec: Mapping[str, Any], chars: int = 80) -> str:
        """The start of a record's text, decrypted now (the database keeps no text), or what
        became of it: ``[revoked]`` once its key is shredded, ``[rejected: content not kept]``."""
        if rec["status"] == RecordStatus.REVOKED:
            return "[revoked]"
        if not rec["blob_name"]:
            return "[rejected: content not kept]"
        try:
            return bytes(self.blobs.get(rec["blob_name"])).decode()[:chars]
        except NotFound:
            return "[content destroyed]"

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
            proof=list(rec["proof"]),
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


def _operator_key(home: Path) -> str:
    """The operator key: ``$FAIRWHEEL_OPERATOR_KEY`` or ``home/operator.key`` (made 0600)."""
    key = os.environ.get("FAIRWHEEL_OPERATOR_KEY")
    if key:
        return key
    path = home / "operator.key"
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("0x" + secrets.token_hex(32))
    return path.read_text().strip()


__all__ = ["Node", "Receipt", "SubmitResult"]
