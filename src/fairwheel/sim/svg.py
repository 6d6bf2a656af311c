"""Inline SVG charts for self-contained HTML reports (no JavaScript, no external assets).

One function, :func:`chart`, draws bars (grouped or stacked) and lines over a row of x slots,
against a left value axis and an optional right one. Geometry is computed in floats, but every
piece of text (tick labels, hover titles) is supplied by the caller, so amounts can be labelled
from exact integer arithmetic. All text is HTML-escaped. Values below zero are drawn as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

__all__ = ["PALETTE", "Axis", "Series", "chart", "int_ticks"]

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#64748b")


@dataclass(frozen=True)
class Series:
    """One named series over the x slots.

    Attributes:
        name: Legend text.
        values: One value per x slot; ``None`` draws nothing for that slot.
        hover: One hover text per x slot (the ``<title>`` of its bar or dot).
        color: Fill or stroke colour.
        kind: ``"bar"`` or ``"line"``.
        right: Plot against the right axis instead of the left one.
    """

    name: str
    values: Sequence[float | None]
    hover: Sequence[str]
    color: str
    kind: Literal["bar", "line"] = "bar"
    right: bool = False


@dataclass(frozen=True)
class Axis:
    """A value axis from 0 to ``top`` with labelled ticks.

    Attributes:
        top: The value at the top of the plot area (must be > 0).
        ticks: ``(value, label)`` pairs, drawn as grid lines.
        label: The axis title.
    """

    top: float
    ticks: Sequence[tuple[float, str]]
    label: str


def int_ticks(peak: int, *, unit: int = 1, count: int = 5) -> list[int]:
    """Round tick values ``0, s, 2s, …`` covering ``peak``, computed with integers only.

    The step is the smallest ``{1, 2, 5} × 10^k × unit`` giving at most ``count`` intervals.

    Args:
        peak: The largest value to cover; values ``<= 0`` are treated as ``unit``.
        unit: The smallest allowed step.
        count: The most intervals wanted.

    Returns:
        The tick values, starting at 0; the last one is ``>= peak``.
    """
    peak = max(peak, unit)
    scale = unit
    while True:
        for mult in (1, 2, 5):
            step = mult * scale
            if step * count >= peak:
                return [i * step for i in range(-(-peak // step) + 1)]
        scale *= 10


def _legend(series: Sequence[Series], x0: float, width: float, y0: float) -> tuple[list[str], int]:
    parts: list[str] = []
    x, y, rows = x0, y0, 1
    for s in series:
        w = 22 + 6.4 * len(s.name)
        if x + w > x0 + width and x > x0:
            x, y, rows = x0, y + 16, rows + 1
        mark = (
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 12:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{s.color}" stroke-width="2.5"/>'
            if s.kind == "line"
            else f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="11" height="10" fill="{s.color}"/>'
        )
        parts.append(f'{mark}<text x="{x + 16:.1f}" y="{y:.1f}">{escape(s.name)}</text>')
        x += w
    return parts, rows


def chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    left: Axis,
    right: Axis | None = None,
    stacked: bool = False,
    x_title: str = "epoch",
    width: int = 640,
    height: int = 300,
) -> str:
    """Render one chart as an ``<svg>`` element.

    Args:
        title: Chart title (also the SVG ``<title>`` and ``aria-label``).
        x_labels: One label per x slot; at most about 12 are printed, all are in hover texts.
        series: Bars and lines; bar series are stacked when ``stacked`` else grouped.
        left: The left value axis.
        right: The right value axis, for series with ``right=True``.
        stacked: Stack the bar series instead of drawing them side by side.
        x_title: The x axis title.
        width: Width in pixels.
        height: Height in pixels (the legend rows are added to it).

    Returns:
        SVG markup.
    """
    n = len(x_labels)
    ml, mr, mb = 72, (72 if right is not None else 16), 42
    legend, rows = _legend(series, ml, width - ml - mr, 38)
    mt = 30 + rows * 16
    height += rows * 16
    pw, ph = width - ml - mr, height - mt - mb
    slot = pw / max(n, 1)

    def sy(value: float, axis: Axis) -> float:
        return mt + ph * (1 - min(max(value, 0.0), axis.top) / axis.top)

    label = escape(title)
    out = [
        f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{label}</title>',
        f'<text x="4" y="18" class="chart-title">{label}</text>',
        *legend,
    ]
    for side, tx, anchor in ((left, ml - 6, "end"), (right, ml + pw + 6, "start")):
        if side is None:
            continue
        for tick, text in side.ticks:
            y = sy(tick, side)
            if side is left:
                out.append(
                    f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" class="grid"/>'
                )
            out.append(
                f'<text x="{tx}" y="{y + 4:.1f}" text-anchor="{anchor}">{escape(text)}</text>'
            )
        ax = 14 if side is left else width - 8
        out.append(
            f'<text x="{ax}" y="{mt + ph / 2:.1f}" text-anchor="middle" class="muted" '
            f'transform="rotate(-90 {ax} {mt + ph / 2:.1f})">{escape(side.label)}</text>'
        )
    out.append(f'<line x1="{ml}" y1="{mt + ph}" x2="{ml + pw}" y2="{mt + ph}" class="axis"/>')
    out.append(f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{mt + ph}" class="axis"/>')
    if right is not None:
        out.append(f'<line x1="{ml + pw}" y1="{mt}" x2="{ml + pw}" y2="{mt + ph}" class="axis"/>')
    every = -(-n // 12) if n else 1
    for i, text in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text x="{ml + slot * (i + 0.5):.1f}" y="{mt + ph + 16}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    out.append(
        f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" class="muted">'
        f"{escape(x_title)}</text>"
    )

    bars = [s for s in series if s.kind == "bar"]
    drawn = False
    for i in range(n):
        base = 0.0
        group = slot * (0.6 if stacked else 0.75)
        bw = group if stacked else group / max(len(bars), 1)
        for j, s in enumerate(bars):
            raw = s.values[i]
            if raw is None:
                continue
            axis = right if s.right and right is not None else left
            value = max(raw, 0.0)
            y_top, y_bot = sy(base + value, axis), sy(base, axis)
            bx = ml + slot * i + (slot - group) / 2 + (0 if stacked else j * bw)
            out.append(
                f'<rect x="{bx:.1f}" y="{y_top:.1f}" width="{bw:.1f}" '
                f'height="{y_bot - y_top:.1f}" fill="{s.color}"><title>{escape(s.hover[i])}'
                "</title></rect>"
            )
            drawn = True
            if stacked:
                base += value
    for s in series:
        if s.kind != "line":
            continue
        axis = right if s.right and right is not None else left
        pts = [
            (ml + slot * (i + 0.5), sy(v, axis), s.hover[i])
            for i, v in enumerate(s.values)
            if v is not None
        ]
        run: list[str] = []
        for i, v in enumerate([*s.values, None]):
            if v is not None:
                run.append(f"{ml + slot * (i + 0.5):.1f},{sy(v, axis):.1f}")
                continue
            if len(run) > 1:
                out.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.color}" '
                    'stroke-width="2"/>'
                )
            run = []
        for cx, cy, hover in pts:
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{s.color}">'
                f"<title>{escape(hover)}</title></circle>"
            )
        drawn = drawn or bool(pts)
    if not drawn:
        out.append(
            f'<text x="{ml + pw / 2:.1f}" y="{mt + ph / 2:.1f}" text-anchor="middle" '
            'class="muted">no data</text>'
        )
    out.append("</svg>")
    return "".join(out)
