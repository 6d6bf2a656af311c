"""The four contracts on the embedded chain, through the typed client."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account

from fairwheel.chain import Chain, Protocol
from fairwheel.domain.merkle import CONTRIBUTION_ENCODING, EARNINGS_ENCODING, StandardMerkleTree
from fairwheel.domain.typed_data import (
    Revocation,
    Voucher,
    sign_revocation,
    sign_voucher,
    voucher_domain,
)
from fairwheel.errors import ChainError, ConfigError
from tests.chain_fixtures import (
    ACTIVATION_DELAY,
    THAW_PERIOD,
    TOKEN,
    World,
    chain,
    deployer,
    protocol,
    world,
)

__all__ = ["chain", "deployer", "protocol", "world"]  # the fixtures, re-exported for pytest

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def reverts(reason: str) -> Any:
    """``pytest.raises`` for a ChainError with the given decoded custom error."""

    class _Check:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(ChainError)
            self._info = self._ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self._ctx.__exit__(*exc)
            got = self._info.value.details.get("reason")
            assert got == reason, f"expected {reason}, got {got}: {self._info.value}"
            return bool(handled)

    return _Check()


def malleate(signature: bytes) -> bytes:
    """The high-s twin of a signature (same signer, different bytes)."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (N - s).to_bytes(32, "big") + bytes([55 - v])


def contribution_tree(
    world: World, n: int = 5, funded: int | None = None
) -> tuple[StandardMerkleTree, list[Any]]:
    """A batch of ``n`` contributions; the first ``funded`` (default all) contributors get gas."""
    funded = n if funded is None else funded
    contributors = [world.account() if i < funded else Account.create() for i in range(n)]
    values = [[os.urandom(32), c.address] for c in contributors]
    return StandardMerkleTree.of(values, CONTRIBUTION_ENCODING), contributors


def earnings_tree(amounts: dict[str, int]) -> StandardMerkleTree:
    return StandardMerkleTree.of([[a, v] for a, v in amounts.items()], EARNINGS_ENCODING)


# ----------------------------------------------------------------------- pools


def test_create_pool_and_read_it_back(world: World) -> None:
    p = world.protocol
    info = p.get_pool(world.pool_id)
    assert info.operator == world.operator.address
    assert info.guardian == world.guardian.address
    assert info.token == p.token_address
    assert (info.search_price, info.predict_price) == (10**15, 10**16)
    assert (info.operator_fee_bps, info.builder_share_bps) == (1000, 2000)
    assert (info.batch_count, info.model_count) == (0, 0)
    second = world.new_pool()
    assert second == world.pool_id + 1 == p.pool_count()


def test_pool_ids_start_at_one(chain: Chain, deployer: Any) -> None:
    fresh = chain.deploy(deployer)
    result = fresh.create_pool(
        sender=deployer,
        guardian=deployer.address,
        search_price=1,
        predict_price=1,
        operator_fee_bps=0,
        builder_share_bps=0,
        metadata_hash=bytes(32),
    )
    assert result.value == 1
    assert result.event("PoolCreated")["operator"] == deployer.address


def test_fee_split_over_100_percent_is_refused(world: World) -> None:
    with reverts("InvalidFeeSplit"):
        world.new_pool(operator_fee_bps=6000, builder_share_bps=4001)
    assert world.new_pool(operator_fee_bps=6000, builder_share_bps=4000) > 0


def test_unknown_pool(world: World) -> None:
    with reverts("PoolNotFound"):
        world.protocol.get_pool(10**9)
    with reverts("PoolNotFound"):
        world.protocol.anchor_batch(10**9, os.urandom(32), 1, "x", sender=world.operator)


# --------------------------------------------------------------------- batches


