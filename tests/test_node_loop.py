"""The loop in the node: model versions, promotion and rollback, revocation that propagates,
paid feedback and its exports. Embedded chain, real contracts, the named fake embedder."""

from __future__ import annotations

import json

import pytest

from fairwheel.errors import Conflict, NotFound, RateLimited, SchemaError
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet


def _pool(node_factory, **overrides):
    node = node_factory(**overrides)
    examples = synthetic_support_queries(120, seed=5)
    pid = int(node.create_pool("loop", search_price=1000, predict_price=3000,
                               operator_fee_bps=1000, builder_share_bps=2000,
                               labels=sorted({e.label for e in examples}))["id"])  # fmt: skip
    people = [node.chain.new_account() for _ in range(4)]
    wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
    now = node.chain.now()
    results = node.submit(pid, [wallets[i % 4].submission(pid, e.text, e.label, now=now)
                                for i, e in enumerate(examples)])  # fmt: skip
    node.anchor(pid)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**12, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**9, sender=consumer.account)
    builder = node.chain.new_account()
    return node, pid, people, results, consumer, builder


def _predict(node, pid, consumer, text, **kw):
    voucher, sig = consumer.pay(pid, node.price_of(pid, "predict"))
    out = node.predict(pid, text, voucher, sig, **kw)
    consumer.confirm(voucher)
    return out


def _search(node, pid, consumer, text, k=3):
    voucher, sig = consumer.pay(pid, node.price_of(pid, "search"))
    out = node.search(pid, text, k, voucher, sig)
    consumer.confirm(voucher)
    return out


@pytest.fixture
def loop(node_factory):
    return _pool(node_factory)


def test_versions_promote_roll_back_and_keep_a_regression(loop, monkeypatch) -> None:
    node, pid, _, _, consumer, builder = loop
    v1 = node.train(pid, builder.address)
    assert v1["promoted"] and v1["version"] == 1 and v1["report"]["serving_model"] is None
    v2 = node.train(pid, builder.address)
    assert v2["promoted"] and v2["report"]["serving_accuracy"] is not None
    assert _predict(node, pid, consumer, "my card is gone").model_version == 2
    assert node.rollback(pid)["version"] == 1
    assert _predict(node, pid, consumer, "my card is gone").model_version == 1
    with pytest.raises(Conflict, match="no earlier promoted version"):
        node.rollback(pid)
    import fairwheel.feedback as feedback

    monkeypatch.setattr(feedback, "should_promote", lambda *a, **k: (False, "worse (test)"))
    v3 = node.train(pid, builder.address)
    assert not v3["promoted"] and v3["report"]["reason"] == "worse (test)"
    versions = {v["version"]: v for v in node.model_versions(pid)}
    assert versions[1]["serving"] and not versions[3]["serving"]
    # The kept version answers arena calls next to the serving one; the vote counts for it.
    out = _predict(node, pid, consumer, "why was my transfer refused", arena=True)
    assert {a["version"] for a in out.arena} == {1, 3}
    pick = [a["version"] for a in out.arena].index(3)
    node.rate(out.seq, consumer.address, "arena", pick)
    assert node.arena_record(pid, v3["id"], v1["id"]) == (1, 1)
    node.promote(pid, v3["id"])
    assert _predict(node, pid, consumer, "card lost").model_version == 3


def test_a_version_that_loses_the_arena_is_rolled_back(loop) -> None:
    node, pid, _, _, consumer, builder = loop
    node.train(pid, builder.address)
    node.train(pid, builder.address)
    assert node.reconsider(pid) is None  # no arena games yet
    for i in range(20):
        out = _predict(node, pid, consumer, f"where is my card {i}", arena=True)
        older = [a["version"] for a in out.arena].index(1)
        node.rate(out.seq, consumer.address, "arena", older)  # consumers prefer version 1
    back = node.reconsider(pid)
    assert back is not None and back["version"] == 1
    assert node.store.model_events(pid)[-1]["detail"].startswith("version 2 won 0 of 20")
    assert _predict(node, pid, consumer, "card").model_version == 1


def test_revocation_marks_versions_retrains_and_shows_each_step(loop) -> None:
    node, pid, people, results, consumer, builder = loop
    v1 = node.train(pid, builder.address)
    used = set(node.store.model_records_of(v1["id"]))
    rid = next(r.record_id for r in results if r.record_id in used)
    owner = next(p for p in people if p.address.lower() == node.store.record(rid)["contributor"])
    node.revoke(rid, owner)
    steps = [s["step"] for s in node.revocation_status(rid)["steps"]]
    assert steps == ["revoked", "unserved", "key_destroyed", "models_marked", "retrained"]
    serving = node.store.serving_model(pid)
    assert serving["version"] == 2 and serving["trigger"] == "revocation"
    assert rid not in node.store.model_records_of(serving["id"])
    assert node.model_versions(pid)[0]["revoked_records"] == [rid]
    out = _predict(node, pid, consumer, "my card is gone")
    assert out.model_version == 2 and out.notice is None
    with pytest.raises(NotFound):
        node.revocation_status(results[-1].record_id)


def test_until_retrained_predictions_carry_a_notice(node_factory) -> None:
    node, pid, people, _, consumer, builder = _pool(node_factory, retrain_on_revoke=False)
    v1 = node.train(pid, builder.address)
    rid = node.store.model_records_of(v1["id"])[0]
    owner = next(p for p in people if p.address.lower() == node.store.record(rid)["contributor"])
    mine = node.export_contributions(owner.address)
    assert any(row["record_id"] == rid and row["text"] for row in mine)  # before revoking
    node.revoke(rid, owner)
    out = _predict(node, pid, consumer, "refund please")
    assert out.model_version == 1 and "revoked since" in (out.notice or "")
    assert node.retrain_trigger(pid) == "revocation"
    assert node.upkeep(pid, builder.address)["trigger"] == "revocation"
    assert _predict(node, pid, consumer, "refund please").notice is None
    assert (
        next(r for r in node.export_contributions(owner.address) if r["record_id"] == rid)["text"]
        is None
    )  # its content key is gone


