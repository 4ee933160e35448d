"""Article pages read into a Page: title, publication time, main text and language."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from models.source import ArticleSelectors
from pipeline.fetching.blocks import blocks_text, generic_text, trafilatura_text
from pipeline.fetching.boilerplate import drop_boilerplate
from pipeline.fetching.encoding import body_encoding
from pipeline.fetching.guards import PAGE_SECONDS, Deadline, PageTooSlow, ParseError, TooDeep
from pipeline.fetching.markup import (
    clean_line,
    parse_html,
    parse_tree,
    select_text,
    soup_marks,
    strip_controls,
    strip_sequences,
    tree_marks,
)
from pipeline.fetching.times import dateline, page_date
from pipeline.text.language import detect_language

PLAIN_TEXT = "text/plain"
PLAIN_TEXT_EXTRACTOR = "plain_text"  # articles.text_extractor of a full text served as text/plain
BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


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
    if is_plain_text(headers or {}):
        return plain_text_page(body, url, headers)
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
    markup = strip_sequences(body.decode(encoding or "utf-8", errors="replace"))
    # One parse per page: the lxml tree trafilatura reads, unless CSS selectors need BeautifulSoup
    # (soupsieve's), or the tree is refused or cut short by lxml (parse_html decides then).
    tree = None if _has_selectors(selectors) else parse_tree(markup)
    soup = parse_html(markup) if tree is None else None
    deadline.passed()
    marks = soup_marks(soup) if soup is not None else tree_marks(tree)
    title = (
        (select_text(soup, selectors.title) if soup is not None else "")
        or marks.meta("og:title")
        or clean_line(marks.title)
    )
    chosen = (
        soup.select_one(selectors.published) if soup is not None and selectors.published else None
    )
    published = page_date(marks, selectors.zone, deadline, chosen)
    declared = marks.lang or marks.meta("og:locale") or (headers or {}).get("content-language")
    text, text_extractor = "", "generic"
    deadline.passed()
    if soup is not None and selectors.text:
        container = soup.select_one(selectors.text)
        if container is not None:
            drop_boilerplate(container, deadline)
            text, text_extractor = blocks_text(container, deadline), "selectors"
    deadline.passed()
    if not text:
        text, text_extractor = (
            trafilatura_text(markup if tree is None else tree, url),
            "trafilatura",
        )
    deadline.passed()
    if not text:
        soup = parse_html(markup) if soup is None else soup
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


def _has_selectors(selectors: ArticleSelectors) -> bool:
    """Whether a source reads its pages with CSS selectors of its own."""
    return bool(selectors.title or selectors.text or selectors.published)


def is_plain_text(headers: Mapping[str, str]) -> bool:
    """Whether a response is plain text, not a page to read as HTML."""
    return headers.get("content-type", "").split(";")[0].strip().lower() == PLAIN_TEXT


def plain_text_page(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> Page:
    """A full text served as text/plain: its hard-wrapped lines joined into paragraphs."""
    text = body.decode(body_encoding(body, headers) or "utf-8", errors="replace")
    paragraphs = BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_controls("\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip()))
    if not text.strip():
        raise ParseError(f"{url}: no text in the plain-text page")
    declared = (headers or {}).get("content-language")
    return Page(
        title="",
        published=None,
        text=text,
        language=detect_language(text, declared),
        text_extractor=PLAIN_TEXT_EXTRACTOR,
    )
