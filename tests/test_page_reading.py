"""Reading an article page from one parse: the lxml tree trafilatura reads, or BeautifulSoup's."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.source import ArticleSelectors
from pipeline.fetching.blocks import trafilatura_text
from pipeline.fetching.encoding import body_encoding
from pipeline.fetching.markup import (
    LXML_DEPTH,
    MAX_NESTING,
    PageMarks,
    parse_html,
    parse_tree,
    soup_marks,
    strip_sequences,
    tree_marks,
)
from pipeline.fetching.pages import extract_page
from tests.conftest import PROJECT

FIXTURES = Path(__file__).parent / "fixtures"
HTML = {"content-type": "text/html"}
PARAGRAPH = "<p>China's Commerce Ministry imposed export controls on gallium, it said.</p>"
# Threads that parse pages (lxml adding their tag names to its string dictionary while the
# GIL is free) while others rename tags (adding names with the GIL held), as trafilatura does.
THREADS_AT_ONCE = """
import threading
from pipeline.fetching.markup import parse_tree

THREADS, PAGES, TAGS = 6, 3, 20_000
def page(thread, number):
    name = f"x-{thread}-{number}"
    return "<html><body>" + "".join(f"<{name}-{i}>w</{name}-{i}>" for i in range(TAGS)) + "</body></html>"
markups = {thread: [page(thread, number) for number in range(PAGES)] for thread in range(THREADS)}
start = threading.Barrier(THREADS)
def read(thread):
    start.wait()
    for number, markup in enumerate(markups[thread]):
        for index, element in enumerate(parse_tree(markup).iter()):
            element.tag = f"y-{thread}-{number}-{index}"
