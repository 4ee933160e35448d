"""Thousands of real-world feeds and pages, served over loopback: a result or a classified failure each.

The feeds are feedparser's own test suite (`make corpus` unpacks it at install time): RSS, Atom
and RDF with malformed XML, odd encodings, entities and compressed bodies. The pages are the same
files, the bundled snapshot's real article pages and hostile pages made here (huge, deeply nested,
binary, mislabelled charsets). A crash fails the test with the file's name; a hang stops the run.
"""

from __future__ import annotations

import faulthandler
import os
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from models.source import ArticleSelectors
from pipeline.config.settings import HttpSettings
from pipeline.fetching.feeds import parse_feed
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import build_client, fetch
from pipeline.fetching.pages import extract_page
from tests.conftest import PROJECT
from tests.servers import Behaviour, gzip_bomb, respond, serve

CORPUS = Path(os.environ.get("NEWSTRACK_CORPUS", PROJECT / ".venv" / "corpus"))
FEEDS = CORPUS / "feedparser-6.0.11" / "tests"
SETTINGS = HttpSettings(
    user_agent="newstrack-tests/1.0 (+https://example.org/bot)",
    connect_timeout=2.0,
    read_timeout=5.0,
    total_timeout=10.0,
    max_body_bytes=8_000_000,
    retries=0,
)
NEWS = CORPUS / "newspaper4k-0.9.6" / "tests" / "data"  # real news pages and their article text
LANGUAGES = {"arabic": "ar", "burmese": "my", "chinese": "zh", "japanese": "ja", "latvian": "lv"}
LANGUAGES |= {"spanish": "es", "thai": "th"}
HANG_LIMIT = 120  # seconds one file may take before the run is stopped with every thread's stack


def _corpus_files() -> list[Path]:
    if not FEEDS.is_dir():
        pytest.fail(f"{FEEDS} is missing: run `make corpus` (tests/corpus/requirements.txt)")
    return sorted(path for path in FEEDS.rglob("*") if path.is_file() and path.suffix != ".py")


def _served(path: Path) -> Behaviour:
    """A corpus file as a server sends it: compressed files with their Content-Encoding."""
    body = path.read_bytes()
    if path.suffix == ".gz":
        return respond(200, body, {"Content-Encoding": "gzip"}, "application/xml")
    if path.suffix == ".z":
        return respond(200, body, {"Content-Encoding": "deflate"}, "application/xml")
    return respond(200, body, content_type="application/xml")


def _hostile_pages() -> dict[str, Behaviour]:
    """Pages made to hurt a parser: size, depth, binary, wrong labels, entity floods."""
    paragraph = "<p>China restricted exports of gallium and germanium, officials said.</p>"
    reports = "".join(
        f"<p>Report {n}: China restricted exports of gallium, officials said.</p>"
        for n in range(50_000)
    )
    huge = f"<html><body><article>{reports}</article></body></html>".encode()
    deep = ("<div>" * 20_000 + paragraph + "</div>" * 20_000).encode()
    latin1 = "<html><body><p>Le ministère a restreint l'exportation de gallium.</p></body></html>"
    return {
        "/hostile/huge": respond(200, huge, content_type="text/html; charset=utf-8"),
        "/hostile/deep": respond(200, deep, content_type="text/html"),
        "/hostile/binary": respond(200, os.urandom(200_000), content_type="text/html"),
        "/hostile/nul": respond(
            200, b"<html>\x00<body>\x00<p>a\x00b</p>", content_type="text/html"
        ),
        "/hostile/utf16-no-bom": respond(200, latin1.encode("utf-16-le"), content_type="text/html"),
        "/hostile/latin1-as-utf8": respond(
            200, latin1.encode("latin-1"), content_type="text/html; charset=utf-8"
        ),
        "/hostile/unknown-charset": respond(
            200, latin1.encode(), content_type="text/html; charset=x-no-such"
        ),
        "/hostile/entities": respond(
            200, ("<p>" + "&amp;&#0;&#x110000;&nosuch;&#128512;" * 50_000 + "</p>").encode()
        ),
        "/hostile/gzip-bomb": gzip_bomb(),
        "/hostile/deflate-garbage": respond(
            200, zlib.compress(b"x")[:-3] + b"\xff" * 50, {"Content-Encoding": "deflate"}
        ),
        "/hostile/empty": respond(200, b"", content_type="text/html"),
        "/hostile/script-only": respond(
            200, b"<html><script>" + b"var a=1;" * 100_000 + b"</script></html>"
        ),
    }


