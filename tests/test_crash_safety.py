"""Crash safety, measured (issue #14 item 5): SIGKILL a working node at random points, restart it,
and check that nothing acknowledged was lost and nothing was counted twice.

The node (``tests/crash_driver.py``, a separate process) runs contribution batches, paid
searches, anchors and epoch closes against an anvil that outlives it; the harness kills it after
a random delay, ``KILLS`` times per backend (SQLite, and PostgreSQL when a test database is
configured), then opens the node once more, closes the last epoch and checks:

* every acknowledged record is stored, accepted, once; every acknowledged paid call is in the
  ledger; the ledger's sequence numbers run 1..N and its hash chain is intact;
* each payer's stored voucher equals the sum of its ledger entries (no voucher lost or reused);
* every epoch file verifies against the chain;
* on-chain conservation: what the escrow redeemed equals what consumers paid, and equals what
  the distributor was funded plus the operator's fees and the carried dust.

The counts are printed (``pytest -s``). Slow: run with ``FAIRWHEEL_SLOW=1``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from fairwheel.chain.local import LocalChain, find_anvil
from tests.store_backends import POSTGRES_URL, postgres_schema

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_anvil() is None, reason="anvil is not installed (scripts/setup.sh)"),
]

KILLS = int(os.environ.get("FAIRWHEEL_CRASH_KILLS", "25"))
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and not POSTGRES_URL:
        pytest.skip("no PostgreSQL for tests: set FAIRWHEEL_TEST_POSTGRES_URL")
    context: AbstractContextManager[str] = (
        postgres_schema() if request.param == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'home' / 'fairwheel.db'}")
    )  # fmt: skip
    with context as url:
        yield url


def _open(plan: dict[str, Any]) -> Any:
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    return Node.open(load_settings(
        home=Path(plan["home"]), database_url=plan["database_url"], chain_url=plan["rpc_url"],
        embedder_url="fake-hash://384", retrain_on_revoke=False,
    ))  # fmt: skip


def _setup(home: Path, database_url: str, rpc_url: str) -> dict[str, Any]:
    from eth_account import Account

    from fairwheel.chain import connect_chain
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ContributorWallet

    plan: dict[str, Any] = {"home": str(home), "database_url": database_url, "rpc_url": rpc_url}
    # An http:// chain is not one the node runs, so it does not fund its operator: we do.
    home.mkdir(parents=True, exist_ok=True)
    operator = Account.create()
    (home / "operator.key").write_text(operator.key.hex())
    (home / "operator.key").chmod(0o600)
    funder = connect_chain(rpc_url)
    funder.fund(operator.address, 10**21)
    node = _open(plan)
    try:
        examples = synthetic_support_queries(40, seed=2)
        pool = node.create_pool(
            "crash", search_price=1_000_003, predict_price=2_000_011, operator_fee_bps=1000,
            builder_share_bps=0, labels=[],
        )  # fmt: skip
        pid = int(pool["id"])
        people = [node.testchain.new_account() for _ in range(3)]
        wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
        now = node.chain.now()
        node.submit(pid, [wallets[i % 3].submission(pid, e.text, None, now=now)
                          for i, e in enumerate(examples)])  # fmt: skip
        node.anchor(pid)
        payer = node.testchain.new_account()
        node.testchain.faucet(payer.address, 10**15, 0)
        node.testchain.deposit(pid, 10**15, payer)
        return {**plan, "pool_id": pid, "payer_key": payer.key.hex(),
                "contributor_keys": [p.key.hex() for p in people]}  # fmt: skip
    finally:
        node.close()


def _run_until_killed(plan_path: Path, seed: int, delay: float, log: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRWHEEL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_driver", str(plan_path), str(seed)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first.startswith("READY"):
        proc.kill()
        raise AssertionError(f"the driver did not start: {first}{proc.communicate()[1]}")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the driver died on its own:\n{err[-3000:]}"
    log.extend(line for line in out.splitlines() if line)


def test_sigkill_loses_nothing_acknowledged_and_counts_nothing_twice(
    database: str, tmp_path: Path
) -> None:
    from fairwheel.settlement.ledger import verify_chain

    chain = LocalChain(tmp_path / "chain")
    rpc_url = chain.start()
    try:
        plan = _setup(tmp_path / "home", database, rpc_url)
        plan_path = tmp_path / "plan.json"
        plan_path.write_text(json.dumps(plan))
        rng = random.Random(14)
        acks: list[str] = []
        for kill in range(KILLS):
            _run_until_killed(plan_path, 1000 + kill, rng.uniform(0.3, 2.5), acks)
        node = _open(plan)
        try:
            pid = int(plan["pool_id"])
            steps = Counter(line.split()[0] for line in acks)
            records = [int(i) for line in acks if line.startswith("SUBMIT ")
                       for i in line.split()[1].split(",") if i != "-"]  # fmt: skip
            calls = [int(line.split()[1]) for line in acks if line.startswith("CALL ")]
            assert len(set(records)) == len(records) and len(set(calls)) == len(calls)
            stored = {r["id"]: r for r in node.store.records(pid)}
            # Acknowledged as accepted, so stored; a later rescore of the grown pool may have
            # quarantined some (a verdict, not a loss).
            statuses = Counter(stored[i]["status"] for i in records)
            assert set(statuses) <= {"accepted", "quarantined"}, statuses
            if node.settlement.has_open_calls(pid):
                node.close_epoch(pid)
            ledger = node.store.ledger(pid)
            seqs = [int(e["seq"]) for e in ledger]
            assert seqs == list(range(1, len(seqs) + 1)) and set(calls) <= set(seqs)
            verify_chain(ledger)
            payer = next(iter({e["consumer"] for e in ledger}))
            prices = sum(int(e["price"]) for e in ledger)
            assert node.ledger.spent(pid, payer) == prices  # the voucher equals the ledger
            epochs = int(node.store.last_epoch(pid)["epoch"])  # type: ignore[index]
            assert all(node.verify_epoch(pid, e).ok for e in range(1, epochs + 1))
            redeemed = node.onchain.redeemed(pid, payer)
            funded = node.onchain.funded(pid)
            fees = sum(int(e["operator_fee"]) for e in ledger)
            dust = int(ledger[-1]["dust_out"])
            assert redeemed == prices == funded + fees + dust
            anchored = sum(1 for r in stored.values() if r["batch_id"] is not None)
            print(
                f"\n{database.split(':')[0]}: {KILLS} kills; acknowledged {steps['SUBMIT']} "
                f"batches ({len(records)} records), {len(calls)} paid calls, {steps['ANCHOR']} "
                f"anchors, {steps['CLOSE']} closes; stored {len(stored)} records "
                f"({anchored} anchored), {len(seqs)} ledger entries, {epochs} epochs, all "
                f"verified; redeemed {redeemed} = funded {funded} + fees {fees} + dust {dust}"
            )
        finally:
            node.close()
    finally:
        chain.stop()
