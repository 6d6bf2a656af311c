"""Per-process copies of what paid calls read about records, valid for one store generation.

A paid call reads, for each of its 20-30 candidates, the record's servability, owner and
feedback weight, and its labelers' credit: two SQL queries that cost more than the rest of
the call's reads together. Those fields change only in a transaction that also bumps the
pool's generation marker (``Store.split_generation``: a status change, a feedback weight, a
labeler's credit; owner, label, purposes and expiry never change). So a worker keeps what it
read under the marker it read *first*, and drops everything when the marker moves: a row read
after the marker is at least as new as the marker, and any later change moves it. On
PostgreSQL with several workers this holds too: the marker is read from the shared database
on every call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

__all__ = ["GenerationCache", "LruCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``capacity`` values of something that never changes under its key (a model
    version, a blob's text), the least recently used dropped first.

    Args:
        capacity: Most values kept.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._values: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value under ``key``, from ``load()`` the first time (nothing is kept if it
        raises)."""
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        value = self._values[key] = load()
        if len(self._values) > self._capacity:
            self._values.popitem(last=False)
        return value

    def forget(self, key: K) -> None:
        """Drop the value under ``key``, if held."""
        self._values.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)


class GenerationCache(Generic[V]):
    """Values per record id, per pool, valid while the pool's generation marker is unchanged.

    Ids the loader does not return are remembered as absent too (a record without labeler
    credit is read once, not on every call).

    Args:
        capacity: Most ids kept per pool; past it the pool's copy starts over.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._pools: dict[int, tuple[str, dict[int, V | None]]] = {}

    def read(
        self,
        pool_id: int,
        generation: str | None,
        ids: Sequence[int],
        load: Callable[[list[int]], Mapping[int, V]],
    ) -> dict[int, V]:
        """The values of ``ids`` that exist, loading only those not held for ``generation``.

        Args:
            pool_id: The pool the ids belong to.
            generation: The pool's marker, read before this call; None bypasses the cache
                (inside a write transaction, whose rows may yet roll back).
            ids: Record ids.
            load: Reads the values of the given ids from the store.
        """
        if generation is None:
            return dict(load(list(ids)))
        held = self._pools.get(pool_id)
        if held is None or held[0] != generation:
            held = self._pools[pool_id] = (generation, {})
        rows = held[1]
        missing = [rid for rid in dict.fromkeys(ids) if rid not in rows]
        found = load(missing) if missing else {}
        loaded = set(missing)
        out: dict[int, V] = {}
        for rid in ids:
            value = found.get(rid) if rid in loaded else rows[rid]
            if value is not None:
                out[rid] = value
        if len(rows) + len(missing) > self._capacity:
            rows.clear()
        for rid in missing:
            rows[rid] = found.get(rid)
        return out

    def clear(self) -> None:
        """Forget every pool's copy."""
        self._pools.clear()
