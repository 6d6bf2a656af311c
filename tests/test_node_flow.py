"""One flywheel turn through the node on the embedded chain and the real contracts.

The embedder here is the named fake (``fake-hash://``) so the flow runs in
seconds; tests/test_demo.py runs the same turn with the real model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fairwheel.errors import InsufficientFunds, ReplayError, SignatureError
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

PRICE_SEARCH = 1_000_003
PRICE_PREDICT = 2_000_011


@pytest.fixture
def turn(node_factory):
    """A node with a pool, 4 contributors' records anchored and a model trained."""
    node = node_factory()
    examples = synthetic_support_queries(96, seed=11)
    pool = node.create_pool(
        "t", search_price=PRICE_SEARCH, predict_price=PRICE_PREDICT, operator_fee_bps=1000,
        builder_share_bps=2000, labels=sorted({e.label for e in examples}),
    )  # fmt: skip
    pid = pool["id"]
    people = [node.chain.new_account() for _ in range(4)]
    wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
    now = node.chain.now()
    subs = [
        wallets[i % 4].submission(pid, e.text, e.label, now=now) for i, e in enumerate(examples)
    ]
    results = node.submit(pid, subs)
    receipts = node.anchor(pid)
    builder = node.chain.new_account()
    node.train(pid, builder.address)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    proto = node.protocol
    proto.mint(consumer.address, 10**12, sender=node.operator)
    proto.approve(proto.addresses["UsageEscrow"], 10**12, sender=consumer.account)
    proto.deposit(pid, 10**9, sender=consumer.account)
    return {"node": node, "pid": pid, "people": people, "wallets": wallets, "subs": subs,
            "results": results, "receipts": receipts, "builder": builder, "consumer": consumer,
            "examples": examples}  # fmt: skip


def test_every_receipt_verifies_in_the_contract(turn) -> None:
    node, receipts = turn["node"], turn["receipts"]
    accepted = [r for r in turn["results"] if r.status == "accepted"]
    assert len(receipts) == len(accepted) > 80
    assert all(node.verify_receipt(r) for r in receipts)
    forged = replace(receipts[0], contributor=turn["people"][1].address)
    assert not node.verify_receipt(forged)


def test_forged_and_replayed_consent_are_refused_with_reasons(turn) -> None:
    node, pid, wallets = turn["node"], turn["pid"], turn["wallets"]
    now = node.chain.now()
    honest = wallets[0].submission(pid, "a brand new question about my card", "card_lost", now=now)
    forged = wallets[1].submission(
        pid, "another new one about transfers", "transfer_failed", now=now
    )
    forged = replace(forged, consent=replace(forged.consent, contributor=wallets[0].address))
    tampered = replace(honest, text="a different text under the same consent")
    out = node.submit(pid, [forged, tampered, honest, honest])
    assert [o.status for o in out] == ["rejected", "rejected", "accepted", "rejected"]
    assert out[0].reasons[0].startswith("bad_signature")
    assert out[1].reasons[0].startswith("consent_mismatch")
    assert out[3].reasons[0].startswith("consent_replayed")


def test_first_submitter_owns_content_and_copies_are_rejected(turn) -> None:
    node, pid, wallets, subs = turn["node"], turn["pid"], turn["wallets"], turn["subs"]
    now = node.chain.now()
    original = subs[0]
    copy = wallets[3].submission(pid, "  " + original.text.upper(), original.label, now=now)
    (result,) = node.submit(pid, [copy])
    assert result.status == "rejected" and result.reasons[0].startswith("duplicate")
    assert result.duplicate_of == turn["results"][0].record_id


def test_paid_calls_refuse_forged_replayed_and_uncovered_vouchers(turn) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    stranger = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    _, forged_sig = stranger.pay(pid, PRICE_SEARCH)
    with pytest.raises(SignatureError):
        node.search(pid, "lost card", 3, voucher, forged_sig)
    node.search(pid, "lost card", 3, voucher, sig)
    consumer.confirm(voucher)
    with pytest.raises(ReplayError):
        node.search(pid, "lost card", 3, voucher, sig)
    greedy, greedy_sig = consumer.pay(pid, 10**10)  # more than the escrow holds
    with pytest.raises(InsufficientFunds):
        node.search(pid, "lost card", 3, greedy, greedy_sig)
    assert len(node.store.ledger(pid)) == 1  # refused calls leave nothing behind


