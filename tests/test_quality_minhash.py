"""MinHash, LSH and the edit distance behind the near-duplicate check."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest

from fairwheel.quality.minhash import (
    MinHasher,
    MinHashIndex,
    estimate_jaccard,
    jaccard,
    shingle_text,
    shingles,
)
from fairwheel.quality.near_duplicate import levenshtein


def _dp_levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_shingles_normalise_case_punctuation_and_space() -> None:
    assert shingle_text("  Hello,   WORLD!! ") == "hello world"
    assert shingles("Hello, world", 4) == shingles("hello world", 4)
    assert shingles("ab", 4) == {"ab"}
    assert shingles("?!", 4) == set()
    with pytest.raises(ValueError):
        shingles("abc", 0)


def test_signatures_are_deterministic_across_instances() -> None:
    a, b = MinHasher(64, 3, seed=5), MinHasher(64, 3, seed=5)
    text = "Where is my new card? It has been two weeks."
    assert np.array_equal(a.signature(text), b.signature(text))
    assert a.signature(text).dtype == np.uint32
    assert not np.array_equal(a.signature(text), MinHasher(64, 3, seed=6).signature(text))
    assert a.signatures([]).shape == (0, 64)


def test_estimate_approximates_exact_jaccard() -> None:
    rng = random.Random(1)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 7))) for _ in range(40)]
    hasher = MinHasher(256, 4, seed=2)
    errors = []
    for _ in range(60):
        base = rng.choices(words, k=12)
        other = [w if rng.random() < rng.random() else rng.choice(words) for w in base]
        a, b = " ".join(base), " ".join(other)
        exact = jaccard(shingles(a, 4), shingles(b, 4))
        est = estimate_jaccard(hasher.signature(a), hasher.signature(b))
        errors.append(abs(est - exact))
    # Standard error at 256 permutations is at most 0.031.
    assert max(errors) < 0.12
    assert float(np.mean(errors)) < 0.035


def test_identical_and_unrelated_texts() -> None:
    hasher = MinHasher()
    a = hasher.signature("I lost my card yesterday")
    assert estimate_jaccard(a, hasher.signature("i LOST my card, yesterday!")) == 1.0
    assert estimate_jaccard(a, hasher.signature("zebra quantum violin")) < 0.1
    empty = hasher.signature("")
    assert estimate_jaccard(empty, hasher.signature("...")) == 1.0


def test_lsh_index_finds_near_copies_and_respects_owner_and_removal() -> None:
    hasher = MinHasher(128, 3)
    index = MinHashIndex(128, bands=32)
    texts = {
        1: "How long does a transfer from Europe take to arrive?",
        2: "My card payment was declined at the supermarket today",
        3: "Can I change my PIN at any cash machine abroad?",
    }
    for key, text in texts.items():
        index.add(key, hasher.signature(text), owner=f"0xA{key}")
    copy = hasher.signature("how long does a transfer from europe take to arive")
    best = index.nearest(copy)
    assert best is not None and best[0] == 1 and best[1] > 0.7
    other = index.nearest(copy, exclude_owner="0xA1")  # owners compare case-insensitively
    assert other is None or other[0] != 1
    index.remove(1)
    assert 1 not in index.candidates(copy)
    assert len(index) == 2
    with pytest.raises(ValueError):
        index.add(2, hasher.signature("x"))
    with pytest.raises(ValueError):
        MinHashIndex(128, bands=30)


def test_levenshtein_matches_dynamic_programming() -> None:
    rng = random.Random(3)
    for _ in range(500):
        a = "".join(rng.choices("abc d", k=rng.randint(0, 70)))
        b = "".join(rng.choices("abc d", k=rng.randint(0, 70)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b)
    assert levenshtein("kitten", "sitting") == 3
