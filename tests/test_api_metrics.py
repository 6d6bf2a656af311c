"""``GET /metrics`` (issue #14 item 6): the chain's height, records waiting to be anchored and
the value of vouchers not yet redeemed, per pool, read from the node at scrape time — and a
scrape that still answers 200, with ``fairwheel_chain_up 0`` or ``fairwheel_database_up 0``,
when a part is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fairwheel.api.app import create_app
from fairwheel.chain.local import find_anvil
from fairwheel.config import load_settings
from fairwheel.node import Node
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")

PRICE = 7


def _scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def _pool(pid: int) -> tuple[tuple[str, str], ...]:
    return (("pool", str(pid)),)


def test_gauges_follow_the_node_and_survive_a_dead_chain(tmp_path: Path) -> None:
    node = Node.open(load_settings(home=tmp_path, embedder_url="fake-hash://32"))
    try:
        client = TestClient(create_app(node))
        pid = int(node.create_pool("p", search_price=PRICE, predict_price=9, operator_fee_bps=0,
                                   builder_share_bps=0, labels=[])["id"])  # fmt: skip
        person = ContributorWallet(node.chain.new_account(), node.consent_domain())
        now = node.chain.now()
        rows = synthetic_support_queries(10, seed=2)
        node.submit(pid, [person.submission(pid, e.text, e.label, now=now) for e in rows[:6]])
        node.anchor(pid)
        node.submit(pid, [person.submission(pid, e.text, e.label, now=now) for e in rows[6:]])
        waiting = len(node.queries.unanchored(pid))
        assert waiting > 0
        consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
        proto = node.protocol
        proto.mint(consumer.address, 100, sender=node.operator)
        proto.approve(proto.addresses["UsageEscrow"], 100, sender=consumer.account)
        proto.deposit(pid, 100, sender=consumer.account)
        for _ in range(3):
            voucher, sig = consumer.pay(pid, PRICE)
            node.search(pid, "card", 2, voucher, sig)
            consumer.confirm(voucher)

        seen = _scrape(client)
        assert seen[("fairwheel_chain_up", ())] == 1 and seen[("fairwheel_database_up", ())] == 1
        assert seen[("fairwheel_chain_height", ())] == node.chain.block_number()
        assert seen[("fairwheel_pool_pending_anchors", _pool(pid))] == waiting
        assert seen[("fairwheel_pool_unredeemed_voucher_units", _pool(pid))] == 3 * PRICE

        assert not [k for k in seen if k[0] == "fairwheel_job_lag_seconds"]  # no job ran yet
        outcomes = {o.job: o.status for o in node.jobs.run_pass()}
        seen = _scrape(client)
        jobs = {
            dict(k[1])["job"]: v for k, v in seen.items() if k[0] == "fairwheel_job_lag_seconds"
        }
        assert set(jobs) == set(outcomes) and all(0 <= lag < 3600 for lag in jobs.values())
        assert seen[("fairwheel_job_failures", (("job", "anchor"), ("pool", str(pid))))] == 0
        assert seen[("fairwheel_pool_pending_anchors", _pool(pid))] == 0  # the job anchored them
        waiting = 0

        node.close_epoch(pid)  # redeems the vouchers
        seen = _scrape(client)
        assert seen[("fairwheel_pool_unredeemed_voucher_units", _pool(pid))] == 0
        assert seen[("fairwheel_chain_height", ())] == node.chain.block_number()

        local = node.chain._local
        assert local is not None
        local._stop_process()  # the chain goes down under the running app
        seen = _scrape(client)
        assert seen[("fairwheel_chain_up", ())] == 0 and seen[("fairwheel_database_up", ())] == 1
        assert ("fairwheel_chain_height", ()) not in seen
        assert ("fairwheel_pool_unredeemed_voucher_units", _pool(pid)) not in seen
        assert seen[("fairwheel_pool_pending_anchors", _pool(pid))] == waiting  # the database's
        assert seen[("fairwheel_pool_epochs", _pool(pid))] == 1
    finally:
        node.close()


def test_a_dead_database_is_a_gauge_at_zero_not_a_failed_scrape(tmp_path: Path) -> None:
    node = Node.open(load_settings(home=tmp_path, embedder_url="fake-hash://32"))
    try:
        client = TestClient(create_app(node))
        node.create_pool("p", search_price=1, predict_price=1, operator_fee_bps=0,
                         builder_share_bps=0, labels=[])  # fmt: skip
        assert _scrape(client)[("fairwheel_pool_epochs", _pool(1))] == 0
        node.store.close()  # the database goes away under the running app
        seen = _scrape(client)
        assert seen[("fairwheel_database_up", ())] == 0 and seen[("fairwheel_chain_up", ())] == 1
        assert not [k for k in seen if k[0].startswith("fairwheel_pool_")]
        health = client.get("/v1/health")
        assert health.status_code == 503
        assert not health.json()["checks"]["database"]["ok"]
    finally:
        node.close()
