"""The API's answers to an attacker's requests (issue #12, items 3 and 5; docs/security.md).

* A relayed transaction that reverts is a 409 ``chain_error`` with the decoded custom error,
  never a 200 with ``status: 0`` (the client would believe its withdrawal happened).
* SIWE messages with control characters are refused (a wallet may display NUL- or
  ESC-laden text differently from what is signed).
* Path ids are digits only: ``/v1/contributions/1.0`` is not record 1.
* A path with ``%2F`` or a stray slash is a JSON 404, never a 307 redirect.
* A body that is not UTF-8 is a 422 with the reason, not a bare 400.
* JSON nested deeper than 32 levels (body, streamed line, voucher header) is a 422 before
  anything parses it: 200,000 levels overflowed the parser's stack and killed the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from fairwheel.api.siwe import SiweError, parse_message
from fairwheel.errors import ChainError
from tests.test_api_support import World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("security")) as w:
        yield w


def _call(signature: str, *words: int) -> bytes:
    return keccak(text=signature)[:4] + b"".join(w.to_bytes(32, "big") for w in words)


def _signed(world: World, account: Any, to: str, data: bytes) -> str:
    info = httpx.get(f"{world.url}/v1/chain/accounts/{account.address}").json()
    tx = {
        "type": 2, "chainId": world.node.chain.chain_id, "nonce": int(info["nonce"]), "to": to,
        "data": "0x" + data.hex(), "value": 0, "gas": 200_000,
        "maxFeePerGas": int(info["max_fee_per_gas"]),
        "maxPriorityFeePerGas": int(info["max_priority_fee_per_gas"]),
    }  # fmt: skip
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def _relay(world: World, raw: str) -> httpx.Response:
    return httpx.post(f"{world.url}/v1/chain/transactions", json={"raw": raw})


def test_a_reverted_relayed_withdrawal_is_409_with_its_reason(world: World) -> None:
    account = world.new_account("withdrawer", deposit=10_000)
    escrow = world.node.protocol.addresses["UsageEscrow"]
    pid = world.pool_id
    early = _relay(world, _signed(world, account, escrow, _call("withdraw(uint256)", pid)))
    assert early.status_code == 409, early.text  # was 200 {"status": 0}
    assert early.json()["code"] == "chain_error"
    assert early.json()["details"]["reason"] == "NoPendingWithdrawal"
    request = _call("requestWithdraw(uint256,uint256)", pid, 5_000)
    asked = _relay(world, _signed(world, account, escrow, request))
    assert asked.status_code == 200 and asked.json()["status"] == 1
    before_thaw = _relay(world, _signed(world, account, escrow, _call("withdraw(uint256)", pid)))
    assert before_thaw.status_code == 409
    assert before_thaw.json()["details"]["reason"] == "WithdrawalNotReady"
    with world.live.ctx.use():  # nothing moved
        assert world.node.protocol.escrow_balance(pid, account.address) == 10_000


def test_a_claim_with_nothing_to_claim_is_409_with_its_reason(world: World) -> None:
    stranger = world.new_account("stranger")
    distributor = world.node.protocol.addresses["RewardDistributor"]
    data = _call("claim(uint256,uint256,address,uint256,bytes32[])", world.pool_id, 1,
                 int(stranger.address, 16), 1, 160, 0)  # fmt: skip
    response = _relay(world, _signed(world, stranger, distributor, data))
    assert response.status_code == 409 and response.json()["code"] == "chain_error"
    assert response.json()["details"]["reason"] not in {"", None, "Refused"}


def test_send_raw_decodes_a_mined_revert_on_the_chain_client(world: World) -> None:
    account = world.new_account("raw")
    escrow = world.node.protocol.addresses["UsageEscrow"]
    raw = bytes.fromhex(_signed(world, account, escrow, _call("withdraw(uint256)", 1))[2:])
    with world.live.ctx.use(), pytest.raises(ChainError) as info:
        world.node.chain.send_raw(raw, "test withdrawal")
    assert info.value.details["reason"] == "NoPendingWithdrawal"


@pytest.mark.parametrize("bad", ["\x00", "\x1b[2J", "\x7f", "\x85"])
def test_siwe_messages_with_control_characters_are_refused(world: World, bad: str) -> None:
    account = Account.create()
    nonce = httpx.post(f"{world.url}/v1/auth/nonce", json={"address": account.address}).json()
    honest = replace(parse_message(nonce["message"]), statement="Sign in to Fairwheel XYZZY")
    text = honest.to_text().replace("XYZZY", f"as {bad}admin")
    with pytest.raises(SiweError):
        parse_message(text)
    signature = account.sign_message(encode_defunct(text=text)).signature
    response = httpx.post(f"{world.url}/v1/auth/login",
                          json={"message": text, "signature": "0x" + signature.hex()})  # fmt: skip
    assert response.status_code == 401 and "control character" in response.json()["message"]


@pytest.mark.parametrize("bad", ["1.0", "+1", "1e0", "0x1", " 1", "１"])
def test_path_ids_are_digits_only(world: World, bad: str) -> None:
    response = httpx.get(f"{world.url}/v1/pools/{bad}")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "schema_error"
    assert "digits" in response.json()["message"]
    assert httpx.get(f"{world.url}/v1/pools/{world.pool_id}").status_code == 200


@pytest.mark.parametrize("path", ["/v1/pools%2F1", "/v1/pools/1/", "/v1/pools%2f1/epochs"])
def test_odd_paths_are_json_404s_not_redirects(world: World, path: str) -> None:
    response = httpx.get(f"{world.url}{path}", follow_redirects=False)
    assert response.status_code == 404, (response.status_code, response.headers)
    assert response.json()["code"] == "not_found"


def test_a_body_that_is_not_utf8_is_422_with_the_reason(world: World) -> None:
    response = httpx.post(
        f"{world.url}/v1/auth/nonce",
        content=b'{"address": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "schema_error" and "UTF-8" in response.json()["message"]


# ------------------------------------------------- every send path, every int path parameter


def test_a_node_sent_transaction_mined_reverted_raises_its_reason(world: World) -> None:
    """The node's own send path (no preflight when the gas is given) decodes a mined revert."""
    account = world.new_account("fixed-gas")
    escrow = world.node.protocol.addresses["UsageEscrow"]
    data = _call("withdraw(uint256)", world.pool_id)
    with world.live.ctx.use(), pytest.raises(ChainError) as info:
        world.node.chain.send_transaction(account, escrow, data, gas=200_000, action="withdraw")
    assert info.value.details["reason"] == "NoPendingWithdrawal"
    assert str(info.value.details["tx_hash"]).startswith("0x")  # it was mined, and reverted