def test_epoch_conserves_tokens_and_claims_verify_on_chain(turn) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    proto = node.protocol
    for i, e in enumerate(turn["examples"][:12]):
        kind = "search" if i % 2 else "predict"
        voucher, sig = consumer.pay(pid, node.price_of(pid, kind))
        if kind == "search":
            node.search(pid, e.text, 4, voucher, sig)
        else:
            node.predict(pid, e.text, voucher, sig)
        consumer.confirm(voucher)
    op_before = proto.token_balance(node.operator.address)
    report = node.close_epoch(pid)
    ledger = node.store.ledger(pid)
    paid = sum(int(e["price"]) for e in ledger)
    fees = sum(int(e["operator_fee"]) for e in ledger)
    assert report.paid == paid == proto.redeemed(pid, consumer.address)
    assert report.total == sum(report.earnings.values()) == proto.funded(pid)
    # Redemptions paid the operator; funding the root took the earnings back out.
    assert op_before == 0
    assert proto.token_balance(node.operator.address) == fees + report.dust
    assert node.verify_epoch(pid, report.epoch).ok

    node.chain.advance_time(node.settings.activation_delay + 1)
    claimed = 0
    for account in [*turn["people"], turn["builder"]]:
        if report.earnings.get(account.address.lower()):
            before = proto.token_balance(account.address)
            # A third party (the operator) sends the claim; the leaf's account is paid.
            paid_out = node.claim(pid, account.address, sender=node.operator)
            assert proto.token_balance(account.address) - before == paid_out
            claimed += paid_out
    assert claimed == report.total == proto.total_claimed(pid)
    assert paid == claimed + fees + report.dust  # nothing unclaimed is left


def test_tampered_epoch_file_fails_verification(turn, tmp_path) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    for _ in range(3):
        voucher, sig = consumer.pay(pid, PRICE_SEARCH)
        node.search(pid, "my transfer failed", 3, voucher, sig)
        consumer.confirm(voucher)
    report = node.close_epoch(pid)
    lines = Path(report.file_path).read_text().splitlines()
    leaf_at = next(i for i, line in enumerate(lines) if '"leaf"' in line)
    leaf = json.loads(lines[leaf_at])
    leaf["cumulative"] = str(int(leaf["cumulative"]) + 1)
    lines[leaf_at] = json.dumps(leaf, sort_keys=True)
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    verdict = node.verify_epoch(pid, report.epoch, bad)
    assert not verdict.ok and "leaf amounts" in (verdict.problem or "")


def test_revoked_record_is_not_served_and_loses_its_content(turn) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    query = turn["examples"][0].text
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    top = node.search(pid, query, 3, voucher, sig).hits[0]
    consumer.confirm(voucher)
    owner = next(p for p in turn["people"] if p.address.lower() == top.contributor)
    node.revoke(top.record_id, owner)
    assert node.protocol.is_revoked(pid, node.store.record(top.record_id)["record_hash"])
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    after = node.search(pid, query, 3, voucher, sig)
    assert top.record_id not in {h.record_id for h in after.hits}
    from fairwheel.errors import NotFound

    with pytest.raises(NotFound):
        node.record_text(top.record_id)


def test_revoked_and_rejected_records_never_earn(node_factory) -> None:
    node = node_factory()
    pid = node.create_pool(
        "solo", search_price=1_000, predict_price=1_000, operator_fee_bps=0, builder_share_bps=0
    )["id"]
    domain = node.consent_domain()
    honest, lone, copier = (ContributorWallet(node.chain.new_account(), domain) for _ in range(3))
    now = node.chain.now()
    texts = [e.text for e in synthetic_support_queries(20, seed=3)]
    subs = [honest.submission(pid, t, None, now=now) for t in texts]
    subs.append(lone.submission(pid, "my card was swallowed by the cash machine", None, now=now))
    subs.append(copier.submission(pid, texts[0].upper(), None, now=now))  # rejected copy
    results = node.submit(pid, subs)
    assert results[-1].status == "rejected"
    node.anchor(pid)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**9, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**9, sender=consumer.account)

    def search(query: str):
        voucher, sig = consumer.pay(pid, 1_000)
        out = node.search(pid, query, 5, voucher, sig)
        consumer.confirm(voucher)
        return out

    before = search("the cash machine swallowed my card")
    assert lone.address.lower() in before.attribution
    node.revoke(results[-2].record_id, lone.account)
    for query in ["the cash machine swallowed my card", texts[0], "card swallowed"]:
        after = search(query)
        assert lone.address.lower() not in after.attribution
        assert copier.address.lower() not in after.attribution
    uses = node.earnings_of(lone.address)
    assert [u["seq"] for u in uses] == [1] and uses[0]["kind"] == "search"
    assert uses[0]["amount"] == before.attribution[lone.address.lower()]


