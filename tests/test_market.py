"""`fairwheel demo --epochs N`: the market runs, settles two interleaved pools, and reports from
the ledger and the chain (named fake embedder: the real one runs in benchmarks/flywheel.py)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from fairwheel.sim.market import MarketConfig, run_market


def test_two_epochs_settle_both_pools_and_render_the_report(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = MarketConfig(home=tmp_path / "home", epochs=2, embedder_url="fake-hash://384",
                       first_contributors=4, founding_rows=20, rows_per_contributor=6,
                       attack_rows=3, consumers=2, calls_per_consumer=4)  # fmt: skip
    result = run_market(cfg, say=lines.append)
    checks = result.checks
    for pool in (1, 2):  # the main pool and the demand pool, their ledger entries interleaved
        assert checks[f"pool {pool}: every epoch file recomputes its on-chain root"], lines
        assert checks[f"pool {pool}: paid = claimed + unclaimed + fees + dust"], lines
    assert checks["no revoked record is served after its revocation"]
    assert checks["every revocation retrained the serving model without it"]
    assert checks["demand pool: consumers whose needs matched earned"]
    rows = result.rows
    assert [r.epoch for r in rows] == [1, 2] and rows[1].revocations == 1
    for r in rows:
        parts = (r.contributor_earnings + r.builder_earnings + r.labeler_earnings
                 + r.rater_earnings + r.operator_fees + r.dust)  # fmt: skip
        assert parts == r.revenue  # every base unit of the epoch accounted for
        assert r.epoch_root.startswith("0x") and int(r.epoch_root, 16) != 0
    html = Path(result.report).read_text()  # type: ignore[arg-type]
    HTMLParser().feed(html)
    assert html.count("<svg") == 6 and "Honest vs attacker" in html
