"""Contribution batches signed once (issue #16, item 7): one EIP-712 ``BatchConsent`` per batch.

* the domain: the typed data is standard EIP-712 (``eth_account`` computes the same digest),
  leaves and proofs are OpenZeppelin ``StandardMerkleTree``'s, each record spends its own nonce;
* the gate: the batch's signature is recovered once per submit call (the context's cache), a
  record outside the signed root is ``consent_mismatch``;
* the node: a 5-record batch under one signature is accepted; a record whose text or label was
  changed is refused while the others pass; a forged root or another signer is
  ``bad_signature``; a replayed batch (or record) is ``consent_replayed``; a batch may come over
  several calls, each record once;
* the HTTP API and the Python client: a drafted batch signed once by the wallet, a batch built
  by the client, and the requests the route refuses.

Signing the served ``BatchConsent`` with ethers and viem is in ``test_typed_data_signable.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from fairwheel.domain.batch_consent import (
    BATCH_CONSENT_TYPE,
    BatchConsent,
    BatchRecordConsent,
    batch_consent_digest,
    content_leaf,
    content_tree,
    sign_batch_consent,
    verify_batch_consent,
)
from fairwheel.domain.merkle import StandardMerkleTree, keccak256
from fairwheel.domain.records import content_hash
from fairwheel.domain.typed_data import consent_domain
from fairwheel.errors import SchemaError, SignatureError
from fairwheel.quality import gate
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ContributorWallet, batch_json
from tests.test_api_support import World, make_world

DOMAIN = consent_domain(31337, "0x" + "5f" * 20)
EXAMPLES = synthetic_support_queries(40, seed=11)
LABELS = sorted({e.label for e in EXAMPLES})


def _pairs(start: int, n: int) -> list[tuple[str, str | None]]:
    return [(e.text, e.label) for e in EXAMPLES[start : start + n]]


def _wallet(account: Any = None) -> ContributorWallet:
    return ContributorWallet(account or Account.create(), DOMAIN)


# ------------------------------------------------------------------------------ the domain


def test_the_typed_data_is_plain_eip712_and_signs_the_same_digest() -> None:
    subs = _wallet().batch_submission(1, _pairs(0, 5), now=1_000)
    batch = subs[0].consent.batch
    typed = batch.to_typed_data(DOMAIN)
    assert typed["primaryType"] == "BatchConsent" and list(typed["types"]) == ["BatchConsent"]
    fields = ",".join(f"{f['type']} {f['name']}" for f in typed["types"]["BatchConsent"])
    assert f"BatchConsent({fields})" == BATCH_CONSENT_TYPE
    signable = encode_typed_data(full_message=typed)  # eth_account derives EIP712Domain
    assert bytes(_hash_eip191_message(signable)) == batch_consent_digest(batch, DOMAIN)
    assert len({s.signature for s in subs}) == 1  # one signature for the whole batch
    verify_batch_consent(batch, DOMAIN, subs[0].signature)


def test_leaves_and_proofs_are_openzeppelins_standard_tree() -> None:
    hashes = [content_hash(t, label) for t, label in _pairs(0, 7)]
    tree = content_tree(hashes)
    for i, h in enumerate(hashes):
        assert content_leaf(h) == tree.leaf_hash([h]) == keccak256(keccak256(h))
        assert StandardMerkleTree.verify(tree.root, ["bytes32"], [h], tree.proof(i))
    batch = BatchConsent("0x" + "ab" * 20, 1, tree.root, "CC0", 3, 0, 9)
    records = [BatchRecordConsent(batch, h, tuple(tree.proof(i))) for i, h in enumerate(hashes)]
    assert all(r.included() for r in records)
    assert not BatchRecordConsent(batch, hashes[0], tuple(tree.proof(1))).included()
    assert len({r.nonce for r in records}) == 7  # each record spends its own nonce
    other = dataclasses.replace(batch, nonce=10)
    assert other.record_nonce(hashes[0]) != batch.record_nonce(hashes[0])
    with pytest.raises(SchemaError):
        content_tree([])
    with pytest.raises(SchemaError):
        BatchRecordConsent(batch, hashes[0], (b"\x00" * 32,) * 33)


# -------------------------------------------------------------------------------- the gate


class MemoryContext:
    """A pool's state for the gate, in memory: used nonces, nothing accepted yet."""

    def __init__(self, used: set[tuple[str, int]] | None = None) -> None:
        self.used = used or set()

    def nonce_used(self, contributor: str, nonce: int) -> bool:
        return (contributor.lower(), nonce) in self.used

    def duplicate_owner(self, dup_key: bytes) -> int | None:
        return None

    def nearest_other(self, vector: Any, contributor: str) -> tuple[int, float] | None:
        return None


