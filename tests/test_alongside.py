"""`run` extracts in a process of its own while it fetches; pages are read one at a time.

Real parts only: a forked or spawned extraction process on a real SQLite file, the trained pipeline, real
loopback servers for the fetching threads. Waits are bounded so a broken build fails, never hangs.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Article
from models.source import SourceConfig
from pipeline.config.settings import HttpSettings, Settings
from pipeline.extraction import Extractor
from pipeline.fetching import reading as page_reading
from pipeline.fetching.http import build_client
from pipeline.fetching.pages import extract_page
from pipeline.flows.alongside import (
    ExtractionJob,
    StartMethod,
    extraction_process,
    fetch_while_extracting,
    safe_start_method,
)
from pipeline.flows.extract import ExtractSummary, extract_as_stored, extract_pending
from pipeline.flows.fetch import fetch_sources
from storage.articles import add_article
from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.processes import gone, printed
from tests.servers import respond, serve
from tests.stored import new_article, ready, two_sources

BOUND = 300.0  # seconds a wait may last before the test fails: spaCy loads slowly on a busy host
REPORT = (
    "China's Ministry of Commerce on April 4 imposed export controls on seven rare earths, "
    "including dysprosium and terbium, requiring licences for shipments to the United States."
)


def _store(session_factory: sessionmaker[Session], url: str, source_id: int) -> int:
    with unit_of_work(session_factory) as session:
        stored = add_article(session, new_article(url, REPORT, source_id))
    assert stored is not None
    return stored


def _status(session_factory: sessionmaker[Session], article: int) -> str:
    with unit_of_work(session_factory) as session:
        return session.scalar(select(Article.extraction_status).where(Article.id == article)) or ""


def _wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _job(database_url: str) -> ExtractionJob:
    return ExtractionJob(database_url, None, None, logging.WARNING)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_articles_are_extracted_while_fetching_goes_on(
    sqlite_url: str, start_method: StartMethod
) -> None:
    """The first article is read by the child before fetching stores the second; both are read."""
    session_factory = ready(sqlite_url)
    sources = two_sources(session_factory)

    def fetch() -> tuple[int, int, bool]:
        first = _store(session_factory, "https://first.example/a", sources["first"])
        read_meanwhile = _wait_for(lambda: _status(session_factory, first) != "pending")
        second = _store(session_factory, "https://second.example/b", sources["second"])
        return first, second, read_meanwhile

    def extract_here() -> ExtractSummary:
        raise AssertionError("the extraction process should have done the work")

    (first, second, read_meanwhile), summary = fetch_while_extracting(
        _job(sqlite_url), fetch, extract_here, start_method
    )
    assert read_meanwhile
    assert {_status(session_factory, first), _status(session_factory, second)} == {"done"}
    assert summary.articles == 2 and summary.failed == 0 and summary.events


def _maps_spacy(pid: int) -> bool:
    """Whether a process has loaded spaCy's compiled modules."""
    try:
        return "/spacy/" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_the_pipeline_loads_before_the_first_article_is_stored(sqlite_url: str) -> None:
    """The child loads spaCy from its start, while fetching goes on, not when articles wait."""
    ready(sqlite_url)

    def fetch() -> bool:
        (child,) = multiprocessing.active_children()
        pid = child.pid
        assert pid is not None
        return _wait_for(lambda: _maps_spacy(pid))  # nothing is stored meanwhile

    # Spawned: a child forked from this test process would map the spaCy the tests imported.
    loaded_while_fetching, summary = fetch_while_extracting(
        _job(sqlite_url), fetch, _extract_nothing, "spawn"
    )
    assert loaded_while_fetching
    assert summary.articles == 0 and not summary.events


def test_an_extraction_process_that_dies_leaves_its_work_to_this_one(
    sqlite_url: str, tmp_path: Path, extractor: Extractor, caplog: pytest.LogCaptureFixture
) -> None:
    """A child that cannot open its database ends without a summary: the run extracts here."""
    session_factory = ready(sqlite_url)
    sources = two_sources(session_factory)
    unreachable = f"sqlite:///{tmp_path / 'no such folder' / 'newstrack.db'}"

    def fetch() -> int:
        return _store(session_factory, "https://first.example/a", sources["first"])

    def extract_here() -> ExtractSummary:
        return extract_pending(session_factory, extractor)

    with caplog.at_level(logging.WARNING, logger="newstrack"):
        article, summary = fetch_while_extracting(_job(unreachable), fetch, extract_here)
    assert "extraction process ended (exit code 1)" in caplog.text
    assert summary.articles == 1 and _status(session_factory, article) == "done"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_failing_fetch_stops_the_extraction_process(
    sqlite_url: str, start_method: StartMethod
) -> None:
    """An error while fetching reaches the caller, and the child does not outlive the call."""
    ready(sqlite_url)
    children: list[Any] = []

    def fetch() -> None:
        children.extend(multiprocessing.active_children())
        raise RuntimeError("the network went away")

    with pytest.raises(RuntimeError, match="network went away"):
        fetch_while_extracting(_job(sqlite_url), fetch, _extract_nothing, start_method)
    assert children and not any(child.is_alive() for child in children)


