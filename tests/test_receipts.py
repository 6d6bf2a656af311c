"""Signed responses (#16 item 5): every paid answer carries the node's EIP-712 signature over
(ledger seq, request hash, response hash), and a rating that presents it is checked."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fairwheel.domain.receipts import CallReceipt, receipt_signer, response_hash
from fairwheel.domain.typed_data import Voucher, sign_voucher
from fairwheel.errors import SchemaError, SignatureError
from tests.test_api_support import PRICE_SEARCH, World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("receipts"), records=24) as w:
        yield w


def _decode(header: str) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(header)))


def _paid_search(world: World, account: Any, cumulative: int) -> httpx.Response:
    voucher = Voucher(account.address, world.pool_id, cumulative)
    signature = sign_voucher(voucher, world.node.voucher_domain(), account.key)
    headers = {
        "X-Fairwheel-Voucher": json.dumps({"payer": account.address, "pool_id": world.pool_id,
                                           "cumulative_amount": str(cumulative)}),
        "X-Fairwheel-Signature": "0x" + signature.hex(),
    }  # fmt: skip
    return httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/search",
        json={"query": "my card was stolen", "k": 3},
        headers=headers,
        timeout=60,
    )


def test_a_paid_answer_carries_the_nodes_signature_over_seq_request_and_body(world: World) -> None:
    account = world.new_account("receipt-buyer", deposit=10 * PRICE_SEARCH)
    answer = _paid_search(world, account, PRICE_SEARCH)
    assert answer.status_code == 200, answer.text
    receipt = _decode(answer.headers["X-Fairwheel-Receipt"])
    body = answer.json()
    assert receipt["seq"] == str(body["seq"])
    assert receipt["responseHash"] == "0x" + response_hash(body).hex()  # of the body as received
    with world.live.ctx.use() as node:
        entry = node.queries.ledger_entry(int(body["seq"]))
        domain, operator = node.voucher_domain(), node.operator.address
    assert receipt["requestHash"] == entry["query_hash"]
    signed = CallReceipt(int(receipt["seq"]), bytes.fromhex(receipt["requestHash"][2:]),
                         bytes.fromhex(receipt["responseHash"][2:]))  # fmt: skip
    assert receipt_signer(signed, domain, receipt["signature"]) == operator == receipt["signer"]
    typed = signed.to_typed_data(domain)
    assert typed["primaryType"] == "CallReceipt" and list(typed["types"]) == ["CallReceipt"]


def test_a_rating_with_the_receipt_is_checked_and_a_forged_one_refused(world: World) -> None:
    world.new_account("receipt-rater", deposit=10 * PRICE_SEARCH)
    account = world.accounts["receipt-rater"]
    first = _paid_search(world, account, PRICE_SEARCH)
    second = _paid_search(world, account, 2 * PRICE_SEARCH)
    assert first.status_code == second.status_code == 200
    client = world.client("receipt-rater", login=True)
    seq = int(first.json()["seq"])
    other = second.headers["X-Fairwheel-Receipt"]  # a genuine receipt, of another call
    with pytest.raises(SchemaError, match="not call"):
        client.post(f"/v1/calls/{seq}/feedback", {"rating": 5, "receipt": other})
    forged = _decode(first.headers["X-Fairwheel-Receipt"])
    forged["responseHash"] = "0x" + "00" * 32  # claims another answer
    tampered = base64.b64encode(json.dumps(forged).encode()).decode()
    with pytest.raises(SignatureError, match="not signed by this node"):
        client.post(f"/v1/calls/{seq}/feedback", {"rating": 5, "receipt": tampered})
    out = client.post(f"/v1/calls/{seq}/feedback",
                      {"rating": 4, "receipt": first.headers["X-Fairwheel-Receipt"]})  # fmt: skip
    assert out["seq"] == seq and out["value"] == 4
