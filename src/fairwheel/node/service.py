"""The base of the node's services: typed access to the shared :class:`NodePorts`.

A service is one use case (contributions, serving, settlement …). It is given the ports and,
explicitly in its constructor, the other services it calls; no service reaches another through
the facade, so the graph of who calls whom is the constructor arguments and has no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
    from fairwheel.node.ports import NodePorts
    from fairwheel.store import Store

__all__ = ["Service"]


class Service:
    """One use case of the node, over the shared ports."""

    def __init__(self, ports: NodePorts) -> None:
        self.ports = ports

    @property
    def settings(self) -> Settings:
        return self.ports.settings

    @property
    def store(self) -> Store:
        return self.ports.store

    @property
    def chain(self) -> Chain:
        return self.ports.chain

    @property
    def protocol(self) -> Protocol:
        return self.ports.protocol

    @property
    def operator(self) -> LocalAccount:
        return self.ports.operator

    @property
    def escrow_cache(self) -> EscrowCache:
        return self.ports.escrow_cache

    @property
    def embedder(self) -> Embedder:
        return self.ports.embedder

    @property
    def blobs(self) -> BlobStore:
        return self.ports.blobs

    def index(self, pool_id: int, generation: str | None = None) -> VectorIndex:
        return self.ports.index(pool_id, generation)

    def voucher_domain(self) -> Eip712Domain:
        return self.ports.voucher_domain()

    def consent_domain(self) -> Eip712Domain:
        return self.ports.consent_domain()

    def record_text(self, record_id: int) -> str:
        return self.ports.record_text(record_id)

    def record_preview(self, rec: Mapping[str, Any], chars: int = 80) -> str:
        return self.ports.record_preview(rec, chars)

    def _record_gas(self, operation: str, tx: Any) -> Any:
        return self.ports.record_gas(operation, tx)
