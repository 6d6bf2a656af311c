"""x402 v2 payments of the paid routes (issue #16, items 1 and 2; docs/payments.md).

* the headers' encoding and the payment requirements, unit by unit;
* over HTTP: an unpaid call is a 402 whose ``PAYMENT-REQUIRED`` says how to pay, a
  ``PAYMENT-SIGNATURE`` pays, every paid answer carries ``PAYMENT-RESPONSE``, the voucher headers
  keep working, refused payments say why;
* end to end with the real SDKs on anvil: the npm fetch wrapper (``@x402/fetch``, run by a Node
  script in ``tests/js/``) and the PyPI ``x402`` SDK each pay for two searches with the
  ``fairwheel-voucher`` scheme, and the next epoch close redeems those vouchers on-chain.

The SDK tests are skipped, with the reason, when anvil, node/npm or the SDK packages are missing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fairwheel.api import x402
from fairwheel.domain.typed_data import Voucher, sign_voucher, verify_voucher
from fairwheel.errors import Conflict, PaymentRequired, SchemaError
from fairwheel.payment_scheme import FairwheelVoucherScheme
from tests.test_api_support import PRICE_PREDICT, PRICE_SEARCH, World, _serve_world, make_world

JS = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("x402"), records=24) as w:
        yield w


def _search(world: World, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/search",
        json={"query": "my card was declined", "k": 3},
        headers=headers or {},
        timeout=60,
    )


def _terms(world: World) -> dict[str, Any]:
    with world.live.ctx.use():
        node = world.node
        return {
            "network": f"eip155:{node.onchain.chain_id}",
            "token": node.onchain.pool_info(world.pool_id).token,
            "escrow": node.voucher_domain().verifying_contract,
            "domain": node.voucher_domain(),
        }


def _pay_header(world: World, account: Any, cumulative: int, **accepted: Any) -> str:
    """A PAYMENT-SIGNATURE for ``cumulative``, built by hand from the 402's requirements."""
    required = x402.decode_header(_search(world).headers[x402.PAYMENT_REQUIRED])
    voucher = Voucher(account.address, world.pool_id, cumulative)
    signature = sign_voucher(voucher, _terms(world)["domain"], account.key)
    payload = {
        "x402Version": 2,
        "resource": required["resource"],
        "accepted": {**required["accepts"][0], **accepted},
        "payload": {
            "voucher": {
                "payer": voucher.payer,
                "poolId": str(world.pool_id),
                "cumulativeAmount": str(cumulative),
            },
            "signature": "0x" + signature.hex(),
        },
    }
    return x402.encode_header(payload)


# ------------------------------------------------------------------------- (a) unit tests


def test_headers_round_trip_as_base64_json() -> None:
    value = {"x402Version": 2, "accepts": [{"amount": "1000003", "extra": {"name": "é"}}]}
    encoded = x402.encode_header(value)
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert encoded == base64.b64encode(compact.encode()).decode()
    assert x402.decode_header(encoded) == value


@pytest.mark.parametrize(
    "raw",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        "A" * (x402.MAX_HEADER_CHARS + 4),
        base64.b64encode(b"[" * 500 + b"]" * 500).decode()[: x402.MAX_HEADER_CHARS],
    ],
)
def test_a_malformed_payment_header_is_a_schema_error(raw: str) -> None:
    with pytest.raises(SchemaError):
        x402.decode_header(raw)


def test_payment_required_is_402_and_an_insufficient_funds() -> None:
    assert PaymentRequired.http_status == 402 and PaymentRequired.code == "payment_required"
    assert issubclass(PaymentRequired, x402.FairwheelError)


def test_the_requirements_name_price_asset_escrow_network_and_the_payers_next_amount(
    world: World,
) -> None:
    terms = _terms(world)
    payer = world.new_account("unit-payer", deposit=10 * PRICE_SEARCH)
    with world.live.ctx.use():
        anonymous = x402.requirements(world.node, world.pool_id, "search")
        known = x402.requirements(world.node, world.pool_id, "predict", payer.address.lower())
    assert anonymous["scheme"] == x402.SCHEME == "fairwheel-voucher"
    assert anonymous["network"] == terms["network"]
    assert anonymous["amount"] == str(PRICE_SEARCH)
    assert anonymous["asset"] == terms["token"]
    assert anonymous["payTo"] == anonymous["extra"]["escrow"] == terms["escrow"]
    assert anonymous["extra"]["poolId"] == str(world.pool_id)
    assert (anonymous["extra"]["name"], anonymous["extra"]["version"]) == (
        "Fairwheel UsageEscrow", "1",
    )  # fmt: skip
    assert "cumulativeAmount" not in anonymous["extra"]
    assert known["amount"] == str(PRICE_PREDICT)
    assert known["extra"]["payer"] == payer.address
    assert known["extra"]["spent"] == "0"
    assert known["extra"]["cumulativeAmount"] == str(PRICE_PREDICT)


