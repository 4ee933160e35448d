"""Parsing feeds, listing pages and article pages, on real recorded formats and small cases."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.source import ArticleSelectors
from models.vocabulary import VocabularyError
from models.vocabulary.words import load_page_words
from pipeline.fetching.blocks import html_to_text
from pipeline.fetching.boilerplate import boilerplate_pattern
from pipeline.fetching.encoding import page_encoding
from pipeline.fetching.feeds import FeedEntry, has_full_text, parse_feed
from pipeline.fetching.guards import ParseError
from pipeline.fetching.listing import ListingRules, parse_listing
from pipeline.fetching.markup import MAX_NESTING, strip_controls
from pipeline.fetching.pages import extract_page
from pipeline.fetching.times import JSON_LD_MAX_CHARS, not_in_future, parse_datetime

FIXTURES = Path(__file__).parent / "fixtures"
WORDPRESS_URL = "http://www.norm2782.com/feed/"
CNBC_URL = "https://www.cnbc.com/2023/04/28/why-buying-crypto-because-of-friends-can-be-a-horrible-idea.html"
CNBC_SELECTORS = ArticleSelectors(
    title="h1.ArticleHeader-headline", text="div.ArticleBody-articleBody"
)
CNBC_TITLE = (
    "31% of new crypto buyers influenced by friends. "
    "Here\u2019s why that can be 'a horrible idea,' advisor says"
)
CNBC_FIRST_SENTENCE = (
    "When it comes to cryptocurrency like bitcoin, new investors are often motivated by friends "
    "to take the plunge, according to a new study."
)
CNBC_PUBLISHED = datetime(2023, 4, 28, 18, 23, tzinfo=UTC)
HTML = {"content-type": "text/html"}


def _cnbc() -> bytes:
    return (FIXTURES / "cnbc-article.html").read_bytes()


def _wordpress() -> list[FeedEntry]:
    return parse_feed((FIXTURES / "wordpress-rss2.xml").read_bytes(), WORDPRESS_URL)


# Feeds


def test_wordpress_feed_entries_and_links() -> None:
    """All ten WordPress items come out in order, with their absolute links."""
    entries = _wordpress()
    assert len(entries) == 10
    assert entries[0].url == "http://www.norm2782.com/2009/03/wth-reading-books/"
    assert entries[-1].url == "http://www.norm2782.com/2009/01/properties-in-php/"
    assert len({entry.url for entry in entries}) == 10


def test_wordpress_titles_have_entities_decoded() -> None:
    """Numeric entities in titles (&#8230;, &#8211;) become characters; non-ASCII is kept."""
    titles = [entry.title for entry in _wordpress()]
    assert titles[0] == "Wth\u2026 reading books?"
    assert "Properties in PHP \u2013 revisited" in titles
    assert "Seven Things \u2013 Tagged by P\u00e1draic" in titles
    assert not any("&#" in title for title in titles)


def test_wordpress_dates_are_utc() -> None:
    """pubDate with +0000 becomes an aware UTC datetime."""
    entries = _wordpress()
    assert entries[0].published == datetime(2009, 3, 2, 8, 9, 33, tzinfo=UTC)
    assert entries[-1].published == datetime(2009, 1, 1, 23, 2, 54, tzinfo=UTC)
    assert all(entry.published is not None for entry in entries)


def test_wordpress_content_encoded_is_the_content() -> None:
    """content:encoded arrives as HTML in content_html; the description is the summary."""
    first = _wordpress()[0]
    assert first.content_html.startswith("<p>Being in New Zealand does strange things")
    assert "<li>" in first.content_html
    assert first.summary.startswith("Being in New Zealand does strange things")
    text = html_to_text(first.content_html)
    assert "Agile Software Development with Scrum, by Ken Schwaber and Mike Beedle" in text.split(
        "\n\n"
    )
    assert "I don\u2019t much like" in text


def test_wordpress_full_text_detection() -> None:
    """Long posts count as full text; short ones (and the 119-word one) do not."""
    by_url = {entry.url.rsplit("/", 2)[-2]: entry for entry in _wordpress()}
    assert has_full_text(by_url["my-first-few-weeks-in-new-zealand"])
    assert has_full_text(by_url["properties-in-php-revisited"])
    assert not has_full_text(by_url["zf-3239"])
    assert not has_full_text(by_url["wth-reading-books"])


def test_full_text_threshold_is_120_words() -> None:
    """has_full_text counts words of the text, not of the markup: 120 is enough, 119 is not."""

    def entry(words: int) -> FeedEntry:
        html = "<p>" + " ".join(["<b>word</b>"] * words) + "</p>"
        return FeedEntry("https://example.org/a", "t", None, "", html)

    assert has_full_text(entry(120))
    assert not has_full_text(entry(119))


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Ministry news</title>
  <id>urn:example:feed</id>
  <updated>2025-04-04T12:00:00Z</updated>
  <entry>
    <title type="html">Export controls on gallium &amp;amp; germanium</title>
    <link href="/news/2025/04/gallium.html"/>
    <id>urn:example:1</id>
    <published>2025-04-04T17:30:00+08:00</published>
    <updated>2025-04-05T00:00:00Z</updated>
    <summary>Short summary.</summary>
    <content type="html">&lt;p&gt;First paragraph.&lt;/p&gt;&lt;p&gt;Second.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Only updated</title>
    <link href="https://other.example.net/b"/>
    <id>urn:example:2</id>
    <updated>2025-04-03T08:00:00Z</updated>
  </entry>
  <entry>
    <title>No link at all</title>
    <id>urn:example:3</id>
    <updated>2025-04-03T08:00:00Z</updated>
  </entry>
</feed>
"""


def test_minimal_atom_feed() -> None:
    """Atom: relative links resolved, escaped HTML title decoded, published preferred, UTC."""
    entries = parse_feed(ATOM, "https://mofcom.example.org/feeds/atom.xml")
    assert [entry.url for entry in entries] == [
        "https://mofcom.example.org/news/2025/04/gallium.html",
        "https://other.example.net/b",
    ]
    first, second = entries
    assert first.title == "Export controls on gallium & germanium"
    assert first.published == datetime(2025, 4, 4, 9, 30, tzinfo=UTC)
    assert first.summary == "Short summary."
    assert html_to_text(first.content_html) == "First paragraph.\n\nSecond."
    assert second.published == datetime(2025, 4, 3, 8, 0, tzinfo=UTC)
    assert second.content_html == ""


def test_rss_item_without_link_is_skipped() -> None:
    """An RSS item with no <link> is skipped rather than pointed at the feed itself."""
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>linked</title><link>https://example.org/a</link></item>
      <item><title>unlinked</title><description>no link here</description></item>
      <item><title>mail</title><link>mailto:editor@example.org</link></item>
    </channel></rss>"""
    entries = parse_feed(feed, "https://example.org/feed")
    assert [(entry.title, entry.url) for entry in entries] == [("linked", "https://example.org/a")]


def test_feed_entry_in_the_future_has_no_date() -> None:
    """A pubDate far in the future is dropped rather than trusted."""
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>x</title><link>https://example.org/a</link>
      <pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item></channel></rss>"""
    (entry,) = parse_feed(feed, "https://example.org/feed")
    assert entry.published is None


def test_feed_charset_from_response_headers() -> None:
    """A feed without an XML encoding declaration decodes with the header's charset."""
    title = "Экспорт галлия"
    feed = (
        "<rss version='2.0'><channel><title>t</title><item>"
        f"<title>{title}</title><link>https://example.org/a</link></item></channel></rss>"
    ).encode("koi8-r")
    headers = {"content-type": "application/rss+xml; charset=koi8-r"}
    (entry,) = parse_feed(feed, "https://example.org/feed", headers)
    assert entry.title == title


def test_empty_channel_is_an_empty_list() -> None:
    """A well-formed feed with no items is not an error."""
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert parse_feed(feed, "https://example.org/feed") == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a feed at all",
        b'{"version": "https://jsonfeed.org/version/1", "items": []}',
        b"\x00\xff\xfe garbage",
        b"<html><head><title>Just a moment...</title></head><body><p>Checking your browser"
        b"</p></body></html>",
    ],
    ids=["empty", "text", "json", "binary", "html-page"],
)
def test_non_feed_body_raises_parse_error(body: bytes) -> None:
    """Bodies that are not RSS or Atom raise ParseError naming the URL."""
    with pytest.raises(ParseError, match=r"^https://example\.org/feed: not a readable feed"):
        parse_feed(body, "https://example.org/feed")


