"""The flywheel market report: self-contained HTML with six inline SVG plots and a table."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fairwheel.sim.report import EpochRow, ReportInput, format_tokens, render_report, write_report
from fairwheel.sim.svg import int_ticks

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class _Checker(HTMLParser):
    """Checks that every element is closed in order and collects tags, titles and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def _row(epoch: int, **over: object) -> EpochRow:
    revenue = 9 * 10**16 + 3 * epoch
    parts = {
        "operator_fees": revenue // 10,
        "builder_earnings": revenue // 5,
        "labeler_earnings": revenue // 20,
        "rater_earnings": revenue // 25,
    }
    contributors = revenue * 6 // 10 - 5
    dust = revenue - sum(parts.values()) - contributors
    row = EpochRow(
        epoch=epoch,
        accepted_records=100 * epoch,
        new_contributors=3,
        revenue=revenue,
        contributor_earnings=contributors,
        dust=dust,
        honest_earnings=contributors - 1000 * epoch,
        attacker_earnings=1000 * epoch,
        model_accuracy=0.7 + epoch / 100,
        win_rate=0.55 if epoch > 1 else None,
        revocations=epoch % 3,
        retrained_versions=1,
        promoted_version=epoch,
        demand_matches=2 * epoch,
        demand_revenue=10**15 * epoch,
        epoch_root="0x" + f"{epoch:02x}" * 32,
        calls=60,
        **parts,
    )
    return replace(row, **over)  # type: ignore[arg-type]


def _input(rows: list[EpochRow], **over: object) -> ReportInput:
    data = ReportInput(
        title="Fairwheel demo",
        epochs=rows,
        source="read from the ledger and the chain",
        checks={"conservation": True, "epoch roots verified": True},
        notes=["a plain note"],
    )
    return replace(data, **over)  # type: ignore[arg-type]


@pytest.mark.parametrize("epochs", [1, 5])
def test_report_renders(epochs: int, tmp_path: Path) -> None:
    rows = [_row(e) for e in range(1, epochs + 1)]
    html = render_report(_input(rows))
    parsed = _parse(html)
    assert parsed.counts["svg"] == 6
    assert parsed.counts["table"] == 1
    assert parsed.counts["tr"] == epochs + 2  # header, one per epoch, totals
    assert "<script" not in html and "http" not in html and "src=" not in html
    plots = re.findall(r'<svg class="chart" role="img" aria-label="\((\w)\) ', html)
    assert plots == list("abcdef")
    assert 'title="' + rows[0].epoch_root + '"' in html  # full root on hover
    assert "PASS" in html and "FAIL" not in html
    out = write_report(_input(rows), tmp_path / "sub" / "report.html")
    assert out.read_text(encoding="utf-8") == html
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_every_point_has_a_hover_title() -> None:
    html = render_report(_input([_row(e) for e in range(1, 4)]))
    circles = re.findall(r"<circle [^>]*>", html)
    bars = re.findall(r"<rect [^>]*[^/]>", html)  # legend swatches are self-closing
    assert len(re.findall(r"<circle [^>]*><title>epoch \d+: ", html)) == len(circles)
    assert len(re.findall(r"<rect [^>]*[^/]><title>epoch \d+: ", html)) == len(bars)
    # records 3 + accuracy 3 + win rate 2 + honest/attacker 6 + demand revenue 3
    assert len(circles) == 17
    # revenue split 6 x 3 + revocations/retrained 2 x 3 + demand matches 3
    assert len(bars) == 27


def test_large_ints_zero_revenue_and_missing_accuracy() -> None:
    big = 10**24 + 1
    rows = [
        _row(1, revenue=0, operator_fees=0, builder_earnings=0, contributor_earnings=0,
             labeler_earnings=0, rater_earnings=0, dust=0, honest_earnings=0, attacker_earnings=0,
             demand_revenue=0, model_accuracy=None, win_rate=None, promoted_version=None),
        _row(2, revenue=big, operator_fees=big, builder_earnings=0, contributor_earnings=0,
             labeler_earnings=0, rater_earnings=0, dust=0, honest_earnings=big,
             attacker_earnings=big, demand_revenue=big, accepted_records=10**24,
             model_accuracy=None, win_rate=None),
    ]  # fmt: skip
    html = render_report(_input(rows))
    _parse(html)
    assert "1,000,000.000000 FAIR" in html
    assert f"{big:,} base units" in html  # exact amount in the hover title
    assert "50.00%" in html  # attackers' cumulative share
    assert "no data" in html  # the accuracy plot has no points
    assert "nan" not in html.lower().replace("nano", "")


def test_zero_revenue_single_epoch() -> None:
    zero = dict.fromkeys(
        ("revenue", "operator_fees", "builder_earnings", "contributor_earnings",
         "labeler_earnings", "rater_earnings", "dust", "honest_earnings", "attacker_earnings",
         "demand_revenue"),
        0,
    )  # fmt: skip
    html = render_report(_input([_row(1, **zero)]))
    _parse(html)
    assert "0.000000 FAIR" in html
    assert "n/a" in html  # no contributor earnings: no attackers' share


def test_no_epochs_still_renders() -> None:
    html = render_report(_input([], checks={}, notes=[]))
    parsed = _parse(html)
    assert parsed.counts["svg"] == 6
    assert "No checks recorded." in html


def test_text_is_escaped() -> None:
    evil = "<script>alert('x')</script>"
    rows = [_row(1, epoch_root='0x"><script>')]
    data = _input(rows, title=evil, source=evil, checks={evil: False}, notes=[evil, "a & b"])
    html = render_report(data)
    parsed = _parse(html)
    assert "<script" not in html
    assert "&lt;script&gt;" in html and "a &amp; b" in html
    assert "FAIL" in html and "1 of 1 checks failed." in html
    assert parsed.counts.get("script", 0) == 0


def test_token_symbol_and_decimals() -> None:
    rows = [_row(1, revenue=1_500_000, operator_fees=1_500_000, builder_earnings=0,
                 contributor_earnings=0, labeler_earnings=0, rater_earnings=0, dust=0)]  # fmt: skip
    html = render_report(_input(rows, token_decimals=6, token_symbol="USDC"))
    assert "1.500000 USDC" in html


def test_format_tokens_uses_integers() -> None:
    assert format_tokens(0) == "0.000000"
    assert format_tokens(10**18) == "1.000000"
    assert format_tokens(2 * 10**15 + 3) == "0.002000"
    assert format_tokens(1_234_567_500_000_000_000) == "1.234568"  # half up
    assert format_tokens(10**42 + 10**12) == "1,000,000,000,000,000,000,000,000.000001"
    assert format_tokens(-5 * 10**17) == "-0.500000"
    assert format_tokens(7, decimals=2) == "0.070000"
    assert format_tokens(123, decimals=0, places=0) == "123"


def test_int_ticks() -> None:
    assert int_ticks(0) == [0, 1]
    assert int_ticks(285) == [0, 100, 200, 300]
    assert int_ticks(3) == [0, 1, 2, 3]
    ticks = int_ticks(6 * 10**24, unit=10**12)
    assert ticks[-1] >= 6 * 10**24 and len(ticks) <= 6
