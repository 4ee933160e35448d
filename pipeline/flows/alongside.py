"""`run`'s extraction alongside its fetching: a child process reads articles as they are stored.

Fetching mostly waits (on hosts and their pacing) and extraction mostly computes; in one process
the GIL would make them take turns. So extraction runs in a process of its own, started as the run
begins, before its database is opened, and starts loading the trained pipeline at once, so that it
is ready by the time the first pages are read. Should that process die, this one extracts what is
still waiting once fetching is over, so a run never leaves articles unread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Literal, TypeVar

from pipeline.flows.extract import ExtractSummary, extract_as_stored
from pipeline.flows.failures import described
from pipeline.flows.progress import Progress, log_to_stderr
from pipeline.running.forking import fork_is_safe
from storage.engine import make_session_factory, open_engine

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

    from pipeline.extraction import Extractor

log = logging.getLogger("newstrack")
Fetched = TypeVar("Fetched")
StartMethod = Literal["fork", "spawn"]
PARENT_CHECK_SECONDS = 0.5  # how often a child waiting for the database checks that the run lives


@dataclass(frozen=True)
class ExtractionJob:
    """What the extracting process is given: plain values, sent to a new interpreter."""

    database_url: str
    event_threshold: float | None
    limit: int | None
    log_level: int


class ExtractionProcess:
    """The child process that extracts what a run stores, once the run says its database is ready.

    Started before the database is opened, so that spaCy loads while the run starts up; forked
    where that is safe (Linux, and this process has no other thread yet), so that it inherits what
    is already imported, else spawned as a fresh interpreter.
    """

    def __init__(self, job: ExtractionJob, start_method: StartMethod | None = None) -> None:
        context: ForkContext | SpawnContext = (
            multiprocessing.get_context("fork")
            if (start_method or safe_start_method()) == "fork"
            else multiprocessing.get_context("spawn")
        )
        self._database_ready = context.Event()
        self._storing_ended = context.Event()
        self._receiver, sender = context.Pipe(duplex=False)
        self._child = context.Process(
            target=_extract,
            args=(job, self._database_ready, self._storing_ended, sender),
            name="newstrack-extract",
            daemon=True,
        )
        self._child.start()
        sender.close()  # the child holds the sending end: its exit closes the pipe

    def fetch_while_extracting(
        self, fetch: Callable[[], Fetched], extract_here: Callable[[], ExtractSummary]
    ) -> tuple[Fetched, ExtractSummary]:
        """Run `fetch` (the database now ready) while the child extracts; return both summaries.

        `extract_here` extracts in this process what is left when the child ended without a
        summary.
        """
        self._database_ready.set()
        try:
            fetched = fetch()
        except BaseException:
            self.stop()
            raise
        finally:
            self._storing_ended.set()
        summary = _summary_from(self._receiver)
        self._child.join()
        if summary is None:
            log.warning(
                "the extraction process ended (exit code %s) before it was done: "
                "extracting what is left here",
                self._child.exitcode,
            )
            summary = extract_here()
        return fetched, summary

    def stop(self) -> None:
        """End the child now; its batches are transactions, so what it stored stays whole."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._receiver.close()


@contextmanager
def extraction_process(
    job: ExtractionJob, start_method: StartMethod | None = None
) -> Iterator[ExtractionProcess]:
    """An extraction process for the block, stopped if the block ends before it has."""
    process = ExtractionProcess(job, start_method)
    try:
        yield process
    finally:
        process.stop()


def fetch_while_extracting(
    job: ExtractionJob,
    fetch: Callable[[], Fetched],
    extract_here: Callable[[], ExtractSummary],
    start_method: StartMethod | None = None,
) -> tuple[Fetched, ExtractSummary]:
    """Start an extraction process on a ready database, fetch beside it; return both summaries."""
    with extraction_process(job, start_method) as process:
        return process.fetch_while_extracting(fetch, extract_here)


def safe_start_method() -> StartMethod:
    """Fork where that is safe (see fork_is_safe), else spawn a fresh interpreter."""
    return "fork" if fork_is_safe() else "spawn"


def _summary_from(receiver: Connection) -> ExtractSummary | None:
    """The child's summary, or None when it ended without sending one."""
    try:
        summary = receiver.recv()
    except EOFError:
        return None
    finally:
        receiver.close()
    return summary if isinstance(summary, ExtractSummary) else None


def _extract(
    job: ExtractionJob, database_ready: Event, storing_ended: Event, sender: Connection
) -> None:
    """In the child: extract what is stored until storing has ended, send the summary, and leave.

    The pipeline loads in a thread of its own from the start, while this one waits for the
    database and then for articles; a run that stores nothing leaves before it is loaded. The
    child ends with `os._exit` once its database is closed and its summary sent: tearing down
    spaCy's objects one by one is slower than the extraction of a few articles, and nothing is
    left to write.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the run, which stops this
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked child keeps no handler of the run's
    log_to_stderr(job.log_level)
    parent = multiprocessing.parent_process()
    loading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newstrack-load")
    extractor = loading.submit(_load_extractor, job.event_threshold)

    def abandoned() -> bool:
        # A run killed outright (a timeout, the OOM killer) never says so: stop with it.
        return parent is None or not parent.is_alive()

    code = 0
    while not database_ready.wait(PARENT_CHECK_SECONDS):
        if abandoned():  # the run ended before its database was ready
            _leave(code)
    try:
        with open_engine(job.database_url) as engine:
            summary = extract_as_stored(
                make_session_factory(engine),
                extractor.result,
                storing_ended.wait,
                job.limit,
                progress=Progress("extract", live=False),
                abandoned=abandoned,
            )
        _send(sender, summary)
    except Exception as error:
        log.debug("extraction process failed", exc_info=True)
        log.warning("extraction process failed: %s", described(error))
        code = 1
    _leave(code)


def _load_extractor(threshold: float | None) -> Extractor:
    """The standard extractor: spaCy and the trained pipeline, imported here and only here."""
    from pipeline.extraction import standard_extractor

    return standard_extractor(threshold)


def _send(sender: Connection, summary: ExtractSummary) -> None:
    """Give the run the summary; a run that has already ended is told nothing."""
    try:
        sender.send(summary)
    except OSError:  # the parent is gone: there is no one to tell
        log.info("extraction process: the run ended first; %d article(s) read", summary.articles)
    finally:
        sender.close()


def _leave(code: int) -> None:
    """End the child now: its output flushed, its loading thread (if still busy) left behind."""
    for handler in log.handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(code)
