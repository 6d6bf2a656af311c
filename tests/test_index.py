"""Conformance tests of the vector index port, run against every backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fairwheel.errors import ConfigError, SchemaError
from fairwheel.index import VectorIndex, open_index

DIM = 8
BACKENDS = ["exact", "hnsw"]

Opener = Callable[..., VectorIndex]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_idx(backend: str, tmp_path: Path) -> Opener:
    """Open the backend's index; calling it again reopens the same (persisted) index."""

    def make(dim: int = DIM) -> VectorIndex:
        url = "exact://" if backend == "exact" else f"hnsw://{tmp_path / 'idx'}"
        return open_index(url, dim)

    return make


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def low_rank(rng: np.random.Generator, n: int, dim: int, rank: int = 24) -> np.ndarray:
    """Embedding-like data: a few latent directions plus a little noise, unit rows."""
    basis = rng.standard_normal((rank, dim))
    x = rng.standard_normal((n, rank)) @ basis + 0.1 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def reference(ids: list[int], vectors: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    qn = q / np.linalg.norm(q)
    scores = vectors.astype(np.float64) @ qn
    order = sorted(range(len(ids)), key=lambda i: (-round(scores[i], 9), ids[i]))
    return [ids[i] for i in order[:k]]


def test_add_and_search_returns_exact_cosines(open_idx: Opener) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 50)
    ids = list(range(100, 150))
    index = open_idx()
    index.add(ids, vectors)
    assert len(index) == 50 and index.ids() == set(ids) and index.dim == DIM
    q = rng.standard_normal(DIM).astype(np.float32)
    hits = index.search(q, 5)
    assert [i for i, _ in hits] == reference(ids, vectors, q, 5)
    qn = q / np.linalg.norm(q)
    for rid, score in hits:
        assert isinstance(rid, int) and isinstance(score, float)
        assert score == pytest.approx(float(vectors[rid - 100] @ qn), abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # A stored vector finds itself with similarity 1, unnormalised queries too.
    top = index.search(3.0 * vectors[7], 1)
    assert top[0][0] == 107 and top[0][1] == pytest.approx(1.0, abs=1e-6)


def test_query_may_be_a_row(open_idx: Opener) -> None:
    rng = np.random.default_rng(2)
    vectors = unit(rng, 10)
    index = open_idx()
    index.add(range(10), vectors)
    assert index.search(vectors[3:4], 1)[0][0] == 3


def test_remove_is_permanent_until_re_added(open_idx: Opener) -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 30)
    index = open_idx()
    index.add(range(30), vectors)
    index.remove([4, 5, 999])  # unknown ids are ignored
    index.remove([4])  # and so are repeats
    assert len(index) == 28 and {4, 5}.isdisjoint(index.ids())
    for q in (vectors[4], vectors[5]):
        assert {4, 5}.isdisjoint(i for i, _ in index.search(q, 30))
    index.add([4], vectors[4:5])
    assert index.search(vectors[4], 1)[0][0] == 4
    assert len(index) == 29 and 5 not in index.ids()


def test_re_adding_an_id_replaces_its_vector(open_idx: Opener) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 20)
    index = open_idx()
    index.add(range(20), vectors)
    index.add([7], vectors[12:13])
    assert len(index) == 20
    hits = index.search(vectors[12], 2)
    assert {i for i, _ in hits} == {7, 12}
    assert all(s == pytest.approx(1.0, abs=1e-6) for _, s in hits)
    assert index.search(vectors[7], 1)[0][0] != 7


def test_duplicate_ids_in_one_batch_keep_the_last(open_idx: Opener) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 3)
    index = open_idx()
    index.add([1, 2, 1], vectors)
    assert len(index) == 2
    assert index.search(vectors[2], 1) == [(1, pytest.approx(1.0, abs=1e-6))]


def test_ties_break_on_the_smaller_id(open_idx: Opener) -> None:
    rng = np.random.default_rng(6)
    same = unit(rng, 1)[0]
    others = unit(rng, 20)
    index = open_idx()
    index.add([9, 3, 5, 41], np.stack([same, same, same, same]))
    index.add(range(100, 120), others)
    assert [i for i, _ in index.search(same, 4)] == [3, 5, 9, 41]
    assert [i for i, _ in index.search(same, 2)] == [3, 5]
    scores = [s for _, s in index.search(same, 4)]
    assert len(set(scores)) == 1