def test_the_gate_recovers_a_batch_signature_once_per_context() -> None:
    subs = _wallet().batch_submission(1, _pairs(0, 5), now=1_000)
    ctx = MemoryContext()
    assert [gate.check_consent(s, 1, DOMAIN, 1_000, ctx) for s in subs] == [None] * 5
    cache = ctx.consent_cache  # type: ignore[attr-defined]
    assert len(cache) == 1
    # The cache is what the gate reads: a poisoned entry (another signer) refuses the batch.
    (key,) = cache
    cache[key] = ("0x" + "00" * 20, "")
    decision = gate.check_consent(subs[0], 1, DOMAIN, 1_000, ctx)
    assert decision is not None and decision.reasons[0].startswith("bad_signature")


def test_a_context_that_cannot_hold_a_cache_still_checks_every_record() -> None:
    class Slotted:
        __slots__ = ()

        def nonce_used(self, contributor: str, nonce: int) -> bool:
            return False

    subs = _wallet().batch_submission(1, _pairs(0, 3), now=1_000)
    assert [gate.check_consent(s, 1, DOMAIN, 1_000, Slotted()) for s in subs] == [None] * 3  # type: ignore[arg-type]
    flipped = subs[1].signature[:-1] + bytes([55 - subs[1].signature[-1]])  # the other v
    forged = dataclasses.replace(subs[1], signature=flipped)
    decision = gate.check_consent(forged, 1, DOMAIN, 1_000, Slotted())  # type: ignore[arg-type]
    assert decision is not None and decision.reasons[0].startswith("bad_signature")


def test_the_gate_refuses_a_record_outside_the_root_a_used_nonce_and_an_old_batch() -> None:
    subs = _wallet().batch_submission(1, _pairs(0, 4), now=1_000)
    ctx = MemoryContext({(subs[2].consent.contributor.lower(), subs[2].consent.nonce)})
    outside = dataclasses.replace(subs[0], consent=dataclasses.replace(subs[0].consent, proof=()))
    reasons = [
        gate.check_consent(s, 1, DOMAIN, 1_000, ctx)
        for s in (outside, subs[1], subs[2])
    ]  # fmt: skip
    assert reasons[0] is not None and reasons[0].reasons == (
        "consent_mismatch record is not in the signed batch",
    )
    assert reasons[1] is None
    assert reasons[2] is not None and reasons[2].reasons[0].startswith("consent_replayed")
    expired = gate.check_consent(subs[3], 1, DOMAIN, subs[3].consent.expiry, ctx)
    assert expired is not None and expired.reasons[0] == "consent_expired"
    elsewhere = gate.check_consent(subs[3], 2, DOMAIN, 1_000, ctx)
    assert elsewhere is not None and elsewhere.reasons[0].startswith("consent_mismatch")


# -------------------------------------------------------------------------------- the node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from tests.store_backends import node_database

    with node_database() as database:
        settings = load_settings(
            home=tmp_path_factory.mktemp("batch-node"),
            chain_url="embedded://",
            embedder_url="fake-hash://384",
            **database,
        )
        opened = Node.open(settings)
        try:
            yield opened
        finally:
            opened.close()


def _pool(node: Any) -> int:
    pool = node.create_pool("batch", search_price=1000, predict_price=2000, operator_fee_bps=1000,
                            builder_share_bps=2000, labels=LABELS)  # fmt: skip
    return int(pool["id"])


def _contributor(node: Any) -> ContributorWallet:
    return ContributorWallet(node.chain.new_account(), node.consent_domain())


def _statuses(results: list[Any]) -> list[str]:
    return [r.status if r.status != "rejected" else r.reasons[0].split(" ")[0] for r in results]


def test_a_five_record_batch_under_one_signature_is_accepted(node: Any) -> None:
    pid, wallet = _pool(node), _contributor(node)
    subs = wallet.batch_submission(pid, _pairs(0, 5), now=node.chain.now())
    results = node.submit(pid, subs)
    assert _statuses(results) == ["accepted"] * 5
    batch = subs[0].consent.batch
    for sub, result in zip(subs, results, strict=True):
        row = node.queries.record(result.record_id)
        assert row["contributor"] == wallet.address.lower()
        assert bytes(row["content_hash"]) == content_hash(sub.text, sub.label)
        assert int(row["nonce"]) == batch.record_nonce(sub.consent.content_hash)
        assert (row["licence"], int(row["purposes"]), int(row["expiry"])) == (
            batch.licence, batch.purposes, batch.expiry,
        )  # fmt: skip


