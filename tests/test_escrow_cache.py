"""Serve-time escrow reads: once per chain head, never stale (issue #15 item 2, #12 item 1a)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fairwheel.chain.escrow_cache import EscrowCache, EscrowState, Head
from fairwheel.errors import InsufficientFunds
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

PRICE = 1000


@dataclass
class _Pending:
    amount: int


class FakeEscrow:
    """A fake of the contract bindings for the cache's unit tests: counts its reads."""

    def __init__(self) -> None:
        self.balance, self.paid, self.queued, self.reads = 10, 2, 3, 0

    def escrow_balance(self, pool_id: int, payer: str) -> int:
        self.reads += 1
        return self.balance

    def redeemed(self, pool_id: int, payer: str) -> int:
        self.reads += 1
        return self.paid

    def pending_withdrawal(self, pool_id: int, payer: str) -> _Pending:
        self.reads += 1
        return _Pending(self.queued)


def test_one_read_per_head_and_payer() -> None:
    fake = FakeEscrow()
    cache = EscrowCache(fake)
    head = Head(5, "aa", 100)
    assert cache.state(head, 1, "0xAB") == EscrowState(balance=10, redeemed=2, pending=3)
    assert cache.state(head, 1, "0xab") == cache.state(head, 1, "0xAb")
    assert fake.reads == 3
    cache.state(head, 2, "0xab")  # another pool is another escrow
    assert fake.reads == 6
    fake.queued = 10
    moved = Head(6, "bb", 112)
    assert cache.state(moved, 1, "0xab").pending == 10  # a new head reads afresh
    assert fake.reads == 9


def test_same_height_other_hash_is_a_new_head() -> None:
    """After a revert to a snapshot, other blocks can reach the same height."""
    fake = FakeEscrow()
    cache = EscrowCache(fake)
    cache.state(Head(7, "aa", 100), 1, "0xab")
    fake.balance = 0
    assert cache.state(Head(7, "cc", 100), 1, "0xab").balance == 0


@pytest.mark.parametrize(("cumulative", "covered"), [(9, True), (10, False)])
def test_cover_counts_queued_withdrawals_and_redemptions(cumulative: int, covered: bool) -> None:
    # balance 10, 3 queued: 7 more than the 2 redeemed can be promised, i.e. up to 9.
    assert EscrowState(balance=10, redeemed=2, pending=3).covers(cumulative) is covered


@pytest.fixture
def paid_pool(node_factory):
    node = node_factory()
    examples = synthetic_support_queries(40, seed=8)
    pid = int(node.create_pool("c", search_price=PRICE, predict_price=3 * PRICE,
                               operator_fee_bps=1000, builder_share_bps=0,
                               labels=sorted({e.label for e in examples}))["id"])  # fmt: skip
    wallet = ContributorWallet(node.chain.new_account(), node.consent_domain())
    now = node.chain.now()
    node.submit(pid, [wallet.submission(pid, e.text, e.label, now=now) for e in examples])
    node.anchor(pid)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**9, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 5 * PRICE, sender=consumer.account)
    return node, pid, consumer


def _search(node, pid, consumer):
    voucher, sig = consumer.pay(pid, PRICE)
    out = node.search(pid, "my card is lost", 3, voucher, sig)
    consumer.confirm(voucher)
    return out


def test_paid_calls_between_blocks_read_the_escrow_once(paid_pool) -> None:
    node, pid, consumer = paid_pool
    before = node.escrow_cache.reads
    for _ in range(4):
        _search(node, pid, consumer)
    assert node.escrow_cache.reads - before == 3  # vouchers are off-chain: no new block


def test_a_withdrawal_request_is_seen_by_the_very_next_call(paid_pool) -> None:
    node, pid, consumer = paid_pool
    _search(node, pid, consumer)  # the escrow is now cached at this head
    node.protocol.request_withdraw(pid, 4 * PRICE, sender=consumer.account)  # a new block
    with pytest.raises(InsufficientFunds, match="queued for withdrawal"):
        _search(node, pid, consumer)  # 1 spent + 1 more > 5 - 4


def test_a_revert_does_not_leave_stale_escrow_behind(paid_pool) -> None:
    node, pid, consumer = paid_pool
    snapshot = node.chain.snapshot()
    node.protocol.approve_and_deposit(pid, 100 * PRICE, sender=consumer.account)
    for _ in range(6):  # covered only thanks to the deposit
        _search(node, pid, consumer)
    node.chain.revert(snapshot)  # the deposit never happened
    node.chain.mine(2)  # blocks at the heights the deposit had, with other hashes
    with pytest.raises(InsufficientFunds):
        _search(node, pid, consumer)  # 7 > 5 deposited
