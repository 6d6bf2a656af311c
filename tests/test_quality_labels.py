"""Label issues: out-of-sample probabilities and confident learning on a separable toy set."""

from __future__ import annotations

import numpy as np
import pytest

from fairwheel.quality.label_issues import (
    LabelModel,
    LabelPolicy,
    label_issues,
    out_of_sample_probs,
    softmax_regression,
)

CLASSES = ["card_lost", "refund", "top_up", "transfer"]


def toy(n_per_class: int = 40, flip_share: float = 0.1, seed: int = 0):  # type: ignore[no-untyped-def]
    """Four well separated clusters in 16-d (unit vectors) and labels with some flipped."""
    rng = np.random.default_rng(seed)
    centres = np.eye(16)[: len(CLASSES)] * 3
    x = np.vstack([c + rng.normal(0, 0.5, (n_per_class, 16)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    truth = [c for c in CLASSES for _ in range(n_per_class)]
    labels = list(truth)
    flipped = rng.choice(len(labels), int(flip_share * len(labels)), replace=False)
    for i in flipped:
        labels[i] = CLASSES[(CLASSES.index(labels[i]) + 1 + rng.integers(3)) % 4]
    mask = np.zeros(len(labels), dtype=bool)
    mask[flipped] = True
    return x.astype(np.float32), labels, truth, mask


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


@pytest.mark.parametrize("model", ["logreg", "centroid"])
def test_flipped_labels_are_found(model: str) -> None:
    x, labels, _, flipped = toy(n_per_class=100)
    report = label_issues(x, labels, LabelPolicy(model=model))
    # The ranking is perfect: the 40 highest label-issue scores are the 40 flips.
    top = set(np.argsort(-report.scores)[: flipped.sum()].tolist())
    assert top == set(np.flatnonzero(flipped).tolist())
    assert _auroc(report.scores, flipped) == 1.0
    # Confident learning's own flags are conservative on so few records, and exact.
    found = report.issues
    assert (found & ~flipped).sum() <= 1
    assert (found & flipped).sum() >= 0.6 * flipped.sum()
    assert report.judged.all()
    assert report.probs.shape == (len(labels), 4)
    np.testing.assert_allclose(report.probs.sum(axis=1), 1.0, atol=1e-5)
    flipped_row = int(np.flatnonzero(flipped)[0])
    assert report.suggested(flipped_row) != labels[flipped_row]


def test_probabilities_are_out_of_sample() -> None:
    # Random labels on random vectors: an in-sample fit would be confident, out of sample not.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 8)).astype(np.float32)
    labels = [CLASSES[i] for i in rng.integers(0, 4, 120)]
    _, probs, _ = out_of_sample_probs(x, labels, LabelPolicy(c=100.0))
    given = probs[np.arange(120), [CLASSES.index(lab) for lab in labels]]
    assert given.mean() < 0.4


def test_new_records_are_judged_against_the_pool() -> None:
    x, labels, _, _ = toy()
    report = label_issues(x, labels)
    model = LabelModel(x, labels, report)
    centre = np.eye(16, dtype=np.float32)[2]  # the "top_up" cluster
    score, flagged, reason = model.judge(centre, "card_lost")
    assert flagged and score > 0.9 and reason.startswith("label_issue ") and "top_up" in reason
    score, flagged, _ = model.judge(centre, "top_up")
    assert not flagged and score < 0.1
    assert model.judge(centre, None) == (0.0, False, "label none")
    assert not model.judge(centre, "unseen_class")[1]


def test_small_pools_and_small_classes_are_not_judged() -> None:
    x, labels, _, _ = toy(n_per_class=10)
    report = label_issues(x, labels)  # 40 records < min_pool 50
    assert not report.issues.any() and not report.scores.any()
    x, labels, _, _ = toy(n_per_class=40, flip_share=0.0)
    labels[0] = "rare"  # a class of one record
    report = label_issues(x, labels, LabelPolicy(min_per_class=25))
    assert not report.judged[0] and not report.issues[0]
    assert report.judged[1:].all()


def test_softmax_regression_fits_separable_data() -> None:
    x, _, truth, _ = toy(flip_share=0.0)
    y = np.asarray([CLASSES.index(t) for t in truth])
    w = softmax_regression(x.astype(np.float64), y, 4, c=10.0, max_iter=100)
    assert w.shape == (17, 4)
    predicted = (x @ w[:-1] + w[-1]).argmax(axis=1)
    assert (predicted == y).mean() == 1.0