def test_a_payload_maps_onto_the_nodes_voucher_and_refuses_other_terms(world: World) -> None:
    account = world.new_account("unit-map")
    header = _pay_header(world, account, PRICE_SEARCH)
    payload = x402.decode_header(header)
    with world.live.ctx.use():
        node = world.node
        voucher, signature = x402.to_voucher(node, world.pool_id, "search", payload)
        assert voucher == Voucher(account.address, world.pool_id, PRICE_SEARCH)
        verify_voucher(voucher, node.voucher_domain(), signature)
        bad: list[dict[str, Any]] = [
            {**payload, "x402Version": 1},
            {**payload, "accepted": {**payload["accepted"], "scheme": "exact"}},
            {**payload, "accepted": {**payload["accepted"], "network": "eip155:1"}},
            {**payload, "accepted": {**payload["accepted"], "payTo": "0x" + "11" * 20}},
            {**payload, "accepted": {**payload["accepted"], "asset": "0x" + "22" * 20}},
            {**payload, "payload": {**payload["payload"], "signature": "0x1234"}},
            {**payload, "payload": {"signature": payload["payload"]["signature"]}},
            {**payload, "payload": {**payload["payload"], "voucher": {
                **payload["payload"]["voucher"], "poolId": str(world.pool_id + 1)}}},
            {**payload, "payload": {**payload["payload"], "voucher": {
                **payload["payload"]["voucher"], "cumulativeAmount": "-1"}}},
        ]  # fmt: skip
        for case in bad:
            with pytest.raises(SchemaError):
                x402.to_voucher(node, world.pool_id, "search", case)


def test_the_python_scheme_signs_the_next_voucher_and_never_more_than_it_paid(
    world: World,
) -> None:
    terms = _terms(world)
    account = world.new_account("unit-scheme")
    scheme = FairwheelVoucherScheme(account)
    with world.live.ctx.use():
        base = x402.requirements(world.node, world.pool_id, "search", account.address)
    inner = scheme.create_payment_payload(base)
    voucher = Voucher(account.address, world.pool_id, PRICE_SEARCH)
    assert inner["voucher"] == {
        "payer": account.address, "poolId": str(world.pool_id),
        "cumulativeAmount": str(PRICE_SEARCH),
    }  # fmt: skip
    verify_voucher(voucher, terms["domain"], inner["signature"])
    inflated = {**base, "extra": {**base["extra"], "spent": str(10 * PRICE_SEARCH)}}
    with pytest.raises(Conflict, match="signed only"):
        scheme.create_payment_payload(inflated)
    anonymous = {**base, "extra": {k: v for k, v in base["extra"].items() if k != "payer"}}
    assert scheme.create_payment_payload(anonymous)["voucher"]["cumulativeAmount"] == str(
        2 * PRICE_SEARCH
    )  # without the node's figure it continues from what it signed itself
    with pytest.raises(Conflict, match=x402.PAYER_HEADER):
        FairwheelVoucherScheme(account).create_payment_payload(anonymous)


# ------------------------------------------------------------------------------- (b) HTTP


def test_an_unpaid_search_is_402_with_decodable_payment_requirements(world: World) -> None:
    terms = _terms(world)
    answer = _search(world)
    assert answer.status_code == 402
    body = answer.json()
    assert body["code"] == "payment_required"
    assert body["details"] == {"price": str(PRICE_SEARCH), "scheme": x402.SCHEME}
    required = x402.decode_header(answer.headers[x402.PAYMENT_REQUIRED])
    assert required["x402Version"] == 2
    assert required["resource"]["url"] == f"{world.url}/v1/pools/{world.pool_id}/search"
    [accept] = required["accepts"]
    assert accept["scheme"] == "fairwheel-voucher"
    assert accept["amount"] == str(PRICE_SEARCH)
    assert accept["asset"] == terms["token"]
    assert accept["payTo"] == terms["escrow"]
    assert accept["network"] == terms["network"]