workers = [threading.Thread(target=read, args=(thread,)) for thread in range(THREADS)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print("read")
"""


def _recorded_pages() -> list[Path]:
    return [FIXTURES / "cnbc-article.html", *sorted((PROJECT / "snapshot").rglob("*.html"))]


def _markup(body: bytes) -> str:
    return strip_sequences(body.decode(body_encoding(body, HTML) or "utf-8", errors="replace"))


def _parses(read: Callable[[], object]) -> Counter[str]:
    """How often a reading parses markup with lxml alone and with BeautifulSoup."""
    parses: Counter[str] = Counter()

    def profile(frame: object, event: str, argument: object) -> None:
        code = getattr(frame, "f_code", None)
        if event == "call" and code is not None:
            if code.co_name == "document_fromstring" and "lxml" in code.co_filename:
                parses["lxml"] += 1
            elif code.co_name == "__init__" and code.co_filename.endswith("bs4/__init__.py"):
                parses["BeautifulSoup"] += 1

    sys.setprofile(profile)
    try:
        read()
    finally:
        sys.setprofile(None)
    return parses


def test_a_page_without_selectors_is_parsed_once() -> None:
    """Title, date, language and text come from trafilatura's tree: no parse beside its own."""
    body = (FIXTURES / "cnbc-article.html").read_bytes()
    markup = _markup(body)
    alone = _parses(lambda: trafilatura_text(markup, "https://e.org/a"))
    assert alone["lxml"] >= 1 and not alone["BeautifulSoup"]
    read = _parses(lambda: extract_page(body, "https://e.org/a", ArticleSelectors(), HTML))
    assert read == alone
    page = extract_page(body, "https://e.org/a", ArticleSelectors(), HTML)
    assert page.text_extractor == "trafilatura"
    assert page.published == datetime(2023, 4, 28, 18, 23, tzinfo=UTC)
    assert page.title.startswith("31% of new crypto buyers influenced by friends")


def test_a_page_read_with_selectors_is_parsed_by_beautifulsoup_once() -> None:
    """Selectors need BeautifulSoup: it parses the page once, and lxml does not parse it too."""
    body = (FIXTURES / "cnbc-article.html").read_bytes()
    selectors = ArticleSelectors(text="div.ArticleBody-articleBody")
    read = _parses(lambda: extract_page(body, "https://e.org/a", selectors, HTML))
    assert read == Counter({"BeautifulSoup": 1})


@pytest.mark.parametrize("path", _recorded_pages(), ids=lambda path: path.name)
def test_the_tree_and_the_soup_give_the_same_marks(path: Path) -> None:
    """On recorded pages the lxml tree and BeautifulSoup read the same title, dates, lang and meta."""
    markup = _markup(path.read_bytes())
    tree = parse_tree(markup)
    assert tree is not None, path
    assert tree_marks(tree) == soup_marks(parse_html(markup))


def test_meta_by_property_first_then_by_name() -> None:
    """A property wins over a name; the first tag of each counts, even with no content."""
    markup = (
        '<html><head><meta name="date" content="by name"><meta property="date" content=" by  '
        'property "><meta property="date" content="second"><meta property="empty">'
        '<meta name="empty" content="by name"></head><body><p>x</p></body></html>'
    )
    for marks in (soup_marks(parse_html(markup)), tree_marks(parse_tree(markup))):
        assert marks.meta("date") == "by property"
        assert marks.meta("empty") == ""
        assert marks.meta("missing") == ""
    assert PageMarks(by_name={"date": "x"}).meta("date") == "x"


def test_marks_are_read_from_the_whole_document_of_a_fragment() -> None:
    """lxml gives a lone element for markup it takes for a fragment; marks still come from <html>."""
    markup = '<!-- saved --><html lang="fr"><body><div><p>Texte court.</p></div></body></html>'
    tree = parse_tree(markup)
    assert tree is not None and tree.tag == "div"  # the fragment case, not the whole document
    assert tree_marks(tree).lang == "fr"
    page = extract_page(markup.encode(), "https://e.org/a", ArticleSelectors(), HTML)
    assert (page.text, page.language) == ("Texte court.", "fr")


@pytest.mark.parametrize("depth", [LXML_DEPTH - 10, LXML_DEPTH + 10, MAX_NESTING - 10])
def test_a_page_nested_deeper_than_lxml_builds_is_read_whole(depth: int) -> None:
    """lxml cuts a tree short at LXML_DEPTH: such a page is read by BeautifulSoup, text and all."""
    markup = "<html><body>" + "<div>" * depth + PARAGRAPH + "</div>" * depth + "</body></html>"
    assert (parse_tree(markup) is None) == (depth + 3 >= LXML_DEPTH)
    page = extract_page(markup.encode(), "https://e.org/a", ArticleSelectors(), HTML)
    assert "export controls on gallium" in page.text


def test_an_unterminated_sequence_in_markup_stops_at_the_next_tag() -> None:
    """An OSC sequence with no end does not swallow the rest of the page."""
    html = "<html><body><article><p>Lead \x1b]0;title</p><p>Gallium exports fell.</p></article>"
    assert strip_sequences(html) == html.replace("\x1b]0;title", "")
    page = extract_page(html.encode(), "https://e.org/", ArticleSelectors(), HTML)
    assert "Gallium exports fell." in page.text


def test_soupsieve_selectors_keep_working() -> None:
    """A selector using soupsieve's own pseudo-classes still picks the article text."""
    html = (
        "<html><body><div class='x'><p>Menu</p></div><div class='x'><p>Export controls on "
        "gallium, the ministry said.</p></div></body></html>"
    )
    selectors = ArticleSelectors(text='div.x:-soup-contains("gallium")')
    page = extract_page(html.encode(), "https://e.org/", selectors, HTML)
    assert (page.text, page.text_extractor) == (
        "Export controls on gallium, the ministry said.",
        "selectors",
    )


def test_threads_parsing_at_once_each_have_their_own_lxml_dictionary() -> None:
    """Fetching threads read pages at once: sharing trafilatura's parser must not corrupt memory.

    Run in a child process, as a corrupted heap aborts the process (it did, every run, before
    each thread got a dictionary of its own).
    """
    child = subprocess.run(
        [sys.executable, "-c", THREADS_AT_ONCE],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=120,
    )
    assert (child.returncode, child.stdout.strip()) == (0, "read"), child.stderr[-3000:]
