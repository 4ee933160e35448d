"""Times of feeds and pages: ISO-8601 timestamps, a page's date metadata, a dateline in its text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from bs4 import Tag

from pipeline.fetching.guards import UNBOUNDED, Deadline
from pipeline.fetching.markup import PageMarks, clean_line
from pipeline.text.dates import resolve_date

JSON_LD_MAX_CHARS = 200_000  # a JSON-LD block longer than this is not read for dates
DATELINE_CHARS = 300  # how far into the text a dateline may stand
FUTURE_TOLERANCE = timedelta(days=1)
# <meta> properties and names that give a page's publication time, the likeliest first.
PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "date",
    "pubdate",
    "PubDate",  # China's government sites
    "dc.date",
)
# A time a page writes with JavaScript from milliseconds since the epoch: `parseToData(1762660800000,1)`.
SCRIPTED_TIME = re.compile(r"\w\(\s*['\"]?(\d{12,13})['\"]?\s*[,)]")
# A date as listings show it: 2025-11-09, 2025/11/09, 2025.11.09, 2025年11月9日, with a time maybe.
LISTED_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?!\d)"
)


def parse_datetime(value: str, zone: tzinfo = UTC) -> datetime | None:
    """Read an ISO-8601-like timestamp ("2025-04-04T17:30:00+0800", "2025-04-04 17:30") as UTC.

    A time without an offset is read in `zone`; a bare date stays on its calendar day (midnight UTC).
    """
    value = value.strip()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?(.*)$", value)
    if not match:
        return None
    year, month, day, hour, minute, second, rest = match.groups()
    offset = re.search(r"([+-])(\d{2}):?(\d{2})", rest or "")
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    try:
        if offset:
            sign = 1 if offset.group(1) == "+" else -1
            delta = sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
            return moment.replace(tzinfo=UTC) - delta
        if hour is None or (rest or "").strip().upper().startswith("Z"):
            return moment.replace(tzinfo=UTC)
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+01:00" is before datetime.min in UTC
        return None


def scripted_time(markup: str) -> datetime | None:
    """The first time written by a script call from epoch milliseconds, in UTC."""
    match = SCRIPTED_TIME.search(markup)
    if match is None:
        return None
    try:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def written_time(text: str, zone: tzinfo = UTC) -> datetime | None:
    """The first date (and time) written in text as listings and official pages write them."""
    match = LISTED_DATE.search(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    iso = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour is not None:
        iso += f" {int(hour):02d}:{minute}:{second or '00'}"
    return parse_datetime(iso, zone)


def listed_time(markup: str, text: str, zone: tzinfo = UTC) -> datetime | None:
    """The publication time a listing item shows: a script-written timestamp, else a written date."""
    return not_in_future(scripted_time(markup) or written_time(text, zone))


def not_in_future(moment: datetime | None, now: datetime | None = None) -> datetime | None:
    """Drop dates in the future: a page cannot have been published tomorrow."""
    if moment is None:
        return None
    current = now or datetime.now(UTC)
    return None if moment > current + FUTURE_TOLERANCE else moment


def page_date(
    marks: PageMarks, zone: tzinfo, deadline: Deadline = UNBOUNDED, chosen: Tag | None = None
) -> datetime | None:
    """A page's publication time: the element its selector chose, <meta>, JSON-LD or <time>."""
    moment = selected_time(chosen, zone) if chosen is not None else None
    if moment is not None:
        return not_in_future(moment)
    for candidate in _date_candidates(marks):
        deadline.check()
        moment = parse_datetime(candidate, zone)
        if moment is not None:
            return not_in_future(moment)
    return None


def selected_time(chosen: Tag, zone: tzinfo) -> datetime | None:
    """The time an element shows: as an ISO timestamp, written by a script, or as a listed date."""
    text = chosen.get_text(" ")
    return (
        parse_datetime(clean_line(text), zone)
        or scripted_time(str(chosen))
        or written_time(text, zone)
    )


def dateline(text: str) -> datetime | None:
    """A full date near the top of the text ("May 14, 2025"), for pages without date metadata."""
    day = resolve_date(text[:DATELINE_CHARS], None)
    if day is None:
        return None
    return not_in_future(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _date_candidates(marks: PageMarks) -> Iterator[str]:
    for name in PUBLISHED_META:
        yield marks.meta(name)
    for block in marks.json_ld:
        yield from _json_ld_dates(block)
    yield from marks.times


def _json_ld_dates(raw: str) -> Iterator[str]:
    """`datePublished` values of a JSON-LD block; an oversized or too deeply nested one has none."""
    if len(raw) > JSON_LD_MAX_CHARS:
        return
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON; nested deeper than the decoder goes
        return
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            value = item.get("datePublished")
            if isinstance(value, str):
                yield value
            stack.extend(value for value in item.values() if isinstance(value, (dict, list)))
