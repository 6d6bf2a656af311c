"""The contributor's pages (issue #18): the pool's terms before an upload, the records table
searched, filtered and paged on the server (50 a page), and one record's history — every paid
use, what it earned, its revocation step by step.

A real node on the embedded chain with the fake embedder, seeded as ``serve --dev`` seeds it,
behind a live server; a fresh contributor (frank) uploads enough records for several pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.test_api_support import LiveServer
from tests.test_web_support import dev_account, seeded_dev_server, signed_in


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_dev_server(tmp_path_factory.mktemp("contributor")) as live:
        yield live


def _submit(live: LiveServer, account: Any, records: list[tuple[str, str | None]]) -> Any:
    """Sign each record's consent with ``account`` and submit them as the page does."""
    from fairwheel.client import FairwheelClient

    with FairwheelClient(live.url, account) as client:
        body = {"records": client.sign_records(1, records)}
    with signed_in(live, account) as browser:
        response = browser.post("/v1/pools/1/contributions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def frank(dev: LiveServer) -> dict[str, Any]:
    """A contributor with 70-odd records of every kind: accepted, copies, unknown labels."""
    from eth_account import Account

    from fairwheel.sim.data import synthetic_support_queries

    account = Account.create()
    texts = [(e.text + " today", e.label) for e in synthetic_support_queries(64, seed=31)]
    texts += [(f"my parcel number {i} never arrived at all", "parcel_missing") for i in range(4)]
    texts += [("ok", None), (texts[0][0], texts[0][1])]  # too short; a copy of their own
    result = _submit(dev, account, texts)
    return {"account": account, "result": result, "count": len(texts)}


def _rows(page: str) -> list[str]:
    """The record ids listed in the records table, in order."""
    return re.findall(r'<tr class="st-[a-z]+"><td><a href="/contributor/records/(\d+)"', page)


def _page_data(page: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="fw-data">(.*?)</script>', page, re.S)
    assert raw is not None
    data: dict[str, Any] = json.loads(raw.group(1).replace("<\\/", "</"))
    return data


def test_the_pools_terms_show_before_an_upload(dev: LiveServer) -> None:
    with dev.ctx.use() as node:
        pool = node.queries.pool(1)
        policy = node.gate_policy(1)
    anonymous = httpx.get(dev.url + "/contributor").text
    with signed_in(dev, dev_account(dev, "alice")) as alice:
        page = alice.get("/contributor").text
    for text in (anonymous, page):
        for label in pool["labels"]:
            assert f'<code class="chip">{label}</code>' in text
        assert f"{policy.min_chars} characters to {policy.max_bytes} bytes" in text
        assert f"<code>{pool['licence']}</code>" in text
        assert "search 0.01 FAIR · prediction 0.02 FAIR" in text
        assert "Contributors share 90.0% of a search and 70.0% of a prediction" in text
    fixes = _page_data(page)["pools"]["1"]["fixes"]
    assert fixes["unknown_label"]["fix"].startswith(
        "Use one of: " + ", ".join(sorted(pool["labels"]))
    )
    assert str(policy.min_chars) in fixes["too_short"]["fix"]
    assert "near_duplicate" in fixes and "duplicate" in fixes


def test_records_are_paged_fifty_at_a_time(dev: LiveServer, frank: dict[str, Any]) -> None:
    with signed_in(dev, frank["account"]) as browser:
        mine = browser.get("/v1/me/records").json()
        first = browser.get("/contributor").text
        second = browser.get("/contributor", params={"page": 2}).text
        beyond = browser.get("/contributor", params={"page": 99}).text
        bad = browser.get("/contributor", params={"page": 0})
    total = len(mine)
    assert 50 < total <= frank["count"]
    assert _rows(first) == [str(r["id"]) for r in mine[:50]]  # newest first, as the API
    assert _rows(second) == [str(r["id"]) for r in mine[50:100]]
    assert _rows(beyond) == _rows(second)  # past the end: the last page
    assert f"{total} records match · page 1 of 2" in first
    assert 'href="/contributor?page=2#records"' in first and "<strong>1</strong>" in first
    assert bad.status_code == 422


def test_records_search_and_filters(dev: LiveServer, frank: dict[str, Any]) -> None:
    with signed_in(dev, frank["account"]) as browser:
        mine = browser.get("/v1/me/records").json()
        rejected = browser.get("/contributor", params={"status": "rejected"}).text
        unknown = browser.get("/contributor", params={"reason": "unknown_label"}).text
        by_id = browser.get("/contributor", params={"q": f"#{mine[7]['id']}"}).text
        by_label = browser.get("/contributor", params={"q": "parcel_missing"}).text
        by_reason = browser.get("/contributor", params={"q": "under 3 characters"}).text
        nothing = browser.get("/contributor", params={"reason": "no_such_reason"}).text
        bad = browser.get("/contributor", params={"reason": "Not-A-Code"})
        blank = browser.get(
            "/contributor", params={"q": "", "status": "", "reason": "", "pool": ""}
        )
        rejected_api = browser.get("/v1/me/records", params={"status": "rejected"}).json()
    assert set(_rows(rejected)) == {str(r["id"]) for r in rejected_api} != set()
    unknown_ids = {str(r["id"]) for r in mine if r["reasons"][0].startswith("unknown_label")}
    assert len(unknown_ids) == 4 and set(_rows(unknown)) == unknown_ids
    assert "Use one of: account_locked" in unknown  # the fix, with the pool's labels
    assert _rows(by_id) == [str(mine[7]["id"])]
    assert set(_rows(by_label)) == unknown_ids  # the label searched
    short = [str(r["id"]) for r in mine if r["reasons"][0].startswith("too_short")]
    assert _rows(by_reason) == short and len(short) == 1
    assert "No record matches." in nothing and _rows(nothing) == []
    assert "selected>Unknown label (4)" in unknown  # the facet keeps the choice and its count
    assert bad.status_code == 422 and bad.json()["code"] == "schema_error"
    # The filter form sends its empty fields: "all", not an error.
    assert blank.status_code == 200 and _rows(blank.text) == [str(r["id"]) for r in mine[:50]]


def _a_used_record(live: LiveServer, owner: str) -> tuple[int, list[Any]]:
    """A record of ``owner``'s that paid searches served, and its uses."""
    with live.ctx.use() as node:
        for record in node.queries.records_of(owner, 1, "accepted"):
            uses = node.queries.record_uses(int(record["id"]))
            if any(u.kind == "search" and u.rank is not None for u in uses):
                return int(record["id"]), uses
    raise AssertionError("no record of theirs was served")


def test_record_history_shows_uses_and_earnings(dev: LiveServer) -> None:
    alice = dev_account(dev, "alice")
    record_id, uses = _a_used_record(dev, alice.address)
    with dev.ctx.use() as node:
        ledger = {int(e["seq"]): e for e in node.queries.ledger(1)}
        hits = {c.seq: c.records for name in ("carol", "dave")
                for c in node.queries.consumer_calls(dev_account(dev, name).address)}  # fmt: skip
    for use in uses:
        entry = ledger[use.seq]
        paid = sum(int(v) for a, v in entry["attribution"] if a == alice.address.lower())
        assert use.paid_contributor == paid and use.consumer == entry["consumer"]
        if use.rank is not None:
            assert hits[use.seq][use.rank] == record_id
        if use.kind == "search":
            assert use.record_amount is not None and 0 <= use.record_amount <= paid
    with signed_in(dev, alice) as browser:
        page = browser.get(f"/contributor/records/{record_id}").text
    assert f"Record {record_id}" in page and "Uses and earnings" in page
    assert f"<strong>{len(uses)}</strong> paid call" in page
    for use in uses:
        assert f"<td>#{use.seq}</td>" in page
    earned = sum(u.record_amount or 0 for u in uses)
    assert earned > 0 and f"earned about <strong>{_tokens(earned)} FAIR</strong>" in page
    assert "inclusion checked on-chain now" in page  # the seed anchored it
    assert 'data-action="revoke"' in page and 'class="todo" data-step="revoked"' in page


def _tokens(units: int) -> str:
    from fairwheel.web.common import tokens

    return tokens(units)


def test_revocation_steps_appear_on_the_history(dev: LiveServer) -> None:
    from eth_account.messages import encode_typed_data

    bob = dev_account(dev, "bob")
    with dev.ctx.use() as node:
        record_id = int(node.queries.records_of(bob.address, 1, "accepted")[0]["id"])
    with signed_in(dev, bob) as browser:
        typed = browser.get(f"/v1/contributions/{record_id}/revocation").json()
        signature = bob.sign_message(encode_typed_data(full_message=typed)).signature
        out = browser.post(f"/v1/contributions/{record_id}/revocation",
                           json={"signature": "0x" + signature.hex()})  # fmt: skip
        assert out.status_code == 200, out.text
        page = browser.get(f"/contributor/records/{record_id}").text
        listed = browser.get("/contributor", params={"q": str(record_id)}).text
    for step in ("revoked", "unserved", "key_destroyed", "models_marked"):
        assert f'class="done" data-step="{step}"' in page
    assert f"Revoked on-chain in <code>{out.json()['tx_hash'][:6]}" in page
    assert 'data-action="revoke"' not in page and "[revoked]" in page
    assert _rows(listed) == [str(record_id)] and "revocation: revoked" in listed


def test_another_contributors_record_is_not_found(dev: LiveServer) -> None:
    with dev.ctx.use() as node:
        bobs = int(node.queries.records_of(dev_account(dev, "bob").address, 1)[0]["id"])
    with signed_in(dev, dev_account(dev, "alice")) as alice:
        page = alice.get(f"/contributor/records/{bobs}")
    assert page.status_code == 200 and f"There is no record {bobs} of yours" in page.text
    assert "Uses and earnings" not in page.text
    anonymous = httpx.get(f"{dev.url}/contributor/records/{bobs}").text
    assert "sign in to see the history" in anonymous
