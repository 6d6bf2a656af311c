"""The content steps of the gate, rescoring as the pool grows, and contributor reputation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fairwheel.domain.records import GateDecision, RecordStatus, Submission
from fairwheel.embed import FakeHashEmbedder
from fairwheel.quality import gate
from fairwheel.quality.label_issues import LabelPolicy
from fairwheel.quality.near_duplicate import NearDuplicateFinder
from fairwheel.quality.review import (
    ContributorReputation,
    PoolRecord,
    ReputationPolicy,
    build_pool_quality,
    needs_refresh,
    rescore_pool,
    suspect_of,
)
from fairwheel.sim.data import synthetic_support_queries

EMB = FakeHashEmbedder(384)
POLICY = dataclasses.replace(gate.GatePolicy(), label=LabelPolicy(min_per_class=20))


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    examples = synthetic_support_queries(300, seed=4)
    texts = [e.text for e in examples]
    labels = [e.label for e in examples]
    vectors = EMB.embed(texts)
    return texts, labels, vectors, build_pool_quality(texts, labels, vectors, POLICY)


def sub(text: str, label: str | None = None) -> Submission:
    return Submission(text, label, None, b"")


def judge(text: str, label: str | None, snapshot, finder=None, flagged=False):  # type: ignore[no-untyped-def]
    vector = EMB.embed([text])[0]
    match = finder.find(text, vector, owner="0xnew") if finder is not None else None
    return gate.judge_content(
        sub(text, label), vector, POLICY, match, 0.4, snapshot, contributor_flagged=flagged
    )


def test_strict_copy_is_rejected_loose_one_is_suspect(pool) -> None:  # type: ignore[no-untyped-def]
    texts, labels, vectors, snapshot = pool
    finder = NearDuplicateFinder(dim=384)
    for i, (t, v) in enumerate(zip(texts, vectors, strict=True)):
        finder.add(100 + i, t, v, owner="0xhonest")
    v = judge(texts[0].upper() + " thanks", labels[0], snapshot, finder)
    assert v.decision.status is RecordStatus.REJECTED
    assert v.decision.duplicate_of == 100
    assert v.decision.reasons[0].startswith("near_duplicate duplicate_of 100")
    loose = texts[1] + " please help asap"
    v = judge(loose, labels[1], snapshot, finder)
    assert v.decision.status is RecordStatus.ACCEPTED and v.suspect is not None
    assert any(r.startswith("near_duplicate_suspect duplicate_of 101") for r in v.decision.reasons)
    v = judge(loose, labels[1], snapshot, finder, flagged=True)
    assert v.decision.status is RecordStatus.QUARANTINED
    assert v.decision.reasons[0].endswith("contributor flagged")


def test_junk_is_rejected_even_without_a_pool(pool) -> None:  # type: ignore[no-untyped-def]
    _, _, _, snapshot = pool
    for snap in (None, snapshot):
        v = judge("$$$ 1234 !!! ###", None, snap)
        assert v.decision.status is RecordStatus.REJECTED
        assert v.decision.reasons[0].startswith("junk ")
    v = judge("Wo ist meine Karte? Ich warte seit einer Woche.", None, snapshot)
    assert v.decision.status is RecordStatus.REJECTED
    assert v.decision.reasons[0].startswith("wrong_language ")


def test_wrong_label_is_quarantined_right_one_accepted(pool) -> None:  # type: ignore[no-untyped-def]
    texts, labels, _, snapshot = pool
    text = texts[labels.index("card_lost")]  # resubmitted text: the test is about the label
    v = judge(text, "exchange_rate", snapshot)
    assert v.decision.status is RecordStatus.QUARANTINED
    assert v.decision.reasons[0].startswith("label_issue ") and v.label_issue_score > 0.5
    v = judge(text, "card_lost", snapshot)
    assert v.decision.status is RecordStatus.ACCEPTED
    assert 0.0 <= v.decision.score <= 1.0
    assert any(r.startswith("label_issue_score") for r in v.decision.reasons)


def test_quality_score_spans_zero_to_one() -> None:
    assert gate.GatePolicy().near_duplicate_cosine == 0.995
    assert gate.quality_score(1.0, "one two three four five six", 0.0, 0.0) == 1.0
    assert gate.quality_score(0.0, "", 1.0, 1.0) == 0.0


def test_rescoring_quarantines_late_evidence_and_keeps_pins(pool) -> None:  # type: ignore[no-untyped-def]
    texts, labels, vectors, _ = pool
    noisy = list(labels)
    flipped = [5, 50, 120]
    for i in flipped:
        noisy[i] = next(x for x in sorted(set(labels)) if x != labels[i])
    records = [
        PoolRecord(i, t, lab, f"0x{i % 7}")
        for i, (t, lab) in enumerate(zip(texts, noisy, strict=True))
    ]
    # An exact copy that slipped in while its original was quarantined, and a pinned record.
    records.append(PoolRecord(300, texts[10].upper(), labels[10], "0xcopier"))
    records[120] = dataclasses.replace(records[120], pinned=True)
    all_vectors = np.vstack([vectors, vectors[10:11]])
    result = rescore_pool(records, all_vectors, POLICY)
    status = {v.key: v.status for v in result.verdicts}
    assert status[5] is RecordStatus.QUARANTINED and status[50] is RecordStatus.QUARANTINED
    assert status[120] is RecordStatus.ACCEPTED  # pinned by review
    assert status[300] is RecordStatus.QUARANTINED
    assert result.verdicts[-1].reasons[0] == "duplicate duplicate_of 10"
    accepted = sum(s is RecordStatus.ACCEPTED for s in status.values())
    assert accepted >= len(records) - 8
    assert result.pool.labels is not None and result.pool.profile is not None
    changed = result.changes(records)
    assert {v.key for v in changed} >= {5, 50, 300}


def test_rescoring_catches_a_near_copy_of_a_record_it_releases(pool) -> None:  # type: ignore[no-untyped-def]
    """A typo'd copy accepted while its original sat in quarantine is quarantined once the
    original is released; copies of records that stood all along are the gate's business."""
    texts, labels, vectors, _ = pool
    records = [PoolRecord(i, t, lab, f"0x{i % 7}")
               for i, (t, lab) in enumerate(zip(texts, labels, strict=True))]  # fmt: skip
    records[10] = dataclasses.replace(records[10], status=RecordStatus.QUARANTINED)
    copy = texts[10].replace(" ", "  ", 1) + " thanks"
    records.append(PoolRecord(300, copy, labels[10], "0xcopier"))
    all_vectors = np.vstack([vectors, EMB.embed([copy])])
    verdicts = {v.key: v for v in rescore_pool(records, all_vectors, POLICY).verdicts}
    assert verdicts[10].status is RecordStatus.ACCEPTED  # released: nothing wrong with it
    assert verdicts[300].status is RecordStatus.QUARANTINED
    assert verdicts[300].reasons[0].startswith("near_duplicate duplicate_of 10")
    # The same copy of a record that stood when the gate judged the copy: not re-examined.
    records[10] = dataclasses.replace(records[10], status=RecordStatus.ACCEPTED)
    verdicts = {v.key: v for v in rescore_pool(records, all_vectors, POLICY).verdicts}
    assert verdicts[300].status is RecordStatus.ACCEPTED


