"""Simulated crowds for tests and ``benchmarks/labeling.py``.

Three kinds of labeler:

* **honest** with skill ``p``: the true label with probability ``p``, otherwise
  a uniformly random *wrong* label (so their accuracy is ``p``);
* **spammer**: a uniformly random label, whatever the item;
* **adversary**: always a wrong label (uniformly among the wrong ones).

:func:`confusion_crowd` and :func:`answers_from_confusions` simulate richer crowds for the
aggregation benchmark: every worker is a full confusion matrix (honest workers who mix up
related classes, spammers answering at random or always the same label, adversaries answering
wrong at random or by a fixed permutation of the classes) and workers' loads are long-tailed,
so that many answer only a handful of items.
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


#: Worker kinds of :func:`confusion_crowd`, with the first letter of their ids.
CONFUSION_KINDS = {
    "honest": "h",
    "random_spammer": "s",
    "constant_spammer": "k",
    "adversary": "a",
    "permuter": "p",
}


def confusion_of(
    kind: str,
    k: int,
    rng: np.random.Generator,
    skill: float = 0.8,
    neighbours: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """One worker's ``(k, k)`` confusion matrix (rows: true class, columns: answer).

    Args:
        kind: One of :data:`CONFUSION_KINDS`.
        k: Number of classes.
        rng: Randomness (a constant spammer's label, a permuter's permutation).
        skill: An honest worker's chance of the right answer.
        neighbours: Per class, the classes an honest worker mixes it up with (default: all
            others, uniformly).

    Raises:
        ValueError: On an unknown kind.
    """
    if kind == "honest":
        conf = np.zeros((k, k))
        for c in range(k):
            near = [j for j in (neighbours[c] if neighbours else range(k)) if j != c]
            near = near or [j for j in range(k) if j != c]
            conf[c, near] = (1.0 - skill) / len(near)
            conf[c, c] = skill
        return conf
    if kind == "random_spammer":
        return np.full((k, k), 1.0 / k)
    if kind == "constant_spammer":
        conf = np.zeros((k, k))
        conf[:, int(rng.integers(k))] = 1.0
        return conf
    if kind == "adversary":
        return (np.ones((k, k)) - np.eye(k)) / (k - 1)
    if kind == "permuter":  # a derangement: never right, always the same wrong answer per class
        order = rng.permutation(k)
        conf = np.zeros((k, k))
        conf[order, np.roll(order, 1)] = 1.0
        return conf
    raise ValueError(f"unknown worker kind {kind!r}; expected one of {tuple(CONFUSION_KINDS)}")


def answers_from_confusions(
    truth: np.ndarray,
    confusions: Sequence[np.ndarray],
    overlap: int,
    rng: np.random.Generator,
    load: np.ndarray | None = None,
    ids: Sequence[str] | None = None,
    mixups: np.ndarray | None = None,
    honest: Sequence[bool] | None = None,
) -> list[tuple[str, str, str]]:
    """Each item answered by ``overlap`` distinct workers drawn with probability ``load``.

    Args:
        truth: True class of each item.
        confusions: Each worker's confusion matrix.
        overlap: Workers per item.
        rng: Randomness.
        load: Each worker's relative share of the work (default: equal).
        ids: Worker ids (default ``w0000``, ...).
        mixups: Optional ``(items, m)`` wrong classes item ``i`` is easily taken for: a
            wrong answer of an ``honest`` worker on item ``i`` is then one of ``mixups[i]``
            (uniformly), so mistakes depend on the item, not only on its class.
        honest: Which workers ``mixups`` applies to (default: all).

    Returns:
        ``(task, worker, label)`` rows; tasks ``t00000…``, labels ``c0…``.
    """
    n_w = len(confusions)
    p = np.full(n_w, 1.0 / n_w) if load is None else np.asarray(load, float) / np.sum(load)
    names = list(ids) if ids is not None else [f"w{i:04d}" for i in range(n_w)]
    cum = np.cumsum(np.stack(confusions), axis=2)  # (W, K, K)
    rows = []
    for i, z in enumerate(truth):
        for w in rng.choice(n_w, size=overlap, replace=False, p=p):
            lab = min(
                int(np.searchsorted(cum[w, int(z)], rng.random(), side="right")), len(cum[w]) - 1
            )
            if mixups is not None and lab != z and (honest is None or honest[int(w)]):
                lab = int(mixups[i, rng.integers(mixups.shape[1])])
            rows.append((f"t{i:05d}", names[int(w)], f"c{lab}"))
    return rows


def confusion_crowd(
    mix: dict[str, int],
    k: int,
    rng: np.random.Generator,
    skill: tuple[float, float] = (0.5, 0.9),
    neighbours: Sequence[Sequence[int]] | None = None,
) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Workers of each kind in ``mix`` (kind -> count).

    Returns:
        ``(ids, confusion matrices, kinds)``; ids are the kind's letter and a number.
    """
    ids, confs, kinds = [], [], []
    for kind, count in mix.items():
        for j in range(count):
            confs.append(confusion_of(kind, k, rng, float(rng.uniform(*skill)), neighbours))
            ids.append(f"{CONFUSION_KINDS[kind]}{j:04d}")
            kinds.append(kind)
    return ids, confs, kinds
