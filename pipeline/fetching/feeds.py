"""RSS and Atom feeds read by feedparser into entries: link, title, time, summary and content."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from models.urls import absolute_url
from pipeline.fetching.blocks import html_to_text
from pipeline.fetching.guards import ParseError
from pipeline.fetching.markup import clean_line, parse_html, strip_controls
from pipeline.fetching.times import not_in_future
from pipeline.text.language import declared_language

MIN_FULL_TEXT_WORDS = 120

log = logging.getLogger("newstrack")


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, reduced to what newstrack uses."""

    url: str
    title: str
    published: datetime | None
    summary: str
    content_html: str
    guid: str = ""
    language: str | None = None  # as the feed declares it


def parse_feed(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> list[FeedEntry]:
    """Parse RSS/Atom bytes (feedparser never does HTTP here); entries without a link are skipped.

    An entry that cannot be read is skipped too, and `on_error` told why (the link and the error).
    """
    try:
        parsed: Any = feedparser.parse(body, response_headers=dict(headers or {}))
    except Exception as error:  # feedparser trips on some hostile input ("&#xD800;")
        raise ParseError(f"{url}: not a readable feed: {type(error).__name__}: {error}") from None
    if (parsed.get("bozo") or not parsed.get("version")) and not parsed.get("entries"):
        problem = parsed.get("bozo_exception") or "no RSS or Atom document"
        raise ParseError(f"{url}: not a readable feed: {problem}")
    entries = []
    feed_language = (parsed.get("feed") or {}).get("language")
    for number, raw in enumerate(parsed.get("entries", []), start=1):
        try:
            entry = _feed_entry(raw, url, feed_language)
        except Exception as error:  # one hostile entry is that entry's problem
            link = str(raw.get("link") or f"{url} entry {number}")[:500]
            log.debug("%s: entry not read", link, exc_info=True)
            if on_error is not None:
                on_error(f"{strip_controls(link)}: {type(error).__name__}: {error}")
            continue
        if entry is not None:
            entries.append(entry)
    return entries


def has_full_text(entry: FeedEntry) -> bool:
    """Whether a feed entry carries the whole article rather than a teaser."""
    return len(html_to_text(entry.content_html).split()) >= MIN_FULL_TEXT_WORDS


def _feed_entry(raw: Any, url: str, feed_language: str | None) -> FeedEntry | None:
    """One feedparser entry as a FeedEntry; None when it has no link."""
    raw_link = (raw.get("link") or "").strip()
    link = absolute_url(url, raw_link) if raw_link else None  # "" would resolve to the feed
    if link is None:
        return None
    contents = raw.get("content") or []
    content_html = max((part.get("value", "") for part in contents), key=len, default="")
    return FeedEntry(
        url=link,
        title=strip_controls(clean_line(_feed_title(raw))),
        published=_feed_time(
            dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
        ),  # plain dict reads: feedparser's own map "updated" to "published" with a warning
        summary=strip_controls(str(raw.get("summary", ""))),
        content_html=content_html,
        guid=str(raw.get("id") or "")[:500],
        language=declared_language(
            (raw.get("content") or [{}])[0].get("language") or feed_language
        ),
    )


def _feed_title(raw: Any) -> str:
    title = str(raw.get("title", ""))
    if (raw.get("title_detail") or {}).get("type") in ("text/html", "application/xhtml+xml"):
        return parse_html(title).get_text()  # feedparser left "&amp;" and tags in an HTML title
    return title


def _feed_time(value: Any) -> datetime | None:
    if not value:
        return None
    return not_in_future(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