@contextmanager
def _watchdog() -> Iterator[None]:
    """Stop the whole run with every thread's stack if one item takes longer than HANG_LIMIT."""
    faulthandler.dump_traceback_later(HANG_LIMIT, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _each(
    routes: dict[str, Behaviour], read: Callable[[bytes, str, dict[str, str]], object]
) -> tuple[Counter[str], dict[str, str]]:
    """Fetch every route over loopback and read it; count outcomes, keep unexpected errors."""
    outcomes: Counter[str] = Counter()
    crashes: dict[str, str] = {}
    with serve(routes, max_requests=len(routes) + 10) as server, build_client(SETTINGS) as client:
        for path in routes:
            with _watchdog():
                result = fetch(client, server.url(path), SETTINGS)
                if not result.ok:
                    assert result.error, path  # a classified failure says why
                    outcomes[f"fetch {result.outcome}"] += 1
                    continue
                try:
                    read(result.body, result.final_url, dict(result.headers))
                except ParseError as error:
                    assert server.url(path) in str(error), (path, error)  # names the item
                    outcomes["parse error"] += 1
                except Exception as error:
                    crashes[path] = f"{type(error).__name__}: {error}"
                else:
                    outcomes["read"] += 1
    return outcomes, crashes


def test_every_corpus_feed_is_read_or_refused_with_a_reason() -> None:
    """About 2,250 real-world feeds: entries or a ParseError naming the URL, never a crash."""
    files = _corpus_files()
    routes = {"/" + str(path.relative_to(FEEDS)): _served(path) for path in files}
    entries: Counter[str] = Counter()

    def read(body: bytes, url: str, headers: dict[str, str]) -> object:
        found = parse_feed(body, url, headers)
        entries["entries"] += len(found)
        entries["titled"] += sum(bool(entry.title) for entry in found)
        assert all(entry.url.startswith(("http://", "https://")) for entry in found), url
        return found

    outcomes, crashes = _each(routes, read)
    assert not crashes, crashes
    assert len(files) > 2000 and sum(outcomes.values()) == len(files)
    assert outcomes["read"] > 1500  # most of the suite is well-formed: they are read, not refused
    assert outcomes["parse error"] > 0  # and the ill-formed ones are refused with a reason
    assert entries["entries"] > 50 and entries["titled"] > 20  # most cases test one element


def test_every_corpus_page_is_read_or_refused_with_a_reason() -> None:
    """The corpus files as pages, the snapshot's real pages and hostile pages: text or ParseError."""
    routes = {"/feeds/" + str(path.relative_to(FEEDS)): _served(path) for path in _corpus_files()}
    for path in sorted((PROJECT / "snapshot").rglob("*.html")):
        routes["/snapshot/" + str(path.relative_to(PROJECT / "snapshot"))] = respond(
            200, path.read_bytes(), content_type="text/html"
        )
    routes |= _hostile_pages()
    texts: dict[str, str] = {}

    def read(body: bytes, url: str, headers: dict[str, str]) -> object:
        page = extract_page(body, url, ArticleSelectors(), headers)
        assert page.text.strip() and "\x00" not in page.text, url
        texts[url] = page.text
        return page

    outcomes, crashes = _each(routes, read)
    assert not crashes, crashes
    assert sum(outcomes.values()) == len(routes)
    snapshot_read = {url.split("/snapshot/")[1] for url in texts if "/snapshot/" in url}
    snapshot_pages = {path for path in routes if path.startswith("/snapshot/")}
    assert len(snapshot_pages) == 54  # listings too: today's list their titles as text
    assert snapshot_read == {path.removeprefix("/snapshot/") for path in snapshot_pages}
    huge = next(text for url, text in texts.items() if url.endswith("/hostile/huge"))
    assert huge.count("gallium") == 50_000  # a 3.6 MB page is read whole, not cut
    assert outcomes["fetch hard"] >= 1  # the gzip bomb inflates past the size cap: refused


def test_real_news_pages_give_their_article_text() -> None:
    """30 saved news pages (CNN, Time, Wired, Arabic, Burmese, Chinese, Thai ...): the article's text, whole."""
    if not (NEWS / "html").is_dir():
        pytest.fail(f"{NEWS} is missing: run `make corpus` (tests/corpus/requirements.txt)")
    pages = sorted((NEWS / "html").glob("*.html"))
    routes = {
        f"/news/{path.name}": respond(200, path.read_bytes(), content_type="text/html")
        for path in pages
    }
    read_pages: dict[str, tuple[str, str | None]] = {}

    def read(body: bytes, url: str, headers: dict[str, str]) -> object:
        page = extract_page(body, url, ArticleSelectors(), headers)
        read_pages[url.rsplit("/", 1)[1]] = (page.text, page.language)
        return page

    outcomes, crashes = _each(routes, read)
    assert not crashes, crashes
    assert (
        len(pages) == 30 and outcomes["read"] == 28
    )  # a redirect stub and an RSS sample are refused
    recalls = {}
    for name, (text, language) in read_pages.items():
        expected = NEWS / "txt" / name.replace(".html", ".txt")
        if expected.is_file():
            recalls[name] = _recall(expected.read_text(encoding="utf-8"), text)
        kind = name.split("_")[0]
        if kind in LANGUAGES:
            assert language == LANGUAGES[kind], name
    assert len(recalls) == 23
    assert all(words >= 0.85 and paragraphs >= 0.7 for words, paragraphs in recalls.values()), (
        recalls
    )


def _recall(expected: str, text: str) -> tuple[float, float]:
    """Of the expected article text: the share of its words read, and of its paragraphs found whole."""
    words = re.findall(r"\w+", expected.lower())
    read_words = set(re.findall(r"\w+", text.lower()))
    paragraphs = [
        " ".join(line.split()) for line in expected.splitlines() if len(line.strip()) > 40
    ]
    flat = " ".join(text.split())
    return (
        sum(word in read_words for word in words) / len(words),
        sum(paragraph[:60] in flat for paragraph in paragraphs) / max(1, len(paragraphs)),
    )
