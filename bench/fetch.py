"""Fetch throughput against loopback news hosts: a cold run, then a warm run of conditional GETs.

Usage: python bench/fetch.py [--hosts 20] [--feeds-per-host 10] [--entries 5] [--delay 0.05]
                             [--interval 0.05] [--workers N]
Starts one HTTP server per host (127.0.0.2, 127.0.0.3, ... when they can be bound, else ports on
127.0.0.1), each serving RSS feeds whose entries carry teasers, so every entry's article page is
fetched too; feeds answer 304 to a matching If-None-Match. Runs `fetch_sources` twice into a
scratch SQLite database and prints, per run, wall time, requests served, requests per second and
articles stored, the second run's time as a ratio of the first, and the peak resident memory
(servers included: they run in this process).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from models.source import ArticleSelectors, SourceConfig
from pipeline.config.settings import Settings
from pipeline.fetching.http import build_client
from pipeline.flows.fetch import FetchSummary, fetch_sources
from storage.engine import make_session_factory, open_engine
from storage.migrate import upgrade

COUNTRIES = ["China", "Indonesia", "Chile", "Australia", "Canada", "Japan", "Vietnam", "Zimbabwe"]
BUYERS = ["the European Union", "the United States", "South Korea", "India", "Germany", "Brazil"]
MINERALS = ["gallium", "germanium", "graphite", "antimony", "cobalt", "lithium", "nickel"]
FIRMS = ["Fastmarkets", "Benchmark Minerals", "Argus", "CRU Group", "Wood Mackenzie", "Macquarie"]
MONTHS = ["January", "March", "April", "June", "August", "September", "November", "December"]
SENTENCES = [
    "{country}'s commerce ministry said it would tighten export controls on {mineral}, citing national security and the need to protect domestic processing.",
    "Exporters of {mineral} will need licences for shipments above {n} tonnes from {month} 1, the ministry said in a statement.",
    "Analysts at {firm} said the move could push {mineral} prices up by {pct} percent in the coming weeks.",
    "Officials in {buyer} said they were studying the measures and would consult industry groups before responding.",
    "Traders reported that spot prices for {mineral} rose {pct} percent to ${price} per kilogram on {month} {day}.",
    "The ministry said the rules would not apply to contracts signed before {month} {day}.",
    "Industry groups in {buyer} warned that the restrictions could disrupt supply chains for batteries, chips and defence equipment.",
    "{buyer} separately announced a tariff of {pct} percent on imports of processed {mineral} from {country}.",
    "Customs data showed shipments of {mineral} fell to {n} tonnes in {month}, down {pct} percent from a year earlier.",
    "A spokesperson for {firm} said buyers held enough inventory to cover about {months} months of demand.",
    "Several refiners said they had applied for export licences for {mineral} but had yet to receive them.",
    "The measures follow a similar ban on {mineral} exports announced by {country} in {month} of last year.",
]


def article_text(rng: random.Random, words: int = 300) -> tuple[str, list[str]]:
    """A headline and about `words` words of news-like paragraphs."""
    country, mineral = rng.choice(COUNTRIES), rng.choice(MINERALS)
    title = f"{country} tightens {mineral} export rules as {rng.choice(BUYERS)} weighs response"
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(2, 4)):
            sentence = rng.choice(SENTENCES).format(
                country=country,
                mineral=mineral,
                buyer=rng.choice(BUYERS),
                firm=rng.choice(FIRMS),
                month=rng.choice(MONTHS),
                day=rng.randint(1, 28),
                n=rng.randint(5, 900),
                pct=rng.randint(2, 45),
                price=rng.randint(100, 2000),
                months=rng.randint(2, 9),
            )
            sentences.append(sentence)
            count += len(sentence.split())
        paragraphs.append(" ".join(sentences))
    return title, paragraphs


def build_host(
    base: str, host: int, feeds: int, entries: int
) -> dict[str, tuple[bytes, str, str | None]]:
    """The pages of one host by path: (body, content type, ETag or None)."""
    pages: dict[str, tuple[bytes, str, str | None]] = {}
    moment = datetime(2025, 6, 1, tzinfo=UTC)
    for feed in range(feeds):
        items = []
        for entry in range(entries):
            rng = random.Random(f"{host}/{feed}/{entry}")
            title, paragraphs = article_text(rng)
            path = f"/articles/{feed}/{entry}.html"
            body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
            html = f'<!doctype html><html lang="en"><head><title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>'
            pages[path] = (html.encode(), "text/html; charset=utf-8", None)
            published = format_datetime(moment - timedelta(hours=host * 50 + feed * 5 + entry))
            teaser = escape(paragraphs[0].split(". ")[0] + ".")
            items.append(
                f"<item><title>{escape(title)}</title><link>{base}{path}</link>"
                f"<guid>{base}{path}</guid><pubDate>{published}</pubDate>"
                f"<description>{teaser}</description></item>"
            )
        rss = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Host {host} feed {feed}</title><link>{base}/</link>"
            f"<description>Critical minerals news</description>{''.join(items)}</channel></rss>"
        ).encode()
        etag = f'"{hashlib.sha256(rss).hexdigest()[:16]}"'
        pages[f"/feeds/{feed}.xml"] = (rss, "application/rss+xml; charset=utf-8", etag)
    return pages


class NewsServer(ThreadingHTTPServer):
    """One news host: fixed pages, a delay per response, and a count of requests by status."""

    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, address: str, delay: float) -> None:
        """Bind to `address` on a free port."""
        super().__init__((address, 0), NewsHandler)
        self.delay = delay
        self.pages: dict[str, tuple[bytes, str, str | None]] = {}
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client drops a kept-alive connection: that is how runs end."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def base(self) -> str:
        """The server's root URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class NewsHandler(BaseHTTPRequestHandler):
    """Serves a NewsServer's pages, with ETag validation on feeds."""

    server: NewsServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real news sites do
    timeout = 5.0  # an idle kept-alive connection ends after this

    def do_GET(self) -> None:
        """Answer 200, 304 or 404 after the server's delay."""
        time.sleep(self.server.delay)
        page = self.server.pages.get(self.path)
        headers: dict[str, str] = {}
        if page is None:
            status, body = 404, b"not found"
        else:
            body, headers["Content-Type"], etag = page
            status = 200
            if etag is not None:
                headers["ETag"] = etag
                wanted = {tag.strip() for tag in self.headers.get("If-None-Match", "").split(",")}
                if etag in wanted:
                    status, body = 304, b""
        with self.server.lock:
            self.server.statuses[status] += 1
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


