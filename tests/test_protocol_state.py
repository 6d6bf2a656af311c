"""Hypothesis state machine over the whole protocol, on the embedded chain and on anvil.

Random sequences of deposits (approve or permit), vouchers, redemptions (one or many),
withdrawal requests and withdrawals, epoch roots (honest or with an inflated leaf),
cancellations, claims (by the earner or a relayer), stakes, unstaking, slashes, pauses and the
passing of time run against the contracts. A Python model of the contracts predicts every
outcome, custom error included; after every step the machine checks:

- tokens are conserved: the total supply never changes, and each contract holds exactly what
  its books say (escrow = deposits left, distributor = funded - claimed, staking = stakes);
- no account ever claims more than the largest cumulative amount of an active root for it, and
  no pool pays out more than it was funded;
- a voucher never moves more than its signed cumulative amount;
- a withdrawal never front-runs a redemption inside the window: every voucher the node accepted
  (under its rule, cumulative - redeemed <= balance - pending withdrawal) can still be redeemed
  in full for as long as it is inside the redemption window.

At the end of every example the whole model is compared with the chain, and with the state
rebuilt from the contracts' events. Examples are isolated by chain snapshots. On a node the
block clock is pinned (``pinned_block_time``): time moves only by the machine's own steps, never
by the wall clock, so an example has the same outcomes on a fast or a slow machine.

CI runs 30 examples of 50 steps on the embedded chain and 40 on anvil (3,500 steps, about
2.5 minutes). ``FAIRWHEEL_SLOW=1`` runs ten times more, with random seeds;
``FAIRWHEEL_STATE_SHRINK=1`` shrinks a failure (slow on a chain);
``FAIRWHEEL_STATE_EXAMPLES`` and ``FAIRWHEEL_STATE_STEPS`` override the counts.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fairwheel.chain import Chain, Protocol, StakeRole, connect_chain
from fairwheel.chain.events import ProtocolView
from fairwheel.domain.merkle import EARNINGS_ENCODING, StandardMerkleTree
from fairwheel.domain.typed_data import Voucher, sign_voucher
from fairwheel.errors import ChainError
from tests.chain_fixtures import (
    anvil_binary,
    anvil_url,
    chain_url,
    pinned_block_time,
    run_anvil,
)

__all__ = ["anvil_url", "chain_url"]  # fixtures, re-exported for pytest

SLOW = os.environ.get("FAIRWHEEL_SLOW") == "1"
SHRINK = os.environ.get("FAIRWHEEL_STATE_SHRINK") == "1"
EXAMPLES = int(os.environ.get("FAIRWHEEL_STATE_EXAMPLES", 300 if SLOW else 30))
STEPS = int(os.environ.get("FAIRWHEEL_STATE_STEPS", 60 if SLOW else 50))
U = 10**15  # amounts are drawn in units of 0.001 token
ACTIVATION = 3600
THAW = 7 * 24 * 3600
WINDOW = 3 * 24 * 3600
UNSTAKE = 2 * 24 * 3600
MARGIN = 30  # seconds kept between "now" and any deadline a step's outcome depends on
ROLES = (StakeRole.LABELER, StakeRole.RATER, StakeRole.OPERATOR)
#: How often each rule succeeded (``ok:<rule>``) or reverted (the error's name), per run.
OUTCOMES: Counter[str] = Counter()
STEPS_RUN: Counter[str] = Counter()


@dataclass
class Root:
    tree: StandardMerkleTree
    amounts: dict[str, int]
    total: int
    active_at: int
    cancelled: bool = False


@dataclass
class Pool:
    """The model of one pool across the four contracts."""

    pool_id: int
    operator: Any
    guardian: Any
    paused: bool = False
    balance: dict[str, int] = field(default_factory=dict)
    redeemed: dict[str, int] = field(default_factory=dict)
    pending: dict[str, tuple[int, int]] = field(default_factory=dict)
    vouchers: dict[str, list[tuple[int, bytes, int]]] = field(default_factory=dict)
    earnings: dict[str, int] = field(default_factory=dict)
    roots: dict[int, Root] = field(default_factory=dict)
    last_epoch: int = 0
    funded: int = 0
    total_claimed: int = 0
    claimed: dict[str, int] = field(default_factory=dict)
    stakes: dict[tuple[str, int], list[int]] = field(default_factory=dict)


@dataclass
class World:
    """Deployed once per backend; every example starts from its snapshot."""

    chain: Chain
    protocol: Protocol
    pools: list[tuple[int, Any, Any]]
    consumers: list[Any]
    earners: list[Any]
    stakers: list[Any]
    relayer: Any
    snapshot: Any
    balances: dict[str, int]
    supply: int
    allowances: dict[tuple[str, str], int]
    base_view: ProtocolView
    snapshot_block: int


def state_chain(url: str) -> Chain:
    return connect_chain(
        url,
        activation_delay=ACTIVATION,
        thaw_period=THAW,
        redemption_window=WINDOW,
        unstake_delay=UNSTAKE,
    )


def build_world(chain: Chain) -> World:
    deployer = chain.new_account(10**20)
    deploy_block = chain.block_number()
    p = chain.deploy(deployer)
    pools = []
    for _ in range(2):
        operator, guardian = chain.new_account(10**19), chain.new_account(10**19)
        pool = p.create_pool(
            sender=operator,
            guardian=guardian.address,
            search_price=U,
            predict_price=U,
            operator_fee_bps=1000,
            builder_share_bps=0,
            metadata_hash=os.urandom(32),
        ).value
        p.mint(operator.address, 10**6 * U, sender=deployer)
        pools.append((int(pool), operator, guardian))
    consumers = [chain.new_account(10**19) for _ in range(3)]
    earners = [chain.new_account(10**19) for _ in range(3)]
    stakers = [chain.new_account(10**19) for _ in range(2)]
    for acct in consumers + stakers:
        p.mint(acct.address, 1000 * U, sender=deployer)
    relayer = chain.new_account(10**19)
    allowances: dict[tuple[str, str], int] = {}
    for acct in consumers:
        p.approve(p.escrow_address, 2**256 - 1, sender=acct)
        allowances[(acct.address, p.escrow_address)] = 2**256 - 1
    for acct in [*stakers, *(op for _, op, _ in pools)]:
        p.approve(p.staking_address, 2**256 - 1, sender=acct)
    for _, op, _ in pools:
        p.approve(p.distributor_address, 2**256 - 1, sender=op)
    holders = [a.address for a in [*consumers, *earners, *stakers, relayer, deployer]]
    holders += [op.address for _, op, _ in pools] + [g.address for _, _, g in pools]
    holders += [p.escrow_address, p.distributor_address, p.staking_address]
    balances = {h: p.token_balance(h) for h in holders}
    base_view = ProtocolView.from_events(p.logs(from_block=deploy_block + 1))
    return World(
        chain, p, pools, consumers, earners, stakers, relayer, chain.snapshot(), balances,
        p.total_supply(), allowances, base_view, chain.block_number(),
    )  # fmt: skip


def _portion(whole: int, aux: int, percent: int) -> int:
    """``percent`` of ``whole``; one step in 16 asks for nothing, one for a unit too much."""
    if aux % 16 == 14:
        return 0
    if aux % 16 == 15:
        return whole + 1
    return whole * percent // 100


def _target(pick: int, candidates: list[Any], everyone: list[Any]) -> Any:
    """Mostly one of ``candidates`` (where the action can succeed); one pick in eight anyone,
    so that the refusals are exercised too."""
    if candidates and pick % 8 != 7:
        return candidates[pick // 8 % len(candidates)]
    return everyone[pick // 8 % len(everyone)]


# Hypothesis leans towards the first entries: the cheap and the rarely possible ones go first.
ACTIONS = (
    "sign_voucher", "claim", "withdraw", "unstake", "redeem", "deposit", "post_root",
    "advance_time", "redeem_all", "request_withdraw", "stake", "request_unstake", "slash",
    "cancel_root", "pause_or_unpause",
)  # fmt: skip
SECONDS = (60, 600, ACTIVATION, WINDOW // 3, WINDOW, UNSTAKE, THAW)
MAX = 2**256 - 1


class ProtocolMachine(RuleBasedStateMachine):
    """Drives the contracts and a model of them side by side.

    One rule, ``step``, picks an action uniformly and the numbers it works with (Hypothesis'
    per-rule swarm testing would otherwise starve the actions that need earlier ones).
    """

    world: World

    def __init__(self) -> None:
        super().__init__()
        STEPS_RUN["examples"] += 1
        w = self.world
        w.chain.revert(w.snapshot)
        w.snapshot = w.chain.snapshot()
        self.chain, self.p = w.chain, w.protocol
        self.pools = [Pool(pid, op, g) for pid, op, g in w.pools]
        self.tokens = dict(w.balances)
        self.allowance = dict(w.allowances)
        self.touched: set[str] = set()

    @rule(
        action=st.sampled_from(ACTIONS),
        pick=st.integers(0, 2**16),
        aux=st.integers(0, 2**16),
        units=st.integers(1, 300),
        percent=st.integers(1, 100),
    )
    def step(self, action: str, pick: int, aux: int, units: int, percent: int) -> None:
        STEPS_RUN["steps"] += 1
        getattr(self, action)(pick, aux, units, percent)

    # ------------------------------------------------------------------ helpers

    def _outcome(self, expected: str | None, action: Callable[[], Any]) -> Any:
        """Run ``action``; it must revert with ``expected``, or succeed if that is None."""
        OUTCOMES[expected or "ok:" + sys._getframe(1).f_code.co_name] += 1
        if expected is None:
            return action()
        try:
            action()
        except ChainError as exc:
            assert exc.details.get("reason") == expected, f"expected {expected}: {exc}"
            return None
        raise AssertionError(f"expected the call to revert with {expected}")

    def _move(self, source: str, target: str, amount: int) -> None:
        self.tokens[source] -= amount
        self.tokens[target] += amount
        self.touched |= {source, target}

    def _spend_allowance(self, owner: str, spender: str, amount: int) -> None:
        key = (owner, spender)
        if self.allowance.get(key, 0) != MAX:
            self.allowance[key] -= amount

    def _now(self, *deadlines: int) -> int:
        """Chain time, moved on first if a deadline is too close to call; the next block's
        time is within ``MARGIN`` of the returned value."""
        now = self.chain.now()
        if any(abs(d - now) <= MARGIN for d in deadlines):
            now = self.chain.advance_time(2 * MARGIN + 1)
        return now

    def _payers(self) -> list[tuple[Pool, Any]]:
        return [(pool, c) for pool in self.pools for c in self.world.consumers]

    def _staker(self, pool: Pool, si: int) -> Any:
        return pool.operator if si == 2 else self.world.stakers[si]

    def _stakes(self) -> list[tuple[Pool, Any, StakeRole]]:
        return [
            (pool, self._staker(pool, si), role)
            for pool in self.pools
            for si in range(3)
            for role in ROLES
        ]

    def _stake_entry(self, pool: Pool, staker: Any, role: StakeRole) -> list[int]:
        return pool.stakes.setdefault((staker.address, int(role)), [0, 0, 0])

    # -------------------------------------------------------------------- escrow

    def deposit(self, pick: int, aux: int, units: int, percent: int) -> None:
        pool, c = _target(pick, [], self._payers())
        amount = min(units * U, self.tokens[c.address])
        if amount == 0:
            return
        expected = "PoolIsPaused" if pool.paused else None
        escrow = self.p.escrow_address
        if aux % 2:  # with an EIP-2612 permit: the allowance becomes the amount, then is spent
            result = self._outcome(
                expected, lambda: self.p.deposit_with_permit(pool.pool_id, amount, sender=c)
            )
            if result is not None:
                self.allowance[(c.address, escrow)] = amount
        else:
            if self.allowance.get((c.address, escrow), 0) < amount:
                self.p.approve(escrow, MAX, sender=c)
                self.allowance[(c.address, escrow)] = MAX
            result = self._outcome(expected, lambda: self.p.deposit(pool.pool_id, amount, sender=c))
        if result is not None:
            assert result.value == amount
            self._spend_allowance(c.address, escrow, amount)
            pool.balance[c.address] = pool.balance.get(c.address, 0) + amount
            self._move(c.address, escrow, amount)

    def sign_voucher(self, pick: int, aux: int, units: int, percent: int) -> None:
        """The node accepts a voucher only if the escrow covers it net of pending withdrawals."""
        everyone = self._payers()
        funded = [(p, c) for p, c in everyone if p.balance.get(c.address, 0) > 0]
        pool, c = _target(pick, funded, everyone)
        signed = pool.vouchers.get(c.address, [])
        cumulative = (signed[-1][0] if signed else 0) + units * U // 4
        redeemed = pool.redeemed.get(c.address, 0)
        available = pool.balance.get(c.address, 0) - pool.pending.get(c.address, (0, 0))[0]
        if cumulative - redeemed > available:
            OUTCOMES["voucher refused by the node"] += 1
            return
        voucher = Voucher(c.address, pool.pool_id, cumulative)
        signature = sign_voucher(voucher, self.p.voucher_domain(), c)
        pool.vouchers[c.address] = [*signed, (cumulative, signature, self._now())]
        OUTCOMES["voucher accepted"] += 1

    def _expected_redeem(self, pool: Pool, payer: str, cumulative: int) -> str | None:
        already = pool.redeemed.get(payer, 0)
        if cumulative <= already:
            return "NothingToRedeem"
        if cumulative - already > pool.balance.get(payer, 0):
            return "InsufficientEscrow"
        return None

    def _book_redeem(self, pool: Pool, payer: str, cumulative: int) -> int:
        paid = cumulative - pool.redeemed.get(payer, 0)
        pool.redeemed[payer] = cumulative
        pool.balance[payer] -= paid
        self._move(self.p.escrow_address, pool.operator.address, paid)
        return paid

    def redeem(self, pick: int, aux: int, units: int, percent: int) -> None:
        signers = [(p, c) for p, c in self._payers() if p.vouchers.get(c.address)]
        if not signers:
            return
        pool, c = signers[pick % len(signers)]
        signed = pool.vouchers[c.address]
        cumulative, signature, _ = signed[-1] if aux % 3 else signed[aux % len(signed)]
        expected = self._expected_redeem(pool, c.address, cumulative)
        voucher = Voucher(c.address, pool.pool_id, cumulative)
        result = self._outcome(
            expected, lambda: self.p.redeem(voucher, signature, sender=pool.operator)
        )
        if result is not None:
            assert result.value == self._book_redeem(pool, c.address, cumulative)

    def redeem_all(self, pick: int, aux: int, units: int, percent: int) -> None:
        """The operator's epoch close: the latest voucher of every consumer, all or nothing."""
        pool = self.pools[pick % 2]
        items, expected = [], None
        for payer, signed in sorted(pool.vouchers.items()):
            cumulative, signature, _ = signed[-1]
            if cumulative > pool.redeemed.get(payer, 0):
                items.append((Voucher(payer, pool.pool_id, cumulative), signature))
                expected = expected or self._expected_redeem(pool, payer, cumulative)
        if not items:
            return
        result = self._outcome(expected, lambda: self.p.redeem_many(items, sender=pool.operator))
        if result is not None:
            paid = sum(self._book_redeem(pool, v.payer, v.cumulative_amount) for v, _ in items)
            assert result.value == paid

    def request_withdraw(self, pick: int, aux: int, units: int, percent: int) -> None:
        everyone = self._payers()
        funded = [(p, c) for p, c in everyone if p.balance.get(c.address, 0) > 0]
        pool, c = _target(pick, funded, everyone)
        balance = pool.balance.get(c.address, 0)
        amount = _portion(balance, aux, percent)
        expected = "ZeroAmount" if amount == 0 else None
        if amount > balance:
            expected = "InsufficientEscrow"
        result = self._outcome(
            expected, lambda: self.p.request_withdraw(pool.pool_id, amount, sender=c)
        )
        if result is not None:
            assert result.value == self.chain.now() + THAW
            pool.pending[c.address] = (amount, int(result.value))

    def withdraw(self, pick: int, aux: int, units: int, percent: int) -> None:
        everyone = self._payers()
        waiting = [(p, c) for p, c in everyone if c.address in p.pending]
        pool, c = _target(pick, waiting, everyone)
        pending = pool.pending.get(c.address)
        now = self._now(pending[1]) if pending else 0
        if pending is None:
            expected: str | None = "NoPendingWithdrawal"
        else:
            expected = "WithdrawalNotReady" if now < pending[1] else None
        result = self._outcome(expected, lambda: self.p.withdraw(pool.pool_id, sender=c))
        if result is not None and pending is not None:
            amount = min(pending[0], pool.balance.get(c.address, 0))
            assert result.value == amount
            pool.balance[c.address] -= amount
            del pool.pending[c.address]
            self._move(self.p.escrow_address, c.address, amount)

    # ------------------------------------------------------------------- rewards

    def post_root(self, pick: int, aux: int, units: int, percent: int) -> None:
        pool = self.pools[pick % 2]
        earnings = dict(pool.earnings)
        for k, e in zip((1, 3, 7), self.world.earners, strict=True):
            earnings[e.address] = earnings.get(e.address, 0) + (units * k + aux) % 41 * U
        amounts = {a: v for a, v in earnings.items() if v > 0}
        if not amounts:
            return
        total = sum(amounts.values())
        inflate = aux % 5 == 4  # one root in five is bad: a leaf promises more than is funded
        if inflate:
            first = next(iter(amounts))
            amounts[first] += 500 * U
        tree = StandardMerkleTree.of([[a, v] for a, v in amounts.items()], EARNINGS_ENCODING)
        epoch = pool.last_epoch + 1 + aux % 2
        top_up = max(total - pool.funded, 0)
        op = pool.operator
        expected = "PoolIsPaused" if pool.paused else None
        result = self._outcome(
            expected,
            lambda: self.p.post_root(pool.pool_id, epoch, tree.root, total, bytes(32), sender=op),
        )
        if result is None:
            return
        assert result.value == top_up
        active_at = int(result.event("RootPosted")["activeAt"])
        assert active_at == self.chain.now() + ACTIVATION
        pool.roots[epoch] = Root(tree, amounts, total, active_at)
        pool.last_epoch = epoch
        pool.funded += top_up
        if not inflate:
            pool.earnings = earnings
        self._move(op.address, self.p.distributor_address, top_up)

    def cancel_root(self, pick: int, aux: int, units: int, percent: int) -> None:
        if units % 2:  # a guardian rarely has to cancel
            return
        pool = self.pools[pick % 2]
        epochs = sorted(pool.roots)
        if aux % 7 == 0 or not epochs:
            epoch = pool.last_epoch + 1  # never posted
        else:
            epoch = epochs[-1] if aux % 2 else epochs[aux % len(epochs)]
        root = pool.roots.get(epoch)
        sender = pool.operator if aux % 11 == 0 else pool.guardian
        now = self._now(root.active_at) if root else self.chain.now()
        expected: str | None
        if sender is not pool.guardian:
            expected = "NotGuardian"
        elif root is None:
            expected = "EpochNotFound"
        elif root.cancelled:
            expected = "EpochCancelled"
        elif now >= root.active_at:
            expected = "EpochAlreadyActive"
        else:
            expected = None
        result = self._outcome(
            expected, lambda: self.p.cancel_root(pool.pool_id, epoch, sender=sender)
        )
        if result is not None and root is not None:
            root.cancelled = True

    def claim(self, pick: int, aux: int, units: int, percent: int) -> None:
        choices = [
            (pool, e)
            for pool in self.pools
            for e in self.world.earners
            if any(e.address in r.amounts for r in pool.roots.values())
        ]
        if not choices:
            return
        pool, earner = choices[pick % len(choices)]
        epochs = [e for e, r in sorted(pool.roots.items()) if earner.address in r.amounts]
        now = self.chain.now()
        live = [e for e in epochs if not pool.roots[e].cancelled and pool.roots[e].active_at < now]
        epoch = live[-1] if live and aux % 4 else epochs[aux % len(epochs)]
        root = pool.roots[epoch]
        amount = root.amounts[earner.address]
        already = pool.claimed.get(earner.address, 0)
        now = self._now(root.active_at)
        expected: str | None = None
        if root.cancelled:
            expected = "EpochCancelled"
        elif now < root.active_at:
            expected = "EpochNotActive"
        elif amount <= already:
            expected = "NothingToClaim"
        elif pool.total_claimed + amount - already > pool.funded:
            expected = "InsufficientFunding"
        sender = self.world.relayer if aux % 3 == 0 else earner
        proof = root.tree.proof([earner.address, amount])
        result = self._outcome(
            expected,
            lambda: self.p.claim(pool.pool_id, epoch, earner.address, amount, proof, sender=sender),
        )
        if result is not None:
            assert result.value == amount - already
            pool.claimed[earner.address] = amount
            pool.total_claimed += amount - already
            self._move(self.p.distributor_address, earner.address, amount - already)

    # ------------------------------------------------------------------- staking

    def stake(self, pick: int, aux: int, units: int, percent: int) -> None:
        pool, staker, role = _target(pick, [], self._stakes())
        amount = min(units * U // 3, self.tokens[staker.address])
        if amount == 0:
            return
        expected = None
        if pool.paused:
            expected = "PoolIsPaused"
        elif role == StakeRole.OPERATOR and staker is not pool.operator:
            expected = "NotOperator"
        result = self._outcome(
            expected, lambda: self.p.stake(pool.pool_id, role, amount, sender=staker)
        )
        if result is not None:
            entry = self._stake_entry(pool, staker, role)
            entry[0] += amount
            assert result.value == entry[0]
            self._move(staker.address, self.p.staking_address, amount)

    def request_unstake(self, pick: int, aux: int, units: int, percent: int) -> None:
        everyone = self._stakes()
        active = [(p, s, r) for p, s, r in everyone if self._stake_entry(p, s, r)[0] > 0]
        pool, staker, role = _target(pick, active, everyone)
        entry = self._stake_entry(pool, staker, role)
        amount = _portion(entry[0], aux, percent)
        expected = "ZeroAmount" if amount == 0 else None
        if amount > entry[0]:
            expected = "InsufficientStake"
        result = self._outcome(
            expected, lambda: self.p.request_unstake(pool.pool_id, role, amount, sender=staker)
        )
        if result is not None:
            assert result.value == self.chain.now() + UNSTAKE
            entry[0] -= amount
            entry[1] += amount
            entry[2] = int(result.value)

    def unstake(self, pick: int, aux: int, units: int, percent: int) -> None:
        everyone = self._stakes()
        leaving = [(p, s, r) for p, s, r in everyone if self._stake_entry(p, s, r)[1] > 0]
        pool, staker, role = _target(pick, leaving, everyone)
        entry = self._stake_entry(pool, staker, role)
        now = self._now(entry[2]) if entry[1] else 0
        expected: str | None = None
        if entry[1] == 0:
            expected = "NothingToUnstake"
        elif now < entry[2]:
            expected = "UnstakeNotReady"
        result = self._outcome(expected, lambda: self.p.unstake(pool.pool_id, role, sender=staker))
        if result is not None:
            assert result.value == entry[1]
            self._move(self.p.staking_address, staker.address, entry[1])
            entry[1], entry[2] = 0, 0

    def slash(self, pick: int, aux: int, units: int, percent: int) -> None:
        everyone = self._stakes()
        staking = [(p, s, r) for p, s, r in everyone if sum(self._stake_entry(p, s, r)[:2])]
        pool, staker, role = _target(pick, staking, everyone)
        entry = self._stake_entry(pool, staker, role)
        total = entry[0] + entry[1]
        amount = _portion(total, aux, percent)
        expected = "ZeroAmount" if amount == 0 else None
        if amount > total:
            expected = "InsufficientStake"
        evidence = os.urandom(32)
        result = self._outcome(
            expected,
            lambda: self.p.slash(
                pool.pool_id, staker.address, role, amount, evidence, sender=pool.guardian
            ),
        )
        if result is not None:
            from_staked = min(amount, entry[0])
            entry[0] -= from_staked
            entry[1] -= amount - from_staked
            pool.funded += amount
            self._move(self.p.staking_address, self.p.distributor_address, amount)

    # --------------------------------------------------------------- pause, time

    def pause_or_unpause(self, pick: int, aux: int, units: int, percent: int) -> None:
        pool = self.pools[pick % 2]
        if pool.paused:
            self.p.unpause(pool.pool_id, sender=pool.guardian)
            pool.paused = False
        elif aux % 3 == 0:
            self.p.pause(pool.pool_id, sender=pool.guardian)
            pool.paused = True

    def advance_time(self, pick: int, aux: int, units: int, percent: int) -> None:
        self.chain.advance_time(SECONDS[aux % len(SECONDS)])

    # ----------------------------------------------------------------- invariants

    @invariant()
    def tokens_are_conserved(self) -> None:
        """The books balance, and every balance a step moved is on chain what the model says."""
        p = self.p
        assert sum(self.tokens.values()) == self.world.supply
        escrowed = sum(sum(pool.balance.values()) for pool in self.pools)
        assert self.tokens[p.escrow_address] == escrowed
        owed = sum(pool.funded - pool.total_claimed for pool in self.pools)
        assert self.tokens[p.distributor_address] == owed
        staked = sum(sum(s[0] + s[1] for s in pool.stakes.values()) for pool in self.pools)
        assert self.tokens[p.staking_address] == staked
        for address in sorted(self.touched):  # contracts included whenever they moved tokens
            assert p.token_balance(address) == self.tokens[address], address
        self.touched.clear()

    @invariant()
    def protocol_properties_hold(self) -> None:
        now = self.chain.now()
        for pool in self.pools:
            # no pool pays out more than it was funded
            assert pool.total_claimed <= pool.funded
            # no account claims more than an active root gives it
            for account, claimed in pool.claimed.items():
                active = [
                    r.amounts.get(account, 0)
                    for r in pool.roots.values()
                    if not r.cancelled and r.active_at <= now
                ]
                assert claimed <= max(active, default=0)
            for payer, redeemed in pool.redeemed.items():
                # a voucher never moves more than its signed cumulative amount
                signed_amounts = [c for c, _, _ in pool.vouchers.get(payer, [])]
                assert redeemed <= max(signed_amounts, default=0)
            for payer, signed in pool.vouchers.items():
                # an accepted voucher stays fully redeemable while inside the window
                cumulative, _, signed_at = signed[-1]
                if now + MARGIN < signed_at + WINDOW:
                    unredeemed = cumulative - pool.redeemed.get(payer, 0)
                    assert unredeemed <= pool.balance.get(payer, 0), (payer, cumulative)

    # --------------------------------------------------------------- full check

    def teardown(self) -> None:
        """Compare the whole model with the chain and with the state rebuilt from events."""
        p = self.p
        assert p.total_supply() == self.world.supply
        for address, amount in self.tokens.items():
            assert p.token_balance(address) == amount, address
        view = copy.deepcopy(self.world.base_view)
        for event in p.logs(from_block=self.world.snapshot_block + 1):
            view.apply(event)
        for pool in self.pools:
            pid = pool.pool_id
            assert p.is_paused(pid) == pool.paused == view.pools[pid].paused
            assert p.funded(pid) == pool.funded == view.funded.get(pid, 0)
            assert p.total_claimed(pid) == pool.total_claimed == view.total_claimed.get(pid, 0)
            assert p.last_epoch(pid) == pool.last_epoch == view.last_epoch.get(pid, 0)
            for c in self.world.consumers:
                a = c.address
                assert p.escrow_balance(pid, a) == pool.balance.get(a, 0)
                assert view.escrow_balance.get((pid, a), 0) == pool.balance.get(a, 0)
                assert p.redeemed(pid, a) == pool.redeemed.get(a, 0)
                pending = p.pending_withdrawal(pid, a)
                assert (pending.amount, pending.ready_at) == pool.pending.get(a, (0, 0))
            for e in self.world.earners:
                assert p.claimed(pid, e.address) == pool.claimed.get(e.address, 0)
            for (account, role), (staked, unbonding, _) in pool.stakes.items():
                info = p.stake_of(pid, account, role)
                assert (info.staked, info.unbonding) == (staked, unbonding)
                assert view.stakes.get((pid, account, role), (0, 0, 0))[:2] == (staked, unbonding)
            for epoch, root in pool.roots.items():
                assert p.epoch_root(pid, epoch).cancelled == root.cancelled
                assert view.epochs[(pid, epoch)].cancelled == root.cancelled


@pytest.fixture(scope="module")
def state_world(chain_url: str) -> Iterator[World]:
    """The world, on a chain whose clock moves only by the machine's own steps on a node: the
    outcomes (and so the coverage demanded below) must not depend on how fast the machine is."""
    chain = state_chain(chain_url)
    with pinned_block_time(chain):
        yield build_world(chain)


def test_protocol_state_machine(state_world: World, chain_url: str) -> None:
    ProtocolMachine.world = state_world
    OUTCOMES.clear()
    STEPS_RUN.clear()
    started = time.monotonic()
    # a node is faster to drive than the in-process EVM: it gets more examples
    examples = EXAMPLES if chain_url.startswith("embedded://") else EXAMPLES * 4 // 3
    run_state_machine_as_test(
        ProtocolMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=not SLOW,
            database=None,
            # shrinking a long failing run on a chain takes many minutes: opt in
            phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else []),
            print_blob=True,
        ),
    )
    elapsed = time.monotonic() - started
    steps = STEPS_RUN["steps"]
    print(f"\n{chain_url}: {STEPS_RUN['examples']} examples, {steps} steps in {elapsed:.0f} s")
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
    assert steps >= examples * STEPS // 2
    # the runs reach deep states: every kind of success and the key refusals happen
    # (NothingToClaim is too rare a path to demand of every seed; test_contracts covers it)
    for needed in [
        "ok:deposit", "ok:redeem", "ok:redeem_all", "ok:withdraw", "ok:post_root", "ok:claim",
        "ok:cancel_root", "ok:stake", "ok:request_unstake", "ok:unstake", "ok:slash",
        "NothingToRedeem", "WithdrawalNotReady", "EpochNotActive", "PoolIsPaused",
        "InsufficientStake",
    ]:  # fmt: skip
        assert OUTCOMES[needed] > 0, f"no {needed} in {examples} examples: {OUTCOMES}"