def test_anchor_and_prove_contributions(world: World) -> None:
    p = world.protocol
    tree, contributors = contribution_tree(world)
    result = p.anchor_batch(
        world.pool_id, tree.root, len(tree), "ipfs://batch1", sender=world.operator
    )
    assert result.value == 1
    assert result.event("BatchAnchored")["root"] == tree.root
    assert p.batch_root(world.pool_id, 1) == tree.root
    assert p.get_pool(world.pool_id).batch_count == 1
    for i, (record_id, contributor) in tree.entries():
        assert p.is_anchored(world.pool_id, 1, record_id, contributor, tree.proof(i))
    record_id, contributor = tree.at(0)
    other = (
        contributors[1].address
        if contributor != contributors[1].address
        else contributors[2].address
    )
    assert not p.is_anchored(world.pool_id, 1, record_id, other, tree.proof(0))
    assert not p.is_anchored(world.pool_id, 1, os.urandom(32), contributor, tree.proof(0))
    assert not p.is_anchored(world.pool_id, 2, record_id, contributor, tree.proof(0))
    second = p.anchor_batch(
        world.pool_id, os.urandom(32), 3, "ipfs://batch2", sender=world.operator
    )
    assert second.value == 2


def test_single_leaf_batch(world: World) -> None:
    contributor = world.account()
    tree = StandardMerkleTree.of([[os.urandom(32), contributor.address]], CONTRIBUTION_ENCODING)
    world.protocol.anchor_batch(world.pool_id, tree.root, 1, "one", sender=world.operator)
    record_id, _ = tree.at(0)
    assert tree.proof(0) == []
    assert world.protocol.is_anchored(world.pool_id, 1, record_id, contributor.address, [])


def test_only_the_operator_anchors_and_registers(world: World) -> None:
    stranger = world.account()
    with reverts("NotOperator"):
        world.protocol.anchor_batch(world.pool_id, os.urandom(32), 1, "x", sender=stranger)
    with reverts("NotOperator"):
        world.protocol.register_model(
            world.pool_id, os.urandom(32), os.urandom(32), os.urandom(32), "m", sender=stranger
        )
    with reverts("ZeroRoot"):
        world.protocol.anchor_batch(world.pool_id, bytes(32), 1, "x", sender=world.operator)
    with reverts("EmptyBatch"):
        world.protocol.anchor_batch(world.pool_id, os.urandom(32), 0, "x", sender=world.operator)


def test_register_model(world: World) -> None:
    p = world.protocol
    model_hash, dataset_root, metrics_hash = os.urandom(32), os.urandom(32), os.urandom(32)
    result = p.register_model(
        world.pool_id, model_hash, dataset_root, metrics_hash, "hf://m1", sender=world.operator
    )
    assert result.value == 1
    model = p.get_model(world.pool_id, 1)
    assert (model.model_hash, model.dataset_root, model.metrics_hash) == (
        model_hash,
        dataset_root,
        metrics_hash,
    )
    assert model.uri == "hf://m1" and model.registered_at > 0
    assert p.get_pool(world.pool_id).model_count == 1
    with reverts("ModelNotFound"):
        p.get_model(world.pool_id, 2)


# ------------------------------------------------------------------ revocation


def test_revoke_by_contributor(world: World) -> None:
    p = world.protocol
    tree, contributors = contribution_tree(world, 4)
    p.anchor_batch(world.pool_id, tree.root, len(tree), "b", sender=world.operator)
    record_id, owner_address = tree.at(2)
    owner = next(c for c in contributors if c.address == owner_address)
    intruder = next(c for c in contributors if c.address != owner_address)
    with reverts("InvalidProof"):  # someone else's record
        p.revoke(world.pool_id, 1, record_id, tree.proof(2), sender=intruder)
    with reverts("BatchNotFound"):
        p.revoke(world.pool_id, 9, record_id, tree.proof(2), sender=owner)
    assert not p.is_revoked(world.pool_id, record_id)
    result = p.revoke(world.pool_id, 1, record_id, tree.proof(2), sender=owner)
    assert result.event("Revoked") == {
        "poolId": world.pool_id,
        "recordId": record_id,
        "contributor": owner.address,
        "batchId": 1,
    }
    assert p.is_revoked(world.pool_id, record_id)
    with reverts("AlreadyRevoked"):
        p.revoke(world.pool_id, 1, record_id, tree.proof(2), sender=owner)