def test_send_raw_refuses_bytes_that_are_not_a_signed_transaction(world: World) -> None:
    with world.live.ctx.use(), pytest.raises(ChainError) as info:
        world.node.chain.send_raw(b"\x02\xc0", "garbage")
    assert info.value.details["reason"] == "Refused"


def test_a_replayed_relayed_transaction_is_409_refused(world: World) -> None:
    account = world.new_account("replayer", deposit=1_000)
    escrow = world.node.protocol.addresses["UsageEscrow"]
    raw = _signed(world, account, escrow, _call("requestWithdraw(uint256,uint256)", 1, 10))
    assert _relay(world, raw).status_code == 200
    again = _relay(world, raw)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "chain_error"
    assert again.json()["details"]["reason"] == "Refused"


def _int_path_params(app: Any) -> list[tuple[str, Any]]:
    from fastapi.routing import APIRoute

    found: list[tuple[str, Any]] = []
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        # FastAPI 0.165 keeps an included router whole (``original_router``) until first match.
        nested = getattr(route, "original_router", None) or getattr(route, "app", None)
        if not isinstance(route, APIRoute):
            routes.extend(getattr(nested, "routes", []))
            continue
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            pending.extend(dependant.dependencies)
            found += [
                (route.path, f) for f in dependant.path_params if f.field_info.annotation is int
            ]
    return found


