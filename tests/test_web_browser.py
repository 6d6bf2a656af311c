"""The dashboard in a real browser (issue #18): headless Chromium, driven by playwright-core,
runs each audience's flow against a live dev server and the page's own script.

* contributor: the pool's terms (labels), a CSV upload sent in two chunks with its live status
  ("Uploading 2 of 4…", the button disabled), its results grouped by reason with the fix for
  each, a server-side search of the records, one record's history, the pool's plots;
* consumer: faucet, deposit (pending, then confirmed), a paid search, rating that call on its
  row, the spend chart, the usage CSV downloaded, a withdrawal requested and completed;
* operator: the node's health and the chain's, the review queue, releasing a record, the
  pool's plots, and closing an epoch with its live status (spinner, seconds elapsed, buttons
  disabled), the result kept after the reload and the new epoch in the plots.

Each flow is a Node script in ``tests/browser/`` that prints what it saw as JSON; the assertions
here compare that with the node's own state. Screenshots go to ``tests/artifacts/screenshots/``
(``FAIRWHEEL_SCREENSHOTS`` elsewhere), a folder git ignores. Chromium is Debian's
(``/usr/bin/chromium``) and playwright-core the exact version of
``tests/browser/package-lock.json``, both installed by ``scripts/browser.sh``, which this test
runs when either is missing; it is skipped only when they cannot be installed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_api_support import LiveServer
from tests.test_web_support import dev_account, seeded_dev_server

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "tests" / "browser"
SCREENSHOTS = Path(
    os.environ.get("FAIRWHEEL_SCREENSHOTS", ROOT / "tests" / "artifacts" / "screenshots")
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser_ready() -> None:
    """Chromium and playwright-core, installed by scripts/browser.sh when missing."""
    script = ROOT / "scripts" / "browser.sh"
    if subprocess.run([str(script), "check"], capture_output=True).returncode == 0:
        return
    try:
        out = subprocess.run(
            [str(script)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip("chromium could not be installed: scripts/browser.sh ran past 15 minutes")
    if out.returncode != 0 or shutil.which("node") is None:
        pytest.skip(f"chromium could not be installed (scripts/browser.sh): {out.stderr[-600:]}")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, browser_ready: None) -> Iterator[LiveServer]:
    with seeded_dev_server(tmp_path_factory.mktemp("browser")) as live:
        yield live


@pytest.fixture(scope="module")
def shots() -> Path:
    """The screenshots' folder; it ignores itself, so no screenshot is ever committed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in [*SCREENSHOTS.glob("*.png"), *SCREENSHOTS.glob("*.csv")]:
        old.unlink()  # this run's pictures only
    ignore = SCREENSHOTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Screenshots of tests/test_web_browser.py: never committed.\n*\n")
    return SCREENSHOTS