def test_k_larger_than_the_index_returns_everything(open_idx: Opener) -> None:
    rng = np.random.default_rng(7)
    vectors = unit(rng, 6)
    index = open_idx()
    index.add(range(6), vectors)
    hits = index.search(vectors[0], 100)
    assert sorted(i for i, _ in hits) == list(range(6))
    assert [i for i, _ in hits] == reference(list(range(6)), vectors, vectors[0], 6)
    assert index.search(vectors[0], 0) == []


def test_empty_index(open_idx: Opener) -> None:
    index = open_idx()
    assert len(index) == 0 and index.ids() == set() and index.generation == ""
    assert index.search(np.ones(DIM, np.float32), 5) == []
    index.add([], np.zeros((0, DIM), np.float32))
    index.remove([])
    assert len(index) == 0


@pytest.mark.parametrize(
    ("ids", "vectors"),
    [
        ([1], np.ones((1, DIM + 1), np.float32)),  # wrong dimension
        ([1, 2], np.ones((1, DIM), np.float32)),  # count mismatch
        ([1], np.ones((1, 2, DIM), np.float32)),  # wrong rank
        ([-1], np.ones((1, DIM), np.float32)),  # negative id
        ([1], np.full((1, DIM), np.nan, np.float32)),  # not finite
        ([1], np.zeros((1, DIM), np.float32)),  # no direction
    ],
)
def test_bad_batches_are_refused_and_change_nothing(
    open_idx: Opener, ids: list[int], vectors: np.ndarray
) -> None:
    index = open_idx()
    index.add([0], np.ones((1, DIM), np.float32))
    with pytest.raises(SchemaError):
        index.add(ids, vectors)
    assert index.ids() == {0}


def test_bad_queries_are_refused(open_idx: Opener) -> None:
    index = open_idx()
    index.add([0], np.ones((1, DIM), np.float32))
    with pytest.raises(SchemaError, match=f"\\({DIM},\\)"):
        index.search(np.ones(DIM + 2, np.float32), 1)
    with pytest.raises(SchemaError):
        index.search(np.zeros(DIM, np.float32), 1)
    with pytest.raises(SchemaError):
        index.search(np.ones(DIM, np.float32), -1)


def test_generation_save_reopen_and_clear(backend: str, open_idx: Opener) -> None:
    rng = np.random.default_rng(8)
    vectors = unit(rng, 40)
    index = open_idx()
    index.add(range(40), vectors)
    index.remove([3])
    index.set_generation("gen-7")
    assert index.generation == "gen-7"
    index.save()
    expected = index.search(vectors[3], 5)
    reopened = open_idx()
    if backend == "exact":
        # Not persistent: a reopened index is empty with no generation, so the node rebuilds.
        assert len(reopened) == 0 and reopened.generation == ""
    else:
        assert reopened.generation == "gen-7"
        assert reopened.ids() == set(range(40)) - {3}
        assert reopened.search(vectors[3], 5) == expected
        assert 3 not in {i for i, _ in reopened.search(vectors[3], 40)}
    index.clear()
    assert len(index) == 0 and index.generation == "" and index.search(vectors[0], 3) == []
    index.add([1], vectors[1:2])
    assert index.search(vectors[1], 3) == [(1, pytest.approx(1.0, abs=1e-6))]


def test_random_operations_match_a_model(open_idx: Opener) -> None:
    """Adds, replaces, removals and re-adds in random order; compare with a plain dict."""
    rng = np.random.default_rng(9)
    index = open_idx()
    model: dict[int, np.ndarray] = {}
    for step in range(60):
        op = rng.integers(3)
        if op < 2:
            ids = [int(i) for i in rng.choice(400, size=int(rng.integers(1, 40)), replace=False)]
            vectors = unit(rng, len(ids))
            index.add(ids, vectors)
            model.update(zip(ids, vectors, strict=True))
        else:
            gone = [int(i) for i in rng.choice(400, size=int(rng.integers(1, 30)))]
            index.remove(gone)
            for i in gone:
                model.pop(i, None)
        assert index.ids() == set(model) and len(index) == len(model)
        if step % 10 == 9:
            q = unit(rng, 1)[0]
            ids_sorted = sorted(model)
            matrix = np.stack([model[i] for i in ids_sorted])
            want = reference(ids_sorted, matrix, q, len(model))
            assert [i for i, _ in index.search(q, len(model))] == want


