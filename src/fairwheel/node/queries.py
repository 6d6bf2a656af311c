"""Read models for the edges: what the API, dashboard and CLI show, asked of the node rather
than of its ports. Today: health. (The edges still read the store and chain directly; issue #13
moves them here.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fairwheel.errors import FairwheelError
from fairwheel.node.service import Service

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
