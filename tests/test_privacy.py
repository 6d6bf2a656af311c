"""Privacy of contributed content (issue #12, items 2 and 4).

* Every stored copy of a record's content has its own blob and data key, so revoking one copy
  shreds exactly that copy, never the same text another contributor holds in another pool.
* No record content (accepted, rejected or revoked) and no consumer query sits in plaintext
  anywhere under the node's home: database (WAL and SHM files included), index files, blobs,
  keys, epoch files. Previews are derived at read time from the encrypted content.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairwheel.errors import BackendError, NotFound
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet
from tests.store_backends import nodes_use_postgres

ARENA_QUERY = "where did my parcel of ceramic owls go after the Tilbury depot"


def _pool(node, labels, name="p"):
    return int(node.create_pool(name, search_price=1000, predict_price=3000,
                                operator_fee_bps=1000, builder_share_bps=2000,
                                labels=labels)["id"])  # fmt: skip


def _consumer(node, *pools):
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**12, sender=node.operator)
    for pid in pools:
        node.protocol.approve_and_deposit(pid, 10**9, sender=consumer.account)
    return consumer


def _paid(node, pid, consumer, kind, text, **kw):
    voucher, sig = consumer.pay(pid, node.price_of(pid, kind))
    if kind == "search":
        out = node.search(pid, text, 3, voucher, sig)
    else:
        out = node.predict(pid, text, voucher, sig, **kw)
    consumer.confirm(voucher)
    return out


def _needles(text: str) -> list[bytes]:
    """The text, its start, end and middle, and its case-folded start, as UTF-8 bytes."""
    mid = len(text) // 2
    parts = [text, text[:24], text[-24:], text[mid - 12 : mid + 12], text.casefold()[:24]]
    return [p.encode() for p in parts]


def _plaintext_in(home: Path, texts: list[str]) -> list[str]:
    """``"file: text"`` for every file under ``home`` that holds any needle of any text."""
    found = []
    for path in (p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for text in texts:
            if any(n in data for n in _needles(text)):
                found.append(f"{path.relative_to(home)}: {text[:30]!r}")
    return found


def test_revoking_one_copy_keeps_the_other_pools_copy(node_factory, tmp_path) -> None:
    node = node_factory()
    examples = synthetic_support_queries(60, seed=9)
    labels = sorted({e.label for e in examples})
    pa, pb = _pool(node, labels, "a"), _pool(node, labels, "b")
    alice_acct, bob_acct = node.chain.new_account(), node.chain.new_account()
    alice = ContributorWallet(alice_acct, node.consent_domain())
    bob = ContributorWallet(bob_acct, node.consent_domain())
    shared, now = examples[0], node.chain.now()
    out_a = node.submit(
        pa,
        [alice.submission(pa, shared.text, shared.label, now=now)]
        + [alice.submission(pa, e.text, e.label, now=now) for e in examples[1:30]],
    )
    out_b = node.submit(
        pb,
        [bob.submission(pb, shared.text, shared.label, now=now)]
        + [bob.submission(pb, e.text, e.label, now=now) for e in examples[30:]],
    )
    assert out_a[0].status == out_b[0].status == "accepted"
    mine, theirs = out_a[0].record_id, out_b[0].record_id
    node.anchor(pa)
    node.anchor(pb)
    consumer = _consumer(node, pb)

    node.revoke(mine, alice_acct)

    with pytest.raises(NotFound):  # alice's copy is shredded …
        node.record_text(mine)
    assert node.record_text(theirs) == shared.text  # … bob's is not
    exported = {r["record_id"]: r for r in node.export_contributions(bob.address)}
    assert exported[theirs]["text"] == shared.text
    hits = _paid(node, pb, consumer, "search", shared.text).hits
    assert [h.text for h in hits if h.record_id == theirs] == [shared.text]
    node.rescore(pb)  # decrypts every kept record of pool b
    node.rescore(pa)
    assert (
        node.export_training(pb, tmp_path / "b.parquet") == node.store.status_counts(pb)["accepted"]
    )


def test_no_plaintext_in_home_after_contribution_and_revocation(node_factory, tmp_path) -> None:
    node = node_factory()
    home = node.settings.home
    examples = synthetic_support_queries(80, seed=21)
    labels = sorted({e.label for e in examples})
    pid = _pool(node, labels)
    accounts = [node.chain.new_account() for _ in range(3)]
    wallets = [ContributorWallet(a, node.consent_domain()) for a in accounts]
    secret, rejected = examples[-1], examples[-2]
    now = node.chain.now()
    subs = [wallets[i % 3].submission(pid, e.text, e.label, now=now)
            for i, e in enumerate(examples[:-2])]  # fmt: skip
    subs.append(wallets[0].submission(pid, secret.text, secret.label, now=now))
    subs.append(wallets[1].submission(pid, rejected.text, "not_a_label", now=now))
    out = node.submit(pid, subs)
    assert out[-2].status == "accepted" and out[-1].status == "rejected"
    secret_id = out[-2].record_id
    node.anchor(pid)
    builder = node.chain.new_account()
    node.train(pid, builder.address)
    node.train(pid, builder.address)
    consumer = _consumer(node, pid)
    _paid(node, pid, consumer, "search", secret.text)
    arena = _paid(node, pid, consumer, "predict", ARENA_QUERY, arena=True)
    node.rate(arena.seq, consumer.address, "arena", 1)
    node.rescore(pid)
    texts = [secret.text, rejected.text, ARENA_QUERY]
    if not nodes_use_postgres():  # on PostgreSQL the database is not in the home
        assert (home / "fairwheel.db-wal").exists()  # grepped like every other file
    assert _plaintext_in(home, texts) == []

    exports = tmp_path / "exports"  # what an operator asks for is plaintext by design
    assert node.export_preferences(pid, exports / "prefs.jsonl") == 1
    line = json.loads((exports / "prefs.jsonl").read_text().splitlines()[0])
    assert line["prompt"] == ARENA_QUERY

    node.revoke(secret_id, accounts[0])
    node.close_epoch(pid)
    assert _plaintext_in(home, texts) == []
    node.close()  # checkpoints the WAL into the database file
    assert _plaintext_in(home, texts) == []


def test_previews_are_read_time_and_hide_revoked_and_rejected_text(node_factory) -> None:
    from fairwheel.api import usecases as uc

    node = node_factory()
    examples = synthetic_support_queries(30, seed=4)
    pid = _pool(node, sorted({e.label for e in examples}))
    account = node.chain.new_account()
    wallet = ContributorWallet(account, node.consent_domain())
    now = node.chain.now()
    subs = [wallet.submission(pid, e.text, e.label, now=now) for e in examples[:-1]]
    subs.append(wallet.submission(pid, examples[-1].text, "not_a_label", now=now))
    out = node.submit(pid, subs)
    node.anchor(pid)
    kept, rejected = out[0].record_id, out[-1]
    assert rejected.status == "rejected" and rejected.record_id is None

    def previews() -> dict[int, str]:
        return {r.id: r.preview for r in uc.my_records(node, account.address, None, None)}

    before = previews()
    assert before[kept] == examples[0].text[:80]
    dropped = [p for rid, p in before.items() if rid not in {o.record_id for o in out}]
    assert dropped == ["[rejected: content not kept]"]
    assert uc.record_view(uc.own_record(node, kept, account.address)).preview == before[kept]
    node.revoke(kept, account)
    assert previews()[kept] == "[revoked]"  # what the dashboard shows after the key is shredded
    assert uc.record_view(uc.own_record(node, kept, account.address)).preview == "[revoked]"


def test_a_failed_batch_shreds_the_content_it_sealed(node_factory, monkeypatch) -> None:
    node = node_factory()
    examples = synthetic_support_queries(6, seed=2)
    pid = _pool(node, sorted({e.label for e in examples}))
    wallet = ContributorWallet(node.chain.new_account(), node.consent_domain())
    now = node.chain.now()
    subs = [wallet.submission(pid, e.text, e.label, now=now) for e in examples]
    sealed: list[str] = []
    put_many = node.blobs.put_many

    def spy(items):
        sealed.extend(put_many(items))
        return sealed

    def broken(*_args, **_kwargs):
        raise BackendError("database went away (test)")

    monkeypatch.setattr(node.blobs, "put_many", spy)
    monkeypatch.setattr(node.store, "set_blob_names", broken)
    with pytest.raises(BackendError):
        node.submit(pid, subs)
    assert sealed and not any(node.blobs.exists(name) for name in sealed)
    assert node.store.records(pid) == []


def test_a_database_from_before_is_refused_not_half_used(tmp_path) -> None:
    """A database written before record text left it (schema version 0) is refused with a
    clear error instead of failing on its first insert."""
    import sqlite3

    from fairwheel.errors import ConfigError
    from fairwheel.store.sqlite import SCHEMA_VERSION, SqliteStore

    SqliteStore(tmp_path / "new.db").close()
    SqliteStore(tmp_path / "new.db").close()  # reopening its own version is fine
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, preview TEXT NOT NULL)")
    old.commit()
    old.close()
    with pytest.raises(ConfigError) as info:
        SqliteStore(tmp_path / "old.db")
    assert info.value.details["expected"] == SCHEMA_VERSION and info.value.details["found"] == 0


def test_served_texts_cached_in_memory_are_never_served_or_kept_after_revocation(
    node_factory,
) -> None:
    """Paid searches keep served texts decrypted per process (node/serving.py): after a
    revocation the text is gone from that cache, and a cache that still holds it (another
    worker's, which never saw the revocation) does not serve the revoked record."""
    node = node_factory()
    examples = synthetic_support_queries(20, seed=6)
    pid = _pool(node, sorted({e.label for e in examples}))
    account = node.chain.new_account()
    wallet = ContributorWallet(account, node.consent_domain())
    now = node.chain.now()
    out = node.submit(pid, [wallet.submission(pid, e.text, e.label, now=now) for e in examples])
    node.anchor(pid)
    consumer = _consumer(node, pid)
    query = examples[0].text
    first = _paid(node, pid, consumer, "search", query)
    target = first.hits[0].record_id
    assert first.hits[0].text == query and target == out[0].record_id
    blob = node.store.record(target)["blob_name"]
    assert blob in node.serving._texts  # cached by the call
    node.revoke(target, account)
    assert blob not in node.serving._texts
    node.serving._texts.get(blob, lambda: query)  # as another worker's cache still has it
    assert blob in node.serving._texts
    again = _paid(node, pid, consumer, "search", query)
    assert target not in {h.record_id for h in again.hits}
    assert query not in {h.text for h in again.hits}