# Listing pages


LISTING = """<html><body>
<nav><a href="/news/">News</a><a href="/about">About</a></nav>
<ul class="news-list">
  <li><a href="/news/2025/1.html">One</a></li>
  <li><a href="2.html">Two</a></li>
  <li><a href="https://other.example.net/3.html">Three</a></li>
  <li><a href="/news/2025/1.html">One again</a></li>
  <li><a href="mailto:press@example.org">Mail us</a></li>
  <li><a href="javascript:void(0)">More</a></li>
  <li><a>No href</a></li>
  <li><a href="http://[broken">Broken</a></li>
  <li><a href=" /news/2025/4.html ">Four</a></li>
</ul>
<footer><a href="/news/2025/footer.html">Footer link</a></footer>
</body></html>"""


def test_listing_links_are_absolute_unique_and_in_order() -> None:
    """Selected links are resolved, deduplicated and kept in page order; others are ignored."""
    links = parse_listing(
        LISTING.encode(),
        "https://example.org/news/2025/index.html",
        ListingRules("ul.news-list a"),
        HTML,
    )
    assert [link.url for link in links] == [
        "https://example.org/news/2025/1.html",
        "https://example.org/news/2025/2.html",
        "https://other.example.net/3.html",
        "https://example.org/news/2025/4.html",
    ]


