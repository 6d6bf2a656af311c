"""The bounty split: conservation, the threshold, slash proposals and their evidence."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.errors import SchemaError
from fairwheel.labeling.pay import (
    PPM,
    Payout,
    SlashProposal,
    split_bounty,
    to_ppm,
    wilson_upper,
)

WORKERS = [f"0x{i:040x}" for i in range(1, 9)]

budgets = st.one_of(st.integers(0, 1000), st.integers(0, 10**30))
crowds = st.dictionaries(
    st.sampled_from(WORKERS),
    st.tuples(st.integers(0, 500), st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    max_size=len(WORKERS),
)


@settings(max_examples=200, deadline=None)
@given(budgets, crowds, st.one_of(st.none(), st.integers(0, 10**28)))
def test_paid_plus_unspent_is_the_budget(budget: int, crowd: dict, rate: int | None) -> None:
    answers = {w: n for w, (n, _, _) in crowd.items()}
    accuracy = {w: a for w, (_, a, _) in crowd.items()}
    bars = {w: t for w, (_, _, t) in crowd.items()}
    out = split_bounty(budget, answers, accuracy, bars, rate=rate)
    assert sum(out.paid.values()) + out.unspent == budget and out.unspent >= 0
    total = sum(answers.values())
    assert out.rate <= (budget // total if total else 0)
    if rate is not None:
        assert out.rate <= rate
    for w, amount in out.paid.items():
        assert accuracy[w] >= bars[w] - 1e-6  # nobody under the bar is paid
        # Pay is computed on the accuracy in parts per million (to_ppm), within 1 ppm of it.
        ppm = to_ppm(accuracy[w])
        assert abs(Fraction(ppm, PPM) - Fraction(accuracy[w])) <= Fraction(1, PPM)
        assert Fraction(amount) <= Fraction(out.rate * answers[w]) * Fraction(ppm, PPM) + 1
    for s in out.slashes:
        assert s.worker not in out.paid and s.verify()
        assert answers[s.worker] >= 10
    assert Payout.from_dict(json.loads(json.dumps(out.to_dict()))) == out


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_more_accurate_never_earns_less(n: int, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    out = split_bounty(10**18, {"x": n, "y": n}, {"x": lo, "y": hi}, 0.0, rate=10**12)
    assert out.paid.get("x", 0) <= out.paid.get("y", 0)


def test_pay_is_per_answer_times_accuracy() -> None:
    out = split_bounty(
        1000, {"a": 10, "b": 20, "c": 5}, {"a": 0.9, "b": 0.2, "c": 0.0}, 0.6, rate=20
    )
    assert out.paid == {"a": 180} and out.unspent == 820 and out.rate == 20
    assert [s.worker for s in out.slashes] == ["b"]  # c has too few answers to propose


def test_rate_is_capped_by_the_budget() -> None:
    out = split_bounty(100, {"a": 30, "b": 20}, {"a": 1.0, "b": 1.0}, 0.5, rate=10)
    assert out.rate == 2 and out.paid == {"a": 60, "b": 40} and out.unspent == 0


def test_slash_needs_confidence_not_just_a_shortfall() -> None:
    # 0.58 over 200 answers vs a 0.6 bar: unpaid, but not confidently below.
    out = split_bounty(10**6, {"w": 200}, {"w": 0.58}, 0.6)
    assert out.paid == {} and out.slashes == ()
    out = split_bounty(10**6, {"w": 200}, {"w": 0.45}, 0.6)
    assert [s.worker for s in out.slashes] == ["w"]
    assert split_bounty(10**6, {"w": 200}, {"w": 0.58}, 0.6, slash_z=0.0).slashes


def test_evidence_hash_is_sha256_of_canonical_json() -> None:
    out = split_bounty(
        10**6, {"w": 50}, {"w": 0.1}, 0.6, evidence={"w": {"job": "j1", "gold_correct": 0}}
    )
    (s,) = out.slashes
    assert s.evidence == {
        "worker": "w",
        "answers": 50,
        "accuracy_ppm": 100_000,
        "upper_bound_ppm": s.evidence["upper_bound_ppm"],
        "threshold_ppm": 600_000,
        "job": "j1",
        "gold_correct": 0,
    }
    body = json.dumps(s.evidence, sort_keys=True, separators=(",", ":")).encode()
    assert s.evidence_hash == "0x" + hashlib.sha256(body).hexdigest()
    assert len(bytes.fromhex(s.evidence_hash[2:])) == 32
    forged = SlashProposal(s.worker, {**s.evidence, "answers": 51}, s.evidence_hash)
    assert not forged.verify()


def test_wilson_upper_bound() -> None:
    assert wilson_upper(0.5, 0, 1.645) == 1.0
    assert 0.5 < wilson_upper(0.5, 100, 1.645) < 0.59
    assert wilson_upper(0.0, 100, 1.645) > 0.0
    assert wilson_upper(0.5, 100, 0.0) == pytest.approx(0.5)
    assert PPM == 1_000_000


@pytest.mark.parametrize(
    "args",
    [
        (-1, {}, {}, 0.5),
        (10, {"a": -1}, {"a": 0.5}, 0.5),
        (10, {"a": 1}, {}, 0.5),
        (10, {"a": 1}, {"a": float("nan")}, 0.5),
        (10, {"a": 1}, {"a": 0.5}, {"b": 0.5}),
        (10, {"a": 1}, {"a": 0.5}, float("inf")),
        (True, {}, {}, 0.5),
    ],
)
def test_bad_input_is_refused(args: tuple) -> None:
    with pytest.raises(SchemaError):
        split_bounty(*args)
