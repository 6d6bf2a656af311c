"""The API's answers to an attacker's requests (issue #12, items 3 and 5; docs/security.md).

* A relayed transaction that reverts is a 409 ``chain_error`` with the decoded custom error,
  never a 200 with ``status: 0`` (the client would believe its withdrawal happened).
* SIWE messages with control characters are refused (a wallet may display NUL- or
  ESC-laden text differently from what is signed).
* Path ids are digits only: ``/v1/contributions/1.0`` is not record 1.
* A path with ``%2F`` or a stray slash is a JSON 404, never a 307 redirect.
* A body that is not UTF-8 is a 422 with the reason, not a bare 400.
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
