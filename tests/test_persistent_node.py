"""The default chain (``anvil://``) survives restarts: a node, its CLI verbs and ``serve``
reopen the same home with its pools, records, vouchers and ledger intact, on-chain and off.

Anvil is the npm package's binary (./scripts/setup.sh installs it); these tests are skipped,
with the reason, only when it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairwheel.chain.local import find_anvil
from fairwheel.cli import app
from fairwheel.config import load_settings
from fairwheel.errors import ConfigError
from fairwheel.node import Node
from fairwheel.settlement.ledger import verify_chain
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")

EMBEDDER = "fake-hash://64"


def _open(home: Path) -> Node:
    return Node.open(load_settings(home=home, embedder_url=EMBEDDER))


def test_the_default_chain_is_local_and_kept_in_the_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert settings.chain_url == f"anvil://{tmp_path.resolve() / 'chain'}"


def test_a_node_on_the_defaults_reopens_with_everything_it_had(tmp_path: Path) -> None:
    node = _open(tmp_path)
    try:
        pid = node.create_pool("p", search_price=7, predict_price=9, operator_fee_bps=1000,
                               builder_share_bps=0, labels=[])["id"]  # fmt: skip
        people = [node.chain.new_account() for _ in range(2)]
        now = node.chain.now()
        subs = [
            ContributorWallet(people[i % 2], node.consent_domain()).submission(
                pid, e.text, e.label, now=now
            )
            for i, e in enumerate(synthetic_support_queries(12, seed=3))
        ]
        accepted = [r for r in node.submit(pid, subs) if r.status == "accepted"]
        receipts = node.anchor(pid)
        consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
        proto = node.protocol
        proto.mint(consumer.address, 1000, sender=node.operator)
        proto.approve(proto.addresses["UsageEscrow"], 1000, sender=consumer.account)
        proto.deposit(pid, 1000, sender=consumer.account)
        voucher, sig = consumer.pay(pid, 7)
        first = node.search(pid, "card", 3, voucher, sig)
        consumer.confirm(voucher)
        addresses = dict(proto.addresses)
    finally:
        node.close()

    again = _open(tmp_path)
    try:
        assert again.protocol.addresses == addresses
        assert len(again.store.records(pid, "accepted")) == len(accepted) > 0
        assert all(again.verify_receipt(r) for r in receipts)  # anchors are still on-chain
        assert again.protocol.escrow_balance(pid, consumer.address) == 1000
        voucher, sig = consumer.pay(pid, 7)  # the next voucher continues the same escrow
        second = again.search(pid, "card", 3, voucher, sig)
        assert second.seq == first.seq + 1
        assert again.spent(pid, consumer.address) == 14
        assert verify_chain(again.store.ledger(pid)) == again.store.ledger(pid)[-1]["hash"]
        report = again.close_epoch(pid)  # calls made before and after the restart settle
        assert report.epoch == 1
    finally:
        again.close()

    third = _open(tmp_path)
    try:
        assert third.verify_epoch(pid, 1).ok
        assert third.protocol.redeemed(pid, consumer.address) == 14
    finally:
        third.close()


def test_one_home_is_open_in_one_process_at_a_time(tmp_path: Path) -> None:
    node = _open(tmp_path)
    try:
        with pytest.raises(ConfigError, match="stop that node first"):
            _open(tmp_path)
    finally:
        node.close()
    _open(tmp_path).close()  # released on close


def test_a_chain_that_lost_its_state_is_a_clear_error(tmp_path: Path) -> None:
    _open(tmp_path).close()
    (tmp_path / "chain" / "state.json").unlink()
    with pytest.raises(ConfigError, match="no longer holds this node's contracts"):
        _open(tmp_path)
    _open(tmp_path / "fresh").close()  # and the failed open left its chain stopped


def test_an_operator_without_gas_on_a_real_chain_is_told_what_to_fund(tmp_path: Path) -> None:
    from tests.chain_fixtures import run_anvil

    binary = find_anvil()
    assert binary is not None
    # An outside node: it does not know our operator key.
    with run_anvil(binary) as url, pytest.raises(ConfigError, match="no ETH on chain") as info:
        Node.open(load_settings(home=tmp_path, chain_url=url, embedder_url=EMBEDDER))
    assert "operator.key" in info.value.message


def test_cli_verbs_reuse_the_default_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAIRWHEEL_HOME", str(tmp_path))
    monkeypatch.setenv("FAIRWHEEL_EMBEDDER_URL", EMBEDDER)
    runner = CliRunner()
    account = "0x" + "ab" * 20
    for _ in range(2):
        result = runner.invoke(app, ["earnings", account])
        assert result.exit_code == 0, result.output
    deployment = json.loads(_deployment(tmp_path))
    assert set(deployment) >= {"PoolRegistry", "UsageEscrow"}


def test_serve_reopens_its_home_on_the_default_chain(tmp_path: Path, monkeypatch) -> None:
    import uvicorn

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw["host"]))
    runner = CliRunner()
    args = ["serve", "--home", str(tmp_path), "--embedder", EMBEDDER]
    for _ in range(2):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert started == ["127.0.0.1", "127.0.0.1"]
    assert "lives only in this process" not in result.output


def _deployment(home: Path) -> str:
    from fairwheel.store import open_store

    store = open_store(f"sqlite:///{home / 'fairwheel.db'}")
    try:
        value = store.get_meta("deployment")
        assert value is not None
        return value
    finally:
        store.close()


KILLED_NODE = """
import sys, time
from fairwheel.config import load_settings
from fairwheel.node import Node
node = Node.open(load_settings(home=sys.argv[1], embedder_url="fake-hash://64"))
node.create_pool("before the kill", search_price=7, predict_price=9, operator_fee_bps=0,
                 builder_share_bps=0, labels=[])
time.sleep(2.5)  # anvil saves its state every second
print("ready", flush=True)
time.sleep(600)
"""


def test_a_killed_node_reopens_and_its_orphaned_chain_is_stopped(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_NODE, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    orphan = int((tmp_path / "chain" / "anvil.pid").read_text())
    os.kill(orphan, 0)  # the node died; its anvil did not
    node = _open(tmp_path)
    try:
        assert node.protocol.get_pool(1).search_price == 7
        assert node.store.pool(1)["name"] == "before the kill"
        assert not Path(f"/proc/{orphan}").exists() or _zombie(orphan)
    finally:
        node.close()


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
