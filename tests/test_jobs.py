"""Background jobs (``node.jobs``, ``fairwheel worker``): each job does what is due, once, under a
lease; nothing to do is ``idle``; a failed job is retried by the next pass; a close runs on the
epoch schedule by the chain's clock, or early past the redemption threshold.

Runs on SQLite, and on PostgreSQL with ``FAIRWHEEL_TEST_STORE=postgresql`` (the node suites).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from fairwheel.errors import BackendError
from fairwheel.node import Node
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

PRICE = 1_000_003


def _pool(node: Node, records: int = 60) -> tuple[int, list[Any], list[int]]:
    """A pool with ``records`` submitted (not anchored) records; (pool, people, record ids)."""
    examples = synthetic_support_queries(records, seed=3)
    pool = node.create_pool(
        "jobs", search_price=PRICE, predict_price=PRICE + 1, operator_fee_bps=1000,
        builder_share_bps=2000, labels=sorted({e.label for e in examples}),
    )  # fmt: skip
    pid = int(pool["id"])
    people = [node.testchain.new_account() for _ in range(3)]
    wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
    now = node.chain.now()
    out = node.submit(pid, [wallets[i % 3].submission(pid, e.text, e.label, now=now)
                            for i, e in enumerate(examples)])  # fmt: skip
    return pid, people, [r.record_id for r in out if r.status == "accepted"]


def _consumer(node: Node, pid: int) -> ConsumerWallet:
    account = node.testchain.new_account()
    node.testchain.faucet(account.address, 10**12, 0)
    node.testchain.deposit(pid, 10**10, account)
    return ConsumerWallet(account, node.voucher_domain())


def _pay(node: Node, pid: int, consumer: ConsumerWallet, calls: int) -> None:
    for i in range(calls):
        voucher, sig = consumer.pay(pid, PRICE)
        node.search(pid, f"lost card number {i}", 3, voucher, sig)
        consumer.confirm(voucher)


def _by_job(outcomes: list[Any], pid: int) -> dict[str, tuple[str, str]]:
    return {o.job: (o.status, o.detail) for o in outcomes if o.pool_id == pid}


def test_a_pass_anchors_trains_and_then_has_nothing_to_do(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory()
    pid, _, ids = _pool(node)
    first = _by_job(node.jobs.run_pass(), pid)
    assert first["anchor"] == ("ran", f"anchored {len(ids)} records in one batch")
    assert first["retrain"][0] == "ran" and "new_data" in first["retrain"][1]
    assert first["rescore"][0] == "idle" and first["close"][0] == "idle"
    assert all(node.verify_receipt(node.pools.receipt(i)) for i in ids[:3])
    second = _by_job(node.jobs.run_pass(), pid)
    assert {job: status for job, (status, _) in second.items()} == dict.fromkeys(
        ("anchor", "rescore", "retrain", "close"), "idle"
    )
    runs = {r["name"]: r for r in node.jobs.runs()}
    assert runs[f"anchor:{pid}"]["runs"] == 2 and runs[f"anchor:{pid}"]["failures"] == 0


def test_epochs_close_on_the_chain_clock_and_the_file_verifies(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory()
    pid, _, _ = _pool(node)
    node.jobs.run_pass()  # anchor and train
    consumer = _consumer(node, pid)
    _pay(node, pid, consumer, 3)
    status, detail = _by_job(node.jobs.run_pass(), pid)["close"]
    assert status == "idle" and detail.startswith("3 paid calls; due at chain time")
    node.testchain.advance_time(node.settings.epoch_length + 1)
    status, detail = _by_job(node.jobs.run_pass(), pid)["close"]
    assert status == "ran" and detail.startswith("closed epoch 1 (schedule): 3 calls")
    assert node.verify_epoch(pid, 1).ok
    assert _by_job(node.jobs.run_pass(), pid)["close"] == (
        "idle", "no paid calls since the last epoch"
    )  # fmt: skip


def test_unredeemed_value_past_the_threshold_closes_early(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory(jobs={"redeem_threshold": 3 * PRICE})
    pid, _, _ = _pool(node)
    node.jobs.run_pass()
    consumer = _consumer(node, pid)
    _pay(node, pid, consumer, 2)
    assert _by_job(node.jobs.run_pass(), pid)["close"][0] == "idle"  # 2 prices < threshold
    _pay(node, pid, consumer, 1)
    status, detail = _by_job(node.jobs.run_pass(), pid)["close"]
    assert status == "ran" and f"unredeemed {3 * PRICE} >= threshold" in detail
    assert node.onchain.redeemed(pid, consumer.address) == 3 * PRICE


def test_a_leased_job_is_left_alone_until_its_lease_expires(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory()
    pid, _, _ = _pool(node)
    now = node.jobs.clock()
    assert node.store.acquire_lease(f"anchor:{pid}", "other-host:1", now, 900)
    status, detail = _by_job(node.jobs.run_pass(holder="me:2"), pid)["anchor"]
    assert (status, detail) == ("busy", "leased by other-host:1")
    assert node.store.unanchored(pid)  # untouched
    node.jobs.clock = lambda: now + 901  # the other runner died: its lease expired
    assert _by_job(node.jobs.run_pass(holder="me:2"), pid)["anchor"][0] == "ran"
    assert not node.store.unanchored(pid)
    # The pass gave the lease back: another runner can take it at once.
    assert node.store.acquire_lease(f"anchor:{pid}", "other-host:1", now + 902, 900)


def test_a_failing_job_is_recorded_and_retried_by_the_next_pass(
    node_factory: Callable[..., Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory()
    pid, _, ids = _pool(node)

    def broken(pool_id: int) -> list[Any]:
        raise BackendError("the chain node dropped the connection")

    monkeypatch.setattr(node.jobs.pools, "anchor", broken)
    outcomes = _by_job(node.jobs.run_pass(), pid)
    assert outcomes["anchor"] == ("failed", "backend_error: the chain node dropped the connection")
    assert outcomes["retrain"][0] == "ran"  # the other jobs still ran
    run = node.store.job_run(f"anchor:{pid}")
    assert run is not None and run["failures"] == 1 and run["last_ok"] == 0
    assert node.store.lease_holder(f"anchor:{pid}", node.jobs.clock()) is None  # released
    monkeypatch.undo()
    assert _by_job(node.jobs.run_pass(), pid)["anchor"][0] == "ran"
    assert len(node.store.unanchored(pid)) == 0 and len(ids) > 50


def test_a_revocation_is_retrained_by_the_job_when_not_inline(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory(retrain_on_revoke=False)
    pid, people, ids = _pool(node)
    node.jobs.run_pass()  # anchor, first version
    serving = node.queries.serving_model(pid)
    record = node.store.record(ids[0])
    owner = next(p for p in people if p.address.lower() == record["contributor"])
    node.revoke(ids[0], owner)
    status, detail = _by_job(node.jobs.run_pass(), pid)["retrain"]
    assert status == "ran" and "(revocation)" in detail
    newer = node.queries.serving_model(pid)
    assert newer["version"] == serving["version"] + 1
    assert ids[0] not in node.store.model_records_of(int(newer["id"]))


def test_cli_epoch_close_with_nothing_to_close_exits_0_and_worker_once_prints_outcomes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairwheel.chain.local import find_anvil
    from fairwheel.cli import app
    from fairwheel.config import load_settings

    if find_anvil() is None:
        pytest.skip("anvil is not installed (scripts/setup.sh)")
    home = tmp_path / "home"
    node = Node.open(load_settings(home=home, embedder_url="fake-hash://384"))
    try:
        pid, _, _ = _pool(node, records=30)
    finally:
        node.close()
    monkeypatch.setenv("FAIRWHEEL_HOME", str(home))
    monkeypatch.setenv("FAIRWHEEL_EMBEDDER_URL", "fake-hash://384")
    runner = CliRunner()
    closed = runner.invoke(app, ["epoch", "close", str(pid)])
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.stdout)["closed"] is False
    assert runner.invoke(app, ["epoch", "close", "99"]).exit_code == 1  # an unknown pool
    ran = runner.invoke(app, ["worker", "--once"])
    assert ran.exit_code == 0, ran.output
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [(o["job"], o["status"]) for o in lines][:2] == [("anchor", "ran"), ("rescore", "idle")]
    status = runner.invoke(app, ["worker", "--status"])
    assert {json.loads(line)["name"] for line in status.stdout.splitlines()} == {
        f"{job}:{pid}" for job in ("anchor", "rescore", "retrain", "close")
    }


def test_the_loss_cap_stops_a_payer_until_redemption_and_the_job_redeems_early(
    node_factory: Callable[..., Node],
) -> None:
    from fairwheel.errors import Conflict

    node = node_factory(max_unredeemed=2 * PRICE, jobs={"redeem_threshold": 2 * PRICE})
    pid, _, _ = _pool(node)
    node.jobs.run_pass()
    consumer = _consumer(node, pid)
    _pay(node, pid, consumer, 2)
    voucher, sig = consumer.pay(pid, PRICE)
    with pytest.raises(Conflict) as refused:
        node.search(pid, "one more", 3, voucher, sig)
    assert refused.value.details["reason"] == "unredeemed_cap"
    assert refused.value.details["unredeemed"] == str(2 * PRICE)
    assert len(node.store.ledger(pid)) == 2  # refused: nothing written
    status, detail = _by_job(node.jobs.run_pass(), pid)["close"]
    assert status == "ran" and "threshold" in detail  # redeemed early, by the job
    node.search(pid, "one more", 3, voucher, sig)  # the same voucher is good now
    assert node.onchain.redeemed(pid, consumer.address) == 2 * PRICE


def test_with_inline_rescoring_off_the_rescore_job_judges_the_grown_pool(
    node_factory: Callable[..., Node],
) -> None:
    """``jobs.inline_rescore`` off (as under ``serve --jobs``): submit never rescores a pool for
    its growth; the rescore job does, from the first pass, and then only after more growth."""
    node = node_factory(jobs={"inline_rescore": False})
    rescored: list[int] = []
    real = node.contributions.rescore

    def counting(pool_id: int) -> Any:
        rescored.append(pool_id)
        return real(pool_id)

    node.contributions.rescore = counting  # type: ignore[method-assign]
    pid, _, _ = _pool(node, records=80)  # grew from 0 to 80: inline, submit rescores
    assert rescored == []
    first = _by_job(node.jobs.run_pass(), pid)
    assert first["rescore"][0] == "ran" and rescored == [pid]
    assert node.contributions.pool_gate(pid).quality is not None  # new records judged on it
    assert _by_job(node.jobs.run_pass(), pid)["rescore"][0] == "idle"
    inline = node_factory()
    inline_rescores: list[int] = []
    real_inline = inline.contributions.rescore
    inline.contributions.rescore = (  # type: ignore[method-assign]
        lambda p: inline_rescores.append(p) or real_inline(p)
    )
    inline_pid, _, _ = _pool(inline, records=80)
    assert inline_rescores == [inline_pid]
