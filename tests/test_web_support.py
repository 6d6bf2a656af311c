"""Shared set-up of the dashboard tests: a seeded dev node behind a live server, and signing in
the way the page does (a session cookie from Sign-In with Ethereum).

No test here; the ``test_`` prefix keeps it beside the tests it serves (as test_api_support).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.test_api_support import LiveServer, live_server


@contextmanager
def seeded_dev_server(home: Path, *, records: int = 40) -> Iterator[LiveServer]:
    """``fairwheel serve --dev`` in-process: the dev seed (alice and bob contribute, carol and
    dave pay, two epochs closed) on the embedded chain and the fake embedder, served live."""
    from fairwheel.api.dev import dev_keys, seed
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    node = Node.open(
        load_settings(home=home, chain_url="embedded://", embedder_url="fake-hash://384")
    )
    try:
        seed(node, dev_keys(node), records=records)
        with live_server(node, dev=True, rate_per_second=0) as live:
            yield live
    finally:
        node.close()


def dev_account(live: LiveServer, name: str) -> Any:
    """The named TEST KEY wallet as an eth_account account."""
    from eth_account import Account

    wallets = httpx.get(live.url + "/v1/dev/wallets").json()
    key = next(w["private_key"] for w in wallets if w["name"] == name)
    return Account.from_key(key)


@contextmanager
def signed_in(live: LiveServer, account: Any) -> Iterator[httpx.Client]:
    """A browser-like client signed in as ``account``: the session rides in the HttpOnly
    cookie, and every write carries the CSRF header, as the dashboard's script sends them."""
    from eth_account.messages import encode_defunct

    with httpx.Client(base_url=live.url, headers={"X-Fairwheel-CSRF": "1"}) as browser:
        message = browser.post("/v1/auth/nonce", json={"address": account.address}).json()
        signed = account.sign_message(encode_defunct(text=message["message"]))
        login = browser.post(
            "/v1/auth/login",
            json={"message": message["message"], "signature": "0x" + signed.signature.hex()},
        )
        assert login.is_success, login.text
        yield browser