def test_listing_selector_matching_nothing_is_empty() -> None:
    """A selector that matches nothing gives no links (and no nav links)."""
    rules = ListingRules("div.missing a")
    assert parse_listing(LISTING.encode(), "https://example.org/", rules, HTML) == []


# Article pages


def test_cnbc_page_with_selectors() -> None:
    """CNBC selectors: headline, JSON-LD/meta date, language and the article body only."""
    page = extract_page(_cnbc(), CNBC_URL, CNBC_SELECTORS, HTML)
    assert page.title == CNBC_TITLE
    assert page.published == CNBC_PUBLISHED
    assert page.language == "en"
    assert page.text_extractor == "selectors"
    assert page.text.startswith(CNBC_FIRST_SENTENCE)
    assert page.text.endswith("that's a horrible idea.\"")
    _assert_no_boilerplate(page.text)


def test_cnbc_page_with_generic_extraction() -> None:
    """Without selectors the generic extractor still finds title, date and body, no boilerplate."""
    page = extract_page(_cnbc(), CNBC_URL, ArticleSelectors(), HTML)
    assert page.title == CNBC_TITLE
    assert page.published == CNBC_PUBLISHED
    assert page.text_extractor == "trafilatura"
    assert CNBC_FIRST_SENTENCE in page.text.split("\n\n")
    _assert_no_boilerplate(page.text)


def _assert_no_boilerplate(text: str) -> None:
    for unwanted in (
        "NREUM",  # inline script
        "window._comscore",  # inline script
        "Pre-Markets",  # global navigation
        "Licensing & Reprints",  # footer
        "More from Ask an Advisor",  # related-content box inside the body
        "FA Council members share volatility strategies",  # its links
        "Getty Images",  # image credit
        "{",  # no CSS or JSON leaked in
    ):
        assert unwanted not in text, unwanted
    assert all(block.strip() == block and block for block in text.split("\n\n"))


def test_selector_missing_falls_back_to_trafilatura() -> None:
    """A text selector that matches nothing falls back to trafilatura's main-text extraction."""
    html = "<html><body><article><p>Body text here.</p></article></body></html>"
    page = extract_page(html.encode(), "https://example.org/a", CNBC_SELECTORS, HTML)
    assert page.text_extractor == "trafilatura"
    assert page.text == "Body text here."


def test_text_trafilatura_misses_is_found_by_the_last_fallback() -> None:
    """Text in a table cell, which trafilatura skips, is still found by the paragraph reader."""
    html = "<html><body><table><tr><td><p>Inside a table cell.</p></td></tr></table></body></html>"
    page = extract_page(html.encode(), "https://example.org/a", ArticleSelectors(), HTML)
    assert page.text_extractor == "generic"
    assert page.text == "Inside a table cell."


def test_title_falls_back_to_og_title_then_title_tag() -> None:
    """Without a title selector the og:title is used, and without it the <title>."""
    og = (
        '<html><head><meta property="og:title" content=" OG  title "><title>Tag</title></head>'
        "<body><p>x</p></body></html>"
    )
    plain = "<html><head><title> Tag\n title </title></head><body><p>x</p></body></html>"
    assert extract_page(og.encode(), "https://e.org/", ArticleSelectors(), HTML).title == "OG title"
    assert extract_page(plain.encode(), "https://e.org/", ArticleSelectors(), HTML).title == (
        "Tag title"
    )


def test_page_without_text_raises_parse_error() -> None:
    """A page with no readable text raises ParseError naming the URL."""
    with pytest.raises(ParseError, match=r"https://example\.org/empty: no article text"):
        extract_page(b"<html><body></body></html>", "https://example.org/empty", ArticleSelectors())


def test_page_date_from_time_tag_and_meta() -> None:
    """The published date comes from article:published_time, else a <time datetime>."""
    meta = (
        '<html><head><meta property="article:published_time" content="2025-04-04T17:30:00+08:00">'
        '</head><body><time datetime="2020-01-01">old</time><p>x</p></body></html>'
    )
    time_only = '<html><body><time datetime="2025-04-04 09:15">Apr 4</time><p>x</p></body></html>'
    assert extract_page(meta.encode(), "https://e.org/", ArticleSelectors()).published == (
        datetime(2025, 4, 4, 9, 30, tzinfo=UTC)
    )
    assert extract_page(time_only.encode(), "https://e.org/", ArticleSelectors()).published == (
        datetime(2025, 4, 4, 9, 15, tzinfo=UTC)
    )


