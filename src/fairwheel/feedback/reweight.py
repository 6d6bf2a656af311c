"""Feedback re-weights the records behind rated answers.

A paid answer was produced by some records, each with its attribution share of
that call (the fractions the call's split used; they sum to at most 1). A
rating of the answer, turned into a goodness bit (see
:func:`fairwheel.feedback.ratings.to_bit`) and weighted by its rater's weight
(see :func:`fairwheel.feedback.raters.judge_raters`), is spread over those
records::

    good[r] += share_r × rater_weight     (a good answer)
    bad[r]  += share_r × rater_weight     (a bad answer)

So a record that produced most of a bad answer takes most of the blame, and a
spammer's votes (weight 0) move nothing.

**Model.** Each record has an unknown *good rate* ``g``: the probability an
answer it helps produce is rated good. Its prior is ``Beta(prior_good,
prior_bad)`` (default ``Beta(2, 1)``: mean 2/3, records start out trusted but
not certain) and the masses are pseudo-counts, so the posterior is
``Beta(prior_good + good, prior_bad + bad)``.

**Weight.** ``weight = E[g | feedback] / E[g]`` (posterior mean over prior
mean), clipped to ``[floor, 1]``. A record without feedback has weight exactly
1; good feedback cannot lift a record above 1 (feedback is a brake on bad
records, not a bonus), and repeated bad answers push it toward ``floor``, never
to 0 (one record is never silenced by ratings alone: that is a review's job).
Example: prior (2, 1) and three bad votes of full share → posterior mean
2/6 → weight (2/6) / (2/3) = 0.5.

**Review.** A record is a review candidate when its posterior probability that
its *bad rate* ``1 - g`` exceeds ``bad_rate`` is above ``review_threshold`` and
it has at least ``min_mass`` of feedback (good + bad). That probability is the
regularised incomplete beta function ``I_{1 - bad_rate}(α, β)`` (scipy,
imported lazily).

Pure: the standard library, :mod:`fairwheel.errors`, and scipy inside
:func:`p_bad`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from fairwheel.errors import SchemaError
from fairwheel.feedback.ratings import ARENA, Rating, to_bit

RecordId = TypeVar("RecordId", bound=Hashable)

SHARE_SLACK = 1e-9  # shares may sum to 1 + this (float rounding of the split's fractions)


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SchemaError(f"{name} must be a real number", **{name: repr(value)})
    x = float(value)
    if not math.isfinite(x):
        raise SchemaError(f"{name} must be finite", **{name: repr(value)})
    return x


def _in(value: Any, name: str, lo: float, hi: float, *, open_lo: bool, open_hi: bool) -> float:
    x = _real(value, name)
    if x < lo or x > hi or (open_lo and x == lo) or (open_hi and x == hi):
        left, right = "(" if open_lo else "[", ")" if open_hi else "]"
        raise SchemaError(f"{name} must be in {left}{lo}, {hi}{right}", **{name: x})
    return x


@dataclass(frozen=True)
class ReweightPolicy:
    """The prior and thresholds of record re-weighting.

    Attributes:
        prior_good: Beta prior pseudo-count of good answers (> 0).
        prior_bad: Beta prior pseudo-count of bad answers (> 0).
        floor: The lowest weight feedback can give a record (0..1).
        bad_rate: The bad-answer rate a record under review is suspected to
            exceed (0 < bad_rate < 1).
        review_threshold: Posterior probability of exceeding ``bad_rate``
            above which a record is a review candidate (0 <= t < 1).
        min_mass: Feedback mass (good + bad) a record needs before review (>= 0).
    """

    prior_good: float = 2.0
    prior_bad: float = 1.0
    floor: float = 0.1
    bad_rate: float = 0.5
    review_threshold: float = 0.5
    min_mass: float = 2.0

    def __post_init__(self) -> None:
        """Validate ranges.

        Raises:
            SchemaError: If a field is not a finite real number in its range.
        """
        _in(self.prior_good, "prior_good", 0.0, math.inf, open_lo=True, open_hi=True)
        _in(self.prior_bad, "prior_bad", 0.0, math.inf, open_lo=True, open_hi=True)
        _in(self.floor, "floor", 0.0, 1.0, open_lo=False, open_hi=False)
        _in(self.bad_rate, "bad_rate", 0.0, 1.0, open_lo=True, open_hi=True)
        _in(self.review_threshold, "review_threshold", 0.0, 1.0, open_lo=False, open_hi=True)
        _in(self.min_mass, "min_mass", 0.0, math.inf, open_lo=False, open_hi=True)


@dataclass(frozen=True)
class RecordFeedback:
    """The feedback mass one record has accumulated.

    Attributes:
        good: Σ share × rater weight over good ratings of answers it helped produce.
        bad: The same over bad ratings.
    """

    good: float = 0.0
    bad: float = 0.0

    def __post_init__(self) -> None:
        """Check the masses.

        Raises:
            SchemaError: If a mass is negative or not a finite real number.
        """
        for name in ("good", "bad"):
            _in(getattr(self, name), name, 0.0, math.inf, open_lo=False, open_hi=True)

    @property
    def mass(self) -> float:
        """``good + bad``."""
        return self.good + self.bad

    def plus(self, good: float, bad: float) -> RecordFeedback:
        """This feedback with ``good`` and ``bad`` added."""
        return RecordFeedback(self.good + good, self.bad + bad)

    def to_dict(self) -> dict[str, float]:
        """JSON-serialisable form."""
        return {"good": self.good, "bad": self.bad}


def add_feedback(
    feedback: MutableMapping[RecordId, RecordFeedback],
    shares: Iterable[tuple[RecordId, float]],
    bit: int,
    weight: float = 1.0,
) -> None:
    """Spread one vote on an answer over the records that produced it.

    Args:
        feedback: Record -> :class:`RecordFeedback`, updated in place.
        shares: ``(record_id, share)`` of the rated call; shares in [0, 1]
            summing to at most 1 (a record listed twice gets the sum).
        bit: 1 for a good answer, 0 for a bad one.
        weight: The rater's weight (>= 0); 0 changes nothing.

    Raises:
        SchemaError: On a bit that is not 0 or 1, a negative or non-finite
            weight or share, or shares summing to more than 1. Nothing is
            changed when it raises.
    """
    if isinstance(bit, bool) or not isinstance(bit, int) or bit not in (0, 1):
        raise SchemaError("bit must be 0 or 1", bit=repr(bit))
    w = _in(weight, "weight", 0.0, math.inf, open_lo=False, open_hi=True)
    per_record: dict[RecordId, float] = {}
    for record_id, share in shares:
        s = _in(share, "share", 0.0, 1.0, open_lo=False, open_hi=False)
        per_record[record_id] = per_record.get(record_id, 0.0) + s
    if sum(per_record.values()) > 1.0 + SHARE_SLACK:
        raise SchemaError("attribution shares sum to more than 1", total=sum(per_record.values()))
    if w == 0.0:
        return
    updated = {}
    for record_id, s in per_record.items():
        old = feedback.get(record_id, RecordFeedback())
        updated[record_id] = old.plus(s * w, 0.0) if bit else old.plus(0.0, s * w)
    feedback.update(updated)


def add_rating(
    feedback: MutableMapping[RecordId, RecordFeedback],
    rating: Rating,
    shares: Iterable[tuple[RecordId, float]],
    rater_weight: float,
) -> bool:
    """Add one thumbs or stars rating (see :func:`add_feedback`).

    Args:
        feedback: Record -> :class:`RecordFeedback`, updated in place.
        rating: The rating; its bit comes from
            :func:`fairwheel.feedback.ratings.to_bit`.
        shares: ``(record_id, share)`` of the rated call.
        rater_weight: The rater's weight (0 for a spammer or an unknown rater).

    Returns:
        Whether the rating counted (a 3-star rating is neither good nor bad).

    Raises:
        SchemaError: For an arena rating (it compares models, not records), or
            as :func:`add_feedback`.
    """
    if rating.kind == ARENA:
        raise SchemaError("arena ratings compare models; they do not re-weight records")
    bit = to_bit(rating)
    if bit is None:
        return False
    add_feedback(feedback, shares, bit, rater_weight)
    return True


def record_weight(fb: RecordFeedback, policy: ReweightPolicy | None = None) -> float:
    """One record's weight: posterior over prior mean good rate, clipped to [floor, 1].

    Exactly 1.0 with no feedback.
    """
    policy = policy or ReweightPolicy()
    if fb.good == 0.0 and fb.bad == 0.0:
        return 1.0
    pg, pb = policy.prior_good, policy.prior_bad
    a, b = pg + fb.good, pb + fb.bad
    # (a / (a + b)) / (pg / (pg + pb)) in one division: fewer roundings.
    ratio = a * (pg + pb) / ((a + b) * pg)
    return min(1.0, max(policy.floor, ratio))


def record_weights(
    feedback: Mapping[RecordId, RecordFeedback], policy: ReweightPolicy | None = None
) -> dict[RecordId, float]:
    """Every record's weight (see :func:`record_weight`), in the mapping's order.

    Records absent from ``feedback`` have no feedback: their weight is 1.0.
    """
    policy = policy or ReweightPolicy()
    return {rid: record_weight(fb, policy) for rid, fb in feedback.items()}


def p_bad(fb: RecordFeedback, policy: ReweightPolicy | None = None) -> float:
    """Posterior probability that the record's bad-answer rate exceeds ``policy.bad_rate``.

    With good rate ``g ~ Beta(prior_good + good, prior_bad + bad)``, this is
    ``P(g < 1 - bad_rate) = I_{1 - bad_rate}(α, β)``.
    """
    from scipy.special import betainc

    policy = policy or ReweightPolicy()
    a, b = policy.prior_good + fb.good, policy.prior_bad + fb.bad
    return float(betainc(a, b, 1.0 - policy.bad_rate))


class ReviewCandidate(NamedTuple):
    """A record whose feedback says it probably produces bad answers.

    Attributes:
        record_id: The record.
        p_bad: Posterior probability its bad rate exceeds the policy's ``bad_rate``.
        good: Its good mass.
        bad: Its bad mass.
    """

    record_id: Hashable
    p_bad: float
    good: float
    bad: float


def review_candidates(
    feedback: Mapping[RecordId, RecordFeedback], policy: ReweightPolicy | None = None
) -> list[ReviewCandidate]:
    """Records to send to review, most suspect first.

    A record is a candidate when ``good + bad >= min_mass`` and
    :func:`p_bad` ``> review_threshold``.

    Returns:
        :class:`ReviewCandidate` tuples ``(record_id, p_bad, good, bad)``,
        sorted by ``p_bad`` descending (ties keep the mapping's order).
    """
    policy = policy or ReweightPolicy()
    out: list[ReviewCandidate] = []
    for rid, fb in feedback.items():
        if fb.mass < policy.min_mass:
            continue
        p = p_bad(fb, policy)
        if p > policy.review_threshold:
            out.append(ReviewCandidate(rid, p, fb.good, fb.bad))
    out.sort(key=lambda c: -c.p_bad)
    return out