def test_the_machine_sees_a_broken_invariant(state_world: World) -> None:
    """The checks are not vacuous: a model that forgets a deposit is caught at once."""
    ProtocolMachine.world = state_world
    machine = ProtocolMachine()
    machine.deposit(0, 0, 5, 100)
    machine.tokens_are_conserved()
    machine.tokens[machine.p.escrow_address] -= 1
    machine.tokens[machine.world.consumers[0].address] += 1
    machine.pools[0].balance[machine.world.consumers[0].address] -= 1
    machine.touched.add(machine.p.escrow_address)
    with pytest.raises(AssertionError):
        machine.tokens_are_conserved()
    machine.pools[0].redeemed[machine.world.consumers[0].address] = 1
    with pytest.raises(AssertionError):  # redeemed without any signed voucher
        machine.protocol_properties_hold()


def test_chain_time_moves_only_when_told() -> None:
    """On a pinned node, block times follow the test's steps, not the wall clock: blocks mined
    across a sleep keep their time, ``advance_time(n)`` moves ``now()`` by exactly n, a revert
    goes back to the snapshot's time; unpinned, ``advance_time(n)`` is still exactly n.

    On its own anvil: unpinning the session's node would unpin a state world built on it."""
    binary = anvil_binary()
    if binary is None:
        pytest.skip("anvil binary missing: run `npm ci` in contracts/ (@foundry-rs/anvil)")
    with run_anvil(binary) as url:
        _time_moves_only_when_told(state_chain(url))


def _time_moves_only_when_told(chain: Chain) -> None:
    with pinned_block_time(chain) as pinned:
        assert pinned
        start = chain.now()
        time.sleep(1.1)
        chain.mine(2)
        assert chain.now() == start
        snap = chain.snapshot()
        assert chain.advance_time(THAW) == chain.now() == start + THAW
        time.sleep(1.1)
        chain.fund(chain.new_account(0).address, 1)  # a transaction's block too
        assert chain.now() == start + THAW
        chain.revert(snap)
        assert chain.now() == start
        time.sleep(1.1)
        chain.mine()
        assert chain.advance_time(60) == start + 60
    before = chain.now()
    time.sleep(1.1)
    assert chain.advance_time(600) == before + 600
