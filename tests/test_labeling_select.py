"""``auto`` scores held-out answers with each candidate's predictive confusion (select.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairwheel.labeling import select
from fairwheel.labeling.aggregate import Answers, dawid_skene
from fairwheel.labeling.select import auto, heldout_loglik, log_conf
from fairwheel.labeling.simulate import answers_from_confusions, confusion_crowd

ROWS = [
    ("t1", "a", "x"),
    ("t1", "b", "x"),
    ("t1", "c", "y"),
    ("t2", "a", "x"),
    ("t2", "b", "y"),
    ("t3", "a", "x"),
    ("t3", "c", "x"),
]


def test_predictive_confusion_by_hand() -> None:
    """``(n + a + e) / (row + sum a + K e)``; rows still sum to 1; e = 0 is the fit."""
    answers = Answers.from_rows(ROWS)
    ds = dawid_skene(answers, max_iter=3, tol=0.0)
    e = 0.5
    for w in range(3):
        counts = np.zeros((2, 2))
        lo, hi = np.searchsorted(ds._pair_worker, [w, w + 1])
        for p in range(lo, hi):
            counts[:, ds._pair_label[p]] += ds._counts[p]
        cells = counts + ds.alpha + e
        want = cells / cells.sum(axis=1, keepdims=True)
        for lab in range(2):
            got = log_conf(ds, np.array([w]), np.array([lab]), extra=e)[0]
            assert got == pytest.approx(np.log(want[:, lab]))
        assert np.exp(log_conf(ds, np.array([w, w]), np.array([0, 1]), extra=e)).sum(
            axis=0
        ) == pytest.approx(np.ones(2))
    zero = log_conf(ds, np.array([0]), np.array([1]))
    assert zero[0] == pytest.approx(np.log(ds.confusion(0)[:, 1]))


def test_a_label_never_given_costs_a_bounded_amount() -> None:
    """Worker a only ever said x (3 answers): MAP gives y 0.01 / (n_k + 0.02) per class, the
    predictive confusion (0.01 + 1/2) / (n_k + 1.02): the same answer costs far less."""
    answers = Answers.from_rows(ROWS)
    ds = dawid_skene(answers)
    test = Answers(
        np.array([0]), np.array([0]), np.array([1]), ("t9",), answers.workers, ("x", "y")
    )
    rows = ds._row_totals[0]  # a's expected answers per true class, summing to 3
    assert rows.sum() == pytest.approx(3.0)
    mapped = math.log(float(ds.priors @ (0.01 / (rows + 0.02))))
    smooth = math.log(float(ds.priors @ (0.51 / (rows + 1.02))))
    assert heldout_loglik(ds, test, np.array([0])) == pytest.approx(mapped)
    assert heldout_loglik(ds, test, np.array([0]), extra=0.5) == pytest.approx(smooth)
    assert smooth - mapped > 2.0


def _constant_spammer_crowd(seed: int) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids, confs, _ = confusion_crowd({"honest": 12, "constant_spammer": 4}, 2, rng, skill=(0.6, 0.9))
    truth = rng.integers(0, 2, 600)
    return answers_from_confusions(truth, confs, 5, rng, None, ids), truth


def test_auto_no_longer_punishes_dawid_skene_for_unseen_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Binary crowd, heavy workers: MAP scoring picks HDS (a prior that only costs here),
    the predictive scoring picks plain DS, which labels at least as well."""
    rows, truth = _constant_spammer_crowd(0)
    answers = Answers.from_rows(rows)
    got = auto(answers)
    assert got.method == "ds"
    ds = dawid_skene(answers)
    assert got.labels.tolist() == ds.labels.tolist()
    monkeypatch.setattr(select, "SCORE_PSEUDO_ANSWERS", 0.0)
    old = auto(answers)
    assert old.method == "hds"
    right = np.array([int(t[1:]) for t in answers.tasks])
    want = np.array([f"c{z}" for z in truth[right]])
    acc_new = np.mean(np.array([got.label_of(i) for i in range(len(right))]) == want)
    acc_old = np.mean(np.array([old.label_of(i) for i in range(len(right))]) == want)
    assert acc_new >= acc_old
