"""Charts as server-rendered SVG: no script, no CDN, readable by screen readers.

Geometry is integer arithmetic on integer amounts (no floats near money): a bar's
length is ``value * full // largest``. Labels are escaped; every chart has a title
and a description, and each bar a ``<title>`` with its exact amount.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from markupsafe import Markup, escape

BAR = "#0b6bcb"
MUTED = "#5b6676"
LINE = "#d9dee6"
MAX_COLUMN = 40  # a day's bar is never wider than this (one day of data stays a bar)
FUNNEL_COLOURS = ("#7aa7d9", "#4d8ccc", "#1f70bf", "#137c3a")
Format = Callable[[int], str]


class Chart(Protocol):
    """A chart of labelled values: :func:`columns` or :func:`bars`."""

    def __call__(
        self,
        points: Sequence[tuple[str, int]],
        /,
        *,
        title: str,
        show: Format,
        label: Callable[[str], str],
        testid: str,
    ) -> Markup: ...


def _scaled(value: int, largest: int, full: int) -> int:
    return value * full // largest if largest > 0 else 0


def _svg(width: int, height: int, title: str, desc: str, body: list[str], testid: str) -> Markup:
    # Safe: every text put in here went through escape(); the rest are numbers.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' class="chart" role="img" data-testid="{escape(testid)}"'
        f' aria-labelledby="{escape(testid)}-title {escape(testid)}-desc">'
        f'<title id="{escape(testid)}-title">{escape(title)}</title>'
        f'<desc id="{escape(testid)}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def nice_top(largest: int) -> int:
    """The top of a value axis over ``largest``: the next of 1, 2, 2.5, 5 times a power of
    ten at or above it (150 000 -> 200 000), so one bar does not always fill the chart;
    0 for nothing to show."""
    if largest <= 0:
        return 0
    base: int = 10 ** (len(str(largest)) - 1)
    return next(top for top in (base * k // 10 for k in (10, 20, 25, 50, 100)) if top >= largest)


def columns(
    points: Sequence[tuple[str, int]],
    *,
    title: str,
    show: Format,
    label: Callable[[str], str],
    testid: str,
) -> Markup:
    """Vertical bars, one per point (a day), on a value axis from 0 to a round top (its
    ticks labelled), each bar at most ``MAX_COLUMN`` wide, so one day of data reads as one
    bar of its size, not a block filling the chart."""
    width, height, top, bottom, left, right = 640, 220, 16, 34, 104, 8
    plot = height - top - bottom
    axis_top = nice_top(max((value for _, value in points), default=0))
    step = (width - left - right) // max(len(points), 1)
    bar_width = max(min(step * 3 // 4, MAX_COLUMN), 1)
    ticks = (0, axis_top // 2, axis_top) if axis_top % 2 == 0 else (0, axis_top)
    body = []
    for tick in sorted(set(ticks)):
        y = top + plot - _scaled(tick, axis_top, plot)
        body.append(
            f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="{LINE}"/>'
            f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end"'
            f' fill="{MUTED}" class="tick" data-tick="{tick}">{escape(show(tick))}</text>'
        )
    for index, (key, value) in enumerate(points):
        bar = _scaled(value, axis_top, plot)
        middle = left + index * step + step // 2
        body.append(
            f'<rect x="{middle - bar_width // 2}" y="{top + plot - bar}" width="{bar_width}"'
            f' height="{bar}" fill="{BAR}" data-value="{value}">'
            f"<title>{escape(label(key))}: {escape(show(value))}</title></rect>"
        )
        if index % max(len(points) // 7, 1) == 0 or index == len(points) - 1:
            body.append(
                f'<text x="{middle}" y="{height - 12}" font-size="11" class="day"'
                f' text-anchor="middle" fill="{MUTED}">{escape(label(key))}</text>'
            )
    desc = "; ".join(f"{label(key)}: {show(value)}" for key, value in points)
    return _svg(width, height, title, desc, body, testid)


def bars(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    show: Format,
    label: Callable[[str], str],
    testid: str,
    colours: Sequence[str] = (BAR,),
) -> Markup:
    """Horizontal bars with their label and value (methods by volume, the funnel)."""
    width, row, label_width = 640, 30, 190
    height = max(row * len(items), row) + 8
    largest = max((value for _, value in items), default=0)
    full = width - label_width - 150
    body = []
    for index, (key, value) in enumerate(items):
        y = 4 + index * row
        length = _scaled(value, largest, full)
        colour = colours[index % len(colours)]
        body.append(
            f'<text x="0" y="{y + 19}" font-size="13" fill="#1b2330">{escape(label(key))}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{max(length, 1)}" height="{row - 10}"'
            f' rx="3" fill="{colour}" data-value="{value}">'
            f"<title>{escape(label(key))}: {escape(show(value))}</title></rect>"
            f'<text x="{label_width + length + 8}" y="{y + 19}" font-size="13"'
            f' fill="{MUTED}">{escape(show(value))}</text>'
        )
    if not items:
        body.append(f'<text x="0" y="20" font-size="13" fill="{MUTED}">—</text>')
    desc = "; ".join(f"{label(key)}: {show(value)}" for key, value in items)
    return _svg(width, height, title, desc, body, testid)