def test_reputation_rate_limits_and_flags() -> None:
    rep = ContributorReputation(ReputationPolicy(window_s=60, max_per_window=3,
                                                 limited_per_window=1, min_records=4,
                                                 min_bad_records=4))  # fmt: skip
    ok = GateDecision(RecordStatus.ACCEPTED, 0.5, ("novelty 0.5",))
    bad = gate._reject(gate.QualityReason.JUNK, "z_char 9")
    assert all(rep.check("0xA", t) is None for t in (0, 1, 2))
    limited = rep.check("0xA", 3)
    assert limited is not None and limited.reasons[0].startswith("rate_limited 3 per 60 s")
    assert rep.check("0xA", 61) is None  # the window moved on
    for t in range(4):
        rep.observe("0xB", bad if t else ok, record=t, now=t)
    rep.observe("0xB", limited, now=5)  # rate-limit rejections are not evidence
    assert rep.shares("0xb") == (4, 0.75, 0.0)
    assert rep.is_flagged("0xB") and rep.flagged() == {"0xb"}
    assert [e.record for e in rep.evidence("0xB")] == [1, 2, 3]
    assert rep.check("0xB", 100) is None
    assert rep.check("0xB", 101) is not None  # flagged: one per window
    report = rep.slash_report()
    assert report["0xb"]["bad_share"] == 0.75 and len(report["0xb"]["evidence"]) == 3  # type: ignore[arg-type]
    rep.revise("0xB", RecordStatus.QUARANTINED, RecordStatus.ACCEPTED)
    assert rep.shares("0xB")[1] == 0.5


def test_suspects_count_towards_the_copier_flag() -> None:
    rep = ContributorReputation(ReputationPolicy(min_records=5))
    ok = GateDecision(RecordStatus.ACCEPTED, 0.5, ("novelty 0.5",))
    for t in range(5):
        rep.observe("0xC", ok, record=t, now=t, suspect=t < 3)
    assert rep.shares("0xC") == (5, 0.0, 0.6) and rep.is_flagged("0xC")


def test_helpers() -> None:
    assert needs_refresh(0, 60) and not needs_refresh(1000, 1200) and needs_refresh(1000, 1250)
    assert not needs_refresh(10_000, 11_000) and needs_refresh(10_000, 12_500)
    assert needs_refresh(10_000, 11_000, every=1000) and not needs_refresh(100, 100)
    assert suspect_of(["novelty 0.1", "near_duplicate_suspect duplicate_of 42 dropped 1"]) == "42"
    assert suspect_of(["novelty 0.1"]) is None
