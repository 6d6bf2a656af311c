"""The dashboard in a real browser (issue #18): headless Chromium, driven by playwright-core,
runs each audience's flow against a live dev server and the page's own script.

* contributor: the pool's terms (labels), a CSV upload, its results grouped by reason with the
  fix for each, a server-side search of the records, one record's history;
* consumer: faucet, deposit (pending, then confirmed), a paid search, rating that call on its
  row, the spend chart, the usage CSV downloaded, a withdrawal requested and completed;
* operator: the node's health, the review queue, releasing a record.

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
    with dev.ctx.use() as node:
        record_id = int(node.queries.records(1, "accepted")[-1]["id"])
        node.review(record_id, release=False, note="checked by the browser test")
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