def run_flow(live: LiveServer, out: Path, name: str, *args: str) -> dict[str, Any]:
    """Run ``tests/browser/NAME.mjs`` against the server; its JSON result (fails the test with
    the flow's error, the page's status line and the failure screenshot)."""
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    proc = subprocess.run(
        ["node", str(FLOWS / f"{name}.mjs"), live.url, str(out), *args],
        capture_output=True, text=True, timeout=240, env=env, cwd=FLOWS,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(f"{name} flow printed no result (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if proc.returncode != 0 or "error" in result:
        pytest.fail(
            f"{name} flow failed: {result.get('error')}\nstatus line: {result.get('status')}\n"
            f"screenshot: {result.get('screenshot')}\npage errors: {result.get('errors')}"
        )
    assert result["errors"] == [], f"the page logged errors: {result['errors']}"
    for path in result.get("shots", []):
        assert Path(path).stat().st_size > 1000, f"empty screenshot {path}"
    return result


def _plots(result: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The flow's plots by key, each drawn (a real size, marks on screen, not empty)."""
    from fairwheel.web.plots import TITLES

    plots = {p["plot"]: p for p in result}
    assert set(plots) == set(TITLES)
    for key, plot in plots.items():
        assert plot["title"] == TITLES[key] and not plot["empty"], key
        assert plot["width"] > 200 and plot["height"] > 60 and plot["drawn"] > 0, key
    return plots


def _money(live: LiveServer) -> dict[str, int]:
    """What pool 1's ledger and the chain say now: all paid, redeemed on-chain, still open."""
    with live.ctx.use() as node:
        ledger = node.queries.ledger(1)
        payers = sorted({e["consumer"] for e in ledger})
        return {
            "paid": sum(int(e["price"]) for e in ledger),
            "redeemed": sum(node.onchain.redeemed(1, p) for p in payers),
            "open": sum(int(e["price"]) for e in node.queries.open_ledger(1)),
        }


def _split_matches(plot: dict[str, Any], money: dict[str, int]) -> dict[str, int]:
    """The revenue split as drawn: each column's parts add up to its total, the closed epochs'
    totals to what the vouchers redeemed on-chain, the open column to the open calls."""
    totals = {}
    for category, column in plot["columns"].items():
        parts = {k: int(v) for k, v in column["parts"].items()}
        assert sum(parts.values()) == int(column["total"]), category
        totals[category] = int(column["total"])
    closed = {c: v for c, v in totals.items() if c != "open"}
    assert sum(closed.values()) == money["redeemed"]
    assert totals.get("open", 0) == money["open"]
    assert sum(totals.values()) == money["paid"]
    return totals


def test_contributor_uploads_and_reads_results_grouped_by_reason(
    dev: LiveServer, shots: Path, tmp_path: Path
) -> None:
    from fairwheel.sim.data import synthetic_support_queries

    alice = dev_account(dev, "alice")
    with dev.ctx.use() as node:
        labels = sorted(node.queries.pool(1)["labels"])
    owned = synthetic_support_queries(40, seed=7)[0].text  # alice's first seeded record
    upload = tmp_path / "upload.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(
        [
            ("text", "label"),
            ("my debit card was swallowed by the ticket machine at the mall", "card_lost"),
            ("how do I upgrade my plan to the premium tier", "upgrade_plan"),
            ("hi", ""),
            (owned, "card_lost"),
        ]
    )
    upload.write_text(buffer.getvalue(), encoding="utf-8")
    result = run_flow(dev, shots, "contributor", str(upload), "alice")

    assert result["labels"] == labels
    assert "3 characters to 8192 bytes" in result["schema"]
    groups = {g["reason"]: g for g in result["groups"]}
    assert sum(len(g["items"]) for g in result["groups"]) == 4
    assert {"unknown_label", "too_short", "duplicate"} <= set(groups)
    assert groups["unknown_label"]["fix"].startswith("Use one of: " + ", ".join(labels))
    assert "upgrade_plan" in groups["unknown_label"]["items"][0]
    assert "at least 3 characters" in groups["too_short"]["fix"]
    assert "first submitter owns it" in groups["duplicate"]["fix"]
    assert groups["unknown_label"]["title"].startswith("Unknown label — 1 record")
    assert result["summary"].startswith("Upload to pool #1:")
    with dev.ctx.use() as node:
        mine = node.queries.records_of(alice.address, 1)
    unknown = sorted(int(r["id"]) for r in mine if r["reasons"][0].startswith("unknown_label"))
    assert result["query"] == "unknown_label" and sorted(result["found"]) == unknown
    assert len(unknown) == 1 and result["fixes"] and "Use one of:" in result["fixes"][0]
    assert result["before"] != result["after"]  # the upload is in the table after the reload
    assert result["history"]["heading"].startswith(f"Record {unknown[0]}")
    assert result["history"]["sections"] == ["Verdict", "Uses and earnings", "Revocation"]
    assert result["history"]["steps"][:4] == ["revoked", "unserved", "key_destroyed",
                                              "models_marked"]  # fmt: skip
    # The live status of the upload, in two chunks of two records.
    live = result["upload"]
    assert live["during"]["text"] == "Uploading 2 of 4…" and live["during"]["state"] == "running"
    assert live["during"]["disabled"] and live["during"]["spinner"]
    assert live["during"]["progress"] == [2, 4]
    seen = live["seen"]
    order = ["Sign the consent for records 1–2 of 4 in your wallet…", "Uploading 0 of 4…",
             "Sign the consent for records 3–4 of 4 in your wallet…", "Uploading 2 of 4…",
             "Uploading 4 of 4…"]  # fmt: skip
    assert [t for t in seen if t in order] == order
    assert live["final"].startswith("✔ Submitted 4 records:") and live["enabledAfter"]
    # The pool's plots, drawn in the page, match the ledger and the chain.
    plots = _plots(result["plots"])
    _split_matches(plots["split"], _money(dev))
    with dev.ctx.use() as node:
        accepted = node.queries.status_counts(1)["accepted"]
    assert float(plots["quality"]["bars"]["accepted"]) == accepted


def test_consumer_pays_rates_and_downloads_usage(dev: LiveServer, shots: Path) -> None:
    dave = dev_account(dev, "dave")
    result = run_flow(dev, shots, "consumer", "dave")

    assert result["tokensAfterFaucet"] == pytest.approx(result["tokensBefore"] + 1000)
    # The log lists the newest first: the deposit was on screen as pending, then confirmed.
    assert result["pending"][0]["label"] == "deposit 5 FAIR into pool #1"
    assert result["pending"][0]["state"] == "pending" and "pending…" in result["pending"][0]["text"]
    assert result["pending"][1]["label"].startswith("faucet")
    assert result["pending"][1]["state"] == "confirmed"
    deposit = result["confirmed"][0]
    assert deposit["label"] == "deposit 5 FAIR into pool #1" and deposit["state"] == "confirmed"
    assert "in block" in deposit["text"]
    assert result["escrowAfter"] == pytest.approx(result["escrowBefore"] + 5, abs=1e-6)
    assert result["tokensAfterDeposit"] == pytest.approx(result["tokensAfterFaucet"] - 5)
    with dev.ctx.use() as node:
        calls = node.queries.consumer_calls(dave.address)
        rating = node.queries.feedback_of(result["seq"], dave.address)
        escrow = node.onchain.escrow(1, dave.address)
    call = next(c for c in calls if c.seq == result["seq"])
    assert call.kind == "search" and len(result["hits"]) == len(call.records) == 3
    assert "somebody stole my credit card" in result["qa"]  # kept by the browser
    assert result["served"] == ", ".join(str(r) for r in call.records)
    assert result["stars"] == "★★★★★" and rating is not None and rating["value"] == 5
    assert result["chart"]["circles"] >= len(calls) and result["chart"]["lines"] >= 1
    rows = list(csv.DictReader(io.StringIO(result["csv"])))
    assert [int(r["seq"]) for r in rows] == [c.seq for c in calls]
    assert rows[-1]["rating"] == "5" and rows[-1]["price"] == str(call.price)
    assert result["suggested"] == f"usage-{dave.address.lower()}.csv"
    request = result["afterWithdraw"][0]
    assert request["label"] == "request a withdrawal of 1 FAIR from pool #1"
    assert request["state"] == "confirmed" and "thaws at" in result["withdrawal"]
    done = result["completed"][0]
    assert done["label"] == "complete the withdrawal from pool #1"
    assert done["state"] == "confirmed" and "in block" in done["text"]
    assert result["escrowAfterWithdraw"] == pytest.approx(result["escrowBeforeWithdraw"] - 1)
    assert result["tokensAfterWithdraw"] == pytest.approx(result["tokensBeforeWithdraw"] + 1)
    assert escrow.pending_withdrawal == 0


def test_operator_sees_health_and_releases_from_the_review_queue(
    dev: LiveServer, shots: Path
) -> None:
    from fairwheel.wallet import ConsumerWallet

    carol = dev_account(dev, "carol")
    with dev.ctx.use() as node:
        record_id = int(node.queries.records(1, "accepted")[-1]["id"])
        node.review(record_id, release=False, note="checked by the browser test")
        wallet = ConsumerWallet(carol, node.voucher_domain())  # calls for the epoch to close
        wallet.spent[1] = node.spent(1, wallet.address)
        for _ in range(2):
            voucher, sig = wallet.pay(1, node.price_of(1, "search"))
            node.search(1, "my card was stolen", 3, voucher, sig)
            wallet.confirm(voucher)
        epochs_before = node.queries.epoch_count(1)
        block = node.health().block
        pending = len(node.queries.unanchored(1))
    money_before = _money(dev)
    result = run_flow(dev, shots, "operator", str(record_id))

    assert "✔ ok" in result["healthTitle"]
    assert {h["part"]: h["state"] for h in result["health"]} == {
        "chain": "✔ ok", "database": "✔ ok", "index": "✔ ok",
    }  # fmt: skip
    assert record_id in result["before"] and "checked by the browser test" in result["why"]
    assert result["status"] == f"Record {record_id}: quarantined → accepted."
    assert record_id not in result["after"]
    with dev.ctx.use() as node:
        assert node.queries.record(record_id)["status"] == "accepted"
        epochs_after = node.queries.epoch_count(1)
        last = node.queries.last_epoch(1)
    # The chain's health as the page showed it.
    assert block is not None and result["chain"]["block"] >= block
    assert {"pool": 1, "pending": pending} in result["chain"]["pending"]
    assert "gwei max fee per gas" in result["chain"]["gas"]
    # Closing the epoch: a live status while it ran, then the result, kept after the reload.
    close = result["close"]
    assert close["running"]["text"].startswith("Closing pool #1's epoch")
    assert close["running"]["spinner"] and close["running"]["elapsed"] >= 0.4
    assert all(close["running"]["disabled"]) and close["running"]["state"] == "running"
    assert epochs_after == epochs_before + 1 and last is not None
    assert close["done"].startswith(f"✔ Epoch {epochs_after} closed:")
    assert close["kept"] == close["done"] and close["seen"][-1] == close["done"]
    # The plots before and after: the new epoch's column, matching the ledger and the chain.
    before = _split_matches(_plots(result["plotsBefore"])["split"], money_before)
    money_after = _money(dev)
    after = _split_matches(_plots(result["plotsAfter"])["split"], money_after)
    assert before["open"] > 0 and "open" not in after
    assert money_after["redeemed"] - money_before["redeemed"] == before["open"]
    assert after[f"epoch {epochs_after}"] == before["open"]
