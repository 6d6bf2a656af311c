"""The paid MCP server (``fairwheel mcp``), driven by the ``mcp`` SDK's own client.

A home on the default chain (anvil://) is prepared in-process with a pool of records, a trained
model and a funded consumer, then closed; ``fairwheel mcp`` is spawned on it and called over
stdio (and streamable HTTP): the tools are listed, an unpaid search is answered with the x402
``PaymentRequired`` object, a search and a prediction paid through ``_meta["x402/payment"]`` are
served with a settlement in the result's ``_meta``, and a replayed payment is refused. The node
is reopened afterwards: its ledger holds exactly the paid calls.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fairwheel.node import Node
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ContributorWallet

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install mcp)")

PRICE = 1_000_003
SERVER = [sys.executable, "-c", "from fairwheel.cli import main; main()", "mcp"]


def _prepare(home: Path) -> dict[str, Any]:
    """A home with a pool (anchored records, a trained model) and a funded consumer."""
    from fairwheel.chain.local import find_anvil
    from fairwheel.config import load_settings

    if find_anvil() is None:
        pytest.skip("anvil is not installed (scripts/setup.sh)")
    node = Node.open(load_settings(home=home, embedder_url="fake-hash://384"))
    try:
        examples = synthetic_support_queries(40, seed=5)
        pool = node.create_pool(
            "mcp", search_price=PRICE, predict_price=PRICE + 1, operator_fee_bps=1000,
            builder_share_bps=2000, labels=sorted({e.label for e in examples}),
        )  # fmt: skip
        pid = int(pool["id"])
        people = [node.testchain.new_account() for _ in range(2)]
        wallets = [ContributorWallet(p, node.consent_domain()) for p in people]
        now = node.onchain.now()
        node.submit(pid, [wallets[i % 2].submission(pid, e.text, e.label, now=now)
                          for i, e in enumerate(examples)])  # fmt: skip
        node.jobs.run_pass()  # anchor and train
        consumer = node.testchain.new_account()
        node.testchain.faucet(consumer.address, 10**12, 0)
        node.testchain.deposit(pid, 10**10, consumer)
        return {"pid": pid, "consumer": consumer, "domain": node.voucher_domain()}
    finally:
        node.close()


def _payment(world: dict[str, Any], accepted: dict[str, Any], cumulative: int) -> dict[str, Any]:
    """The x402 ``PaymentPayload`` of a voucher for ``cumulative``, signed by the consumer."""
    from fairwheel.domain.typed_data import Voucher, sign_voucher

    account = world["consumer"]
    voucher = Voucher(account.address, world["pid"], cumulative)
    signature = sign_voucher(voucher, world["domain"], account.key)
    return {
        "x402Version": 2,
        "resource": {"url": "mcp://tool/search"},
        "accepted": accepted,
        "payload": {
            "voucher": {"payer": account.address, "poolId": str(world["pid"]),
                        "cumulativeAmount": str(cumulative)},
            "signature": "0x" + signature.hex(),
        },
    }  # fmt: skip


async def _session(client: Any, world: dict[str, Any]) -> list[int]:
    """The scenario over one connected client; the ledger seqs of the paid calls."""
    pid, payer = world["pid"], world["consumer"].address
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"list_pools", "quote", "search", "predict"}

    pools = await client.call_tool("list_pools", {})
    assert not pools.is_error
    assert [p["id"] for p in pools.structured_content["pools"]] == [pid]

    quote = await client.call_tool("quote", {"pool_id": pid, "payer": payer})
    assert not quote.is_error and quote.structured_content["next_cumulative"] == str(PRICE)

    unpaid = await client.call_tool("search", {"pool_id": pid, "query": "card declined",
                                               "payer": payer})  # fmt: skip
    assert unpaid.is_error
    required = unpaid.structured_content
    assert required["x402Version"] == 2
    accepted = required["accepts"][0]
    assert accepted["scheme"] == "fairwheel-voucher" and accepted["amount"] == str(PRICE)
    assert accepted["payTo"] == world["domain"].verifying_contract
    assert accepted["extra"]["cumulativeAmount"] == str(PRICE)

    meta = {"x402/payment": _payment(world, accepted, PRICE)}
    paid = await client.call_tool(
        "search", {"pool_id": pid, "query": "card declined", "k": 3}, meta=meta
    )
    assert not paid.is_error, paid.content
    assert len(paid.structured_content["hits"]) == 3
    settled = paid.meta["x402/payment-response"]
    assert settled["success"] is True and settled["extra"]["chargedAmount"] == str(PRICE)
    assert settled["extra"]["cumulativeAmount"] == str(PRICE)
    assert paid.meta["fairwheel/receipt"]["seq"] == str(settled["extra"]["seq"])

    replay = await client.call_tool(
        "search", {"pool_id": pid, "query": "card declined", "k": 3}, meta=meta
    )
    assert replay.is_error
    assert replay.structured_content["x402/payment-response"]["success"] is False
    assert replay.structured_content["code"] == "replay"
    assert replay.structured_content["accepts"][0]["extra"]["cumulativeAmount"] == str(2 * PRICE)

    unpaid_predict = await client.call_tool("predict", {"pool_id": pid, "text": "lost card"})
    terms = unpaid_predict.structured_content["accepts"][0]
    assert unpaid_predict.is_error and terms["amount"] == str(PRICE + 1)
    predicted = await client.call_tool(
        "predict", {"pool_id": pid, "text": "lost card"},
        meta={"x402/payment": _payment(world, terms, 2 * PRICE + 1)},
    )  # fmt: skip
    assert not predicted.is_error, predicted.content
    assert predicted.structured_content["prediction"] is not None
    second = predicted.meta["x402/payment-response"]["extra"]
    assert second["cumulativeAmount"] == str(2 * PRICE + 1)
    return [settled["extra"]["seq"], second["seq"]]


def _env(home: Path) -> dict[str, str]:
    return {"FAIRWHEEL_HOME": str(home), "FAIRWHEEL_EMBEDDER_URL": "fake-hash://384",
            "PATH": os.environ.get("PATH", "")}  # fmt: skip


def _check_ledger(home: Path, world: dict[str, Any], seqs: list[int]) -> None:
    from fairwheel.config import load_settings

    node = Node.open(load_settings(home=home, embedder_url="fake-hash://384"))
    try:
        entries = node.queries.ledger(world["pid"])
        assert [e["seq"] for e in entries] == seqs
        assert [e["kind"] for e in entries] == ["search", "predict"]
    finally:
        node.close()


def test_paid_tools_over_stdio_with_the_sdk_client(tmp_path: Path) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    home = tmp_path / "home"
    world = _prepare(home)
    params = StdioServerParameters(
        command=SERVER[0], args=[*SERVER[1:], "--transport", "stdio"], env=_env(home)
    )

    async def run() -> list[int]:
        async with Client(params) as client:
            return await _session(client, world)

    seqs = asyncio.run(run())
    _check_ledger(home, world, seqs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_paid_tools_over_streamable_http_with_the_sdk_client(tmp_path: Path) -> None:
    from mcp import Client

    home = tmp_path / "home"
    world = _prepare(home)
    port = _free_port()
    proc = subprocess.Popen(
        [*SERVER, "--transport", "http", "--port", str(port)],
        env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(600):  # wait for the port (bounded by attempts, not asserted on time)
            if proc.poll() is not None:
                pytest.fail(f"fairwheel mcp exited: {proc.stderr.read().decode()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        async def run() -> list[int]:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return await _session(client, world)

        seqs = asyncio.run(run())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _check_ledger(home, world, seqs)
