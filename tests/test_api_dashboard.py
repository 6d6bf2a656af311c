"""The dashboard and dev mode: pages render for each role, test wallets sign only for themselves.

The last test starts ``fairwheel serve --dev`` in a subprocess with the real embedding model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.test_api_support import LiveServer, live_server


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from fairwheel.api.dev import dev_keys, seed
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    home = tmp_path_factory.mktemp("dev")
    node = Node.open(
        load_settings(home=home, chain_url="embedded://", embedder_url="fake-hash://384")
    )
    try:
        seed(node, dev_keys(node), records=40)
        with live_server(node, dev=True, rate_per_second=0) as live:
            yield live
    finally:
        node.close()


def wallet(live: LiveServer, name: str) -> dict[str, Any]:
    wallets = httpx.get(live.url + "/v1/dev/wallets").json()
    return next(w for w in wallets if w["name"] == name)


@contextmanager
def browser_login(live: LiveServer, name: str) -> Iterator[httpx.Client]:
    """Sign in as a test wallet the way the page does: the server signs for its test keys."""
    address = wallet(live, name)["address"]
    with httpx.Client(base_url=live.url, headers={"X-Fairwheel-CSRF": "1"}) as browser:
        message = browser.post("/v1/auth/nonce", json={"address": address}).json()["message"]
        signature = browser.post(
            f"/v1/dev/wallets/{address}/signature", json={"kind": "personal", "message": message}
        ).json()["signature"]
        login = browser.post("/v1/auth/login", json={"message": message, "signature": signature})
        assert login.is_success
        yield browser


def test_public_pages_show_pools_charts_and_verification(dev: LiveServer) -> None:
    home = httpx.get(dev.url + "/")
    assert home.status_code == 200 and "support-demo" in home.text and "✔ verified" in home.text
    assert "TEST KEYS" in home.text
    pool = httpx.get(dev.url + "/pools/1").text
    for title in ("Records by status", "Model accuracy over versions", "Earnings posted per epoch"):
        assert title in pool
    assert pool.count("<svg") >= 4 and "root, total and file hash match the chain" in pool
    assert httpx.get(dev.url + "/pools/99").status_code == 200  # a friendly "not found" page
    assert "eth_signTypedData_v4" in httpx.get(dev.url + "/static/fairwheel.js").text


def test_contributor_page_shows_own_records_earnings_and_claim(dev: LiveServer) -> None:
    with browser_login(dev, "alice") as alice:
        page = alice.get("/contributor").text
        mine = alice.get("/v1/me/export")  # the page's download link, with the session cookie
    assert mine.status_code == 200 and mine.json() and "Download everything" in page
    assert "Your records" in page and "Your cumulative earnings over epochs" in page
    assert 'data-action="claim"' in page and 'data-action="revoke"' in page
    anonymous = httpx.get(dev.url + "/contributor").text
    assert "Connect a wallet" in anonymous and 'data-action="revoke"' not in anonymous


def test_consumer_and_operator_pages(dev: LiveServer) -> None:
    with browser_login(dev, "carol") as carol:
        carol.post(
            f"/v1/dev/wallets/{wallet(dev, 'carol')['address']}/deposit",
            json={"pool_id": 1, "amount": str(10**18)},
        ).raise_for_status()
        page = carol.get("/consumer").text
        assert "Spend per call" in page and page.count("<tr>") > 5
        assert "Close epoch" not in carol.get("/operator").text
    with browser_login(dev, "operator") as operator:
        page = operator.get("/operator").text
    assert "Close epoch" in page and "Rejected by reason" in page and "advance-time" in page
    assert "awaiting review" in page and ">serving<" in page and "Roll back" in page


def test_dev_wallets_sign_only_for_their_own_test_keys(dev: LiveServer) -> None:
    from eth_account import Account

    stranger = Account.create().address
    response = httpx.post(
        f"{dev.url}/v1/dev/wallets/{stranger}/signature",
        json={"kind": "personal", "message": "hello"},
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    faucet = httpx.post(f"{dev.url}/v1/dev/faucet", json={"address": stranger})
    assert faucet.status_code == 204


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.model
def test_serve_dev_with_the_real_model(tmp_path: Any) -> None:
    """``fairwheel serve --dev`` end to end: seeded with all-MiniLM-L6-v2, a paid search by URL."""
    from eth_account import Account

    from fairwheel.client import FairwheelClient

    port = _free_port()
    code = "import typer; from fairwheel.cli.serve import serve; typer.run(serve)"
    args = [
        sys.executable,
        "-c",
        code,
        "--port",
        str(port),
        "--dev",
        "--home",
        str(tmp_path / "h"),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail("serve exited early:\n" + (proc.stdout.read() if proc.stdout else ""))
            try:
                if httpx.get(url + "/v1/health", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve did not come up in time")
            time.sleep(0.5)
        carol = next(w for w in httpx.get(url + "/v1/dev/wallets").json() if w["name"] == "carol")
        with FairwheelClient(url, Account.from_key(carol["private_key"])) as client:
            answer = client.search(1, "somebody stole my credit card", k=3)
            assert [h["label"] for h in answer["hits"]].count("card_lost") >= 2
            assert (
                client.predict(1, "my card is gone, please block it")["prediction"] == "card_lost"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
