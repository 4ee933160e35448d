"""Ingestion of the same loopback articles with 1 and with 2 worker processes (distributed mode).

Usage: python bench/workers.py [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]
                               [--articles 2000] [--feeds 20] [--workers 1,2]
Serves --feeds RSS feeds on 127.0.0.1 whose items link to article pages (--articles in all, a
sentence about a critical-mineral measure in each), creates a fresh PostgreSQL database per run,
queues one fetch per feed with `newstrack jobs --fetch`, starts N `newstrack worker --once`
processes, and prints, per N, the wall time until every worker has caught up, articles stored and
extracted, articles per second, and the ratio to one worker.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Behaviour, respond, serve

PROJECT = Path(__file__).resolve().parent.parent
ELEMENTS = ["gallium", "germanium", "antimony", "graphite", "tungsten", "dysprosium", "terbium"]
PAGE = """<!DOCTYPE html><html lang="en"><head><title>{title}</title></head><body><article>
<h1>{title}</h1><p>China's Commerce Ministry imposed export controls on {element} on Sept. {day},
the ministry said, citing national security.</p><p>Traders said prices of {element} rose after the
announcement, and buyers in Japan and Europe sought other suppliers.</p></article></body></html>"""


def routes(articles: int, feeds: int) -> dict[str, Behaviour]:
    """Feeds and pages: article n belongs to feed n % feeds."""
    served: dict[str, Behaviour] = {}
    per_feed: dict[int, list[int]] = {}
    for n in range(articles):
        per_feed.setdefault(n % feeds, []).append(n)
        element = ELEMENTS[n % len(ELEMENTS)]
        body = PAGE.format(title=f"Story {n}", element=element, day=1 + n % 28).encode()
        served[f"/a/{n}"] = respond(200, body, content_type="text/html; charset=utf-8")
    for feed, numbers in per_feed.items():
        items = "".join(
            f"<item><title>Story {n}</title><link>/a/{n}</link>"
            f"<pubDate>Mon, 01 Sep 2025 10:00:00 +0000</pubDate></item>"
            for n in numbers
        )
        served[f"/feed/{feed}"] = respond(
            200,
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>{items}'
            "</channel></rss>".encode(),
            content_type="application/rss+xml",
        )
    return served


def run(base_url: str, server_url: str, feeds: int, workers: int, articles: int) -> float:
    """One timed ingestion into a fresh database; returns seconds."""
    name = f"newstrack_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            sources = Path(folder) / "sources.yaml"
            sources.write_text(
                "sources:\n"
                + "".join(
                    f"  - {{name: feed{f}, kind: rss, urls: ['{server_url}/feed/{f}']}}\n"
                    for f in range(feeds)
                ),
                encoding="utf-8",
            )
            env = {
                **os.environ,
                "NEWSTRACK_DB": database,
                "NEWSTRACK_SOURCES": str(sources),
                "NEWSTRACK_MAX_ARTICLES": str(articles),
                "NEWSTRACK_PER_HOST_INTERVAL": "0",
                "NEWSTRACK_PER_HOST_CONNECTIONS": "16",
            }
            command = [sys.executable, "-m", "pipeline.cli", "-q"]
            subprocess.run([*command, "init"], env=env, check=True, cwd=PROJECT)
            subprocess.run(
                [*command, "jobs", "--fetch"], env=env, check=True, cwd=PROJECT, capture_output=True
            )
            started = time.perf_counter()
            processes = [
                subprocess.Popen([*command, "worker", "--once"], env=env, cwd=PROJECT)
                for _ in range(workers)
            ]
            for process in processes:
                process.wait()
            elapsed = time.perf_counter() - started
            with psycopg.connect(
                make_url(database)
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            ) as connection:
                stored, extracted = connection.execute(
                    "SELECT count(*), count(*) FILTER (WHERE extraction_status = 'done') FROM articles"
                ).fetchone() or (0, 0)
            print(
                f"{workers} worker(s): {elapsed:7.1f} s, {stored} stored, {extracted} extracted, "
                f"{extracted / elapsed:6.1f} articles/s"
            )
            return elapsed
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    """Time each worker count and print the ratio to one worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    with serve(
        routes(args.articles, args.feeds), max_requests=(args.articles + args.feeds + 10) * 4
    ) as server:
        times = {
            count: run(args.db, server.base_url, args.feeds, count, args.articles)
            for count in (int(part) for part in args.workers.split(","))
        }
    first = times[min(times)]
    for count, elapsed in times.items():
        print(f"{count} worker(s): {first / elapsed:.2f}x the throughput of {min(times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
