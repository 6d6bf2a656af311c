"""Attacks on the protocol, tried for real on both backends; each must fail, or pay no one wrongly.

Voucher replay on another chain, another contract, another pool and another payer; malleable and
malformed signatures; second-preimage leaves; claims for another account; re-entrant and quirky
tokens; roots swapped while a claim is in flight; draining another pool; withdrawing ahead of a
redemption.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from fairwheel.chain import Chain, StakeRole, connect_chain
from fairwheel.chain.abi import contract_abi
from fairwheel.chain.client import _ANVIL_DEV_KEY
from fairwheel.domain.merkle import (
    CONTRIBUTION_ENCODING,
    EARNINGS_ENCODING,
    StandardMerkleTree,
    keccak256,
    process_proof,
)
from fairwheel.domain.typed_data import (
    Revocation,
    Voucher,
    sign_revocation,
    sign_voucher,
    verify_voucher,
    voucher_domain,
)
from fairwheel.errors import ChainError, SignatureError
from tests.chain_fixtures import (
    ACTIVATION_DELAY,
    REDEMPTION_WINDOW,
    THAW_PERIOD,
    TOKEN,
    Deployed,
    World,
    anvil_binary,
    anvil_url,
    chain,
    chain_url,
    deploy_test_contract,
    deployer,
    protocol,
    reverts,
    run_anvil,
    world,
)

# the fixtures, re-exported for pytest
__all__ = ["anvil_url", "chain", "chain_url", "deployer", "protocol", "world"]

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ESCROW = contract_abi("UsageEscrow")
DISTRIBUTOR = contract_abi("RewardDistributor")
STAKING = contract_abi("Staking")
TOKEN_ABI = contract_abi("FairToken")


def _consumer(world: World, amount: int, pool: int | None = None) -> Any:
    consumer = world.account(tokens=amount)
    world.protocol.approve_and_deposit(pool or world.pool_id, amount, sender=consumer)
    return consumer


def _signed(world: World, consumer: Any, amount: int, pool: int | None = None) -> Any:
    v = Voucher(consumer.address, pool or world.pool_id, amount)
    return v, sign_voucher(v, world.protocol.voucher_domain(), consumer)


def _tree(amounts: dict[str, int]) -> StandardMerkleTree:
    return StandardMerkleTree.of([[a, v] for a, v in amounts.items()], EARNINGS_ENCODING)


def _post(world: World, epoch: int, amounts: dict[str, int], pool: int | None = None) -> Any:
    tree = _tree(amounts)
    world.protocol.approve_and_post_root(
        pool or world.pool_id,
        epoch,
        tree.root,
        sum(amounts.values()),
        os.urandom(32),
        sender=world.operator,
    )
    return tree


# ------------------------------------------------------------------ voucher replay


@contextlib.contextmanager
def _other_chain(chain_url: str) -> Iterator[Chain]:
    """A second chain with another chain id: embedded if this one is a node, else anvil."""
    if not chain_url.startswith("embedded://"):
        yield connect_chain("embedded://")
        return
    binary = anvil_binary()
    if binary is None:
        pytest.skip("anvil binary missing: run `npm ci` in contracts/")
    with run_anvil(binary, chain_id=31338) as url:
        yield connect_chain(url, funder_key=_ANVIL_DEV_KEY)


def test_voucher_replay_on_another_chain_with_the_same_addresses(
    chain: Chain, chain_url: str
) -> None:
    """The same deployer at the same nonce gets the same addresses on two chains; the voucher's
    domain still differs by chain id, so a voucher from one chain is worthless on the other."""
    key = Account.create()
    with _other_chain(chain_url) as other:
        deployments = []
        for c in (chain, other):
            c.fund(key.address, 10**19)
            p = c.deploy(key)
            pool = p.create_pool(
                sender=key,
                guardian=key.address,
                search_price=1,
                predict_price=1,
                operator_fee_bps=0,
                builder_share_bps=0,
                metadata_hash=bytes(32),
            ).value
            deployments.append((c, p, pool))
        (_, p1, pool1), (_, p2, pool2) = deployments
        assert p1.addresses == p2.addresses and pool1 == pool2
        assert p1.chain.chain_id != p2.chain.chain_id
        consumer = Account.create()
        for c, p, pool in deployments:
            c.fund(consumer.address, 10**18)
            p.mint(consumer.address, 10 * TOKEN, sender=key)
            p.approve_and_deposit(pool, 10 * TOKEN, sender=consumer)
        v = Voucher(consumer.address, pool1, 4 * TOKEN)
        signature = sign_voucher(v, p1.voucher_domain(), consumer)
        with reverts("InvalidSigner"):
            p2.redeem(v, signature, sender=key)
        assert p1.redeem(v, signature, sender=key).value == 4 * TOKEN
        assert p2.escrow_balance(pool2, consumer.address) == 10 * TOKEN


def test_voucher_replay_on_another_escrow(world: World, chain: Chain) -> None:
    second = chain.deploy(world.deployer)
    pool2 = second.create_pool(
        sender=world.operator,
        guardian=world.guardian.address,
        search_price=1,
        predict_price=1,
        operator_fee_bps=0,
        builder_share_bps=0,
        metadata_hash=bytes(32),
        token=world.protocol.token_address,
    ).value
    consumer = world.account(tokens=5 * TOKEN)
    second.approve(
        second.escrow_address, 5 * TOKEN, sender=consumer, token=world.protocol.token_address
    )
    second.deposit(pool2, 5 * TOKEN, sender=consumer)
    # the same payer, pool id and amount, signed for the first escrow, shown to the second
    v = Voucher(consumer.address, pool2, 2 * TOKEN)
    signature = sign_voucher(v, world.protocol.voucher_domain(), consumer)
    with reverts("InvalidSigner"):
        second.redeem(v, signature, sender=world.operator)
    good = sign_voucher(v, second.voucher_domain(), consumer)
    assert second.redeem(v, good, sender=world.operator).value == 2 * TOKEN


def test_voucher_replay_on_another_pool_or_payer(world: World) -> None:
    p = world.protocol
    other_pool = world.new_pool()
    consumer = _consumer(world, 10 * TOKEN)
    p.mint(consumer.address, 10 * TOKEN, sender=world.deployer)
    p.approve_and_deposit(other_pool, 10 * TOKEN, sender=consumer)
    _, signature = _signed(world, consumer, 3 * TOKEN)
    with reverts("InvalidSigner"):  # same operator, same payer, another pool
        p.redeem(Voucher(consumer.address, other_pool, 3 * TOKEN), signature, sender=world.operator)
    victim = _consumer(world, 10 * TOKEN)
    with reverts("InvalidSigner"):  # presented as if another payer had signed it
        p.redeem(
            Voucher(victim.address, world.pool_id, 3 * TOKEN), signature, sender=world.operator
        )
    with reverts("InvalidSigner"):  # a larger amount than signed
        p.redeem(
            Voucher(consumer.address, world.pool_id, 3 * TOKEN + 1),
            signature,
            sender=world.operator,
        )
    assert p.redeemed(other_pool, consumer.address) == 0
    assert p.redeemed(world.pool_id, victim.address) == 0


# -------------------------------------------------------------------- signatures


def _high_s(signature: bytes) -> bytes:
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (N - s).to_bytes(32, "big") + bytes([55 - v])


def test_malleable_and_malformed_signatures(world: World) -> None:
    p = world.protocol
    consumer = _consumer(world, 10 * TOKEN)
    v, good = _signed(world, consumer, TOKEN)
    twin = _high_s(good)
    # the twin recovers to the same key under raw secp256k1, yet both sides refuse it
    with pytest.raises(SignatureError):
        verify_voucher(v, p.voucher_domain(), twin)
    with reverts("ECDSAInvalidSignatureS"):
        p.redeem(v, twin, sender=world.operator)
    with reverts("ECDSAInvalidSignature"):  # v outside {27, 28}
        p.redeem(v, good[:64] + bytes([good[64] - 27]), sender=world.operator)
    with reverts("ECDSAInvalidSignatureLength"):  # EIP-2098 compact signatures are refused
        p.redeem(v, good[:64], sender=world.operator)
    with reverts("ECDSAInvalidSignature"):  # r = 0 recovers nobody
        p.redeem(v, bytes(32) + good[32:], sender=world.operator)
    assert p.redeem(v, good, sender=world.operator).value == TOKEN
    # revocations: the same rules
    contributor = world.account()
    batch = StandardMerkleTree.of([[os.urandom(32), contributor.address]], CONTRIBUTION_ENCODING)
    p.anchor_batch(world.pool_id, batch.root, 1, "b", sender=world.operator)
    record_id, _ = batch.at(0)
    revocation = Revocation(contributor.address, world.pool_id, record_id)
    sig = sign_revocation(revocation, p.consent_domain(), contributor)
    relayer = world.account()
    with reverts("ECDSAInvalidSignatureS"):
        p.revoke_with_sig(
            world.pool_id, 1, record_id, contributor.address, [], _high_s(sig), sender=relayer
        )
    p.revoke_with_sig(world.pool_id, 1, record_id, contributor.address, [], sig, sender=relayer)
    with reverts("AlreadyRevoked"):  # a replayed revocation
        p.revoke_with_sig(world.pool_id, 1, record_id, contributor.address, [], sig, sender=relayer)


# ------------------------------------------------------------------ merkle trees


def test_second_preimage_leaves_are_refused(world: World) -> None:
    """An inner node's two children, 64 bytes like ``abi.encode(a, b)``, never pass as a leaf:
    leaves are hashed twice, inner nodes once."""
    p = world.protocol
    earners = {world.account().address: (i + 1) * TOKEN for i in range(4)}
    tree = _post(world, 1, earners)
    world.chain.advance_time(ACTIVATION_DELAY)
    layout = tree._tree  # the StandardMerkleTree array: node k's children at 2k+1 and 2k+2
    node = 1  # an inner node with two leaf children
    left, right = sorted([layout[2 * node + 1], layout[2 * node + 2]])
    proof_of_node = [layout[2]]  # its sibling, the root's other child
    # a naive single-hashed tree would accept (left, right) as a leaf with the node's proof ...
    assert process_proof(keccak256(left + right), proof_of_node) == tree.root
    # ... the contracts refuse every reading of those 64 bytes as (account, amount)
    as_account = "0x" + left[12:].hex()
    with reverts("InvalidProof"):
        p.claim(
            world.pool_id,
            1,
            as_account,
            int.from_bytes(right, "big"),
            proof_of_node,
            sender=world.operator,
        )
    assert not p.is_anchored(world.pool_id, 1, left, "0x" + right[12:].hex(), proof_of_node)
    # and a leaf of the earnings tree is not a contribution leaf (different encodings)
    account, amount = next(iter(earners.items()))
    as_record = bytes(12) + bytes.fromhex(account[2:])
    as_contributor = "0x" + amount.to_bytes(32, "big")[12:].hex()
    proof = tree.proof([account, amount])
    assert not p.is_anchored(world.pool_id, 1, as_record, as_contributor, proof)


def test_claim_for_another_account_pays_the_leaf(world: World) -> None:
    p = world.protocol
    alice, bob, mallory = world.account(), world.account(), world.account()
    tree = _post(world, 1, {alice.address: 3 * TOKEN, bob.address: TOKEN})
    world.chain.advance_time(ACTIVATION_DELAY)
    alice_proof = tree.proof([alice.address, 3 * TOKEN])
    with reverts("InvalidProof"):  # alice's proof, paid to mallory
        p.claim(world.pool_id, 1, mallory.address, 3 * TOKEN, alice_proof, sender=mallory)
    with reverts("InvalidProof"):  # bob's leaf with alice's amount
        p.claim(world.pool_id, 1, bob.address, 3 * TOKEN, alice_proof, sender=bob)
    # mallory front-runs alice's claim: alice is paid all the same, mallory gets nothing
    before = p.token_balance(mallory.address)
    p.claim(world.pool_id, 1, alice.address, 3 * TOKEN, alice_proof, sender=mallory)
    assert p.token_balance(alice.address) == 3 * TOKEN
    assert p.token_balance(mallory.address) == before
    with reverts("NothingToClaim"):  # alice's own, late transaction
        p.claim(world.pool_id, 1, alice.address, 3 * TOKEN, alice_proof, sender=alice)


def test_a_pool_cannot_drain_another(world: World) -> None:
    p = world.protocol
    honest = world.new_pool()
    victim = world.account()
    _post(world, 1, {victim.address: 50 * TOKEN}, pool=honest)
    thief = world.account()
    crooked = _tree({thief.address: 60 * TOKEN})  # promises 60, funds 1
    p.approve(p.distributor_address, TOKEN, sender=world.operator)
    p.post_root(world.pool_id, 1, crooked.root, TOKEN, bytes(32), sender=world.operator)
    world.chain.advance_time(ACTIVATION_DELAY)
    proof = crooked.proof([thief.address, 60 * TOKEN])
    with reverts("InsufficientFunding"):
        p.claim(world.pool_id, 1, thief.address, 60 * TOKEN, proof, sender=thief)
    assert p.funded(honest) - p.total_claimed(honest) == 50 * TOKEN
    assert p.token_balance(p.distributor_address) >= 51 * TOKEN


# ------------------------------------------------------------- re-entrant tokens


def _evil_pool(world: World) -> tuple[Deployed, int]:
    evil = deploy_test_contract(world.chain, world.deployer, "ReentrantToken")
    pool = world.new_pool(token=evil.address)
    return evil, pool


def _as_token(evil: Deployed, to: str, data: bytes, world: World) -> Any:
    """Make the token contract itself call ``to`` (it is then the payer / staker / earner)."""
    return evil.send("execute", to, data, sender=world.deployer)


def test_reentrant_token_cannot_reenter_the_escrow(world: World) -> None:
    p, (evil, pool) = world.protocol, _evil_pool(world)
    me = evil.address
    evil.send("mint", me, 100 * TOKEN, sender=world.deployer)
    _as_token(evil, me, TOKEN_ABI.encode_call("approve", [p.escrow_address, 2**255]), world)
    # re-entering deposit from inside deposit's transferFrom
    evil.send(
        "arm",
        p.escrow_address,
        ESCROW.encode_call("deposit", [pool, TOKEN]),
        True,
        sender=world.deployer,
    )
    with reverts("ReentrancyGuardReentrantCall"):
        _as_token(evil, p.escrow_address, ESCROW.encode_call("deposit", [pool, 10 * TOKEN]), world)
    evil.send("disarm", sender=world.deployer)
    _as_token(evil, p.escrow_address, ESCROW.encode_call("deposit", [pool, 10 * TOKEN]), world)
    assert p.escrow_balance(pool, me) == 10 * TOKEN
    _as_token(
        evil, p.escrow_address, ESCROW.encode_call("requestWithdraw", [pool, 4 * TOKEN]), world
    )
    world.chain.advance_time(THAW_PERIOD)
    # re-entering withdraw from inside withdraw's transfer: refused; swallowed, it pays once
    withdraw = ESCROW.encode_call("withdraw", [pool])
    evil.send("arm", p.escrow_address, withdraw, True, sender=world.deployer)
    with reverts("ReentrancyGuardReentrantCall"):
        _as_token(evil, p.escrow_address, withdraw, world)
    evil.send("arm", p.escrow_address, withdraw, False, sender=world.deployer)
    _as_token(evil, p.escrow_address, withdraw, world)
    assert (evil.call("successes"), evil.call("attempts")) == (0, 1)  # the swallowed one
    assert p.escrow_balance(pool, me) == 6 * TOKEN
    assert p.token_balance(p.escrow_address, token=evil.address) == 6 * TOKEN
    # re-entering redeem (a voucher replay) from inside redeem's transfer
    payer = world.account()
    evil.send("mint", payer.address, 5 * TOKEN, sender=world.deployer)
    p.approve(p.escrow_address, 5 * TOKEN, sender=payer, token=evil.address)
    p.deposit(pool, 5 * TOKEN, sender=payer)
    v, sig = _signed(world, payer, 2 * TOKEN, pool=pool)
    redeem = ESCROW.encode_call("redeem", [payer.address, pool, 2 * TOKEN, sig])
    evil.send("arm", p.escrow_address, redeem, True, sender=world.deployer)
    with reverts("ReentrancyGuardReentrantCall"):
        p.redeem(v, sig, sender=world.operator)
    evil.send("disarm", sender=world.deployer)
    assert p.redeem(v, sig, sender=world.operator).value == 2 * TOKEN


def test_reentrant_token_cannot_double_claim_or_unstake(world: World) -> None:
    p, (evil, pool) = world.protocol, _evil_pool(world)
    me = evil.address
    evil.send("mint", world.operator.address, 100 * TOKEN, sender=world.deployer)
    tree = _tree({me: 5 * TOKEN, world.account().address: TOKEN})
    p.approve(p.distributor_address, 6 * TOKEN, sender=world.operator, token=evil.address)
    p.post_root(pool, 1, tree.root, 6 * TOKEN, bytes(32), sender=world.operator)
    world.chain.advance_time(ACTIVATION_DELAY)
    proof = tree.proof([me, 5 * TOKEN])
    claim = DISTRIBUTOR.encode_call("claim", [pool, 1, me, 5 * TOKEN, proof])
    evil.send("arm", p.distributor_address, claim, True, sender=world.deployer)
    with reverts("ReentrancyGuardReentrantCall"):
        p.claim(pool, 1, me, 5 * TOKEN, proof, sender=world.operator)
    evil.send("arm", p.distributor_address, claim, False, sender=world.deployer)
    assert p.claim(pool, 1, me, 5 * TOKEN, proof, sender=world.operator).value == 5 * TOKEN
    assert p.total_claimed(pool) == 5 * TOKEN
    assert p.token_balance(me, token=evil.address) == 5 * TOKEN
    # staking: unstake re-entered from inside unstake's transfer
    _as_token(evil, me, TOKEN_ABI.encode_call("approve", [p.staking_address, 2**255]), world)
    _as_token(evil, p.staking_address, STAKING.encode_call("stake", [pool, 0, 4 * TOKEN]), world)
    _as_token(
        evil, p.staking_address, STAKING.encode_call("requestUnstake", [pool, 0, 4 * TOKEN]), world
    )
    world.chain.advance_time(p.unstake_delay())
    unstake = STAKING.encode_call("unstake", [pool, 0])
    evil.send("arm", p.staking_address, unstake, True, sender=world.deployer)
    with reverts("ReentrancyGuardReentrantCall"):
        _as_token(evil, p.staking_address, unstake, world)
    evil.send("arm", p.staking_address, unstake, False, sender=world.deployer)
    _as_token(evil, p.staking_address, unstake, world)
    assert p.stake_of(pool, me, StakeRole.LABELER).total == 0
    assert p.token_balance(me, token=evil.address) == 5 * TOKEN
    assert evil.call("successes") == 0


# ---------------------------------------------------------------- quirky tokens


@pytest.mark.parametrize("fee_bps,returns_bool", [(100, True), (0, False)])
def test_fee_on_transfer_and_no_return_tokens(
    world: World, fee_bps: int, returns_bool: bool
) -> None:
    """Balances credit what arrived; a token that returns nothing works through SafeERC20."""
    p = world.protocol
    quirky = deploy_test_contract(
        world.chain, world.deployer, "QuirkyToken", ["uint256", "bool"], [fee_bps, returns_bool]
    )
    q = quirky.address
    pool = world.new_pool(token=q)
    consumer = world.account()
    quirky.send("mint", consumer.address, 100 * TOKEN, sender=world.deployer)
    quirky.send("mint", world.operator.address, 100 * TOKEN, sender=world.deployer)
    arrived = 100 * TOKEN * (10_000 - fee_bps) // 10_000
    p.approve(p.escrow_address, 100 * TOKEN, sender=consumer, token=q)
    assert p.deposit(pool, 100 * TOKEN, sender=consumer).value == arrived
    assert (
        p.escrow_balance(pool, consumer.address)
        == arrived
        == p.token_balance(p.escrow_address, token=q)
    )
    v, sig = _signed(world, consumer, 10 * TOKEN, pool=pool)
    p.redeem(v, sig, sender=world.operator)
    earner = world.account()
    tree = _tree({earner.address: 10 * TOKEN})
    p.approve(p.distributor_address, 10 * TOKEN, sender=world.operator, token=q)
    pulled = p.post_root(pool, 1, tree.root, 10 * TOKEN, bytes(32), sender=world.operator).value
    assert pulled == p.funded(pool) == 10 * TOKEN * (10_000 - fee_bps) // 10_000
    world.chain.advance_time(ACTIVATION_DELAY)
    proof = tree.proof([earner.address, 10 * TOKEN])
    if fee_bps:  # the root promises more than arrived: the claim cannot eat other pools' money
        with reverts("InsufficientFunding"):
            p.claim(pool, 1, earner.address, 10 * TOKEN, proof, sender=earner)
    else:
        assert p.claim(pool, 1, earner.address, 10 * TOKEN, proof, sender=earner).value
    labeler = world.account()
    quirky.send("mint", labeler.address, 10 * TOKEN, sender=world.deployer)
    p.approve(p.staking_address, 10 * TOKEN, sender=labeler, token=q)
    staked = p.stake(pool, StakeRole.LABELER, 10 * TOKEN, sender=labeler).value
    assert staked == p.token_balance(p.staking_address, token=q)
    p.slash(pool, labeler.address, StakeRole.LABELER, staked, os.urandom(32), sender=world.guardian)
    assert p.token_balance(p.staking_address, token=q) == 0


# -------------------------------------------------------- roots and claims in flight


def _one_block(chain: Chain, calls: list[tuple[Any, str, bytes]]) -> list[int]:
    """Mine ``calls`` (sender, to, calldata) into one block, in order; return their statuses."""
    w3 = chain.w3
    base = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    tester = getattr(chain, "_tester", None)
    if tester is not None:
        tester.disable_auto_mine_transactions()
    else:
        chain._rpc("evm_setAutomine", [False])
    hashes = []
    try:
        for sender, to, data in calls:
            tx = {
                "from": sender.address,
                "to": to,
                "data": "0x" + data.hex(),
                "value": 0,
                "chainId": chain.chain_id,
                "type": 2,
                "maxPriorityFeePerGas": 10**9,
                "maxFeePerGas": 4 * base + 10**9,
                "gas": 1_000_000,
                "nonce": int(w3.eth.get_transaction_count(sender.address, "pending")),
            }
            hashes.append(w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction))
        if tester is not None:
            tester.mine_blocks(1)
        else:
            chain._rpc("evm_mine", [])
    finally:
        if tester is not None:
            tester.enable_auto_mine_transactions()
        else:
            chain._rpc("evm_setAutomine", [True])
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30) for h in hashes]
    assert len({int(r["blockNumber"]) for r in receipts}) == 1
    return [int(r["status"]) for r in receipts]


def test_root_swapped_while_a_claim_is_in_flight(world: World) -> None:
    """A posted epoch's root never changes; a newer root mined just before a claim against an
    older epoch changes nothing about what that claim pays."""
    p, pool = world.protocol, world.pool_id
    alice, bob = world.account(), world.account()
    tree1 = _post(world, 1, {alice.address: 4 * TOKEN, bob.address: TOKEN})
    with reverts("EpochNotIncreasing"):  # no replacing epoch 1's root
        swapped = _tree({bob.address: 5 * TOKEN}).root
        p.post_root(pool, 1, swapped, 0, bytes(32), sender=world.operator)
    world.chain.advance_time(ACTIVATION_DELAY)
    # epoch 2 is mined in the same block, just before alice's claim against epoch 1
    tree2 = _tree({alice.address: 4 * TOKEN, bob.address: 6 * TOKEN})
    p.approve(p.distributor_address, 5 * TOKEN, sender=world.operator)
    post = DISTRIBUTOR.encode_call("postRoot", [pool, 2, tree2.root, 10 * TOKEN, bytes(32)])
    claim = DISTRIBUTOR.encode_call(
        "claim", [pool, 1, alice.address, 4 * TOKEN, tree1.proof([alice.address, 4 * TOKEN])]
    )
    calls = [
        (world.operator, p.distributor_address, post),
        (alice, p.distributor_address, claim),
    ]
    assert _one_block(world.chain, calls) == [1, 1]
    assert p.claimed(pool, alice.address) == 4 * TOKEN == p.token_balance(alice.address)
    assert p.last_epoch(pool) == 2
    world.chain.advance_time(ACTIVATION_DELAY)
    # the same cumulative amount in the newer root pays nothing twice
    with reverts("NothingToClaim"):
        proof = tree2.proof([alice.address, 4 * TOKEN])
        p.claim(pool, 2, alice.address, 4 * TOKEN, proof, sender=alice)
    p.claim(pool, 1, bob.address, TOKEN, tree1.proof([bob.address, TOKEN]), sender=bob)
    proof = tree2.proof([bob.address, 6 * TOKEN])
    assert p.claim(pool, 2, bob.address, 6 * TOKEN, proof, sender=bob).value == 5 * TOKEN
    assert p.total_claimed(pool) == 10 * TOKEN == p.funded(pool)


def test_guardian_cancel_and_claim_in_one_block(world: World) -> None:
    """A claim can never race a cancellation: a root is cancellable only before it is claimable."""
    p, pool = world.protocol, world.pool_id
    alice = world.account()
    tree = _post(world, 1, {alice.address: TOKEN})
    cancel = DISTRIBUTOR.encode_call("cancelRoot", [pool, 1])
    claim = DISTRIBUTOR.encode_call("claim", [pool, 1, alice.address, TOKEN, []])
    statuses = _one_block(
        world.chain,
        [(alice, p.distributor_address, claim), (world.guardian, p.distributor_address, cancel)],
    )
    assert statuses == [0, 1]  # the claim was not yet active; the cancel went through
    assert p.epoch_root(pool, 1).cancelled and tree.root == p.epoch_root(pool, 1).root
    world.chain.advance_time(ACTIVATION_DELAY)
    with reverts("EpochCancelled"):
        p.claim(pool, 1, alice.address, TOKEN, [], sender=alice)


# ------------------------------------------------------------ withdrawal races


def test_withdrawal_cannot_front_run_a_redemption_in_the_window(world: World) -> None:
    p, pool = world.protocol, world.pool_id
    consumer = _consumer(world, 10 * TOKEN)
    assert p.redemption_window() == REDEMPTION_WINDOW < p.thaw_period() == THAW_PERIOD
    v, sig = _signed(world, consumer, 7 * TOKEN)  # accepted by the node now
    p.request_withdraw(pool, 10 * TOKEN, sender=consumer)  # and the consumer runs for the door
    world.chain.advance_time(REDEMPTION_WINDOW)
    with reverts("WithdrawalNotReady"):
        p.withdraw(pool, sender=consumer)
    assert p.redeem(v, sig, sender=world.operator).value == 7 * TOKEN
    world.chain.advance_time(THAW_PERIOD - REDEMPTION_WINDOW)
    assert p.withdraw(pool, sender=consumer).value == 3 * TOKEN
    # re-requesting restarts the thaw: there is no way to shorten it
    consumer2 = _consumer(world, 4 * TOKEN)
    p.request_withdraw(pool, TOKEN, sender=consumer2)
    world.chain.advance_time(THAW_PERIOD - 10)
    p.request_withdraw(pool, 4 * TOKEN, sender=consumer2)
    world.chain.advance_time(20)
    with reverts("WithdrawalNotReady"):
        p.withdraw(pool, sender=consumer2)


def test_no_one_else_moves_a_consumers_funds(world: World) -> None:
    p, pool = world.protocol, world.pool_id
    consumer = _consumer(world, 10 * TOKEN)
    stranger = world.account()
    v, sig = _signed(world, consumer, TOKEN)
    with reverts("NotOperator"):
        p.redeem(v, sig, sender=stranger)
    with reverts("NotOperator"):
        p.redeem_many([(v, sig)], sender=world.guardian)
    with reverts("NoPendingWithdrawal"):  # withdraw only ever pays the caller's own request
        p.withdraw(pool, sender=stranger)
    with reverts("InsufficientEscrow"):
        p.request_withdraw(pool, TOKEN, sender=stranger)
    assert p.escrow_balance(pool, consumer.address) == 10 * TOKEN
    with pytest.raises(ChainError):  # another contract's voucher domain: a different digest
        elsewhere = voucher_domain(world.chain.chain_id, p.token_address)
        p.redeem(v, sign_voucher(v, elsewhere, consumer), sender=world.operator)
