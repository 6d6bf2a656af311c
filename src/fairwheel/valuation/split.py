"""The per-call money split, in integer token base units.

Each paid call's price is split into the operator fee, the builder share
(model calls only) and the contributors' pot; the pot, plus the dust carried
from the previous call, is divided over beneficiaries in proportion to their
(Shapley) weights, rounding down, and the remainder is carried to the next call
as dust. No unit is ever created or lost::

    price + dust_in == operator_fee + builder + sum(contributors) + dust_out

See ``docs/valuation.md`` for the full rule and a worked example. This module is
pure: the standard library only.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fairwheel.errors import SchemaError

BPS = 10_000  # basis points in a whole
WEIGHT_SCALE = 2**40  # weights become round(w * 2**40) before the integer division
PREDICT = "predict"  # the call kind that pays the builder share
SEARCH = "search"


def _check_int(value: Any, name: str, lo: int = 0, hi: int | None = None) -> int:
    # bool is an int subclass; a True price is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{name} must be an integer", **{name: repr(value)})
    if value < lo or (hi is not None and value > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise SchemaError(f"{name} must be in {bounds}", **{name: value})
    return value


@dataclass(frozen=True)
class SplitPolicy:
    """How a pool splits each call's price.

    Attributes:
        operator_fee_bps: Operator fee, basis points of the price (0..10000).
        builder_share_bps: Builder share, basis points of the price, model
            calls only (0..10000). Operator + builder must not exceed 10000.
        labeler_share_bps: Share of the contributors' part reserved for labelers
            of labelled records (0..10000). Not applied yet: :func:`split_call`
            refuses a non-zero value rather than silently ignoring it.
    """

    operator_fee_bps: int
    builder_share_bps: int
    labeler_share_bps: int = 0

    def __post_init__(self) -> None:
        """Validate ranges.

        Raises:
            SchemaError: If a share is not an int in 0..10000, or operator +
                builder exceeds 10000.
        """
        _check_int(self.operator_fee_bps, "operator_fee_bps", 0, BPS)
        _check_int(self.builder_share_bps, "builder_share_bps", 0, BPS)
        _check_int(self.labeler_share_bps, "labeler_share_bps", 0, BPS)
        if self.operator_fee_bps + self.builder_share_bps > BPS:
            raise SchemaError(
                "operator_fee_bps + builder_share_bps must not exceed 10000",
                operator_fee_bps=self.operator_fee_bps,
                builder_share_bps=self.builder_share_bps,
            )


@dataclass(frozen=True)
class CallSplit:
    """The split of one paid call.

    Attributes:
        price: What the consumer paid for the call.
        operator_fee: The operator's fee.
        builder: The model builder's share (0 unless the call is a model call).
        contributors: Beneficiary address -> amount, sorted by address, only
            entries > 0.
        dust_in: Dust carried from the previous call into this call's pot.
        dust_out: Rounding remainder carried to the next call.
    """

    price: int
    operator_fee: int
    builder: int
    contributors: dict[str, int]
    dust_in: int
    dust_out: int

    def __post_init__(self) -> None:
        """Check non-negativity and conservation.

        Raises:
            SchemaError: If an amount is negative or not an int, or the
                conservation invariant does not hold.
        """
        for name in ("price", "operator_fee", "builder", "dust_in", "dust_out"):
            _check_int(getattr(self, name), name)
        for who, amount in self.contributors.items():
            if not isinstance(who, str):
                raise SchemaError("beneficiary must be a string", beneficiary=repr(who))
            _check_int(amount, "amount", 1)
        paid_out = self.operator_fee + self.builder + sum(self.contributors.values())
        if self.price + self.dust_in != paid_out + self.dust_out:
            raise SchemaError("call split does not conserve value", price=self.price)


def _weights_to_ints(weights: Mapping[str, float]) -> list[tuple[str, int]]:
    """Clip at zero and scale to integers, sorted by beneficiary."""
    for who in weights:
        if not isinstance(who, str):
            raise SchemaError("beneficiary must be a string", beneficiary=repr(who))
    out: list[tuple[str, int]] = []
    for who in sorted(weights):
        w = weights[who]
        # numbers.Real admits numpy scalars; bool is a caller bug, not a weight.
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise SchemaError("weight must be a real number", beneficiary=who)
        scaled = max(float(w), 0.0) * WEIGHT_SCALE
        if not (math.isfinite(float(w)) and math.isfinite(scaled)):
            raise SchemaError("weight must be finite", beneficiary=who)
        w_int = round(scaled)
        if w_int > 0:
            out.append((who, w_int))
    return out


def split_call(
    price: int,
    weights: Mapping[str, float],
    policy: SplitPolicy,
    *,
    kind: str,
    dust_in: int = 0,
) -> CallSplit:
    """Split one call's price over operator, builder and beneficiaries.

    Args:
        price: The call's price in token base units, ``>= 0``.
        weights: Beneficiary address -> weight (e.g. its Shapley value);
            negative weights count as zero.
        policy: The pool's :class:`SplitPolicy`.
        kind: The call kind; only ``"predict"`` pays the builder share.
        dust_in: Dust carried from the previous call, ``>= 0``.

    Returns:
        The :class:`CallSplit`; with no positive weight the whole pot is
        ``dust_out``.

    Raises:
        SchemaError: On a negative or non-int amount, a non-finite weight,
            an empty kind, or a policy with a labeler share (not supported yet).
    """
    _check_int(price, "price")
    _check_int(dust_in, "dust_in")
    if not isinstance(kind, str) or not kind:
        raise SchemaError("kind must be a non-empty string", kind=repr(kind))
    if policy.labeler_share_bps:
        raise SchemaError("labeler_share_bps > 0 is not supported yet")
    operator_fee = price * policy.operator_fee_bps // BPS
    builder = price * policy.builder_share_bps // BPS if kind == PREDICT else 0
    pot = price - operator_fee - builder + dust_in
    ints = _weights_to_ints(weights)
    total_w = sum(w for _, w in ints)
    contributors: dict[str, int] = {}
    if total_w > 0:
        for who, w in ints:
            amount = pot * w // total_w  # floor: the sum never exceeds the pot
            if amount > 0:
                contributors[who] = amount
    dust_out = pot - sum(contributors.values())
    return CallSplit(price, operator_fee, builder, contributors, dust_in, dust_out)


@dataclass(frozen=True)
class Totals:
    """Totals over a sequence of call splits.

    Attributes:
        calls: Number of calls.
        paid: Sum of prices paid by consumers.
        fees: Sum of operator fees.
        builder: Sum of builder shares.
        earnings: Beneficiary -> total amount, sorted by beneficiary.
        dust_in: The first call's carried-in dust.
        dust_out: The last call's carried-out dust (the dust still held).
        chain_breaks: Calls whose ``dust_in`` differs from the previous call's
            ``dust_out``.
    """

    calls: int
    paid: int
    fees: int
    builder: int
    earnings: dict[str, int] = field(default_factory=dict)
    dust_in: int = 0
    dust_out: int = 0
    chain_breaks: int = 0

    def check_conservation(self) -> None:
        """Check that every unit paid in is accounted for.

        Raises:
            ValueError: If the dust chain is broken, or
                ``paid + dust_in != fees + builder + earnings + dust_out``.
        """
        if self.chain_breaks:
            raise ValueError(f"dust chain broken at {self.chain_breaks} call(s)")
        paid_in = self.paid + self.dust_in
        paid_out = self.fees + self.builder + sum(self.earnings.values()) + self.dust_out
        if paid_in != paid_out:
            raise ValueError(f"not conserved: in {paid_in} != out {paid_out}")


def aggregate(splits: Iterable[CallSplit]) -> Totals:
    """Total a sequence of call splits (in call order).

    Args:
        splits: Call splits, each one's ``dust_in`` expected to be the previous
            one's ``dust_out``.

    Returns:
        The :class:`Totals`; call :meth:`Totals.check_conservation` to verify.
    """
    calls = paid = fees = builder = breaks = 0
    earnings: dict[str, int] = {}
    first_in = last_out = 0
    for s in splits:
        if calls == 0:
            first_in = s.dust_in
        elif s.dust_in != last_out:
            breaks += 1
        calls += 1
        paid += s.price
        fees += s.operator_fee
        builder += s.builder
        for who, amount in s.contributors.items():
            earnings[who] = earnings.get(who, 0) + amount
        last_out = s.dust_out
    return Totals(
        calls=calls,
        paid=paid,
        fees=fees,
        builder=builder,
        earnings=dict(sorted(earnings.items())),
        dust_in=first_in,
        dust_out=last_out,
        chain_breaks=breaks,
    )