def test_a_changed_text_or_label_is_refused_and_the_rest_of_the_batch_passes(node: Any) -> None:
    pid, wallet = _pool(node), _contributor(node)
    subs = wallet.batch_submission(pid, _pairs(5, 5), now=node.chain.now())
    other_label = next(label for label in LABELS if label != subs[3].label)
    tampered = list(subs)
    tampered[1] = dataclasses.replace(subs[1], text=subs[1].text + " and my pin")
    tampered[3] = dataclasses.replace(subs[3], label=other_label)
    # A client that sends the content hash of the changed text is still outside the root.
    rehashed = BatchRecordConsent(subs[1].consent.batch, content_hash(tampered[1].text, None))
    tampered.append(dataclasses.replace(tampered[1], label=None, consent=rehashed))
    results = node.submit(pid, tampered)
    assert _statuses(results) == ["accepted", "consent_mismatch", "accepted", "consent_mismatch",
                                  "accepted", "consent_mismatch"]  # fmt: skip
    assert [r.record_id is None for r in results] == [False, True, False, True, False, True]
    # A refused consent spends no nonce: the untampered originals still go in.
    again = node.submit(pid, [subs[1], subs[3]])
    assert _statuses(again) == ["accepted", "accepted"]


def test_a_forged_root_or_another_signer_is_a_bad_signature(node: Any) -> None:
    pid, wallet, thief = _pool(node), _contributor(node), _contributor(node)
    subs = wallet.batch_submission(pid, _pairs(10, 3), now=node.chain.now())
    # The thief moves the contributor's signature onto a root of their own choosing.
    own = thief.batch_submission(pid, _pairs(13, 2), now=node.chain.now())
    pretend = dataclasses.replace(own[0].consent.batch, contributor=wallet.address)
    moved = [
        dataclasses.replace(s, consent=BatchRecordConsent(pretend, s.consent.content_hash,
                                                          s.consent.proof),
                            signature=subs[0].signature)
        for s in own
    ]  # fmt: skip
    # And signs the contributor's own batch with their key.
    resigned = sign_batch_consent(subs[0].consent.batch, node.consent_domain(), thief.account.key)
    stolen = [dataclasses.replace(s, signature=resigned) for s in subs]
    results = node.submit(pid, moved + stolen)
    assert _statuses(results) == ["bad_signature"] * 5
    assert all("signed by" in r.reasons[0] for r in results)
    assert _statuses(node.submit(pid, subs)) == ["accepted"] * 3  # nothing was burnt


def test_a_replayed_batch_is_refused_record_by_record(node: Any) -> None:
    pid, wallet = _pool(node), _contributor(node)
    subs = wallet.batch_submission(pid, _pairs(15, 5), now=node.chain.now())
    first = node.submit(pid, [*subs, subs[2]])  # the same record twice in one call, too
    assert _statuses(first) == ["accepted"] * 5 + ["consent_replayed"]
    replay = node.submit(pid, subs)
    assert _statuses(replay) == ["consent_replayed"] * 5
    assert all(r.record_id is None for r in replay)
    assert len(node.queries.records_of(wallet.address, pid, "accepted")) == 5


def test_a_batch_may_come_over_several_calls_each_record_once(node: Any) -> None:
    pid, wallet = _pool(node), _contributor(node)
    subs = wallet.batch_submission(pid, _pairs(20, 5), now=node.chain.now())
    assert _statuses(node.submit(pid, subs[:3])) == ["accepted"] * 3
    assert _statuses(node.submit(pid, subs[1:])) == ["consent_replayed"] * 2 + ["accepted"] * 2


def test_single_consents_and_a_batch_go_in_one_call(node: Any) -> None:
    pid, wallet = _pool(node), _contributor(node)
    now = node.chain.now()
    single = [wallet.submission(pid, t, label, now=now) for t, label in _pairs(25, 2)]
    batch = wallet.batch_submission(pid, _pairs(27, 3), now=now)
    assert _statuses(node.submit(pid, single + batch)) == ["accepted"] * 5