def test_page_times_without_offset_are_read_in_the_source_zone() -> None:
    """MOFCOM writes Beijing time without an offset: 16:05 there is 08:05 UTC, on the same day."""
    page = (
        b'<html><body><div class="t"><span class="time">2025-04-04 16:05</span></div>'
        b'<div class="c"><p>Text.</p></div></body></html>'
    )
    beijing = ArticleSelectors(text="div.c", published="span.time", timezone="Asia/Shanghai")
    utc = ArticleSelectors(text="div.c", published="span.time")
    assert extract_page(page, "https://e.org/", beijing).published == datetime(
        2025, 4, 4, 8, 5, tzinfo=UTC
    )
    assert extract_page(page, "https://e.org/", utc).published == datetime(
        2025, 4, 4, 16, 5, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-04 07:30", datetime(2025, 4, 3, 23, 30, tzinfo=UTC)),
        ("2025-04-04", datetime(2025, 4, 4, tzinfo=UTC)),  # a bare date keeps its day
        ("2025-04-04T07:30:00Z", datetime(2025, 4, 4, 7, 30, tzinfo=UTC)),
        ("2025-04-04T07:30:00+09:00", datetime(2025, 4, 3, 22, 30, tzinfo=UTC)),
    ],
)
def test_parse_datetime_in_a_zone(value: str, expected: datetime) -> None:
    """Only times without an offset or Z are read in the given zone."""
    assert parse_datetime(value, ZoneInfo("Asia/Shanghai")) == expected


def test_page_dated_in_the_future_has_no_date() -> None:
    """A page claiming to be published next year gets no date."""
    next_year = datetime.now(UTC).year + 1
    html = (
        f'<html><head><meta property="article:published_time" content="{next_year}-06-01T00:00Z">'
        "</head><body><p>x</p></body></html>"
    )
    assert extract_page(html.encode(), "https://e.org/", ArticleSelectors()).published is None


# Charsets


CAFE = "<html><body><p>Le café de l’Élysée coûte 2 €.</p></body></html>"


@pytest.mark.parametrize("charset", ["ISO-8859-1", "iso-8859-15", "windows-1252"])
def test_header_declared_charset_is_used(charset: str) -> None:
    """A charset given only in Content-Type decodes accented letters right."""
    html = CAFE.replace("’", "'").replace("€", "EUR")
    page = extract_page(
        html.encode(charset),
        "https://e.org/",
        ArticleSelectors(),
        {"content-type": f"text/html; charset={charset}"},
    )
    assert page.text == "Le café de l'Élysée coûte 2 EUR."


def test_quoted_header_charset_is_used() -> None:
    """charset="koi8-r" (quoted, as HTTP allows) is honoured, not ignored."""
    html = "<html><body><p>Экспорт редкоземельных металлов запрещён.</p></body></html>"
    page = extract_page(
        html.encode("koi8-r"),
        "https://e.org/",
        ArticleSelectors(),
        {"content-type": 'text/html; charset="koi8-r"'},
    )
    assert page.text == "Экспорт редкоземельных металлов запрещён."


def test_meta_charset_is_used_without_header_charset() -> None:
    """With no charset in the header, <meta charset> decides."""
    html = '<html><head><meta charset="windows-1252"></head><body><p>Prix : 2 € “net”</p></body></html>'
    page = extract_page(html.encode("windows-1252"), "https://e.org/", ArticleSelectors(), HTML)
    assert page.text == "Prix : 2 € “net”"


def test_wrong_header_charset_falls_back() -> None:
    """windows-1252 bytes labelled utf-8 are decoded as windows-1252, not as "\ufffd"."""
    page = extract_page(
        CAFE.encode("windows-1252"),
        "https://e.org/",
        ArticleSelectors(),
        {"content-type": "text/html; charset=utf-8"},
    )
    assert page.text == "Le café de l’Élysée coûte 2 €."


def test_unknown_header_charset_is_ignored() -> None:
    """An unknown charset name does not raise; the UTF-8 body still decodes."""
    page = extract_page(
        CAFE.encode("utf-8"),
        "https://e.org/",
        ArticleSelectors(),
        {"content-type": "text/html; charset=x-no-such-charset"},
    )
    assert page.text == "Le café de l’Élysée coûte 2 €."


def test_xhtml_page_with_xml_declaration() -> None:
    """An XHTML page starting with <?xml ...?> is read without warnings or errors."""
    html = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'lang="fr-FR"><head><title>T</title></head><body><p>Texte.</p></body></html>'
    )
    page = extract_page(html.encode(), "https://e.org/", ArticleSelectors(), HTML)
    assert page.text == "Texte."
    assert page.language == "fr"


# Dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-04T17:30:00+0800", datetime(2025, 4, 4, 9, 30, tzinfo=UTC)),
        ("2025-04-04T17:30:00+08:00", datetime(2025, 4, 4, 9, 30, tzinfo=UTC)),
        ("2025-04-04T17:30:00-05:30", datetime(2025, 4, 4, 23, 0, tzinfo=UTC)),
        ("2025-04-04T17:30:00Z", datetime(2025, 4, 4, 17, 30, tzinfo=UTC)),
        ("2025-04-04T17:30:00.250Z", datetime(2025, 4, 4, 17, 30, tzinfo=UTC)),
        ("2025-04-04 17:30", datetime(2025, 4, 4, 17, 30, tzinfo=UTC)),
        ("  2025-04-04  ", datetime(2025, 4, 4, tzinfo=UTC)),
        ("2025-04-04T23:30:00-0100", datetime(2025, 4, 5, 0, 30, tzinfo=UTC)),
        ("2023-04-28T18:23:00+0000", datetime(2023, 4, 28, 18, 23, tzinfo=UTC)),
        ("2025-02-30", None),
        ("2025-13-01T00:00", None),
        ("2025-04-04T25:00", None),
        ("Fri, 04 Apr 2025 17:30:00 GMT", None),
        ("April 4, 2025", None),
        ("", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9999-12-31T23:59:00-01:00", None),
    ],
)
def test_parse_datetime(value: str, expected: datetime | None) -> None:
    """ISO-8601-like stamps become UTC; other formats and impossible dates give None."""
    assert parse_datetime(value) == expected


@given(st.text())
def test_parse_datetime_never_raises(value: str) -> None:
    """Any text gives a UTC datetime or None."""
    result = parse_datetime(value)
    assert result is None or result.tzinfo is UTC


@given(st.from_regex(r"\A\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?[+-]\d{2}:?\d{2}\Z"))
def test_parse_datetime_never_raises_on_iso_shapes(value: str) -> None:
    """Even extreme ISO-shaped stamps (year 0001 or 9999, odd offsets) never raise."""
    result = parse_datetime(value)
    assert result is None or result.tzinfo is UTC


OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    OFFSETS,
)
def test_parse_datetime_round_trips_isoformat(moment: datetime, zone: timezone) -> None:
    """parse_datetime(dt.isoformat()) is the same instant, to the second."""
    aware = moment.replace(tzinfo=zone)
    assert parse_datetime(aware.isoformat()) == aware.replace(microsecond=0)


def test_not_in_future() -> None:
    """Dates up to a day ahead are kept (time zones); later ones are dropped; None stays None."""
    now = datetime(2025, 4, 4, 12, tzinfo=UTC)
    assert not_in_future(now - timedelta(days=400), now) == now - timedelta(days=400)
    assert not_in_future(now + timedelta(days=1), now) == now + timedelta(days=1)
    assert not_in_future(now + timedelta(days=1, seconds=1), now) is None
    assert not_in_future(None, now) is None
    assert not_in_future(datetime(2100, 1, 1, tzinfo=UTC)) is None


# HTML to text


def test_html_to_text_paragraphs_and_list_items() -> None:
    """Paragraphs, headings and list items each become one block; whitespace is collapsed."""
    html = (
        "<h2>Measures</h2><p>China  bans\n exports of:</p>"
        "<ul><li>gallium</li><li><p>germanium</p></li></ul>"
        "<p></p><blockquote>Quoted words.</blockquote><script>var x = 1;</script>"
    )
    assert html_to_text(html).split("\n\n") == [
        "Measures",
        "China bans exports of:",
        "gallium",
        "germanium",
        "Quoted words.",
    ]


def test_html_to_text_without_blocks_and_empty() -> None:
    """Text without block tags is returned whole; blank input gives ""."""
    assert html_to_text("plain <b>bold</b> text") == "plain bold text"
    assert html_to_text("  \n ") == ""
    assert html_to_text("https://example.org/a.html") == "https://example.org/a.html"


@given(st.text())
def test_html_to_text_never_raises(text: str) -> None:
    """Any string gives a string with no leading or trailing whitespace."""
    result = html_to_text(text)
    assert result == result.strip()


WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.,é ", min_size=1).filter(
    lambda text: text.strip() != ""
)


@given(st.lists(WORDS, min_size=1, max_size=8), st.sampled_from(["p", "li", "h3"]))
def test_html_to_text_one_block_per_element(texts: list[str], tag: str) -> None:
    """Each block element's text comes back, whitespace-collapsed, as its own block."""
    html = "".join(f"<{tag}>{text}</{tag}>" for text in texts)
    assert html_to_text(html).split("\n\n") == [" ".join(text.split()) for text in texts]


