"""Paying labelers: a bounty split in integer token units, and slash proposals.

The rule (see ``docs/labeling.md``):

* Each accepted answer has a nominal price, the ``rate`` (token base units per
  answer at accuracy 1). The job fixes it when it opens (budget divided by the
  planned answers); it is lowered to ``budget // answers`` if more answers
  came in than planned, so the budget always covers it.
* A labeler whose estimated accuracy is at least their threshold is paid
  ``rate * answers * accuracy_ppm // 1_000_000`` where
  ``accuracy_ppm = floor(accuracy * 10**6)``: pay per answer weighted by
  accuracy. The weight is accuracy, never informativeness: an adversary who
  always answers wrong is perfectly informative to Dawid–Skene, but their
  accuracy is 0.
* A labeler below their threshold gets 0. If, moreover, they are *confidently*
  below it (the one-sided Wilson upper bound of their accuracy over their
  answers, at ``z = 2.326`` by default, i.e. 99 %, is still under the
  threshold) and they gave at least ``min_answers_to_slash`` answers, they
  get a :class:`SlashProposal` carrying the evidence and its hash. Not paid is
  a judgement on the work; a slash proposal is a judgement on the labeler, so
  it asks for more certainty.
* What is not paid stays unspent (returned to the job's owner), so
  ``sum(paid) + unspent == budget`` exactly.

Pure: the standard library and ``fairwheel.domain.records.canonical_json``.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fairwheel.domain.records import canonical_json
from fairwheel.errors import SchemaError

PPM = 1_000_000


def to_ppm(value: float) -> int:
    """A probability as integer parts per million: ``floor(value * 10**6)`` in floating point
    (so 0.995 is 995,000, within one part per million of the float), clipped to 0..10**6.

    Raises:
        SchemaError: If ``value`` is not a finite real number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SchemaError("accuracy must be a finite real number", value=repr(value))
    return min(max(math.floor(float(value) * PPM), 0), PPM)


def evidence_hash(evidence: Mapping[str, Any]) -> str:
    """``0x`` + SHA-256 (32 bytes, hex) of the evidence's canonical JSON.

    Raises:
        SchemaError: If the evidence is not JSON-serialisable.
    """
    try:
        data = canonical_json(dict(evidence))
    except (TypeError, ValueError) as exc:
        raise SchemaError("evidence must be JSON-serialisable", error=repr(exc)) from None
    return "0x" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SlashProposal:
    """A proposal to slash a labeler's stake, with the evidence behind it.

    Attributes:
        worker: The labeler.
        evidence: Integers and strings only (accuracies in ppm), so the hash is
            reproducible in any language.
        evidence_hash: ``0x`` + hex SHA-256 of the evidence's canonical JSON
            (sorted keys, no spaces, UTF-8): a bytes32 to post on-chain.
    """

    worker: str
    evidence: dict[str, Any]
    evidence_hash: str

    @classmethod
    def make(cls, worker: str, evidence: Mapping[str, Any]) -> SlashProposal:
        """Build a proposal, hashing the evidence."""
        ev = dict(evidence)
        return cls(worker, ev, evidence_hash(ev))

    def verify(self) -> bool:
        """Whether the hash matches the evidence."""
        return evidence_hash(self.evidence) == self.evidence_hash

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "worker": self.worker,
            "evidence": self.evidence,
            "evidence_hash": self.evidence_hash,
        }