def test_the_402_says_the_payers_next_cumulative_when_the_payer_is_named(world: World) -> None:
    account = world.new_account("named", deposit=10 * PRICE_SEARCH)
    world.client("named").search(world.pool_id, "card", 2)  # spends one search price
    answer = _search(world, {x402.PAYER_HEADER: account.address})
    assert answer.status_code == 402
    assert answer.json()["details"]["next_cumulative"] == str(2 * PRICE_SEARCH)
    [accept] = x402.decode_header(answer.headers[x402.PAYMENT_REQUIRED])["accepts"]
    assert accept["extra"]["payer"] == account.address
    assert accept["extra"]["spent"] == str(PRICE_SEARCH)
    assert accept["extra"]["cumulativeAmount"] == str(2 * PRICE_SEARCH)


def test_an_unpaid_prediction_is_402_at_the_prediction_price(world: World) -> None:
    answer = httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/predict", json={"text": "card declined"}, timeout=60
    )
    assert answer.status_code == 402
    [accept] = x402.decode_header(answer.headers[x402.PAYMENT_REQUIRED])["accepts"]
    assert accept["amount"] == str(PRICE_PREDICT) and accept["extra"]["kind"] == "predict"


def test_the_voucher_headers_still_pay_and_the_answer_says_so_in_payment_response(
    world: World,
) -> None:
    world.new_account("legacy", deposit=10 * PRICE_SEARCH)
    client = world.client("legacy")
    first = client.search(world.pool_id, "card", 2)
    second = client.search(world.pool_id, "card", 2)
    assert second["voucher_amount"] == str(2 * PRICE_SEARCH)
    assert second["seq"] > first["seq"]
    half = _search(world, {"X-Fairwheel-Signature": "0x" + "00" * 65})
    assert half.status_code == 422 and half.json()["code"] == "schema_error"


