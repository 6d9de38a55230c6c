"""Series in, an accessible SVG line chart out: axes, gridlines, a legend, <title>/<desc>.

Pure (no Django, no database): the dashboard hands it the days and one list of numbers
per series. Drawn server-side so the admin needs no JavaScript and no CDN; every point
carries a <title> (a tooltip, and what a screen reader reads), and the caller shows the
same numbers as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 460, 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 30, 34, 26
# Colour-blind-safe (Okabe-Ito), in the order series are given.
PALETTE = ("#0072B2", "#009E73", "#E69F00", "#CC79A7", "#D55E00", "#56B4E9", "#000000")
X_LABELS = 6  # at most this many day labels under the axis


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int | float]


def nice_ticks(peak: float, *, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^n) up to at least ``peak``."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if step < 1:  # counts: no fractional steps
        step = 1
    top = math.ceil(peak / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def line_chart(
    *, title: str, days: Sequence[date], series: Sequence[Series], description: str = ""
) -> str:
    """An SVG line chart of ``series`` over ``days`` (one value per day each)."""
    for s in series:
        if len(s.values) != len(days):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(days)} days")
    peak = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(float(peak))
    plot = _Plot(len(days), ticks[-1])
    chart_id = "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())
    desc = description or _describe(days, series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="ops-chart">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        *_y_axis(plot, ticks),
        *_x_axis(plot, days),
        *_legend(series),
    ]
    for index, s in enumerate(series):
        parts.extend(_line(plot, days, s, PALETTE[index % len(PALETTE)]))
    parts.append("</svg>")
    return "\n".join(parts)


class _Plot:
    def __init__(self, points: int, top: float) -> None:
        self.points = points
        self.top = top or 1
        self.left, self.right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.upper, self.lower = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def x(self, index: int) -> float:
        if self.points <= 1:
            return (self.left + self.right) / 2
        return self.left + index * (self.right - self.left) / (self.points - 1)

    def y(self, value: float) -> float:
        return self.lower - value * (self.lower - self.upper) / self.top


def _y_axis(plot: _Plot, ticks: Sequence[float]) -> list[str]:
    parts = [
        f'<line class="axis" x1="{plot.left}" y1="{plot.upper}" x2="{plot.left}" '
        f'y2="{plot.lower}" stroke="#767676"/>'
    ]
    for tick in ticks:
        y = f"{plot.y(tick):.1f}"
        parts.append(
            f'<line class="grid" x1="{plot.left}" y1="{y}" x2="{plot.right}" y2="{y}" '
            'stroke="#e0e0e0"/>'
        )
        parts.append(
            f'<text x="{plot.left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="12" fill="#444">{_number(tick)}</text>'
        )
    return parts


def _x_axis(plot: _Plot, days: Sequence[date]) -> list[str]:
    parts = [
        f'<line class="axis" x1="{plot.left}" y1="{plot.lower}" x2="{plot.right}" '
        f'y2="{plot.lower}" stroke="#767676"/>'
    ]
    if not days:
        return parts
    every = max(1, math.ceil(len(days) / X_LABELS))
    labelled = set(range(len(days) - 1, -1, -every))  # always label the last day (today)
    for index in sorted(labelled):
        parts.append(
            f'<text x="{plot.x(index):.1f}" y="{plot.lower + 16}" text-anchor="middle" '
            f'font-size="12" fill="#444">{days[index].strftime("%d %b")}</text>'
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts = ['<g class="legend">']
    x = MARGIN_LEFT
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 16}" y="18" font-size="12" fill="#222">{escape(s.name)}</text>'
        )
        x += 28 + 7 * len(s.name)
    parts.append("</g>")
    return parts


def _line(plot: _Plot, days: Sequence[date], s: Series, colour: str) -> list[str]:
    points = " ".join(f"{plot.x(i):.1f},{plot.y(v):.1f}" for i, v in enumerate(s.values))
    parts = [
        f'<g class="series" data-series="{escape(s.name)}">',
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>',
    ]
    for i, value in enumerate(s.values):
        parts.append(
            f'<circle cx="{plot.x(i):.1f}" cy="{plot.y(value):.1f}" r="2.5" fill="{colour}">'
            f"<title>{escape(s.name)}, {days[i].isoformat()}: {_number(value)}</title></circle>"
        )
    parts.append("</g>")
    return parts


def _describe(days: Sequence[date], series: Sequence[Series]) -> str:
    if not days:
        return "No data."
    span = f"{days[0].isoformat()} to {days[-1].isoformat()}"
    totals = ", ".join(f"{s.name} {_number(sum(s.values))}" for s in series)
    return f"Daily counts from {span}. Totals: {totals}."


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
