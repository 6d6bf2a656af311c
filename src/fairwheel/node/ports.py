"""What every node service is given: the ports, typed, and the few helpers built on them.

:class:`NodePorts` is made once by :meth:`fairwheel.node.Node.open` and shared by the services.
The embedder, blob store and vector indexes open lazily, on first use, so a CLI verb that does
not need them starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import RecordStatus
from fairwheel.domain.typed_data import PURPOSE_SEARCH
from fairwheel.errors import NotFound

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.blobs import BlobStore
    from fairwheel.chain.client import Chain
    from fairwheel.chain.escrow_cache import EscrowCache
    from fairwheel.chain.protocol import Protocol
    from fairwheel.config import Settings
    from fairwheel.domain.typed_data import Eip712Domain
    from fairwheel.embed.base import Embedder
    from fairwheel.index.base import VectorIndex
    from fairwheel.store import Store

__all__ = ["NodePorts", "ServableChange"]


@dataclass
class ServableChange:
    """The pool's index generation before and after one transaction that changed which of its
    records are servable (see :meth:`NodePorts.servable_change`)."""

    before: str = ""
    after: str = ""

    def settle(self, index: VectorIndex) -> None:
        """Mark ``index`` current after updating it in place with this change — only if it was
        current before, so nobody else's change is missing from it; otherwise it stays stale
        and the next :meth:`NodePorts.index` rebuilds it from the store."""
        if index.generation == self.before:
            index.set_generation(self.after)


@dataclass
class NodePorts:
    """The node's settings, ports and operator key, shared by every service.

    Attributes:
        settings: The resolved settings the ports were opened from.
        store: The source of truth (records, ledger, epochs …).
        chain: The EVM the contracts run on.
        protocol: The deployed contracts, bound to ``chain``.
        operator: The node's key: pool operator, anchorer, redeemer.
        escrow_cache: Serve-time escrow reads, one per chain head.
        gas: Gas used per operation, for reports.
    """

    settings: Settings
    store: Store
    chain: Chain
    protocol: Protocol
    operator: LocalAccount
    escrow_cache: EscrowCache
    gas: dict[str, list[int]] = field(default_factory=dict)
    _embedder: Embedder | None = None
    _blobs: BlobStore | None = None
    _indexes: dict[int, VectorIndex] = field(default_factory=dict)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            from fairwheel.embed import open_embedder

            self._embedder = open_embedder(self.settings.embedder_url, self.settings.cache_dir)
        return self._embedder

    @property
    def blobs(self) -> BlobStore:
        """The encrypted content store, opened on first use."""
        if self._blobs is None:
            from fairwheel.blobs import open_blobs

            self._blobs = open_blobs(self.settings.blobs_url)
        return self._blobs

    def index(self, pool_id: int, generation: str | None = None) -> VectorIndex:
        """The pool's vector index, rebuilt from the store if missing or stale (against
        ``generation``, the pool's ``Store.index_generation`` if the caller just read it)."""
        index = self._indexes.get(pool_id)
        if index is None:
            from fairwheel.index import open_index

            url = self.settings.index_url.rstrip("/") + f"/pool-{pool_id}"
            index = open_index(url, self.embedder.dim)
            self._indexes[pool_id] = index
        if generation is None:
            generation = self.store.index_generation(pool_id)
        if index.generation != generation:
            self._rebuild_index(pool_id, index, generation)
        return index

    @contextmanager
    def servable_change(self, pool_id: int) -> Iterator[ServableChange]:
        """A transaction that changes which of the pool's records are servable (accepts,
        quarantines, revokes), serialised with every other such transaction on the pool — on
        PostgreSQL across workers — so that the generations it records bracket this change
        alone. A worker that updated its index in place may call it current only then:
        otherwise a revocation on another worker could be missing from it."""
        change = ServableChange()
        with self.store.transaction():
            self.store.lock(f"fairwheel:servable:{pool_id}")
            change.before = self.store.index_generation(pool_id)
            yield change
            change.after = self.store.index_generation(pool_id)

    def loaded_index(self, pool_id: int) -> VectorIndex | None:
        """The pool's index if this process opened it, as it is (no generation check)."""
        return self._indexes.get(pool_id)

    def _rebuild_index(self, pool_id: int, index: VectorIndex, generation: str) -> None:
        index.clear()
        ids, vectors = self.store.embeddings(pool_id)
        records = self.store.records_by_ids(ids)
        keep = [i for i, rid in enumerate(ids) if records[rid]["purposes"] & PURPOSE_SEARCH]
        if keep:
            index.add([ids[i] for i in keep], vectors[keep])
        index.set_generation(generation)
        index.save()

    def save_indexes(self) -> None:
        """Write every open index to disk (on close)."""
        for index in self._indexes.values():
            index.save()

    def record_gas(self, operation: str, tx: Any) -> Any:
        """Note the gas a transaction used under ``operation``; return the transaction."""
        self.gas.setdefault(operation, []).append(int(tx.gas_used))
        return tx

    def consent_domain(self) -> Eip712Domain:
        """The EIP-712 domain contributors sign consents in."""
        return self.protocol.consent_domain()

    def voucher_domain(self) -> Eip712Domain:
        """The EIP-712 domain consumers sign vouchers in."""
        return self.protocol.voucher_domain()

    def record_text(self, record_id: int) -> str:
        """Decrypt a record's content (NotFound once revoked: its key is destroyed)."""
        rec = self.store.record(record_id)
        if not rec["blob_name"]:
            raise NotFound(f"record {record_id} has no stored content")
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