def test_a_payment_signature_pays_and_the_response_says_what_was_charged(world: World) -> None:
    account = world.new_account("x402-http", deposit=10 * PRICE_SEARCH)
    terms = _terms(world)
    answer = _search(world, {x402.PAYMENT_SIGNATURE: _pay_header(world, account, PRICE_SEARCH)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["consumer"] == account.address and body["price"] == str(PRICE_SEARCH)
    paid = x402.decode_header(answer.headers[x402.PAYMENT_RESPONSE])
    assert paid["success"] is True and paid["transaction"] == ""
    assert paid["network"] == terms["network"] and paid["payer"] == account.address
    assert paid["extra"]["chargedAmount"] == str(PRICE_SEARCH)
    assert paid["extra"]["cumulativeAmount"] == str(PRICE_SEARCH)
    assert paid["extra"]["seq"] == body["seq"]
    with world.live.ctx.use():
        assert world.node.spent(world.pool_id, account.address) == PRICE_SEARCH


def test_an_idempotency_key_does_not_replay_the_402_to_the_paid_retry(world: World) -> None:
    """The x402 flow with an Idempotency-Key: unpaid (402, not stored), then the paid retry with
    the same key (served), then a repeat of the paid retry (the stored answer, not a second
    charge)."""
    account = world.new_account("x402-idem", deposit=10 * PRICE_SEARCH)
    key = {"Idempotency-Key": "x402-retry-1"}
    assert _search(world, key).status_code == 402
    paid = {**key, x402.PAYMENT_SIGNATURE: _pay_header(world, account, PRICE_SEARCH)}
    first = _search(world, paid)
    assert first.status_code == 200, first.text
    again = _search(world, paid)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["seq"] == first.json()["seq"]
    with world.live.ctx.use():
        assert world.node.spent(world.pool_id, account.address) == PRICE_SEARCH


def test_refused_payments_say_why_and_a_402_says_the_expected_amount(world: World) -> None:
    account = world.new_account("x402-refused", deposit=10 * PRICE_SEARCH)
    paid = _pay_header(world, account, PRICE_SEARCH)
    assert _search(world, {x402.PAYMENT_SIGNATURE: paid}).status_code == 200
    replay = _search(world, {x402.PAYMENT_SIGNATURE: paid})
    assert replay.status_code == 400 and replay.json()["code"] == "replay"
    failed = x402.decode_header(replay.headers[x402.PAYMENT_RESPONSE])
    assert failed["success"] is False and failed["errorReason"] == "replay"
    too_much = _search(
        world, {x402.PAYMENT_SIGNATURE: _pay_header(world, account, 5 * PRICE_SEARCH)}
    )
    assert too_much.status_code == 402 and too_much.json()["code"] == "insufficient_funds"
    [accept] = x402.decode_header(too_much.headers[x402.PAYMENT_REQUIRED])["accepts"]
    assert accept["extra"]["cumulativeAmount"] == str(2 * PRICE_SEARCH)
    broke = world.new_account("x402-broke")  # no escrow at all
    poor = _search(world, {x402.PAYMENT_SIGNATURE: _pay_header(world, broke, PRICE_SEARCH)})
    assert poor.status_code == 402 and poor.json()["code"] == "insufficient_funds"
    other = _search(
        world, {x402.PAYMENT_SIGNATURE: _pay_header(world, account, 2 * PRICE_SEARCH,
                                                    scheme="exact")}
    )  # fmt: skip
    assert other.status_code == 422 and "fairwheel-voucher" in other.json()["message"]
    garbage = _search(world, {x402.PAYMENT_SIGNATURE: "%%%"})
    assert garbage.status_code == 422 and garbage.json()["code"] == "schema_error"


def test_openapi_names_the_x402_headers(world: World) -> None:
    spec = httpx.get(f"{world.url}/openapi.json", timeout=30).json()
    for path in ("search", "predict"):
        op = spec["paths"][f"/v1/pools/{{pool_id}}/{path}"]["post"]
        names = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert {"X-Fairwheel-Voucher", "PAYMENT-SIGNATURE", "X-Fairwheel-Payer"} <= names
        assert x402.PAYMENT_REQUIRED in op["responses"]["402"]["headers"]
        assert x402.PAYMENT_RESPONSE in op["responses"]["200"]["headers"]


# ----------------------------------------------------------- (c, d) the real SDKs on anvil


@pytest.fixture(scope="module")
def anvil_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from fairwheel.chain.local import find_anvil
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    if find_anvil() is None:
        pytest.skip("anvil missing: ./scripts/setup.sh")
    home = tmp_path_factory.mktemp("x402-anvil")
    node = Node.open(load_settings(home=home, embedder_url="fake-hash://384"))
    assert str(node.settings.chain_url).startswith("anvil://")
    with contextmanager(_serve_world)(node, 24, {}) as w:
        yield w


def _redeemed_after_close(world: World, payer: str) -> int:
    with world.live.ctx.use():
        world.node.close_epoch(world.pool_id)
        return int(world.node.onchain.redeemed(world.pool_id, payer))


def _npm_ready() -> str | None:
    """Why the npm SDK test cannot run, or None (installs tests/js on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm missing: ./scripts/setup.sh"
    if not (JS / "node_modules" / "@x402" / "fetch").is_dir():
        done = subprocess.run(
            ["bash", str(JS / "install.sh")], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            return f"npm could not install tests/js: {done.stderr.strip()[-300:]}"
    return None


def test_the_npm_fetch_wrapper_pays_two_searches_redeemed_at_the_next_epoch(
    anvil_world: World,
) -> None:
    reason = _npm_ready()
    if reason:
        pytest.skip(reason)
    world = anvil_world
    account = world.new_account("npm-payer", deposit=10 * PRICE_SEARCH)
    terms = _terms(world)
    done = subprocess.run(
        ["node", str(JS / "pay.mjs"), world.url, str(world.pool_id),
         "0x" + bytes(account.key).hex(), terms["token"], "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [json.loads(line) for line in done.stdout.splitlines()]
    assert [c["status"] for c in calls] == [200, 200]
    assert [c["payment"]["extra"]["cumulativeAmount"] for c in calls] == [
        str(PRICE_SEARCH), str(2 * PRICE_SEARCH),
    ]  # fmt: skip
    assert all(c["payment"]["payer"] == account.address for c in calls)
    assert calls[1]["seq"] == calls[0]["seq"] + 1
    with world.live.ctx.use():
        assert world.node.onchain.redeemed(world.pool_id, account.address) == 0
    assert _redeemed_after_close(world, account.address) == 2 * PRICE_SEARCH


def test_the_pypi_sdk_pays_two_searches_redeemed_at_the_next_epoch(anvil_world: World) -> None:
    pytest.importorskip("x402", reason='the x402 SDK is missing: pip install "x402[clients]"')
    from fairwheel.payment_scheme import x402_session

    world = anvil_world
    account = world.new_account("pypi-payer", deposit=10 * PRICE_SEARCH)
    terms = _terms(world)
    session = x402_session(account, network=terms["network"], asset=terms["token"],
                           escrow=terms["escrow"], max_amount_per_payment=PRICE_SEARCH)  # fmt: skip
    paid = []
    for _ in range(2):
        answer = session.post(
            f"{world.url}/v1/pools/{world.pool_id}/search",
            json={"query": "card payment declined", "k": 3},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        paid.append(x402.decode_header(answer.headers[x402.PAYMENT_RESPONSE]))
    assert [p["extra"]["cumulativeAmount"] for p in paid] == [
        str(PRICE_SEARCH), str(2 * PRICE_SEARCH),
    ]  # fmt: skip
    assert _redeemed_after_close(world, account.address) == 2 * PRICE_SEARCH
