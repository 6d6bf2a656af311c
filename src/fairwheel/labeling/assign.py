"""Task assignment: spread items over labelers with a fixed overlap, gold mixed in unmarked.

Labelers *pull* work: :meth:`Planner.take` hands a labeler the next tasks. The
rules, all deterministic given the seed:

* **overlap**: an item is handed out to at most ``overlap`` distinct labelers;
  the item with the fewest copies handed out goes first (ties in a seeded
  pseudo-random order), so items fill up breadth-first and every item reaches
  the overlap as long as enough distinct labelers keep taking work.
* **no repeats**: a labeler never gets the same item (real or gold) twice.
* **gold**: a labeler's tasks come in blocks of :data:`GOLD_BLOCK` slots; in
  block ``b`` exactly ``floor(s·B·(b+1)) - floor(s·B·b)`` slots (``s`` the gold
  share, ``B`` the block size) are gold, at positions drawn from a seeded RNG
  per (labeler, block). So the gold share of every labeler's stream is ``s``
  to within one block's gold, and the positions do not repeat a pattern. Gold
  items are picked least-used first. A labeler with no real work left gets
  nothing (never a gold-only stream); a gold slot with no unseen gold left is
  filled with real work.

:func:`assign` plays the pull model round-robin for a fixed set of labelers
(a batch plan). Pure: the standard library only.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

from fairwheel.errors import SchemaError

GOLD_BLOCK = 20


def _key(seed: int, *parts: str) -> bytes:
    return hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()


def _check_ids(ids: Sequence[str], what: str) -> None:
    for x in ids:
        if not isinstance(x, str) or not x:
            raise SchemaError(f"{what} ids must be non-empty strings", value=repr(x))
    if len(set(ids)) != len(ids):
        raise SchemaError(f"duplicate {what} id")


class Planner:
    """Hands out tasks to labelers who pull them (see the module docstring).

    The state is JSON-serialisable through :meth:`to_dict` / :meth:`from_dict`.
    """

    def __init__(
        self,
        items: Sequence[str],
        overlap: int,
        *,
        gold: Sequence[str] = (),
        gold_share: float = 0.0,
        seed: int = 0,
    ) -> None:
        """Validate and start with nothing handed out.

        Args:
            items: Ids of the items to label (distinct, non-empty).
            overlap: Labelers per item (>= 1).
            gold: Ids of the gold items (distinct, disjoint from ``items``).
            gold_share: Share of each labeler's tasks that are gold, in [0, 1).
            seed: Seed of every pseudo-random choice.

        Raises:
            SchemaError: On invalid ids, overlap, share or seed.
        """
        items, gold = list(items), list(gold)
        _check_ids(items, "item")
        _check_ids(gold, "gold item")
        if set(items) & set(gold):
            raise SchemaError("gold items must not also be items to label")
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
            raise SchemaError("overlap must be an int >= 1", overlap=repr(overlap))
        share = float(gold_share)
        if not (0.0 <= share < 1.0):
            raise SchemaError("gold_share must be in [0, 1)", gold_share=gold_share)
        if share > 0 and not gold:
            raise SchemaError("gold_share > 0 needs gold items")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SchemaError("seed must be an int", seed=repr(seed))
        self.items = items
        self.gold = gold
        self.overlap = overlap
        self.gold_share = share
        self.seed = seed
        self.copies: dict[str, int] = dict.fromkeys(items, 0)
        self.gold_uses: dict[str, int] = dict.fromkeys(gold, 0)
        self.seen: dict[str, set[str]] = {}
        self.slots: dict[str, int] = {}  # tasks handed to each labeler so far
        self._keys = {x: _key(seed, "item", x) for x in (*items, *gold)}
        self._heap: list[tuple[int, bytes, str]] = []
        self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        self._heap = [(c, self._keys[i], i) for i, c in self.copies.items() if c < self.overlap]
        heapq.heapify(self._heap)

    def _gold_slots(self, worker: str, block: int) -> set[int]:
        per = self.gold_share * GOLD_BLOCK
        n = math.floor(per * (block + 1)) - math.floor(per * block)
        rng = random.Random(_key(self.seed, "gold", worker, str(block)))
        return set(rng.sample(range(GOLD_BLOCK), n))

    def _pop_real(self, seen: set[str]) -> tuple[int, bytes, str] | None:
        """Pop the heap entry of the next real item for a labeler who has seen ``seen``."""
        skipped: list[tuple[int, bytes, str]] = []
        found: tuple[int, bytes, str] | None = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            count, _, item = entry
            if count != self.copies[item] or count >= self.overlap:
                continue  # stale entry
            if item in seen:
                skipped.append(entry)
                continue
            found = entry
            break
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return found

    def _next_gold(self, seen: set[str]) -> str | None:
        best: tuple[int, bytes, str] | None = None
        for g in self.gold:
            if g not in seen:
                cand = (self.gold_uses[g], self._keys[g], g)
                if best is None or cand < best:
                    best = cand
        return None if best is None else best[2]

    def take(self, worker: str, n: int = 1) -> list[str]:
        """Hand a labeler up to ``n`` more tasks.

        Args:
            worker: The labeler's id.
            n: How many tasks at most (>= 1).

        Returns:
            Item ids (real and gold alike, unmarked); fewer than ``n``, or
            none, when the labeler has no real work left.

        Raises:
            SchemaError: On an empty worker id or ``n < 1``.
        """
        if not isinstance(worker, str) or not worker:
            raise SchemaError("worker must be a non-empty string")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SchemaError("n must be an int >= 1", n=repr(n))
        seen = self.seen.setdefault(worker, set())
        out: list[str] = []
        block_cache: dict[int, set[int]] = {}
        while len(out) < n:
            entry = self._pop_real(seen)
            if entry is None:
                break
            real = entry[2]
            slot = self.slots.get(worker, 0)
            block = slot // GOLD_BLOCK
            if block not in block_cache:
                block_cache[block] = self._gold_slots(worker, block) if self.gold else set()
            pick = real
            if slot % GOLD_BLOCK in block_cache[block]:
                pick = self._next_gold(seen) or real
            if pick == real:
                self.copies[real] += 1
                if self.copies[real] < self.overlap:
                    heapq.heappush(self._heap, (self.copies[real], self._keys[real], real))
            else:
                heapq.heappush(self._heap, entry)
                self.gold_uses[pick] += 1
            seen.add(pick)
            self.slots[worker] = slot + 1
            out.append(pick)
        return out

    def release(self, worker: str, item: str) -> None:
        """Free the copy of a real item handed to a labeler who will not answer it.

        The labeler still never gets the item again; another labeler can.

        Args:
            worker: The labeler it was handed to.
            item: The item id.

        Raises:
            SchemaError: If the item was not handed to that labeler.
        """
        if item not in self.seen.get(worker, set()):
            raise SchemaError("item was not handed to this worker", worker=worker, item=item)
        if item in self.copies:
            self.copies[item] -= 1
            heapq.heappush(self._heap, (self.copies[item], self._keys[item], item))
        else:
            self.gold_uses[item] -= 1

    def missing(self) -> int:
        """Copies of real items still to hand out before every item has its overlap."""
        return sum(self.overlap - c for c in self.copies.values())

    def planned_gold(self) -> int:
        """Expected gold tasks once every real item has its overlap (for budgeting)."""
        if self.gold_share == 0:
            return 0
        real = len(self.items) * self.overlap
        return math.ceil(real * self.gold_share / (1.0 - self.gold_share))

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-serialisable data."""
        return {
            "items": self.items,
            "gold": self.gold,
            "overlap": self.overlap,
            "gold_share": self.gold_share,
            "seed": self.seed,
            "copies": self.copies,
            "gold_uses": self.gold_uses,
            "seen": {w: sorted(s) for w, s in self.seen.items()},
            "slots": self.slots,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Planner:
        """Restore a planner saved with :meth:`to_dict`.

        Raises:
            SchemaError: If the data is malformed.
        """
        try:
            p = cls(
                data["items"],
                data["overlap"],
                gold=data["gold"],
                gold_share=data["gold_share"],
                seed=data["seed"],
            )
            p.copies = {i: int(data["copies"][i]) for i in p.items}
            p.gold_uses = {g: int(data["gold_uses"][g]) for g in p.gold}
            p.seen = {w: set(s) for w, s in data["seen"].items()}
            p.slots = {w: int(s) for w, s in data["slots"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError("malformed planner state", error=repr(exc)) from None
        p._rebuild_heap()
        return p


def assign(
    items: Sequence[str],
    workers: Iterable[str],
    overlap: int,
    *,
    gold: Sequence[str] = (),
    gold_share: float = 0.0,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Plan a whole job for a fixed set of labelers, one task each in turn.

    Every item gets exactly ``overlap`` labelers, nobody sees an item twice,
    and each labeler's list mixes gold in at ``gold_share`` (see the module
    docstring).

    Args:
        items: Ids of the items to label.
        workers: The labelers, in turn order.
        overlap: Labelers per item, at most the number of labelers.
        gold: Ids of the gold items.
        gold_share: Share of each labeler's tasks that are gold, in [0, 1).
        seed: Seed of every pseudo-random choice.

    Returns:
        Labeler -> their tasks in the order handed out.

    Raises:
        SchemaError: On invalid input, or fewer labelers than the overlap.
    """
    ws = list(workers)
    _check_ids(ws, "worker")
    planner = Planner(items, overlap, gold=gold, gold_share=gold_share, seed=seed)
    if items and overlap > len(ws):
        raise SchemaError(
            "overlap exceeds the number of labelers", overlap=overlap, workers=len(ws)
        )
    plan: dict[str, list[str]] = {w: [] for w in ws}
    progress = True
    while progress:
        progress = False
        for w in ws:
            got = planner.take(w, 1)
            if got:
                plan[w].extend(got)
                progress = True
    return plan
