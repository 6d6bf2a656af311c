"""Every function and revert path of the contracts, through the typed client, on both backends."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account

from fairwheel.chain import Chain, Protocol, StakeInfo, StakeRole
from fairwheel.chain.permit import Permit, sign_permit, split_signature
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
    anvil_url,
    chain,
    chain_url,
    deployer,
    protocol,
    reverts,
    world,
)

# the fixtures, re-exported for pytest
__all__ = ["anvil_url", "chain", "chain_url", "deployer", "protocol", "world"]

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


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


# ----------------------------------------------------------------- more reverts


def test_zero_addresses_are_refused(world: World) -> None:
    zero = "0x" + "00" * 20
    with reverts("ZeroAddress"):
        world.new_pool(guardian=zero)
    with reverts("ZeroAddress"):
        world.new_pool(token=zero)


def test_only_the_owner_mints(world: World) -> None:
    with reverts("OwnableUnauthorizedAccount"):
        world.protocol.mint(world.operator.address, 1, sender=world.operator)


def test_deposit_reverts(world: World) -> None:
    p = world.protocol
    consumer = world.account(tokens=5 * TOKEN)
    with reverts("ZeroAmount"):
        p.deposit(world.pool_id, 0, sender=consumer)
    with reverts("PoolNotFound"):
        p.deposit(10**9, TOKEN, sender=consumer)
    with reverts("ERC20InsufficientAllowance"):
        p.deposit(world.pool_id, TOKEN, sender=consumer)
    p.approve(p.escrow_address, 10 * TOKEN, sender=consumer)
    with reverts("ERC20InsufficientBalance"):
        p.deposit(world.pool_id, 6 * TOKEN, sender=consumer)
    result = p.deposit(world.pool_id, 5 * TOKEN, sender=consumer)
    assert result.event("Deposited") == {
        "poolId": world.pool_id,
        "payer": consumer.address,
        "amount": 5 * TOKEN,
        "balance": 5 * TOKEN,
    }
    with reverts("ZeroAmount"):
        p.request_withdraw(world.pool_id, 0, sender=consumer)


def test_redeem_many_reverts(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 10 * TOKEN)
    v = Voucher(consumer.address, world.pool_id, TOKEN)
    sig = sign_voucher(v, p.voucher_domain(), consumer)
    with reverts("NotOperator"):
        p.redeem_many([(v, sig)], sender=consumer)
    from fairwheel.chain.abi import contract_abi

    calldata = contract_abi("UsageEscrow").encode_call(
        "redeemMany", [world.pool_id, [consumer.address], [TOKEN, TOKEN], [sig]]
    )
    with reverts("LengthMismatch"):
        world.chain.send_transaction(world.operator, p.escrow_address, calldata)
    with pytest.raises(ValueError):
        p.redeem_many([], sender=world.operator)
    other = world.new_pool()
    with pytest.raises(ValueError):
        p.redeem_many([(v, sig), (Voucher(consumer.address, other, 1), sig)], sender=world.operator)


def test_post_root_reverts(world: World) -> None:
    p = world.protocol
    with reverts("ZeroRoot"):
        p.post_root(world.pool_id, 1, bytes(32), 0, bytes(32), sender=world.operator)
    with reverts("PoolNotFound"):
        p.post_root(10**9, 1, os.urandom(32), 0, bytes(32), sender=world.operator)
    # a root that needs no funding pulls nothing (and needs no allowance)
    result = p.post_root(world.pool_id, 1, os.urandom(32), 0, bytes(32), sender=world.operator)
    assert result.value == 0 and p.funded(world.pool_id) == 0


def test_anyone_can_fund_a_pool(world: World) -> None:
    p = world.protocol
    donor = world.account(tokens=10 * TOKEN)
    with reverts("ZeroAmount"):
        p.fund(world.pool_id, 0, sender=donor)
    with reverts("PoolNotFound"):
        p.fund(10**9, TOKEN, sender=donor)
    with reverts("ERC20InsufficientAllowance"):
        p.fund(world.pool_id, TOKEN, sender=donor)
    p.approve(p.distributor_address, 4 * TOKEN, sender=donor)
    result = p.fund(world.pool_id, 4 * TOKEN, sender=donor)
    assert result.value == 4 * TOKEN
    assert result.event("Funded") == {
        "poolId": world.pool_id,
        "from": donor.address,
        "amount": 4 * TOKEN,
        "funded": 4 * TOKEN,
    }
    # the operator's next root pulls only what the donation does not cover
    a = world.account()
    before = p.token_balance(world.operator.address)
    _post(world, 1, {a.address: 5 * TOKEN})
    assert before - p.token_balance(world.operator.address) == TOKEN
    assert p.funded(world.pool_id) == 5 * TOKEN


# ------------------------------------------------------------------------ pause


def test_pause_is_the_guardians(world: World) -> None:
    p = world.protocol
    with reverts("NotGuardian"):
        p.pause(world.pool_id, sender=world.operator)
    with reverts("PoolNotFound"):
        p.pause(10**9, sender=world.guardian)
    with reverts("PoolNotPaused"):
        p.unpause(world.pool_id, sender=world.guardian)
    result = p.pause(world.pool_id, sender=world.guardian)
    assert result.event("PoolPaused") == {
        "poolId": world.pool_id,
        "guardian": world.guardian.address,
    }
    assert p.is_paused(world.pool_id)
    with reverts("PoolIsPaused"):
        p.pause(world.pool_id, sender=world.guardian)
    with reverts("NotGuardian"):
        p.unpause(world.pool_id, sender=world.operator)
    p.unpause(world.pool_id, sender=world.guardian)
    assert not p.is_paused(world.pool_id)
    # another pool is not affected by this pool's pause
    p.pause(world.pool_id, sender=world.guardian)
    other = world.new_pool()
    assert not p.is_paused(other)
    p.anchor_batch(other, os.urandom(32), 1, "x", sender=world.operator)


def test_pause_stops_new_state_but_never_exits(world: World) -> None:
    p, op, g, pool = world.protocol, world.operator, world.guardian, world.pool_id
    tree, contributors = contribution_tree(world, 2)
    p.anchor_batch(pool, tree.root, len(tree), "b", sender=op)
    consumer = _consumer(world, 10 * TOKEN)
    staker = world.account(tokens=10 * TOKEN)
    p.approve_and_stake(pool, StakeRole.LABELER, 5 * TOKEN, sender=staker)
    p.approve(p.staking_address, 5 * TOKEN, sender=staker)
    a = world.account()
    active = _post(world, 1, {a.address: 2 * TOKEN})
    world.chain.advance_time(ACTIVATION_DELAY)
    _post(world, 2, {a.address: 3 * TOKEN})  # still in its activation delay
    v = Voucher(consumer.address, pool, 2 * TOKEN)
    voucher_sig = sign_voucher(v, p.voucher_domain(), consumer)
    p.request_withdraw(pool, 3 * TOKEN, sender=consumer)
    p.request_unstake(pool, StakeRole.LABELER, TOKEN, sender=staker)

    p.pause(pool, sender=g)
    # stopped: new state or new money
    with reverts("PoolIsPaused"):
        p.anchor_batch(pool, os.urandom(32), 1, "x", sender=op)
    with reverts("PoolIsPaused"):
        p.register_model(pool, os.urandom(32), os.urandom(32), os.urandom(32), "m", sender=op)
    with reverts("PoolIsPaused"):
        p.deposit(pool, TOKEN, sender=consumer)
    with reverts("PoolIsPaused"):
        p.deposit_with_permit(pool, TOKEN, sender=consumer)
    with reverts("PoolIsPaused"):
        p.post_root(pool, 9, os.urandom(32), 0, bytes(32), sender=op)
    with reverts("PoolIsPaused"):
        p.stake(pool, StakeRole.LABELER, TOKEN, sender=staker)
    # never stopped: exits and settling what was signed
    record_id, owner_address = tree.at(0)
    owner = next(c for c in contributors if c.address == owner_address)
    p.revoke(pool, 1, record_id, tree.proof(0), sender=owner)
    assert p.redeem(v, voucher_sig, sender=op).value == 2 * TOKEN
    assert _claim(world, 1, active, a.address, a).value == 2 * TOKEN
    p.cancel_root(pool, 2, sender=g)
    p.slash(pool, staker.address, StakeRole.LABELER, TOKEN, os.urandom(32), sender=g)
    world.chain.advance_time(THAW_PERIOD)
    assert p.withdraw(pool, sender=consumer).value == 3 * TOKEN
    assert p.unstake(pool, StakeRole.LABELER, sender=staker).value == TOKEN
    p.unpause(pool, sender=g)
    p.anchor_batch(pool, os.urandom(32), 1, "again", sender=op)


# ----------------------------------------------------------------------- permit


def test_deposit_with_permit_needs_no_approval(world: World) -> None:
    p = world.protocol
    consumer = world.account(tokens=10 * TOKEN)
    assert p.allowance(consumer.address, p.escrow_address) == 0
    nonce = p.permit_nonce(consumer.address)
    result = p.deposit_with_permit(world.pool_id, 4 * TOKEN, sender=consumer)
    assert result.value == 4 * TOKEN
    assert p.escrow_balance(world.pool_id, consumer.address) == 4 * TOKEN
    assert p.permit_nonce(consumer.address) == nonce + 1
    assert p.allowance(consumer.address, p.escrow_address) == 0
    domain = p.token_domain()
    assert (domain.name, domain.version, domain.chain_id) == (
        "Fairwheel Token",
        "1",
        world.chain.chain_id,
    )
    with reverts("ZeroAmount"):
        p.deposit_with_permit(world.pool_id, 0, sender=consumer)


def test_permit_replay_expiry_and_front_running(world: World) -> None:
    p = world.protocol
    consumer = world.account(tokens=10 * TOKEN)
    deadline = world.chain.now() + 600
    permit = Permit(consumer.address, p.escrow_address, 2 * TOKEN, 0, deadline)
    signature = sign_permit(permit, p.token_domain(), consumer)
    p.deposit_with_permit(
        world.pool_id, 2 * TOKEN, sender=consumer, deadline=deadline, signature=signature
    )
    # the same permit again: the token refuses it (nonce used), and there is no allowance left
    with reverts("ERC20InsufficientAllowance"):
        p.deposit_with_permit(
            world.pool_id, 2 * TOKEN, sender=consumer, deadline=deadline, signature=signature
        )
    # a griefer submits the next permit to the token first: the deposit still goes through
    permit = Permit(consumer.address, p.escrow_address, TOKEN, 1, deadline)
    signature = sign_permit(permit, p.token_domain(), consumer)
    v, r, s = split_signature(signature)
    griefer = world.account()
    world.chain.send_transaction(
        griefer,
        p.token_address,
        _token_call("permit", [consumer.address, p.escrow_address, TOKEN, deadline, v, r, s]),
    )
    assert p.allowance(consumer.address, p.escrow_address) == TOKEN
    result = p.deposit_with_permit(
        world.pool_id, TOKEN, sender=consumer, deadline=deadline, signature=signature
    )
    assert result.value == TOKEN
    # an expired permit sets no allowance
    world.chain.advance_time(601)
    with reverts("ERC20InsufficientAllowance"):
        p.deposit_with_permit(world.pool_id, TOKEN, sender=consumer, deadline=deadline)
    # a permit for someone else's tokens credits nobody: the caller is always the owner
    other = world.account(tokens=TOKEN)
    stolen = sign_permit(
        Permit(other.address, p.escrow_address, TOKEN, 0, world.chain.now() + 600),
        p.token_domain(),
        other,
    )
    with reverts("ERC20InsufficientAllowance"):
        p.deposit_with_permit(
            world.pool_id,
            TOKEN,
            sender=consumer,
            deadline=world.chain.now() + 600,
            signature=stolen,
        )


def _token_call(fn: str, args: list[Any]) -> bytes:
    from fairwheel.chain.abi import contract_abi

    return contract_abi("FairToken").encode_call(fn, args)


# ---------------------------------------------------------------------- staking


def test_stake_unstake_life_cycle(world: World) -> None:
    p, pool = world.protocol, world.pool_id
    labeler = world.account(tokens=10 * TOKEN)
    result = p.approve_and_stake(pool, StakeRole.LABELER, 6 * TOKEN, sender=labeler)
    assert result.value == 6 * TOKEN
    assert result.event("Staked")["role"] == StakeRole.LABELER
    p.approve_and_stake(pool, StakeRole.RATER, TOKEN, sender=labeler)
    assert p.stake_of(pool, labeler.address, StakeRole.LABELER) == StakeInfo(6 * TOKEN, 0, 0)
    assert p.total_staked(pool) == 7 * TOKEN
    ready = p.request_unstake(pool, StakeRole.LABELER, 2 * TOKEN, sender=labeler).value
    assert ready == world.chain.now() + p.unstake_delay()
    info = p.stake_of(pool, labeler.address, StakeRole.LABELER)
    assert info == StakeInfo(4 * TOKEN, 2 * TOKEN, ready) and info.total == 6 * TOKEN
    with reverts("UnstakeNotReady"):
        p.unstake(pool, StakeRole.LABELER, sender=labeler)
    world.chain.advance_time(p.unstake_delay() // 2)
    # a second request adds to the unbonding stake and restarts its delay
    ready2 = p.request_unstake(pool, StakeRole.LABELER, TOKEN, sender=labeler).value
    assert ready2 > ready
    world.chain.advance_time(p.unstake_delay() // 2 + 1)
    with reverts("UnstakeNotReady"):
        p.unstake(pool, StakeRole.LABELER, sender=labeler)
    world.chain.advance_time(p.unstake_delay())
    before = p.token_balance(labeler.address)
    assert p.unstake(pool, StakeRole.LABELER, sender=labeler).value == 3 * TOKEN
    assert p.token_balance(labeler.address) - before == 3 * TOKEN
    assert p.stake_of(pool, labeler.address, StakeRole.LABELER) == StakeInfo(3 * TOKEN, 0, 0)
    assert p.total_staked(pool) == 4 * TOKEN
    with reverts("NothingToUnstake"):
        p.unstake(pool, StakeRole.LABELER, sender=labeler)


def test_staking_reverts(world: World) -> None:
    p, pool = world.protocol, world.pool_id
    staker = world.account(tokens=10 * TOKEN)
    p.approve(p.staking_address, 20 * TOKEN, sender=staker)
    with reverts("ZeroAmount"):
        p.stake(pool, StakeRole.RATER, 0, sender=staker)
    with reverts("PoolNotFound"):
        p.stake(10**9, StakeRole.RATER, TOKEN, sender=staker)
    with reverts("NotOperator"):  # operator stakes are the operator's
        p.stake(pool, StakeRole.OPERATOR, TOKEN, sender=staker)
    with reverts("ERC20InsufficientBalance"):
        p.stake(pool, StakeRole.RATER, 11 * TOKEN, sender=staker)
    p.stake(pool, StakeRole.RATER, TOKEN, sender=staker)
    with reverts("ZeroAmount"):
        p.request_unstake(pool, StakeRole.RATER, 0, sender=staker)
    with reverts("InsufficientStake"):
        p.request_unstake(pool, StakeRole.RATER, 2 * TOKEN, sender=staker)
    with reverts("InsufficientStake"):  # stakes are per role
        p.request_unstake(pool, StakeRole.LABELER, TOKEN, sender=staker)
    with reverts("NothingToUnstake"):
        p.unstake(pool, StakeRole.RATER, sender=staker)
    assert p.approve_and_stake(pool, StakeRole.OPERATOR, TOKEN, sender=world.operator).value
    with pytest.raises(ChainError):  # not a role
        p.stake(pool, 3, TOKEN, sender=staker)


def test_guardian_slashes_into_the_pool(world: World) -> None:
    p, pool, g = world.protocol, world.pool_id, world.guardian
    labeler = world.account(tokens=10 * TOKEN)
    p.approve_and_stake(pool, StakeRole.LABELER, 10 * TOKEN, sender=labeler)
    p.request_unstake(pool, StakeRole.LABELER, 6 * TOKEN, sender=labeler)
    evidence = os.urandom(32)
    with reverts("NotGuardian"):
        p.slash(pool, labeler.address, StakeRole.LABELER, TOKEN, evidence, sender=world.operator)
    with reverts("PoolNotFound"):
        p.slash(10**9, labeler.address, StakeRole.LABELER, TOKEN, evidence, sender=g)
    with reverts("ZeroAmount"):
        p.slash(pool, labeler.address, StakeRole.LABELER, 0, evidence, sender=g)
    with reverts("MissingEvidence"):
        p.slash(pool, labeler.address, StakeRole.LABELER, TOKEN, bytes(32), sender=g)
    with reverts("InsufficientStake"):
        p.slash(pool, labeler.address, StakeRole.LABELER, 11 * TOKEN, evidence, sender=g)
    funded, held = p.funded(pool), p.token_balance(p.distributor_address)
    # active stake goes first, then unbonding stake: leaving does not escape a slash
    result = p.slash(pool, labeler.address, StakeRole.LABELER, 5 * TOKEN, evidence, sender=g)
    assert result.event("Slashed") == {
        "poolId": pool,
        "account": labeler.address,
        "role": StakeRole.LABELER,
        "amount": 5 * TOKEN,
        "evidenceHash": evidence,
        "guardian": g.address,
    }
    assert result.event("Funded")["amount"] == 5 * TOKEN
    info = p.stake_of(pool, labeler.address, StakeRole.LABELER)
    assert (info.staked, info.unbonding) == (0, 5 * TOKEN)
    assert p.funded(pool) == funded + 5 * TOKEN
    assert p.token_balance(p.distributor_address) == held + 5 * TOKEN
    assert p.total_staked(pool) == 5 * TOKEN
    world.chain.advance_time(p.unstake_delay())
    assert p.unstake(pool, StakeRole.LABELER, sender=labeler).value == 5 * TOKEN


def test_delay_rules_are_enforced_at_deployment(
    chain: Chain, deployer: Any, protocol: Protocol
) -> None:
    from eth_abi import encode

    from fairwheel.chain.artifacts import bytecode_of
    from fairwheel.chain.deployment import protocol_delays

    p = protocol
    for name, types, args, reason in [
        ("UsageEscrow", ["address", "uint64", "uint64"], [p.registry_address, 100, 100],
         "ThawTooShort"),
        ("Staking", ["address", "address", "uint64"],
         [p.registry_address, p.distributor_address, ACTIVATION_DELAY], "UnstakeDelayTooShort"),
    ]:  # fmt: skip
        code = bytecode_of(name) + encode(types, args)
        with reverts(reason):
            chain.send_transaction(deployer, None, code)
    assert p.thaw_period() == THAW_PERIOD > p.redemption_window()
    assert p.unstake_delay() > p.activation_delay() == ACTIVATION_DELAY
    assert protocol_delays(3600, 604800) == (302400, 604800)
    for bad in [(3600, 100, 100, None), (3600, 604800, None, 3600), (-1, 10, None, None)]:
        with pytest.raises(ConfigError):
            protocol_delays(*bad)


@pytest.mark.slow
def test_gas_benchmark_runs() -> None:
    """benchmarks/gas.py measures every operation and prints the settlement comparison."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gas.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--calls", "10,1000000"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for needed in ("deploy Staking", "depositWithPermit", "slash", "claim, depth 14"):
        assert needed in out
    assert "1,000,000" in out and "N = 10 run end to end" in out
