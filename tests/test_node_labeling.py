"""A paid labeling job in the node: escrowed bounty, accuracy-weighted pay through the ledger,
labels flowing back, and labelers sharing later usage of the records they labelled."""

from __future__ import annotations

import random

import pytest

from fairwheel.errors import InsufficientFunds
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet


@pytest.fixture
def labelled(node_factory):
    node = node_factory()
    rows = synthetic_support_queries(48, seed=21)
    labels = sorted({e.label for e in rows})
    pid = node.create_pool(
        "lab", search_price=100_000, predict_price=1, operator_fee_bps=1000,
        builder_share_bps=0, labels=labels, labeler_share_bps=3000,
    )["id"]  # fmt: skip
    contributor = ContributorWallet(node.chain.new_account(), node.consent_domain())
    now = node.chain.now()
    results = node.submit(pid, [contributor.submission(pid, e.text, None, now=now) for e in rows])
    truth = {r.record_id: e.label for r, e in zip(results, rows, strict=True)}
    proto, op = node.protocol, node.operator
    proto.mint(op.address, 50_000, sender=op)
    proto.approve_and_deposit(pid, 50_000, sender=op)
    return node, pid, truth, labels, contributor


def test_job_pays_good_labelers_and_labels_flow_back(labelled) -> None:
    node, pid, truth, labels, contributor = labelled
    rng = random.Random(0)
    items = sorted(truth)[:30]
    gold = {rid: truth[rid] for rid in sorted(truth)[30:40]}
    job = node.open_labeling_job(
        pid, items, labels, overlap=3, budget=30_000, gold=gold, gold_share=0.2, seed=1
    )
    honest = [f"0x{i:040x}" for i in range(1, 5)]
    adversary = "0x" + "e" * 40
    for _ in range(40):
        for worker in [*honest, adversary]:
            tasks = node.take_labeling_tasks(job, worker, 2)
            answers = []
            for t in tasks:
                right = truth[t["record_id"]]
                if worker == adversary:
                    answers.append((t["task_id"], rng.choice([x for x in labels if x != right])))
                else:
                    answers.append((t["task_id"], right))
            node.submit_labels(job, worker, answers)
    result = node.close_labeling_job(job)
    paid = result.payout.paid
    assert paid.get(adversary, 0) == 0 and all(paid[h] > 0 for h in honest)
    assert sum(paid.values()) + result.payout.unspent == 30_000
    confirmed = [int(i) for i, v in result.labels.items() if v.confirmed]
    assert confirmed and all(node.store.record_label(r)["label"] == truth[r] for r in confirmed)
    entry = node.store.ledger(pid)[-1]
    assert entry["kind"] == "labeling" and int(entry["price"]) == sum(paid.values())

    # A later paid search over a labelled record pays its labelers their share.
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**9, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**9, sender=consumer.account)
    voucher, sig = consumer.pay(pid, 100_000)
    out = node.search(pid, node.record_text(confirmed[0]), 3, voucher, sig)
    consumer.confirm(voucher)
    assert any(h in out.attribution for h in honest)
    assert contributor.address.lower() in out.attribution

    report = node.close_epoch(pid)
    assert all(report.earnings[h] >= paid[h] for h in honest)
    assert node.verify_epoch(pid, report.epoch).ok
    # The unspent bounty is still the operator's, in escrow.
    assert node.ledger.escrow_free(pid) == 50_000 - sum(paid.values())


def test_bounty_must_be_escrowed(labelled) -> None:
    node, pid, truth, labels, _ = labelled
    with pytest.raises(InsufficientFunds):
        node.open_labeling_job(pid, sorted(truth)[:5], labels, overlap=2, budget=60_000)
    node.open_labeling_job(pid, sorted(truth)[:5], labels, overlap=2, budget=40_000)
    with pytest.raises(InsufficientFunds):  # the first job's budget is promised already
        node.open_labeling_job(pid, sorted(truth)[5:9], labels, overlap=2, budget=20_000)


def test_only_staked_labelers_take_tasks(labelled) -> None:
    from fairwheel.errors import Conflict

    node, pid, truth, labels, _ = labelled
    job = node.open_labeling_job(
        pid, sorted(truth)[:6], labels, overlap=2, budget=1_000, min_stake=500, seed=3
    )
    labeler = node.chain.new_account()
    with pytest.raises(Conflict, match="staked 0"):
        node.take_labeling_tasks(job, labeler.address, 2)
    node.protocol.mint(labeler.address, 500, sender=node.operator)
    node.protocol.approve_and_stake(pid, 0, 500, sender=labeler)
    tasks = node.take_labeling_tasks(job, labeler.address, 2)
    assert len(tasks) == 2 and all(t["text"] for t in tasks)
