"""Judging raters by agreement, and paying them from a pool's feedback budget.

Raters are paid for feedback, so feedback must be checked: a rater who clicks
at random, or always the same button, must earn nothing. Each rating becomes
one binary vote ``(item, rater, bit)`` (see :func:`fairwheel.feedback.ratings.to_bit`;
an item is a rated call, or an arena pair) and a vote is *evidence* about its
rater when the right bit is known or can be estimated without the rater:

* on a **gold** item (a hidden check whose right bit the operator knows, e.g. a
  known-bad answer injected among real ones) the vote agrees when it equals the
  gold bit, and counts ``gold_weight`` times;
* on another item with at least ``min_items_for_consensus`` *other* raters, the
  vote agrees when it equals the majority of those other raters' votes
  (leave-one-out: a rater's own vote never makes itself right); a tie in that
  majority gives no evidence, and the vote counts once.

A rater's **agreement** is the weighted share of their evidence votes that
agree. With at least ``min_ratings`` evidence votes a rater is *judged*, and a
judged rater whose agreement is below ``spam_agreement`` is **spammy**: weight
0, paid 0. Fewer evidence votes are too little to call anyone a spammer.

**Weight** (what pay is proportional to, per evidence vote)::

    weight = max(0, 2 * agreement - 1) ** 2

``2a - 1`` is a binary vote's expected value in ±1 coding when it is right
with probability ``a``: 0 for a coin (or a constant button on balanced items),
1 for a perfect rater. Clipping at 0 *before* squaring matters: a rater who is
reliably wrong is informative but is not paid for it. Squaring makes the
weight a rater's contribution to the squared signal-to-noise ratio of a
weighted vote (votes weighted by ``2a - 1`` give SNR² ∝ Σ (2aᵢ - 1)²), so pay
follows each rater's share of the information, and near-chance raters earn
little (agreement 0.75 earns a quarter of what agreement 1 earns per vote).
A rater with no evidence at all has weight 0 (nothing to judge them by).

**Pay** splits an integer budget in proportion to ``weight × evidence votes``,
rounding down; the remainder is ``dust``, carried to the next epoch's budget,
so ``sum(paid) + dust == budget`` exactly. With nobody weighted, it is all dust.

Pure: the standard library and :mod:`fairwheel.errors`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fairwheel.errors import SchemaError

Item = TypeVar("Item", bound=Hashable)

WEIGHT_SCALE = 2**40  # weight × votes become round(x * 2**40) before the integer division


def _int(value: Any, name: str, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SchemaError(f"{name} must be an int >= {lo}", **{name: repr(value)})
    return value


def _real(
    value: Any, name: str, lo: float, hi: float = math.inf, *, open_lo: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SchemaError(f"{name} must be a real number", **{name: repr(value)})
    x = float(value)
    if math.isnan(x) or x < lo or (open_lo and x == lo) or x > hi or math.isinf(x):
        raise SchemaError(f"{name} out of range", **{name: repr(value)})
    return x


def _bit(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
        raise SchemaError(f"{name} must be 0 or 1", **{name: repr(value)})
    return value


@dataclass(frozen=True)
class RaterPolicy:
    """How raters are judged.

    Attributes:
        min_ratings: Evidence votes (on gold or consensus items) a rater needs
            before they can be judged spammy.
        spam_agreement: A judged rater whose agreement is below this is spammy.
        gold_weight: How many ordinary votes a vote on a gold item counts for.
        min_items_for_consensus: How many *other* raters must have voted on a
            non-gold item for their majority to be the leave-one-out consensus.
    """

    min_ratings: int = 5
    spam_agreement: float = 0.6
    gold_weight: float = 2.0
    min_items_for_consensus: int = 3

    def __post_init__(self) -> None:
        """Validate ranges.

        Raises:
            SchemaError: If ``min_ratings`` or ``min_items_for_consensus`` is
                not an int >= 1, ``spam_agreement`` is not in [0, 1], or
                ``gold_weight`` is not finite and > 0.
        """
        _int(self.min_ratings, "min_ratings", 1)
        _int(self.min_items_for_consensus, "min_items_for_consensus", 1)
        _real(self.spam_agreement, "spam_agreement", 0.0, 1.0)
        _real(self.gold_weight, "gold_weight", 0.0, open_lo=True)


@dataclass(frozen=True)
class RaterJudgement:
    """What the votes say about one rater.

    Attributes:
        ratings: Votes the rater cast.
        judged_votes: Of those, votes that are evidence (on a gold item, or on
            an item with a leave-one-out consensus).
        gold_seen: Of those, votes on gold items.
        agreement: Weighted share of evidence votes that agree with the gold bit
            or the consensus; ``None`` with no evidence.
        judged: Whether ``judged_votes >= policy.min_ratings``.
        spammy: Judged, and agreement below ``policy.spam_agreement``.
        weight: ``max(0, 2 * agreement - 1) ** 2``; 0 when spammy or without
            evidence.
    """

    ratings: int
    judged_votes: int
    gold_seen: int
    agreement: float | None
    judged: bool
    spammy: bool
    weight: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "ratings": self.ratings,
            "judged_votes": self.judged_votes,
            "gold_seen": self.gold_seen,
            "agreement": self.agreement,
            "judged": self.judged,
            "spammy": self.spammy,
            "weight": self.weight,
        }


def rater_weight(agreement: float | None) -> float:
    """``max(0, 2 * agreement - 1) ** 2``, or 0 for ``None`` (see the module docstring)."""
    if agreement is None:
        return 0.0
    return max(0.0, 2.0 * agreement - 1.0) ** 2


def judge_raters(
    votes: Iterable[tuple[Item, str, int]],
    gold: Mapping[Item, int],
    policy: RaterPolicy | None = None,
) -> dict[str, RaterJudgement]:
    """Judge every rater by agreement with gold items and with the other raters.

    Args:
        votes: ``(item, rater, bit)`` rows; ``bit`` is 0 or 1 (see
            :func:`fairwheel.feedback.ratings.to_bit`). One vote per rater and
            item.
        gold: Item -> its known right bit, for the hidden gold items.
        policy: The :class:`RaterPolicy`; default ``RaterPolicy()``.

    Returns:
        Rater -> :class:`RaterJudgement`, sorted by rater.

    Raises:
        SchemaError: On a bit or gold bit that is not 0 or 1, a rater that is
            not a string, or a rater voting twice on one item.
    """
    policy = policy or RaterPolicy()
    gold_bits = {item: _bit(b, "gold") for item, b in gold.items()}
    by_item: dict[Item, dict[str, int]] = {}
    for item, rater, bit in votes:
        if not isinstance(rater, str):
            raise SchemaError("rater must be a string", rater=repr(rater))
        _bit(bit, "bit")
        seen = by_item.setdefault(item, {})
        if rater in seen:
            raise SchemaError("a rater voted twice on one item", rater=rater, item=repr(item))
        seen[rater] = bit

    ratings: dict[str, int] = {}
    judged: dict[str, int] = {}
    gold_seen: dict[str, int] = {}
    agree_mass: dict[str, float] = {}
    total_mass: dict[str, float] = {}
    for item, item_votes in by_item.items():
        ones = sum(item_votes.values())
        zeros = len(item_votes) - ones
        for rater, bit in item_votes.items():
            ratings[rater] = ratings.get(rater, 0) + 1
            if item in gold_bits:
                right, mass = gold_bits[item], policy.gold_weight
                gold_seen[rater] = gold_seen.get(rater, 0) + 1
            else:
                if len(item_votes) - 1 < policy.min_items_for_consensus:
                    continue
                other_ones, other_zeros = ones - bit, zeros - (1 - bit)
                if other_ones == other_zeros:
                    continue
                right, mass = int(other_ones > other_zeros), 1.0
            judged[rater] = judged.get(rater, 0) + 1
            total_mass[rater] = total_mass.get(rater, 0.0) + mass
            if bit == right:
                agree_mass[rater] = agree_mass.get(rater, 0.0) + mass

    out: dict[str, RaterJudgement] = {}
    for rater in sorted(ratings):
        n_judged = judged.get(rater, 0)
        agreement = agree_mass.get(rater, 0.0) / total_mass[rater] if n_judged else None
        is_judged = n_judged >= policy.min_ratings
        spammy = is_judged and agreement is not None and agreement < policy.spam_agreement
        out[rater] = RaterJudgement(
            ratings=ratings[rater],
            judged_votes=n_judged,
            gold_seen=gold_seen.get(rater, 0),
            agreement=agreement,
            judged=is_judged,
            spammy=spammy,
            weight=0.0 if spammy else rater_weight(agreement),
        )
    return out


@dataclass(frozen=True)
class RaterPayout:
    """The split of one epoch's feedback budget over raters.

    Attributes:
        budget: The budget split (token base units).
        paid: Rater -> amount, sorted by rater, only amounts > 0.
        dust: What is left, carried to the next epoch's budget.
        spammy: Raters judged spammy (paid nothing), sorted.
    """

    budget: int
    paid: dict[str, int]
    dust: int
    spammy: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Check non-negativity and conservation.

        Raises:
            SchemaError: If an amount is negative or not an int, or
                ``sum(paid) + dust != budget``.
        """
        _int(self.budget, "budget")
        _int(self.dust, "dust")
        for amount in self.paid.values():
            _int(amount, "amount", 1)
        if sum(self.paid.values()) + self.dust != self.budget:
            raise SchemaError("rater payout does not conserve the budget", budget=self.budget)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (amounts as decimal strings: they may exceed 2**53)."""
        return {
            "budget": str(self.budget),
            "paid": {r: str(a) for r, a in self.paid.items()},
            "dust": str(self.dust),
            "spammy": list(self.spammy),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RaterPayout:
        """Inverse of :meth:`to_dict`."""
        return cls(
            budget=int(data["budget"]),
            paid={r: int(a) for r, a in data["paid"].items()},
            dust=int(data["dust"]),
            spammy=list(data["spammy"]),
        )


def pay_raters(judgements: Mapping[str, RaterJudgement], budget: int) -> RaterPayout:
    """Split a feedback budget over raters by ``weight × judged_votes``.

    Each rater's claim is the integer ``round(weight * 2**40) * judged_votes``;
    rater *r* gets ``budget * claim_r // Σ claims`` (rounded down, so the sum
    never exceeds the budget) and the remainder is dust. Spammy raters get
    nothing whatever their recorded weight.

    Args:
        judgements: Rater -> :class:`RaterJudgement` (from :func:`judge_raters`).
        budget: The epoch's feedback budget plus carried dust, token base units.

    Returns:
        The :class:`RaterPayout`; ``sum(paid) + dust == budget``.

    Raises:
        SchemaError: On a negative or non-int budget, a rater that is not a
            string, or a weight that is negative or not finite.
    """
    _int(budget, "budget")
    claims: list[tuple[str, int]] = []
    spammy: list[str] = []
    for rater in sorted(judgements):
        if not isinstance(rater, str):
            raise SchemaError("rater must be a string", rater=repr(rater))
        j = judgements[rater]
        weight = _real(j.weight, "weight", 0.0)
        votes = _int(j.judged_votes, "judged_votes")
        if j.spammy:
            spammy.append(rater)
            continue
        scaled = weight * WEIGHT_SCALE
        if not math.isfinite(scaled):
            raise SchemaError("weight too large", rater=rater)
        claim = round(scaled) * votes
        if claim > 0:
            claims.append((rater, claim))
    total = sum(c for _, c in claims)
    paid: dict[str, int] = {}
    for rater, claim in claims:
        amount = budget * claim // total
        if amount > 0:
            paid[rater] = amount
    return RaterPayout(budget, paid, budget - sum(paid.values()), spammy)
