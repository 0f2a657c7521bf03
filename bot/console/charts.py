"""Charts as inline SVG, drawn on the server: no script, no external resource, nothing for the CSP
to refuse. Colours come from classes (bot/static/console-charts.css), not style attributes.

Each chart is an `<svg role="img">` named by its `<title>` and described by a `<desc>`; every bar
has its own `<title>` (a tooltip with its figure). The page shows the same numbers in a table.
Every piece of text is escaped here, so the result can be given to Jinja as Markup.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 34, 40
SERIES_CLASSES = 6  # .chart-s0 … .chart-s5 in console-charts.css


def nice_max(value: int) -> int:
    """A round top for the axis, four gridline steps of 1, 2 or 5 × 10^n, at or above `value`."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= value:
                return step * magnitude * 4
        magnitude *= 10


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def bar_chart(chart_id: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
              unit: str = "件", tooltips: Sequence[str] | None = None) -> Markup:
    """Vertical bars, one per category (a week), stacked when there is more than one series."""
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    top = nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(categories), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    label_every = max(1, -(-len(categories) // 16))  # at most ~16 labels under the axis
    tips = tooltips or categories
    desc = f"{title}。期間の合計 {sum(totals)}{unit}。"
    if len(series) > 1:
        desc += "、".join(f"{name} {sum(values)}{unit}" for name, values in series) + "。"
    parts = [_open(chart_id, title, desc)]
    for tick in range(5):  # gridlines and their labels
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="chart-grid" x1="{LEFT}" y1="{_fmt(y)}" x2="{WIDTH - RIGHT}" y2="{_fmt(y)}"/>')
        parts.append(f'<text class="chart-axis" x="{LEFT - 6}" y="{_fmt(y + 4)}" text-anchor="end">{_fmt(value)}</text>')
    for i, category in enumerate(categories):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = TOP + plot_h
        for s, (name, values) in enumerate(series):
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            tip = f"{tips[i]} {name}: {value}{unit}" if len(series) > 1 else f"{tips[i]}: {value}{unit}"
            parts.append(f'<rect class="chart-bar chart-s{s % SERIES_CLASSES}" x="{_fmt(x)}" y="{_fmt(base)}" '
                         f'width="{_fmt(bar_w)}" height="{_fmt(h)}"><title>{escape(tip)}</title></rect>')
        if totals[i]:
            parts.append(f'<text class="chart-value" x="{_fmt(x + bar_w / 2)}" y="{_fmt(base - 4)}" '
                         f'text-anchor="middle">{totals[i]}</text>')
        if i % label_every == 0:
            parts.append(f'<text class="chart-axis" x="{_fmt(LEFT + slot * i + slot / 2)}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(category)}</text>')
    parts.append(f'<line class="chart-baseline" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
                 f'y2="{TOP + plot_h}"/>')
    if len(series) > 1:
        parts.append(_legend([name for name, _ in series]))
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel_chart(chart_id: str, title: str, stages: Sequence[tuple[str, int]], unit: str = "人") -> Markup:
    """Horizontal bars, one per stage, each as long as the number that reached it."""
    row_h, label_w, top_pad = 26, 150, 8
    height = top_pad + row_h * len(stages) + 8
    top = max((n for _, n in stages), default=0) or 1
    bar_space = WIDTH - label_w - RIGHT - 56
    first = stages[0][1] if stages else 0
    desc = f"{title}。" + "、".join(f"{label} {n}{unit}" for label, n in stages) + "。"
    parts = [_open(chart_id, title, desc, height)]
    for i, (label, n) in enumerate(stages):
        y = top_pad + row_h * i
        w = bar_space * n / top
        share = f"（{n * 100 / first:.0f}%）" if first else ""
        parts.append(f'<text class="chart-axis" x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        if n:
            css = "chart-s1" if i == len(stages) - 1 else "chart-s0"
            parts.append(f'<rect class="chart-bar {css}" x="{label_w}" y="{y + 4}" width="{_fmt(max(w, 1))}" '
                         f'height="{row_h - 8}"><title>{escape(f"{label}: {n}{unit}{share}")}</title></rect>')
        parts.append(f'<text class="chart-value" x="{_fmt(label_w + w + 6)}" y="{y + 17}">{n}{escape(share)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(chart_id: str, title: str, desc: str, height: int = HEIGHT) -> str:
    cid = escape(chart_id)
    return (f'<svg class="chart" id="{cid}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'role="img" aria-labelledby="{cid}-title {cid}-desc" preserveAspectRatio="xMinYMin meet">'
            f'<title id="{cid}-title">{escape(title)}</title><desc id="{cid}-desc">{escape(desc)}</desc>')


def _legend(names: Sequence[str]) -> str:
    parts, x = ['<g class="chart-legend" aria-hidden="true">'], LEFT
    for s, name in enumerate(names):
        parts.append(f'<rect class="chart-s{s % SERIES_CLASSES}" x="{x}" y="8" width="12" height="12"/>')
        parts.append(f'<text class="chart-axis" x="{x + 16}" y="18">{escape(name)}</text>')
        x += 28 + 13 * len(name)
    parts.append("</g>")
    return "".join(parts)
