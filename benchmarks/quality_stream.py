"""The attack stream of ``benchmarks/quality.py`` (and ``quality_node.py``): banking77 rows from
honest contributors mixed with exact copies, near copies, label flips and junk, in one random
arrival order; and the data loading and (cached) embedding both benchmarks share.
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fairwheel.domain.records import RecordStatus
from fairwheel.quality.junk import words_of
from fairwheel.quality.synthetic import flip_label, junk_text, near_copy

ATTACKS = ("exact_copy", "near_copy", "label_flip", "junk")
HONEST_CONTRIBUTORS = 10


@dataclass
class Event:
    """One submission of the stream."""

    text: str
    label: str
    contributor: str
    kind: str  # "honest" or an attack
    vector_of: int  # row of the embedding matrix
    status: RecordStatus = RecordStatus.REJECTED
    reason: str = ""
    gate_status: RecordStatus = RecordStatus.REJECTED


def load(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        label_col = "label" if "label" in (reader.fieldnames or []) else "category"
        return [(r["text"], r[label_col]) for r in reader]


def embed_all(texts: list[str], url: str, cache: Path | None) -> tuple[np.ndarray, str, float]:
    """Embed once; with ``--cache-dir``, reuse vectors of an identical earlier run."""
    from fairwheel.config import default_cache_dir
    from fairwheel.embed import open_embedder

    key = hashlib.sha256((url + "\n" + "\n".join(texts)).encode()).hexdigest()[:20]
    if cache is not None and (cache / f"{key}.npy").exists():
        return np.load(cache / f"{key}.npy"), f"{url} (cached)", 0.0
    embedder = open_embedder(url, default_cache_dir())
    start = time.perf_counter()
    vectors = embedder.embed(texts)
    seconds = time.perf_counter() - start
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{key}.npy", vectors)
    return vectors, embedder.model_id, seconds


def build_stream(
    train: list[tuple[str, str]], n_honest: int, m: int, rng: random.Random
) -> tuple[list[Event], list[str]]:
    """Honest rows and attacks in one random arrival order; returns events and texts to embed."""
    rows = rng.sample(train, n_honest + m)
    honest, fresh = rows[:n_honest], rows[n_honest:]
    labels = sorted({lab for _, lab in train})
    vocabulary = sorted({w for t, _ in honest for w in words_of(t)})
    kinds = ["honest"] * n_honest + [a for a in ATTACKS for _ in range(m)]
    rng.shuffle(kinds)
    # Copies need an earlier honest arrival: no attack in the first 2% of the stream.
    head = max(1, len(kinds) // 50)
    early = [i for i in range(head) if kinds[i] != "honest"]
    late_honest = [i for i in range(head, len(kinds)) if kinds[i] == "honest"]
    for i, j in zip(early, late_honest, strict=False):
        kinds[i], kinds[j] = kinds[j], kinds[i]
    texts: list[str] = []
    events: list[Event] = []
    arrived: list[int] = []  # indexes into events of honest arrivals so far
    h = f = 0
    for kind in kinds:
        if kind == "honest":
            text, label = honest[h]
            h += 1
            who = f"honest-{rng.randrange(HONEST_CONTRIBUTORS)}"
            texts.append(text)
            events.append(Event(text, label, who, kind, len(texts) - 1))
            arrived.append(len(events) - 1)
            continue
        if kind == "exact_copy":
            src = events[rng.choice(arrived)]
            text = rng.choice((str.upper, str.lower, lambda s: "  " + s + " "))(src.text)
            events.append(Event(text, src.label, kind, kind, src.vector_of))
            continue
        if kind == "near_copy":
            src = events[rng.choice(arrived)]
            text, label = near_copy(src.text, rng), src.label
        elif kind == "label_flip":
            text, true = fresh[f]
            f += 1
            label = flip_label(true, labels, rng)
        else:
            text, label = junk_text(rng, vocabulary), rng.choice(labels)
        texts.append(text)
        events.append(Event(text, label, kind, kind, len(texts) - 1))
    return events, texts
