"""The proof-of-contribution gate as the node runs it: verdicts stored, indexed, paid, rebuilt.

Most tests use the named fake embedder; the label and junk checks need a meaningful embedding
space, so ``real_pool`` runs the real model once for the module (tests on it only read).
"""

from __future__ import annotations

import random

import pytest

from fairwheel.errors import BackendError, Conflict
from fairwheel.quality.synthetic import flip_label, junk_text, near_copy
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet


def _pool(node, labels):
    pool = node.create_pool("g", search_price=1000, predict_price=2000, operator_fee_bps=1000,
                            builder_share_bps=2000, labels=labels)  # fmt: skip
    return int(pool["id"])


def _wallets(node, n):
    return [ContributorWallet(node.chain.new_account(), node.consent_domain()) for _ in range(n)]


def _honest(node, pid, wallets, examples):
    now = node.chain.now()
    subs = [
        wallets[i % len(wallets)].submission(pid, e.text, e.label, now=now)
        for i, e in enumerate(examples)
    ]
    return node.submit(pid, subs)


@pytest.fixture
def small(node_factory):
    node = node_factory()
    examples = synthetic_support_queries(60, seed=3)
    pid = _pool(node, sorted({e.label for e in examples}))
    wallets = _wallets(node, 3)
    results = _honest(node, pid, wallets, examples)
    return node, pid, wallets, examples, results


def test_near_copies_of_another_contributor_are_rejected_with_their_owner(small) -> None:
    node, pid, wallets, examples, results = small
    rng = random.Random(1)
    copier = _wallets(node, 1)[0]
    now = node.chain.now()
    owner_ids = [r.record_id for r in results]
    subs = [copier.submission(pid, near_copy(e.text, rng), e.label, now=now) for e in examples[:8]]
    out = node.submit(pid, subs)
    rejected = [o for o in out if o.status == "rejected"]
    assert len(rejected) >= 6
    for o in rejected:
        assert o.reasons[0].startswith("near_duplicate duplicate_of")
        assert o.duplicate_of in owner_ids and o.record_id is None
    # The original owner may resubmit an edited version of their own text.
    own = wallets[0].submission(pid, examples[0].text + " please", examples[0].label, now=now)
    assert node.submit(pid, [own])[0].status == "accepted"


def test_junk_is_rejected_by_the_fixed_rules(small) -> None:
    node, pid, _, _, _ = small
    junker = _wallets(node, 1)[0]
    now = node.chain.now()
    texts = ["aaaaaaaaaaaaaaaaaaaaaa", "!!!! ???? 1234 %%%%", "zzzzzzzzzzzzzzzzzzzzzz"]
    out = node.submit(pid, [junker.submission(pid, t, None, now=now) for t in texts])
    assert [o.status for o in out] == ["rejected"] * 3
    assert all(o.reasons[0].startswith("junk") for o in out)


def test_rate_limits_reject_without_counting_as_evidence(node_factory) -> None:
    node = node_factory(rate_limit_per_hour=3)
    pid = _pool(node, [])
    person = _wallets(node, 1)[0]
    now = node.chain.now()
    subs = [person.submission(pid, f"question number {w} about my card", None, now=now)
            for w in ("one", "two", "three", "four", "five")]  # fmt: skip
    out = node.submit(pid, subs)
    assert [o.status for o in out] == ["accepted"] * 3 + ["rejected"] * 2
    assert out[3].reasons[0].startswith("rate_limited 3 per 3600 s")
    standing = node.reputation(pid, person.address)
    assert standing["submissions"] == 3 and standing["evidence"] == []
    # Rebuilt from the store (as after a restart), the window still holds three submissions.
    node.contributions.gates.clear()
    again = node.submit(pid, [person.submission(pid, "question six about my card", None, now=now)])
    assert again[0].reasons[0].startswith("rate_limited")