def test_html_titles_become_plain_text() -> None:
    """Escaped entities and tags in HTML-typed titles (RSS and Atom) are turned into text."""
    feed = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>US &amp;amp; China</title><link>https://e.org/1</link></item>
      <item><title><![CDATA[<b>Gallium</b> &amp; germanium]]></title><link>https://e.org/2</link></item>
      <item><title>A &lt; B</title><link>https://e.org/3</link></item>
    </channel></rss>"""
    titles = [entry.title for entry in parse_feed(feed, "https://e.org/feed")]
    assert titles == ["US & China", "Gallium & germanium", "A < B"]


def test_gb2312_label_is_read_as_gb18030() -> None:
    """A page labelled GB2312 may hold GBK characters (镕 in Zhu Rongji); they decode, not garble."""
    html = "<html><body><article><p>朱镕基 稀土 出口管制</p></article></body></html>"
    body = html.encode("gb18030")
    for headers in ({"content-type": "text/html; charset=gb2312"}, {}):
        meta = b'<meta charset="gb2312">' if not headers else b""
        page = extract_page(meta + body, "https://example.cn/a", ArticleSelectors(), headers)
        assert "朱镕基" in page.text


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        (
            "gb18030",
            "商务部新闻发言人表示，中方决定对钐、钆、铽、镝、镥、钪、钇等七种中重稀土相关物项实施出口管制。",
        ),
        (
            "shift_jis",
            "経済産業省は、レアアースの輸出規制について、中国政府の決定に強い懸念を表明した。",
        ),
        (
            "koi8-r",
            "Министерство торговли Китая объявило об экспортном контроле на редкоземельные металлы.",
        ),
    ],
)
def test_undeclared_charset_is_detected(encoding: str, text: str) -> None:
    """A page that declares no charset and is not UTF-8 is read in the charset its bytes show."""
    html = f"<html><body><article><p>{text}</p><p>{text}</p></article></body></html>"
    page = extract_page(html.encode(encoding), "https://example.org/a", ArticleSelectors())
    assert text in page.text


def test_date_falls_back_to_a_dateline_in_the_text() -> None:
    """A page without date metadata takes a full date written at the top of its text."""
    html = (
        "<html><body><article><p>BEIJING, May 14, 2025 - The ministry spoke.</p>"
        "<p>Later it recalled the measures of April 4, 2024.</p></article></body></html>"
    )
    page = extract_page(html.encode(), "https://example.cn/a", ArticleSelectors(), HTML)
    assert page.published == datetime(2025, 5, 14, tzinfo=UTC)
    future = html.replace("2025", "2999")
    assert (
        extract_page(future.encode(), "https://example.cn/a", ArticleSelectors(), HTML).published
        is None
    )


# Hostile pages (issue 17): charsets that are no page encoding, deep JSON-LD, deep HTML, controls

NOT_PAGE_ENCODINGS = ["undefined", "punycode", "idna", "rot13", "base64", "zlib", "hex", "bz2"]
NOT_PAGE_ENCODINGS += ["uu", "quopri", "unicode_escape", "raw_unicode_escape", "utf-7", "cp037"]


@pytest.mark.parametrize("charset", NOT_PAGE_ENCODINGS)
def test_a_header_charset_that_is_no_page_encoding_is_passed_over(charset: str) -> None:
    """charset=undefined (and other codecs no page is written in) fall back: the page is read."""
    page = extract_page(
        CAFE.encode("utf-8"),
        "https://e.org/",
        ArticleSelectors(),
        {"content-type": f"text/html; charset={charset}"},
    )
    assert page.text == "Le café de l’Élysée coûte 2 €."


@pytest.mark.parametrize("charset", NOT_PAGE_ENCODINGS)
def test_a_meta_charset_that_is_no_page_encoding_is_passed_over(charset: str) -> None:
    """<meta charset="punycode"> and the like fall back to detection: windows-1252 is read right."""
    html = CAFE.replace("<html>", f'<html><head><meta charset="{charset}"></head>')
    page = extract_page(html.encode("windows-1252"), "https://e.org/", ArticleSelectors(), HTML)
    assert page.text == "Le café de l’Élysée coûte 2 €."
    utf8 = extract_page(html.encode("utf-8"), "https://e.org/", ArticleSelectors(), HTML)
    assert utf8.text == "Le café de l’Élysée coûte 2 €."


@pytest.mark.parametrize("charset", NOT_PAGE_ENCODINGS)
def test_listing_with_a_charset_that_is_no_page_encoding(charset: str) -> None:
    """A listing page's bogus charset is passed over too."""
    html = f'<meta charset="{charset}"><a class="s" href="/a/1">One</a>'
    headers = {"content-type": f"text/html; charset={charset}"}
    links = parse_listing(html.encode(), "https://e.org/", ListingRules("a.s"), headers)
    assert [link.url for link in links] == ["https://e.org/a/1"]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("UTF-8", "utf-8"),
        ("windows-1251", "cp1251"),
        ("Shift_JIS", "shift_jis"),
        ("euc-kr", "euc_kr"),
        ("gb18030", "gb18030"),
        ("utf-16le", "utf-16-le"),
        *((label, None) for label in NOT_PAGE_ENCODINGS),
        ("no-such-charset", None),
        ("utf\x00-8", None),
    ],
)
def test_page_encoding_accepts_only_text_encodings_of_web_pages(
    label: str, expected: str | None
) -> None:
    """The WHATWG encodings pass, by Python's names; codecs no page is written in do not."""
    assert page_encoding(label) == expected


