"""Simulated crowds for tests and ``benchmarks/labeling.py``.

Three kinds of labeler:

* **honest** with skill ``p``: the true label with probability ``p``, otherwise
  a uniformly random *wrong* label (so their accuracy is ``p``);
* **spammer**: a uniformly random label, whatever the item;
* **adversary**: always a wrong label (uniformly among the wrong ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

HONEST = "honest"
SPAMMER = "spammer"
ADVERSARY = "adversary"


@dataclass(frozen=True)
class Labeler:
    """A simulated labeler: id, kind and skill (honest only; else 0)."""

    id: str
    kind: str
    skill: float = 0.0

    @property
    def bad(self) -> bool:
        """Spammers and adversaries are bad."""
        return self.kind != HONEST


def crowd(
    honest: int,
    spammers: int,
    adversaries: int,
    rng: np.random.Generator,
    skill: tuple[float, float] = (0.6, 0.95),
) -> list[Labeler]:
    """Honest labelers with skills uniform in ``skill``, then spammers, then adversaries."""
    out = [Labeler(f"h{i:03d}", HONEST, float(rng.uniform(*skill))) for i in range(honest)]
    out += [Labeler(f"s{i:03d}", SPAMMER) for i in range(spammers)]
    out += [Labeler(f"a{i:03d}", ADVERSARY) for i in range(adversaries)]
    return out


def answer(who: Labeler, truth: int, k: int, rng: np.random.Generator) -> int:
    """One answer of ``who`` on an item of class ``truth`` (of ``k`` classes)."""
    if who.kind == SPAMMER:
        return int(rng.integers(k))
    if who.kind == HONEST and rng.random() < who.skill:
        return truth
    wrong = int(rng.integers(k - 1))
    return wrong + (wrong >= truth)


def answers_for(
    truth: np.ndarray,
    labelers: Sequence[Labeler],
    overlap: int,
    rng: np.random.Generator,
    k: int,
) -> list[tuple[str, str, str]]:
    """Each item answered by ``overlap`` distinct labelers drawn at random.

    Returns:
        ``(task, worker, label)`` rows; tasks ``t00000…``, labels ``c0…``.
    """
    rows = []
    for i, z in enumerate(truth):
        for w in rng.choice(len(labelers), size=overlap, replace=False):
            who = labelers[int(w)]
            rows.append((f"t{i:05d}", who.id, f"c{answer(who, int(z), k, rng)}"))
    return rows


def extra_answers(
    truth: np.ndarray,
    labelers: Iterable[Labeler],
    per_labeler: int,
    rng: np.random.Generator,
    k: int,
) -> list[tuple[str, str, str]]:
    """Each labeler answers ``per_labeler`` distinct random items (on top of others)."""
    rows = []
    for who in labelers:
        for i in rng.choice(len(truth), size=min(per_labeler, len(truth)), replace=False):
            rows.append((f"t{int(i):05d}", who.id, f"c{answer(who, int(truth[i]), k, rng)}"))
    return rows


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half (Mann–Whitney).

    Raises:
        ValueError: If either side is empty.
    """
    if not len(positive) or not len(negative):
        raise ValueError("auroc needs both positives and negatives")
    pos = np.asarray(positive, dtype=float)[:, None]
    neg = np.asarray(negative, dtype=float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())
