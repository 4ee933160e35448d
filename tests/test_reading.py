"""Pages read in processes of their own: the same Page as read here, a crashed reading process
costs only the pages it held, and a killed run leaves no reading process behind.

Real forked processes and real loopback servers; the reading processes are forked before any
server thread starts, as a run forks them before its HTTP client.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from models.source import ArticleSelectors, SourceConfig
from pipeline.config.settings import HttpSettings, Settings
from pipeline.fetching import reading
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import build_client
from pipeline.fetching.pages import Page, extract_page
from pipeline.fetching.reading import PageReader, ProcessPageReader, ReadingLost, page_reader
from pipeline.flows.fetch import fetch_sources
from pipeline.flows.fetch_run import SourceReport
from pipeline.running.forking import usable_cores
from pipeline.text import language
from tests.conftest import PROJECT
from tests.processes import gone, printed
from tests.servers import respond, serve
from tests.stored import ready

BOUND = 60.0  # seconds a wait may last before the test fails
NONE = ArticleSelectors()
REPORT = (
    "China's Ministry of Commerce on April 4 imposed export controls on seven rare earths, "
    "including dysprosium and terbium, requiring licences for shipments to the United States."
)


def _page(number: int) -> bytes:
    words = " ".join(f"word{number}x{index}" for index in range(80))  # far from the others
    return (
        f"<html lang='en'><head><title>Report {number}</title></head><body><article>"
        f"<p>{REPORT}</p><p>{words}</p></article></body></html>"
    ).encode()


def _read_with_pid(
    body: bytes, url: str, selectors: ArticleSelectors, headers: Mapping[str, str]
) -> Page:
    """extract_page, the page's title saying which process read it; a /crash page ends it."""
    if url.endswith("/crash"):
        os._exit(1)  # as a segfault in lxml would: no exception, the process is gone
    return replace(extract_page(body, url, selectors, headers), title=str(os.getpid()))


def test_a_reading_process_reads_the_page_as_this_one_does() -> None:
    """Title, date, text and language are the same, read there or here."""
    reader = ProcessPageReader(1)
    try:
        for number in range(3):
            url = f"https://news.example/{number}"
            there = reader.read(_page(number), url, NONE, {"content-type": "text/html"})
            assert there == extract_page(_page(number), url, NONE, {"content-type": "text/html"})
        with pytest.raises(ParseError, match="no article text"):
            reader.read(b"<html><body></body></html>", "https://news.example/empty", NONE, {})
    finally:
        reader.close()


def test_pages_are_read_in_the_reading_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not in this process: that is the point of them."""
    monkeypatch.setattr(reading, "extract_page", _read_with_pid)
    reader = ProcessPageReader(2)
    try:
        pids = {
            reader.read(_page(n), f"https://news.example/{n}", NONE, {}).title for n in range(6)
        }
    finally:
        reader.close()
    assert pids and str(os.getpid()) not in pids
    assert not multiprocessing.active_children()  # closed: none left


def test_a_crashed_reading_process_costs_its_page_and_the_rest_is_read_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The page it held fails as temporary (not known to be at fault); the next are read here."""
    monkeypatch.setattr(reading, "extract_page", _read_with_pid)
    reader = ProcessPageReader(1)
    try:
        crash = "https://news.example/crash"
        with (
            caplog.at_level(logging.WARNING, logger="newstrack"),
            pytest.raises(ReadingLost, match=re.escape(crash)),
        ):
            reader.read(_page(0), crash, NONE, {})
        assert "page-reading process ended" in caplog.text
        after = reader.read(_page(1), "https://news.example/1", NONE, {})
        assert after.title == str(os.getpid())
    finally:
        reader.close()


def _fetched_through_a_reading_process(database: Path, paths: list[str]) -> SourceReport:
    """One RSS source of these pages on a loopback host, fetched with one reading process."""
    session_factory = ready(f"sqlite:///{database}")
    reader = ProcessPageReader(1)  # first: no server thread runs yet
    try:
        with serve({}) as host:
            for number, path in enumerate(paths):
                host.routes[path] = respond(200, _page(number), content_type="text/html")
            links = "".join(f"<item><link>{host.url(path)}</link></item>" for path in paths)
            feed = f"<rss><channel><title>t</title>{links}</channel></rss>".encode()
            host.routes["/feed.xml"] = respond(200, feed, content_type="application/rss+xml")
            source = SourceConfig(name="host", kind="rss", urls=(host.url("/feed.xml"),))
            settings = Settings(http=HttpSettings(retries=0, per_host_interval=0, fetch_workers=1))
            with build_client(settings.http) as client:
                summary = fetch_sources(session_factory, client, [source], settings, reader=reader)
    finally:
        reader.close()
    (report,) = summary.sources
    return report


def test_a_fetch_stores_every_page_read_by_a_reading_process(tmp_path: Path) -> None:
    """The whole fetch through a reading process."""
    paths = [f"/page{n}" for n in range(4)]
    report = _fetched_through_a_reading_process(tmp_path / "read.db", paths)
    assert report.stored == len(paths) and report.status == "ok", report