def test_revoke_with_signature_relayed_by_anyone(world: World) -> None:
    p = world.protocol
    tree, contributors = contribution_tree(world, 3)
    p.anchor_batch(world.pool_id, tree.root, len(tree), "b", sender=world.operator)
    record_id, owner_address = tree.at(1)
    owner = next(c for c in contributors if c.address == owner_address)
    revocation = Revocation(owner.address, world.pool_id, record_id)
    forged = sign_revocation(revocation, p.consent_domain(), world.account())
    with reverts("InvalidSigner"):
        p.revoke_with_sig(
            world.pool_id, 1, record_id, owner.address, tree.proof(1), forged, sender=world.operator
        )
    signature = sign_revocation(revocation, p.consent_domain(), owner)
    p.revoke_with_sig(
        world.pool_id, 1, record_id, owner.address, tree.proof(1), signature, sender=world.operator
    )
    assert p.is_revoked(world.pool_id, record_id)


# ---------------------------------------------------------------------- escrow


def _consumer(world: World, deposit: int) -> Any:
    consumer = world.account(tokens=deposit)
    result = world.protocol.approve_and_deposit(world.pool_id, deposit, sender=consumer)
    assert result.value == deposit
    return consumer


def test_voucher_redeem_pays_only_the_increase(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 100 * TOKEN)
    domain = p.voucher_domain()
    before = p.token_balance(world.operator.address)
    v1 = Voucher(consumer.address, world.pool_id, 3 * TOKEN)
    r1 = p.redeem(v1, sign_voucher(v1, domain, consumer), sender=world.operator)
    assert r1.value == 3 * TOKEN
    v2 = Voucher(consumer.address, world.pool_id, 5 * TOKEN)
    sig2 = sign_voucher(v2, domain, consumer)
    r2 = p.redeem(v2, sig2, sender=world.operator)
    assert r2.value == 2 * TOKEN
    assert p.redeemed(world.pool_id, consumer.address) == 5 * TOKEN
    assert p.escrow_balance(world.pool_id, consumer.address) == 95 * TOKEN
    assert p.token_balance(world.operator.address) - before == 5 * TOKEN
    with reverts("NothingToRedeem"):  # replay
        p.redeem(v2, sig2, sender=world.operator)
    with reverts("NothingToRedeem"):  # an older, smaller voucher
        p.redeem(v1, sign_voucher(v1, domain, consumer), sender=world.operator)


def test_only_the_operator_redeems(world: World) -> None:
    consumer = _consumer(world, 10 * TOKEN)
    v = Voucher(consumer.address, world.pool_id, TOKEN)
    sig = sign_voucher(v, world.protocol.voucher_domain(), consumer)
    with reverts("NotOperator"):
        world.protocol.redeem(v, sig, sender=consumer)


def test_forged_and_misdirected_vouchers_are_refused(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 10 * TOKEN)
    domain = p.voucher_domain()
    v = Voucher(consumer.address, world.pool_id, TOKEN)
    with reverts("InvalidSigner"):  # signed by another key
        p.redeem(v, sign_voucher(v, domain, world.account()), sender=world.operator)
    # signed for another pool of the same operator, presented for this one
    other_pool = world.new_pool()
    for_other = sign_voucher(Voucher(consumer.address, other_pool, TOKEN), domain, consumer)
    with reverts("InvalidSigner"):
        p.redeem(v, for_other, sender=world.operator)
    # signed for another escrow contract (other verifying contract)
    elsewhere = voucher_domain(world.chain.chain_id, p.registry_address)
    with reverts("InvalidSigner"):
        p.redeem(v, sign_voucher(v, elsewhere, consumer), sender=world.operator)
    # signed for another chain id
    other_chain = voucher_domain(world.chain.chain_id + 1, p.escrow_address)
    with reverts("InvalidSigner"):
        p.redeem(v, sign_voucher(v, other_chain, consumer), sender=world.operator)
    # a higher amount than signed
    good = sign_voucher(v, domain, consumer)
    with reverts("InvalidSigner"):
        p.redeem(Voucher(consumer.address, world.pool_id, 2 * TOKEN), good, sender=world.operator)
    # the malleated twin of a good signature
    with reverts("ECDSAInvalidSignatureS"):
        p.redeem(v, malleate(good), sender=world.operator)
    with reverts("ECDSAInvalidSignatureLength"):
        p.redeem(v, good[:64], sender=world.operator)
    assert p.redeemed(world.pool_id, consumer.address) == 0
    assert p.redeem(v, good, sender=world.operator).value == TOKEN


