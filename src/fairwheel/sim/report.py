"""The flywheel market report of ``fairwheel demo --epochs N``, as one self-contained HTML file.

The page has inline CSS and inline SVG only: no JavaScript and no external URLs, so it can be
mailed or archived as is. Amounts are integers in token base units; every amount label is
computed from those integers (never through floats), and hover titles carry the exact units.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

from fairwheel.sim.svg import PALETTE, Axis, Series, chart, int_ticks

__all__ = ["EpochRow", "ReportInput", "format_tokens", "render_report", "write_report"]


@dataclass
class EpochRow:
    """The figures of one epoch (amounts in token base units).

    Attributes:
        epoch: Epoch number.
        accepted_records: Cumulative accepted records in the main pool at epoch end.
        new_contributors: Contributors seen for the first time this epoch.
        revenue: Paid by consumers this epoch.
        operator_fees: The operator's share of ``revenue``.
        builder_earnings: The model builder's share.
        contributor_earnings: The contributors' share.
        labeler_earnings: The labelers' share.
        rater_earnings: The raters' share.
        dust: Rounding remainder not attributed to anyone.
        honest_earnings: Earned by honest contributors.
        attacker_earnings: Earned by attacking contributors.
        model_accuracy: Held-out accuracy of the promoted model version.
        win_rate: Arena win rate of the newest version against the previous one.
        revocations: Records revoked this epoch.
        retrained_versions: Model versions trained this epoch.
        promoted_version: The version promoted this epoch, if any.
        demand_matches: Paid matches in the demand pool.
        demand_revenue: Revenue of the demand pool.
        epoch_root: The ``0x…`` Merkle root posted on chain.
        calls: Paid calls served this epoch.
    """

    epoch: int
    accepted_records: int
    new_contributors: int
    revenue: int
    operator_fees: int
    builder_earnings: int
    contributor_earnings: int
    labeler_earnings: int
    rater_earnings: int
    dust: int
    honest_earnings: int
    attacker_earnings: int
    model_accuracy: float | None
    win_rate: float | None
    revocations: int
    retrained_versions: int
    promoted_version: int | None
    demand_matches: int
    demand_revenue: int
    epoch_root: str
    calls: int


@dataclass
class ReportInput:
    """Everything the report shows.

    Attributes:
        title: Page title.
        epochs: One row per epoch, in order.
        source: One line saying where the figures came from.
        checks: Check name → passed.
        notes: Free-text notes, shown as a list.
        token_decimals: Decimals of the pool token.
        token_symbol: Symbol of the pool token.
    """

    title: str
    epochs: list[EpochRow]
    source: str
    checks: dict[str, bool]
    notes: list[str]
    token_decimals: int = 18
    token_symbol: str = "FAIR"


_SPLIT = (  # (attribute, legend name) of the revenue split, bottom to top
    ("contributor_earnings", "contributors"),
    ("builder_earnings", "builder"),
    ("labeler_earnings", "labelers"),
    ("rater_earnings", "raters"),
    ("operator_fees", "operator fees"),
    ("dust", "dust"),
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#0f172a;margin:0;
background:#f8fafc}main{max-width:1340px;margin:0 auto;padding:24px}h1{margin:0 0 4px}
.muted{color:#64748b;fill:#64748b}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:18px}.grid2{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px}
figcaption{font-size:12px;color:#475569;max-width:640px;padding:4px}
svg.chart{font-size:11px;fill:#334155}svg .chart-title{font-weight:600;font-size:13px}
svg .axis{stroke:#94a3b8}svg .grid{stroke:#e2e8f0}.wrap{overflow-x:auto}
table{border-collapse:collapse;background:#fff;font-size:12px;margin:8px 0}
th,td{border:1px solid #e2e8f0;padding:4px 6px;white-space:nowrap}th{background:#f1f5f9}
td.n{text-align:right;font-variant-numeric:tabular-nums}tfoot td{font-weight:600}
.pass{color:#15803d;font-weight:700}.fail{color:#b91c1c;font-weight:700}
"""


