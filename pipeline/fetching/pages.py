"""Article pages read into a Page: title, publication time, main text and language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bs4 import Tag

from models.source import ArticleSelectors
from pipeline.fetching.blocks import blocks_text, generic_text, trafilatura_text
from pipeline.fetching.boilerplate import drop_boilerplate
from pipeline.fetching.encoding import body_encoding
from pipeline.fetching.guards import PAGE_SECONDS, Deadline, PageTooSlow, ParseError, TooDeep
from pipeline.fetching.markup import (
    clean_line,
    meta_content,
    parse_html,
    select_text,
    strip_controls,
)
from pipeline.fetching.times import dateline, page_date
from pipeline.text.language import detect_language


@dataclass(frozen=True)
class Page:
    """The readable part of one article page."""

    title: str
    published: datetime | None
    text: str
    language: str | None
    text_extractor: str  # what found the text: selectors, trafilatura or generic


def extract_page(
    body: bytes,
    url: str,
    selectors: ArticleSelectors,
    headers: Mapping[str, str] | None = None,
    seconds: float = PAGE_SECONDS,
) -> Page:
    """Title, date, main text and language of an article page; per-source selectors first.

    A page nested deeper than MAX_NESTING is refused, and one whose reading takes longer than
    `seconds` is given up: both are a ParseError naming the URL.
    """
    deadline = Deadline(seconds)
    try:
        return _extract_page(body, url, selectors, headers, deadline)
    except (PageTooSlow, TooDeep) as error:
        raise ParseError(f"{url}: {error}") from None


def _extract_page(
    body: bytes,
    url: str,
    selectors: ArticleSelectors,
    headers: Mapping[str, str] | None,
    deadline: Deadline,
) -> Page:
    encoding = body_encoding(body, headers)
    markup = body.decode(encoding or "utf-8", errors="replace")
    soup = parse_html(markup)
    deadline.passed()
    title = (
        select_text(soup, selectors.title)
        or meta_content(soup, "og:title")
        or clean_line(soup.title.get_text() if soup.title else "")
    )
    published = page_date(soup, selectors.published, selectors.zone, deadline)
    html_tag = soup.find("html")
    declared = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    declared = (
        declared or meta_content(soup, "og:locale") or (headers or {}).get("content-language")
    )
    text, text_extractor = "", "generic"
    deadline.passed()
    if selectors.text:
        container = soup.select_one(selectors.text)
        if container is not None:
            drop_boilerplate(container, deadline)
            text, text_extractor = blocks_text(container, deadline), "selectors"
    deadline.passed()
    if not text:
        text, text_extractor = trafilatura_text(markup, url), "trafilatura"
    deadline.passed()
    if not text:
        text, text_extractor = generic_text(soup, deadline), "generic"
    text = strip_controls(text)
    if not text.strip():
        raise ParseError(f"{url}: no article text found")
    published = published or dateline(text)
    return Page(
        title=strip_controls(title),
        published=published,
        text=text,
        language=detect_language(text, declared),
        text_extractor=text_extractor,
    )