def test_gate_state_rebuilt_from_the_store_judges_the_same(small) -> None:
    node, pid, _, examples, _ = small
    copier = _wallets(node, 1)[0]
    now = node.chain.now()
    rng = random.Random(5)
    copies = [copier.submission(pid, near_copy(e.text, rng), e.label, now=now)
              for e in examples[10:40]]  # fmt: skip
    node.submit(pid, copies)
    before = node.reputation(pid, copier.address)
    assert before["flagged"]
    node.contributions.gates.clear()  # what a restart does
    after = node.reputation(pid, copier.address)
    assert {k: before[k] for k in ("submissions", "bad_share", "flagged")} == {
        k: after[k] for k in ("submissions", "bad_share", "flagged")
    }
    # The replayed history holds each record once, with its current status.
    assert [e["record"] for e in after["evidence"]] == sorted(
        {e["record"] for e in before["evidence"]}
    )
    retry = copier.submission(pid, near_copy(examples[50].text, rng), examples[50].label, now=now)
    assert node.submit(pid, [retry])[0].status == "rejected"
    assert copier.address.lower() in node.slash_report(pid)


def test_a_failed_write_leaves_no_trace_and_the_retry_succeeds(small, monkeypatch) -> None:
    node, pid, wallets, _, _ = small
    now = node.chain.now()
    subs = [wallets[0].submission(pid, f"brand new question {w} on fees", None, now=now)
            for w in ("alpha", "beta")]  # fmt: skip
    counts = node.store.status_counts(pid)

    def broken(_blobs):
        raise BackendError("disk full (test)")

    monkeypatch.setattr(node.blobs, "put_many", broken)
    with pytest.raises(BackendError):
        node.submit(pid, subs)
    assert node.store.status_counts(pid) == counts
    assert pid not in node.contributions.gates  # memory is rebuilt from the store, not trusted
    monkeypatch.undo()
    out = node.submit(pid, subs)  # the same signed submissions: nonces were not spent
    assert [o.status for o in out] == ["accepted", "accepted"]


def test_review_pins_a_decision_that_rescoring_keeps(small) -> None:
    node, pid, wallets, _, results = small
    rid = results[0].record_id
    node.anchor(pid)
    change = node.review(rid, release=False, note="reported by a consumer")
    assert (change.before, change.after) == ("accepted", "quarantined")
    assert rid not in node.index(pid).ids()
    assert node.receipt(rid).status == "quarantined"
    assert node.receipt(rid).reasons[0] == "review quarantined: reported by a consumer"
    assert [r["id"] for r in node.review_queue(pid)] == [rid]
    node.rescore(pid)
    assert node.store.record(rid)["status"] == "quarantined"
    node.review(rid, release=True)
    assert rid in node.index(pid).ids()
    node.rescore(pid)
    assert node.store.record(rid)["status"] == "accepted"
    node.revoke(rid, wallets[0].account)  # results[0] came from wallets[0]
    with pytest.raises(Conflict):
        node.review(rid, release=True)


# -- the real model: labels, junk profile, rescoring, payment ----------------------------------


