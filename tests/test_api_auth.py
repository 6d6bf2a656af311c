"""Wallet login: the EIP-4361 message format, and the login flow against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from fairwheel.api.siwe import SiweError, SiweMessage, format_time, parse_message, verify_message
from tests.test_api_support import LiveServer, live_server

KEY = Account.from_key("0x" + "11" * 32)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def message(**changes: Any) -> SiweMessage:
    base = SiweMessage(
        domain="example.org:8000",
        address=KEY.address,
        uri="http://example.org:8000/login",
        chain_id=1337,
        nonce="abcdef0123456789",
        issued_at=format_time(NOW),
        statement="Sign in to Fairwheel.",
        expiration_time=format_time(NOW + timedelta(minutes=10)),
    )
    return replace(base, **changes)


def sign(text: str, account: Any = KEY) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def verify(msg: SiweMessage, signature: str | None = None, **overrides: Any) -> SiweMessage:
    text = msg.to_text()
    args: dict[str, Any] = dict(domains=("example.org:8000",), chain_id=1337, now=NOW, max_age=600)
    args.update(overrides)
    return verify_message(text, signature or sign(text), **args)


# ---------------------------------------------------------------- the format


def test_message_text_follows_eip_4361_and_round_trips() -> None:
    full = message(
        scheme="https",
        not_before=format_time(NOW),
        request_id="req-1",
        resources=("ipfs://bafy", "https://example.org/terms"),
    )
    text = full.to_text()
    assert text.startswith(
        "https://example.org:8000 wants you to sign in with your Ethereum account:\n"
        f"{KEY.address}\n\nSign in to Fairwheel.\n\nURI: http://example.org:8000/login\n"
        "Version: 1\nChain ID: 1337\nNonce: abcdef0123456789\n"
    )
    assert text.endswith("Resources:\n- ipfs://bafy\n- https://example.org/terms")
    assert parse_message(text) == full
    bare = message(statement=None, expiration_time=None)
    assert f"{KEY.address}\n\n\nURI:" in bare.to_text()  # no statement: an empty line pair
    assert parse_message(bare.to_text()) == bare


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t + "\n",
        lambda t: t.replace("Version: 1", "Version: 2"),
        lambda t: t.replace("Nonce: abcdef0123456789", "Nonce: short"),
        lambda t: t.replace("Chain ID: 1337", "Chain ID: 01337"),
        lambda t: t.replace("URI: ", "URI:  "),
        lambda t: t.replace("Issued At: 2030-01-01T00:00:00Z", "Issued At: yesterday"),
        lambda t: t.replace("\nVersion: 1", ""),
        lambda t: t + "\nExtra: field",
    ],
)
def test_malformed_messages_are_refused(mangle: Any) -> None:
    with pytest.raises(SiweError):
        parse_message(mangle(message().to_text()))


def test_verification_checks_every_field() -> None:
    assert verify(message()).address == KEY.address
    refusals = {
        "domain": lambda: verify(message(domain="evil.org:8000", uri="http://evil.org:8000")),
        "uri": lambda: verify(message(uri="http://evil.org/login")),
        "chain": lambda: verify(message(chain_id=1)),
        "expired": lambda: verify(message(), now=NOW + timedelta(minutes=11), max_age=10**6),
        "too old": lambda: verify(message(expiration_time=None), now=NOW + timedelta(hours=1)),
        "future": lambda: verify(message(issued_at=format_time(NOW + timedelta(minutes=5)))),
        "not yet": lambda: verify(message(not_before=format_time(NOW + timedelta(minutes=5)))),
        "checksum": lambda: verify(message(address=KEY.address.lower())),
        "signer": lambda: verify(message(), sign(message().to_text(), Account.create())),
    }
    for name, attempt in refusals.items():
        with pytest.raises(SiweError):
            attempt()
            pytest.fail(f"{name} was accepted")


# ----------------------------------------------------------- against a server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    home = tmp_path_factory.mktemp("auth")
    settings = load_settings(home=home, chain_url="embedded://", embedder_url="fake-hash://384")
    node = Node.open(settings)
    try:
        with live_server(node, rate_per_second=0) as live:
            yield live
    finally:
        node.close()


def fresh_message(server: LiveServer, account: Any, **changes: Any) -> str:
    nonce = httpx.post(f"{server.url}/v1/auth/nonce", json={"address": account.address}).json()
    msg = parse_message(nonce["message"])
    return replace(msg, **changes).to_text()


def login(server: LiveServer, text: str, account: Any = KEY) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/auth/login", json={"message": text, "signature": sign(text, account)}
    )


def test_login_gives_a_session_and_a_nonce_works_once(server: LiveServer) -> None:
    text = fresh_message(server, KEY)
    first = login(server, text)
    assert first.status_code == 200, first.text
    session = first.json()
    assert session["address"] == KEY.address and not session["is_operator"]
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert (
        httpx.get(f"{server.url}/v1/auth/session", headers=headers).json()["address"] == KEY.address
    )
    again = login(server, text)
    assert again.status_code == 401 and again.json()["code"] == "siwe_refused"
    assert "nonce" in again.json()["message"]


@pytest.mark.parametrize(
    "changes",
    [
        {"domain": "evil.example:443", "uri": "https://evil.example:443"},
        {"chain_id": 1},
        {"expiration_time": "2001-01-01T00:00:00Z"},
        {"issued_at": "2001-01-01T00:00:00Z", "expiration_time": None},
        {"nonce": "neverissued0000"},
    ],
    ids=["wrong-domain", "wrong-chain", "expired", "stale", "unknown-nonce"],
)
def test_login_refuses_bad_messages(server: LiveServer, changes: dict[str, Any]) -> None:
    response = login(server, fresh_message(server, KEY, **changes))
    assert response.status_code == 401
    assert response.json()["code"] == "siwe_refused"


def test_login_refuses_someone_elses_signature(server: LiveServer) -> None:
    response = login(server, fresh_message(server, KEY), Account.create())
    assert response.status_code == 401 and "signed by" in response.json()["message"]


def test_operator_key_gets_an_operator_session(server: LiveServer) -> None:
    operator = server.node.operator
    response = login(server, fresh_message(server, operator), operator)
    assert response.status_code == 200 and response.json()["is_operator"]


def test_logout_ends_the_session_and_cookies_need_the_csrf_header(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as browser:
        text = fresh_message(server, KEY)
        response = browser.post("/v1/auth/login", json={"message": text, "signature": sign(text)})
        token = response.json()["token"]
        assert browser.cookies.get("fairwheel_session") == token
        assert browser.get("/v1/auth/session").status_code == 200  # GET: the cookie suffices
        refused = browser.post("/v1/auth/logout")  # a POST riding on the cookie alone
        assert refused.status_code == 401 and "x-fairwheel-csrf" in refused.json()["message"]
        assert browser.get("/v1/auth/session").status_code == 200
        ok = browser.post("/v1/auth/logout", headers={"X-Fairwheel-CSRF": "1"})
        assert ok.status_code == 204
    after = httpx.get(f"{server.url}/v1/auth/session", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401 and after.json()["code"] == "unauthorized"
