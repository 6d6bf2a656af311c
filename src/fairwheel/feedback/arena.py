"""Arena comparisons: a candidate model's win rate, and the promotion rule.

In an arena call the consumer sees two answers to one query, one from the
current model and one from a candidate, in random order as A and B, and rates
which is better (see :mod:`fairwheel.feedback.ratings`). Counting the
candidate's wins gives a win rate with a 95 % Wilson score interval (z = 1.96),
which stays inside [0, 1] and behaves at 0 and n wins, unlike the normal
approximation.

**Promotion** (:func:`should_promote`): a newly trained candidate replaces the
current model unless

1. its held-out accuracy is below the current model's minus ``tolerance``
   (it is worse on the data), or
2. there are at least ``min_arena`` arena comparisons and the upper end of its
   win-rate interval is below 0.5 (consumers confidently prefer the current
   model's answers).

With no current model the candidate is promoted. Fewer than ``min_arena``
comparisons are not enough to judge either way.

Pure: the standard library and :mod:`fairwheel.errors`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fairwheel.errors import SchemaError
from fairwheel.feedback.ratings import ARENA, Rating

Z95 = 1.96  # two-sided 95 % normal quantile (rounded, as usual for Wilson intervals)
ACCURACY = "accuracy"  # the held-out metric compared (as written by fairwheel.training)


def _int(value: Any, name: str, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SchemaError(f"{name} must be an int >= {lo}", **{name: repr(value)})
    return value


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SchemaError(f"{name} must be a real number", **{name: repr(value)})
    x = float(value)
    if not math.isfinite(x):
        raise SchemaError(f"{name} must be finite", **{name: repr(value)})
    return x


def wilson_interval(wins: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Two-sided Wilson score interval of a proportion ``wins / n``.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``, with the low end
    exactly 0 at 0 wins and the high end exactly 1 at ``n`` wins; ``(0, 1)``
    when ``n == 0``.

    Raises:
        SchemaError: Unless ``0 <= wins <= n`` are ints and ``z`` is finite and >= 0.
    """
    _int(n, "n")
    _int(wins, "wins")
    if wins > n:
        raise SchemaError("wins must not exceed n", wins=wins, n=n)
    z = _finite(z, "z")
    if z < 0:
        raise SchemaError("z must be >= 0", z=z)
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    zz = z * z
    denom = 1 + zz / n
    centre = (p + zz / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + zz / (4 * n * n)) / denom
    low = 0.0 if wins == 0 else min(max(centre - half, 0.0), 1.0)
    high = 1.0 if wins == n else min(max(centre + half, 0.0), 1.0)
    return low, high


@dataclass(frozen=True)
class WinRate:
    """A candidate's arena record against the current model.

    Attributes:
        wins: Comparisons where the candidate's answer was rated better.
        losses: Comparisons where the current model's answer was rated better.
        rate: ``wins / (wins + losses)``; 0.5 with no comparisons.
        wilson_low: Low end of the 95 % Wilson interval (0 with none).
        wilson_high: High end of the 95 % Wilson interval (1 with none).
    """

    wins: int
    losses: int
    rate: float
    wilson_low: float
    wilson_high: float

    @property
    def n(self) -> int:
        """Number of comparisons."""
        return self.wins + self.losses

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "wins": self.wins,
            "losses": self.losses,
            "rate": self.rate,
            "wilson_low": self.wilson_low,
            "wilson_high": self.wilson_high,
        }


def win_rate(wins: int, n: int) -> WinRate:
    """The :class:`WinRate` of ``wins`` out of ``n`` comparisons (95 % Wilson, z = 1.96).

    Raises:
        SchemaError: Unless ``0 <= wins <= n`` are ints.
    """
    low, high = wilson_interval(wins, n, Z95)
    rate = wins / n if n else 0.5
    return WinRate(wins, n - wins, rate, low, high)