def test_json_ld_nested_100k_deep_is_passed_over() -> None:
    """A JSON-LD block nested 100,000 deep yields no date and raises nothing; the page is read."""
    deep = "[" * 100_000 + "]" * 100_000
    html = (
        f'<html><head><script type="application/ld+json">{deep}</script>'
        '<script type="application/ld+json">{"datePublished": "2025-05-14T09:00:00Z"}</script>'
        "</head><body><article><p>The ministry spoke.</p></article></body></html>"
    )
    page = extract_page(html.encode(), "https://e.org/", ArticleSelectors(), HTML)
    assert page.text == "The ministry spoke."
    assert page.published == datetime(2025, 5, 14, 9, tzinfo=UTC)  # the sane block still counts


def test_oversized_json_ld_is_not_read() -> None:
    """A JSON-LD block over JSON_LD_MAX_CHARS is skipped without parsing it."""
    padding = " " * JSON_LD_MAX_CHARS
    html = (
        f'<script type="application/ld+json">{{"datePublished": "2025-05-14"{padding}}}</script>'
        "<article><p>The ministry spoke.</p></article>"
    )
    assert extract_page(html.encode(), "https://e.org/", ArticleSelectors(), HTML).published is None


PARAGRAPH = "<p>China's Commerce Ministry imposed export controls on gallium, it said.</p>"
NESTINGS = {
    "div": lambda depth: "<div>" * depth + PARAGRAPH + "</div>" * depth,
    "boilerplate": lambda depth: (
        '<div class="sidebar">' * depth + PARAGRAPH + "</div>" * depth + f"<main>{PARAGRAPH}</main>"
    ),
    "blockquote": lambda depth: (
        "<article>" + "<blockquote>" * depth + PARAGRAPH + "</blockquote>" * depth + "</article>"
    ),
    "list": lambda depth: (
        "<article>"
        + "<ul><li>" * (depth // 2)
        + PARAGRAPH
        + "</li></ul>" * (depth // 2)
        + "</article>"
    ),
}


def _calls(body: bytes, selectors: ArticleSelectors) -> int:
    """Python and C function calls made reading a page: the work, counted, not timed."""
    count = 0

    def profile(frame: object, event: str, argument: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        extract_page(body, "https://e.org/a", selectors, HTML)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shape", list(NESTINGS))
@pytest.mark.parametrize("selectors", [ArticleSelectors(), ArticleSelectors(text="article")])
def test_reading_a_nested_page_is_linear_in_its_depth(
    shape: str, selectors: ArticleSelectors
) -> None:
    """Twice as deep costs about twice the work, not four times (bs4 lookups made it quadratic)."""
    extract_page(PARAGRAPH.encode(), "https://e.org/a", ArticleSelectors(), HTML)  # warm caches
    page = NESTINGS[shape]
    shallow = _calls(page(200).encode(), selectors)
    deep = _calls(page(400).encode(), selectors)
    assert deep < 2.5 * shallow, (shallow, deep)
    assert "gallium" in extract_page(page(400).encode(), "https://e.org/a", selectors, HTML).text


def test_a_page_nested_100k_deep_is_refused_quickly() -> None:
    """Beyond MAX_NESTING tags deep a page is a ParseError naming it, after linear work."""
    body = ("<html><body>" + NESTINGS["div"](100_000) + "</body></html>").encode()
    started = time.perf_counter()
    with pytest.raises(ParseError, match=r"https://e.org/a: HTML nested 100\d\d\d tags deep"):
        extract_page(body, "https://e.org/a", ArticleSelectors(), HTML)
    assert time.perf_counter() - started < 30  # a hang guard only: the old code took hours
    with pytest.raises(ParseError, match="nested"):
        html_to_text(NESTINGS["div"](MAX_NESTING + 1))
    assert html_to_text(NESTINGS["div"](MAX_NESTING - 5)).startswith("China's")


def test_a_page_read_past_its_deadline_is_given_up() -> None:
    """Reading that outlasts its deadline is a ParseError naming the page and the time."""
    body = ("<html><body>" + NESTINGS["div"](100) + "</body></html>").encode()
    with pytest.raises(ParseError, match=r"https://e.org/a: reading took longer than 0 s"):
        extract_page(body, "https://e.org/a", ArticleSelectors(), HTML, seconds=0)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain\ttext\nkept", "plain\ttext\nkept"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;new title\x07title", "title"),
        ("\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("bell\x07 back\x08 nul\x00 del\x7f", "bell back nul del"),
        ("c1 \x9b2J csi \x85 nel", "c1  csi  nel"),
        ("bidi \u202eevil\u202c \u2066iso\u2069", "bidi evil iso"),
        ("windows\r\nlines\rold mac", "windows\nlines\nold mac"),
        ("caf\u00e9 \u2019quotes\u2019 \u4e2d\u6587", "caf\u00e9 \u2019quotes\u2019 \u4e2d\u6587"),
    ],
)
def test_strip_controls(raw: str, clean: str) -> None:
    """Escape sequences and control characters go; tabs, newlines and ordinary text stay."""
    assert strip_controls(raw) == clean


@given(st.text())
def test_stripped_text_holds_no_controls(text: str) -> None:
    """Whatever comes in, nothing a terminal obeys comes out."""
    assert not [c for c in strip_controls(text) if c in CONTROLS]


CONTROLS = {chr(n) for n in (*range(0, 9), *range(11, 32), *range(127, 160))}
CONTROLS |= {chr(n) for n in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def test_feed_titles_and_summaries_are_stripped_of_controls() -> None:
    """A feed entry's title and summary reach newstrack without escape sequences."""
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        "<title>Gallium \x1b[2Jcurbs\x07</title><link>https://e.org/a</link>"
        "<description>Teaser \x1b]0;pwned\x07here\u202e</description></item></channel></rss>"
    )
    (entry,) = parse_feed(feed.encode(), "https://e.org/feed")
    assert (entry.title, entry.summary) == ("Gallium curbs", "Teaser here")


def test_page_title_and_text_are_stripped_of_controls() -> None:
    """Titles and body text of a page lose control characters; paragraphs stay apart."""
    html = (
        "<html><head><title>Ministry \x1b[31mred\x1b[0m title\x9b</title></head><body><article>"
        "<p>First \x1b]0;pwned\x07paragraph\x7f.</p><p>Second\u202e paragraph.</p>"
        "</article></body></html>"
    )
    page = extract_page(html.encode(), "https://e.org/", ArticleSelectors(text="article"), HTML)
    assert page.title == "Ministry red title"
    assert page.text == "First paragraph.\n\nSecond paragraph."


def test_text_read_by_the_generic_extractor_holds_no_controls() -> None:
    """Without a text selector (trafilatura), control characters and sequences leave no trace."""
    html = (
        "<html><head><title>Ministry \x1b[31mred\x1b[0m title\x9b</title></head><body><article>"
        "<p>First \x1b]0;pwned\x07paragraph\x7f about \x1b[1mgallium\x1b[0m export controls.</p>"
        "<p>Second\u202e paragraph on the ministry's rules for germanium and antimony.</p>"
        "</article></body></html>"
    )
    page = extract_page(html.encode(), "https://e.org/", ArticleSelectors(), HTML)
    assert page.text_extractor == "trafilatura" and page.title == "Ministry red title"
    assert page.text.startswith("First paragraph about gallium export controls.")
    assert "antimony" in page.text and page.text == strip_controls(page.text)
    assert not any(remnant in page.text for remnant in ("[1m", "[0m", "]0;", "pwned"))
    assert not [c for c in page.text if (ord(c) < 32 and c not in "\t\n") or 127 <= ord(c) < 160]


def test_a_hostile_feed_entry_fails_alone() -> None:
    """An entry whose title is nested past MAX_NESTING is reported; the other entries are read."""
    deep = "&lt;b&gt;" * 1_000 + "x"
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f'<item><title type="html">{deep}</title><link>https://e.org/bad</link></item>'
        "<item><title>Good</title><link>https://e.org/good</link></item></channel></rss>"
    )
    errors: list[str] = []
    entries = parse_feed(feed.encode(), "https://e.org/feed", on_error=errors.append)
    assert [entry.title for entry in entries] == ["Good"]
    assert len(errors) == 1 and errors[0].startswith("https://e.org/bad: TooDeep: HTML nested")


# The page vocabulary


def test_boilerplate_hints_come_from_the_page_vocabulary() -> None:
    """The shipped pages.yaml lists the hints; a tag whose class holds one is boilerplate."""
    hints = load_page_words().boilerplate
    assert "newsletter" in hints
    assert boilerplate_pattern().search("Site-NewsletterBox") is not None
    assert boilerplate_pattern().search("article-body") is None


@pytest.mark.parametrize("document", ["boilerplate: []\n", "boilerplate: [nav, 3]\n", "- nav\n"])
def test_a_page_vocabulary_without_a_word_list_is_refused(tmp_path: Path, document: str) -> None:
    """An empty, mistyped or missing boilerplate list is an error naming the file."""
    path = tmp_path / "pages.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"pages\.yaml"):
        load_page_words(path)
