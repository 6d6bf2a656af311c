"""Small inline SVG charts rendered on the server (no JavaScript, no external assets).

Each function returns SVG markup (``markupsafe.Markup``) with a ``<title>`` and an accessible
``aria-label``; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777")


def _fmt(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value:.3g}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3g}"


def _empty(title: str, width: int, height: int) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>'
        f'<text x="{width / 2}" y="{height / 2 + 8}" text-anchor="middle" class="muted">'
        f"no data yet</text></svg>"
    )


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, width: int = 460, unit: str = ""
) -> Markup:
    """Horizontal bars, one per (label, value), largest first as given."""
    bar_h, gap, label_w, top = 18, 6, 150, 24
    height = top + max(1, len(items)) * (bar_h + gap) + 8
    if not items or max(v for _, v in items) <= 0:
        return _empty(title, width, 80)
    peak = max(v for _, v in items)
    span = width - label_w - 70
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(1.0, span * value / peak) if value > 0 else 0
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2">'
            f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{_fmt(value)}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 460,
    height: int = 220,
    y_min: float | None = None,
    y_max: float | None = None,
    x_format: Callable[[float], str] | None = None,
) -> Markup:
    """Lines with dots, one per named series of (x, y) points; a legend when several.

    ``x_format`` writes the x axis' end labels and the dots' titles (default: a short number;
    for example a timestamp formatter for a series over time).
    """
    fx = x_format or _fmt
    points = [p for pts in series.values() for p in pts]
    if not points:
        return _empty(title, width, height)
    left, right, top, bottom = 56, 12, 28, 36
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0 = min(ys) if y_min is None else y_min
    y1 = max(ys) if y_max is None else y_max
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + pw * (x - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return top + ph * (1 - (y - y0) / (y1 - y0))

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_fmt(y1)}</text>',
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">{_fmt(y0)}</text>',
        f'<text x="{left}" y="{height - 18}" text-anchor="start">{escape(fx(x0))}</text>',
        f'<text x="{left + pw}" y="{height - 18}" text-anchor="end">{escape(fx(x1))}</text>',
        f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" class="muted">'
        f"{escape(x_label)}</text>",
        f'<text x="12" y="{top + ph / 2}" text-anchor="middle" class="muted" '
        f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_label)}</text>',
    ]
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        ordered = sorted(pts)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ordered)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in ordered:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(name)} {escape(fx(x))}: {_fmt(y)}</title></circle>"
            )
        if len(series) > 1:
            ly = top + 4 + i * 14
            parts.append(
                f'<rect x="{left + pw - 110}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
                f'<text x="{left + pw - 96}" y="{ly + 1}">{escape(name[:16])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