def test_batch_json_is_one_batch_or_nothing() -> None:
    wallet = _wallet()
    subs = wallet.batch_submission(1, _pairs(0, 2), now=5)
    body = batch_json(subs)
    assert body["signature"] == "0x" + subs[0].signature.hex()
    assert [r["text"] for r in body["records"]] == [s.text for s in subs]
    more = wallet.batch_submission(1, _pairs(2, 1), now=5)
    single = wallet.submission(1, "one record", None, now=5)
    for bad in ([], subs + more, [*subs, single]):
        with pytest.raises(SchemaError):
            batch_json(bad)


# ---------------------------------------------------------------------------- the HTTP API


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("batch-api"), records=24) as w:
        yield w


def _session(world: World, name: str) -> tuple[Any, dict[str, str]]:
    account = world.new_account(name)
    client = world.client(name, login=True)
    return account, {"Authorization": f"Bearer {client.token}"}


def _post(world: World, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{world.url}{path}", json=body, headers=headers, timeout=60)


def test_a_drafted_batch_signed_once_by_the_wallet_is_accepted(world: World) -> None:
    account, auth = _session(world, "api-batcher")
    pid = world.pool_id
    records = [{"text": f"my card number {n} was charged twice today", "label": None}
               for n in ("one", "two", "three", "four", "five")]  # fmt: skip
    draft = _post(world, f"/v1/pools/{pid}/consents/batch", {"records": records}, auth)
    assert draft.status_code == 200, draft.text
    body = draft.json()
    assert "EIP712Domain" not in body["typed_data"]["types"]
    signed = Account.sign_message(
        encode_typed_data(full_message=body["typed_data"]), account.key
    ).signature
    batch = {
        "consent": body["consent"],
        "signature": "0x" + bytes(signed).hex(),
        "records": [{**r, "proof": d["proof"]} for r, d in zip(records, body["records"],
                                                                   strict=True)],
    }  # fmt: skip
    path = f"/v1/pools/{pid}/contributions"
    first = _post(world, path, {"batches": [batch]}, auth)
    assert first.status_code == 200, first.text
    assert first.json()["counts"] == {"accepted": 5}
    assert [r["index"] for r in first.json()["results"]] == [0, 1, 2, 3, 4]
    again = _post(world, path, {"batches": [batch]}, {**auth, "Idempotency-Key": "fresh-1"})
    assert again.status_code == 200
    assert {r["reasons"][0].split(" ")[0] for r in again.json()["results"]} == {"consent_replayed"}


def test_the_client_submits_a_batch_signed_once(world: World) -> None:
    world.new_account("client-batcher")
    client = world.client("client-batcher", login=True)
    texts = [(f"the atm kept my {thing} card last night", None)
             for thing in ("blue", "green", "silver")]  # fmt: skip
    result = client.submit_batch(world.pool_id, texts)
    assert result["counts"] == {"accepted": 3}
    mine = client.my_records(world.pool_id)
    assert len(mine) == 3


def test_the_route_refuses_a_batch_of_someone_else_and_malformed_ones(world: World) -> None:
    _, auth = _session(world, "api-refused")
    account = world.new_account("api-victim")
    with world.live.ctx.use() as node:
        victim, now = ContributorWallet(account, node.consent_domain()), node.chain.now()
    subs = victim.batch_submission(world.pool_id, [("a stolen card record", None)], now=now)
    path = f"/v1/pools/{world.pool_id}/contributions"
    foreign = _post(world, path, {"batches": [batch_json(subs)]}, auth)
    assert foreign.status_code == 403 and "record 0" in foreign.json()["message"]
    empty = _post(world, path, {"records": [], "batches": []}, auth)
    assert empty.status_code == 422 and "1 to 1000 records" in empty.json()["message"]
    bad = batch_json(subs)
    bad["records"][0]["proof"] = ["0x1234"]
    assert _post(world, path, {"batches": [bad]}, auth).status_code == 422
    huge = {"batches": [{**batch_json(subs), "records": batch_json(subs)["records"] * 1001}]}
    assert _post(world, path, huge, auth).status_code == 422


def test_a_signature_error_in_the_domain_names_its_reason() -> None:
    subs = _wallet().batch_submission(1, _pairs(0, 1), now=1)
    with pytest.raises(SignatureError, match="signed by"):
        verify_batch_consent(subs[0].consent.batch, DOMAIN, sign_batch_consent(
            subs[0].consent.batch, DOMAIN, Account.create().key))  # fmt: skip