@dataclass(frozen=True)
class Payout:
    """The split of one job's bounty.

    Attributes:
        budget: The escrowed bounty.
        rate: The price per answer at accuracy 1 actually used.
        paid: Labeler -> amount, sorted by labeler, only amounts > 0.
        unspent: What goes back to the job's owner.
        slashes: Slash proposals, sorted by labeler.
    """

    budget: int
    rate: int
    paid: dict[str, int]
    unspent: int
    slashes: tuple[SlashProposal, ...] = field(default=())

    def __post_init__(self) -> None:
        """Check non-negativity and conservation.

        Raises:
            SchemaError: If an amount is negative or ``paid + unspent != budget``.
        """
        if min([self.budget, self.rate, self.unspent, *self.paid.values()]) < 0:
            raise SchemaError("negative amount in a payout")
        if sum(self.paid.values()) + self.unspent != self.budget:
            raise SchemaError("payout does not conserve the budget", budget=self.budget)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (amounts as decimal strings: they may exceed 2**53)."""
        return {
            "budget": str(self.budget),
            "rate": str(self.rate),
            "paid": {w: str(a) for w, a in self.paid.items()},
            "unspent": str(self.unspent),
            "slashes": [s.to_dict() for s in self.slashes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Payout:
        """Inverse of :meth:`to_dict`."""
        return cls(
            budget=int(data["budget"]),
            rate=int(data["rate"]),
            paid={w: int(a) for w, a in data["paid"].items()},
            unspent=int(data["unspent"]),
            slashes=tuple(
                SlashProposal(s["worker"], dict(s["evidence"]), s["evidence_hash"])
                for s in data["slashes"]
            ),
        )


def _int(value: Any, name: str, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SchemaError(f"{name} must be an int >= {lo}", **{name: repr(value)})
    return value


def wilson_upper(p: float, n: int, z: float) -> float:
    """One-sided Wilson score upper bound of a proportion ``p`` observed over ``n`` trials."""
    if n <= 0:
        return 1.0
    p = min(max(p, 0.0), 1.0)
    zz = z * z
    centre = p + zz / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + zz / (4 * n * n))
    return min((centre + spread) / (1 + zz / n), 1.0)


def _threshold_ppm(value: Any) -> int:
    """A threshold in ppm, rounded up (an accuracy must reach it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SchemaError("threshold must be a finite real number", value=repr(value))
    return math.ceil(float(value) * PPM)


def split_bounty(
    budget: int,
    answers: Mapping[str, int],
    accuracy: Mapping[str, float],
    threshold: float | Mapping[str, float],
    *,
    rate: int | None = None,
    evidence: Mapping[str, Mapping[str, Any]] | None = None,
    min_answers_to_slash: int = 10,
    slash_z: float = 2.326,
) -> Payout:
    """Split a bounty over labelers by accepted answers weighted by accuracy.

    Args:
        budget: The escrowed bounty in token base units.
        answers: Labeler -> number of accepted answers.
        accuracy: Labeler -> estimated accuracy in [0, 1] (every labeler in
            ``answers`` must have one).
        threshold: The accuracy below which a labeler is not paid: one value
            for all, or labeler -> value.
        rate: Price per answer at accuracy 1; default (and at most)
            ``budget // total answers``.
        evidence: Labeler -> extra evidence for their slash proposal (JSON
            values; integers and strings keep the hash portable).
        min_answers_to_slash: Fewer answers than this earn no proposal (too
            little evidence), only no pay.
        slash_z: Normal quantile of the Wilson upper bound that must still be
            under the threshold for a slash proposal (0: any shortfall).

    Returns:
        The :class:`Payout`.

    Raises:
        SchemaError: On a negative or non-int amount, a labeler without an
            accuracy or threshold, or a non-finite accuracy.
    """
    _int(budget, "budget")
    _int(min_answers_to_slash, "min_answers_to_slash")
    if not (math.isfinite(slash_z) and slash_z >= 0):
        raise SchemaError("slash_z must be finite and >= 0", slash_z=slash_z)
    total = sum(_int(n, "answers") for n in answers.values())
    cap = budget // total if total else 0
    used = cap if rate is None else min(_int(rate, "rate"), cap)
    paid: dict[str, int] = {}
    slashes: list[SlashProposal] = []
    for worker in sorted(answers):
        if worker not in accuracy:
            raise SchemaError("no accuracy for labeler", worker=worker)
        n = answers[worker]
        acc = to_ppm(accuracy[worker])
        if isinstance(threshold, Mapping) and worker not in threshold:
            raise SchemaError("no threshold for labeler", worker=worker)
        bar = threshold[worker] if isinstance(threshold, Mapping) else threshold
        bar_ppm = _threshold_ppm(bar)
        if acc >= bar_ppm:
            amount = used * n * acc // PPM
            if amount > 0:
                paid[worker] = amount
            continue
        upper = to_ppm(wilson_upper(acc / PPM, n, slash_z))
        if n >= min_answers_to_slash and n > 0 and upper < bar_ppm:
            ev: dict[str, Any] = {
                "worker": worker,
                "answers": n,
                "accuracy_ppm": acc,
                "upper_bound_ppm": upper,
                "threshold_ppm": bar_ppm,
            }
            ev.update((evidence or {}).get(worker, {}))
            slashes.append(SlashProposal.make(worker, ev))
    unspent = budget - sum(paid.values())
    return Payout(budget, used, paid, unspent, tuple(slashes))
