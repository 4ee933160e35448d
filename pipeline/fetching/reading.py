"""Reading article pages for the fetching threads: in processes of their own, or one at a time here.

Reading a page (lxml, trafilatura, the language classifier) is CPU work that holds the GIL: done by
the fetching threads, it keeps them from the network. Reading processes are forked as a run starts,
while it has one thread; each then imports and loads what reading needs (prepare_reading) while the
run opens its database and asks for its feeds, which the run itself then never loads. A page goes
to them as bytes and comes back as a Page.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from models.errors import NewstrackError
from models.source import ArticleSelectors
from pipeline.fetching.pages import Page, extract_page
from pipeline.running.forking import fork_is_safe, usable_cores
from pipeline.text.language import classifier_ready, load_classifier_in_background

log = logging.getLogger("newstrack")
PARENT_CHECK_SECONDS = 1.0  # how often a reading process checks that its run is still there
# A small page whose reading takes every path a page's first reading loads or compiles things on
# (trafilatura, its jusText fallback's stop lists for a short text, lxml's parser).
FIRST_PAGE = (
    b'<html lang="en"><head><title>newstrack</title></head><body><article><h1>newstrack</h1>'
    b"<p>This page is read once by each reading process as it starts.</p></article></body></html>"
)


class ReadingLost(NewstrackError):
    """A reading process ended while it read a page: the page is not known to be at fault."""


class PageReader:
    """Reads pages here, one at a time: the GIL runs one reading anyway, and threads taking turns
    inside lxml and trafilatura spent twice the CPU per page (bench/fetch_stage.py)."""

    def __init__(self) -> None:
        self._one_at_a_time = threading.Lock()

    def read(
        self, body: bytes, url: str, selectors: ArticleSelectors, headers: Mapping[str, str]
    ) -> Page:
        """Title, date, text and language of a page (see extract_page)."""
        with self._one_at_a_time:
            return extract_page(body, url, selectors, headers)

    def close(self) -> None:
        """Nothing to end: the pages were read here."""


class ProcessPageReader(PageReader):
    """Reads pages in forked processes; here, once one of them has ended unexpectedly."""

    def __init__(self, processes: int) -> None:
        super().__init__()
        self._switching = threading.Lock()
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_reading_process_started,
            initargs=(os.getpid(),),
        )
        # A forking pool forks all its processes at its first task: now, while that is safe. The
        # task is not waited for: the processes prepare their reading while the run goes on.
        self._pool.submit(int)

    def read(
        self, body: bytes, url: str, selectors: ArticleSelectors, headers: Mapping[str, str]
    ) -> Page:
        """The page, read by a reading process (by this one, after a reading process was lost)."""
        pool = self._pool
        if pool is None:
            return super().read(body, url, selectors, headers)
        try:
            return pool.submit(extract_page, body, url, selectors, dict(headers)).result()
        except BrokenProcessPool:
            self._lost(pool)
            raise ReadingLost(
                f"{url}: the page-reading process ended while reading it (read again next run)"
            ) from None

    def close(self) -> None:
        """End the reading processes."""
        with self._switching:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    def _lost(self, pool: ProcessPoolExecutor) -> None:
        """Read the rest here: a page that crashed a reading process may crash the next too."""
        with self._switching:
            if self._pool is not pool:
                return
            self._pool = None
        log.warning("a page-reading process ended: this run reads its other pages in the fetcher")
        pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def page_reader(processes: int | None = None) -> Iterator[PageReader]:
    """Readers for a fetch run: `processes` of them (None: one fewer than the usable cores, at least
    one) forked now, when it is safe; else pages are read here. 0 reads here."""
    wanted = max(usable_cores() - 1, 1) if processes is None else processes
    if wanted > 0 and fork_is_safe():
        reader: PageReader = ProcessPageReader(wanted)
    else:
        load_classifier_in_background()  # while the run opens its database
        reader = PageReader()
    try:
        yield reader
    finally:
        reader.close()


def prepare_reading() -> None:
    """Import and load what reading pages needs, so that the first page costs what the others do."""
    classifier_ready()
    try:
        extract_page(FIRST_PAGE, "http://localhost/", ArticleSelectors())
    except Exception as error:  # the pages themselves will say what is wrong, each by its URL
        log.warning("page reading could not be prepared: %s", error)


def _reading_process_started(parent: int) -> None:
    """In a reading process: Ctrl-C is for the run, which ends this; a killed run ends it too.

    Then it prepares its reading, while the run opens its database and asks for its feeds.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="newstrack-reader-watch", daemon=True).start()
    prepare_reading()
