"""Small inline SVG charts rendered on the server (no JavaScript, no external assets).

Each function returns SVG markup (``markupsafe.Markup``) with a ``<title>`` and an accessible
``aria-label``; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "column_chart", "line_chart"]

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
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 460,
    unit: str = "",
    colors: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars, one per (label, value), in the order given.

    Each bar carries ``data-label`` and ``data-value``; ``colors`` gives each bar its colour
    (default: the palette in turn).
    """
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
        color = colors[i] if colors else PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2" '
            f'data-label="{escape(label)}" data-value="{_fmt(value)}">'
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


def _legend(names: Sequence[tuple[str, str, bool]], x: float, y: float, width: float) -> str:
    """One row (wrapping) of swatches: (name, colour, is a line)."""
    out, cx, cy = [], x, y
    for name, color, is_line in names:
        span = 18 + 6.2 * len(name[:22])
        if cx + span > x + width and cx > x:
            cx, cy = x, cy + 14
        swatch = (
            f'<line x1="{cx:.1f}" y1="{cy - 3}" x2="{cx + 10:.1f}" y2="{cy - 3}" stroke="{color}" '
            f'stroke-width="2"/>'
            if is_line
            else f'<rect x="{cx:.1f}" y="{cy - 8}" width="10" height="10" fill="{color}"/>'
        )
        out.append(f'{swatch}<text x="{cx + 14:.1f}" y="{cy + 1}">{escape(name[:22])}</text>')
        cx += span
    return "".join(out)


def column_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    y_label: str,
    fmt: Callable[[float], str] | None = None,
    lines: Mapping[str, Sequence[float | None]] | None = None,
    notes: Sequence[str] | None = None,
    colors: Sequence[str] | None = None,
    width: int = 460,
    height: int = 250,
    y_max: float | None = None,
) -> Markup:
    """Vertical columns, one per category, each the stack of the series' values (bottom to
    top); optional lines over the same axis; a legend.

    Values are drawn from floats but written as given: each segment is a ``<rect>`` with
    ``data-series``, ``data-category`` and ``data-value`` (an ``int`` stays exact, e.g. token
    base units), inside a ``<g class="column">`` with ``data-category`` and ``data-total`` (the
    sum of its values). A negative value is written but not drawn. Each line's dots are
    ``<circle>`` elements with the same attributes; a None value leaves a gap.

    Args:
        categories: The columns' labels, left to right.
        series: Per series, one value per category.
        title: The chart's title (and its ``aria-label``).
        y_label: The y axis' label.
        fmt: Writes a value for the labels and titles (default: a short number).
        lines: Per line, one value (or None) per category.
        notes: A short text above each column (``serving``…; empty for none).
        colors: The series' colours, then the lines' (default: the palette in turn).
        width: Width in pixels.
        height: Height in pixels.
        y_max: The top of the y axis (default: the highest column or dot).
    """
    fv = fmt or _fmt
    line_map = dict(lines or {})
    names = [*series, *line_map]
    palette = list(colors or ()) + [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    tops = [sum(max(0.0, float(v[i])) for v in series.values()) for i in range(len(categories))]
    dots = [float(v) for vs in line_map.values() for v in vs if v is not None]
    peak = max([*tops, *dots, 0.0]) if y_max is None else y_max
    if not categories or peak <= 0:
        return _empty(title, width, 90)
    legend_rows = 1 + int(sum(18 + 6.2 * len(n[:22]) for n in names) // (width - 60))
    left, right, bottom = 64, 10, 34
    top = 24 + (14 * legend_rows + 6 if len(names) > 1 else 8)
    pw, ph = width - left - right, height - top - bottom
    slot = pw / len(categories)
    bar_w = max(2.0, min(48.0, slot * 0.7))
    every = max(1, int(len(categories) * 52 // pw) + 1) if len(categories) * 52 > pw else 1

    def sy(value: float) -> float:
        return top + ph * (1 - value / peak)

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    if len(names) > 1:
        legend = [(n, palette[i], i >= len(series)) for i, n in enumerate(names)]
        parts.append(_legend(legend, left, 34, pw))
    parts += [
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{escape(fv(peak))}</text>',
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">0</text>',
        f'<text x="12" y="{top + ph / 2}" text-anchor="middle" class="muted" '
        f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_label)}</text>',
    ]
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        values = [v[i] for v in series.values()]
        total = sum(values)
        parts.append(
            f'<g class="column" data-category="{escape(category)}" data-total="{total}">'
            f"<title>{escape(category)}: {escape(fv(total))}</title>"
        )
        base = 0.0
        for j, (name, value) in enumerate(zip(series, values, strict=True)):
            h = max(0.0, float(value))
            y1, y0 = sy(base + h), sy(base)
            parts.append(
                f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" height="{y0 - y1:.1f}" '
                f'fill="{palette[j]}" data-series="{escape(name)}" '
                f'data-category="{escape(category)}" data-value="{value}">'
                f"<title>{escape(category)} · {escape(name)}: {escape(fv(value))}</title></rect>"
            )
            base += h
        parts.append("</g>")
        note = notes[i] if notes else ""
        if note:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{sy(tops[i]) - 4:.1f}" text-anchor="middle" '
                f'class="note">{escape(note)}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + ph + 14}" text-anchor="middle">'
                f"{escape(category[:14])}</text>"
            )
    for k, (name, line) in enumerate(line_map.items()):
        color = palette[len(series) + k]
        pts = [
            (left + slot * i + slot / 2, float(v), categories[i], v)
            for i, v in enumerate(line)
            if v is not None
        ]
        path = " ".join(f"{px:.1f},{sy(py):.1f}" for px, py, _, _ in pts)
        # Later lines dashed and thinner: lines that coincide stay visible.
        style = ' stroke-width="2" stroke-dasharray="6 4"' if k else ' stroke-width="3.5"'
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}"{style} '
            f'data-series="{escape(name)}"/>'
        )
        for px, py, category, raw in pts:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{sy(py):.1f}" r="3.5" fill="{color}" '
                f'data-series="{escape(name)}" data-category="{escape(category)}" '
                f'data-value="{raw}"><title>{escape(category)} · {escape(name)}: '
                f"{escape(fv(raw))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
