"""The fetch stage per part across threads, on saved news pages served from loopback hosts.

Usage: python bench/fetch_stage.py [--pages DIR | --aeb PATH] [--hosts 10] [--limit N] [--workers N]
                                   [--repeat N]
Runs `fetch_sources` in this process into a scratch SQLite file (per-host interval 0, robots.txt not
asked, one RSS source per host: see bench/news_hosts.py) after wrapping the functions that do each
part with timers, where the code looks them up. Pages are read in this process, as with
NEWSTRACK_READING_PROCESSES=0, so that the reading's parts are timed too. Prints, per part: calls, wall seconds summed over
threads, CPU seconds (time.thread_time), both per page, and wall / CPU (above 1: waiting, for the
network or for the GIL); then the stage's wall time, its threads, and their summed CPU / wall (near
1 on any number of cores: the GIL runs one thread at a time). A part whose function is gone is named.
Then reads the same pages in one thread, without HTTP, with `extract_page` and with plain
trafilatura.extract (and with trafilatura as newstrack calls it), and prints their ratio.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.news_hosts import PAGE_TYPE, Hosts, load_pages, page_arguments, serve_hosts
from models.source import ArticleSelectors, SourceConfig
from pipeline.config.settings import Settings
from pipeline.fetching.http import build_client
from pipeline.flows.fetch import fetch_sources
from storage.engine import make_session_factory, open_engine
from storage.migrate import upgrade

SOURCES = "sources"
READING = "page reading"
TRAFILATURA = "trafilatura"
TRANSACTIONS = "transactions"
INSERT = "article insert"


@dataclass(frozen=True)
class Part:
    """A function timed as one part: where it is looked up, and the part it runs inside."""

    label: str
    owner: str  # the module the code looks the function up in
    name: str
    parent: str | None = None
    context: bool = False  # a context manager factory: the whole with-block is timed


PARTS = [
    Part(SOURCES, "pipeline.flows.fetch", "_fetch_source"),
    Part("http GET", "pipeline.flows.fetch_run", "fetch", SOURCES),
    Part("feed reading", "pipeline.flows.fetch", "_items_of", SOURCES),
    Part(READING, "pipeline.fetching.reading", "extract_page", SOURCES),
    Part("encoding", "pipeline.fetching.pages", "body_encoding", READING),
    Part("markup cleaning", "pipeline.fetching.pages", "strip_sequences", READING),
    Part("HTML parsing", "pipeline.fetching.pages", "parse_html", READING),
    Part("HTML parsing", "pipeline.fetching.pages", "parse_tree", READING),
    Part("page marks", "pipeline.fetching.pages", "tree_marks", READING),
    Part("page marks", "pipeline.fetching.pages", "soup_marks", READING),
    Part("dates", "pipeline.fetching.pages", "page_date", READING),
    Part("dates", "pipeline.fetching.pages", "dateline", READING),
    Part("boilerplate", "pipeline.fetching.pages", "drop_boilerplate", READING),
    Part("selector blocks", "pipeline.fetching.pages", "blocks_text", READING),
    Part(TRAFILATURA, "pipeline.fetching.pages", "trafilatura_text", READING),
    Part("trafilatura.extract", "trafilatura", "extract", TRAFILATURA),
    Part("generic text", "pipeline.fetching.pages", "generic_text", READING),
    Part("language", "pipeline.fetching.pages", "detect_language", READING),
    Part(TRANSACTIONS, "pipeline.flows.fetch_run", "unit_of_work", SOURCES, context=True),
    Part("fetch rows", "pipeline.flows.fetch_run", "record_fetch", TRANSACTIONS),
    Part(INSERT, "pipeline.flows.fetch_run", "add_article", TRANSACTIONS),
    Part("fingerprint", "storage.articles", "fingerprint", INSERT),
    Part("near duplicates", "storage.articles", "_near_duplicate_of", INSERT),
    Part("compression", "storage.articles", "compress_page", INSERT),
    Part("bands", "storage.articles", "_add_bands", INSERT),
]


@dataclass
class Tally:
    """Calls of one part, and the wall and CPU seconds they took, summed over threads."""

    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    threads: set[int] = field(default_factory=set)


class Recorder:
    """Tallies by part label, from any thread."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def add(self, label: str, wall: float, cpu: float) -> None:
        """Count one call of a part."""
        with self._lock:
            tally = self.tallies.setdefault(label, Tally())
            tally.calls += 1
            tally.wall += wall
            tally.cpu += cpu
            tally.threads.add(threading.get_ident())

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function`, each call's time added to `label`."""

        @functools.wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

        return timed_call

    def timed_block(
        self, label: str, factory: Callable[..., AbstractContextManager[Any]]
    ) -> Callable[..., AbstractContextManager[Any]]:
        """A context manager factory whose blocks, their exit included, are added to `label`."""

        @functools.wraps(factory)
        @contextmanager
        def timed_context(*args: Any, **kwargs: Any) -> Iterator[Any]:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                with factory(*args, **kwargs) as value:
                    yield value
            finally:
                self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

        return timed_context


@contextmanager
def timers(recorder: Recorder) -> Iterator[list[str]]:
    """Every part's function wrapped for the block; yields the parts not found."""
    missing: list[str] = []
    undo: list[tuple[Any, str, Any]] = []
    try:
        for part in PARTS:
            owner = importlib.import_module(part.owner)
            original = getattr(owner, part.name, None)
            if original is None:
                missing.append(f"{part.owner}.{part.name} ({part.label})")
                continue
            wrap = recorder.timed_block if part.context else recorder.timed
            setattr(owner, part.name, wrap(part.label, original))
            undo.append((owner, part.name, original))
        yield missing
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def children_of(label: str | None) -> list[str]:
    """The labels of the parts inside `label`, in the order they are listed, each once."""
    return list(dict.fromkeys(part.label for part in PARTS if part.parent == label))


def table_rows(
    tallies: dict[str, Tally], label: str | None = None, depth: int = 0
) -> Iterator[tuple[str, Tally]]:
    """Each part under `label`, indented, its own parts after it, then what they leave over."""
    for child in children_of(label):
        tally = tallies.get(child, Tally())
        yield "  " * depth + child, tally
        inner = children_of(child)
        yield from table_rows(tallies, child, depth + 1)
        if inner and tally.calls:
            rest = Tally(
                tally.calls,
                tally.wall - sum(tallies.get(name, Tally()).wall for name in inner),
                tally.cpu - sum(tallies.get(name, Tally()).cpu for name in inner),
            )
            yield "  " * (depth + 1) + "rest", rest


def print_table(tallies: dict[str, Tally], pages: int) -> None:
    """One line per part: calls, wall and CPU seconds, both per page, wall / CPU."""
    print(
        f"{'part':<26} {'calls':>6} {'wall s':>8} {'cpu s':>8} {'wall ms/pg':>10}"
        f" {'cpu ms/pg':>10} {'wall/cpu':>8}"
    )
    for name, tally in table_rows(tallies):
        per_page = 1000 / max(pages, 1)
        ratio = f"{tally.wall / tally.cpu:8.2f}" if tally.cpu > 0 else f"{'-':>8}"
        print(
            f"{name:<26} {tally.calls:6d} {tally.wall:8.2f} {tally.cpu:8.2f}"
            f" {tally.wall * per_page:10.1f} {tally.cpu * per_page:10.1f} {ratio}"
        )


def fetch_stage(hosts: Hosts, workers: int | None) -> None:
    """Run the fetch stage with timers over the hosts' feeds, and print the table."""
    defaults = Settings()
    http = replace(
        defaults.http,
        per_host_interval=0.0,
        obey_robots=False,
        allow_private_addresses=True,
        fetch_workers=workers or defaults.http.fetch_workers,
    )
    settings = replace(defaults, http=http)
    sources = [
        SourceConfig(
            name=f"host{index:02d}",
            kind="rss",
            urls=(feed,),
            max_articles=10_000,
            obey_robots=False,
            article=ArticleSelectors(),
        )
        for index, feed in enumerate(hosts.feeds, 1)
    ]
    recorder = Recorder()
    with (
        tempfile.TemporaryDirectory() as folder,
        open_engine(f"sqlite:///{folder}/fetch.db") as engine,
        build_client(http) as client,
    ):
        upgrade(engine)
        session_factory = make_session_factory(engine)
        with timers(recorder) as missing:
            wall, cpu = time.perf_counter(), time.process_time()
            summary = fetch_sources(session_factory, client, sources, settings)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pages = len(hosts.pages)
    threads = recorder.tallies.get(SOURCES, Tally())
    print(
        f"fetch stage: {pages} pages on {len(sources)} hosts, {summary.stored} stored,"
        f" {len(summary.failed)} sources failed; workers {http.fetch_workers},"
        f" threads {len(threads.threads)}"
    )
    print(
        f"stage wall {wall:.2f} s ({1000 * wall / max(pages, 1):.1f} ms/page);"
        f" threads' CPU {threads.cpu:.2f} s, process CPU {cpu:.2f} s;"
        f" threads' CPU / wall {threads.cpu / wall:.2f};"
        f" threads' wall summed / wall {threads.wall / wall:.2f}"
    )
    for report in summary.failed:
        print(f"  {report.name}: {report.status}: {'; '.join(report.errors[:2])}")
    print_table(recorder.tallies, pages)
    for name in missing:
        print(f"not found, not timed: {name}")


def reading_against_trafilatura(pages: dict[str, bytes], urls: dict[str, str], repeat: int) -> None:
    """Time extract_page and trafilatura.extract over the same pages in this thread; print the ratio."""
    from pipeline.fetching.pages import extract_page  # looked up now: the timers are gone

    selectors, headers = ArticleSelectors(), {"content-type": PAGE_TYPE}
    work = [(body, urls.get(name, f"http://127.0.0.1/{name}")) for name, body in pages.items()]
    failed = 0

    def read_pages() -> None:
        nonlocal failed
        failed = 0
        for body, url in work:
            try:
                extract_page(body, url, selectors, headers)
            except Exception:  # no text, or a page that breaks it: counted, the others still read
                failed += 1

    def plain_trafilatura() -> None:
        for body, url in work:
            trafilatura.extract(body.decode("utf-8", errors="replace"), url=url)

    def newstrack_trafilatura() -> None:
        for body, url in work:
            trafilatura.extract(
                body.decode("utf-8", errors="replace"),
                url=url,
                favor_precision=True,
                include_comments=False,
                include_tables=False,
            )

    extract_page(*work[0][:2], selectors, headers)  # first calls load models: not timed
    trafilatura.extract(work[0][0].decode("utf-8", errors="replace"), url=work[0][1])
    best: dict[str, float] = {}
    for _ in range(repeat):
        for label, job in (
            ("extract_page", read_pages),
            ("trafilatura.extract", plain_trafilatura),
            ("trafilatura.extract, newstrack's options", newstrack_trafilatura),
        ):
            started = time.perf_counter()
            job()
            elapsed = time.perf_counter() - started
            best[label] = min(best.get(label, elapsed), elapsed)
    print(f"page reading in one thread, no HTTP, {len(work)} pages (best of {repeat}):")
    for label, seconds in best.items():
        print(f"  {label:<42} {seconds:7.2f} s {1000 * seconds / len(work):8.1f} ms/page")
    if failed:
        print(f"  extract_page read no text from {failed} page(s)")
    ratio = best["extract_page"] / best["trafilatura.extract"]
    print(f"ratio page reading / trafilatura alone: {ratio:.2f} (goal: 1.3 or less)")


def main() -> int:
    """Serve the pages, profile the fetch stage, then compare page reading with trafilatura."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_arguments(parser)
    parser.add_argument("--workers", type=int, help="fetch workers (default: Settings())")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the one-thread comparison (default 1)"
    )
    args = parser.parse_args()
    with serve_hosts(args) as hosts:
        fetch_stage(hosts, args.workers)
        reading_against_trafilatura(load_pages(args), hosts.pages, max(args.repeat, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