def test_grows_past_its_initial_capacity(open_idx: Opener) -> None:
    rng = np.random.default_rng(10)
    vectors = unit(rng, 3000, 16)
    index = open_idx(16)
    for start in range(0, 3000, 700):
        index.add(range(start, min(start + 700, 3000)), vectors[start : start + 700])
    assert len(index) == 3000
    hits = index.search(vectors[2999], 1)
    assert hits[0][0] == 2999


def test_hnsw_recall_against_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    dim, n = 64, 5000
    data = low_rank(rng, n, dim)
    queries = low_rank(rng, 100, dim)
    exact = open_index("exact://", dim)
    hnsw = open_index(f"hnsw://{tmp_path / 'recall'}", dim)
    for index in (exact, hnsw):
        index.add(range(n), data)
    found = 0
    for q in queries:
        want = exact.search(q, 10)
        got = hnsw.search(q, 10)
        found += len({i for i, _ in want} & {i for i, _ in got})
        # Whatever hnsw returns carries the exact score.
        exact_scores = dict(exact.search(q, n))
        assert all(s == pytest.approx(exact_scores[i], abs=1e-6) for i, s in got)
    assert found / (10 * len(queries)) >= 0.95


def test_hnsw_reopen_with_damage_or_other_dim_starts_empty(tmp_path: Path) -> None:
    url = f"hnsw://{tmp_path / 'idx'}"
    index = open_index(url, DIM)
    index.add([1, 2], unit(np.random.default_rng(12), 2))
    index.set_generation("g1")
    index.save()
    assert open_index(url, DIM + 1).generation == ""  # other dimension: ignored
    assert len(open_index(url, DIM)) == 2  # ... and the files were left alone
    meta = tmp_path / "idx" / "index.json"
    data = json.loads(meta.read_text())
    data["ids"].append(77)  # an id the graph does not hold
    meta.write_text(json.dumps(data))
    damaged = open_index(url, DIM)
    assert len(damaged) == 0 and damaged.generation == ""
    meta.write_text("{not json")
    assert open_index(url, DIM).generation == ""


def test_hnsw_save_keeps_exactly_one_graph_file(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    index = open_index(f"hnsw://{folder}", DIM)
    rng = np.random.default_rng(13)
    for round_ in range(3):
        index.add([round_], unit(rng, 1))
        index.save()
    names = sorted(p.name for p in folder.iterdir())
    assert names[-1] == "index.json" and len(names) == 2 and names[0].startswith("hnsw-")
    assert json.loads((folder / "index.json").read_text())["index_file"] == names[0]


@pytest.mark.parametrize(
    "url",
    [
        "faiss:///tmp/x",
        "hnsw://relative/dir",
        "nonsense",
        "hnsw:///tmp/x?ef=0",
        "hnsw:///tmp/x?m=8",
    ],
)
def test_unknown_or_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_index(url, DIM)


def test_hnsw_ef_option(tmp_path: Path) -> None:
    from fairwheel.index.hnsw import HnswIndex

    index = open_index(f"hnsw://{tmp_path / 'idx'}?ef=200", DIM)
    assert isinstance(index, HnswIndex) and index.ef_search == 200
    index.add(range(5), unit(np.random.default_rng(14), 5))
    assert len(index.search(np.ones(DIM, np.float32), 3)) == 3


def test_non_positive_dim_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        open_index("exact://", 0)


@pytest.mark.parametrize("n", [5, 300])  # k >= n (rank all) and k < n (candidates)
def test_search_many_equals_search_per_row(open_idx: Opener, n: int) -> None:
    rng = np.random.default_rng(11)
    vectors = low_rank(rng, n, DIM, rank=4)
    index = open_idx()
    index.add(range(n), vectors)
    index.remove([1, 3])
    queries = unit(rng, 7)
    many = index.search_many(queries, 10)
    assert many == [index.search(q, 10) for q in queries]
    assert index.search_many(queries, 0) == [[] for _ in queries]
    assert index.search_many(np.zeros((0, DIM), np.float32), 3) == []


def test_search_many_refuses_bad_batches(open_idx: Opener) -> None:
    index = open_idx()
    index.add([0], np.ones((1, DIM), np.float32))
    with pytest.raises(SchemaError, match=f"\\(m, {DIM}\\)"):
        index.search_many(np.ones(DIM, np.float32), 1)
    with pytest.raises(SchemaError):
        index.search_many(np.zeros((2, DIM), np.float32), 1)
    with pytest.raises(SchemaError):
        index.search_many(np.ones((1, DIM), np.float32), -1)
