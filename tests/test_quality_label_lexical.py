"""Label issues with TF-IDF blended in: a toy corpus that only character n-grams separate."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fairwheel.embed import FakeHashEmbedder
from fairwheel.errors import SchemaError
from fairwheel.quality.label_issues import LabelPolicy, encode, label_issues
from fairwheel.quality.lexical import blend_probs, log_loss

MARKERS = {"alpha": "qzx", "beta": "vbk", "gamma": "jwp"}


def toy(n_per_class: int = 60, flips: int = 18, seed: int = 3):  # type: ignore[no-untyped-def]
    """Texts of unique made-up words; a class shows only as a letter run inside its words.

    Every word is new, so a hashed bag of words (FakeHashEmbedder) sees no shared feature, while
    TF-IDF character 3-5 grams see the marker.
    """
    rng = random.Random(seed)
    letters = "acdefhilmnorstu"  # no letter of any marker
    texts, truth = [], []
    for label, marker in MARKERS.items():
        for _ in range(n_per_class):
            words = [
                "".join(rng.choice(letters) for _ in range(3)) + marker
                + "".join(rng.choice(letters) for _ in range(2))
                for _ in range(3)
            ]  # fmt: skip
            texts.append(" ".join(words))
            truth.append(label)
    labels = list(truth)
    flipped = np.zeros(len(labels), dtype=bool)
    for i in rng.sample(range(len(labels)), flips):
        labels[i] = rng.choice([c for c in MARKERS if c != labels[i]])
        flipped[i] = True
    return texts, labels, flipped


def _f1(flags: np.ndarray, truth: np.ndarray) -> float:
    tp = int((flags & truth).sum())
    return 2 * tp / (int(flags.sum()) + int(truth.sum()))


def test_lexical_blend_finds_flips_the_embedding_misses() -> None:
    texts, labels, flipped = toy()
    vectors = FakeHashEmbedder(64).embed(texts)
    policy = LabelPolicy(min_per_class=20, lexical=True)
    alone = label_issues(vectors, labels, policy)
    both = label_issues(vectors, labels, policy, texts=texts)
    assert alone.lexical_weight is None
    assert both.lexical_weight is not None and both.lexical_weight >= 0.75
    assert _f1(alone.issues, flipped) < 0.4
    assert _f1(both.issues, flipped) >= 0.9
    # The flipped rows rank first by score.
    top = np.argsort(-both.scores, kind="stable")[: int(flipped.sum())]
    assert flipped[top].mean() >= 0.9


def test_deterministic() -> None:
    texts, labels, _ = toy()
    vectors = FakeHashEmbedder(64).embed(texts)
    policy = LabelPolicy(min_per_class=20)
    a = label_issues(vectors, labels, policy, texts=texts)
    b = label_issues(vectors, labels, policy, texts=texts)
    assert np.array_equal(a.issues, b.issues)
    assert np.allclose(a.probs, b.probs)


def test_lexical_off_and_length_mismatch() -> None:
    texts, labels, _ = toy()
    vectors = FakeHashEmbedder(64).embed(texts)
    off = label_issues(vectors, labels, LabelPolicy(min_per_class=20, lexical=False), texts=texts)
    assert off.lexical_weight is None
    with pytest.raises(SchemaError):
        label_issues(vectors, labels, LabelPolicy(min_per_class=20, lexical=True), texts=texts[:-1])


def test_blend_keeps_the_better_set() -> None:
    _, y = encode(["a", "b", "c"] * 20)
    good = np.full((60, 3), 0.05)
    good[np.arange(60), y] = 0.9
    uniform = np.full((60, 3), 1 / 3)
    probs, w = blend_probs(good, uniform, y)
    assert w == 0.0 and np.allclose(probs, good)
    probs, w = blend_probs(uniform, good, y)
    assert w == 1.0 and log_loss(probs, y) < log_loss(uniform, y)
