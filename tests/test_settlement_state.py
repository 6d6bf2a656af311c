"""Hypothesis state machine over the node's money paths, on the embedded chain and on anvil.

Random interleavings of paid calls by several consumers, deposits, withdrawal requests,
withdrawals, the passing of time (past the thaw included), epoch closes and claims run against
a real node and the real contracts. After every step the machine checks:

- **an epoch can always close**: a trial close (inside a chain snapshot and a store
  transaction, both rolled back) succeeds whenever there is anything to close, whatever the
  consumers did with their escrow;
- **conservation**, exactly, over every closed epoch, from the chain and the store::

      served = claimed + unclaimed + fees + dust + withheld
      served = collected + owed

  where *served* is every closed call's price, *claimed*/*unclaimed* are read from the
  distributor (its token balance is the unclaimed part), *collected* is what the escrow
  redeemed, and *owed*/*withheld* are the recorded debts;
- the node serves a call exactly when the escrow covers it after queued withdrawals and
  unredeemed vouchers.

CI runs 20 examples of 25 steps per backend (about a minute each); ``FAIRWHEEL_SLOW=1``
runs 100 with random seeds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fairwheel.config import load_settings
from fairwheel.errors import ChainError, InsufficientFunds
from fairwheel.node import Node
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet
from tests.chain_fixtures import anvil_url

__all__ = ["anvil_url"]  # fixture, re-exported for pytest

SLOW = os.environ.get("FAIRWHEEL_SLOW") == "1"
EXAMPLES = 100 if SLOW else 20
STEPS = 25
PRICE = 1_000_003
CONSUMERS = 3


class _Rollback(Exception):
    """Raised to roll a trial close back."""


def open_market(home: Path, chain_url: str) -> tuple[Node, int, list[ConsumerWallet]]:
    """A node with a small pool of anchored records and funded consumers."""
    overrides: dict[str, Any] = {}
    operator = None
    if not chain_url.startswith("embedded://"):
        from fairwheel.chain import connect_chain

        operator = connect_chain(chain_url).new_account(10**20)
    cfg = load_settings(home=home, chain_url=chain_url, embedder_url="fake-hash://64", **overrides)
    node = Node.open(cfg, operator=operator)
    examples = synthetic_support_queries(24, seed=3)
    pid = node.create_pool(
        "state", search_price=PRICE, predict_price=2 * PRICE, operator_fee_bps=1500,
        builder_share_bps=0, labels=sorted({e.label for e in examples}),
    )["id"]  # fmt: skip
    wallets = [ContributorWallet(node.chain.new_account(), node.consent_domain())
               for _ in range(3)]  # fmt: skip
    now = node.chain.now()
    node.submit(pid, [wallets[i % 3].submission(pid, e.text, e.label, now=now)
                      for i, e in enumerate(examples)])  # fmt: skip
    node.anchor(pid)
    consumers = []
    for _ in range(CONSUMERS):
        wallet = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
        node.protocol.mint(wallet.address, 10**15, sender=node.operator)
        node.protocol.approve(node.protocol.escrow_address, 10**15, sender=wallet.account)
        node.protocol.deposit(pid, 3 * PRICE, sender=wallet.account)
        consumers.append(wallet)
    return node, pid, consumers


class SettlementMachine(RuleBasedStateMachine):
    """Consumers who pay, withdraw and default; an operator who closes; earners who claim."""

    chain_url = "embedded://"
    homes: Path = Path()
    count = 0
    seen: dict[str, int]  # what the run exercised, across examples (a coverage demand)

    @initialize()
    def open(self) -> None:
        SettlementMachine.count += 1
        self.node, self.pid, self.consumers = open_market(
            self.homes / f"ex{self.count}", self.chain_url
        )

    def teardown(self) -> None:
        if hasattr(self, "node"):
            self.node.close()

    # -- rules ------------------------------------------------------------------------------
    @rule(who=st.integers(0, CONSUMERS - 1), calls=st.integers(1, 3))
    def serve(self, who: int, calls: int) -> None:
        node, pid, wallet = self.node, self.pid, self.consumers[who]
        for i in range(calls):
            p = node.protocol
            redeemed = p.redeemed(pid, wallet.address)
            free = (
                p.escrow_balance(pid, wallet.address)
                - p.pending_withdrawal(pid, wallet.address).amount
            )
            covered = wallet.spent.get(pid, 0) + PRICE - redeemed <= free
            voucher, sig = wallet.pay(pid, PRICE)
            try:
                node.search(pid, f"card lost {i}", 2, voucher, sig)
            except InsufficientFunds:
                assert not covered, "a covered call was refused"
                self.seen["refused"] += 1
                return
            assert covered, "an uncovered call was served"
            wallet.confirm(voucher)
            self.seen["served"] += 1

    @rule(who=st.integers(0, CONSUMERS - 1), prices=st.integers(1, 4))
    def deposit(self, who: int, prices: int) -> None:
        self.node.protocol.deposit(self.pid, prices * PRICE, sender=self.consumers[who].account)

    @rule(who=st.integers(0, CONSUMERS - 1), part=st.sampled_from([1, 2, 4]))
    def request_withdraw(self, who: int, part: int) -> None:
        wallet = self.consumers[who]
        balance = self.node.protocol.escrow_balance(self.pid, wallet.address)
        if balance // part:
            self.node.protocol.request_withdraw(self.pid, balance // part, sender=wallet.account)

    @rule(who=st.integers(0, CONSUMERS - 1))
    def withdraw(self, who: int) -> None:
        try:
            self.node.protocol.withdraw(self.pid, sender=self.consumers[who].account)
        except ChainError as exc:
            assert exc.details.get("reason") in {"WithdrawalNotReady", "NoPendingWithdrawal"}

    @rule(who=st.integers(0, CONSUMERS - 1), calls=st.integers(0, 2))
    def default(self, who: int, calls: int) -> None:
        """The attack: be served, then withdraw everything once the thaw passed, unredeemed
        vouchers or not."""
        if calls:
            self.serve(who, calls)
        wallet, p = self.consumers[who], self.node.protocol
        balance = p.escrow_balance(self.pid, wallet.address)
        if balance:
            p.request_withdraw(self.pid, balance, sender=wallet.account)
            self.node.chain.advance_time(self.node.settings.thaw_period + 1)
            p.withdraw(self.pid, sender=wallet.account)

    @rule(who=st.integers(0, CONSUMERS - 1))
    def default_among_payers_then_close(self, who: int) -> None:
        """The attack as reported: everyone is served, one payer defaults, the operator closes
        (a macro-step, so the run reaches a close with a debt whatever the draw)."""
        for other in range(CONSUMERS):
            self.serve(other, 1)
        self.default(who, 0)
        self.close()

    @rule(thaws=st.sampled_from([0.1, 0.5, 1.1]))
    def wait(self, thaws: float) -> None:
        self.node.chain.advance_time(int(self.node.settings.thaw_period * thaws))

    @rule()
    def close(self) -> None:
        if self._closable():
            report = self.node.close_epoch(self.pid)
            if not report.posted:
                self.seen["close with nothing collected"] += 1
                return
            assert self.node.verify_epoch(self.pid, report.epoch).ok
            self.seen["close"] += 1
            self.seen["close with debt"] += bool(report.debts)

    @rule()
    def claim(self) -> None:
        node, pid = self.node, self.pid
        last = node.store.last_epoch(pid)
        if last is None:
            return
        node.chain.advance_time(node.settings.activation_delay + 1)
        for account, cumulative in node.store.earnings(pid, int(last["epoch"])).items():
            if cumulative > node.protocol.claimed(pid, account):
                node.claim(pid, account, sender=node.operator)

    # -- invariants -------------------------------------------------------------------------
    def _closable(self) -> bool:
        return self.node.store.open_fold(self.pid) is not None or self.node.store.has_unsettled(
            self.pid
        )

    @invariant()
    def an_epoch_can_always_close(self) -> None:
        if not hasattr(self, "node") or not self._closable():
            return
        node = self.node
        snapshot = node.chain.snapshot()
        try:
            with node.store.transaction():
                report = node.close_epoch(self.pid)
                # Either a root is posted, or every open call is unpaid and stays owed.
                assert report.epoch >= 1 if report.posted else sum(report.debts.values()) > 0
                raise _Rollback
        except _Rollback:
            pass
        finally:
            node.chain.revert(snapshot)

    @invariant()
    def money_is_conserved(self) -> None:
        if not hasattr(self, "node"):
            return
        node, pid, p = self.node, self.pid, self.node.protocol
        open_seqs = {int(e["seq"]) for e in node.store.open_ledger(pid)}
        closed = [e for e in node.store.ledger(pid) if int(e["seq"]) not in open_seqs]
        unsettled = {int(s) for s, _, _ in node.store.unsettled_lines(pid)}
        served = sum(int(e["price"]) for e in closed)
        fees = sum(int(e["operator_fee"]) for e in closed if int(e["seq"]) not in unsettled)
        last = node.store.last_epoch(pid)
        dust = int(last["dust"]) if last else 0
        debts = node.store.debts(pid)
        owed = sum(d["owed"] for d in debts.values())
        withheld = sum(d["withheld"] for d in debts.values())
        claimed = p.total_claimed(pid)
        unclaimed = p.token_balance(p.distributor_address)
        assert unclaimed == p.funded(pid) - claimed
        assert served == claimed + unclaimed + fees + dust + withheld
        collected = sum(p.redeemed(pid, c.address) for c in self.consumers)
        assert served == collected + owed


@pytest.mark.parametrize("backend", ["embedded", "anvil"])
def test_settlement_state_machine(backend: str, request: pytest.FixtureRequest, tmp_path) -> None:
    url = "embedded://" if backend == "embedded" else str(request.getfixturevalue("anvil_url"))
    # One class name for both backends: derandomized runs then draw the same interleavings on
    # each, so the backends are compared on the same steps (and coverage does not hinge on luck).
    machine = type("SettlementRun", (SettlementMachine,), {})
    machine.chain_url = url
    machine.homes = tmp_path
    run = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not SLOW,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase.settings = run
    demanded = ["served", "refused", "close", "close with debt"]
    machine.seen = dict.fromkeys([*demanded, "close with nothing collected"], 0)
    machine.TestCase().runTest()
    missing = [what for what in demanded if machine.seen[what] == 0]
    assert not missing, f"the run never exercised {missing}: {machine.seen}"
