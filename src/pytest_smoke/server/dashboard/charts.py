"""The dashboard's charts: inline SVG drawn on the server, no script and no chart library.

Each function takes plain points (time, value, verdict, run ID) and returns ``Markup`` that a
template puts in the page as it is. Every point links to its run and carries a ``<title>``
(the browser's tooltip); each point is coloured by its run's verdict, so a chart also shows
when a profile went bad. Drawn in a fixed ``viewBox`` and scaled by CSS to the width there is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

#: The CSS class of each verdict's colour (``dashboard.css``); anything else is ``v-none``.
VERDICT_CLASSES: Final = {
    "PROCEED": "v-proceed",
    "MONITOR": "v-monitor",
    "INVESTIGATE": "v-investigate",
    "ROLLBACK": "v-rollback",
}

_WIDTH: Final = 640
_HEIGHT: Final = 200
_LEFT: Final = 48  # room for the y labels
_RIGHT: Final = 12
_TOP: Final = 12
_BOTTOM: Final = 26  # room for the time labels


@dataclass(frozen=True)
class Point:
    """One run on a chart: when it finished, its figure (None: a gap), its verdict and ID."""

    at: datetime
    value: float | None
    verdict: str | None
    run_id: str


def verdict_class(verdict: str | None) -> str:
    """The CSS class that colours ``verdict``."""
    return VERDICT_CLASSES.get(verdict or "", "v-none")


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def _time_label(moment: datetime, span_seconds: float) -> str:
    if span_seconds <= 36 * 3600:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b")


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def line_chart(
    points: Sequence[Point],
    *,
    label: str,
    unit: str,
    y_max: float | None = None,
    formatter: Callable[[float], str] | None = None,
    link: Callable[[str], str] = lambda run_id: f"/ui/runs/{run_id}",
) -> Markup:
    """A line over time, one dot per run coloured by its verdict, with y and time axes.

    ``y_max`` fixes the top (100 for a pass rate), else a round number over the largest value.
    ``formatter`` writes a value for the axis and the tooltip (default: the number and
    ``unit``). Points whose value is None break the line; a chart with no value at all says so.
    """
    show = formatter or (lambda value: f"{_number(value)} {unit}".strip())
    values = [point.value for point in points if point.value is not None]
    title = escape(label)
    if not values:
        return Markup(
            f'<svg class="chart chart-empty" viewBox="0 0 {_WIDTH} 60" role="img" '
            f'aria-label="{title}: no data"><text x="{_WIDTH / 2}" y="34" '
            f'text-anchor="middle" class="axis">no {title.lower()} yet</text></svg>'
        )
    top = y_max if y_max is not None else nice_ceiling(max(values))
    first, last = points[0].at, points[-1].at
    span = max((last - first).total_seconds(), 1.0)
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def x_of(moment: datetime) -> float:
        if len(points) == 1:
            return _LEFT + plot_w / 2
        return _LEFT + plot_w * (moment - first).total_seconds() / span

    def y_of(value: float) -> float:
        return _TOP + plot_h * (1 - min(max(value / top, 0.0), 1.0))

    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{title}" data-points="{len(values)}">'
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = y_of(top * fraction)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        if fraction in (0, 0.5, 1):
            parts.append(
                f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(show(top * fraction))}</text>"
            )
    ticks = (first,) if len(points) == 1 else (first, first + (last - first) / 2, last)
    for index, moment in enumerate(ticks):
        anchor = ("start", "middle", "end")[index] if len(ticks) == 3 else "middle"
        parts.append(
            f'<text class="axis" x="{x_of(moment):.1f}" y="{_HEIGHT - 8}" '
            f'text-anchor="{anchor}">{_time_label(moment, span)}</text>'
        )
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for point in points:
        if point.value is None:
            segment = []
            segments.append(segment)
            continue
        segment.append(f"{x_of(point.at):.1f},{y_of(point.value):.1f}")
    for line in segments:
        if len(line) > 1:
            parts.append(f'<polyline class="line" points="{" ".join(line)}"/>')
    radius = 3.2 if len(values) <= 120 else 2.2
    for point in points:
        if point.value is None:
            continue
        tip = (
            f"{point.at:%Y-%m-%d %H:%M} UTC · {show(point.value)} · {point.verdict or 'no verdict'}"
        )
        parts.append(
            f'<a href="{escape(link(point.run_id))}"><circle class="dot '
            f'{verdict_class(point.verdict)}" cx="{x_of(point.at):.1f}" '
            f'cy="{y_of(point.value):.1f}" r="{radius}"><title>{escape(tip)}</title>'
            "</circle></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(points: Sequence[Point], *, y_max: float = 100.0) -> Markup:
    """A small line of the last runs (a profile card's pass rate), its last dot coloured."""
    values = [(index, point) for index, point in enumerate(points) if point.value is not None]
    if not values:
        return Markup("")
    width, height, pad = 160, 36, 4
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        return pad + (height - 2 * pad) * (1 - min(max(value / y_max, 0.0), 1.0))

    line = " ".join(f"{pad + index * step:.1f},{y_of(p.value or 0):.1f}" for index, p in values)
    index, last = values[-1]
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="pass rate of the last {len(points)} runs">'
        f'<polyline class="line" points="{line}"/>'
        f'<circle class="dot {verdict_class(last.verdict)}" cx="{pad + index * step:.1f}" '
        f'cy="{y_of(last.value or 0):.1f}" r="3"/></svg>'
    )


def verdict_strip(
    points: Sequence[Point], *, link: Callable[[str], str] = lambda run_id: f"/ui/runs/{run_id}"
) -> Markup:
    """One coloured bar per run, oldest first: a profile's verdicts at a glance."""
    if not points:
        return Markup("")
    width, height = 640, 22
    bar = width / len(points)
    gap = 1.0 if bar > 4 else 0.0
    bars = []
    for index, point in enumerate(points):
        tip = f"{point.at:%Y-%m-%d %H:%M} UTC · {point.verdict or 'no verdict'}"
        bars.append(
            f'<a href="{escape(link(point.run_id))}"><rect class="bar '
            f'{verdict_class(point.verdict)}" x="{index * bar:.2f}" y="0" '
            f'width="{max(bar - gap, 0.5):.2f}" height="{height}">'
            f"<title>{escape(tip)}</title></rect></a>"
        )
    return Markup(
        f'<svg class="strip" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'role="img" aria-label="verdicts of the last {len(points)} runs">{"".join(bars)}</svg>'
    )