def test_voucher_over_the_balance_is_refused(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 2 * TOKEN)
    v = Voucher(consumer.address, world.pool_id, 3 * TOKEN)
    with reverts("InsufficientEscrow"):
        p.redeem(v, sign_voucher(v, p.voucher_domain(), consumer), sender=world.operator)


def test_redeem_many(world: World) -> None:
    p = world.protocol
    domain = p.voucher_domain()
    consumers = [_consumer(world, 10 * TOKEN) for _ in range(3)]
    items = []
    for i, c in enumerate(consumers):
        v = Voucher(c.address, world.pool_id, (i + 1) * TOKEN)
        items.append((v, sign_voucher(v, domain, c)))
    result = p.redeem_many(items, sender=world.operator)
    assert result.value == 6 * TOKEN
    assert [e["args"]["paid"] for e in result.events if e["event"] == "Redeemed"] == [
        TOKEN,
        2 * TOKEN,
        3 * TOKEN,
    ]
    with reverts("NothingToRedeem"):  # all or nothing
        p.redeem_many(items, sender=world.operator)


def test_withdraw_only_after_the_thaw(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 10 * TOKEN)
    with reverts("NoPendingWithdrawal"):
        p.withdraw(world.pool_id, sender=consumer)
    with reverts("InsufficientEscrow"):
        p.request_withdraw(world.pool_id, 11 * TOKEN, sender=consumer)
    ready_at = p.request_withdraw(world.pool_id, 8 * TOKEN, sender=consumer).value
    assert ready_at == world.chain.now() + THAW_PERIOD
    assert p.pending_withdrawal(world.pool_id, consumer.address).amount == 8 * TOKEN
    with reverts("WithdrawalNotReady"):
        p.withdraw(world.pool_id, sender=consumer)
    # the operator still redeems during the thaw: the thaw is its guarantee
    v = Voucher(consumer.address, world.pool_id, 4 * TOKEN)
    p.redeem(v, sign_voucher(v, p.voucher_domain(), consumer), sender=world.operator)
    world.chain.advance_time(THAW_PERIOD)
    before = p.token_balance(consumer.address)
    assert p.withdraw(world.pool_id, sender=consumer).value == 6 * TOKEN  # min(8, 6 left)
    assert p.token_balance(consumer.address) - before == 6 * TOKEN
    assert p.escrow_balance(world.pool_id, consumer.address) == 0
    assert p.pending_withdrawal(world.pool_id, consumer.address).ready_at == 0


# ------------------------------------------------------------------ settlement


def _post(world: World, epoch: int, amounts: dict[str, int], total: int | None = None) -> Any:
    tree = earnings_tree(amounts)
    total = sum(amounts.values()) if total is None else total
    world.protocol.approve_and_post_root(
        world.pool_id, epoch, tree.root, total, os.urandom(32), sender=world.operator
    )
    return tree


def _claim(world: World, epoch: int, tree: StandardMerkleTree, account: str, sender: Any) -> Any:
    amount = next(int(v) for a, v in tree.values if a == account)
    proof = tree.proof([account, amount])
    return world.protocol.claim(world.pool_id, epoch, account, amount, proof, sender=sender)


