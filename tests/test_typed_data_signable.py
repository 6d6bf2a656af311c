"""The EIP-712 typed data the API serves is signable as served (issue #16, item 6).

Every payload a wallet is handed — a record's ``Consent``, a batch's ``BatchConsent``, a call's
``Voucher``, a record's ``Revocation`` — is ``{types, primaryType, domain, message}`` whose
``types`` has no ``EIP712Domain`` entry: ethers' ``Wallet.signTypedData(domain, types, message)``
throws on one. A Node script (``tests/js/sign-typed-data.mjs``) signs the exact JSON the API
served with ethers and with viem; the node takes those signatures (records accepted, a search
paid, a record revoked), and both libraries recover the node's key from a paid answer's
``CallReceipt``. The Python side (``eth_account.encode_typed_data``, the dev wallets' signer)
signs the same payloads.

The JavaScript tests are skipped, with the reason, when node/npm or the packages are missing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from fairwheel.domain.eip712 import with_domain_type
from fairwheel.domain.receipts import CallReceipt
from tests.test_api_support import PRICE_SEARCH, World, make_world

JS = Path(__file__).resolve().parent / "js"
SCRIPT = JS / "sign-typed-data.mjs"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("signable"), records=24) as w:
        yield w


def _js_ready() -> str | None:
    """Why the ethers/viem test cannot run, or None (installs tests/js on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm missing: ./scripts/setup.sh"
    if not (JS / "node_modules" / "ethers").is_dir() or not (JS / "node_modules" / "viem").is_dir():
        done = subprocess.run(
            ["bash", str(JS / "install.sh")], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            return f"npm could not install tests/js: {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def js() -> None:
    reason = _js_ready()
    if reason:
        pytest.skip(reason)


def _run_js(key: bytes, sign: Sequence[Any] = (), verify: Sequence[Any] = ()) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"key": "0x" + bytes(key).hex(), "sign": list(sign),
                          "verify": list(verify)}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def _session(world: World, name: str, deposit: int = 0) -> tuple[Any, dict[str, str]]:
    account = world.new_account(name, deposit=deposit)
    client = world.client(name, login=True)
    return account, {"Authorization": f"Bearer {client.token}"}


def _api(world: World, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    answer = httpx.request(method, f"{world.url}{path}", json=body, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


def _served(world: World, name: str) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """A signed-in contributor and every kind of typed data the API hands a wallet."""
    account, auth = _session(world, name, deposit=10 * PRICE_SEARCH)
    pid = world.pool_id
    texts = [
        f"{name}: my card was declined {n}"
        for n in ("at the shop", "online", "abroad", "twice today", "at the atm")
    ]
    records = [{"text": t, "label": None} for t in texts]  # two single consents, a batch of 3
    drafts = _api(world, "POST", f"/v1/pools/{pid}/consents", auth, {"records": records[:2]})
    batch = _api(world, "POST", f"/v1/pools/{pid}/consents/batch", auth, {"records": records[2:]})
    quote = _api(world, "GET", f"/v1/pools/{pid}/quote?kind=search&payer={account.address}", auth)
    return (
        account,
        auth,
        {
            "records": records,
            "consents": drafts.json()["items"],
            "batch": batch.json(),
            "quote": quote.json(),
        },
    )


def _payloads(served: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(item["typed_data"] for item in served["consents"]),
        served["batch"]["typed_data"],
        served["quote"]["typed_data"],
    ]


def test_served_typed_data_lists_no_eip712domain_and_python_signs_it(world: World) -> None:
    account, _, served = _served(world, "py-signer")
    payloads = _payloads(served)
    assert [p["primaryType"] for p in payloads] == ["Consent", "Consent", "BatchConsent", "Voucher"]
    for typed in payloads:
        assert list(typed["types"]) == [typed["primaryType"]]
        assert set(typed) == {"types", "primaryType", "domain", "message"}
        # eth_account derives the domain's type from its keys: the same digest as with it.
        plain = encode_typed_data(full_message=typed)
        assert plain == encode_typed_data(full_message=with_domain_type(typed))
        signature = Account.sign_message(plain, account.key).signature
        assert Account.recover_message(plain, signature=signature) == account.address


def test_with_domain_type_adds_what_json_rpc_wallets_need() -> None:
    typed = {"types": {"T": [{"name": "a", "type": "uint256"}]}, "primaryType": "T",
             "domain": {"name": "N", "chainId": 1}, "message": {"a": 1}}  # fmt: skip
    full = with_domain_type(typed)
    assert list(full["types"]) == ["EIP712Domain", "T"] and "EIP712Domain" not in typed["types"]
    assert full["types"]["EIP712Domain"] == [
        {"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"},
    ]  # fmt: skip


def test_ethers_and_viem_sign_the_served_consents_and_the_node_accepts_them(
    world: World, js: None
) -> None:
    account, auth, served = _served(world, "js-contributor")
    out = _run_js(account.key, sign=_payloads(served))
    assert out["address"] == account.address
    sigs = out["signed"]
    assert all(s["ethers"] == s["viem"] for s in sigs)  # both deterministic (RFC 6979)
    for typed, sig in zip(_payloads(served), sigs, strict=True):
        message = encode_typed_data(full_message=typed)
        assert Account.recover_message(message, signature=sig["ethers"]) == account.address
    records, consents, batch = served["records"], served["consents"], served["batch"]
    body = {
        "records": [
            {**records[i], "consent": consents[i]["consent"], "signature": sigs[i][lib]}
            for i, lib in ((0, "ethers"), (1, "viem"))
        ],
        "batches": [{
            "consent": batch["consent"], "signature": sigs[2]["ethers"],
            "records": [{**r, "proof": d["proof"]} for r, d in zip(records[2:], batch["records"],
                                                                   strict=True)],
        }],
    }  # fmt: skip
    result = _api(world, "POST", f"/v1/pools/{world.pool_id}/contributions", auth, body).json()
    assert result["counts"] == {"accepted": 5}, result


def test_ethers_signs_the_served_voucher_and_revocation_and_the_node_takes_them(
    world: World, js: None
) -> None:
    account, auth, served = _served(world, "js-payer")
    voucher = served["quote"]
    signature = _run_js(account.key, sign=[voucher["typed_data"]])["signed"][0]["ethers"]
    header = {"payer": voucher["payer"], "pool_id": world.pool_id,
              "cumulative_amount": voucher["next_cumulative"]}  # fmt: skip
    paid = _api(world, "POST", f"/v1/pools/{world.pool_id}/search", {
        "X-Fairwheel-Voucher": json.dumps(header), "X-Fairwheel-Signature": signature,
    }, {"query": "my card was declined", "k": 3})  # fmt: skip
    assert paid.json()["voucher_amount"] == str(PRICE_SEARCH)
    # A record of this contributor, then its served Revocation signed by ethers.
    client = world.client("js-payer", login=True)
    record = client.submit(world.pool_id, [("js-payer: a card i never ordered came", None)])
    rid = record["results"][0]["record_id"]
    typed = _api(world, "GET", f"/v1/contributions/{rid}/revocation", auth).json()
    assert "EIP712Domain" not in typed["types"]
    signature = _run_js(account.key, sign=[typed])["signed"][0]["ethers"]
    revoked = _api(world, "POST", f"/v1/contributions/{rid}/revocation", {},
                   {"signature": signature})  # fmt: skip
    assert revoked.json()["status"] == "revoked"


def test_ethers_and_viem_recover_the_node_from_a_paid_answers_receipt(
    world: World, js: None
) -> None:
    account, _ = _session(world, "js-receipt", deposit=10 * PRICE_SEARCH)
    with world.live.ctx.use() as node:
        from fairwheel.domain.typed_data import Voucher, sign_voucher

        domain, operator = node.voucher_domain(), node.operator.address
        voucher = Voucher(account.address, world.pool_id, PRICE_SEARCH)
        signature = sign_voucher(voucher, domain, account.key)
    header = {"payer": account.address, "pool_id": world.pool_id,
              "cumulative_amount": str(PRICE_SEARCH)}  # fmt: skip
    paid = _api(world, "POST", f"/v1/pools/{world.pool_id}/search", {
        "X-Fairwheel-Voucher": json.dumps(header), "X-Fairwheel-Signature": "0x" + signature.hex(),
    }, {"query": "card stolen", "k": 2})  # fmt: skip
    receipt = json.loads(base64.b64decode(paid.headers["X-Fairwheel-Receipt"]))
    hashes = (bytes.fromhex(receipt[k][2:]) for k in ("requestHash", "responseHash"))
    typed = CallReceipt(int(receipt["seq"]), *hashes).to_typed_data(domain)
    assert "EIP712Domain" not in typed["types"]
    out = _run_js(account.key, verify=[{"typed": typed, "signature": receipt["signature"]}])
    assert out["recovered"] == [{"ethers": operator, "viem": operator}]
