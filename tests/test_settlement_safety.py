"""One payer cannot block settlement; shortfalls become that payer's debt (issue #12, item 1).

The attack: a consumer is served with vouchers, then withdraws the escrow behind them once the
thaw has passed; before this fix the close's ``redeemMany`` reverted with ``InsufficientEscrow``
for every payer, so no epoch could close. Now each payer is collected on its own, up to the
largest voucher its escrow still covers, and what it did not pay is its debt: the earnings of
those calls are withheld (not in the root) until a later close collects them.

Conservation, read from the chain and the ledger after every close:

    served = funded + fees + dust + withheld          (every unit of every call's price)
    served = collected + owed                          (what consumers paid or still owe)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairwheel.errors import ConfigError, InsufficientFunds
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

PRICE = 1_000_003


@pytest.fixture
def market(node_factory):
    """A node with a pool of anchored records and two funded consumers."""
    node = node_factory()
    examples = synthetic_support_queries(48, seed=5)
    pid = node.create_pool(
        "safety", search_price=PRICE, predict_price=2 * PRICE, operator_fee_bps=1000,
        builder_share_bps=2000, labels=sorted({e.label for e in examples}),
    )["id"]  # fmt: skip
    people = [node.chain.new_account() for _ in range(3)]
    wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
    now = node.chain.now()
    node.submit(pid, [wallets[i % 3].submission(pid, e.text, e.label, now=now)
                      for i, e in enumerate(examples)])  # fmt: skip
    node.anchor(pid)
    consumers = []
    for _ in range(2):
        wallet = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
        node.protocol.mint(wallet.address, 10**12, sender=node.operator)
        node.protocol.approve(node.protocol.escrow_address, 10**12, sender=wallet.account)
        node.protocol.deposit(pid, 10 * PRICE, sender=wallet.account)
        consumers.append(wallet)
    return node, pid, consumers, people


def serve(node, pid: int, wallet: ConsumerWallet, calls: int) -> None:
    for i in range(calls):
        voucher, sig = wallet.pay(pid, PRICE)
        node.search(pid, f"my card was lost {i}", 3, voucher, sig)
        wallet.confirm(voucher)


def withdraw_all_but(node, pid: int, wallet: ConsumerWallet, keep: int) -> None:
    """Request a withdrawal of everything but ``keep``, wait out the thaw and withdraw."""
    balance = node.protocol.escrow_balance(pid, wallet.address)
    node.protocol.request_withdraw(pid, balance - keep, sender=wallet.account)
    node.chain.advance_time(node.settings.thaw_period + 1)
    node.protocol.withdraw(pid, sender=wallet.account)


def check_conservation(node, pid: int, reports) -> None:
    """Both identities, exactly, from the ledger, the store and the chain."""
    ledger = node.store.ledger(pid)
    served = sum(int(e["price"]) for e in ledger)
    unsettled = {int(s) for s, _, _ in node.store.unsettled_lines(pid)}
    fees = sum(int(e["operator_fee"]) for e in ledger if e["seq"] not in unsettled)
    withheld = sum(r.withheld for r in reports[-1:])
    owed = sum(r.debts.get(c, 0) for r in reports[-1:] for c in r.debts)
    dust = node.store.pool_dust(pid)
    funded = node.protocol.funded(pid)
    collected = sum(node.protocol.redeemed(pid, payer) for payer, _, _ in node.store.vouchers(pid))
    assert served == funded + fees + dust + withheld
    assert served == collected + owed
    assert funded == reports[-1].total


def test_one_payer_who_withdrew_cannot_block_the_close(market) -> None:
    node, pid, (honest, defaulter), _ = market
    serve(node, pid, honest, 3)
    serve(node, pid, defaulter, 4)
    withdraw_all_but(node, pid, defaulter, keep=0)
    report = node.close_epoch(pid)  # reverted for everyone before the fix
    assert node.protocol.redeemed(pid, honest.address) == 3 * PRICE
    assert node.protocol.redeemed(pid, defaulter.address) == 0
    assert report.debts == {defaulter.address.lower(): 4 * PRICE}
    assert report.withheld > 0 and report.paid == 3 * PRICE
    assert node.verify_epoch(pid, report.epoch).ok
    assert report.warnings  # the close came after the thaw: it says so
    check_conservation(node, pid, [report])
    # Beneficiaries of the honest payer's calls can claim; the claims are backed.
    node.chain.advance_time(node.settings.activation_delay + 1)
    claimed = sum(node.claim(pid, a, sender=node.operator) for a in report.earnings)
    assert claimed == report.total == node.protocol.total_claimed(pid)


def test_a_pool_whose_every_call_is_unpaid_closes_without_a_root(market) -> None:
    """The distributor takes no empty root: when nothing was collected the close posts nothing,
    says who owes what, and the calls stay open until a later close collects them."""
    node, pid, (defaulter, _), _ = market
    serve(node, pid, defaulter, 2)
    withdraw_all_but(node, pid, defaulter, keep=0)
    report = node.close_epoch(pid)  # reverted with ZeroRoot() before
    assert not report.posted and report.epoch == 0 and report.tx_hash == ""
    assert report.debts == {defaulter.address.lower(): 2 * PRICE}
    assert node.protocol.last_epoch(pid) == 0 and node.store.last_epoch(pid) is None
    node.protocol.deposit(pid, 2 * PRICE, sender=defaulter.account)
    paid = node.close_epoch(pid)
    assert paid.posted and paid.epoch == 1 and paid.debts == {} and paid.paid == 2 * PRICE
    check_conservation(node, pid, [paid])


def test_a_short_payer_is_collected_up_to_the_voucher_its_escrow_covers(market) -> None:
    node, pid, (honest, short), _ = market
    serve(node, pid, short, 3)
    withdraw_all_but(node, pid, short, keep=PRICE + PRICE // 2)  # covers one call, not two
    serve(node, pid, honest, 1)
    report = node.close_epoch(pid)
    assert node.protocol.redeemed(pid, short.address) == PRICE
    assert report.debts == {short.address.lower(): 2 * PRICE}
    check_conservation(node, pid, [report])
    debt = node.store.debts(pid)[short.address.lower()]
    assert debt["owed"] == 2 * PRICE and debt["collected"] == PRICE


def test_debt_is_collected_at_a_later_close_and_its_earnings_released(market) -> None:
    node, pid, (honest, short), _ = market
    serve(node, pid, honest, 2)
    serve(node, pid, short, 3)
    withdraw_all_but(node, pid, short, keep=0)
    first = node.close_epoch(pid)
    assert first.debts == {short.address.lower(): 3 * PRICE}
    # The debtor is refused until it pays: unredeemed vouchers exceed its escrow.
    voucher, sig = short.pay(pid, PRICE)
    with pytest.raises(InsufficientFunds):
        node.search(pid, "refused", 3, voucher, sig)
    node.protocol.deposit(pid, 3 * PRICE, sender=short.account)
    second = node.close_epoch(pid)  # no new call: the unsettled entries alone are closed
    assert second.debts == {} and second.withheld == 0
    assert node.protocol.redeemed(pid, short.address) == 3 * PRICE
    assert second.total == first.total + first.withheld - (
        sum(int(e["operator_fee"]) for e in node.store.ledger(pid)
            if e["consumer"] == short.address.lower())
    )  # fmt: skip
    assert node.verify_epoch(pid, 1).ok and node.verify_epoch(pid, 2).ok
    check_conservation(node, pid, [first, second])
    lines = Path(second.file_path).read_text().splitlines()
    assert sum('"type":"deferred"' in line for line in lines) == 3


def test_tampered_debt_line_fails_verification(market, tmp_path: Path) -> None:
    node, pid, (honest, defaulter), _ = market
    serve(node, pid, honest, 1)
    serve(node, pid, defaulter, 2)
    withdraw_all_but(node, pid, defaulter, keep=0)
    report = node.close_epoch(pid)
    lines = Path(report.file_path).read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"debt"' in line)
    debt = json.loads(lines[at])
    debt["owed"] = "0"
    lines[at] = json.dumps(debt, sort_keys=True)
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    verdict = node.verify_epoch(pid, report.epoch, bad)
    assert not verdict.ok and "debt" in (verdict.problem or "")
    header = json.loads(lines[0])
    header["collected"][defaulter.address.lower()] = str(2 * PRICE)  # claim it was paid
    lines[0] = json.dumps(header, sort_keys=True)
    bad.write_text("\n".join(lines) + "\n")
    assert not node.verify_epoch(pid, report.epoch, bad).ok


def test_pending_withdrawal_is_not_spendable_at_serve_time(market) -> None:
    node, pid, (consumer, _), _ = market
    serve(node, pid, consumer, 2)
    balance = node.protocol.escrow_balance(pid, consumer.address)
    # Everything but one price is queued for withdrawal; two calls are unredeemed.
    node.protocol.request_withdraw(pid, balance - PRICE, sender=consumer.account)
    voucher, sig = consumer.pay(pid, PRICE)
    with pytest.raises(InsufficientFunds):
        node.search(pid, "lost card", 3, voucher, sig)
    assert len(node.store.ledger(pid)) == 2


def test_close_warns_when_the_redemption_window_is_at_risk(market) -> None:
    node, pid, (consumer, _), _ = market
    serve(node, pid, consumer, 1)
    assert node.settlement_warnings(pid) == []
    node.chain.advance_time(node.settings.epoch_length + node.settings.redemption_window + 1)
    (warning,) = node.settlement_warnings(pid)
    assert "close it now" in warning


@pytest.mark.parametrize(
    ("thaw", "epoch", "window"), [(100, 50, 50), (100, 100, 0), (10, 20, 0), (100, -1, 10)]
)
def test_thaw_period_must_exceed_epoch_length_plus_redemption_window(
    thaw: int, epoch: int, window: int
) -> None:
    from fairwheel.config import load_settings

    with pytest.raises(ConfigError, match=r"thaw_period|must be >= 0"):
        load_settings(thaw_period=thaw, epoch_length=epoch, redemption_window=window)