def test_ratings_reweight_the_records_behind_answers(node_factory) -> None:
    node, pid, _, _, consumer, _ = _pool(node_factory, ratings_per_hour=12)
    calls = [_search(node, pid, consumer, "lost card abroad") for _ in range(10)]
    behind = {rid for rid, _ in node.store.call_records([calls[0].seq])[calls[0].seq]}
    assert behind and behind <= {h.record_id for h in calls[0].hits} | set(behind)
    first = node.rate(calls[0].seq, consumer.address, "thumbs", -1)
    assert first["new"] and first["records_reweighted"] == len(behind)
    assert node.rate(calls[0].seq, consumer.address, "thumbs", -1)["new"] is False  # retry
    with pytest.raises(Conflict, match="already rated"):
        node.rate(calls[0].seq, consumer.address, "thumbs", 1)
    for call in calls[1:]:
        node.rate(call.seq, consumer.address, "stars", 1)
    weights = node.store.record_weights(sorted(behind))
    assert weights and all(w < 1.0 for w in weights.values())
    # Records repeatedly behind bad answers go to the review queue.
    suspects = {r["id"] for r in node.feedback_suspects(pid)}
    assert suspects and suspects <= set(weights)
    assert suspects <= {r["id"] for r in node.review_queue(pid)}
    # They sink: the next search ranks by cosine times weight.
    again = _search(node, pid, consumer, "lost card abroad")
    query = node.embedder.embed(["lost card abroad"])[0]
    ids, vectors = node.store.embeddings(pid)
    row = {rid: i for i, rid in enumerate(ids)}
    for hit in again.hits:
        cosine = float(vectors[row[hit.record_id]] @ query)
        assert hit.score == pytest.approx(cosine * weights.get(hit.record_id, 1.0), abs=1e-5)
    assert [h.score for h in again.hits] == sorted((h.score for h in again.hits), reverse=True)
    with pytest.raises(Conflict, match="one answer"):
        node.rate(again.seq, consumer.address, "arena", 0)
    stranger = node.chain.new_account()
    with pytest.raises(Conflict, match="only the consumer"):
        node.rate(again.seq, stranger.address, "thumbs", 1)
    with pytest.raises(SchemaError):
        node.rate(again.seq, consumer.address, "stars", 9)
    node.rate(again.seq, consumer.address, "thumbs", 1)
    node.rate(_search(node, pid, consumer, "x y z card").seq, consumer.address, "thumbs", 1)
    with pytest.raises(RateLimited):
        node.rate(_search(node, pid, consumer, "card").seq, consumer.address, "thumbs", 1)


def test_raters_are_paid_through_the_ledger_and_the_budget_is_conserved(loop) -> None:
    node, pid, _, _, consumer, builder = loop
    node.train(pid, builder.address)
    node.protocol.mint(node.operator.address, 10**9, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**8, sender=node.operator)
    node.set_feedback_budget(pid, 1_000_003)
    others = [ConsumerWallet(node.chain.new_account(), node.voucher_domain()) for _ in range(2)]
    for wallet in others:
        node.protocol.mint(wallet.address, 10**9, sender=node.operator)
        node.protocol.approve_and_deposit(pid, 10**8, sender=wallet.account)
    for i in range(8):
        for j, wallet in enumerate([consumer, *others]):
            call = _predict(node, pid, wallet, f"question {i} about my card")
            node.set_gold(call.seq, good=True)
            # two raters say good, the third always says bad: it disagrees with gold
            node.rate(call.seq, wallet.address, "thumbs", -1 if j == 2 else 1)
    out = node.pay_raters(pid)
    assert out["ratings"] == 24
    assert out["paid"].get(others[1].address.lower(), 0) == 0
    assert others[1].address.lower() in out["spammy"]
    assert sum(out["paid"].values()) + out["dust"] == 1_000_003
    entry = node.store.ledger(pid)[-1]
    assert entry["kind"] == "feedback" and int(entry["price"]) == sum(out["paid"].values())
    assert node.pay_raters(pid)["ratings"] == 0  # each rating is paid once


def test_exports_keep_provenance_and_consent(loop, tmp_path) -> None:
    import pyarrow.parquet as pq

    node, pid, _, _, consumer, builder = loop
    node.train(pid, builder.address)
    node.train(pid, builder.address)
    n = node.export_training(pid, tmp_path / "train.parquet")
    accepted = node.store.status_counts(pid)["accepted"]
    assert n == accepted
    table = pq.read_table(tmp_path / "train.parquet")
    assert {"record_hash", "contributor", "licence", "batch_root"} <= set(table.column_names)
    assert table.schema.metadata[b"pool_id"] == str(pid).encode()
    out = _predict(node, pid, consumer, "transfer failed", arena=True)
    node.rate(out.seq, consumer.address, "arena", 1)
    assert node.export_preferences(pid, tmp_path / "prefs.jsonl") == 1
    line = json.loads((tmp_path / "prefs.jsonl").read_text().splitlines()[0])
    assert list(line)[:3] == ["prompt", "chosen", "rejected"]
    assert line["prompt"] == "transfer failed" and line["chosen"] == out.arena[1]["answer"]
