"""A plain sequential news script against `newstrack run`, on the same saved pages served over loopback.

Usage: python bench/plain.py [--pages DIR | --aeb PATH] [--hosts 10] [--limit N] [--plain-only]
The script is what a user would write: feedparser over each host's feed, an httpx GET of each page,
trafilatura.extract, spaCy (the English pipeline newstrack uses) on every text, and an SQLAlchemy
insert per page into a scratch SQLite file. It prints its wall time and the time of each part.
Then `newstrack run` reads the same feeds into a new SQLite file (per-host interval 0, robots.txt
not asked, loopback allowed), and, into another new file, `newstrack fetch` and `newstrack extract`
one after the other, so each stage has its own wall time (each command's start-up included).
Prints those times and script time / `newstrack run` time. See bench/news_hosts.py for the pages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import feedparser
import httpx
import spacy
import trafilatura
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.news_hosts import Hosts, page_arguments, serve_hosts
from pipeline.extraction.nlp import PIPELINE_NAMES

ROOT = Path(__file__).resolve().parent.parent
EXIT_PARTIAL = 3  # what newstrack exits with when some source or article failed


class Stopwatch:
    """Seconds spent in each named part, in the order the parts first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        """Add the block's wall time to `part`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[part] = self.seconds.get(part, 0.0) + elapsed


def english_pipeline() -> Any:
    """The first installed English spaCy pipeline of those newstrack reads with, as spaCy loads it."""
    for name in PIPELINE_NAMES:
        try:
            return spacy.load(name)
        except OSError:
            continue
    sys.exit(f"no spaCy pipeline installed of {', '.join(PIPELINE_NAMES)}")


def plain_script(hosts: Hosts, database: Path, watch: Stopwatch) -> tuple[int, int]:
    """Read every feed and page, one after another; return pages fetched and texts stored."""
    with watch("loading spaCy"):
        nlp = english_pipeline()
    engine = create_engine(f"sqlite:///{database}")
    metadata = MetaData()
    articles = Table(
        "articles",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("url", String, unique=True),
        Column("title", String),
        Column("text", Text),
        Column("sentences", Integer),
        Column("entities", Integer),
    )
    with watch("storing"):
        metadata.create_all(engine)
    fetched = stored = 0
    with httpx.Client(timeout=30.0) as client:
        for feed_url in hosts.feeds:
            with watch("fetching"):
                feed = feedparser.parse(client.get(feed_url).content)
            for entry in feed.entries:
                with watch("fetching"):
                    response = client.get(entry.link)
                fetched += 1
                with watch("trafilatura"):
                    text = trafilatura.extract(response.text, url=entry.link)
                if not text:
                    continue
                with watch("spaCy"):
                    doc = nlp(text)
                    sentences, entities = len(list(doc.sents)), len(doc.ents)
                with watch("storing"), engine.begin() as connection:
                    connection.execute(
                        insert(articles).values(
                            url=entry.link,
                            title=entry.get("title", ""),
                            text=text,
                            sentences=sentences,
                            entities=entities,
                        )
                    )
                stored += 1
    engine.dispose()
    return fetched, stored


def newstrack(command: str, environment: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Run one newstrack command; return its wall time and its JSON summary."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", command, "-q", "--json"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if finished.returncode not in (0, EXIT_PARTIAL):  # some pages failed: still measured
        sys.exit(f"newstrack {command} failed ({finished.returncode}): {finished.stderr[-2000:]}")
    try:
        summary: dict[str, Any] = json.loads(finished.stdout)
    except json.JSONDecodeError:
        sys.exit(f"newstrack {command}: no JSON summary: {finished.stdout[-500:]}")
    errors = [error for source in summary.get("sources", []) for error in source["errors"]]
    if errors:
        print(f"newstrack {command}: {len(errors)} page error(s), the first: {errors[0][:160]}")
    return elapsed, summary


def newstrack_environment(hosts: Hosts, folder: Path, database: str) -> dict[str, str]:
    """The environment of newstrack commands on the hosts' feeds, into a new SQLite file."""
    sources = folder / "sources.yaml"
    listed = "".join(
        f"  - name: host{index:02d}\n    kind: rss\n    max_articles: 10000\n"
        f"    obey_robots: false\n    urls: [{feed}]\n"
        for index, feed in enumerate(hosts.feeds, 1)
    )
    sources.write_text(f"version: 1\nsources:\n{listed}", encoding="utf-8")
    return {
        **os.environ,
        "NEWSTRACK_DB": f"sqlite:///{folder / database}",
        "NEWSTRACK_SOURCES": str(sources),
        "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSTRACK_PER_HOST_INTERVAL": "0",
        "NEWSTRACK_OBEY_ROBOTS": "false",
    }


def main() -> int:
    """Serve the pages, time the plain script, then newstrack, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_arguments(parser)
    parser.add_argument("--plain-only", action="store_true", help="do not run newstrack")
    args = parser.parse_args()
    with serve_hosts(args) as hosts, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print(f"pages: {len(hosts.pages)} on {len(hosts.feeds)} hosts ({hosts.feeds[0]} ...)")
        watch = Stopwatch()
        started = time.perf_counter()
        fetched, stored = plain_script(hosts, folder / "plain.db", watch)
        script = time.perf_counter() - started
        print(f"plain script: {script:.2f} s, {fetched} pages fetched, {stored} texts stored")
        print(f"  {'part':<14} {'seconds':>8} {'share':>6} {'ms/page':>8}")
        for part, seconds in watch.seconds.items():
            print(
                f"  {part:<14} {seconds:8.2f} {seconds / script:6.1%}"
                f" {1000 * seconds / max(fetched, 1):8.1f}"
            )
        rest = script - sum(watch.seconds.values())
        print(
            f"  {'rest':<14} {rest:8.2f} {rest / script:6.1%} {1000 * rest / max(fetched, 1):8.1f}"
        )
        if args.plain_only:
            return 0
        environment = newstrack_environment(hosts, folder, "run.db")
        run, summary = newstrack("run", environment)
        print(
            f"newstrack run: {run:.2f} s, {summary['articles_stored']} articles stored,"
            f" {summary['articles_extracted']} extracted"
        )
        environment = newstrack_environment(hosts, folder, "stages.db")
        fetch, fetched_summary = newstrack("fetch", environment)
        extract, extracted_summary = newstrack("extract", environment)
        print(
            f"newstrack fetch: {fetch:.2f} s, {fetched_summary['articles_stored']} articles stored"
        )
        print(f"newstrack extract: {extract:.2f} s, {extracted_summary['articles']} articles read")
        print(f"fetch + extract: {fetch + extract:.2f} s (separate commands, each started anew)")
        print(f"ratio script / newstrack run: {script / run:.2f} (goal: 3 or more)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
