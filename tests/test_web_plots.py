"""The pool's plots on the pool and operator pages, and the operator's chain health (issue #18):
earnings per epoch against the roots on-chain, spend over time, the revenue split per epoch, the
quality mix and model accuracy by version — each figure read back from the page's SVG and
compared with the ledger, the chain, the records and the models.

A real node on the embedded chain with the fake embedder, seeded as ``serve --dev`` seeds it
(two epochs closed), behind a live server. The tests run in file order: the later ones pay for
calls, close an epoch and move the chain's clock.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from markupsafe import escape

from fairwheel.web.plots import TITLES
from tests.test_api_support import LiveServer
from tests.test_web_support import dev_account, seeded_dev_server, signed_in

SPLIT = ("contributors", "operator fee", "builder", "labelers", "raters", "dust")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_dev_server(tmp_path_factory.mktemp("plots")) as live:
        yield live


# ------------------------------------------------------------------ reading the SVG back


def svgs(page: str, key: str) -> list[str]:
    """Every chart titled ``TITLES[key]`` on the page (one per pool on the operator page)."""
    head = f'<svg class="chart" role="img" aria-label="{escape(TITLES[key])}"'
    out, at = [], page.find(head)
    while at >= 0:
        end = page.index("</svg>", at)
        out.append(page[at:end])
        at = page.find(head, end)
    return out


def svg(page: str, key: str) -> str:
    found = svgs(page, key)
    assert found, f"no chart {TITLES[key]!r} on the page"
    return found[0]


def segments(chart: str, tag: str = "rect") -> dict[str, dict[str, str]]:
    """``{category: {series: data-value}}`` of a column chart's rects (or a line's circles)."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    pattern = rf'<{tag} [^>]*data-series="([^"]+)" data-category="([^"]+)" data-value="([^"]+)"'
    for series, category, value in re.findall(pattern, chart):
        out[category][series] = value
    return dict(out)


def columns(chart: str) -> dict[str, int]:
    """``{category: data-total}`` of a column chart."""
    found = re.findall(r'<g class="column" data-category="([^"]+)" data-total="([^"]+)"', chart)
    return {c: int(float(t)) if "." in t else int(t) for c, t in found}


def bars(chart: str) -> dict[str, float]:
    """``{label: value}`` of a bar chart."""
    found = re.findall(r'<rect [^>]*data-label="([^"]+)" data-value="([^"]+)"', chart)
    return {label.replace("&middot;", "·"): float(v) for label, v in found}


def _pool_page(live: LiveServer) -> str:
    response = httpx.get(live.url + "/pools/1")
    assert response.status_code == 200
    return response.text


def _consumers(live: LiveServer) -> list[str]:
    with live.ctx.use() as node:
        return sorted({e["consumer"] for e in node.queries.ledger(1)})


def _pay(live: LiveServer, name: str, kinds: tuple[str, ...]) -> list[int]:
    """Paid calls by the named dev consumer, through the node; their seqs."""
    from fairwheel.wallet import ConsumerWallet

    account = dev_account(live, name)
    seqs = []
    with live.ctx.use() as node:
        wallet = ConsumerWallet(account, node.voucher_domain())
        wallet.spent[1] = node.spent(1, wallet.address)
        for kind in kinds:
            voucher, sig = wallet.pay(1, node.price_of(1, kind))
            if kind == "search":
                out = node.search(1, "my card was stolen at the station", 3, voucher, sig)
            else:
                out = node.predict(1, "my card was stolen at the station", voucher, sig)
            wallet.confirm(voucher)
            seqs.append(int(out.seq))
    return seqs


# ------------------------------------------------------------------------------ the tests


def test_pool_page_draws_every_plot(dev: LiveServer) -> None:
    page = _pool_page(dev)
    for key in TITLES:
        chart = svg(page, key)
        assert "no data yet" not in chart, key
    assert 'data-plot="split"' in page and "✔ the parts add up to the revenue" in page
    # The explorer's older assertions still hold: the same page names what it plots.
    for title in ("Records by status", "Model accuracy over versions", "Earnings posted per epoch"):
        assert title in page


def test_revenue_split_adds_up_to_what_the_chain_redeemed(dev: LiveServer) -> None:
    page = _pool_page(dev)
    chart = svg(page, "split")
    parts = segments(chart)
    totals = columns(chart)
    assert list(totals) == ["epoch 1", "epoch 2"]  # nothing open after the seed
    with dev.ctx.use() as node:
        redeemed = sum(node.onchain.redeemed(1, payer) for payer in _consumers(dev))
        roots = [node.onchain.epoch_root(1, e).total_cumulative for e in (1, 2)]
        ledger = node.queries.ledger(1)
    for category, values in parts.items():
        assert set(values) == set(SPLIT)
        assert sum(int(v) for v in values.values()) == totals[category]  # the stack is the total
    # Every unit the consumers paid is in the bars: the node redeemed it all on-chain.
    assert sum(totals.values()) == redeemed == sum(int(e["price"]) for e in ledger) > 0
    # What each epoch credited is what its root added on-chain.
    credited = [
        sum(int(parts[f"epoch {e}"][p]) for p in ("contributors", "builder", "labelers", "raters"))
        for e in (1, 2)
    ]
    assert credited == [roots[0], roots[1] - roots[0]]
    fees = sum(int(e["operator_fee"]) for e in ledger)
    assert sum(int(parts[c]["operator fee"]) for c in parts) == fees
    # The table under the chart says the same, in base units.
    rows = re.findall(r'<tr data-epoch="(epoch \d+)">.*?data-units="(\d+)"', page)
    assert {c: int(v) for c, v in rows} == totals


def test_earnings_lines_are_the_roots_on_chain(dev: LiveServer) -> None:
    chart = svg(_pool_page(dev), "earnings")
    dots = segments(chart, "circle")
    with dev.ctx.use() as node:
        roots = {f"epoch {e}": node.onchain.epoch_root(1, e).total_cumulative for e in (1, 2)}
        ledger = node.queries.ledger(1)
    posted = {c: int(v["root total on-chain"]) for c, v in dots.items()}
    credited = {c: int(v["credited, cumulative"]) for c, v in dots.items()}
    assert posted == roots == credited  # every voucher was paid: nothing withheld
    contributors = {c: int(v["contributors"]) for c, v in segments(chart).items()}
    assert sum(contributors.values()) == sum(
        int(v) for e in ledger if e["kind"] in ("search", "predict") for _, v in e["attribution"]
    )


def test_quality_mix_counts_every_record(dev: LiveServer) -> None:
    values = bars(svg(_pool_page(dev), "quality"))
    with dev.ctx.use() as node:
        stats = node.pool_stats(1)
        records = node.queries.records(1)
    assert values["accepted"] == stats["records"]["accepted"]
    rejected = {k.split(" · ", 1)[1]: v for k, v in values.items() if k.startswith("rejected")}
    assert rejected == {k: float(v) for k, v in stats["rejected_by_reason"].items()}
    assert {"duplicate", "too_short", "unknown_label"} <= set(rejected)
    assert sum(values.values()) == len(records)


def test_accuracy_by_version_marks_the_serving_one(dev: LiveServer) -> None:
    chart = svg(_pool_page(dev), "accuracy")
    parts = segments(chart)
    with dev.ctx.use() as node:
        versions = node.model_versions(1)
    assert list(parts) == [f"v{v['version']}" for v in versions] and len(versions) == 2
    for v in versions:
        shown = parts[f"v{v['version']}"]
        assert float(shown["serving" if v["serving"] else "other versions"]) == pytest.approx(
            v["accuracy"]
        )
        assert float(shown["other versions" if v["serving"] else "serving"]) == 0.0
    serving = next(v for v in versions if v["serving"])
    assert re.search(r'class="note">serving</text>', chart) and serving["version"] == 2


def test_a_new_epoch_shows_open_then_closed_and_matches_its_report(dev: LiveServer) -> None:
    seqs = _pay(dev, "carol", ("search", "predict", "search"))
    with dev.ctx.use() as node:
        entries = [e for e in node.queries.ledger(1) if int(e["seq"]) in seqs]
        before = {p: node.onchain.redeemed(1, p) for p in _consumers(dev)}
        total_before = node.onchain.epoch_root(1, 2).total_cumulative
    prices = sum(int(e["price"]) for e in entries)
    opened = svg(_pool_page(dev), "split")
    assert columns(opened)["open"] == prices  # the open epoch, before it is closed
    with signed_in(dev, dev_account(dev, "operator")) as operator:
        report = operator.post("/v1/pools/1/epochs", headers={"Idempotency-Key": "plots-1"})
        assert report.status_code == 200, report.text
        operator_page = operator.get("/operator").text
    body = report.json()
    with dev.ctx.use() as node:
        after = {p: node.onchain.redeemed(1, p) for p in _consumers(dev)}
        root = node.onchain.epoch_root(1, 3)
    page = _pool_page(dev)
    chart = svg(page, "split")
    new = segments(chart)["epoch 3"]
    assert "open" not in columns(chart)
    assert columns(chart)["epoch 3"] == int(body["paid"]) == prices
    assert sum(after.values()) - sum(before.values()) == prices  # redeemed on-chain by the close
    assert int(new["operator fee"]) == int(body["fees"])
    credited = sum(int(new[p]) for p in ("contributors", "builder", "labelers", "raters"))
    assert credited == root.total_cumulative - total_before == int(body["total"]) - total_before
    dots = segments(svg(page, "earnings"), "circle")["epoch 3"]
    assert int(dots["root total on-chain"]) == root.total_cumulative
    # The operator's page draws the same figures for the pool.
    assert segments(svg(operator_page, "split")) == segments(chart)


def test_operator_sees_chain_health_pending_anchors_and_jobs(dev: LiveServer) -> None:
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ContributorWallet

    operator = dev_account(dev, "operator")
    alice = dev_account(dev, "alice")
    fresh = synthetic_support_queries(200, seed=11)[150:153]  # not in the seed (seed 7)
    with dev.ctx.use() as node:
        writer = ContributorWallet(alice, node.consent_domain())
        now = node.onchain.now()
        node.submit(1, [writer.submission(1, e.text, e.label, now=now) for e in fresh])
        pending = len(node.queries.unanchored(1))
        eth = node.chain.eth_balance(operator.address)
        fair = node.onchain.token_balance(operator.address)
        block = node.health().block
    assert pending >= 1
    with signed_in(dev, operator) as browser:
        page = browser.get("/operator").text
    assert 'id="chain-health"' in page
    shown = int(re.search(r'id="chain-block">(\d+)<', page).group(1))  # type: ignore[union-attr]
    assert block is not None and shown >= block
    from fairwheel.web.common import tokens

    assert f'id="operator-eth"><div class="big">{tokens(eth)}</div>' in page
    assert f'id="operator-tokens"><div class="big">{tokens(fair)}</div>' in page
    assert 'id="gas-price"' in page and "gwei max fee per gas" in page
    assert f'data-pending="{pending}"' in page
    assert f"{pending} accepted records not anchored" in page
    assert "No background job has run on this node" in page
    assert re.search(r"epoch 3, \d+ s ago", page)  # the close of the test above
    # A pass of the background jobs: anchored, and each job's run on the page.
    with dev.ctx.use() as node:
        outcomes = node.jobs.run_pass()
        runs = {r["name"]: r for r in node.queries.job_runs()}
        left = len(node.queries.unanchored(1))
    with signed_in(dev, operator) as browser:
        after = browser.get("/operator").text
    assert left == 0 and 'data-pending="0"' in after
    for outcome in outcomes:
        name = f"{outcome.job}:{outcome.pool_id}"
        row = re.search(rf'<tr data-job="{name}">(.*?)</tr>', after)
        assert row is not None, name
        assert runs[name]["status"] in row.group(1) or "failed" in row.group(1)
    anchor = re.search(r'<tr data-job="anchor:1">(.*?)</tr>', after).group(1)  # type: ignore[union-attr]
    assert "ran" in anchor and str(runs["anchor:1"]["detail"]) in anchor


def test_spend_over_time_buckets_the_ledger_by_chain_time(dev: LiveServer) -> None:
    with dev.ctx.use() as node:
        node.testchain.advance_time(3 * 86_400)
    _pay(dev, "dave", ("predict", "search"))
    chart = svg(_pool_page(dev), "spend")
    with dev.ctx.use() as node:
        calls = [e for e in node.queries.ledger(1) if e["kind"] in ("search", "predict")]
    times = [int(e["time"]) for e in calls]
    assert max(times) - min(times) >= 3 * 86_400  # a span of days: one column a day
    expected: dict[str, dict[str, int]] = defaultdict(lambda: {"searches": 0, "predictions": 0})
    first = datetime.fromtimestamp(min(times), UTC).date()
    last = datetime.fromtimestamp(max(times), UTC).date()
    for e in calls:
        day = datetime.fromtimestamp(int(e["time"]), UTC).strftime("%Y-%m-%d")
        expected[day]["searches" if e["kind"] == "search" else "predictions"] += int(e["price"])
    shown = {c: {s: int(v) for s, v in values.items()} for c, values in segments(chart).items()}
    assert len(shown) == (last - first).days + 1  # every day, the empty ones too
    assert {c: v for c, v in shown.items() if any(v.values())} == dict(expected)
    assert sum(columns(chart).values()) == sum(int(e["price"]) for e in calls)


def test_an_unreadable_epoch_file_merges_its_epoch_with_the_next(dev: LiveServer) -> None:
    from pathlib import Path

    from fairwheel.node import insights

    before = columns(svg(_pool_page(dev), "split"))
    with dev.ctx.use() as node:
        path = Path(node.queries.epoch(1, 1)["file_path"])
    hidden = path.with_name(path.name + ".away")
    path.rename(hidden)
    insights._file_last_seq.cache_clear()  # read the files again, as a restarted node would
    try:
        response = httpx.get(dev.url + "/pools/1")
    finally:
        hidden.rename(path)
        insights._file_last_seq.cache_clear()
    assert response.status_code == 200
    merged = columns(svg(response.text, "split"))
    assert merged["epochs 1–2"] == before["epoch 1"] + before["epoch 2"]
    assert {k: v for k, v in merged.items() if k != "epochs 1–2"} == {
        k: v for k, v in before.items() if k not in ("epoch 1", "epoch 2")
    }