def test_a_page_that_crashes_its_reader_is_left_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its error is temporary and names it; the source's other pages are stored."""
    monkeypatch.setattr(reading, "extract_page", _read_with_pid)
    report = _fetched_through_a_reading_process(tmp_path / "crash.db", ["/crash", "/a", "/b"])
    assert report.stored == 2 and report.left_for_next_run == 1
    assert any("/crash: temporary" in error for error in report.errors), report.errors


def test_no_reading_process_without_a_safe_fork_or_when_told_none() -> None:
    """With another thread alive a fork could copy a held lock: pages are read here instead."""
    with page_reader(0) as reader:
        assert type(reader) is PageReader
    waiting = threading.Event()
    other = threading.Thread(target=waiting.wait)
    other.start()
    try:
        with page_reader(2) as reader:
            assert type(reader) is PageReader and not multiprocessing.active_children()
    finally:
        waiting.set()
        other.join()


def test_a_run_forks_one_fewer_reading_process_than_it_has_cores() -> None:
    """As a run starts, with one thread. The run itself then never loads trafilatura or the
    language classifier: its pages, their language included, are read by the reading processes."""
    probe = (
        "import multiprocessing, sys\n"
        "from models.source import ArticleSelectors\n"
        "from pipeline.fetching.reading import FIRST_PAGE, page_reader\n"
        "with page_reader() as reader:\n"
        "    page = reader.read(FIRST_PAGE * 5, 'http://localhost/', ArticleSelectors(), {})\n"
        "    print(type(reader).__name__, len(multiprocessing.active_children()), page.language)\n"
        "print(*(name in sys.modules for name in ('trafilatura', 'py3langid')))\n"
    )
    output = printed(probe)
    reader, processes, language_read, *loaded = output.split()
    assert (reader, processes) == ("ProcessPageReader", str(max(usable_cores() - 1, 1)))
    assert language_read == "en" and loaded == ["False", "False"], output


def test_each_reading_process_prepares_its_reading_as_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before its first page, while the run opens its database: the run does not wait for it."""

    def prepared() -> None:
        (tmp_path / str(os.getpid())).touch()

    monkeypatch.setattr(reading, "prepare_reading", prepared)
    with page_reader(2):
        children = {str(child.pid) for child in multiprocessing.active_children()}
    assert len(children) == 2 and {path.name for path in tmp_path.iterdir()} == children


def test_preparing_loads_trafilatura_its_stop_lists_and_the_classifier() -> None:
    """What a reading process's first page would otherwise load, in a new interpreter."""
    probe = (
        "import sys\n"
        "from pipeline.fetching.reading import prepare_reading\n"
        "from pipeline.text import language\n"
        "print('trafilatura' in sys.modules, language._load_identifier.cache_info().currsize)\n"
        "prepare_reading()\n"
        "from trafilatura import external\n"
        "print(external.JT_STOPLIST is not None, language._load_identifier.cache_info().currsize)\n"
    )
    output = printed(probe)
    assert output.split() == ["False", "0", "True", "1"], output


def test_the_classifier_is_ready_with_its_loading_thread_ended() -> None:
    """So that the fork after it is safe."""
    before = threading.active_count()
    language.load_classifier_in_background()
    language.classifier_ready()
    assert threading.active_count() == before


def test_reading_processes_end_when_the_run_is_killed() -> None:
    """SIGKILL on the run (a cron timeout, the OOM killer) leaves no reading process behind."""
    script = (
        "import multiprocessing, time; from pipeline.fetching.reading import page_reader\n"
        "with page_reader(2):\n"
        "    print(*(child.pid for child in multiprocessing.active_children()), flush=True)\n"
        "    time.sleep(3600)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.PIPE, text=True
    ) as run:
        try:
            assert run.stdout is not None
            children = [int(pid) for pid in run.stdout.readline().split()]
            assert len(children) == 2 and not any(gone(pid) for pid in children)
        finally:
            os.kill(run.pid, signal.SIGKILL)
    deadline = time.monotonic() + BOUND
    while not all(gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in children)


def _fetched_articles(database: Path, processes: str) -> list[tuple[str, str, str, str]]:
    """`newstrack fetch --replay snapshot` as a user runs it; the articles it stored."""
    environment = {**os.environ, "NEWSTRACK_READING_PROCESSES": processes}
    url = f"sqlite:///{database}"
    command = [sys.executable, "-m", "pipeline.cli", "--db", url, "-q", "fetch", "--replay"]
    fetched = subprocess.run(
        [*command, str(PROJECT / "snapshot")], cwd=PROJECT, env=environment, capture_output=True
    )
    assert fetched.returncode in (0, 3), fetched.stderr  # 3: the snapshot's one broken link
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT url, title, language, text FROM articles ORDER BY url"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_a_fetch_stores_the_same_articles_whoever_reads_its_pages(tmp_path: Path) -> None:
    """The command, forked reading processes and all, against pages read in the fetcher."""
    read_apart = _fetched_articles(tmp_path / "apart.db", "2")
    read_here = _fetched_articles(tmp_path / "here.db", "0")
    assert read_apart and read_apart == read_here