def test_post_root_epochs_increase_and_funding_is_pulled(world: World) -> None:
    p = world.protocol
    a, b = world.account(), world.account()
    op_before = p.token_balance(world.operator.address)
    tree = earnings_tree({a.address: 3 * TOKEN, b.address: 2 * TOKEN})
    stranger = world.account()
    with reverts("NotOperator"):
        p.post_root(world.pool_id, 1, tree.root, 5 * TOKEN, bytes(32), sender=stranger)
    with reverts("ERC20InsufficientAllowance"):  # no allowance: nothing can be pulled
        p.post_root(world.pool_id, 1, tree.root, 5 * TOKEN, bytes(32), sender=world.operator)
    p.approve(p.distributor_address, 5 * TOKEN, sender=world.operator)
    result = p.post_root(
        world.pool_id, 1, tree.root, 5 * TOKEN, b"\x07" * 32, sender=world.operator
    )
    assert result.value == 5 * TOKEN
    assert p.funded(world.pool_id) == 5 * TOKEN
    assert op_before - p.token_balance(world.operator.address) == 5 * TOKEN
    info = p.epoch_root(world.pool_id, 1)
    assert info.exists and info.root == tree.root and info.total_cumulative == 5 * TOKEN
    assert info.epoch_file_hash == b"\x07" * 32 and not info.cancelled
    assert info.active_at == world.chain.now() + ACTIVATION_DELAY
    assert p.last_epoch(world.pool_id) == 1
    for stale in (1, 0):
        with reverts("EpochNotIncreasing"):
            p.post_root(
                world.pool_id, stale, tree.root, 5 * TOKEN, bytes(32), sender=world.operator
            )
    # gaps are fine; only the increase of the total is pulled
    _post(world, 3, {a.address: 4 * TOKEN, b.address: 2 * TOKEN})
    assert p.funded(world.pool_id) == 6 * TOKEN
    assert p.last_epoch(world.pool_id) == 3
    assert not p.epoch_root(world.pool_id, 2).exists


def test_claims_follow_the_epoch_life_cycle(world: World) -> None:
    p = world.protocol
    a, b, relayer = world.account(), world.account(), world.account()
    tree1 = _post(world, 1, {a.address: 3 * TOKEN, b.address: 2 * TOKEN})
    with reverts("EpochNotActive"):
        _claim(world, 1, tree1, a.address, a)
    with reverts("EpochNotFound"):
        _claim(world, 2, tree1, a.address, a)
    world.chain.advance_time(ACTIVATION_DELAY)
    assert _claim(world, 1, tree1, a.address, a).value == 3 * TOKEN
    assert p.token_balance(a.address) == 3 * TOKEN
    with reverts("NothingToClaim"):
        _claim(world, 1, tree1, a.address, a)
    # a proof for another account does not work for a
    amount_b = 2 * TOKEN
    with reverts("InvalidProof"):
        p.claim(world.pool_id, 1, a.address, amount_b, tree1.proof([b.address, amount_b]), sender=a)
    # a later epoch with a larger cumulative pays only the difference
    tree2 = _post(world, 2, {a.address: 7 * TOKEN, b.address: 2 * TOKEN})
    world.chain.advance_time(ACTIVATION_DELAY)
    assert _claim(world, 2, tree2, a.address, a).value == 4 * TOKEN
    assert p.claimed(world.pool_id, a.address) == 7 * TOKEN
    # a third party sends the claim; the leaf's account is paid
    relayer_before = p.token_balance(relayer.address)
    result = _claim(world, 2, tree2, b.address, relayer)
    assert result.value == 2 * TOKEN
    assert result.event("Claimed")["account"] == b.address
    assert p.token_balance(b.address) == 2 * TOKEN
    assert p.token_balance(relayer.address) == relayer_before
    # b already has everything; epoch 1's smaller leaf pays nothing
    with reverts("NothingToClaim"):
        _claim(world, 1, tree1, b.address, b)
    assert p.total_claimed(world.pool_id) == 9 * TOKEN == p.funded(world.pool_id)


