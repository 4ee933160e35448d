"""Resolving dates as news writes them ("April 4", "Dec. 1, 2025") against a publication date."""

from __future__ import annotations

import re
from datetime import date, timedelta

from models.vocabulary import load_calendar

CALENDAR = load_calendar()
MONTHS = CALENDAR.month_numbers()
WEEKDAYS = CALENDAR.weekdays
COUNTS = CALENDAR.counts
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
ORDINAL = r"(?:" + "|".join(CALENDAR.ordinal_suffixes) + r")?"
MONTH_DAY = re.compile(
    MONTH + r"\s+(?P<day>\d{1,2})" + ORDINAL + r"(?:,?\s+(?P<year>\d{4}))?\b", re.IGNORECASE
)
DAY_MONTH = re.compile(
    r"\b(?P<day>\d{1,2})\s+" + MONTH + r"(?:,?\s+(?P<year>\d{4}))?\b", re.IGNORECASE
)
ISO = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")
MONTH_YEAR = re.compile(MONTH + r",?\s+(?P<year>\d{4})\b", re.IGNORECASE)
STALE_AFTER = timedelta(days=183)
DURATION = re.compile(
    r"^(?:for\s+)?(?:a\s+period\s+of\s+)?(?P<count>\d{1,3}|" + "|".join(COUNTS) + r")"
    r"[\s-](?P<unit>" + "|".join(CALENDAR.units) + r")s?$",
    re.IGNORECASE,
)
WEEKDAY = re.compile(r"\b(?P<weekday>" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)


def resolve_date(text: str, published: date | None, future: bool = False) -> date | None:
    """The calendar date a phrase names; a year-less date takes the year that fits publication.

    Without a year, the date is placed in the publication year, moved a year back when it would
    fall more than six months after publication (or a year forward for an expiry already past).
    Month-only phrases ("May 2025") resolve to the first of the month; a weekday ("on Friday")
    to the latest such day up to publication, or with `future` the next one from publication.
    """
    match = ISO.search(text)
    if match:
        return _safe_date(int(match["year"]), int(match["month"]), int(match["day"]))
    match = MONTH_DAY.search(text) or DAY_MONTH.search(text)
    if match:
        month, day = MONTHS[match["month"].lower()], int(match["day"])
        if match["year"]:
            return _safe_date(int(match["year"]), month, day)
        if published is None:
            return None
        candidate = _safe_date(published.year, month, day)
        if candidate is None:
            return None
        if future and candidate < published:
            return _safe_date(published.year + 1, month, day)
        if not future and candidate > published + STALE_AFTER:
            return _safe_date(published.year - 1, month, day)
        return candidate
    match = MONTH_YEAR.search(text)
    if match:
        return _safe_date(int(match["year"]), MONTHS[match["month"].lower()], 1)
    match = WEEKDAY.search(text)
    if match and published is not None:
        # "said on Friday": the latest Friday up to publication; "will start on Friday": the next.
        named = WEEKDAYS.index(match["weekday"].lower())
        if future:
            return published + timedelta(days=(named - published.weekday()) % 7)
        return published - timedelta(days=(published.weekday() - named) % 7)
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def add_duration(start: date, text: str) -> date | None:
    """The day a span of time ("90 days", "one year", "six-month") ends, counted from `start`."""
    match = DURATION.match(text.strip())
    if match is None:
        return None
    count = match["count"].lower()
    amount = int(count) if count.isdigit() else COUNTS[count]
    unit = match["unit"].lower()
    if unit in ("day", "week"):
        return start + timedelta(days=amount * (7 if unit == "week" else 1))
    months = start.month - 1 + amount * (12 if unit == "year" else 1)
    year, month = start.year + months // 12, months % 12 + 1
    return _safe_date(year, month, start.day) or _safe_date(year, month, 28)
