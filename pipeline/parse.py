"""Parsing fetched bytes: feeds into entries, listing pages into links, article pages into text."""

from __future__ import annotations

import calendar
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import charset_normalizer
import feedparser
import trafilatura
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector

from pipeline.dates import resolve_date
from pipeline.errors import NewstrackError
from pipeline.language import declared_language, detect_language
from pipeline.sources import ArticleSelectors
from pipeline.urls import absolute_url

BOILERPLATE = re.compile(
    r"nav|menu|footer|header|sidebar|related|share|social|comment|newsletter|subscribe|signup"
    r"|advert|promo|cookie|breadcrumb|trending|recommend|popular|byline|caption",
    re.IGNORECASE,
)
DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "button",
    "figure",
)
BLOCK_TAGS = ("p", "h2", "h3", "h4", "li", "blockquote")
# Labels browsers read as a larger charset (WHATWG Encoding): bytes valid in the superset are
# common under the smaller label, and decoding them with the smaller one garbles the text.
CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
}
DETECTION_BYTES = 65_536  # enough of a page to tell its charset
DATELINE_CHARS = 300  # how far into the text a dateline may stand
MIN_FULL_TEXT_WORDS = 120
FUTURE_TOLERANCE = timedelta(days=1)


class ParseError(NewstrackError):
    """A body could not be read as what it was supposed to be."""


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


@dataclass(frozen=True)
class Page:
    """The readable part of one article page."""

    title: str
    published: datetime | None
    text: str
    language: str | None
    extractor: str


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> list[FeedEntry]:
    """Parse RSS/Atom bytes (feedparser never does HTTP here); entries without a link are skipped."""
    try:
        parsed: Any = feedparser.parse(body, response_headers=dict(headers or {}))
    except Exception as error:  # feedparser trips on some hostile input ("&#xD800;")
        raise ParseError(f"{url}: not a readable feed: {type(error).__name__}: {error}") from None
    if (parsed.get("bozo") or not parsed.get("version")) and not parsed.get("entries"):
        problem = parsed.get("bozo_exception") or "no RSS or Atom document"
        raise ParseError(f"{url}: not a readable feed: {problem}")
    entries = []
    feed_language = (parsed.get("feed") or {}).get("language")
    for raw in parsed.get("entries", []):
        raw_link = (raw.get("link") or "").strip()
        link = absolute_url(url, raw_link) if raw_link else None  # "" would resolve to the feed
        if link is None:
            continue
        contents = raw.get("content") or []
        content_html = max((part.get("value", "") for part in contents), key=len, default="")
        entries.append(
            FeedEntry(
                url=link,
                title=_clean(_feed_title(raw)),
                published=_feed_time(
                    dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
                ),  # plain dict reads: feedparser's own map "updated" to "published" with a warning
                summary=raw.get("summary", ""),
                content_html=content_html,
                guid=str(raw.get("id") or "")[:500],
                language=declared_language(
                    (raw.get("content") or [{}])[0].get("language") or feed_language
                ),
            )
        )
    return entries


def _feed_title(raw: Any) -> str:
    title = str(raw.get("title", ""))
    if (raw.get("title_detail") or {}).get("type") in ("text/html", "application/xhtml+xml"):
        return _html(title).get_text()  # feedparser left "&amp;" and tags in an HTML title
    return title


def has_full_text(entry: FeedEntry) -> bool:
    """Whether a feed entry carries the whole article rather than a teaser."""
    return len(html_to_text(entry.content_html).split()) >= MIN_FULL_TEXT_WORDS


