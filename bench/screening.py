"""The cheap first pass on a realistic feed mix: one article in ten on topic.

Usage: python bench/screening.py [--articles 1000] [--memory 10000] [--processes N]
Prints the extractor's time on the mix with screening and with every text read in full, their
ratio, and the peak memory while annotating --memory articles in batches, at checkpoints, to show
it does not grow with their number.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from models import Article
from models.annotation import ArticleText
from pipeline.extraction import Extractor, standard_extractor
from pipeline.flows.evaluate import load_expected
from storage.engine import make_session_factory, open_engine
from storage.sessions import unit_of_work

ROOT = Path(__file__).resolve().parent.parent
BATCH = 64


def newstrack(arguments: list[str]) -> int:
    """Run the command line in a child process, as a user would; return its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *arguments], check=False
    ).returncode


def texts_by_topic() -> tuple[list[str], list[str]]:
    """On-topic and off-topic texts: the snapshot's articles as labelled (its off-topic ones are
    general CNBC news; the development set's hard negatives are not a realistic feed)."""
    on_topic_urls = {
        item.url
        for item in load_expected(ROOT / "tests/fixtures/snapshot_expected.yaml")
        if item.on_topic
    }
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        newstrack(["--db", url, "-q", "fetch", "--replay", str(ROOT / "snapshot")])
        with open_engine(url) as engine, unit_of_work(make_session_factory(engine)) as session:
            rows = session.execute(select(Article.url, Article.text).order_by(Article.id)).all()
    on = [text for url, text in rows if url in on_topic_urls]
    off = [text for url, text in rows if url not in on_topic_urls]
    return on, off


def mix(on: list[str], off: list[str], count: int) -> Iterator[ArticleText]:
    """`count` articles, every tenth on topic, cycling through the texts."""
    on_cycle, off_cycle = itertools.cycle(on), itertools.cycle(off)
    for index in range(count):
        text = next(on_cycle) if index % 10 == 0 else next(off_cycle)
        yield ArticleText(str(index), text, language="en")


def annotate_all(extractor: Extractor, articles: Iterator[ArticleText], processes: int) -> int:
    """Annotate in batches, as `newstrack extract` does; return the number of events."""
    events = 0
    while batch := list(itertools.islice(articles, BATCH)):
        events += sum(len(a.events) for a in extractor.annotate(batch, processes=processes))
    return events


def peak_mb() -> float:
    """The process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    """Time the mix with and without screening, then watch memory over many articles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, help="articles in the timed mix")
    parser.add_argument("--memory", type=int, default=10000, help="articles for the memory run")
    parser.add_argument("--processes", type=int, default=1, help="processes for nlp.pipe")
    args = parser.parse_args()
    on, off = texts_by_topic()
    screened = standard_extractor()
    full = Extractor(screened.nlp, screened.vocabulary, False, screened.decision)
    annotate_all(full, mix(on, off, 20), 1)  # warm up
    timings = {}
    for name, extractor in (("screened", screened), ("full", full)):
        started = time.perf_counter()
        events = annotate_all(extractor, mix(on, off, args.articles), args.processes)
        timings[name] = time.perf_counter() - started
        rate = args.articles / timings[name]
        print(
            f"{name:9} {args.articles} articles in {timings[name]:.1f} s, {rate:.1f} articles/s, {events} events"
        )
    print(f"speed-up of screening: {timings['full'] / timings['screened']:.1f}x")
    print(f"memory, annotating {args.memory} articles in batches of {BATCH}:")
    articles = mix(on, off, args.memory)
    done = 0
    for checkpoint in (1000, 2000, 5000, args.memory):
        if checkpoint > args.memory or checkpoint <= done:
            continue
        annotate_all(screened, itertools.islice(articles, checkpoint - done), args.processes)
        done = checkpoint
        print(f"  after {done:>6} articles: peak {peak_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