def test_the_child_starts_before_the_database_exists_and_waits_for_it(tmp_path: Path) -> None:
    """Started as a run begins, the child leaves the database alone until it is said to be ready;
    a run that fails before then (a bad sources file) does not leave it behind."""
    database = tmp_path / "newstrack.db"
    job = _job(f"sqlite:///{database}")
    # Spawned, so that spaCy in its memory is its own load: a child that went to the database at
    # once would have made the file (and failed on the missing tables) long before that.
    with pytest.raises(RuntimeError, match="bad sources"), extraction_process(job, "spawn"):
        (child,) = multiprocessing.active_children()
        pid = child.pid
        assert pid is not None
        assert _wait_for(lambda: _maps_spacy(pid) or not child.is_alive())
        assert child.is_alive() and not database.exists()  # it loads meanwhile, and waits
        raise RuntimeError("bad sources")
    assert not child.is_alive() and not database.exists()


def test_the_run_forks_only_while_it_has_no_other_thread() -> None:
    """A fork copies only the forking thread, so a lock another thread holds would stay held."""
    probe = "from pipeline.flows.alongside import safe_start_method; print(safe_start_method())"
    assert printed(probe).strip() == "fork"
    waiting = threading.Event()
    other = threading.Thread(target=waiting.wait)
    other.start()
    try:
        assert safe_start_method() == "spawn"
    finally:
        waiting.set()
        other.join()


def _extract_nothing() -> ExtractSummary:
    """What a run whose fetching failed must never call."""
    raise AssertionError("nothing is extracted here when fetching failed")


def test_the_extraction_process_ends_when_the_run_is_killed(sqlite_url: str) -> None:
    """SIGKILL on the run (a cron timeout, the OOM killer) stops its child too."""
    ready(sqlite_url)
    script = (
        "import logging, multiprocessing, sys, time\n"
        "from pipeline.flows.alongside import ExtractionJob, fetch_while_extracting\n"
        "def fetch():\n"
        "    print(*(child.pid for child in multiprocessing.active_children()), flush=True)\n"
        "    time.sleep(3600)\n"
        "job = ExtractionJob(sys.argv[1], None, None, logging.WARNING)\n"
        "fetch_while_extracting(job, fetch, lambda: None)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, sqlite_url], cwd=PROJECT, stdout=subprocess.PIPE, text=True
    ) as run:
        try:
            assert run.stdout is not None
            child = int(run.stdout.readline())
            assert not gone(child)
        finally:
            os.kill(run.pid, signal.SIGKILL)
    assert _wait_for(lambda: gone(child))


def test_pages_are_read_one_at_a_time_across_fetching_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads fetch several hosts at once, but no two read a page at the same time."""
    reading = 0
    most = 0
    count = threading.Lock()

    def watched(*args: Any, **kwargs: Any) -> Any:
        nonlocal reading, most
        with count:
            reading += 1
            most = max(most, reading)
        time.sleep(0.05)  # long enough for another thread to come in, were it let
        try:
            return extract_page(*args, **kwargs)
        finally:
            with count:
                reading -= 1

    monkeypatch.setattr(page_reading, "extract_page", watched)
    paths = [f"/page{n}.html" for n in range(4)]
    settings = Settings(http=HttpSettings(retries=0, per_host_interval=0))
    session_factory = ready(f"sqlite:///{tmp_path / 'pages.db'}")
    with ExitStack() as stack:
        hosts = [stack.enter_context(serve({})) for _ in range(3)]
        for host in hosts:
            for path in paths:  # texts far apart, or the later ones would be near duplicates
                words = " ".join(f"{host.base_url}{path}#{word}" for word in range(80))
                page = f"<html><body><p>{REPORT}</p><p>{words}</p></body></html>"
                host.routes[path] = respond(200, page.encode(), content_type="text/html")
            links = "".join(f"<item><link>{host.url(path)}</link></item>" for path in paths)
            feed = f"<rss><channel><title>t</title>{links}</channel></rss>".encode()
            host.routes["/feed.xml"] = respond(200, feed, content_type="application/rss+xml")
        sources = [
            SourceConfig(name=f"host{number}", kind="rss", urls=(host.url("/feed.xml"),))
            for number, host in enumerate(hosts)
        ]
        with build_client(settings.http) as client:
            summary = fetch_sources(session_factory, client, sources, settings)
    assert summary.stored == len(hosts) * len(paths) and not summary.failed
    assert most == 1


def test_a_run_that_stores_nothing_loads_no_pipeline(sqlite_url: str) -> None:
    """With nothing waiting when storing ends, the trained pipeline is never loaded."""
    session_factory = ready(sqlite_url)

    def load_extractor() -> Extractor:
        raise AssertionError("nothing waits: no pipeline should be loaded")

    summary = extract_as_stored(session_factory, load_extractor, lambda seconds: True)
    assert summary.articles == 0 and not summary.events


def test_the_pipeline_is_loaded_once_for_the_first_article_waiting(
    sqlite_url: str, extractor: Extractor
) -> None:
    """Articles stored before and during the extraction are read with one load of the pipeline."""
    session_factory = ready(sqlite_url)
    sources = two_sources(session_factory)
    _store(session_factory, "https://first.example/a", sources["first"])
    loads: list[Extractor] = []
    polls = iter([False, True])

    def load_extractor() -> Extractor:
        loads.append(extractor)
        return extractor

    def storing_ended(seconds: float) -> bool:
        ended = next(polls)
        if not ended:  # another article arrives while storing goes on
            _store(session_factory, "https://second.example/b", sources["second"])
        return ended

    summary = extract_as_stored(session_factory, load_extractor, storing_ended, batch_size=1)
    assert len(loads) == 1 and summary.articles == 2


def test_the_extraction_flows_import_no_spacy() -> None:
    """A run's fetching process never imports spaCy: only its extraction process does."""
    probe = "import sys, pipeline.flows.alongside, pipeline.cli.run; print('spacy' in sys.modules)"
    assert printed(probe).strip() == "False"
