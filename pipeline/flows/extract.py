"""Extraction: stored articles annotated and their mentions stored, a batch per transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from models.annotation import Annotation, ArticleText
from pipeline.flows.consolidate import run_queued_consolidation
from pipeline.flows.progress import Progress
from storage.annotations import lock_for_annotations, store_annotation
from storage.articles import article_facts, mark_extraction_failed
from storage.consolidation import Kind, consolidate, queue_consolidation
from storage.queries import (
    articles_by_id,
    claim_pending_articles,
    existing_events,
    pending_article_ids,
)
from storage.sessions import unit_of_work

if TYPE_CHECKING:  # spaCy is imported by the first batch read, not by a run that reads none
    from pipeline.extraction import Extractor

log = logging.getLogger("newstrack")
STORING_POLL = 0.25  # seconds between looks for newly stored articles while nothing waits


@dataclass
class ExtractSummary:
    """What an extraction run did."""

    articles: int = 0
    failed: int = 0
    screened: int = 0  # read by the vocabularies only: no critical mineral or no measure named
    skipped: int = 0  # not read: empty, or in a language other than English and Chinese
    events: set[int] = field(default_factory=set)


def extract_pending(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    batch_size: int = 32,
    limit: int | None = None,
    dry_run: bool = False,
    outdated: bool = False,
    processes: int = 1,
    ids: Sequence[int] | None = None,
) -> ExtractSummary:
    """Annotate articles waiting for extraction and store their events, a batch per transaction.

    With `outdated`, articles extracted by another extractor version are annotated again; their
    tags and mentions are replaced, and articles already at this version are left untouched.
    Stored mentions are grouped into events as they are paced, and once more at the end.
    """
    summary = ExtractSummary()
    with unit_of_work(session_factory) as session:
        waiting = pending_article_ids(
            session, limit, extractor.version if outdated else None, among=ids
        )
    progress = Progress("extract", total=len(waiting))
    pace = ConsolidationPace()
    for start in range(0, len(waiting), batch_size):
        with pace.extracting():
            _extract_batch(
                session_factory,
                extractor,
                waiting[start : start + batch_size],
                summary,
                progress,
                dry_run,
                processes,
            )
        if pace.due() and not dry_run:
            with pace.consolidating():
                summary.events |= run_queued_consolidation(session_factory)
    progress.finish()
    if not dry_run:
        _consolidate_at_end(session_factory, summary)
    return summary


def extract_as_stored(
    session_factory: sessionmaker[Session],
    load_extractor: Callable[[], Extractor],
    storing_ended: Callable[[float], bool],
    limit: int | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
    abandoned: Callable[[], bool] = lambda: False,
) -> ExtractSummary:
    """Extract articles while another process stores them, until `storing_ended` says it is over.

    `storing_ended(seconds)` waits at most that long for the storing to end and says whether it
    has; once it has, what was stored last is extracted too. Batches are whatever is waiting, up
    to `batch_size`, so the trained pipeline is busy while the fetching waits on the network.
    When `abandoned()` turns true, it stops after the batch in hand and leaves the rest waiting.
    `load_extractor` is called when the first article waits, and never when none does.
    """
    extractor: Extractor | None = None
    summary = ExtractSummary()
    progress = progress or Progress("extract")
    pace = ConsolidationPace()
    tried: set[int] = set()
    stuck: set[int] = set()  # tried, yet still waiting (another extraction holds it): not again
    ended = False
    while limit is None or summary.articles < limit:
        if abandoned():
            log.warning("extract: the run is gone; %d article(s) read, the rest wait", len(tried))
            return summary
        room = batch_size if limit is None else min(batch_size, limit - summary.articles)
        with unit_of_work(session_factory) as session:
            waiting = pending_article_ids(session, room + len(stuck))
        stuck |= tried.intersection(waiting)
        batch = [article for article in waiting if article not in tried][:room]
        if not batch:
            if ended:
                break
            ended = storing_ended(STORING_POLL)
            continue
        tried.update(batch)
        extractor = extractor or load_extractor()
        with pace.extracting():
            _extract_batch(session_factory, extractor, batch, summary, progress)
        if pace.due():
            with pace.consolidating():
                summary.events |= run_queued_consolidation(session_factory)
    progress.finish()
    _consolidate_at_end(session_factory, summary)
    return summary


def _consolidate_at_end(session_factory: sessionmaker[Session], summary: ExtractSummary) -> None:
    """Group what is still queued; events merged into others during the run are left out."""
    summary.events |= run_queued_consolidation(session_factory)
    if summary.events:
        with unit_of_work(session_factory) as session:
            summary.events = existing_events(session, summary.events)


def extract_claimed(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    prefer: Sequence[int] = (),
    batch_size: int = 32,
    until_none_left: bool = False,
    pace: ConsolidationPace | None = None,
) -> ExtractSummary:
    """On PostgreSQL, extract batches of waiting articles no other worker holds, `prefer` first.

    Each batch is claimed for as long as it is read and stored, so workers running at once share
    the waiting articles without reading one twice. Without `until_none_left`, one batch is read.
    The stored mentions are grouped into events when `pace` says it is due, and whenever no
    article is left waiting, so the last worker to finish groups them.
    """
    summary = ExtractSummary()
    progress = Progress("extract")
    pace = pace or ConsolidationPace()
    while True:
        with session_factory() as claim, claim.begin():
            claimed = claim_pending_articles(claim, prefer, batch_size)
            if not claimed:
                break
            log.info("extract: claimed articles %s", ",".join(map(str, claimed)))
            with pace.extracting():
                _extract_batch(session_factory, extractor, claimed, summary, progress)
        if pace.due():
            with pace.consolidating():
                summary.events |= run_queued_consolidation(session_factory)
        if not until_none_left:
            break
    progress.finish()
    with unit_of_work(session_factory) as session:
        left = pending_article_ids(session, limit=1)
    if not left:
        summary.events |= run_queued_consolidation(session_factory)
    return summary


@dataclass
class ConsolidationPace:
    """When to group stored mentions into events during a long extraction.

    Grouping rereads every claim of the kinds it touches, so it is run when the extraction since
    the last one took `times` as long as that one did: it stays a bounded share of the work
    however large the store grows, and events are never older than a few groupings.
    """

    times: float = 10.0
    extracted: float = 0.0  # seconds of extraction since the last grouping
    last: float = 0.0  # seconds the last grouping took

    def due(self) -> bool:
        """Whether enough extraction has passed since the last grouping."""
        return self.extracted > 0 and self.extracted >= self.times * self.last

    @contextmanager
    def extracting(self) -> Iterator[None]:
        """Count the time of an extraction batch."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.extracted += time.perf_counter() - started

    @contextmanager
    def consolidating(self) -> Iterator[None]:
        """Count the time of a grouping, and start counting extraction again."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.last = time.perf_counter() - started
            self.extracted = 0.0


def _extract_batch(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    ids: Sequence[int],
    summary: ExtractSummary,
    progress: Progress,
    dry_run: bool = False,
    processes: int = 1,
) -> None:
    """Annotate some articles in one pass of the pipeline and store them in one transaction.

    Each article is stored in its own savepoint, so one that fails is marked failed and the others
    go on; their events are consolidated once for the whole batch, and a batch is stored whole or
    not at all.
    """
    from pipeline.extraction.facts import read_facts, with_facts

    with unit_of_work(session_factory) as session:
        batch = articles_by_id(session, list(ids))
        facts = article_facts(session, ids)  # an official register's facts, for its documents
    texts = [
        ArticleText(str(a.id), a.text, a.title, a.published_at, a.language, read_facts(a.id, facts))
        for a in batch
    ]
    found = with_facts(texts, extractor.annotate_each(texts, processes), extractor.vocabulary)
    annotated = list(zip(batch, found, strict=True))
    with unit_of_work(session_factory, dry_run) as session:
        lock_for_annotations(
            session,
            [(article.id, found) for article, found in annotated if isinstance(found, Annotation)],
        )
        kinds: set[Kind] = set()
        touched: set[int] = set()
        for article, annotation in annotated:
            try:
                if isinstance(annotation, Exception):
                    raise annotation
                with session.begin_nested():
                    found_kinds, found_events = store_annotation(session, article.id, annotation)
            except Exception as error:  # one bad article must not stop the batch
                log.warning("article %d: extraction failed: %s", article.id, error)
                summary.failed += 1
                mark_extraction_failed(session, article.id, f"{type(error).__name__}: {error}")
            else:
                kinds |= found_kinds
                touched |= found_events
                summary.screened += annotation.status == "screened"
                summary.skipped += annotation.status == "skipped"
            summary.articles += 1
            progress.advance(article.title)
        if dry_run and (kinds or touched):  # a rolled-back batch shows its events now
            summary.events.update(consolidate(session, kinds, touched))
        else:
            queue_consolidation(session, kinds, touched)
