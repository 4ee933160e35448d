"""Listing pages: the article links they list, each with the time its item shows, and the next page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bs4 import Tag

from models.urls import absolute_url
from pipeline.fetching.encoding import html_of_body
from pipeline.fetching.times import listed_time

# Where a link's item ends when the source names none: the nearest list entry, section or row.
ITEM_CONTAINERS = "li, section, article, tr, dd"


@dataclass(frozen=True)
class ListingRules:
    """How to read one source's listing pages."""

    links: str = "a[href]"  # CSS selector of the article links
    pattern: str | None = None  # a regular expression an article link's absolute URL must match
    item: str | None = None  # CSS selector of the element around each link that holds its time
    zone: tzinfo = UTC  # the zone of times written without an offset


@dataclass(frozen=True)
class ListedLink:
    """One article a listing links to, with the publication time its item shows, if any."""

    url: str
    published: datetime | None = None


def parse_listing(
    body: bytes, url: str, rules: ListingRules, headers: Mapping[str, str] | None = None
) -> list[ListedLink]:
    """The absolute article links a listing page holds, in page order, without repeats."""
    soup = html_of_body(body, headers)
    pattern = re.compile(rules.pattern) if rules.pattern else None
    found: dict[str, ListedLink] = {}
    for anchor in soup.select(rules.links):
        href = anchor.get("href")
        link = absolute_url(url, href) if isinstance(href, str) else None
        if not link or link in found or (pattern is not None and not pattern.search(link)):
            continue
        item = anchor.css.closest(rules.item or ITEM_CONTAINERS)
        found[link] = ListedLink(link, _item_time(item, anchor, rules.zone))
    return list(found.values())


def parse_next_page(
    body: bytes, url: str, selector: str, headers: Mapping[str, str] | None = None
) -> str | None:
    """The absolute URL of a listing's next page, or None on the last page."""
    anchor = html_of_body(body, headers).select_one(selector)
    href = anchor.get("href") if anchor is not None else None
    if not isinstance(href, str) or href.strip() in ("", "#"):
        return None
    following = absolute_url(url, href)
    return following if following is not None and following != url else None


def _item_time(item: Tag | None, anchor: Tag, zone: tzinfo) -> datetime | None:
    """The time an item shows beside its link: a script-written timestamp, else a date in its text."""
    if item is None:
        return None
    others = [text for text in item.find_all(string=True) if anchor not in text.parents]
    return listed_time(str(item), " ".join(others), zone)
