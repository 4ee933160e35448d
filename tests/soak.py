"""A soak of the fetchers: many loopback sources, a mix of misbehaving ones, several cycles.

Shared by tests/test_soak.py (a small soak) and bench/soak.py (2,000 sources). Each cycle every
good feed lists two more articles; the others are slow, answer 500, loop redirects, send truncated
bodies or gzip bombs, or hang up. After each cycle the process's open files, threads and resident
memory are read, and the store is checked: every good article once, nothing from the others.
"""

from __future__ import annotations

import gc
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import func, select

from models import Article
from models.source import SourceConfig
from pipeline.config.settings import HttpSettings, Settings
from pipeline.fetching.http import build_client
from pipeline.flows.fetch import fetch_sources
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.sessions import unit_of_work
from tests.servers import (
    Behaviour,
    Handler,
    gzip_bomb,
    hang_up,
    redirect,
    respond,
    serve,
    slow,
    truncated,
)

# One source in twenty of each misbehaviour; the rest (and "charset", mislabelled but readable) are good.
MIX = ("good",) * 12 + ("charset", "slow", "error", "loop", "truncated", "bomb", "hangup", "pages")
GOOD = {"good", "charset", "pages"}
PER_CYCLE = 2  # new articles in each good feed per cycle
WORDS = (
    "China's commerce ministry said on Tuesday it would tighten export controls on gallium and "
    "germanium, two metals used in chips, citing national security, while traders in Europe and "
    "Japan looked for other suppliers and prices rose in Rotterdam. "
)
SETTINGS = HttpSettings(
    user_agent="newstrack-soak/1.0 (+https://example.org/bot)",
    connect_timeout=2.0,
    read_timeout=1.0,
    total_timeout=2.0,
    max_body_bytes=2_000_000,
    retries=0,
    per_host_connections=16,
    per_host_interval=0.0,
    fetch_workers=16,
    obey_robots=False,
)


@dataclass(frozen=True)
class Cycle:
    """What one cycle left behind."""

    number: int
    stored: int  # articles in the store after it
    expected: int  # good articles listed so far
    distinct_urls: int
    open_files: int
    threads: int
    rss_mb: float
    failed_sources: int


def _item(source: int, number: int) -> tuple[str, str]:
    """An item's path and its full text: long enough to be taken from the feed, and its own."""
    words = WORDS.split()
    rng = random.Random(source * 100_003 + number)
    text = " ".join(rng.choice(words) for _ in range(160))
    return f"/s{source}/a{number}", f"Report {source}-{number}. {text}."


def _feed(source: int, cycle: Callable[[], int], links_only: bool, encoding: str) -> Behaviour:
    """A feed listing the articles of every cycle so far, in `encoding`, labelled UTF-8."""

    def behave(handler: Handler) -> None:
        items = []
        for number in range((cycle() + 1) * PER_CYCLE):
            path, text = _item(source, number)
            published = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=number)
            body = (
                ""
                if links_only
                else f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded>"
            )
            items.append(
                f"<item><title>Report {source}-{number} é</title><link>{path}</link><guid>{path}</guid>"
                f"<pubDate>{format_datetime(published)}</pubDate>{body}</item>"
            )
        document = (
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>soak</title>'
            + "".join(items)
            + "</channel></rss>"
        )
        encoded = document.encode(encoding)
        respond(200, encoded, content_type="application/rss+xml; charset=utf-8")(handler)

    return behave


def routes(sources: int, cycle: Callable[[], int]) -> dict[str, Behaviour]:
    """Every source's feed, by its place in MIX, and the article pages the link-only feeds need."""
    served: dict[str, Behaviour] = {}
    for source in range(sources):
        kind = MIX[source % len(MIX)]
        feed = f"/s{source}/feed"
        if kind in GOOD:  # "charset" sends Latin-1 bytes under a UTF-8 label
            encoding = "latin-1" if kind == "charset" else "utf-8"
            served[feed] = _feed(source, cycle, kind == "pages", encoding)
            if kind == "pages":  # only feeds of links send the client to article pages
                served |= {_item(source, n)[0]: _page(source, n) for n in range(64 * PER_CYCLE)}
        elif kind == "slow":
            served[feed] = slow(3.0, respond(200, b"<rss/>"))
        elif kind == "error":
            served[feed] = respond(500, b"boom")
        elif kind == "loop":
            served[feed] = redirect(feed)
        elif kind == "truncated":
            served[feed] = truncated(
                b'<?xml version="1.0"?><rss version="2.0"><channel><item>', 5000
            )
        elif kind == "bomb":
            served[feed] = gzip_bomb(20_000_000)
        else:
            served[feed] = hang_up()
    return served


def _page(source: int, number: int) -> Behaviour:
    """An article page, made when it is asked for."""

    def behave(handler: Handler) -> None:
        _, text = _item(source, number)
        page = f"<html><body><article><h1>Report</h1><p>{text}</p></article></body></html>"
        respond(200, page.encode(), content_type="text/html; charset=utf-8")(handler)

    return behave


def expected_good(sources: int, cycle: int) -> int:
    """Good articles listed after `cycle` (counted from 0)."""
    good_sources = sum(MIX[source % len(MIX)] in GOOD for source in range(sources))
    return good_sources * (cycle + 1) * PER_CYCLE


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def soak(
    sources: int, cycles: int, folder: Path, report: Callable[[Cycle], None] = print
) -> list[Cycle]:
    """Run the cycles against a fresh SQLite file; return what each left behind."""
    current = {"cycle": 0}
    database_url = f"sqlite:///{folder / 'soak.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    session_factory = make_session_factory(engine)
    settings = Settings(database_url=database_url, http=SETTINGS, max_articles_per_source=1000)
    results = []
    with serve(routes(sources, lambda: current["cycle"]), max_requests=10**9) as server:
        configs = [
            SourceConfig(name=f"s{n}", kind="rss", urls=(server.url(f"/s{n}/feed"),))
            for n in range(sources)
        ]
        for cycle in range(cycles):
            current["cycle"] = cycle
            with build_client(settings.http) as client:
                summary = fetch_sources(session_factory, client, configs, settings, force=True)
            server.wait_idle()  # the server's own threads are not the client's to close
            # The engine's pool keeps as many SQLite connections as threads last needed at once,
            # which varies with load; a connection still checked out would stay open and count.
            engine.dispose()
            gc.collect()
            with unit_of_work(session_factory) as session:
                stored, distinct = session.execute(
                    select(func.count(), func.count(func.distinct(Article.url)))
                ).one()
            result = Cycle(
                number=cycle,
                stored=stored,
                expected=expected_good(sources, cycle),
                distinct_urls=distinct,
                open_files=_open_files(),
                threads=threading.active_count(),
                rss_mb=_rss_mb(),
                failed_sources=len(summary.failed),
            )
            report(result)
            results.append(result)
    engine.dispose()
    return results