def test_guardian_cancels_before_activation(world: World) -> None:
    p = world.protocol
    a = world.account()
    tree = _post(world, 1, {a.address: TOKEN})
    with reverts("NotGuardian"):
        p.cancel_root(world.pool_id, 1, sender=world.operator)
    with reverts("EpochNotFound"):
        p.cancel_root(world.pool_id, 5, sender=world.guardian)
    result = p.cancel_root(world.pool_id, 1, sender=world.guardian)
    assert result.event("RootCancelled")["guardian"] == world.guardian.address
    assert p.epoch_root(world.pool_id, 1).cancelled
    with reverts("EpochCancelled"):
        p.cancel_root(world.pool_id, 1, sender=world.guardian)
    world.chain.advance_time(ACTIVATION_DELAY)
    with reverts("EpochCancelled"):
        _claim(world, 1, tree, a.address, a)
    # the funding stayed; a corrected root in a later epoch pulls nothing more
    fixed = _post(world, 2, {a.address: TOKEN})
    assert p.funded(world.pool_id) == TOKEN
    world.chain.advance_time(ACTIVATION_DELAY)
    with reverts("EpochAlreadyActive"):
        p.cancel_root(world.pool_id, 2, sender=world.guardian)
    assert _claim(world, 2, fixed, a.address, a).value == TOKEN


def test_total_claimed_never_exceeds_funded(world: World) -> None:
    p = world.protocol
    accounts = [world.account() for _ in range(3)]
    amounts = {acct.address: 4 * TOKEN for acct in accounts}
    tree = _post(world, 1, amounts, total=10 * TOKEN)  # the leaves promise 12, funding is 10
    world.chain.advance_time(ACTIVATION_DELAY)
    _claim(world, 1, tree, accounts[0].address, accounts[0])
    _claim(world, 1, tree, accounts[1].address, accounts[1])
    with reverts("InsufficientFunding"):
        _claim(world, 1, tree, accounts[2].address, accounts[2])
    assert p.total_claimed(world.pool_id) == 8 * TOKEN <= p.funded(world.pool_id) == 10 * TOKEN
    assert p.token_balance(p.distributor_address) >= p.funded(world.pool_id) - p.total_claimed(
        world.pool_id
    )


# ------------------------------------------------------------------------- gas