@pytest.fixture(scope="module")
def real_pool(tmp_path_factory):
    """240 honest rows from 4 contributors; label flips sent early (before the pool can judge
    labels) and late; junk and word salad; then a paid search."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    home = tmp_path_factory.mktemp("real")
    node = Node.open(load_settings(home=home, chain_url="embedded://",
                                   embedder_url="minilm://onnx"))  # fmt: skip
    rng = random.Random(4)
    examples = synthetic_support_queries(300, seed=21)
    labels = sorted({e.label for e in examples})
    pid = _pool(node, labels)
    honest = _wallets(node, 4)
    flipper, junker = _wallets(node, 2)
    now = node.chain.now()
    fresh, examples = examples[:24], examples[24:]
    flips = [flipper.submission(pid, e.text, flip_label(e.label, labels, rng), now=now)
             for e in fresh]  # fmt: skip
    early = node.submit(pid, [*flips[:6], *[
        honest[i % 4].submission(pid, e.text, e.label, now=now) for i, e in enumerate(examples[:30])
    ]])  # fmt: skip
    _honest(node, pid, honest, examples[30:])
    late = node.submit(pid, flips[6:])
    vocabulary = sorted({w for e in examples for w in e.text.lower().split()})
    junk = node.submit(pid, [junker.submission(pid, junk_text(rng, vocabulary), labels[0], now=now)
                             for _ in range(16)])  # fmt: skip
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    proto = node.protocol
    proto.mint(consumer.address, 10**9, sender=node.operator)
    proto.approve(proto.addresses["UsageEscrow"], 10**9, sender=consumer.account)
    proto.deposit(pid, 10**9, sender=consumer.account)
    yield {"node": node, "pid": pid, "early": early[:6], "late": late, "junk": junk,
           "flipper": flipper, "junker": junker, "consumer": consumer, "fresh": fresh}  # fmt: skip
    node.close()


@pytest.mark.model
def test_label_flips_end_quarantined_even_when_accepted_early(real_pool) -> None:
    node = real_pool["node"]
    early, late = real_pool["early"], real_pool["late"]
    # The pool was too small to judge labels when the first flips arrived.
    assert all(r.status == "accepted" for r in early)
    assert all("label unchecked" in " ".join(r.reasons) for r in early)
    ids = [r.record_id for r in early + late if r.record_id is not None]
    now = node.store.records_by_ids(ids)
    # Once flagged, the flipper is held to 10 submissions an hour: the rest bounce.
    limited = [r for r in late if r.record_id is None]
    assert limited and all(r.reasons[0].startswith("rate_limited 10") for r in limited)
    assert all(now[i]["status"] == "quarantined" for i in ids), [now[i]["reasons"] for i in ids]
    assert all(any(x.startswith("label_issue") for x in now[i]["reasons"]) for i in ids), [
        now[i]["reasons"] for i in ids
    ]
    standing = node.reputation(real_pool["pid"], real_pool["flipper"].address)
    assert standing["flagged"] and len(standing["evidence"]) >= len(ids)


@pytest.mark.model
def test_junk_and_word_salad_are_rejected_or_quarantined(real_pool) -> None:
    node = real_pool["node"]
    ids = [r.record_id for r in real_pool["junk"] if r.record_id is not None]
    now = node.store.records_by_ids(ids)
    assert all(now[i]["status"] == "quarantined" for i in ids)
    assert all(r.status != "accepted" or now[r.record_id]["status"] == "quarantined"
               for r in real_pool["junk"])  # fmt: skip


@pytest.mark.model
def test_quarantined_records_are_never_served_nor_paid(real_pool) -> None:
    node, pid, consumer = real_pool["node"], real_pool["pid"], real_pool["consumer"]
    bad = {r.record_id for r in real_pool["early"] + real_pool["late"] + real_pool["junk"]}
    assert not bad & set(node.index(pid).ids())
    for e in real_pool["fresh"][:4]:  # the flipped rows' own texts: the nearest content there is
        voucher, sig = consumer.pay(pid, node.price_of(pid, "search"))
        res = node.search(pid, e.text, 5, voucher, sig)
        consumer.confirm(voucher)
        assert res.hits and not {h.record_id for h in res.hits} & bad
    entries = node.store.open_ledger(pid)
    paid_to = {addr for e in entries for addr, _ in e["attribution"]}
    assert real_pool["flipper"].address.lower() not in paid_to
    assert real_pool["junker"].address.lower() not in paid_to


@pytest.mark.model
def test_receipts_and_results_carry_scores_and_reasons(real_pool) -> None:
    node, pid = real_pool["node"], real_pool["pid"]
    receipts = node.anchor(pid)
    assert receipts and all(r.status == "accepted" for r in receipts)
    assert all(0.0 < r.score <= 1.0 for r in receipts)
    assert all(any("label" in x for x in r.reasons) for r in receipts)
    quarantined = real_pool["late"][0].record_id
    with pytest.raises(Conflict, match="quarantined"):
        node.receipt(quarantined)  # quarantined records are kept but not anchored
