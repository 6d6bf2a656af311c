"""Exact KNN-Shapley against brute-force enumeration of the same game."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.errors import SchemaError
from fairwheel.valuation import (
    KNNShapley,
    group_values,
    knn_shapley_classification,
    knn_shapley_scores,
    rank_order,
    retrieval_shapley,
)
from fairwheel.valuation import knn_shapley as knn_module

# --------------------------------------------------------------------------- brute force

# train_x, train_y, valid_x, valid_y, k, ids
Case = tuple[list[list[int]], list[int], list[list[int]], list[int], int, list[int]]


def brute_shapley(n: int, utility: Callable[[frozenset[int]], Fraction]) -> list[Fraction]:
    """Exact Shapley values by enumerating every coalition (n <= ~10)."""
    fact = [math.factorial(i) for i in range(n + 1)]
    values = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = Fraction(0)
        for size in range(n):
            weight = Fraction(fact[size] * fact[n - size - 1], fact[n])
            for s in itertools.combinations(others, size):
                coal = frozenset(s)
                total += weight * (utility(coal | {i}) - utility(coal))
        values.append(total)
    return values


def topk_utility(
    rank: Sequence[int], scores: Sequence[Fraction], k: int
) -> Callable[[frozenset[int]], Fraction]:
    """U(S) = (1/K) * sum of scores of the min(K,|S|) best-ranked members of S."""
    pos = {p: r for r, p in enumerate(rank)}

    def utility(coal: frozenset[int]) -> Fraction:
        best = sorted(coal, key=pos.__getitem__)[:k]
        return Fraction(sum((scores[j] for j in best), Fraction(0)), k)

    return utility


def brute_classification(
    train_x: Any, train_y: Any, valid_x: Any, valid_y: Any, k: int, ids: Sequence[Any]
) -> list[Fraction]:
    """Mean brute-force values over validation points, with exact integer distances."""
    n = len(train_x)
    acc = [Fraction(0)] * n
    for q, yq in zip(valid_x, valid_y, strict=True):
        dist = [sum((int(a) - int(b)) ** 2 for a, b in zip(x, q, strict=True)) for x in train_x]
        rank = sorted(range(n), key=lambda j: (dist[j], ids[j]))
        scores = [Fraction(int(train_y[j] == yq)) for j in range(n)]
        vals = brute_shapley(n, topk_utility(rank, scores, k))
        acc = [a + v for a, v in zip(acc, vals, strict=True)]
    return [a / len(valid_x) for a in acc]


@st.composite
def classification_case(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 8))
    dim = draw(st.integers(1, 3))
    n_classes = draw(st.integers(2, 4))
    coord = st.integers(0, 2)  # a tiny grid: many equal distances, exercising the tie-break
    train_x = draw(st.lists(st.lists(coord, min_size=dim, max_size=dim), min_size=n, max_size=n))
    train_y = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    m = draw(st.integers(1, 3))
    valid_x = draw(st.lists(st.lists(coord, min_size=dim, max_size=dim), min_size=m, max_size=m))
    valid_y = draw(st.lists(st.integers(0, n_classes - 1), min_size=m, max_size=m))
    k = draw(st.integers(1, 10))  # includes K > N
    ids = draw(st.permutations(list(range(100, 100 + n))))
    return train_x, train_y, valid_x, valid_y, k, ids


# --------------------------------------------------------------------------- agreement


@settings(max_examples=150, deadline=None)
@given(classification_case())
def test_classification_matches_brute_force(case: Case) -> None:
    train_x, train_y, valid_x, valid_y, k, ids = case
    got = knn_shapley_classification(
        np.array(train_x), np.array(train_y), np.array(valid_x), np.array(valid_y), k,
        ids=np.array(ids), batch_size=2,
    )  # fmt: skip
    want = brute_classification(train_x, train_y, valid_x, valid_y, k, ids)
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 9, 12])
def test_classification_fixed_cases_with_ties(k: int) -> None:
    rng = np.random.default_rng(k)
    train_x = rng.integers(0, 2, size=(9, 2))  # 4 distinct points for 9 rows: heavy ties
    train_y = rng.integers(0, 3, size=9)
    valid_x = rng.integers(0, 2, size=(4, 2))
    valid_y = rng.integers(0, 3, size=4)
    ids = rng.permutation(9) * 7
    got = knn_shapley_classification(train_x, train_y, valid_x, valid_y, k, ids=ids)
    want = brute_classification(train_x, train_y, valid_x, valid_y, k, list(ids))
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=0, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=n, max_size=n),
            st.permutations([f"rec{i:02d}" for i in range(n)]),
            st.integers(1, 10),
        )
    )
)
def test_retrieval_matches_brute_force(case: tuple[list[float], list[str], int]) -> None:
    relevance, ids, k = case
    n = len(relevance)
    rank = sorted(range(n), key=lambda j: (-relevance[j], ids[j]))
    scores = [Fraction(r) for r in relevance]
    want = brute_shapley(n, topk_utility(rank, scores, k))
    got = retrieval_shapley(np.array(relevance), np.array(ids), k)
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=0, atol=1e-9)
    # efficiency: the values add up to U(full) = sum of the top-K relevances / K
    top = sorted(relevance, reverse=True)[:k]
    assert math.isclose(got.sum(), sum(top) / k, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=8),
    st.integers(1, 10),
)
def test_scores_match_brute_force_and_are_efficient(scores: list[float], k: int) -> None:
    n = len(scores)
    want = brute_shapley(n, topk_utility(range(n), [Fraction(s) for s in scores], k))
    got = knn_shapley_scores(np.array(scores), k)
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=0, atol=1e-9)
    assert math.isclose(got.sum(), sum(scores[:k]) / k, abs_tol=1e-9)


def test_scores_batched_rows_equal_single_rows() -> None:
    u = np.random.default_rng(1).random((5, 11))
    batched = knn_shapley_scores(u, 3)
    for row, out in zip(u, batched, strict=True):
        np.testing.assert_array_equal(knn_shapley_scores(row, 3), out)


def test_scores_known_values() -> None:
    # N=3, K=1, u=(1,0,1): s3 = 1/3; s2 = 1/3 + (0-1)/1*1/2 = -1/6; s1 = -1/6 + (1-0) = 5/6
    np.testing.assert_allclose(knn_shapley_scores([1, 0, 1], 1), [5 / 6, -1 / 6, 1 / 3])
    assert knn_shapley_scores(np.zeros(0), 3).shape == (0,)
    assert retrieval_shapley([], [], 3).shape == (0,)


# --------------------------------------------------------------------------- properties


def test_efficiency_classification() -> None:
    rng = np.random.default_rng(7)
    train_x, train_y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    valid_x, valid_y = rng.normal(size=(17, 5)), rng.integers(0, 3, 17)
    for k in (1, 4, 60, 100):
        vals = knn_shapley_classification(train_x, train_y, valid_x, valid_y, k, batch_size=5)
        # U(full) per validation point: share of the K nearest with the right label, / K
        d = ((valid_x[:, None, :] - train_x[None, :, :]) ** 2).sum(-1)
        nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
        u_full = (train_y[nearest] == valid_y[:, None]).sum(1) / k
        assert math.isclose(vals.sum(), u_full.mean(), abs_tol=1e-9)


def test_identical_points_with_same_label_get_equal_values() -> None:
    train_x = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [3.0, 0.0], [1.0, 1.0]])
    train_y = np.array([0, 1, 1, 0, 1])
    valid_x = np.array([[1.0, 0.0], [2.0, 2.0]])
    valid_y = np.array([1, 0])
    ids = np.array([50, 40, 10, 20, 30])
    vals = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 2, ids=ids)
    assert vals[1] == pytest.approx(vals[2], abs=1e-12)
    assert vals[2] == pytest.approx(vals[4], abs=1e-12)


def test_tie_break_is_by_id() -> None:
    # Two points at the same distance with different labels, K=1: the lower id is nearest.
    train_x = np.array([[1.0], [-1.0]])
    train_y = np.array([0, 1])
    for ids, winner in (([5, 9], 0), ([9, 5], 1)):
        vals = knn_shapley_classification(train_x, train_y, [[0.0]], [train_y[winner]], 1, ids=ids)
        assert vals[winner] > vals[1 - winner]
    order = rank_order(np.array([2.0, 1.0, 1.0, 0.5]), np.array(["b", "z", "a", "q"]))
    np.testing.assert_array_equal(order, [3, 2, 1, 0])


@settings(max_examples=60, deadline=None)
@given(classification_case(), st.randoms(use_true_random=False))
def test_deterministic_under_permutation(case: Case, rnd: random.Random) -> None:
    train_x, train_y, valid_x, valid_y, k, ids = case
    tx, ty, tid = np.array(train_x), np.array(train_y), np.array(ids)
    base = knn_shapley_classification(tx, ty, valid_x, valid_y, k, ids=tid)
    perm = np.array(rnd.sample(range(len(ids)), len(ids)))
    vperm = np.array(rnd.sample(range(len(valid_y)), len(valid_y)))
    moved = knn_shapley_classification(
        tx[perm], ty[perm], np.array(valid_x)[vperm], np.array(valid_y)[vperm], k, ids=tid[perm]
    )
    np.testing.assert_allclose(moved, base[perm], rtol=0, atol=1e-12)

    rel = np.linspace(0, 1, len(ids)).round(1)  # coarse: repeated relevances
    r0 = retrieval_shapley(rel, tid, k)
    np.testing.assert_array_equal(retrieval_shapley(rel[perm], tid[perm], k), r0[perm])


def test_rank_order_2d_matches_per_row_lexsort() -> None:
    rng = np.random.default_rng(3)
    d = rng.integers(0, 4, size=(6, 20)).astype(np.float64)
    ids = rng.permutation(20) + 1000
    got = rank_order(d, ids)
    for row, order in zip(d, got, strict=True):
        np.testing.assert_array_equal(order, np.lexsort((ids, row)))


@pytest.mark.parametrize(
    ("max_cells", "chunk_cells", "batch_size", "workers"),
    [(2**24, 2**17, 256, 2), (2**24, 64, 7, 2), (200, 50, 256, 3), (40, 1, 1, 1)],
)
def test_classification_uses_same_order_as_rank_order(
    monkeypatch: pytest.MonkeyPatch, max_cells: int, chunk_cells: int, batch_size: int, workers: int
) -> None:
    # Integer features make float32 distances exact, so the fast packed sort inside
    # knn_shapley_classification must agree with rank_order on (distance, id), for
    # every way of cutting the work into batches and chunks.
    monkeypatch.setattr(knn_module, "_MAX_CELLS", max_cells)
    monkeypatch.setattr(knn_module, "_CHUNK_CELLS", chunk_cells)
    rng = np.random.default_rng(11)
    train_x = rng.integers(-2, 3, size=(40, 3))
    train_y = rng.integers(0, 2, size=40)
    valid_x = rng.integers(-2, 3, size=(23, 3))
    valid_y = rng.integers(0, 2, size=23)
    ids = rng.permutation(40)
    k = 4
    d = ((valid_x[:, None, :] - train_x[None, :, :]) ** 2).sum(-1)
    order = rank_order(d, ids)
    u = train_y[order] == valid_y[:, None]
    s = knn_shapley_scores(u, k)
    want = np.zeros(40)
    for row_order, row_vals in zip(order, s, strict=True):
        want[row_order] += row_vals
    got = knn_shapley_classification(
        train_x, train_y, valid_x, valid_y, k, ids=ids, batch_size=batch_size, workers=workers
    )
    np.testing.assert_allclose(got, want / 23, rtol=0, atol=1e-12)


def test_cosine_and_euclidean_agree_on_normalised_vectors() -> None:
    rng = np.random.default_rng(5)
    train_x = rng.normal(size=(200, 16))
    train_x /= np.linalg.norm(train_x, axis=1, keepdims=True)
    train_y = rng.integers(0, 3, 200)
    valid_x = rng.normal(size=(30, 16))
    valid_x /= np.linalg.norm(valid_x, axis=1, keepdims=True)
    valid_y = rng.integers(0, 3, 30)
    # same order: |a-b|^2 = 2 - 2 cos(a, b) on unit vectors
    eu = ((valid_x[:, None, :] - train_x[None, :, :]) ** 2).sum(-1)
    co = 1.0 - valid_x @ train_x.T
    ids = np.arange(200)
    np.testing.assert_array_equal(rank_order(eu, ids), rank_order(co, ids))
    a = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 5, metric="euclidean")
    b = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 5, metric="cosine")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_cosine_is_scale_invariant_and_handles_zero_vectors() -> None:
    rng = np.random.default_rng(8)
    train_x = rng.normal(size=(30, 4))
    train_x[3] = 0.0
    train_y = rng.integers(0, 2, 30)
    valid_x, valid_y = rng.normal(size=(6, 4)), rng.integers(0, 2, 6)
    scales = rng.uniform(0.5, 4.0, size=(30, 1))
    a = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 3, metric="cosine")
    b = knn_shapley_classification(train_x * scales, train_y, valid_x, valid_y, 3, metric="cosine")
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_strategy_object_and_string_labels_and_ids() -> None:
    rng = np.random.default_rng(9)
    train_x = rng.normal(size=(25, 3))
    train_y = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, 25)]
    valid_x = rng.normal(size=(8, 3))
    valid_y = np.array(["cat", "dog", "fox"])[rng.integers(0, 3, 8)]  # "fox" matches nothing
    ids = np.array([f"{h:064x}" for h in rng.permutation(25)])
    model = KNNShapley(k=3, metric="cosine", batch_size=3).fit(train_x, train_y, ids=ids)
    direct = knn_shapley_classification(
        train_x, train_y, valid_x, valid_y, 3, metric="cosine", ids=ids
    )
    np.testing.assert_array_equal(model.values(valid_x, valid_y), direct)


def test_cosine_signed_zero_ties_break_by_id() -> None:
    # Both points are orthogonal to the query: similarity +0.0 or -0.0 depending on the
    # signs in the dot product. They must tie, and the lower id must be nearest.
    train_x = np.array([[0.0, 1.0], [0.0, -1.0], [-1.0, 0.0]])
    train_y = np.array([0, 1, 2])
    for ids, winner in (([5, 3, 0], 1), ([3, 5, 0], 0)):
        vals = knn_shapley_classification(
            train_x, train_y, [[1.0, 0.0]], [train_y[winner]], 1, metric="cosine", ids=ids
        )
        assert vals[winner] == pytest.approx(1.0) and vals[1 - winner] == 0.0


def test_workers_do_not_change_values() -> None:
    rng = np.random.default_rng(4)
    train_x, train_y = rng.normal(size=(300, 8)), rng.integers(0, 3, 300)
    valid_x, valid_y = rng.normal(size=(41, 8)), rng.integers(0, 3, 41)
    runs = [
        knn_shapley_classification(train_x, train_y, valid_x, valid_y, 5, batch_size=4, workers=w)
        for w in (1, 2, 3)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_batch_size_does_not_change_values() -> None:
    rng = np.random.default_rng(2)
    train_x, train_y = rng.normal(size=(50, 4)), rng.integers(0, 2, 50)
    valid_x, valid_y = rng.normal(size=(13, 4)), rng.integers(0, 2, 13)
    a = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 3, batch_size=1)
    b = knn_shapley_classification(train_x, train_y, valid_x, valid_y, 3, batch_size=1000)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_group_values() -> None:
    got = group_values(np.array([0.5, 0.25, -0.125, 1.0]), ["0xb", "0xa", "0xb", "0xc"])
    assert got == {"0xa": 0.25, "0xb": 0.375, "0xc": 1.0}
    assert list(got) == ["0xa", "0xb", "0xc"]
    assert group_values(np.zeros(0), []) == {}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs",
    [
        {"train_x": np.zeros(3)},  # 1-D features
        {"train_y": np.zeros(2)},  # wrong length
        {"valid_x": np.zeros((2, 5))},  # width mismatch
        {"valid_y": np.zeros(3)},  # wrong length
        {"k": 0},
        {"k": True},
        {"k": 2.0},
        {"metric": "manhattan"},
        {"ids": np.array([1, 1, 2])},  # not unique
        {"ids": np.array([1, 2])},  # wrong length
        {"ids": np.array([0.5, 1.5, 2.5])},  # floats are not ids
        {"batch_size": 0},
        {"workers": 0},
        {"train_x": np.array([[np.nan, 0.0], [0, 0], [1, 1]])},
        {"valid_x": np.array([[np.inf, 0.0], [0, 0]])},
        {"train_x": np.zeros((0, 2)), "train_y": np.zeros(0)},
    ],
)
def test_classification_bad_input(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "train_x": np.zeros((3, 2)),
        "train_y": np.zeros(3),
        "valid_x": np.zeros((2, 2)),
        "valid_y": np.zeros(2),
        "k": 1,
    } | kwargs
    extra: dict[str, Any] = {
        key: args.pop(key) for key in ("metric", "ids", "batch_size", "workers") if key in args
    }
    with pytest.raises(SchemaError):
        knn_shapley_classification(**args, **extra)


def test_other_bad_input() -> None:
    with pytest.raises(SchemaError):
        knn_shapley_scores(np.zeros((2, 2, 2)), 1)
    with pytest.raises(SchemaError):
        knn_shapley_scores([1.0, np.nan], 1)
    with pytest.raises(SchemaError):
        knn_shapley_scores(["high", "low"], 1)
    with pytest.raises(SchemaError):
        retrieval_shapley(["x"], [1], 1)
    with pytest.raises(SchemaError):
        rank_order(np.zeros((2, 3)), np.arange(2))
    with pytest.raises(SchemaError):
        rank_order(np.zeros((1, 2, 3)), np.arange(3))
    with pytest.raises(SchemaError):
        retrieval_shapley(np.zeros((2, 2)), np.arange(2), 1)
    with pytest.raises(SchemaError):
        retrieval_shapley(np.zeros(3), np.array([1, 2, 2]), 1)
    with pytest.raises(SchemaError):
        retrieval_shapley(np.zeros(3), np.arange(3), -1)
    with pytest.raises(SchemaError):
        group_values(np.zeros(2), ["a"])
    with pytest.raises(SchemaError):
        KNNShapley(k=2).values(np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(SchemaError):
        KNNShapley(k=2, metric="l1")
    with pytest.raises(SchemaError):  # labels that cannot be ordered
        knn_shapley_classification(
            [[0.0], [1.0]], np.array(["a", 1], dtype=object), [[0.0]], [1], 1
        )


# --------------------------------------------------------------------------- ranked fast path


@pytest.mark.parametrize("seed", range(20))
def test_ranked_retrieval_shapley_equals_the_array_game(seed: int) -> None:
    from fairwheel.valuation import ranked_retrieval_shapley, retrieval_shapley

    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), int(rng.integers(1, 15))
    rel = np.sort(np.round(rng.random(n), 2))[::-1]  # rounded: ties happen
    rel[rng.random(n) < 0.2] = 0.0
    rel = np.sort(rel)[::-1]
    ids = rng.permutation(1000)[:n]
    fast = ranked_retrieval_shapley(rel.tolist(), k)
    assert fast == pytest.approx(retrieval_shapley(rel, ids, k).tolist(), abs=1e-15)
    assert sum(fast) == pytest.approx(float(rel[:k].sum()) / k)


def test_ranked_retrieval_shapley_toy_game() -> None:
    from fairwheel.valuation import ranked_retrieval_shapley

    # K = 1 over relevances (1, 0.5): the best alone is worth 1, the second only without it.
    assert ranked_retrieval_shapley([1.0, 0.5], 1) == pytest.approx([0.75, 0.25])
    assert ranked_retrieval_shapley([], 3) == []


@pytest.mark.parametrize("bad", [[0.5, 0.9], [1.0, -0.1], [float("nan")]])
def test_ranked_retrieval_shapley_refuses_unranked_input(bad: list[float]) -> None:
    from fairwheel.valuation import ranked_retrieval_shapley

    with pytest.raises(SchemaError):
        ranked_retrieval_shapley(bad, 2)
