"""MACE, hierarchical Dawid–Skene and the held-out choice between them (``auto``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fairwheel.cli import app
from fairwheel.errors import SchemaError
from fairwheel.labeling.aggregate import Answers, aggregate, dawid_skene
from fairwheel.labeling.mace import fit_mace, hierarchical, mace
from fairwheel.labeling.select import auto, candidates, heldout_loglik, log_conf
from fairwheel.labeling.simulate import answers_from_confusions, confusion_crowd

ROWS = [
    ("t1", "a", "x"),
    ("t1", "b", "x"),
    ("t1", "c", "y"),
    ("t2", "a", "y"),
    ("t2", "b", "y"),
    ("t3", "a", "x"),
    ("t3", "c", "x"),
]


def _sparse_crowd(k: int, seed: int) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = {"honest": 12, "random_spammer": 6, "constant_spammer": 2}
    ids, confs, _ = confusion_crowd(mix, k, rng, skill=(0.6, 0.9))
    truth = rng.integers(0, k, 600)
    load = rng.pareto(1.0, len(ids)) + 0.05
    return answers_from_confusions(truth, confs, 4, rng, load, ids), truth


def _accuracy(agg, truth: np.ndarray) -> float:
    return float(
        np.mean([agg.label_of(i) == f"c{truth[int(t[1:])]}" for i, t in enumerate(agg.tasks)])
    )


def test_one_mace_step_by_hand() -> None:
    """Init, first M-step and E-step of MACE, written out with loops."""
    a = b = 1.0
    xs, pa = 10.0, 0.01
    answers = Answers.from_rows(ROWS)
    fit = fit_mace(answers, max_iter=1, a=a, b=b, spam_smoothing=xs, prior_alpha=pa)
    classes = ["x", "y"]
    tasks = {"t1": [], "t2": [], "t3": []}
    for t, w, lab in ROWS:
        tasks[t].append((w, lab))
    share = {
        t: {c: sum(lab == c for _, lab in v) / len(v) for c in classes} for t, v in tasks.items()
    }
    theta, spam = {}, {}
    for w in "abc":
        mine = [(t, lab) for t, ww, lab in ROWS if ww == w]
        known = [share[t][lab] for t, lab in mine]
        theta[w] = (sum(known) + a) / (len(mine) + a + b)
        raw = {c: sum(1 - share[t][lab] for t, lab in mine if lab == c) + xs for c in classes}
        spam[w] = {c: raw[c] / sum(raw.values()) for c in classes}
    mass = {c: sum(share[t][c] for t in tasks) + pa for c in classes}
    pi = {c: mass[c] / sum(mass.values()) for c in classes}
    for i, got in enumerate(tasks.values()):
        joint = {
            k: pi[k]
            * math.prod(theta[w] * (k == lab) + (1 - theta[w]) * spam[w][lab] for w, lab in got)
            for k in classes
        }
        total = sum(joint.values())
        assert fit.posteriors[i].tolist() == pytest.approx([joint[k] / total for k in classes])
    assert fit.theta.tolist() == pytest.approx([theta[w] for w in "abc"])
    assert fit.spam.ravel().tolist() == pytest.approx([spam[w][c] for w in "abc" for c in classes])


@pytest.mark.parametrize("method", ["mace", "hds"])
def test_objective_never_decreases(method: str) -> None:
    rows, _ = _sparse_crowd(6, 0)
    answers = Answers.from_rows(rows)
    if method == "mace":
        objective = fit_mace(answers, tol=0.0, max_iter=200).objective
    else:
        objective = hierarchical(answers, tol=0.0, max_iter=200).objective
    steps = np.diff(objective)
    assert len(steps) > 10
    assert (steps >= -1e-9 * abs(objective[-1])).all()


def test_mace_finds_spammers_and_its_confusion_is_one_coin() -> None:
    rows, truth = _sparse_crowd(5, 1)
    agg = mace(Answers.from_rows(rows))
    fit = fit_mace(Answers.from_rows(rows))
    assert agg.method == "mace" and agg.converged
    heavy = agg.answers >= 30
    kinds = np.array([w[0] for w in agg.workers])
    assert fit.theta[heavy & (kinds == "s")].max() < 0.2  # random spammers never "know"
    assert fit.theta[heavy & (kinds == "h")].min() > 0.4
    for w in range(len(agg.workers)):
        conf = agg.confusion(w)
        want = fit.theta[w] * np.eye(5) + (1 - fit.theta[w]) * fit.spam[w][None, :]
        assert conf == pytest.approx(want)
        assert agg.accuracy[w] == pytest.approx(float(agg.priors @ np.diag(conf)))
        q = agg.priors @ conf
        assert agg.chance[w] == pytest.approx(float(agg.priors @ q))
    assert _accuracy(agg, truth) > 0.8


def test_hierarchical_between_dawid_skene_and_mace() -> None:
    rows, _ = _sparse_crowd(5, 2)
    answers = Answers.from_rows(rows)
    fit = fit_mace(answers)
    huge = hierarchical(answers, strength=1e7, fit=fit)
    for w in range(len(huge.workers)):  # the prior swamps the data: MACE's confusion
        want = fit.theta[w] * np.eye(5) + (1 - fit.theta[w]) * fit.spam[w][None, :]
        assert huge.confusion(w) == pytest.approx(want, abs=1e-4)
    zero = hierarchical(answers, strength=0.0, fit=fit)
    assert zero.shrink == 0.0 and zero.method == "hds"
    w = int(np.argmax(zero.answers))  # a heavy worker: their own full matrix
    conf = zero.confusion(w)
    assert conf.sum(axis=1) == pytest.approx(np.ones(5))
    assert hierarchical(answers).shrink == 5.0  # default strength K


def test_gold_is_clamped_in_mace_and_hds() -> None:
    answers = Answers.from_rows(ROWS)
    for agg in (mace(answers, gold={"t2": "x"}), hierarchical(answers, gold={"t2": "x"})):
        assert agg.posteriors[1].tolist() == [1.0, 0.0]
        assert agg.gold_answers.tolist() == [1, 1, 0]
        assert agg.gold_correct.tolist() == [0, 0, 0]


def test_log_conf_and_heldout_loglik_by_hand() -> None:
    answers = Answers.from_rows(ROWS)
    ds = dawid_skene(answers, max_iter=3, tol=0.0)
    worker = np.array([0, 1, 2, 0])
    label = np.array([0, 1, 1, 1])
    want = np.stack(
        [np.log(ds.confusion(int(w))[:, lab]) for w, lab in zip(worker, label, strict=True)]
    )
    assert log_conf(ds, worker, label) == pytest.approx(want)
    # task t3 (index 2): answers a: x, c: x.
    c_a, c_c = ds.confusion("a"), ds.confusion("c")
    by_hand = math.log(sum(ds.priors[k] * c_a[k, 0] * c_c[k, 0] for k in range(2)))
    assert heldout_loglik(ds, answers, np.array([2])) == pytest.approx(by_hand)


def test_auto_picks_a_candidate_deterministically() -> None:
    rows, truth = _sparse_crowd(12, 3)
    answers = Answers.from_rows(rows)
    got = auto(answers)
    again = auto(Answers.from_rows(rows))
    assert got.method in ("ds", "hds") and (got.labels == again.labels).all()
    assert (got.method, got.shrink) in candidates(12)
    # Many classes, sparse workers, spammers: the MACE prior wins and beats plain DS.
    assert got.method == "hds"
    assert _accuracy(got, truth) >= _accuracy(dawid_skene(answers), truth)
    assert aggregate(rows, method="auto").labels.tolist() == got.labels.tolist()


def test_auto_with_too_few_tasks_is_dawid_skene() -> None:
    agg = auto(Answers.from_rows(ROWS))
    assert agg.method == "ds"


@pytest.mark.parametrize(
    "bad",
    [
        lambda a: fit_mace(a, a=0.0),
        lambda a: fit_mace(a, spam_smoothing=float("nan")),
        lambda a: fit_mace(a, max_iter=-1),
        lambda a: hierarchical(a, strength=-1.0),
        lambda a: mace(a, gold={"t1": "z"}),
    ],
)
def test_bad_options_are_refused(bad) -> None:
    with pytest.raises(SchemaError):
        bad(Answers.from_rows(ROWS))


@pytest.mark.parametrize("method", [None, "mace", "hds"])
def test_cli_methods(tmp_path: Path, method: str | None) -> None:
    rows, _ = _sparse_crowd(4, 4)
    src = tmp_path / "answers.csv"
    src.write_text("task,worker,label\n" + "".join(f"{t},{w},{lab}\n" for t, w, lab in rows))
    args = ["labels", "aggregate", str(src), "--out", str(tmp_path / "out.csv")]
    args += [] if method is None else ["--method", method]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    shown = "auto" if method is None else method
    assert f"; {shown}, " in result.output
    if method is None:
        assert "(chose " in result.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "task,label,confidence" and len(lines) == 601
