"""Listing pages: the article links a source's selector picks, and the link to the next page."""

from __future__ import annotations

from collections.abc import Mapping

from models.urls import absolute_url
from pipeline.fetching.encoding import html_of_body


def parse_listing(
    body: bytes, url: str, selector: str, headers: Mapping[str, str] | None = None
) -> list[str]:
    """Absolute article links selected on a listing page, in page order, without repeats."""
    soup = html_of_body(body, headers)
    links: list[str] = []
    for anchor in soup.select(selector):
        href = anchor.get("href")
        link = absolute_url(url, href) if isinstance(href, str) else None
        if link and link not in links:
            links.append(link)
    return links


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
