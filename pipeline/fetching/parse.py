"""Parsing fetched bytes: feeds into entries, listing pages into links, article pages into text."""

from __future__ import annotations

import calendar
import codecs
import json
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import charset_normalizer
import feedparser
import trafilatura
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector

from models.errors import NewstrackError
from models.source import ArticleSelectors
from models.urls import absolute_url
from pipeline.text.dates import resolve_date
from pipeline.text.language import declared_language, detect_language

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
# Charsets a web page may be read in: the WHATWG Encoding Standard's, by Python's codec names (plus
# the labels it folds into them). Python also has codecs that are no text encodings of a page at
# all ("undefined" always raises, "punycode" and "idna" are for host names, "rot13" and "base64"
# turn text or bytes into more of the same): a page declaring one is read as undeclared.
PAGE_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf-16",
        "utf-16-be",
        "utf-16-le",
        "cp866",
        *(f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        *(f"cp{number}" for number in range(1250, 1259)),
        "ascii",
        "gbk",
        "gb2312",
        "gb18030",
        "big5",
        "big5hkscs",
        "euc_jp",
        "iso2022_jp",
        "shift_jis",
        "cp932",
        "euc_kr",
        "cp949",
    }
)
DETECTION_BYTES = 65_536  # enough of a page to tell its charset
MAX_NESTING = 512  # tags inside tags: real pages stay far below; deeper is a hostile page, refused
# Reading one page may take this long: a real 3.6 MB page of 50,000 paragraphs takes about 25 s.
PAGE_SECONDS = 120.0
DEADLINE_EVERY = 256  # loop turns between two looks at the clock
JSON_LD_MAX_CHARS = 200_000  # a JSON-LD block longer than this is not read for dates
DATELINE_CHARS = 300  # how far into the text a dateline may stand
MIN_FULL_TEXT_WORDS = 120
FUTURE_TOLERANCE = timedelta(days=1)


log = logging.getLogger("newstrack")
# Terminal control sequences, and lone control characters: ANSI CSI and OSC sequences whole, then
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
CONTROL_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window titles, links
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


class ParseError(NewstrackError):
    """A body could not be read as what it was supposed to be."""


class TooDeep(ParseError):
    """HTML nested deeper than MAX_NESTING tags."""


class PageTooSlow(ParseError):
    """Reading one page took longer than its deadline."""


class Deadline:
    """A point in time a page's reading must not pass; loops look at it every few turns."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.turns = 0

    def check(self) -> None:
        """Raise PageTooSlow once the deadline has passed (the clock is read every few calls)."""
        self.turns += 1
        if self.turns % DEADLINE_EVERY == 0 and time.monotonic() > self.at:
            raise PageTooSlow(f"reading took longer than {self.seconds:g} s")

    def passed(self) -> None:
        """Raise PageTooSlow if the deadline has passed (reads the clock now: between steps)."""
        if time.monotonic() > self.at:
            raise PageTooSlow(f"reading took longer than {self.seconds:g} s")


UNBOUNDED = Deadline(math.inf)  # for reading outside a page's deadline (feed fragments)


def strip_controls(text: str) -> str:
    """Text without terminal escape sequences and control characters; tabs and newlines stay."""
    return CONTROL_SEQUENCES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


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
        title=strip_controls(_clean(_feed_title(raw))),
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
    return strip_controls(_blocks_text(_html(html)))


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
    encoding = _encoding_of(body, headers)
    markup = body.decode(encoding or "utf-8", errors="replace")
    soup = _html(markup)
    deadline.passed()
    title = (
        _select_text(soup, selectors.title)
        or _meta(soup, "og:title")
        or _clean(soup.title.get_text() if soup.title else "")
    )
    published = _page_date(soup, selectors.published, selectors.zone, deadline)
    html_tag = soup.find("html")
    declared = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    declared = declared or _meta(soup, "og:locale") or (headers or {}).get("content-language")
    text, extractor = "", "generic"
    deadline.passed()
    if selectors.text:
        container = soup.select_one(selectors.text)
        if container is not None:
            _drop_boilerplate(container, deadline)
            text, extractor = _blocks_text(container, deadline), "selectors"
    deadline.passed()
    if not text:
        text, extractor = _trafilatura_text(markup, url), "trafilatura"
    deadline.passed()
    if not text:
        text, extractor = _generic_text(soup, deadline), "generic"
    text = strip_controls(text)
    if not text.strip():
        raise ParseError(f"{url}: no article text found")
    published = published or _dateline(text)
    return Page(
        title=strip_controls(title),
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
    return _html(body.decode(encoding or "utf-8", errors="replace"))


def _encoding_of(body: bytes, headers: Mapping[str, str] | None) -> str | None:
    """The first charset that decodes the body: header, <meta>, UTF-8, detected, windows-1252.

    Only a page encoding (PAGE_ENCODINGS) counts: any other label is passed over.
    """
    content_type = (headers or {}).get("content-type", "")
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    declared = match.group(1) if match else None
    meta = EncodingDetector.find_declared_encoding(body, is_html=True)
    for candidate in (declared, meta, "utf-8", _detected_encoding, "windows-1252"):
        encoding = candidate(body) if callable(candidate) else candidate
        # detection is the costly step: called only when the others failed
        if not encoding:
            continue
        encoding = page_encoding(CHARSET_SUPERSETS.get(encoding.lower(), encoding))
        if encoding is None:  # unknown, or no text encoding of a page ("punycode", "rot13")
            continue
        try:
            body.decode(encoding)
        except UnicodeError:  # servers do send latin-1 as "utf-8"; lxml would obey
            continue
        return encoding
    return None


def page_encoding(label: str) -> str | None:
    """Python's name of the charset a label names, if web pages may be written in it."""
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # unknown, or a name with a NUL in it
        return None
    return name if name in PAGE_ENCODINGS else None


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


