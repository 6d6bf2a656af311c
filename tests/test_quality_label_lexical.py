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


def test_rank_by_self_confidence_flags_the_estimated_number_lowest_first() -> None:
    from cleanlab.count import num_label_issues

    from fairwheel.quality.label_issues import rank_by_self_confidence

    rng = np.random.default_rng(5)
    _, y = encode(["a", "b", "c"] * 40)
    probs = np.full((120, 3), 0.05)
    probs[np.arange(120), y] = 0.9
    wrong = rng.choice(120, 12, replace=False)
    probs[wrong] = 0.05
    probs[wrong, (y[wrong] + 1) % 3] = 0.9  # confidently another class
    flags = rank_by_self_confidence(y, probs)
    expected = int(num_label_issues(y, probs, estimation_method="off_diagonal_calibrated"))
    assert int(flags.sum()) == expected == 12
    assert set(np.flatnonzero(flags)) == set(wrong.tolist())
    clean = np.full((120, 3), 0.05)
    clean[np.arange(120), y] = 0.9
    assert not rank_by_self_confidence(y, clean).any()


def test_regularisation_is_the_grid_value_of_lowest_log_loss() -> None:
    from dataclasses import replace

    from fairwheel.quality.label_issues import out_of_sample_probs

    texts, labels, _ = toy()
    vectors = FakeHashEmbedder(64).embed(texts)
    _, y = encode(labels)
    policy = LabelPolicy(min_per_class=20, c_grid=(0.1, 1.0, 30.0))
    report = label_issues(vectors, labels, policy)
    losses = {
        c: log_loss(out_of_sample_probs(vectors, labels, replace(policy, c=c))[1], y)
        for c in policy.c_grid
    }
    assert report.c == min(losses, key=losses.__getitem__)
    assert log_loss(report.probs, y) == pytest.approx(losses[report.c])


def test_best_tfidf_probs_keeps_the_lowest_log_loss() -> None:
    from fairwheel.quality.label_issues import _folds
    from fairwheel.quality.lexical import best_tfidf_probs, tfidf_probs

    texts, labels, _ = toy()
    _, y = encode(labels)
    folds = _folds(y, 5, 0)
    each = {c: log_loss(tfidf_probs(texts, y, 3, folds, c), y) for c in (0.01, 10.0)}
    best = best_tfidf_probs(texts, y, 3, folds, (0.01, 10.0))
    assert log_loss(best, y) == pytest.approx(min(each.values()))
    assert each[10.0] < each[0.01]  # a strong penalty flattens the probabilities


def test_audit_policy_finds_the_flips() -> None:
    from fairwheel.quality.label_issues import AUDIT_LABEL_POLICY

    texts, labels, flipped = toy()
    vectors = FakeHashEmbedder(64).embed(texts)
    report = label_issues(vectors, labels, AUDIT_LABEL_POLICY, texts=texts)
    assert report.c in AUDIT_LABEL_POLICY.c_grid and report.lexical_weight is not None
    assert _f1(report.issues, flipped) >= 0.9