def loopback_addresses(count: int) -> list[str]:
    """127.0.0.2, 127.0.0.3, ... when this system lets us bind them, else 127.0.0.1 each time."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return ["127.0.0.1"] * count
    return [f"127.0.0.{2 + i}" for i in range(count)] if count <= 253 else ["127.0.0.1"] * count


def served(servers: list[NewsServer]) -> Counter[int]:
    """Requests answered so far by status, over all servers."""
    total: Counter[int] = Counter()
    for server in servers:
        with server.lock:
            total.update(server.statuses)
    return total


def main() -> int:
    """Start the hosts, run the fetch job twice and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="news hosts (default 20)")
    parser.add_argument(
        "--feeds-per-host", type=int, default=10, help="feeds per host (default 10)"
    )
    parser.add_argument("--entries", type=int, default=5, help="entries per feed (default 5)")
    parser.add_argument("--delay", type=float, default=0.05, help="server delay, s (default 0.05)")
    parser.add_argument(
        "--interval", type=float, default=0.05, help="per-host interval, s (default 0.05)"
    )
    parser.add_argument("--workers", type=int, help="fetch workers (default: Settings())")
    args = parser.parse_args()

    addresses = loopback_addresses(args.hosts)
    servers = [NewsServer(address, args.delay) for address in addresses]
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}) for s in servers
    ]
    for thread in threads:
        thread.start()
    sources: list[SourceConfig] = []
    for host, server in enumerate(servers):
        server.pages = build_host(server.base, host, args.feeds_per_host, args.entries)
    for feed in range(args.feeds_per_host):  # interleaved: consecutive sources on different hosts
        for host, server in enumerate(servers):
            sources.append(
                SourceConfig(
                    name=f"host{host:02d}-feed{feed:02d}",
                    kind="rss",
                    urls=(f"{server.base}/feeds/{feed}.xml",),
                    max_articles=args.entries,
                    article=ArticleSelectors(text="article"),
                )
            )
    defaults = Settings()
    http = replace(
        defaults.http,
        per_host_interval=args.interval,
        retries=0,
        fetch_workers=args.workers or defaults.http.fetch_workers,
    )
    settings = replace(defaults, http=http)
    distinct = len(set(addresses))
    print(
        f"hosts: {args.hosts} ({'distinct addresses' if distinct > 1 else 'ports on 127.0.0.1'})"
        f"  feeds: {len(sources)}  articles: {len(sources) * args.entries}"
    )
    print(
        f"delay: {args.delay * 1000:g} ms  interval: {http.per_host_interval:g} s"
        f"  per-host connections: {http.per_host_connections}  workers: {http.fetch_workers}"
    )
    times: list[float] = []
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            open_engine(f"sqlite:///{folder}/fetch.db") as engine,
            build_client(http) as client,
        ):
            upgrade(engine)
            session_factory = make_session_factory(engine)
            for run in (1, 2):
                before = served(servers)
                started = time.perf_counter()
                summary: FetchSummary = fetch_sources(session_factory, client, sources, settings)
                elapsed = time.perf_counter() - started
                times.append(elapsed)
                counts = served(servers) - before
                requests = sum(counts.values())
                by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
                print(
                    f"run {run}: {elapsed:.2f} s, {requests} requests ({by_status}),"
                    f" {requests / elapsed:.1f} requests/s, {summary.stored} articles stored,"
                    f" {len(summary.failed)} sources failed"
                )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()
    print(f"ratio run 2 / run 1 time: {times[1] / times[0]:.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
