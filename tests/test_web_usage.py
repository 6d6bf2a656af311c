"""The consumer's usage page and exports (issue #18): balances, the faucet, spend over time,
every call with what it served and its rating, CSV and Parquet exports that match the ledger,
and escrow withdrawals by the dev wallets (request, thaw, complete).

A real node on the embedded chain with the fake embedder, seeded as ``serve --dev`` seeds it
(carol and dave have paid for searches and predictions over two epochs), behind a live server.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.test_api_support import LiveServer
from tests.test_web_support import dev_account, seeded_dev_server, signed_in

TOKEN = 10**18


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_dev_server(tmp_path_factory.mktemp("usage")) as live:
        yield live


def _ledger(live: LiveServer, address: str) -> list[dict[str, object]]:
    with live.ctx.use() as node:
        return list(node.queries.ledger(consumer=address))


def test_usage_csv_is_the_consumers_ledger_row_by_row(dev: LiveServer) -> None:
    carol = dev_account(dev, "carol")
    entries = _ledger(dev, carol.address)
    assert len(entries) >= 8  # 3 + 5 paid calls in the seed
    with signed_in(dev, carol) as browser:
        first = entries[0]["seq"]
        rated = browser.post(f"/v1/calls/{first}/feedback", json={"rating": 4})
        assert rated.status_code == 200, rated.text
        response = browser.get("/v1/me/usage.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["seq"]) for r in rows] == [int(e["seq"]) for e in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert row["price"] == entry["price"] and row["operator_fee"] == entry["operator_fee"]
        assert row["query_hash"] == entry["query_hash"] and row["ledger_hash"] == entry["hash"]
        assert row["kind"] == entry["kind"] and int(row["pool"]) == entry["pool"]
        paid = sum(int(v) for _, v in entry["attribution"])  # type: ignore[attr-defined]
        assert int(row["contributors_amount"]) == paid
        assert re.fullmatch(r"[0-9]+", row["voucher_amount"])  # base units, never 1e16
    assert (rows[0]["rating_kind"], rows[0]["rating"]) == ("stars", "4")
    assert all(r["rating"] == "" for r in rows[1:])
    searches = [r for r in rows if r["kind"] == "search"]
    with dev.ctx.use() as node:
        hits = node.queries.consumer_calls(carol.address)
    served = {c.seq: c.records for c in hits}
    for row in searches:
        ids = tuple(int(x) for x in row["records_served"].split())
        assert ids and ids == served[int(row["seq"])]
    # The spend adds up to what the voucher says was spent.
    per_pool = sum(int(r["price"]) for r in rows)
    assert per_pool == int(rows[-1]["voucher_amount"])


def test_usage_parquet_has_exact_money_and_the_same_rows(dev: LiveServer) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dave = dev_account(dev, "dave")
    with signed_in(dev, dave) as browser:
        csv_rows = list(csv.DictReader(io.StringIO(browser.get("/v1/me/usage.csv").text)))
        response = browser.get("/v1/me/usage.parquet")
        only_pool = browser.get("/v1/me/usage.parquet", params={"pool_id": 1})
        unknown = browser.get("/v1/me/usage.csv", params={"pool_id": 99})
        bad = browser.get("/v1/me/usage.csv", params={"pool_id": 0})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.schema.field("price").type == pa.decimal128(38, 0)
    assert table.schema.field("records_served").type == pa.list_(pa.int64())
    data = table.to_pylist()
    assert len(data) == len(csv_rows) >= 8
    for got, want in zip(data, csv_rows, strict=True):
        assert got["seq"] == int(want["seq"])
        assert got["price"] == Decimal(want["price"])
        assert got["voucher_amount"] == Decimal(want["voucher_amount"])
        assert got["time_utc"].isoformat() == want["time_utc"]
        assert " ".join(map(str, got["records_served"])) == want["records_served"]
    assert pq.read_table(io.BytesIO(only_pool.content)).num_rows == len(data)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert bad.status_code == 422 and bad.json()["code"] == "schema_error"


def test_usage_exports_need_a_session(dev: LiveServer) -> None:
    for path in ("/v1/me/usage.csv", "/v1/me/usage.parquet"):
        response = httpx.get(dev.url + path)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_a_consumer_with_no_calls_exports_a_header_only(dev: LiveServer) -> None:
    erin = dev_account(dev, "erin")  # the builder: never paid for a call
    with signed_in(dev, erin) as browser:
        text = browser.get("/v1/me/usage.csv").text
        page = browser.get("/consumer").text
    assert text.splitlines() == [text.splitlines()[0]] and text.startswith("seq,time,time_utc")
    assert "No paid calls yet." in page and "no data yet" in page


def test_usage_page_shows_balances_chart_calls_and_ratings(dev: LiveServer) -> None:
    carol = dev_account(dev, "carol")
    entries = _ledger(dev, carol.address)
    with signed_in(dev, carol) as browser:
        page = browser.get("/consumer").text
        rated_seq = entries[1]["seq"]
        assert f'data-action="rate" data-seq="{rated_seq}"' in page
        assert browser.post(f"/v1/calls/{rated_seq}/feedback", json={"rating": 2}).is_success
        after = browser.get("/consumer").text
    with dev.ctx.use() as node:
        tokens_held = node.onchain.token_balance(carol.address)
    assert "Your spend over time (cumulative)" in page and "Spend per day" in page
    assert "<polyline" in page  # the spend line has points
    assert f'id="token-balance">{_tokens(tokens_held)}<' in page
    assert 'data-action="faucet"' in page and 'href="/v1/me/usage.csv"' in page
    for entry in entries:
        assert f'data-seq="{entry["seq"]}">#{entry["seq"]}<' in page
        assert f"query {entry['query_hash'][:6]}…" in page  # the hash stands for the query
    assert f'data-action="rate" data-seq="{rated_seq}"' not in after
    assert 'title="2 of 5">★★<' in after


def _tokens(units: int) -> str:
    from fairwheel.web.common import tokens

    return tokens(units)


def test_faucet_adds_test_tokens_shown_on_the_page(dev: LiveServer) -> None:
    carol = dev_account(dev, "carol")
    with dev.ctx.use() as node:
        before = node.onchain.token_balance(carol.address)
    response = httpx.post(dev.url + "/v1/dev/faucet", json={"address": carol.address})
    assert response.status_code == 204
    with signed_in(dev, carol) as browser:
        page = browser.get("/consumer").text
    assert f'id="token-balance">{_tokens(before + 1000 * TOKEN)}<' in page


def test_dev_wallet_withdraws_after_the_thaw(dev: LiveServer) -> None:
    dave = dev_account(dev, "dave")
    base = f"{dev.url}/v1/dev/wallets/{dave.address}/withdrawal"
    with dev.ctx.use() as node:
        escrow = node.onchain.escrow(1, dave.address)
        wallet_before = node.onchain.token_balance(dave.address)
    too_much = httpx.post(base, json={"pool_id": 1, "amount": str(escrow.balance + 1)})
    assert too_much.status_code == 409 and "holds" in too_much.json()["message"]
    early = httpx.post(base + "/complete", json={"pool_id": 1})
    assert early.status_code == 409 and early.json()["message"] == "no withdrawal was requested"
    asked = httpx.post(base, json={"pool_id": 1, "amount": str(TOKEN)})
    assert asked.status_code == 200 and asked.json()["status"] == 1, asked.text
    with signed_in(dev, dave) as browser:
        page = browser.get("/consumer").text
    assert "thaws at" in page and 'data-action="withdraw"' not in page
    assert 'data-action="advance-time"' in page  # dev mode: the clock can be moved past it
    thawing = httpx.post(base + "/complete", json={"pool_id": 1})
    assert thawing.status_code == 409 and "thaws until" in thawing.json()["message"]
    with dev.ctx.use() as node:
        thaw = node.settings.thaw_period
    assert httpx.post(dev.url + f"/v1/dev/advance-time?seconds={thaw + 1}").is_success
    with signed_in(dev, dave) as browser:
        assert 'data-action="withdraw" data-pool="1"' in browser.get("/consumer").text
    done = httpx.post(base + "/complete", json={"pool_id": 1})
    assert done.status_code == 200 and done.json()["block_number"] > asked.json()["block_number"]
    with dev.ctx.use() as node:
        after = node.onchain.escrow(1, dave.address)
        assert node.onchain.token_balance(dave.address) == wallet_before + TOKEN
    assert after.balance == escrow.balance - TOKEN and after.pending_withdrawal == 0


def test_only_test_wallets_withdraw_and_only_in_dev_mode(dev: LiveServer) -> None:
    from eth_account import Account

    from fairwheel.api import ApiConfig, create_app

    stranger = Account.create().address
    response = httpx.post(
        f"{dev.url}/v1/dev/wallets/{stranger}/withdrawal", json={"pool_id": 1, "amount": "1"}
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    paths = create_app(dev.node, ApiConfig(public_url=dev.url)).openapi()["paths"]
    assert "/v1/me/usage.csv" in paths and "/v1/me/usage.parquet" in paths
    assert not any(p.startswith("/v1/dev") for p in paths)