def tally_arena(
    ratings: Iterable[Rating],
    candidate_side: Mapping[int, int],
    *,
    exclude: Collection[str] = (),
) -> WinRate:
    """Count a candidate's arena wins.

    Args:
        ratings: Ratings; only arena ratings of calls in ``candidate_side`` count.
        candidate_side: Call seq -> which answer was the candidate's (0: shown
            as A, 1: shown as B).
        exclude: Raters whose ratings are ignored (e.g. those judged spammy).

    Returns:
        The candidate's :class:`WinRate`: a rating is a win when its value is
        the candidate's side.

    Raises:
        SchemaError: On a side that is not 0 or 1, or a rater rating one
            comparison twice.
    """
    seen: set[tuple[int, str]] = set()
    wins = n = 0
    for r in ratings:
        if r.kind != ARENA or r.call_seq not in candidate_side or r.rater in exclude:
            continue
        side = candidate_side[r.call_seq]
        if isinstance(side, bool) or side not in (0, 1):
            raise SchemaError("candidate side must be 0 or 1", call_seq=r.call_seq)
        if (r.call_seq, r.rater) in seen:
            raise SchemaError("a rater rated one comparison twice", call_seq=r.call_seq)
        seen.add((r.call_seq, r.rater))
        n += 1
        wins += int(r.value == side)
    return win_rate(wins, n)


def _accuracy(metrics: Mapping[str, Any], whose: str) -> float:
    if ACCURACY not in metrics:
        raise SchemaError(f"the {whose} model's metrics have no {ACCURACY!r}", whose=whose)
    acc = _finite(metrics[ACCURACY], f"{whose} accuracy")
    if not 0.0 <= acc <= 1.0:
        raise SchemaError(f"the {whose} model's accuracy must be in [0, 1]", accuracy=acc)
    return acc


def should_promote(
    candidate_metrics: Mapping[str, Any],
    current_metrics: Mapping[str, Any] | None,
    arena: WinRate | None,
    *,
    tolerance: float = 0.01,
    min_arena: int = 20,
) -> tuple[bool, str]:
    """Whether a candidate model should replace the current one, and why.

    Args:
        candidate_metrics: The candidate's held-out metrics (needs ``"accuracy"``).
        current_metrics: The current model's, or ``None`` when there is none.
        arena: The candidate's win rate against the current model, or ``None``.
        tolerance: How much lower the candidate's accuracy may be (>= 0).
        min_arena: Arena comparisons needed before the arena can refuse.

    Returns:
        ``(promote, reason)``; the reason is a human-readable sentence naming
        the numbers it rests on.

    Raises:
        SchemaError: On missing or out-of-range accuracies, a negative or
            non-finite tolerance, or a negative ``min_arena``.
    """
    tol = _finite(tolerance, "tolerance")
    if tol < 0:
        raise SchemaError("tolerance must be >= 0", tolerance=tol)
    _int(min_arena, "min_arena")
    cand = _accuracy(candidate_metrics, "candidate")
    if current_metrics is None:
        return True, f"no current model: the first candidate is promoted (accuracy {cand:.4f})"
    cur = _accuracy(current_metrics, "current")
    if cand < cur - tol:
        return False, (
            f"held-out accuracy {cand:.4f} is below the current model's {cur:.4f} "
            f"by more than the tolerance {tol:.4f}"
        )
    if arena is not None and arena.n >= min_arena and arena.wilson_high < 0.5:
        return False, (
            f"the candidate loses to the current model in the arena: it won {arena.wins} of "
            f"{arena.n} comparisons ({arena.rate:.1%}), and the upper end of the 95% Wilson "
            f"interval, {arena.wilson_high:.4f}, is below 0.5"
        )
    if arena is None or arena.n == 0:
        verdict = "no arena comparisons yet"
    elif arena.n < min_arena:
        verdict = f"only {arena.n} arena comparisons (fewer than {min_arena}): not judged"
    else:
        verdict = (
            f"arena: won {arena.wins} of {arena.n} ({arena.rate:.1%}), 95% Wilson upper end "
            f"{arena.wilson_high:.4f} is not below 0.5"
        )
    return True, (
        f"held-out accuracy {cand:.4f} vs the current model's {cur:.4f} "
        f"(tolerance {tol:.4f}); {verdict}"
    )
