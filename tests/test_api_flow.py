"""A flywheel turn over HTTP: a real server, the Python client signing locally, and the rules.

One server for the module (fake embedder); each test makes its own people so that the order
of the tests does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fairwheel.domain.typed_data import Revocation, Voucher, sign_revocation, sign_voucher
from fairwheel.errors import ChainError, Conflict, NotFound
from tests.test_api_support import PRICE_SEARCH, World, live_server, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("flow"), max_body_bytes=2**20) as w:
        yield w


def voucher_headers(world: World, account: Any, cumulative: int) -> dict[str, str]:
    voucher = Voucher(account.address, world.pool_id, cumulative)
    signature = sign_voucher(voucher, world.node.voucher_domain(), account.key)
    body = {
        "payer": account.address,
        "pool_id": world.pool_id,
        "cumulative_amount": str(cumulative),
    }
    return {
        "X-Fairwheel-Voucher": json.dumps(body),
        "X-Fairwheel-Signature": "0x" + signature.hex(),
    }


def ledger_size(world: World) -> int:
    with world.live.ctx.use() as node:
        return len(node.store.ledger(world.pool_id))


def test_contributor_sees_only_own_records_and_strangers_see_nothing(world: World) -> None:
    world.new_account("alice")
    world.new_account("mallory")
    alice, mallory = world.client("alice", login=True), world.client("mallory", login=True)
    out = alice.submit(
        world.pool_id,
        [
            ("alice's private note about a stolen card at the market", "card_lost"),
            (world.examples[0].text, world.examples[0].label),  # an exact copy of someone's record
            ("no", None),
        ],
    )
    assert [r["status"] for r in out["results"]] == ["accepted", "rejected", "rejected"]
    assert out["results"][1]["reasons"][0].startswith("duplicate")
    mine = alice.my_records()
    assert len(mine) == 3 and {r["id"] for r in mine} >= {out["results"][0]["record_id"]}
    record_id = out["results"][0]["record_id"]
    assert alice.record(record_id)["preview"].startswith("alice's private note")

    assert mallory.my_records() == []
    for path in (f"/v1/contributions/{record_id}", f"/v1/contributions/{record_id}/receipt"):
        with pytest.raises(NotFound):
            mallory.get(path)
        anonymous = httpx.get(world.url + path)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    page = httpx.get(world.url + "/contributor", cookies={"fairwheel_session": mallory.token or ""})
    assert page.status_code == 200 and "private note" not in page.text
    # Someone else's consent in my batch: the whole request is refused, nothing is stored.
    signed = alice.sign_records(world.pool_id, [("mallory cannot submit this for alice", None)])
    refused = httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/contributions",
        json={"records": signed},
        headers={"Authorization": f"Bearer {mallory.token}"},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert mallory.my_records() == [] and len(alice.my_records()) == 3


def test_operator_routes_refuse_everyone_else(world: World) -> None:
    world.new_account("eve")
    eve = world.client("eve", login=True)
    for path in (f"/v1/pools/{world.pool_id}/epochs", f"/v1/pools/{world.pool_id}/anchor"):
        assert httpx.post(world.url + path).json()["code"] == "unauthorized"
        response = httpx.post(world.url + path, headers={"Authorization": f"Bearer {eve.token}"})
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    with pytest.raises(Exception, match="operator"):
        eve.create_pool(
            "mine", search_price=1, predict_price=1, operator_fee_bps=0, builder_share_bps=0
        )


def test_operator_reviews_the_quarantine_queue(world: World) -> None:
    world.new_account("quinn")
    quinn = world.client("quinn", login=True)
    operator = world.client("operator", login=True)
    out = quinn.submit(world.pool_id, [("quinn asks how to freeze a card found in a taxi", None)])
    record_id = out["results"][0]["record_id"]
    for path in (f"/v1/pools/{world.pool_id}/review", f"/v1/records/{record_id}/review"):
        call = httpx.get if path.endswith(f"{world.pool_id}/review") else httpx.post
        response = call(world.url + path, headers={"Authorization": f"Bearer {quinn.token}"})
        assert response.status_code in (403, 422)
    held = operator.review(record_id, "quarantine", note="consumer report #12")
    assert (held["before"], held["after"]) == ("accepted", "quarantined")
    assert record_id in [r["id"] for r in operator.review_queue(world.pool_id)]
    assert quinn.record(record_id)["reasons"][0] == "review quarantined: consumer report #12"
    assert operator.review(record_id, "release")["after"] == "accepted"
    assert record_id not in [r["id"] for r in operator.review_queue(world.pool_id)]
    bad = httpx.post(f"{world.url}/v1/records/{record_id}/review", json={"decision": "delete"},
                     headers={"Authorization": f"Bearer {operator.token}"})  # fmt: skip
    assert bad.status_code == 422
    standing = quinn.reputation(world.pool_id)
    assert standing["submissions"] == 1 and not standing["flagged"]
    assert isinstance(operator.rescore(world.pool_id), list)


def test_receipt_of_an_anchored_record_verifies_on_chain(world: World) -> None:
    world.new_account("rita")
    rita = world.client("rita", login=True)
    out = rita.submit(
        world.pool_id, [("receipts should verify for my lost wallet claim", "card_lost")]
    )
    record_id = out["results"][0]["record_id"]
    with pytest.raises(Conflict):
        rita.receipt(record_id)  # not anchored yet
    world.client("operator", login=True).anchor(world.pool_id)
    receipt = rita.receipt(record_id)
    assert receipt["verified"] and receipt["contributor"] == rita.address


def test_paid_search_with_a_voucher_header_and_refused_vouchers(world: World) -> None:
    carol = world.new_account("carol", tokens=10**12)
    client = world.client("carol")
    client.deposit(world.pool_id, 10**9)  # signed here, relayed by the node
    assert client.escrow(world.pool_id)["balance"] == str(10**9)
    answer = client.search(world.pool_id, "my card was stolen", k=3)
    assert answer["price"] == str(PRICE_SEARCH) and len(answer["hits"]) == 3
    hit = answer["hits"][0]
    assert hit["text"] and hit["contributor"].startswith("0x") and hit["record_id"] > 0
    split = int(answer["operator_fee"]) + sum(int(s["amount"]) for s in answer["attribution"])
    assert split <= PRICE_SEARCH
    prediction = client.predict(world.pool_id, "someone took my card")
    assert prediction["prediction"] and prediction["model_hash"].startswith("0x")

    spent = int(client.escrow(world.pool_id)["spent"])
    url = f"{world.url}/v1/pools/{world.pool_id}/search"
    replay = httpx.post(url, json={"query": "again"}, headers=voucher_headers(world, carol, spent))
    assert replay.status_code == 400 and replay.json()["code"] == "replay"
    stranger = voucher_headers(world, world.new_account("forger"), spent + PRICE_SEARCH)
    stranger["X-Fairwheel-Voucher"] = json.dumps(
        {
            "payer": carol.address,
            "pool_id": world.pool_id,
            "cumulative_amount": str(spent + PRICE_SEARCH),
        }
    )
    forged = httpx.post(url, json={"query": "free ride"}, headers=stranger)
    assert forged.status_code == 400 and forged.json()["code"] == "bad_signature"
    greedy = httpx.post(url, json={"query": "x"}, headers=voucher_headers(world, carol, 10**10))
    assert greedy.status_code == 402 and greedy.json()["code"] == "insufficient_funds"
    junk = httpx.post(
        url,
        json={"query": "x"},
        headers={**voucher_headers(world, carol, 1), "X-Fairwheel-Voucher": "{not json"},
    )
    assert junk.status_code == 422 and junk.json()["code"] == "schema_error"
    # The client never signs beyond its own running total, whatever the node claims.
    client.spent[world.pool_id] -= PRICE_SEARCH
    with pytest.raises(Conflict, match="refusing to sign"):
        client.search(world.pool_id, "the node says I spent more than I know of")


def test_idempotency_key_replays_the_response_without_a_second_effect(world: World) -> None:
    dave = world.new_account("dave", deposit=10**9)
    url = f"{world.url}/v1/pools/{world.pool_id}/search"
    headers = {**voucher_headers(world, dave, PRICE_SEARCH), "Idempotency-Key": "k-search-1"}
    before = ledger_size(world)
    first = httpx.post(url, json={"query": "lost card", "k": 2}, headers=headers)
    second = httpx.post(url, json={"query": "lost card", "k": 2}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert ledger_size(world) == before + 1
    other = httpx.post(url, json={"query": "another question", "k": 2}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"

    world.new_account("ida")
    ida = world.client("ida", login=True)
    body = {"records": ida.sign_records(world.pool_id, [("idempotent upload of one record", None)])}
    posted = [
        ida.request(
            "POST",
            f"/v1/pools/{world.pool_id}/contributions",
            json_body=body,
            idempotency_key="upload-1",
        ).json()
        for _ in range(2)
    ]
    assert posted[0] == posted[1] and len(ida.my_records()) == 1


def test_close_epoch_then_claim_proof_and_claim(world: World) -> None:
    payer = world.new_account("paula", deposit=10**9)
    client = world.client("paula")
    for query in ("card stolen", "refund please", "transfer failed"):
        client.search(world.pool_id, query, k=3)
    operator = world.client("operator", login=True)
    report = operator.close_epoch(world.pool_id)
    assert report["entries"] >= 3 and int(report["paid"]) >= 3 * PRICE_SEARCH
    epoch = report["epoch"]
    assert operator.verify_epoch(world.pool_id, epoch)["ok"]
    header = json.loads(operator.epoch_file(world.pool_id, epoch).splitlines()[0])
    assert header["format"] == "fairwheel-epoch-v2" and header["epoch"] == epoch
    seeder = world.accounts["seeder0"]
    proof = world.client().claim_proof(world.pool_id, seeder.address)  # public, no login
    assert int(proof["cumulative"]) > 0 and proof["epoch"] == epoch
    earner = world.client("seeder0", login=True)
    assert any(u["kind"] == "search" for u in earner.earnings()["uses"])
    with pytest.raises(ChainError, match="EpochNotActive") as refused:  # too early
        earner.claim(world.pool_id)
    assert refused.value.details["status"] == 409
    with pytest.raises(Exception, match="only your own"):
        world.client("paula", login=True).claim(world.pool_id, seeder.address)
    with world.live.ctx.use() as node:
        node.chain.advance_time(node.settings.activation_delay + 1)
    paid = earner.claim(world.pool_id)
    assert int(paid["paid"]) == int(proof["cumulative"]) - int(proof["claimed"])
    with pytest.raises(ChainError, match="NothingToClaim"):
        earner.claim(world.pool_id)
    assert payer.address.lower() in {
        c["consumer"] for c in world.client("paula", login=True).my_calls()
    }


def test_revocation_by_signature_stops_serving_the_record(world: World) -> None:
    world.new_account("ruth")
    world.new_account("ralph")
    ruth = world.client("ruth", login=True)
    text = "ruth's unique words about a frozen savings account abroad"
    out = ruth.submit(world.pool_id, [(text, "card_lost")])
    gone = out["results"][0]["record_id"]
    world.client("operator", login=True).anchor(world.pool_id)
    # Ralph signs a revocation of Ruth's record: refused before any transaction.
    revocation = Revocation(ruth.address, world.pool_id, ruth.record(gone)["record_hash"])
    forged = sign_revocation(revocation, world.node.consent_domain(), world.accounts["ralph"].key)
    response = httpx.post(
        f"{world.url}/v1/contributions/{gone}/revocation", json={"signature": "0x" + forged.hex()}
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    result = ruth.revoke(gone)
    assert result["status"] == "revoked" and result["tx_hash"]
    with world.live.ctx.use() as node:
        assert node.protocol.is_revoked(world.pool_id, node.store.record(gone)["record_hash"])
    assert [(r["id"], r["status"]) for r in ruth.my_records()] == [(gone, "revoked")]
    with pytest.raises(Conflict):
        ruth.revoke(gone)
    buyer = world.new_account("buyer", deposit=10**9)
    hits = world.client("buyer").search(world.pool_id, text, k=5)["hits"]
    assert gone not in {h["record_id"] for h in hits} and buyer


def test_streamed_upload_is_all_or_nothing_and_bodies_are_limited(world: World) -> None:
    world.new_account("sam")
    sam = world.client("sam", login=True)
    rows = [(f"streamed record number {i} about card number {i * 7919}", None) for i in range(40)]
    out = sam.submit_stream(world.pool_id, rows, chunk=16)
    assert sum(out["counts"].values()) == 40 and len(sam.my_records()) == 40
    good = "\n".join(
        json.dumps(r) for r in sam.sign_records(world.pool_id, [("one more fine line", None)])
    )
    broken = (good + "\n{broken json\n").encode()
    response = sam.request  # raw request to see the JSON error
    with pytest.raises(Exception, match="line 2"):
        response(
            "POST",
            f"/v1/pools/{world.pool_id}/contributions/stream",
            content=broken,
            headers={"Content-Type": "application/x-ndjson"},
        )
    assert len(sam.my_records()) == 40  # nothing from the failed upload
    big = httpx.post(
        f"{world.url}/v1/pools/{world.pool_id}/contributions",
        content=b"x" * (2**20 + 1),
        headers={"Authorization": f"Bearer {sam.token}", "Content-Type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"


def test_feedback_only_from_the_calls_consumer(world: World) -> None:
    world.new_account("fay", deposit=10**9)
    world.new_account("gus")
    fay = world.client("fay", login=True)
    seq = fay.search(world.pool_id, "exchange rate for dollars", k=1)["seq"]
    assert fay.feedback(seq, 5)["rating"] == 5
    assert fay.feedback(seq, 5)["new"] is False  # a retry changes nothing
    with pytest.raises(Conflict, match="already rated"):
        fay.feedback(seq, 2)
    with pytest.raises(Exception, match="only the consumer"):
        world.client("gus", login=True).feedback(seq, 1)


def test_versions_arena_rollback_exports_and_revocation_steps(world: World) -> None:
    world.new_account("ada", deposit=10**9)
    ada = world.client("ada", login=True)
    operator = world.client("operator", login=True)
    before = len(operator.versions(world.pool_id))
    operator.train(world.pool_id)
    versions = operator.versions(world.pool_id)
    assert len(versions) == before + 1
    if not versions[-1]["serving"]:
        # Kept: on the fake embedder the fresh held-out split can make it regress. Promote it
        # by hand, so that the arena and the rollback below have two served versions.
        assert versions[-1]["report"]["promoted"] is False
        operator.promote(world.pool_id, versions[-1]["id"])
        versions = operator.versions(world.pool_id)
    assert versions[-1]["serving"]
    answer = ada.predict(world.pool_id, "my card was stolen", arena=True)
    assert len(answer["arena"]) == 2 and answer["model_version"] == versions[-1]["version"]
    assert ada.feedback(answer["seq"], kind="arena", value=0)["kind"] == "arena"
    back = operator.rollback(world.pool_id)
    assert back["serving"] and back["version"] == versions[-2]["version"]
    prefs = ada.export(world.pool_id, "preferences.jsonl").decode().splitlines()
    assert any(json.loads(line)["provenance"]["call_seq"] == answer["seq"] for line in prefs)
    assert ada.export(world.pool_id, "training.parquet")[:4] == b"PAR1"
    out = ada.submit(world.pool_id, [("ada's note: the atm kept my card at the station", None)])
    record_id = out["results"][0]["record_id"]
    mine = ada.my_export()
    assert any(r["record_id"] == record_id and r["text"].startswith("ada's note") for r in mine)
    with pytest.raises(NotFound):
        ada.revocation_status(record_id)  # not revoked yet


def test_health_metrics_and_rate_limits(world: World) -> None:
    health = httpx.get(world.url + "/v1/health").json()
    assert health["status"] == "ok" and health["pools"] >= 1
    metrics = httpx.get(world.url + "/metrics").text
    assert "fairwheel_http_requests_total" in metrics and "fairwheel_pool_records" in metrics
    with live_server(world.node, rate_per_second=0.5, rate_burst=2) as strict:
        codes = [httpx.get(strict.url + "/v1/pools").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = httpx.get(strict.url + "/v1/pools")
        assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1


def test_remote_cli_signs_locally_and_talks_by_url(world: World, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from fairwheel.cli.remote import remote_app

    account = world.new_account("cli", deposit=10**9)
    env = {"FAIRWHEEL_URL": world.url, "FAIRWHEEL_KEY": "0x" + bytes(account.key).hex()}
    runner = CliRunner()
    pools = runner.invoke(remote_app, ["pools"], env=env)
    assert pools.exit_code == 0 and json.loads(pools.output)[0]["id"] == world.pool_id
    found = runner.invoke(
        remote_app, ["search", str(world.pool_id), "card stolen", "--k", "2"], env=env
    )
    assert found.exit_code == 0, found.output
    assert len(json.loads(found.output)["hits"]) == 2
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(
        "text,label\nfrom the command line: I lost my card on the train yesterday,card_lost\n"
    )
    submitted = runner.invoke(remote_app, ["submit", str(world.pool_id), str(csv_file)], env=env)
    assert submitted.exit_code == 0 and json.loads(submitted.output)["counts"] == {"accepted": 1}
    mine = runner.invoke(remote_app, ["records"], env=env)
    assert json.loads(mine.output)[0]["preview"].startswith("from the command line")
    bad = runner.invoke(remote_app, ["stats", "999"], env=env)
    assert bad.exit_code == 1 and "not_found" in bad.output


def test_dev_routes_exist_only_in_dev_mode(world: World) -> None:
    assert httpx.get(world.url + "/v1/dev/wallets").status_code == 404
    paths = httpx.get(world.url + "/openapi.json").json()["paths"]
    assert not any(p.startswith("/v1/dev") for p in paths)
    assert {"/v1/pools/{pool_id}/search", "/v1/auth/login", "/v1/me/records"} <= set(paths)
