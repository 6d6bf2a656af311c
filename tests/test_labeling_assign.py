"""Task assignment: overlap met, no repeats, gold mixed in at its share, deterministic."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.errors import SchemaError
from fairwheel.labeling.assign import GOLD_BLOCK, Planner, assign


@st.composite
def jobs(draw: st.DrawFn) -> dict:
    n_workers = draw(st.integers(1, 8))
    return {
        "items": [f"i{k}" for k in range(draw(st.integers(0, 40)))],
        "workers": [f"w{k}" for k in range(n_workers)],
        "overlap": draw(st.integers(1, n_workers)),
        "gold": [f"g{k}" for k in range(draw(st.integers(0, 12)))],
        "share": draw(st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5])),
        "seed": draw(st.integers(0, 2**32)),
    }


@settings(max_examples=80, deadline=None)
@given(jobs())
def test_assignment_invariants(job: dict) -> None:
    share = job["share"] if job["gold"] else 0.0
    plan = assign(
        job["items"],
        job["workers"],
        job["overlap"],
        gold=job["gold"],
        gold_share=share,
        seed=job["seed"],
    )
    real = Counter(x for tasks in plan.values() for x in tasks if x in set(job["items"]))
    assert all(real[i] == job["overlap"] for i in job["items"])  # overlap met exactly
    for tasks in plan.values():
        assert len(tasks) == len(set(tasks))  # nobody sees an item twice
        assert set(tasks) <= set(job["items"]) | set(job["gold"])
        gold = sum(x in set(job["gold"]) for x in tasks)
        assert gold <= share * len(tasks) + share * GOLD_BLOCK + 1e-9
        if len(job["gold"]) >= len(tasks):  # enough gold: the share is kept
            assert gold >= share * len(tasks) - share * GOLD_BLOCK - 1
    assert plan == assign(
        job["items"],
        job["workers"],
        job["overlap"],
        gold=job["gold"],
        gold_share=share,
        seed=job["seed"],
    )


def test_gold_share_is_kept_and_positions_vary() -> None:
    items = [f"i{k}" for k in range(1000)]
    gold = [f"g{k}" for k in range(200)]
    plan = assign(items, ["a", "b", "c", "d"], 2, gold=gold, gold_share=0.1, seed=1)
    for tasks in plan.values():
        positions = [n for n, x in enumerate(tasks) if x.startswith("g")]
        assert abs(len(positions) / len(tasks) - 0.1) < 0.01
        gaps = {b - a for a, b in itertools.pairwise(positions)}
        assert len(gaps) > 3  # not a fixed stride
    uses = Counter(x for tasks in plan.values() for x in tasks if x.startswith("g"))
    assert max(uses.values()) - min(uses.values()) <= 1  # gold used evenly


def test_seed_changes_the_plan() -> None:
    items = [f"i{k}" for k in range(50)]
    assert assign(items, ["a", "b", "c"], 2, seed=1) != assign(items, ["a", "b", "c"], 2, seed=2)


def test_pull_model_resumes_from_json() -> None:
    items, gold = [f"i{k}" for k in range(60)], [f"g{k}" for k in range(10)]
    a = Planner(items, 3, gold=gold, gold_share=0.2, seed=5)
    b = Planner(items, 3, gold=gold, gold_share=0.2, seed=5)
    first = [a.take(w, 4) for w in ("x", "y", "z")]
    assert first == [b.take(w, 4) for w in ("x", "y", "z")]
    b = Planner.from_dict(json.loads(json.dumps(b.to_dict())))
    for w in ("x", "y", "z", "x", "q", "y"):
        assert a.take(w, 7) == b.take(w, 7)
    assert a.missing() == b.missing()


def test_no_real_work_means_no_tasks_even_with_gold_left() -> None:
    p = Planner(["i0", "i1"], 1, gold=["g0", "g1", "g2"], gold_share=0.5, seed=0)
    got = p.take("w", 10)
    assert {"i0", "i1"} <= set(got) and len(got) <= 4
    assert p.take("w", 10) == [] and p.take("v", 10) == [] and p.missing() == 0


def test_release_frees_a_slot_for_someone_else() -> None:
    p = Planner(["i0"], 1, seed=0)
    assert p.take("a") == ["i0"] and p.take("b") == []
    p.release("a", "i0")
    assert p.take("a") == []  # never the same item twice
    assert p.take("b") == ["i0"]
    with pytest.raises(SchemaError):
        p.release("a", "nope")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"items": ["a", "a"], "overlap": 1},
        {"items": ["a"], "overlap": 0},
        {"items": ["a"], "overlap": 1, "gold": ["a"]},
        {"items": ["a"], "overlap": 1, "gold_share": 0.1},
        {"items": ["a"], "overlap": 1, "gold": ["g"], "gold_share": 1.0},
        {"items": [""], "overlap": 1},
    ],
)
def test_bad_plans_are_refused(kwargs: dict) -> None:
    with pytest.raises(SchemaError):
        Planner(**kwargs)


def test_overlap_above_labelers_is_refused() -> None:
    with pytest.raises(SchemaError, match="overlap"):
        assign(["a"], ["w1", "w2"], 3)
