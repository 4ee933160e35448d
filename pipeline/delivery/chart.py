"""The digest's timeline chart: each measure's states over the last days, a small PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFont

from models.digest import DigestMeasure, StatePeriod
from pipeline.delivery.digest import Digest, grouped

CHART_DAYS = 90
CHART_ROWS = 24  # measures drawn at most; the rest are counted under the chart


@dataclass(frozen=True)
class StateColours:
    """The chart's colour of each state a measure can be in, in the legend's order."""

    in_force: str = "#c53030"
    suspended: str = "#f0b429"
    eased: str = "#2186eb"
    threatened: str = "#8719e0"
    lifted: str = "#27ab83"
    expired: str = "#9fb3c8"


STATE_COLOURS: dict[str, str] = {
    field.name: getattr(StateColours(), field.name) for field in fields(StateColours)
}


@dataclass(frozen=True)
class TimelineRow:
    """One measure in the chart: its label, its states, and the days it was changed."""

    label: str
    periods: Sequence[StatePeriod]
    changes: Sequence[date]


def timeline_rows(digest: Digest) -> list[tuple[str, list[TimelineRow]]]:
    """The chart's rows: each item's measure under its heading, as the digest lists them."""
    return [
        (
            title,
            [
                TimelineRow(
                    label=_row_label(item.measure),
                    periods=item.measure.periods
                    or ([StatePeriod(item.state, item.since, None)] if item.since else []),
                    changes=[
                        act.on
                        for act in item.measure.acts
                        if act.affirmed and act.action != "maintain"
                    ],
                )
                for item in items
            ],
        )
        for title, items in grouped(digest)
    ]


def _row_label(measure: DigestMeasure) -> str:
    """A measure in the chart: who, what, and the month it was founded (two alike differ by it)."""
    founding = next((act for act in measure.acts if act.event_id == measure.id), None)
    label = f"{measure.actor_body or measure.actor or '?'} {measure.measure.replace('_', ' ')}"
    return f"{label}, {founding.on:%b %Y}" if founding else label


ROW_HEIGHT, HEADER_HEIGHT, TOP, LEGEND_HEIGHT, LABEL_WIDTH = 16, 16, 34, 22, 210


def timeline_png(
    groups: Sequence[tuple[str, Sequence[TimelineRow]]], end: date, width: int = 600
) -> bytes:
    """PNG of measures over the CHART_DAYS days to `end`: bars coloured by state, marked changes."""
    start = end - timedelta(days=CHART_DAYS)
    shown: list[tuple[str, list[TimelineRow]]] = []
    left = CHART_ROWS
    for title, rows in groups:
        if left > 0:
            shown.append((title, list(rows[:left])))
        left -= len(rows)
    height = TOP + sum(HEADER_HEIGHT + len(rows) * ROW_HEIGHT for _, rows in shown)
    height += LEGEND_HEIGHT + (14 if left < 0 else 0) + (ROW_HEIGHT if not shown else 0)
    image = Image.new("P", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x0, x1 = LABEL_WIDTH, width - 10

    def x_of(day: date) -> int:
        return x0 + round((x1 - x0) * (day - start).days / CHART_DAYS)

    draw.text(
        (10, 4),
        f"Measures over the last {CHART_DAYS} days, to {end.isoformat()}",
        fill="#1f2933",
        font=font,
    )
    month = date(start.year, start.month, 1)
    while month <= end:
        if month > start:
            draw.line((x_of(month), TOP - 12, x_of(month), height - LEGEND_HEIGHT), fill="#d9e2ec")
            if x_of(month) + 2 + draw.textlength(f"{month:%b}", font=font) <= width:
                draw.text((x_of(month) + 2, TOP - 14), f"{month:%b}", fill="#52606d", font=font)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    y = TOP
    for title, rows in shown:
        draw.text((10, y + 2), _clip(title, 90), fill="#1f2933", font=font)
        y += HEADER_HEIGHT
        for row in rows:
            draw.text((18, y + 2), _clip(row.label, 34), fill="#52606d", font=font)
            for period in row.periods:
                first = max(period.starts_on, start)
                last = min(period.ends_on or end, end)
                if last > first or (last == first and period.ends_on is None):
                    draw.rectangle(
                        (x_of(first), y + 3, max(x_of(last), x_of(first) + 1), y + ROW_HEIGHT - 3),
                        fill=STATE_COLOURS.get(period.state, "#bcccdc"),
                    )
            for day in row.changes:
                if start <= day <= end:
                    x = x_of(day)
                    draw.polygon(((x - 3, y), (x + 3, y), (x, y + 4)), fill="#1f2933")
            y += ROW_HEIGHT
    if not shown:
        draw.text((10, y + 2), "no measure to draw", fill="#52606d", font=font)
        y += ROW_HEIGHT
    if left < 0:
        draw.text(
            (10, y + 1), f"and {-left} more measure(s), listed below", fill="#52606d", font=font
        )
        y += 14
    x = 10
    for state, colour in STATE_COLOURS.items():
        draw.rectangle((x, y + 6, x + 10, y + 16), fill=colour)
        label = state.replace("_", " ")
        draw.text((x + 14, y + 6), label, fill="#1f2933", font=font)
        x += 24 + int(draw.textlength(label, font=font))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."


def chart_png(digest: Digest) -> bytes:
    """The digest's timeline chart."""
    return timeline_png(timeline_rows(digest), digest.today)