def _html(markup: str) -> BeautifulSoup:
    """Parse decoded HTML; a tree nested deeper than MAX_NESTING is refused (TooDeep)."""
    with warnings.catch_warnings():  # bs4 warns when short markup looks like a URL or file name
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    depth = _nesting(soup)
    if depth > MAX_NESTING:
        soup.decompose()
        raise TooDeep(f"HTML nested {depth} tags deep (more than {MAX_NESTING}): refused")
    return soup


def _nesting(soup: BeautifulSoup) -> int:
    """How many tags deep the tree goes, in one pass in document order (no recursion)."""
    depths: dict[int, int] = {id(soup): 0}
    deepest = 0
    for tag in soup.find_all(True):
        depth = depths.get(id(tag.parent), 0) + 1
        depths[id(tag)] = depth
        deepest = max(deepest, depth)
    return deepest


def _drop_boilerplate(root: Tag, deadline: Deadline = UNBOUNDED) -> None:
    """Remove boilerplate tags in one document-order pass: a tag inside a removed one is skipped.

    Asking a removed tag anything (even `.decomposed`, which bs4 answers by searching the tag's
    subtree) would make deep pages quadratic; its parent being marked removed says it all.
    """
    removed: set[int] = set()
    doomed: list[Tag] = []
    for tag in root.find_all(True):
        deadline.check()
        if id(tag.parent) in removed:
            removed.add(id(tag))
        elif _is_boilerplate(tag):
            removed.add(id(tag))
            doomed.append(tag)
    for tag in doomed:  # none is inside another: each subtree is walked once
        tag.decompose()


def _is_boilerplate(tag: Tag) -> bool:
    if tag.name in DROPPED_TAGS:
        return True
    if tag.name in ("html", "body", "article", "main"):
        return False
    classes: object = tag.get("class") or []
    names = classes if isinstance(classes, list) else [str(classes)]
    marks = " ".join([*names, str(tag.get("id", ""))])
    return bool(marks.strip()) and BOILERPLATE.search(marks) is not None


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


def _generic_text(soup: BeautifulSoup, deadline: Deadline = UNBOUNDED) -> str:
    """The text of the element holding most paragraph text: an article, main, or a <p>'s parent."""
    body = soup.body or soup
    _drop_boilerplate(body, deadline)
    candidates = [
        *soup.select("[itemprop=articleBody]"),
        *soup.find_all("article"),
        *soup.find_all("main"),
    ]
    if not candidates:
        candidates = [tag.parent for tag in body.find_all("p") if isinstance(tag.parent, Tag)]
    paragraph_chars = _paragraph_chars(soup, deadline)
    best = max(
        {id(tag): tag for tag in candidates}.values(),  # a parent of many <p> counted once
        key=lambda tag: paragraph_chars.get(id(tag), 0),
        default=None,
    )
    return _blocks_text(best, deadline) if best is not None else ""


def _paragraph_chars(soup: BeautifulSoup, deadline: Deadline) -> dict[int, int]:
    """For every tag (by id), the length of the text of the <p> tags inside it.

    Summed bottom-up in one pass, rather than searching each candidate's subtree again.
    """
    tags = soup.find_all(True)
    chars: dict[int, int] = {}
    for tag in reversed(tags):  # children before their parents
        deadline.check()
        own = chars.get(id(tag), 0) + (len(tag.get_text()) if tag.name == "p" else 0)
        if own:
            chars[id(tag)] = own
            chars[id(tag.parent)] = chars.get(id(tag.parent), 0) + own
    return chars


def _blocks_text(root: Tag, deadline: Deadline = UNBOUNDED) -> str:
    """Text of the innermost block tags (paragraphs, headings, items), a blank line apart.

    Which block tags hold another is found in one bottom-up pass over the tree, not by searching
    each one's subtree.
    """
    tags = root.find_all(True)
    holds_block: set[int] = set()
    for tag in reversed(tags):  # children before their parents
        deadline.check()
        if tag.name in BLOCK_TAGS or id(tag) in holds_block:
            holds_block.add(id(tag.parent))
    blocks = []
    for tag in tags:
        if tag.name in BLOCK_TAGS and id(tag) not in holds_block:
            deadline.check()
            blocks.append(_clean(tag.get_text()))
    blocks = [block for block in blocks if block]
    if not blocks:
        return _clean(root.get_text(" "))
    return "\n\n".join(blocks)


def _clean(text: str) -> str:
    """One line of text: control characters dropped, whitespace runs made one space."""
    return re.sub(r"\s+", " ", strip_controls(text)).strip()


def _select_text(soup: BeautifulSoup, selector: str | None) -> str:
    if not selector:
        return ""
    found = soup.select_one(selector)
    return _clean(found.get_text(" ")) if found is not None else ""


def _meta(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return _clean(content) if isinstance(content, str) else ""


def _page_date(
    soup: BeautifulSoup, selector: str | None, zone: tzinfo, deadline: Deadline = UNBOUNDED
) -> datetime | None:
    for candidate in _date_candidates(soup, selector):
        deadline.check()
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
