"""Charts as inline SVG, drawn on the server: no JavaScript, nothing for a Content-Security-Policy to refuse, and
the same markup in the page and in the monthly PDF (WeasyPrint draws SVG). Colours are presentation attributes,
not styles. Every chart has a title and a description, and the numbers it draws are in a table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Distinguishable for the common colour-vision deficiencies (Okabe-Ito order), dark enough on white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7f6d00", "#555555"]
TEXT = "#333333"
GRID = "#dddddd"


def _svg(width: int, height: int, title: str, description: str, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 - every text below is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-family="DejaVu Sans, sans-serif" '
        f'font-size="11"><title>{escape(title)}</title><desc>{escape(description)}</desc>{"".join(body)}</svg>'
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return step * 4
    return value * 1.1


def _legend(names: Sequence[str], x: int, y: int) -> list[str]:
    parts, offset = [], x
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{offset}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{offset + 14}" y="{y}" fill="{TEXT}">{escape(name)}</text>')
        offset += 24 + 7 * len(name)
    return parts


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, width: int = 640
) -> SafeString:
    """One line per series over the labels (days or weeks), with a y axis from 0."""
    height, left, right, top, bottom = 220, 44, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, values in series for v in values), default=0))
    n = max(len(labels), 1)
    step = plot_w / max(n - 1, 1)
    body = _legend([name for name, _ in series], left, 14)
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        label = f"{value:g}" if value < 10 else f"{value:.0f}"
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">{label}</text>')
    every = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % every == 0:
            x = left + step * i if n > 1 else left + plot_w / 2
            body.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="{TEXT}">{escape(label)}</text>'
            )
    for index, (_name, values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(
            f"{(left + step * i if n > 1 else left + plot_w / 2):.1f},{top + plot_h - plot_h * v / top_value:.1f}"
            for i, v in enumerate(values)
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if n <= 40:
            for i, v in enumerate(values):
                x = left + step * i if n > 1 else left + plot_w / 2
                y = top + plot_h - plot_h * v / top_value
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
    description = "; ".join(f"{name}: " + ", ".join(f"{v:g}" for v in values) for name, values in series)
    return _svg(width, height, title, description, body)


def stacked_bars(
    title: str, rows: Sequence[tuple[str, Sequence[int]]], segments: Sequence[str], *, width: int = 640
) -> SafeString:
    """One horizontal bar per row, split into segments (e.g. open requests per state, by aging band)."""
    bar_h, gap, left, right, top = 18, 8, 120, 50, 28
    height = top + len(rows) * (bar_h + gap) + 8
    total_max = max((sum(values) for _, values in rows), default=0) or 1
    plot_w = width - left - right
    body = _legend(segments, left, 14)
    for r, (label, values) in enumerate(rows):
        y = top + r * (bar_h + gap)
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" fill="{TEXT}">{escape(label)}</text>')
        x = float(left)
        for s, value in enumerate(values):
            w = plot_w * value / total_max
            if w > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[s % len(PALETTE)]}">'
                    f"<title>{escape(label)}, {escape(segments[s])}: {value}</title></rect>"
                )
            x += w
        body.append(f'<text x="{x + 4:.1f}" y="{y + 13}" fill="{TEXT}">{sum(values)}</text>')
    description = "; ".join(
        f"{label}: " + ", ".join(f"{segments[i]} {v}" for i, v in enumerate(values)) for label, values in rows
    )
    return _svg(width, height, title, description, body)


def bars(title: str, rows: Sequence[tuple[str, float]], *, width: int = 640, unit: str = "") -> SafeString:
    """One horizontal bar per row (e.g. open requests per staff member)."""
    bar_h, gap, left, right, top = 16, 6, 160, 60, 8
    height = top + len(rows) * (bar_h + gap) + 4
    top_value = max((v for _, v in rows), default=0) or 1
    plot_w = width - left - right
    body = []
    for r, (label, value) in enumerate(rows):
        y = top + r * (bar_h + gap)
        w = plot_w * value / top_value
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" fill="{TEXT}">{escape(label)}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[0]}"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}" fill="{TEXT}">{value:g}{escape(unit)}</text>')
    description = "; ".join(f"{label}: {value:g}{unit}" for label, value in rows)
    return _svg(width, height, title, description, body)