def test_gas_report(world: World, protocol: Protocol, capsys: pytest.CaptureFixture[str]) -> None:
    """Measure each operation once and print a table (run with -s to see it)."""
    p, op = protocol, world.operator
    gas: dict[str, int] = {}
    gas["createPool"] = p.create_pool(
        sender=op,
        guardian=world.guardian.address,
        search_price=1,
        predict_price=2,
        operator_fee_bps=100,
        builder_share_bps=200,
        metadata_hash=os.urandom(32),
    ).gas_used
    tree, contributors = contribution_tree(world, 1024, funded=0)
    gas["anchorBatch (1024 records)"] = p.anchor_batch(
        world.pool_id, tree.root, len(tree), "ipfs://bafy-batch", sender=op
    ).gas_used
    record_id, owner_address = tree.at(0)
    owner = next(c for c in contributors if c.address == owner_address)
    world.chain.fund(owner.address, 10**17)
    gas["revoke (depth 10)"] = p.revoke(
        world.pool_id, 1, record_id, tree.proof(0), sender=owner
    ).gas_used
    gas["registerModel"] = p.register_model(
        world.pool_id, os.urandom(32), os.urandom(32), os.urandom(32), "hf://m", sender=op
    ).gas_used
    consumer = world.account(tokens=100 * TOKEN)
    gas["approve"] = p.approve(p.escrow_address, 100 * TOKEN, sender=consumer).gas_used
    gas["deposit (first)"] = p.deposit(world.pool_id, 50 * TOKEN, sender=consumer).gas_used
    gas["deposit (again)"] = p.deposit(world.pool_id, 50 * TOKEN, sender=consumer).gas_used
    domain = p.voucher_domain()
    v = Voucher(consumer.address, world.pool_id, TOKEN)
    gas["redeem (first for payer)"] = p.redeem(
        v, sign_voucher(v, domain, consumer), sender=op
    ).gas_used
    v = Voucher(consumer.address, world.pool_id, 2 * TOKEN)
    gas["redeem (again)"] = p.redeem(v, sign_voucher(v, domain, consumer), sender=op).gas_used
    payers = [_consumer(world, 10 * TOKEN) for _ in range(10)]
    items = []
    for c in payers:
        vv = Voucher(c.address, world.pool_id, TOKEN)
        items.append((vv, sign_voucher(vv, domain, c)))
    gas["redeemMany (10 vouchers)"] = p.redeem_many(items, sender=op).gas_used
    gas["requestWithdraw"] = p.request_withdraw(world.pool_id, TOKEN, sender=consumer).gas_used
    world.chain.advance_time(THAW_PERIOD)
    gas["withdraw"] = p.withdraw(world.pool_id, sender=consumer).gas_used
    world.protocol.mint(op.address, 10_000 * TOKEN, sender=world.deployer)
    earners = [Account.create().address for _ in range(1024)]
    etree = earnings_tree({a: TOKEN for a in earners})
    p.approve(p.distributor_address, 1024 * TOKEN, sender=op)
    gas["postRoot (with funding pull)"] = p.post_root(
        world.pool_id, 1, etree.root, 1024 * TOKEN, os.urandom(32), sender=op
    ).gas_used
    world.chain.advance_time(ACTIVATION_DELAY)
    gas["claim (first, depth 10)"] = _claim(world, 1, etree, earners[0], op).gas_used
    gas["claim (second account, depth 10)"] = _claim(world, 1, etree, earners[1], op).gas_used
    etree2 = earnings_tree({a: 2 * TOKEN for a in earners})
    p.approve(p.distributor_address, 1024 * TOKEN, sender=op)
    gas["postRoot (epoch 2)"] = p.post_root(
        world.pool_id, 2, etree2.root, 2048 * TOKEN, os.urandom(32), sender=op
    ).gas_used
    gas["cancelRoot"] = p.cancel_root(world.pool_id, 2, sender=world.guardian).gas_used
    p.approve(p.distributor_address, 0, sender=op)
    p.post_root(world.pool_id, 3, etree2.root, 2048 * TOKEN, os.urandom(32), sender=op)
    world.chain.advance_time(ACTIVATION_DELAY)
    gas["claim (repeat, cumulative)"] = _claim(world, 3, etree2, earners[0], op).gas_used
    with capsys.disabled():
        print(f"\n\ngas used on {world.chain.url} (solc 0.8.37 -O200 cancun, OZ 5.7.0)")
        for name, used in gas.items():
            print(f"  {name:<36} {used:>9,}")
    assert all(0 < used < 500_000 for used in gas.values())


# ----------------------------------------------------------------- the client


def test_client_plumbing(world: World) -> None:
    chain, p = world.chain, world.protocol
    # raw calls are decoded too
    data = bytes.fromhex("a9059cbb") + bytes(64)  # transfer(0x0, 0)
    with reverts("ERC20InvalidReceiver"):
        chain.send_transaction(world.operator, p.token_address, data)
    # a transaction that runs out of gas is mined as failed and reported
    with pytest.raises(ChainError) as info:
        chain.send_transaction(world.deployer, p.token_address, _mint_calldata(p), gas=30_000)
    assert info.value.details["reason"] == "Reverted"
    # attach() finds the same deployment, with either naming
    again = chain.attach({k.lower(): v for k, v in _short_names(p).items()})
    assert again.addresses == p.addresses
    assert again.get_pool(world.pool_id) == p.get_pool(world.pool_id)
    with pytest.raises(ConfigError):
        chain.attach({"FairToken": p.token_address})
    # time only moves forward; snapshots restore state
    now = chain.now()
    assert chain.advance_time(100) >= now + 100
    snap = chain.snapshot()
    p.mint(world.operator.address, 5, sender=world.deployer)
    chain.revert(snap)
    assert p.token_balance(world.operator.address) == 1000 * TOKEN


def _mint_calldata(p: Protocol) -> bytes:
    from fairwheel.chain.abi import contract_abi

    return contract_abi("FairToken").encode_call("mint", [p.token_address, 1])


def _short_names(p: Protocol) -> dict[str, str]:
    return {
        "token": p.token_address,
        "registry": p.registry_address,
        "escrow": p.escrow_address,
        "distributor": p.distributor_address,
    }