class _TransactionSpy:
    """Counts how a paid call uses the store: transactions opened, their deepest nesting, and
    pool loads. A spy around the real SQLite store, not a fake: every call goes through."""

    def __init__(self, store, monkeypatch) -> None:
        from contextlib import contextmanager

        self.opened = self.depth = self.deepest = self.pool_loads = 0
        transaction, pool = store.transaction, store.pool

        @contextmanager
        def counted():
            self.opened += 1
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)
            try:
                with transaction():
                    yield
            finally:
                self.depth -= 1

        def loaded(pool_id):
            self.pool_loads += 1
            return pool(pool_id)

        monkeypatch.setattr(store, "transaction", counted)
        monkeypatch.setattr(store, "pool", loaded)


@pytest.mark.parametrize("kind", ["search", "predict"])
def test_one_paid_call_is_one_unit_of_work(turn, monkeypatch, kind) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    voucher, sig = consumer.pay(pid, PRICE_SEARCH if kind == "search" else PRICE_PREDICT)
    spy = _TransactionSpy(node.store, monkeypatch)
    if kind == "search":
        node.search(pid, "lost card", 3, voucher, sig)
    else:
        node.predict(pid, "lost card", voucher, sig)
    assert (spy.opened, spy.deepest, spy.pool_loads) == (1, 1, 1)


def test_a_paid_call_that_fails_midway_leaves_nothing(turn, monkeypatch) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)

    def broken(seq, record_ids):
        raise OSError("disk full")

    monkeypatch.setattr(node.store, "put_call_hits", broken)
    with pytest.raises(OSError):
        node.search(pid, "lost card", 3, voucher, sig)
    assert node.store.ledger(pid) == []
    assert node.store.voucher(pid, consumer.address) is None
    monkeypatch.undo()
    result = node.search(pid, "lost card", 3, voucher, sig)  # the same voucher, retried
    assert result.seq == 1 and len(node.store.ledger(pid)) == 1


def test_ledger_entries_are_written_only_inside_a_unit_of_work(turn) -> None:
    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        node.ledger.append(
            pid, voucher, sig, kind="search", price=PRICE_SEARCH, query_hash="0x" + "00" * 32,
            operator_fee=0, builder=None, builder_amount=0, attribution=[], dust_in=0, dust_out=0,
        )  # fmt: skip
    assert node.store.ledger(pid) == []


def test_the_records_a_search_served_are_in_the_database(turn) -> None:
    from fairwheel.store import open_store

    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    result = node.search(pid, "lost card", 5, voucher, sig)
    served = [h.record_id for h in result.hits]
    assert len(served) == 5
    # Another connection to the same file (another worker, or after a restart) sees them.
    other = open_store(node.settings.database_url)
    try:
        assert other.call_hits([result.seq]) == {result.seq: served}
    finally:
        other.close()
    for hit in result.hits:
        uses = {u["seq"]: u for u in node.earnings_of(hit.contributor)}
        mine = [h.record_id for h in result.hits if h.contributor == hit.contributor]
        assert uses[result.seq]["records"] == mine


def test_a_weight_another_worker_writes_reaches_the_next_call(turn) -> None:
    """The candidates' rows a worker keeps (served_cache) are dropped when another
    connection changes a feedback weight: the next search ranks and pays by the new one."""
    from fairwheel.store import open_store

    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    query = turn["examples"][0].text
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    first = node.search(pid, query, 3, voucher, sig)
    consumer.confirm(voucher)
    top = first.hits[0]
    other = open_store(node.settings.database_url)  # another worker's connection
    try:
        with other.transaction():
            other.set_record_weights([(top.record_id, 1e-6, 0.0, 50.0)])
    finally:
        other.close()
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    after = node.search(pid, query, 3, voucher, sig)
    assert after.hits[0].record_id != top.record_id
    mine = [h for h in after.hits if h.record_id == top.record_id]
    assert not mine or mine[0].score < 1e-5


def test_a_quarantine_another_worker_writes_is_never_served(turn) -> None:
    from fairwheel.store import open_store

    node, pid, consumer = turn["node"], turn["pid"], turn["consumer"]
    query = turn["examples"][0].text
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    top = node.search(pid, query, 3, voucher, sig).hits[0]
    consumer.confirm(voucher)
    other = open_store(node.settings.database_url)
    try:
        with other.transaction():
            other.set_status(top.record_id, "quarantined", ["review"])
    finally:
        other.close()
    voucher, sig = consumer.pay(pid, PRICE_SEARCH)
    after = node.search(pid, query, 3, voucher, sig)
    assert top.record_id not in {h.record_id for h in after.hits}