def test_every_int_path_parameter_is_digits_only(world: World) -> None:
    """Not only the routes the other tests hit: every ``int`` in any route's path."""
    params = _int_path_params(world.live.app)
    assert len(params) >= 20, params  # pools, records, seqs, epochs, models …
    for path, field in params:
        for bad in ("1.0", "+1", "1_0", "１", " 1"):
            _, errors = field.validate(bad, {}, loc=("path", field.alias))
            assert errors, f"{path}: {field.alias}={bad!r} was accepted"
        value, errors = field.validate("7", {}, loc=("path", field.alias))
        assert not errors and value == 7, path


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("URI: http", "URI: http\x1b[8m", "line 6"),
        ("Nonce: ", "Nonce: \x00", "line 9"),
        ("Version: 1", "Version: 1\x9b", "line 7"),
    ],
)
def test_siwe_control_characters_are_refused_in_any_line(old: str, new: str, field: str) -> None:
    from fairwheel.api.siwe import SiweMessage

    honest = SiweMessage(
        domain="example.org", address="0x" + "ab" * 20, uri="http://example.org/",
        chain_id=1, nonce="abcdef0123", issued_at="2030-01-01T00:00:00Z", statement="Hi.",
    )  # fmt: skip
    with pytest.raises(SiweError, match="control character") as info:
        parse_message(honest.to_text().replace(old, new, 1))
    assert info.value.details["field"] == field
    with pytest.raises(SiweError, match="control character"):
        replace(honest, address=honest.address + "\n")  # the address regex's $ allows "\n"


def test_a_not_utf8_body_says_where(world: World) -> None:
    bad = httpx.post(
        f"{world.url}/v1/auth/nonce",
        content=b'{"address": "\xc3\x28"}',
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 422 and "offset 13" in bad.json()["message"], bad.text


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_a_body_nested_too_deep_is_422_and_the_server_lives(
    world: World, content_type: str | None
) -> None:
    """200,000 levels of ``[`` overflowed the parsing thread's stack: the process died."""
    headers = {"Content-Type": content_type} if content_type else {}
    deep = httpx.post(
        f"{world.url}/v1/auth/nonce",
        content=b"[" * 200_000 + b"]" * 200_000,
        headers=headers,
    )
    assert deep.status_code == 422, deep.text
    assert deep.json()["code"] == "schema_error" and "nested" in deep.json()["message"]
    assert httpx.get(f"{world.url}/v1/health").status_code == 200


def test_a_streamed_line_or_voucher_header_nested_too_deep_is_422(world: World) -> None:
    world.new_account("deep-streamer")
    token = world.client("deep-streamer", login=True).token
    line = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    streamed = httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/contributions/stream",
        content=line,
        headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"},
    )
    assert streamed.status_code == 422, streamed.text
    assert "line 1" in streamed.json()["message"] and "nested" in streamed.json()["message"]
    voucher = httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/search",
        json={"query": "hello", "k": 1},
        headers={"X-Fairwheel-Voucher": "[" * 1_000, "X-Fairwheel-Signature": "0x" + "00" * 65},
    )
    assert voucher.status_code == 422, voucher.text
    assert "nested" in voucher.json()["message"]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "\\"]', 1),  # brackets in strings, an escaped backslash before a quote
        (b'["\\"[["]', 1),  # an escaped quote does not end the string
        (b"]]][[", 2),  # stray closers never go below zero
    ],
)
def test_json_depth_counts_only_structure(text: bytes, depth: int) -> None:
    from fairwheel.api.jsonlimits import json_depth

    assert json_depth(text) == depth