def parse_listing(
    body: bytes, url: str, selector: str, headers: Mapping[str, str] | None = None
) -> list[str]:
    """Absolute article links selected on a listing page, in page order, without repeats."""
    soup = _soup(body, headers)
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
    anchor = _soup(body, headers).select_one(selector)
    href = anchor.get("href") if anchor is not None else None
    if not isinstance(href, str) or href.strip() in ("", "#"):
        return None
    following = absolute_url(url, href)
    return following if following is not None and following != url else None


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: one paragraph or list item per line block."""
    if not html.strip():
        return ""
    return _blocks_text(_html(html))


def extract_page(
    body: bytes,
    url: str,
    selectors: ArticleSelectors,
    headers: Mapping[str, str] | None = None,
) -> Page:
    """Title, date, main text and language of an article page; per-source selectors first."""
    encoding = _encoding_of(body, headers)
    soup = _html(body, encoding) if encoding else _html(body)
    title = (
        _select_text(soup, selectors.title)
        or _meta(soup, "og:title")
        or _clean(soup.title.get_text() if soup.title else "")
    )
    published = _page_date(soup, selectors.published, selectors.zone)
    html_tag = soup.find("html")
    declared = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    declared = declared or _meta(soup, "og:locale") or (headers or {}).get("content-language")
    text, extractor = "", "generic"
    if selectors.text:
        container = soup.select_one(selectors.text)
        if container is not None:
            _drop_boilerplate(container)
            text, extractor = _blocks_text(container), "selectors"
    if not text:
        html = body.decode(encoding or "utf-8", errors="replace")
        text, extractor = _trafilatura_text(html, url), "trafilatura"
    if not text:
        text, extractor = _generic_text(soup), "generic"
    if not text:
        raise ParseError(f"{url}: no article text found")
    published = published or _dateline(text)
    return Page(
        title=title,
        published=published,
        text=text,
        language=detect_language(text, declared),
        extractor=extractor,
    )


def not_in_future(moment: datetime | None, now: datetime | None = None) -> datetime | None:
    """Drop dates in the future: a page cannot have been published tomorrow."""
    if moment is None:
        return None
    current = now or datetime.now(UTC)
    return None if moment > current + FUTURE_TOLERANCE else moment


def _soup(body: bytes, headers: Mapping[str, str] | None) -> BeautifulSoup:
    """Parse HTML with the charset of the header, else of <meta>, else UTF-8, else windows-1252."""
    encoding = _encoding_of(body, headers)
    return _html(body, encoding) if encoding else _html(body)


def _encoding_of(body: bytes, headers: Mapping[str, str] | None) -> str | None:
    """The first charset that decodes the body: header, <meta>, UTF-8, detected, windows-1252."""
    content_type = (headers or {}).get("content-type", "")
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    declared = match.group(1) if match else None
    meta = EncodingDetector.find_declared_encoding(body, is_html=True)
    for encoding in (declared, meta, "utf-8", _detected_encoding, "windows-1252"):
        if callable(encoding):  # detection is the costly step: only when the others failed
            encoding = encoding(body)
        if not encoding:
            continue
        encoding = CHARSET_SUPERSETS.get(encoding.lower(), encoding)
        try:
            body.decode(encoding)
        except LookupError:  # an unknown charset name: try the next candidate
            continue
        except UnicodeDecodeError:  # servers do send latin-1 as "utf-8"; lxml would obey
            continue
        return encoding
    return None


def _detected_encoding(body: bytes) -> str | None:
    """The charset charset-normalizer finds most likely for an undeclared, non-UTF-8 body.

    Short Latin texts fit several code pages equally well; windows-1252, the web's usual
    undeclared charset, wins such ties.
    """
    matches = list(charset_normalizer.from_bytes(body[:DETECTION_BYTES]))
    if not matches:
        return None
    tied = [match.encoding for match in matches if match.chaos <= matches[0].chaos]
    return "cp1252" if "cp1252" in tied else matches[0].encoding


def _html(markup: str | bytes, encoding: str | None = None) -> BeautifulSoup:
    with warnings.catch_warnings():  # bs4 warns when short markup looks like a URL or file name
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml", from_encoding=encoding)


def _drop_boilerplate(root: Tag) -> None:
    for tag in root.find_all(DROPPED_TAGS):
        tag.decompose()
    for tag in root.find_all(True):
        if tag.decomposed or not isinstance(tag, Tag) or tag.attrs is None:
            continue
        classes: object = tag.get("class") or []
        names = classes if isinstance(classes, list) else [str(classes)]
        marks = " ".join([*names, str(tag.get("id", ""))])
        if (
            marks.strip()
            and BOILERPLATE.search(marks)
            and tag.name not in ("html", "body", "article", "main")
        ):
            tag.decompose()


def _dateline(text: str) -> datetime | None:
    """A full date near the top of the text ("May 14, 2025"), for pages without date metadata."""
    day = resolve_date(text[:DATELINE_CHARS], None)
    if day is None:
        return None
    return not_in_future(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _trafilatura_text(html: str, url: str) -> str:
    """Main text by trafilatura, paragraphs a blank line apart ("" when it finds none)."""
    extracted = trafilatura.extract(
        html, url=url, favor_precision=True, include_comments=False, include_tables=False
    )
    if not extracted:
        return ""
    return "\n\n".join(_clean(line) for line in extracted.splitlines() if line.strip())


def _generic_text(soup: BeautifulSoup) -> str:
    body = soup.body or soup
    _drop_boilerplate(body)
    candidates = [
        *soup.select("[itemprop=articleBody]"),
        *soup.find_all("article"),
        *soup.find_all("main"),
    ]
    if not candidates:
        candidates = [tag.parent for tag in body.find_all("p") if isinstance(tag.parent, Tag)]
    best = max(
        candidates, key=lambda tag: sum(len(p.get_text()) for p in tag.find_all("p")), default=None
    )
    return _blocks_text(best) if best is not None else ""


def _blocks_text(root: Tag) -> str:
    blocks = [
        _clean(tag.get_text()) for tag in root.find_all(BLOCK_TAGS) if not tag.find(BLOCK_TAGS)
    ]
    blocks = [block for block in blocks if block]
    if not blocks:
        text = _clean(root.get_text(" "))
        return text
    return "\n\n".join(blocks)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _select_text(soup: BeautifulSoup, selector: str | None) -> str:
    if not selector:
        return ""
    found = soup.select_one(selector)
    return _clean(found.get_text(" ")) if found is not None else ""


def _meta(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return _clean(content) if isinstance(content, str) else ""


def _page_date(soup: BeautifulSoup, selector: str | None, zone: tzinfo) -> datetime | None:
    for candidate in _date_candidates(soup, selector):
        moment = parse_datetime(candidate, zone)
        if moment is not None:
            return not_in_future(moment)
    return None


def _date_candidates(soup: BeautifulSoup, selector: str | None) -> Iterator[str]:
    if selector:
        yield _select_text(soup, selector)
    for name in (
        "article:published_time",
        "og:article:published_time",
        "date",
        "pubdate",
        "dc.date",
    ):
        yield _meta(soup, name)
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        yield from _json_ld_dates(script.get_text())
    for time_tag in soup.find_all("time"):
        value = time_tag.get("datetime")
        if isinstance(value, str):
            yield value


def _json_ld_dates(raw: str) -> Iterator[str]:
    try:
        data = json.loads(raw)
    except ValueError:
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


def _feed_time(value: Any) -> datetime | None:
    if not value:
        return None
    return not_in_future(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
