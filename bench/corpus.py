"""A reproducible news corpus for benchmarks: feeds and article pages served on loopback.

Each article mixes 12 to 24 sentences drawn from the bundled snapshot's real articles with, in
four articles out of ten, one generated sentence reporting a trade measure: one of seven actors,
nine actions, thirty critical minerals and a date in 2024 to 2026. So texts read like the news
newstrack is for, most kinds of event are reported several times, and nothing repeats exactly.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Behaviour, LoopbackHTTPServer, respond, serve

PROJECT = Path(__file__).resolve().parent.parent
ACTORS = [
    "China's Ministry of Commerce",
    "MOFCOM",
    "The U.S. Commerce Department",
    "The European Commission",
    "Japan's trade ministry",
    "Indonesia's government",
    "The Office of the U.S. Trade Representative",
]
ACTIONS = [
    "imposed export controls on {elements}",
    "banned exports of {elements} to the United States",
    "announced restrictions on shipments of {elements}",
    "lifted its ban on exports of {elements}",
    "suspended export controls on {elements} for 90 days",
    "extended its export licence requirements for {elements}",
    "raised tariffs on imports of {elements} to 25%",
    "added 12 companies trading {elements} to its entity list",
    "eased export curbs on {elements}",
]
ELEMENTS = [
    "gallium", "germanium", "antimony", "graphite", "tungsten", "cobalt", "lithium", "nickel",
    "dysprosium", "terbium", "samarium", "gadolinium", "lutetium", "scandium", "yttrium",
    "neodymium", "praseodymium", "indium", "bismuth", "tellurium", "molybdenum", "magnesium",
    "manganese", "vanadium", "titanium", "zirconium", "hafnium", "niobium", "tantalum", "beryllium",
]  # fmt: skip
FIRST_DAY = date(2024, 1, 1)
DAYS = 1030  # up to late October 2026
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><nav><a href="/">Home</a> <a href="/markets">Markets</a></nav><article><h1>{title}</h1>
<time datetime="{published}">{published}</time>{paragraphs}</article>
<footer>Copyright Bench News. All rights reserved.</footer></body></html>"""


@cache
def sentence_pool() -> tuple[str, ...]:
    """Sentences of the snapshot's recorded article pages, read as newstrack reads them."""
    from models.source import ArticleSelectors
    from pipeline.fetching.guards import ParseError
    from pipeline.fetching.pages import extract_page

    sentences: list[str] = []
    for path in sorted((PROJECT / "snapshot").rglob("*.html")):
        try:
            text = extract_page(
                path.read_bytes(), f"https://bench.example/{path.name}", ArticleSelectors()
            ).text
        except ParseError:
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            if 8 <= len(sentence.split()) <= 45:
                sentences.append(sentence.strip())
    return tuple(dict.fromkeys(sentences))


def measure_sentence(rng: random.Random) -> str:
    """One generated report of a trade measure."""
    elements = rng.sample(ELEMENTS, rng.choice([1, 1, 2, 3]))
    named = elements[0] if len(elements) == 1 else ", ".join(elements[:-1]) + " and " + elements[-1]
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    action = rng.choice(ACTIONS).format(elements=named)
    return f"{rng.choice(ACTORS)} {action} on {day:%B} {day.day}, {day.year}, officials said."


def article(number: int) -> tuple[str, datetime, str]:
    """Title, publication time and body text of article `number`, the same on every run."""
    rng = random.Random(number)
    pool = sentence_pool()
    sentences = rng.sample(pool, rng.randint(12, 24))
    if rng.random() < 0.4:
        sentences.insert(rng.randrange(len(sentences) + 1), measure_sentence(rng))
    published = datetime(2026, 10, 31, tzinfo=UTC) - timedelta(minutes=7 * number)
    return f"Markets report {number}: {sentences[0][:60]}", published, " ".join(sentences)


def page(number: int) -> bytes:
    """Article `number` as an HTML page, a paragraph per two or three sentences."""
    title, published, text = article(number)
    parts = re.split(r"(?<=[.!?])\s+", text)
    paragraphs = "".join(
        f"<p>{escape(' '.join(parts[start : start + 3]))}</p>" for start in range(0, len(parts), 3)
    )
    return PAGE.format(
        title=escape(title), published=published.isoformat(), paragraphs=paragraphs
    ).encode()


def routes(articles: int, feeds: int) -> dict[str, Behaviour]:
    """Feeds and pages: article n is listed by feed n % feeds; pages are made when asked for."""
    served: dict[str, Behaviour] = {}
    for feed in range(feeds):
        numbers = range(feed, articles, feeds)
        items = "".join(
            f"<item><title>{escape(article(n)[0])}</title><link>/a/{n}</link>"
            f"<pubDate>{format_datetime(article(n)[1])}</pubDate></item>"
            for n in numbers
        )
        served[f"/feed/{feed}"] = respond(
            200,
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench {feed}</title>'
            f"{items}</channel></rss>".encode(),
            content_type="application/rss+xml",
        )
    for n in range(articles):
        served[f"/a/{n}"] = _lazy_page(n)
    return served


def _lazy_page(number: int) -> Behaviour:
    def behave(handler: object) -> None:
        respond(200, page(number), content_type="text/html; charset=utf-8")(handler)  # type: ignore[arg-type]

    return behave


def sources_yaml(server_url: str, feeds: int, folder: Path) -> Path:
    """A sources.yaml with one RSS source per feed of the server."""
    path = folder / "sources.yaml"
    path.write_text(
        "sources:\n"
        + "".join(
            f"  - {{name: feed{f}, kind: rss, urls: ['{server_url}/feed/{f}']}}\n"
            for f in range(feeds)
        ),
        encoding="utf-8",
    )
    return path


def environment(database_url: str, sources: Path, articles: int) -> dict[str, str]:
    """NEWSTRACK_* settings that let one run take every article of the loopback server at once."""
    return {
        "NEWSTRACK_DB": database_url,
        "NEWSTRACK_SOURCES": str(sources),
        "NEWSTRACK_MAX_ARTICLES": str(articles),
        "NEWSTRACK_PER_HOST_INTERVAL": "0",
        "NEWSTRACK_PER_HOST_CONNECTIONS": "16",
        "NEWSTRACK_OBEY_ROBOTS": "0",
    }


@contextmanager
def served(articles: int, feeds: int) -> Iterator[tuple[LoopbackHTTPServer, Path]]:
    """The corpus on a loopback server, with a scratch folder holding its sources.yaml."""
    with (
        serve(routes(articles, feeds), max_requests=(articles + feeds) * 4 + 100) as server,
        tempfile.TemporaryDirectory() as folder,
    ):
        yield server, sources_yaml(server.base_url, feeds, Path(folder))
