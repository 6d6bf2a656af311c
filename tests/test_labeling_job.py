"""A labeling job end to end: open, take, submit (validated), close, pay, persist."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fairwheel.errors import Conflict, InvalidInput, NotFound, SchemaError
from fairwheel.labeling.job import LabelingJob
from fairwheel.labeling.simulate import Labeler, answer, crowd

LABELS = ["cat", "dog", "fox"]


def _open(**overrides) -> tuple[LabelingJob, dict[str, int]]:
    rng = np.random.default_rng(0)
    truth = {f"rec{i:03d}": int(rng.integers(3)) for i in range(150)}
    gold = {f"gold{i:02d}": LABELS[int(rng.integers(3))] for i in range(20)}
    args = {
        "overlap": 3,
        "budget": 10**20,
        "gold": gold,
        "gold_share": 0.1,
        "seed": 42,
    } | overrides
    job = LabelingJob.open("job-1", list(truth), LABELS, **args)
    truth |= {g: LABELS.index(lab) for g, lab in gold.items()}
    return job, truth


def _work(job: LabelingJob, truth: dict[str, int], labelers: list[Labeler], seed: int) -> None:
    rng = np.random.default_rng(seed)
    busy = True
    while busy:
        busy = False
        for who in labelers:
            for task in job.take(who.id, 3):
                busy = True
                job.submit(who.id, task.task_id, LABELS[answer(who, truth[task.item], 3, rng)])


def test_a_job_labels_pays_and_slashes() -> None:
    job, truth = _open()
    labelers = crowd(8, 0, 2, np.random.default_rng(1), skill=(0.8, 0.95))
    _work(job, truth, labelers, seed=2)
    result = job.close()
    assert job.status == "closed" and result.unlabelled == []
    correct = [result.labels[i].label == LABELS[truth[i]] for i in result.labels]
    assert len(result.labels) == 150 and np.mean(correct) > 0.85
    assert not any(g in result.labels for g in job.config["gold"])
    payout = result.payout
    assert sum(payout.paid.values()) + payout.unspent == 10**20
    for who in labelers:
        report = result.workers[who.id]
        if who.bad:  # adversaries: informative to DS, but never paid
            assert report.paid == 0 and report.slashed and report.kappa < 0
        else:
            assert report.paid > 0 and not report.slashed
            assert report.gold_answers > 0
            assert report.combined_accuracy == pytest.approx(who.skill, abs=0.12)
    slashes = {s.worker: s for s in payout.slashes}
    assert set(slashes) == {w.id for w in labelers if w.bad}
    ev = next(iter(slashes.values())).evidence
    assert ev["job"] == "job-1" and ev["gold_answers"] > 0 and len(ev["answers_sha256"]) == 64
    for item, shares in result.credit.items():
        assert sum(shares.values()) == pytest.approx(1.0)
        assert all(not w.startswith("a") for w in shares)
        assert item in result.labels
    confirmed = [v for v in result.labels.values() if v.confirmed]
    assert all(v.confidence >= 0.9 for v in confirmed) and len(confirmed) > 100


def test_submissions_are_validated() -> None:
    job, _truth = _open()
    (task,) = job.take("alice", 1)
    with pytest.raises(NotFound):
        job.submit("alice", "no-such-task", "cat")
    with pytest.raises(InvalidInput, match="not assigned"):
        job.submit("bob", task.task_id, "cat")
    with pytest.raises(SchemaError):
        job.submit("alice", task.task_id, "zebra")
    job.submit("alice", task.task_id, "cat")
    with pytest.raises(Conflict, match="already answered"):
        job.submit("alice", task.task_id, "dog")
    job.close()
    with pytest.raises(Conflict, match="closed"):
        job.take("alice")
    with pytest.raises(Conflict):
        job.close()


def test_task_ids_do_not_mark_gold() -> None:
    job, _ = _open(gold_share=0.5)
    a = {t.item: t.task_id for t in job.take("a", 40)}
    b = {t.item: t.task_id for t in job.take("b", 40)}
    shared = set(a) & set(b)
    assert shared and all(a[i] != b[i] for i in shared)  # unlinkable across labelers
    assert any(i.startswith("gold") for i in a)
    assert {len(t) for t in a.values()} == {32}


def test_state_round_trips_through_json_mid_job_and_closed() -> None:
    job, truth = _open()
    labelers = crowd(5, 1, 0, np.random.default_rng(3))
    _work(job, truth, labelers[:3], seed=4)
    saved = json.loads(json.dumps(job.to_dict()))
    again = LabelingJob.from_dict(saved)
    assert again.to_dict() == job.to_dict()
    assert again.take("late", 5) == job.take("late", 5)
    _work(job, truth, labelers, seed=5)
    _work(again, truth, labelers, seed=5)
    assert again.close() == job.close()
    closed = LabelingJob.from_dict(json.loads(json.dumps(job.to_dict())))
    assert closed.result == job.result and closed.status == "closed"
    with pytest.raises(SchemaError):
        LabelingJob.from_dict({"format": "other"})


def test_pending_and_release() -> None:
    job, _ = _open(gold={}, gold_share=0.0, overlap=1)
    tasks = job.take("slow", 2)
    assert job.pending("slow") == tasks
    job.release(tasks[0].task_id)
    assert job.pending("slow") == tasks[1:]
    assert tasks[0].item in [t.item for t in job.take("fast", 200)]
    with pytest.raises(NotFound):
        job.release(tasks[0].task_id)


def test_empty_job_returns_the_budget() -> None:
    job, _ = _open()
    result = job.close()
    assert result.payout.unspent == 10**20 and result.payout.paid == {}
    assert len(result.unlabelled) == 150


def test_rate_is_the_budget_over_planned_answers() -> None:
    job, _ = _open(budget=3_334_000)
    # 150 items x 3 = 450 real answers, + ceil(450 * 0.1 / 0.9) = 50 gold.
    assert job.rate == 3_334_000 // 500


@pytest.mark.parametrize(
    "bad",
    [
        {"labels": ["only"]},
        {"labels": ["a", "a"]},
        {"gold": {"g": "zebra"}},
        {"budget": -1},
        {"method": "em"},
        {"min_kappa": 1.5},
        {"overlap": 0},
    ],
)
def test_bad_jobs_are_refused(bad: dict) -> None:
    args = {"overlap": 2, "budget": 100} | bad
    labels = args.pop("labels", LABELS)
    with pytest.raises(SchemaError):
        LabelingJob.open("j", ["x", "y"], labels, **args)
