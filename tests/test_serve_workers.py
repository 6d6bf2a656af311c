"""``fairwheel serve --workers 2`` over one PostgreSQL database and the home's anvil (#14 item 3).

A real server: the CLI in a subprocess, two uvicorn worker processes, each with its own node,
index replica and chain connection. It checks what only shared state makes true: 20 concurrent
requests carrying one voucher are served exactly once; a session signed in through one
connection works on every other; a record revoked through one worker is served by none; the
ledger holds exactly the calls that were answered. Skipped without a test PostgreSQL
(``FAIRWHEEL_TEST_POSTGRES_URL``) or anvil.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fairwheel.chain.local import find_anvil
from fairwheel.domain.typed_data import Eip712Domain, Voucher, sign_voucher
from tests.store_backends import NO_POSTGRES, POSTGRES_URL, postgres_schema

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES),
    pytest.mark.skipif(find_anvil() is None, reason="anvil is not installed (scripts/setup.sh)"),
]

EMBEDDER = "fake-hash://384"


@dataclass
class Served:
    url: str
    database_url: str
    pool_id: int
    price: int
    domain: Eip712Domain
    consumer: Any
    contributor: Any
    target: int  # a record of ``contributor``'s, revoked by the test
    target_text: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(home: Path, database_url: str) -> dict[str, Any]:
    """A pool with records, a model and a funded consumer, made by a node that then closes."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ContributorWallet

    settings = load_settings(home=home, database_url=database_url, embedder_url=EMBEDDER)
    node = Node.open(settings)
    try:
        examples = synthetic_support_queries(48, seed=5)
        pool = node.create_pool(
            "support", search_price=1_000_003, predict_price=2_000_011, operator_fee_bps=1000,
            builder_share_bps=2000, labels=sorted({e.label for e in examples}),
        )  # fmt: skip
        pid = int(pool["id"])
        contributor = node.testchain.new_account()
        wallet = ContributorWallet(contributor, node.consent_domain())
        now = node.chain.now()
        results = node.submit(pid, [wallet.submission(pid, e.text, e.label, now=now)
                                    for e in examples])  # fmt: skip
        accepted = [(r.record_id, e.text) for r, e in zip(results, examples, strict=True)
                    if r.status == "accepted"]  # fmt: skip
        node.anchor(pid)
        node.train(pid, node.testchain.new_account().address)
        consumer = node.testchain.new_account()
        node.testchain.faucet(consumer.address, 10**12, 0)
        node.testchain.deposit(pid, 10**12, consumer)
        return {
            "pool_id": pid, "price": int(pool["search_price"]), "domain": node.voucher_domain(),
            "consumer": consumer, "contributor": contributor,
            "target": accepted[0][0], "target_text": accepted[0][1],
        }  # fmt: skip
    finally:
        node.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("workers") / "home"
    with postgres_schema() as database_url:
        facts = _prepare(home, database_url)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRWHEEL_")}
        log = open(home / "serve.log", "w")  # noqa: SIM115 - closed below, after the server
        proc = subprocess.Popen(
            [sys.executable, "-c", "from fairwheel.cli import main; main()", "serve",
             "--home", str(home), "--database-url", database_url, "--embedder", EMBEDDER,
             "--port", str(port), "--workers", "2", "--rate-limit", "0",
             "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise AssertionError((home / "serve.log").read_text())
                try:
                    if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("the server did not start in 120 s")
                time.sleep(0.3)
            yield Served(url=url, database_url=database_url, **facts)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            log.close()
        # SIGTERM closed each worker's node and dropped its index copy.
        assert proc.returncode == 0, (home / "serve.log").read_text()[-3000:]
        assert list((home / "index" / "workers").glob("*")) == []


def _voucher_headers(s: Served, cumulative: int) -> dict[str, str]:
    voucher = Voucher(s.consumer.address, s.pool_id, cumulative)
    signature = sign_voucher(voucher, s.domain, s.consumer.key)
    body = {"payer": s.consumer.address, "pool_id": s.pool_id,
            "cumulative_amount": str(cumulative)}  # fmt: skip
    return {
        "X-Fairwheel-Voucher": json.dumps(body),
        "X-Fairwheel-Signature": "0x" + signature.hex(),
    }


def _search(s: Served, query: str, cumulative: int) -> httpx.Response:
    # A new connection per request: the kernel hands connections to either worker.
    return httpx.post(
        f"{s.url}/v1/pools/{s.pool_id}/search", json={"query": query, "k": 10},
        headers=_voucher_headers(s, cumulative), timeout=60,
    )  # fmt: skip


def _ledger_size(s: Served) -> int:
    from fairwheel.store import open_store

    store = open_store(s.database_url)
    try:
        return len(store.ledger(s.pool_id))
    finally:
        store.close()


def test_twenty_concurrent_requests_with_one_voucher_are_served_once(served: Served) -> None:
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: _search(served, "card lost abroad", served.price),
                                  range(20)))  # fmt: skip
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, [r.text for r in responses if r.status_code != 400][:3]
    refused = [r.json()["code"] for r in responses if r.status_code != 200]
    assert len(refused) == 19 and set(refused) == {"replay"}
    assert _ledger_size(served) == 1


def test_a_session_from_one_connection_works_on_every_worker(served: Served) -> None:
    from fairwheel.client import FairwheelClient

    with FairwheelClient(served.url, served.contributor) as client:
        client.login()
        token = client.token
    answers = [
        httpx.get(f"{served.url}/v1/me/records", headers={"Authorization": f"Bearer {token}"},
                  timeout=30)
        for _ in range(12)
    ]  # fmt: skip
    assert {r.status_code for r in answers} == {200}
    assert all(len(r.json()) >= 1 for r in answers)


def test_a_record_revoked_through_one_worker_is_served_by_none(served: Served) -> None:
    from fairwheel.client import FairwheelClient

    before = _ledger_size(served)
    spent = before * served.price  # one voucher per answered call so far
    first = _search(served, served.target_text, spent + served.price)
    assert first.status_code == 200, first.text
    assert served.target in {h["record_id"] for h in first.json()["hits"]}
    with FairwheelClient(served.url, served.contributor) as client:
        client.login()
        assert client.revoke(served.target)["status"] == "revoked"
    spent += served.price
    for _ in range(8):
        spent += served.price
        answer = _search(served, served.target_text, spent)
        assert answer.status_code == 200, answer.text
        assert served.target not in {h["record_id"] for h in answer.json()["hits"]}
    assert _ledger_size(served) == before + 9
