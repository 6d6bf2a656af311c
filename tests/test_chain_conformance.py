"""The chain port's conformance suite: the same behaviour on ``embedded://`` and ``http://``.

Every test runs against the in-process EVM and against anvil, a real JSON-RPC node (see
``tests/chain_fixtures.py``): time, snapshots, accounts, raw transactions, revert decoding,
deployment and attachment, logs, and rebuilding the protocol's state from its events.
"""

from __future__ import annotations

import os

import pytest

from fairwheel.chain import Chain, Protocol, StakeRole, connect_chain
from fairwheel.chain.abi import contract_abi
from fairwheel.chain.events import ProtocolView
from fairwheel.domain.merkle import CONTRIBUTION_ENCODING, EARNINGS_ENCODING, StandardMerkleTree
from fairwheel.domain.typed_data import Voucher, sign_voucher
from fairwheel.errors import ChainError, ConfigError
from tests.chain_fixtures import (
    ACTIVATION_DELAY,
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


def test_facts(chain: Chain, chain_url: str) -> None:
    assert chain.url == chain_url
    assert chain.is_embedded == chain_url.startswith("embedded://")
    assert chain.chain_id == int(chain.w3.eth.chain_id) > 0
    assert chain.block_number() >= 0
    assert chain.funder is not None
    assert chain.eth_balance(chain.funder.address) > 10**18


def test_time_only_moves_forward(chain: Chain) -> None:
    now = chain.now()
    assert chain.advance_time(100) >= now + 100
    with pytest.raises(ValueError):
        chain.advance_time(-1)
    block = chain.block_number()
    chain.mine(2)
    assert chain.block_number() == block + 2


def test_head_is_the_latest_block(chain: Chain) -> None:
    """The paid-call head (read without web3's formatting on the embedded chain) is the
    latest block, after transfers, mined blocks and time moves."""
    for step in range(3):
        if step == 1:
            chain.new_account()
        if step == 2:
            chain.advance_time(60)
        block = chain.w3.eth.get_block("latest")
        head = chain.head()
        assert (head.number, head.timestamp) == (block["number"], block["timestamp"])
        assert head.hash == bytes(block["hash"]).hex()


def test_snapshots_nest_and_restore(world: World) -> None:
    chain, p = world.chain, world.protocol
    before = p.token_balance(world.operator.address)
    outer = chain.snapshot()
    p.mint(world.operator.address, 5, sender=world.deployer)
    inner = chain.snapshot()
    p.mint(world.operator.address, 7, sender=world.deployer)
    assert p.token_balance(world.operator.address) == before + 12
    chain.revert(inner)
    assert p.token_balance(world.operator.address) == before + 5
    chain.revert(outer)
    assert p.token_balance(world.operator.address) == before
    # time travels back with the state
    snap = chain.snapshot()
    now = chain.now()
    chain.advance_time(10_000)
    chain.revert(snap)
    assert chain.now() < now + 10_000


def test_accounts_and_value_transfers(chain: Chain) -> None:
    fresh = chain.new_account(eth=0)
    assert chain.eth_balance(fresh.address) == 0
    chain.fund(fresh.address, 12345)
    assert chain.eth_balance(fresh.address) == 12345
    funded = chain.new_account()
    assert chain.eth_balance(funded.address) == 10**18
    receipt = chain.send_transaction(funded, fresh.address, b"", value=1000)
    assert int(receipt["status"]) == 1 and int(receipt["gasUsed"]) == 21_000
    assert chain.eth_balance(fresh.address) == 13345


def test_reverts_are_decoded_without_spending_gas(world: World) -> None:
    chain, p = world.chain, world.protocol
    nonce = chain.w3.eth.get_transaction_count(world.operator.address)
    data = bytes.fromhex("a9059cbb") + bytes(64)  # transfer(0x0, 0)
    with reverts("ERC20InvalidReceiver"):
        chain.send_transaction(world.operator, p.token_address, data)
    # refused before sending: no nonce used, no gas spent
    assert chain.w3.eth.get_transaction_count(world.operator.address) == nonce
    with reverts("PoolNotFound"):  # a read reverts with the same decoding
        p.get_pool(10**9)
    try:
        p.get_pool(10**9)
    except ChainError as exc:
        assert exc.details["args"] == {"poolId": 10**9}
        assert "PoolNotFound" in str(exc)


def test_out_of_gas_is_reported(world: World) -> None:
    chain, p = world.chain, world.protocol
    mint = contract_abi("FairToken").encode_call("mint", [p.token_address, 1])
    with pytest.raises(ChainError) as info:
        chain.send_transaction(world.deployer, p.token_address, mint, gas=30_000)
    assert info.value.details["reason"] == "Reverted"
    assert info.value.details["tx_hash"].startswith("0x")


def test_no_funder_means_no_new_funded_accounts(chain: Chain, chain_url: str) -> None:
    other = connect_chain(chain_url, funder_key=None)
    assert other.chain_id == chain.chain_id
    bare = Chain(
        chain.w3, url=chain.url, activation_delay=1, thaw_period=2, funder=None, tester=None
    )
    with pytest.raises(ChainError) as info:
        bare.new_account()
    assert info.value.details["reason"] == "NoFunder"
    assert bare.new_account(eth=0).address


def test_deploy_and_attach(world: World) -> None:
    chain, p = world.chain, world.protocol
    assert set(p.addresses) == {
        "FairToken",
        "PoolRegistry",
        "UsageEscrow",
        "RewardDistributor",
        "Staking",
    }
    short = {
        "token": p.token_address,
        "registry": p.registry_address,
        "escrow": p.escrow_address,
        "distributor": p.distributor_address,
        "staking": p.staking_address,
    }
    again = chain.attach(short)
    assert again.addresses == p.addresses
    assert again.get_pool(world.pool_id) == p.get_pool(world.pool_id)
    with pytest.raises(ConfigError):
        chain.attach({"FairToken": p.token_address})
    with pytest.raises(ConfigError):  # an address without code
        chain.attach({**p.addresses, "UsageEscrow": "0x" + "12" * 20})
    # a deployment recorded before Staking existed still attaches; staking calls say why not
    older = chain.attach({k: v for k, v in p.addresses.items() if k != "Staking"})
    assert "Staking" not in older.addresses
    assert older.escrow_balance(world.pool_id, world.operator.address) == 0
    with pytest.raises(ConfigError):
        older.stake_of(world.pool_id, world.operator.address, StakeRole.LABELER)


def test_bad_urls(chain_url: str) -> None:
    with pytest.raises(ConfigError):
        connect_chain("ftp://example")
    with pytest.raises(ConfigError):
        connect_chain(chain_url, thaw_period=10, redemption_window=10)
    with pytest.raises(ChainError) as info:
        connect_chain("http://127.0.0.1:9")  # discard port: nothing listens
    assert info.value.details["reason"] == "Unreachable"


def test_state_rebuilds_from_events(world: World) -> None:
    """Every state change emits an event that is enough to rebuild the contracts' views."""
    chain, p, op, g = world.chain, world.protocol, world.operator, world.guardian
    start = chain.block_number()
    pool = world.new_pool()
    contributor = world.account()
    batch = StandardMerkleTree.of([[os.urandom(32), contributor.address]], CONTRIBUTION_ENCODING)
    p.anchor_batch(pool, batch.root, 1, "ipfs://b", sender=op)
    p.register_model(pool, os.urandom(32), batch.root, os.urandom(32), "hf://m", sender=op)
    record_id, _ = batch.at(0)
    p.revoke(pool, 1, record_id, [], sender=contributor)
    consumer = world.account(tokens=10 * TOKEN)
    p.approve_and_deposit(pool, 6 * TOKEN, sender=consumer)
    p.deposit_with_permit(pool, 2 * TOKEN, sender=consumer)
    v = Voucher(consumer.address, pool, 3 * TOKEN)
    p.redeem(v, sign_voucher(v, p.voucher_domain(), consumer), sender=op)
    p.request_withdraw(pool, TOKEN, sender=consumer)
    labeler = world.account(tokens=5 * TOKEN)
    p.approve_and_stake(pool, StakeRole.LABELER, 5 * TOKEN, sender=labeler)
    p.request_unstake(pool, StakeRole.LABELER, 2 * TOKEN, sender=labeler)
    p.slash(pool, labeler.address, StakeRole.LABELER, 4 * TOKEN, os.urandom(32), sender=g)
    earner = world.account()
    tree = StandardMerkleTree.of([[earner.address, 5 * TOKEN]], EARNINGS_ENCODING)
    p.approve_and_post_root(pool, 1, tree.root, 5 * TOKEN, os.urandom(32), sender=op)
    p.approve_and_post_root(pool, 2, tree.root, 5 * TOKEN, os.urandom(32), sender=op)
    p.cancel_root(pool, 2, sender=g)
    chain.advance_time(ACTIVATION_DELAY)
    p.claim(pool, 1, earner.address, 5 * TOKEN, [], sender=op)
    p.pause(pool, sender=g)

    view = ProtocolView.from_events(p.logs(from_block=start + 1))
    assert_view_matches_chain(p, view, pools=[pool])
    assert view.pools[pool].paused and view.revoked == {(pool, record_id)}


def assert_view_matches_chain(p: Protocol, view: ProtocolView, pools: list[int]) -> None:
    """Compare a rebuilt view with the contracts' own views, for ``pools``."""
    for pool in pools:
        info, pv = p.get_pool(pool), view.pools[pool]
        assert (info.operator, info.guardian, info.token) == (pv.operator, pv.guardian, pv.token)
        assert (info.batch_count, info.model_count) == (pv.batch_count, pv.model_count)
        assert p.is_paused(pool) == pv.paused
        for batch in range(1, info.batch_count + 1):
            assert p.batch_root(pool, batch) == view.batch_roots[(pool, batch)]
        for model in range(1, info.model_count + 1):
            m = p.get_model(pool, model)
            assert (m.model_hash, m.dataset_root, m.metrics_hash, m.uri) == view.models[
                (pool, model)
            ]
        for pool_id, record in view.revoked:
            assert p.is_revoked(pool_id, record)
        assert p.funded(pool) == view.funded.get(pool, 0)
        assert p.total_claimed(pool) == view.total_claimed.get(pool, 0)
        assert p.last_epoch(pool) == view.last_epoch.get(pool, 0)
        assert p.total_staked(pool) == view.total_staked.get(pool, 0)
    for (pool, epoch), ev in view.epochs.items():
        root = p.epoch_root(pool, epoch)
        assert (root.root, root.total_cumulative, root.active_at, root.cancelled) == (
            ev.root,
            ev.total_cumulative,
            ev.active_at,
            ev.cancelled,
        )
    for (pool, payer), balance in view.escrow_balance.items():
        assert p.escrow_balance(pool, payer) == balance
        assert p.redeemed(pool, payer) == view.redeemed.get((pool, payer), 0)
        pending = p.pending_withdrawal(pool, payer)
        assert (pending.amount, pending.ready_at) == view.pending_withdrawal.get(
            (pool, payer), (0, 0)
        )
    for (pool, account), claimed in view.claimed.items():
        assert p.claimed(pool, account) == claimed
    for (pool, account, role), stake in view.stakes.items():
        info_s = p.stake_of(pool, account, role)
        assert (info_s.staked, info_s.unbonding, info_s.ready_at) == stake


def test_logs_are_decoded_with_their_contract(world: World) -> None:
    p = world.protocol
    start = world.chain.block_number()
    result = p.anchor_batch(world.pool_id, os.urandom(32), 3, "u", sender=world.operator)
    events = p.logs(from_block=start + 1)
    assert [e["event"] for e in events] == ["BatchAnchored"]
    assert events[0]["contract"] == "PoolRegistry"
    assert events[0]["block_number"] == result.block_number
    assert events[0]["args"] == result.event("BatchAnchored")
    assert p.logs(from_block=start + 1, to_block=start) == []
