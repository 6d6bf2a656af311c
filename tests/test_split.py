"""Property tests of the per-call money split: every unit is accounted for."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.errors import SchemaError
from fairwheel.valuation import (
    WEIGHT_SCALE,
    CallSplit,
    SplitPolicy,
    aggregate,
    group_values,
    retrieval_shapley,
    split_call,
)

ADDRESSES = [f"0x{i:040x}" for i in range(1, 9)]

prices = st.one_of(
    st.just(0),
    st.integers(0, 1_000),
    st.integers(0, 10**18),
    st.integers(0, 10**30),
)
weight_values = st.one_of(
    st.just(0.0),
    st.floats(-1.0, -1e-12),  # negative: clipped to zero
    st.floats(1e-15, 1.0),
    st.floats(0.0, 1e6),
)
weights = st.dictionaries(st.sampled_from(ADDRESSES), weight_values, max_size=len(ADDRESSES))
kinds = st.sampled_from(["search", "predict", "feedback"])


@st.composite
def policies(draw: st.DrawFn) -> SplitPolicy:
    op = draw(st.integers(0, 10_000))
    builder = draw(st.integers(0, 10_000 - op))
    return SplitPolicy(operator_fee_bps=op, builder_share_bps=builder)


calls = st.lists(st.tuples(prices, weights, kinds), min_size=0, max_size=25)


@settings(max_examples=300, deadline=None)
@given(calls, policies(), st.integers(0, 10**6))
def test_chained_calls_conserve_every_unit(
    seq: list[tuple[int, dict[str, float], str]], policy: SplitPolicy, first_dust: int
) -> None:
    dust = first_dust
    splits = []
    for price, w, kind in seq:
        s = split_call(price, w, policy, kind=kind, dust_in=dust)
        splits.append(s)
        dust = s.dust_out

        # per-call invariants
        assert s.dust_in == splits[-2].dust_out if len(splits) > 1 else s.dust_in == first_dust
        assert s.price + s.dust_in == (
            s.operator_fee + s.builder + sum(s.contributors.values()) + s.dust_out
        )
        for amount in (s.operator_fee, s.builder, s.dust_out, *s.contributors.values()):
            assert isinstance(amount, int) and not isinstance(amount, bool)
            assert amount >= 0
        assert s.operator_fee == price * policy.operator_fee_bps // 10_000
        assert s.builder == (price * policy.builder_share_bps // 10_000 if kind == "predict" else 0)
        assert list(s.contributors) == sorted(s.contributors)

        w_int = {a: round(max(v, 0.0) * WEIGHT_SCALE) for a, v in w.items()}
        total = sum(w_int.values())
        pot = price - s.operator_fee - s.builder + s.dust_in
        for address, wi in w_int.items():
            got = s.contributors.get(address, 0)
            if wi == 0:
                assert address not in s.contributors  # zero or negative weight never earns
                continue
            exact = Fraction(pot * wi, total)
            assert exact - 1 < got <= exact  # floor of the exact proportional share
        if total == 0:
            assert s.contributors == {} and s.dust_out == pot
        else:
            # dust is below one unit per paid beneficiary
            assert s.dust_out < max(1, len([v for v in w_int.values() if v > 0]))

    totals = aggregate(splits)
    totals.check_conservation()
    paid = sum(p for p, _, _ in seq)
    assert totals.calls == len(seq)
    if seq:  # with no call there is nothing to carry the opening dust
        assert paid + first_dust == (
            totals.fees + totals.builder + sum(totals.earnings.values()) + totals.dust_out
        )
        assert totals.dust_in == first_dust and totals.dust_out == dust
    assert totals.paid == paid
    assert all(v > 0 for v in totals.earnings.values())


def test_worked_example_from_docs() -> None:
    # docs/valuation.md, section 5: a search, then a model call carrying its dust.
    values = retrieval_shapley([0.8, 0.5, 0.5, 0.2], ["a", "b", "c", "d"], 2)
    assert values.tolist() == pytest.approx([0.30, 0.15, 0.15, 0.05], abs=1e-15)
    w = group_values(values, ["0xalice", "0xbob", "0xalice", "0xcarol"])
    assert [round(v * WEIGHT_SCALE) for v in w.values()] == [
        494780232499,
        164926744166,
        54975581389,
    ]
    policy = SplitPolicy(operator_fee_bps=500, builder_share_bps=2000)
    s = split_call(1000, w, policy, kind="search")
    assert (s.operator_fee, s.builder, s.dust_out) == (50, 0, 1)
    assert s.contributors == {"0xalice": 657, "0xbob": 219, "0xcarol": 73}
    model_w = {"0xalice": 0.012, "0xbob": -0.003, "0xcarol": 0.006}
    s2 = split_call(1000, model_w, policy, kind="predict", dust_in=s.dust_out)
    assert (s2.operator_fee, s2.builder, s2.dust_out) == (50, 200, 1)
    assert s2.contributors == {"0xalice": 500, "0xcarol": 250}
    totals = aggregate([s, s2])
    totals.check_conservation()
    assert totals.earnings == {"0xalice": 1157, "0xbob": 219, "0xcarol": 323}
    assert (totals.paid, totals.fees, totals.builder, totals.dust_out) == (2000, 100, 200, 1)


def test_no_beneficiaries_carries_the_whole_pot() -> None:
    policy = SplitPolicy(operator_fee_bps=100, builder_share_bps=0)
    s = split_call(10_000, {}, policy, kind="search", dust_in=7)
    assert s.contributors == {} and s.dust_out == 10_000 - 100 + 7
    s = split_call(10_000, {"0xa": 0.0, "0xb": -3.0}, policy, kind="search")
    assert s.contributors == {} and s.dust_out == 9_900


def test_deterministic_regardless_of_mapping_order() -> None:
    policy = SplitPolicy(operator_fee_bps=250, builder_share_bps=0)
    w = {"0xc": 0.3, "0xa": 0.1, "0xb": 0.6}
    a = split_call(12_345, w, policy, kind="search")
    b = split_call(12_345, dict(reversed(list(w.items()))), policy, kind="search")
    assert a == b and list(a.contributors) == ["0xa", "0xb", "0xc"]


def test_numpy_scalar_weights_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    policy = SplitPolicy(operator_fee_bps=0, builder_share_bps=0)
    s = split_call(100, {"0xa": np.float32(1.0), "0xb": np.float64(3.0)}, policy, kind="search")
    assert s.contributors == {"0xa": 25, "0xb": 75}


def test_conservation_check_catches_a_broken_chain() -> None:
    policy = SplitPolicy(operator_fee_bps=0, builder_share_bps=0)
    a = split_call(10, {"0xa": 1.0, "0xb": 1.0, "0xc": 1.0}, policy, kind="search")
    assert a.dust_out == 1
    b = split_call(10, {"0xa": 1.0}, policy, kind="search", dust_in=0)  # dropped the dust
    with pytest.raises(ValueError):
        aggregate([a, b]).check_conservation()
    tampered = dataclasses.replace(aggregate([a]), fees=1)
    with pytest.raises(ValueError):
        tampered.check_conservation()
    empty = aggregate([])
    empty.check_conservation()
    assert (empty.calls, empty.paid, empty.earnings) == (0, 0, {})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"operator_fee_bps": -1, "builder_share_bps": 0},
        {"operator_fee_bps": 10_001, "builder_share_bps": 0},
        {"operator_fee_bps": 0, "builder_share_bps": 10_001},
        {"operator_fee_bps": 6_000, "builder_share_bps": 4_001},
        {"operator_fee_bps": 0, "builder_share_bps": 0, "labeler_share_bps": 10_001},
        {"operator_fee_bps": 0, "builder_share_bps": 0, "labeler_share_bps": -5},
        {"operator_fee_bps": 1.5, "builder_share_bps": 0},
        {"operator_fee_bps": True, "builder_share_bps": 0},
        {"operator_fee_bps": "100", "builder_share_bps": 0},
    ],
)
def test_invalid_policies(kwargs: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        SplitPolicy(**kwargs)


@given(st.integers(-20_000, 20_000), st.integers(-20_000, 20_000), st.integers(-20_000, 20_000))
def test_policy_validation_property(op: int, builder: int, labeler: int) -> None:
    ok = 0 <= op <= 10_000 and 0 <= builder <= 10_000 and 0 <= labeler <= 10_000
    ok = ok and op + builder <= 10_000
    if ok:
        SplitPolicy(op, builder, labeler)
    else:
        with pytest.raises(SchemaError):
            SplitPolicy(op, builder, labeler)


def test_invalid_calls() -> None:
    policy = SplitPolicy(operator_fee_bps=100, builder_share_bps=100)
    bad: list[dict[str, Any]] = [
        {"price": -1},
        {"price": 1.0},
        {"price": True},
        {"dust_in": -1},
        {"kind": ""},
        {"weights": {"0xa": float("nan")}},
        {"weights": {"0xa": float("inf")}},
        {"weights": {"0xa": float("-inf")}},
        {"weights": {"0xa": 1e300}},  # overflows once scaled
        {"weights": {"0xa": "1"}},
        {"weights": {1: 1.0}},
        {"policy": SplitPolicy(0, 0, labeler_share_bps=100)},  # not supported yet
    ]
    for override in bad:
        args: dict[str, Any] = {
            "price": 100,
            "weights": {"0xa": 1.0},
            "policy": policy,
            "kind": "search",
        }
        args |= override
        with pytest.raises(SchemaError):
            split_call(
                args["price"], args["weights"], args["policy"], kind=args["kind"],
                dust_in=args.get("dust_in", 0),
            )  # fmt: skip


def test_call_split_rejects_an_unbalanced_record() -> None:
    CallSplit(100, 5, 0, {"0xa": 95}, 0, 0)
    with pytest.raises(SchemaError):
        CallSplit(100, 5, 0, {"0xa": 96}, 0, 0)
    with pytest.raises(SchemaError):
        CallSplit(100, 5, 0, {"0xa": 0}, 0, 95)  # zero entries are not listed
    with pytest.raises(SchemaError):
        CallSplit(100, -5, 0, {"0xa": 105}, 0, 0)
