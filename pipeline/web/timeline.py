"""A timeline chart's geometry: a row per measure, a bar per period coloured by state, a mark per change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.delivery.chart import STATE_COLOURS
from storage.board import MeasureHistory

WIDTH = 960
LABEL_WIDTH = 260
ROW_HEIGHT = 26
BAR_HEIGHT = 14
AXIS_HEIGHT = 28
UNKNOWN_COLOUR = "#bcccdc"


@dataclass(frozen=True)
class Bar:
    """A period of one measure: where it is drawn, its colour, and what hovering says."""

    x: float
    y: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class Mark:
    """A change of a measure on a day, linking to its event."""

    x: float
    y: float
    title: str
    href: str


@dataclass(frozen=True)
class Row:
    """One measure's label and where its row lies."""

    y: float
    label: str
    href: str


@dataclass(frozen=True)
class Tick:
    """A dated line across the chart."""

    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """Everything the chart template draws."""

    width: int
    height: int
    label_width: int
    rows: tuple[Row, ...]
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    ticks: tuple[Tick, ...]
    today_x: float


def timeline(histories: Sequence[MeasureHistory], today: date) -> Timeline:
    """The chart of these measures from their first day to today (or their last end, if later)."""
    days = [e.day for h in histories for e in h.events]
    days += [p.starts_on for h in histories for p in h.periods]
    first = min(days, default=today - timedelta(days=365))
    last = max([today, *(p.ends_on for h in histories for p in h.periods if p.ends_on)])
    first, last = first - timedelta(days=7), last + timedelta(days=7)
    span = max((last - first).days, 1)
    plot = WIDTH - LABEL_WIDTH - 40  # room for the last tick's label

    def x(day: date) -> float:
        return round(LABEL_WIDTH + plot * (day - first).days / span, 1)

    rows, bars, marks = [], [], []
    for number, history in enumerate(histories):
        top = AXIS_HEIGHT + number * ROW_HEIGHT
        founding = history.founding
        label = f"{founding.actor or '?'} {founding.measure.replace('_', ' ')} #{founding.id}"
        rows.append(Row(top + ROW_HEIGHT / 2, label, f"/measures/{founding.id}"))
        for period in history.periods:
            end = period.ends_on or last
            bars.append(
                Bar(
                    x=x(period.starts_on),
                    y=top + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                    width=max(x(end) - x(period.starts_on), 1.0),
                    colour=STATE_COLOURS.get(period.state, UNKNOWN_COLOUR),
                    title=_period_title(period.state, period.starts_on, period.ends_on),
                )
            )
        for event in history.events:
            title = f"{event.day.isoformat()}: {event.action} ({event.summary})"
            marks.append(Mark(x(event.day), top + ROW_HEIGHT / 2, title, f"/events/{event.id}"))
    return Timeline(
        width=WIDTH,
        height=AXIS_HEIGHT + max(len(histories), 1) * ROW_HEIGHT + 4,
        label_width=LABEL_WIDTH,
        rows=tuple(rows),
        bars=tuple(bars),
        marks=tuple(marks),
        ticks=tuple(Tick(x(day), label) for day, label in _ticks(first, last)),
        today_x=x(today),
    )


def _period_title(state: str, starts_on: date, ends_on: date | None) -> str:
    """What hovering a bar says: the state and its days."""
    until = (ends_on - timedelta(days=1)).isoformat() if ends_on else "now"
    return f"{state.replace('_', ' ')}: {starts_on.isoformat()} to {until}"


def _ticks(first: date, last: date) -> list[tuple[date, str]]:
    """First days of months across the span, thinned to at most a dozen; years when it is long."""
    months = []
    day = date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    step = max(1, -(-len(months) // 12))
    shown = months[::step]
    return [(d, d.strftime("%Y") if step >= 12 else d.strftime("%b %Y")) for d in shown]
