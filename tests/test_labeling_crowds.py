"""The confusion-matrix crowd simulators of the aggregation benchmark."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fairwheel.labeling.simulate import answers_from_confusions, confusion_crowd, confusion_of


def test_confusion_matrices_of_each_kind() -> None:
    rng = np.random.default_rng(0)
    honest = confusion_of("honest", 4, rng, skill=0.7, neighbours=[[1, 3], [0, 2], [1, 3], [2, 0]])
    assert honest[0].tolist() == pytest.approx([0.7, 0.15, 0.0, 0.15])
    assert np.diag(honest).tolist() == pytest.approx([0.7] * 4)
    assert confusion_of("honest", 3, rng, skill=0.4)[2].tolist() == pytest.approx([0.3, 0.3, 0.4])
    assert confusion_of("random_spammer", 4, rng).tolist() == [[0.25] * 4] * 4
    const = confusion_of("constant_spammer", 5, rng)
    assert (const.sum(axis=0) == 5).sum() == 1 and set(const.ravel()) == {0.0, 1.0}
    adv = confusion_of("adversary", 3, rng)
    assert np.diag(adv).tolist() == [0.0] * 3 and adv[0].tolist() == pytest.approx([0, 0.5, 0.5])
    perm = confusion_of("permuter", 6, rng)  # a derangement: a permutation with no fixed point
    assert (perm.sum(axis=0) == 1).all() and (perm.sum(axis=1) == 1).all()
    assert np.diag(perm).sum() == 0
    for kind in ("honest", "random_spammer", "constant_spammer", "adversary", "permuter"):
        assert confusion_of(kind, 4, rng).sum(axis=1) == pytest.approx(np.ones(4))
    with pytest.raises(ValueError, match="unknown worker kind"):
        confusion_of("saboteur", 3, rng)


def test_crowd_ids_and_kinds() -> None:
    ids, confs, kinds = confusion_crowd(
        {"honest": 2, "permuter": 1}, 3, np.random.default_rng(1), skill=(0.6, 0.6)
    )
    assert ids == ["h0000", "h0001", "p0000"] and kinds == ["honest", "honest", "permuter"]
    assert np.diag(confs[0]).tolist() == pytest.approx([0.6] * 3)


def test_answers_follow_the_confusions_and_loads() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 400)
    perfect, const = np.eye(3), np.zeros((3, 3))
    const[:, 2] = 1.0
    confs = [perfect, perfect, const, perfect]
    rows = answers_from_confusions(truth, confs, 2, rng, load=np.array([1, 1, 1, 0.0]))
    assert len(rows) == 800
    per_task = Counter(t for t, _, _ in rows)
    assert set(per_task.values()) == {2}
    assert len({(t, w) for t, w, _ in rows}) == 800  # distinct workers per item
    assert "w0003" not in {w for _, w, _ in rows}  # zero load: never drawn
    for t, w, lab in rows:
        want = "c2" if w == "w0002" else f"c{truth[int(t[1:])]}"
        assert lab == want


def test_mixups_replace_only_honest_mistakes() -> None:
    rng = np.random.default_rng(3)
    truth = np.zeros(300, dtype=int)
    wrong = np.full((3, 3), 0.0)
    wrong[:, 1] = 1.0  # always answers 1 (wrong on class 0)
    mixups = np.full((300, 1), 2)  # item i is easily taken for class 2
    rows = answers_from_confusions(
        truth, [wrong, wrong], 2, rng, ids=["h", "k"], mixups=mixups, honest=[True, False]
    )
    got = Counter((w, lab) for _, w, lab in rows)
    assert got == Counter({("h", "c2"): 300, ("k", "c1"): 300})
