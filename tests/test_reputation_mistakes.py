"""Honest mistakes are not attacks (issue #18): a file the pool cannot take as it is — labels it
does not know, cells too short or too large — neither flags its uploader nor uses up their hour;
copies, near copies, junk and label issues still flag, and mistakes cannot dilute them.
"""

from __future__ import annotations

from typing import Any

from fairwheel.domain.records import GateDecision, RecordStatus
from fairwheel.quality import gate
from fairwheel.quality.review import (
    HONEST_MISTAKES,
    ContributorReputation,
    ReputationPolicy,
    is_honest_mistake,
)
from tests.contributor_support import new_contributor

OK = GateDecision(RecordStatus.ACCEPTED, 0.5, ("novelty 0.5",))
UNKNOWN_LABEL = gate._reject(gate.RejectReason.UNKNOWN_LABEL, "'x'")
COPY = gate._reject(gate.RejectReason.DUPLICATE, "duplicate_of 1", 1)


def test_the_schema_steps_reasons_are_the_honest_mistakes() -> None:
    policy = gate.GatePolicy(labels=frozenset({"a"}), max_bytes=10)
    made = set()
    for text, label in (("ok text", "zzz"), ("x", "a"), ("far too long a text", "a"),
                        (3, "a")):  # fmt: skip
        decision = gate.check_schema(gate.Submission(text, label, None, b""), policy)  # type: ignore[arg-type]
        assert decision is not None and is_honest_mistake(decision), (text, label)
        made.add(decision.reasons[0].split()[0])
    assert made == set(HONEST_MISTAKES)
    for attack in (COPY, gate._reject(gate.QualityReason.JUNK, "z 9"),
                   gate._reject(gate.QualityReason.NEAR_DUPLICATE, "duplicate_of 2")):  # fmt: skip
        assert not is_honest_mistake(attack)
    quarantined = GateDecision(RecordStatus.QUARANTINED, 0.0, ("unknown_label oddly",))
    assert not is_honest_mistake(quarantined)  # only a rejection is a mistake


def test_mistakes_neither_flag_nor_dilute_the_bad_share() -> None:
    rep = ContributorReputation(ReputationPolicy(min_bad_records=10))
    for t in range(200):
        assert rep.check("0xA", t) is None
        rep.observe("0xA", UNKNOWN_LABEL, record=t, now=t)
    assert rep.shares("0xA") == (0, 0.0, 0.0) and rep.mistakes("0xA") == 200
    assert not rep.is_flagged("0xA") and rep.evidence("0xA") == []
    # An attacker who pads with mistakes is judged on the copies alone.
    for t in range(200, 210):
        rep.observe("0xA", COPY, record=t, now=t)
    assert rep.shares("0xA")[:2] == (10, 1.0) and rep.is_flagged("0xA")


def test_mistakes_are_refunded_from_the_window_up_to_the_limit() -> None:
    rep = ContributorReputation(ReputationPolicy(window_s=60, max_per_window=3))
    for t in range(6):  # three refunded, the next three count
        assert rep.check("0xB", t) is None
        rep.observe("0xB", UNKNOWN_LABEL, record=t, now=t)
    assert rep.remaining("0xB", 6) == 0
    limited = rep.check("0xB", 6)
    assert limited is not None and limited.reasons[0].startswith("rate_limited 3 per 60 s")
    assert rep.remaining("0xB", 70) == 3  # the window moved on
    # A reputation rebuilt from the same history (replay) gives the same answer.
    again = ContributorReputation(rep.policy)
    for t in range(6):
        again.replay("0xB", UNKNOWN_LABEL, record=t, now=t)
    assert again.remaining("0xB", 6) == 0 and again.mistakes("0xB") == 6


def test_copy_of_leaves_the_original_alone() -> None:
    rep = ContributorReputation()
    rep.observe("0xC", COPY, record=1, now=1)
    twin = rep.copy_of("0xC")
    for t in range(2, 20):
        twin.check("0xC", t)
        twin.observe("0xC", COPY, record=t, now=t)
    assert twin.is_flagged("0xC") and not rep.is_flagged("0xC")
    assert rep.shares("0xC") == (1, 1.0, 0.0) and len(rep.evidence("0xC")) == 1
    assert rep.copy_of("0xD").shares("0xD") == (0, 0.0, 0.0) and rep.flagged() == set()


# ------------------------------------------------------------------------------ on the node


def test_a_file_with_unknown_labels_then_the_fixed_file(seeded: Any) -> None:
    node, pid, examples = seeded
    me = new_contributor(node)
    now = node.onchain.now()
    wrong = [me.submission(pid, f"{e.text} (copy {i})", "Label From Another Pool", now=now)
             for i, e in enumerate(examples * 3)][:200]  # fmt: skip
    out = node.submit(pid, wrong)
    assert {(r.status, r.reasons[0].split()[0]) for r in out} == {("rejected", "unknown_label")}
    fixed = node.submit(pid, [me.submission(pid, e.text, e.label, now=now)
                              for e in examples[60:80]])  # fmt: skip
    assert [r.status for r in fixed] == ["accepted"] * 20, [r.reasons[0] for r in fixed]
    standing = node.reputation(pid, me.address)
    assert not standing["flagged"]
    # The only evidence is loose near matches among the good rows (accepted): no mistake.
    assert all(e["status"] == "accepted" for e in standing["evidence"])
    assert standing["submissions"] == 20 and standing["bad_share"] == 0.0
    assert me.address.lower() not in node.slash_report(pid)
    # Rebuilt from the store, as after a restart: the same standing.
    node.contributions.gates.clear()
    keys = ("submissions", "bad_share", "suspect_share", "flagged")
    again = node.reputation(pid, me.address)
    assert {k: again[k] for k in keys} == {k: standing[k] for k in keys}
    assert node.pool_gate(pid).reputation.mistakes(me.address) == 200


def test_copies_of_others_records_still_flag(seeded: Any) -> None:
    node, pid, examples = seeded
    copier = new_contributor(node)
    now = node.onchain.now()
    out = node.submit(pid, [copier.submission(pid, e.text, e.label, now=now)
                            for e in examples[:60]])  # fmt: skip
    assert all(r.status == "rejected" for r in out)
    assert node.reputation(pid, copier.address)["flagged"]
    assert copier.address.lower() in node.slash_report(pid)
    assert any(r.reasons[0].startswith("rate_limited") for r in out)  # flagged: 10 per hour


def test_mistakes_do_not_use_up_the_hour(node_factory: Any) -> None:
    node = node_factory(rate_limit_per_hour=50)
    pool = node.create_pool("p", search_price=1, predict_price=1, operator_fee_bps=0,
                            builder_share_bps=0, labels=["a"])  # fmt: skip
    pid = int(pool["id"])
    me = new_contributor(node)
    now = node.onchain.now()
    wrong = node.submit(pid, [me.submission(pid, f"question number {i} about my card", "b",
                                            now=now) for i in range(50)])  # fmt: skip
    assert {r.reasons[0].split()[0] for r in wrong} == {"unknown_label"}
    fixed = node.submit(pid, [me.submission(pid, f"question number {i} about my card", "a",
                                            now=now) for i in range(50)])  # fmt: skip
    assert [r.status for r in fixed] == ["accepted"] * 50
    over = node.submit(pid, [me.submission(pid, "one question too many today", "a", now=now)])
    assert over[0].reasons[0].startswith("rate_limited 50 per 3600 s")
