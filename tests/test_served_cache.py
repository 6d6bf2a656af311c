"""The per-generation copy of candidates' rows and the small LRU of never-changing values
(``fairwheel.node.served_cache``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fairwheel.node.served_cache import GenerationCache, LruCache


class FakeRows:
    """A fake of the store's row reader for these tests: counts what it is asked for."""

    def __init__(self, rows: dict[int, str]) -> None:
        self.rows = rows
        self.asked: list[list[int]] = []

    def __call__(self, ids: list[int]) -> dict[int, str]:
        self.asked.append(list(ids))
        return {i: self.rows[i] for i in ids if i in self.rows}


def test_rows_are_read_once_per_generation_and_absent_ids_are_remembered() -> None:
    cache: GenerationCache[str] = GenerationCache()
    load = FakeRows({1: "a", 2: "b", 3: "c"})
    assert cache.read(7, "g1", [2, 1, 9], load) == {2: "b", 1: "a"}
    assert cache.read(7, "g1", [1, 3, 9, 2], load) == {1: "a", 3: "c", 2: "b"}
    assert load.asked == [[2, 1, 9], [3]]


def test_a_new_generation_reads_everything_again() -> None:
    cache: GenerationCache[str] = GenerationCache()
    load = FakeRows({1: "a"})
    cache.read(7, "g1", [1], load)
    load.rows[1] = "changed"
    assert cache.read(7, "g1", [1], load) == {1: "a"}
    assert cache.read(7, "g2", [1], load) == {1: "changed"}
    assert load.asked == [[1], [1]]


def test_pools_are_kept_apart_and_none_bypasses_the_cache() -> None:
    cache: GenerationCache[str] = GenerationCache()
    load = FakeRows({1: "a", 2: "b"})
    cache.read(7, "g1", [1], load)
    cache.read(8, "g1", [1], load)
    assert cache.read(7, None, [1, 2], load) == {1: "a", 2: "b"}
    assert cache.read(7, None, [1], load) == {1: "a"}
    assert load.asked == [[1], [1], [1, 2], [1]]


def test_past_capacity_the_copy_starts_over_and_still_answers_in_full() -> None:
    cache: GenerationCache[str] = GenerationCache(capacity=3)
    load = FakeRows({i: str(i) for i in range(10)})
    assert cache.read(1, "g", [0, 1, 2], load) == {0: "0", 1: "1", 2: "2"}
    assert cache.read(1, "g", [0, 3, 4], load) == {0: "0", 3: "3", 4: "4"}
    assert cache.read(1, "g", [3, 4], load) == {3: "3", 4: "4"}
    assert load.asked == [[0, 1, 2], [3, 4]]
    assert cache.read(1, "g", [0], load) == {0: "0"}
    assert load.asked[-1] == [0]


def test_repeated_ids_are_read_once() -> None:
    cache: GenerationCache[str] = GenerationCache()
    load = FakeRows({1: "a"})
    assert cache.read(1, "g", [1, 1], load) == {1: "a"}
    assert load.asked == [[1]]


def test_lru_cache_loads_once_drops_the_least_recently_used_and_keeps_nothing_on_failure() -> None:
    loads: list[str] = []

    def loader(key: str) -> Callable[[], str]:
        def load() -> str:
            loads.append(key)
            return key.upper()

        return load

    cache: LruCache[str, str] = LruCache(2)
    assert cache.get("a", loader("a")) == "A" and cache.get("b", loader("b")) == "B"
    assert cache.get("a", loader("a")) == "A"  # held: not loaded again, now the most recent
    cache.get("c", loader("c"))  # over capacity: "b" was the least recently used
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert loads == ["a", "b", "c"]

    def failing() -> str:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        cache.get("d", failing)
    assert "d" not in cache and len(cache) == 2
    cache.forget("a")
    cache.forget("never held")
    assert "a" not in cache and len(cache) == 1
