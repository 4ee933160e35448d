"""The board's page times on a large store: 10,000 articles, 3,000 events, 30,000 mentions.

Usage: python bench/board.py [--db URL] [--events 3000] [--mentions-per-event 10] [--repeat 20]
       python bench/board.py --report-store 10000 [--repeat 20]
Builds the synthetic store of bench/queries.py (SQLite file by default; PostgreSQL with --db), or
with --report-store N the performance report's store (`newstrack run` on N of bench/corpus.py's
articles served on loopback: slow, about a minute per 600 articles on 2 cores), serves the board
over loopback with uvicorn, and prints each page's median and 95th-percentile time over --repeat
requests (HTML and JSON) over HTTP and in process, against the goal of 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.queries import build
from models import Article, Event, Mention
from pipeline.web import create_app
from storage.engine import make_session_factory, open_reader

GOAL_MS = 200.0


def _pages(url: str) -> list[str]:
    """The pages to time, with ids from the middle of the store."""
    with open_reader(url) as engine, make_session_factory(engine)() as session:
        event_id = session.scalar(
            select(func.min(Event.id)).where(Event.changes_event_id.is_(None))
        )
        middle = session.scalar(select(func.max(Article.id))) or 1
        article_id = session.scalar(
            select(Mention.article_id).where(Mention.article_id >= middle // 2).limit(1)
        )
    pages = [
        "/states.css",  # no database and no template: the floor of a request here
        "/",
        "/?on=2024-06-01",
        "/elements/dysprosium",
        "/elements/heavy rare earths",
        f"/measures/{event_id}",
        f"/events/{event_id}",
        f"/articles/{article_id}",
        "/sources",
        "/search?q=export",
        "/search?element=gallium&actor=CN&since=2024-01-01",
    ]
    return pages + [
        "/api" + ("/today" if page == "/" else page) for page in pages[1:2] + pages[3:9]
    ]


def _report_store(url: str, articles: int) -> None:
    """The performance report's store: `newstrack run` on bench/corpus.py's articles."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus

    with corpus.served(articles, 50) as (_, sources):
        environment = {**os.environ, **corpus.environment(url, sources, articles)}
        command = [sys.executable, "-m", "pipeline.cli", "-q", "run"]
        done = subprocess.run(command, env=environment, check=False, capture_output=True)
        if done.returncode not in (0, 3):
            raise SystemExit(f"newstrack run: exit {done.returncode}: {done.stderr[-500:]!r}")


async def _in_process(app: object, pages: list[str], repeat: int) -> dict[str, float]:
    """Each page's 95th-percentile time through the ASGI app itself, without sockets."""
    found: dict[str, float] = {}
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for page in pages:
            times = []
            for _ in range(repeat):
                begun = time.perf_counter()
                await client.get(page)
                times.append((time.perf_counter() - begun) * 1000)
            found[page] = statistics.quantiles(times, n=20)[-1]
    return found


def main() -> int:
    """Build the store, serve it, time every page, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--mentions-per-event", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--report-store", type=int, metavar="N", help="the report's store of N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'board.db'}"
        started = time.perf_counter()
        if args.report_store:
            _report_store(url, args.report_store)
        else:
            build(url, args.events, args.mentions_per_event)
        print(f"store built in {time.perf_counter() - started:.1f} s")
        pages = _pages(url)
        with open_reader(url) as engine:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            server = uvicorn.Server(uvicorn.Config(create_app(engine), log_level="warning"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.01)
            slowest = 0.0
            inside = asyncio.run(_in_process(create_app(engine), pages, args.repeat))
            with httpx.Client(base_url=base, timeout=60) as client:
                counts = client.get("/api/today").json()["freshness"]
                print(f"{counts['articles']:,} articles, {counts['events']:,} events")
                print(f"{'page':52s} {'HTTP median':>11s} {'p95 ms':>7s} {'in-process p95':>14s}")
                for page in pages:
                    times, status = [], 0
                    for _ in range(args.repeat):
                        begun = time.perf_counter()
                        status = client.get(page).status_code
                        times.append((time.perf_counter() - begun) * 1000)
                    assert status == 200, f"{page}: HTTP {status}"
                    p95 = statistics.quantiles(times, n=20)[-1]
                    slowest = max(slowest, p95)
                    median = statistics.median(times)
                    print(f"{page:52s} {median:11.1f} {p95:7.1f} {inside[page]:14.1f}")
            server.should_exit = True
            thread.join()
            sock.close()
        verdict = "met" if slowest < GOAL_MS else "NOT met"
        print(f"slowest page p95 over HTTP {slowest:.1f} ms: goal of {GOAL_MS:.0f} ms {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