def format_tokens(amount: int, decimals: int = 18, places: int = 6) -> str:
    """Base units as whole tokens with ``places`` decimals, rounded half up, using ints only.

    Args:
        amount: Amount in base units.
        decimals: Token decimals.
        places: Decimals to print.

    Returns:
        E.g. ``"1,234.500000"``.
    """
    sign, units = ("-" if amount < 0 else ""), abs(amount)
    if decimals >= places:
        step = 10 ** (decimals - places)
        scaled = (units + step // 2) // step
    else:
        scaled = units * 10 ** (places - decimals)
    whole, frac = divmod(scaled, 10**places)
    return f"{sign}{whole:,}.{frac:0{places}d}" if places else f"{sign}{whole:,}"


def _percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals, from integers; ``n/a`` if empty."""
    if whole <= 0:
        return "n/a"
    hundredths = (part * 10_000 + whole // 2) // whole
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


class _Ctx:
    """Formatting helpers bound to one report's token."""

    def __init__(self, data: ReportInput) -> None:
        self.dec, self.sym = data.token_decimals, data.token_symbol
        self.xs = [str(r.epoch) for r in data.epochs]

    def tok(self, amount: int) -> str:
        return f"{format_tokens(amount, self.dec)} {self.sym}"

    def tok_exact(self, amount: int) -> str:
        return f"{self.tok(amount)} ({amount:,} base units)"

    def token_axis(self, peak: int, label: str) -> Axis:
        ticks = int_ticks(peak if peak > 0 else 10**self.dec, unit=10 ** max(self.dec - 6, 0))
        scale = 10**self.dec

        def text(v: int) -> str:
            s = format_tokens(v, self.dec)
            return s.rstrip("0").rstrip(".") if "." in s else s

        return Axis(ticks[-1] / scale, [(t / scale, text(t)) for t in ticks], label)

    def series(
        self,
        rows: list[EpochRow],
        attr: str,
        name: str,
        color: str,
        *,
        kind: Literal["bar", "line"] = "bar",
        money: bool = False,
        right: bool = False,
        suffix: Sequence[str] | None = None,
    ) -> Series:
        """A series of the integer field ``attr`` (token amounts when ``money``)."""
        vals = [int(getattr(r, attr)) for r in rows]
        hover = [
            f"epoch {r.epoch}: {name} " + (self.tok_exact(v) if money else f"{v:,}")
            for r, v in zip(rows, vals, strict=True)
        ]
        if suffix is not None:
            hover = [h + s for h, s in zip(hover, suffix, strict=True)]
        scale = 10**self.dec if money else 1
        return Series(name, [v / scale for v in vals], hover, color, kind, right)


def _count_axis(peak: int, label: str) -> Axis:
    ticks = int_ticks(peak)
    return Axis(float(ticks[-1]), [(float(t), f"{t:,}") for t in ticks], label)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _plot_records(rows: list[EpochRow], c: _Ctx) -> str:
    s = c.series(rows, "accepted_records", "accepted records (cumulative)", PALETTE[0], kind="line")
    axis = _count_axis(max((r.accepted_records for r in rows), default=0), "records")
    svg = chart("(a) Accepted records", c.xs, [s], left=axis)
    return _figure(svg, "Records accepted by the gate into the main pool, at each epoch's end.")


def _plot_quality(rows: list[EpochRow], c: _Ctx) -> str:
    def hover(r: EpochRow, what: str, v: float | None) -> str:
        model = f" (promoted v{r.promoted_version})" if r.promoted_version is not None else ""
        return f"epoch {r.epoch}: {what} " + ("n/a" if v is None else f"{v:.4f}") + model

    series = [
        Series(
            "model accuracy",
            [r.model_accuracy for r in rows],
            [hover(r, "accuracy", r.model_accuracy) for r in rows],
            PALETTE[1],
            "line",
        ),
        Series(
            "arena win rate",
            [r.win_rate for r in rows],
            [hover(r, "win rate", r.win_rate) for r in rows],
            PALETTE[4],
            "line",
        ),
    ]
    axis = Axis(1.0, [(t / 4, f"{t / 4:.2f}") for t in range(5)], "fraction")
    svg = chart("(b) Model accuracy and arena win rate", c.xs, series, left=axis)
    return _figure(
        svg,
        "Held-out accuracy of the promoted model version, and the newest version's arena win "
        "rate against the previous one. Epochs without a figure are skipped.",
    )


def _plot_revenue(rows: list[EpochRow], c: _Ctx) -> str:
    series = [c.series(rows, a, n, PALETTE[i], money=True) for i, (a, n) in enumerate(_SPLIT)]
    sums = [sum(getattr(r, attr) for attr, _ in _SPLIT) for r in rows]
    axis = c.token_axis(max([*sums, *(r.revenue for r in rows)], default=0), c.sym)
    svg = chart("(c) Revenue split per epoch", c.xs, series, left=axis, stacked=True)
    off = [str(r.epoch) for r, s in zip(rows, sums, strict=True) if s != r.revenue]
    check = (
        f"The parts do not add up to the revenue in epoch(s) {', '.join(off)}."
        if off
        else "The parts add up to the revenue in every epoch."
    )
    return _figure(svg, f"Consumer payments, {c.tok(sum(r.revenue for r in rows))}. {check}")


def _plot_attack(rows: list[EpochRow], c: _Ctx) -> str:
    honest = attacker = 0
    shares: list[str] = []
    for r in rows:
        honest, attacker = honest + r.honest_earnings, attacker + r.attacker_earnings
        shares.append(f"; attackers' cumulative share {_percent(attacker, honest + attacker)}")
    series = [
        c.series(rows, attr, name, color, kind="line", money=True, suffix=shares)
        for attr, name, color in (
            ("honest_earnings", "honest", PALETTE[1]),
            ("attacker_earnings", "attacker", PALETTE[2]),
        )
    ]
    peak = max([v for r in rows for v in (r.honest_earnings, r.attacker_earnings)], default=0)
    svg = chart("(d) Honest vs attacker earnings", c.xs, series, left=c.token_axis(peak, c.sym))
    share = _percent(attacker, honest + attacker)
    return _figure(
        svg,
        f"Attackers' cumulative share of contributor earnings: {share} "
        f"({c.tok(attacker)} of {c.tok(honest + attacker)}).",
    )


def _plot_upkeep(rows: list[EpochRow], c: _Ctx) -> str:
    series = [
        c.series(rows, "revocations", "revocations", PALETTE[2]),
        c.series(rows, "retrained_versions", "retrained versions", PALETTE[5]),
    ]
    peak = max([v for r in rows for v in (r.revocations, r.retrained_versions)], default=0)
    svg = chart("(e) Revocations and retraining", c.xs, series, left=_count_axis(peak, "count"))
    return _figure(svg, "Records revoked by their contributors, and model versions retrained.")


def _plot_demand(rows: list[EpochRow], c: _Ctx) -> str:
    series = [
        c.series(rows, "demand_matches", "paid matches", PALETTE[3]),
        c.series(
            rows, "demand_revenue", f"revenue ({c.sym}, right axis)", PALETTE[0],
            money=True, kind="line", right=True,
        ),
    ]  # fmt: skip
    left = _count_axis(max((r.demand_matches for r in rows), default=0), "matches")
    right = c.token_axis(max((r.demand_revenue for r in rows), default=0), c.sym)
    svg = chart("(f) Demand pool", c.xs, series, left=left, right=right)
    total = sum(r.demand_revenue for r in rows)
    return _figure(svg, f"Paid matches in the demand pool and their revenue ({c.tok(total)}).")


_COLUMNS = (  # (heading, attribute, format: n=count t=tokens f=fraction r=root, summed)
    ("epoch", "epoch", "n", False),
    ("accepted records", "accepted_records", "n", False),
    ("new contributors", "new_contributors", "n", True),
    ("calls", "calls", "n", True),
    ("revenue", "revenue", "t", True),
    ("operator fees", "operator_fees", "t", True),
    *((name, attr, "t", True) for attr, name in _SPLIT[:4]),
    ("dust", "dust", "t", True),
    ("honest", "honest_earnings", "t", True),
    ("attacker", "attacker_earnings", "t", True),
    ("accuracy", "model_accuracy", "f", False),
    ("win rate", "win_rate", "f", False),
    ("promoted version", "promoted_version", "n", False),
    ("revocations", "revocations", "n", True),
    ("retrained", "retrained_versions", "n", True),
    ("demand matches", "demand_matches", "n", True),
    ("demand revenue", "demand_revenue", "t", True),
    ("epoch root", "epoch_root", "r", False),
)


def _cell(kind: str, value: int | float | str | None, c: _Ctx) -> str:
    if value is None:
        return '<td class="n">—</td>'
    if kind == "t":
        return f'<td class="n" title="{value:,} base units">{format_tokens(int(value), c.dec)}</td>'
    if kind == "f":
        return f'<td class="n">{value:.4f}</td>'
    if kind == "r":
        text = str(value)
        short = text if len(text) <= 14 else f"{text[:8]}…{text[-4:]}"
        return f'<td><code title="{escape(text)}">{escape(short)}</code></td>'
    return f'<td class="n">{value:,}</td>'


def _table(rows: list[EpochRow], c: _Ctx) -> str:
    head = "".join(
        f"<th>{escape(h)}{f' ({escape(c.sym)})' if k == 't' else ''}</th>"
        for h, _, k, _ in _COLUMNS
    )
    body = "".join(
        "<tr>" + "".join(_cell(k, getattr(r, a), c) for _, a, k, _ in _COLUMNS) + "</tr>"
        for r in rows
    )
    foot = "".join(
        _cell(k, sum(getattr(r, a) for r in rows), c) if summed else "<td></td>"
        for _, a, k, summed in _COLUMNS[1:]
    )
    return (
        f'<div class="wrap"><table id="epochs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody><tfoot><tr><td>total</td>{foot}</tr></tfoot></table></div>"
    )


def _checks(checks: dict[str, bool]) -> str:
    if not checks:
        return '<p class="muted">No checks recorded.</p>'
    failed = sum(1 for ok in checks.values() if not ok)
    summary = (
        f'<p class="pass">All {len(checks)} checks passed.</p>'
        if not failed
        else f'<p class="fail">{failed} of {len(checks)} checks failed.</p>'
    )
    items = "".join(
        f'<li><span class="{"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}</span> '
        f"{escape(name)}</li>"
        for name, ok in checks.items()
    )
    return f'{summary}<ul class="checks">{items}</ul>'


def _cards(data: ReportInput, c: _Ctx) -> str:
    rows = data.epochs
    last = rows[-1] if rows else None
    accuracy = next(
        (r.model_accuracy for r in reversed(rows) if r.model_accuracy is not None), None
    )
    honest = sum(r.honest_earnings for r in rows)
    attacker = sum(r.attacker_earnings for r in rows)
    cards = [
        ("epochs", f"{len(rows):,}"),
        ("accepted records", f"{last.accepted_records:,}" if last else "—"),
        ("revenue", c.tok(sum(r.revenue for r in rows))),
        ("paid calls", f"{sum(r.calls for r in rows):,}"),
        ("latest accuracy", "—" if accuracy is None else f"{accuracy:.4f}"),
        ("attackers' share", _percent(attacker, honest + attacker)),
        ("checks passed", f"{sum(data.checks.values())} / {len(data.checks)}"),
    ]
    items = "".join(
        f'<div class="card"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>'
        for k, v in cards
    )
    return f'<div class="cards">{items}</div>'


_PLOTS = (_plot_records, _plot_quality, _plot_revenue, _plot_attack, _plot_upkeep, _plot_demand)


def render_report(data: ReportInput) -> str:
    """Render the report as one self-contained HTML document.

    Args:
        data: The figures, checks and notes.

    Returns:
        The HTML text (inline CSS and SVG; no scripts, no external URLs).
    """
    c = _Ctx(data)
    rows = data.epochs
    plots = "".join(plot(rows, c) for plot in _PLOTS)
    notes = "".join(f"<li>{escape(n)}</li>" for n in data.notes)
    title = escape(data.title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{title}</h1><p class="muted">{escape(data.source)}</p>'
        f"{_cards(data, c)}<h2>Checks</h2>{_checks(data.checks)}"
        f'<h2>Flywheel</h2><div class="grid2">{plots}</div>'
        f"<h2>Epochs</h2>{_table(rows, c)}"
        f"<h2>Notes</h2>"
        + (f"<ul>{notes}</ul>" if notes else '<p class="muted">No notes.</p>')
        + "</main></body></html>\n"
    )


def write_report(data: ReportInput, path: Path) -> Path:
    """Render the report and write it atomically (temp file + rename) to ``path``.

    Args:
        data: The figures, checks and notes.
        path: Target file; parent directories are created.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_report(data))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
