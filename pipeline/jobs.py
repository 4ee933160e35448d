"""Jobs: the stages wired to storage, one transaction per unit of work."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Source
from pipeline.errors import NewstrackError
from pipeline.extract import ArticleText, Extractor
from pipeline.fetch import FetchResult, Outcome, fetch
from pipeline.parse import extract_page, has_full_text, html_to_text, parse_feed, parse_listing
from pipeline.progress import Progress
from pipeline.settings import Settings
from pipeline.sources import SourceConfig
from pipeline.urls import canonicalize_url
from storage import queries, writes

log = logging.getLogger("newstrack")


@dataclass
class SourceReport:
    """What fetching one source did."""

    name: str
    status: str = "ok"  # ok | not_modified | failed | partial
    stored: int = 0
    known: int = 0
    duplicates: int = 0
    left_for_next_run: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class FetchSummary:
    """What a fetch run did, source by source."""

    sources: list[SourceReport] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Articles stored in this run."""
        return sum(report.stored for report in self.sources)

    @property
    def failed(self) -> list[SourceReport]:
        """Sources that failed entirely or in part."""
        return [report for report in self.sources if report.status in ("failed", "partial")]


@dataclass
class ExtractSummary:
    """What an extraction run did."""

    articles: int = 0
    failed: int = 0
    events: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Item:
    """An article to store: from a feed's full text, or a page still to fetch."""

    url: str
    title: str = ""
    text: str = ""
    published: datetime | None = None


@contextmanager
def unit_of_work(
    session_factory: sessionmaker[Session], dry_run: bool = False
) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error or in a dry run."""
    with session_factory() as session:
        session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()


def fetch_sources(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    sources: Sequence[SourceConfig],
    settings: Settings,
    dry_run: bool = False,
) -> FetchSummary:
    """Fetch every source; one failing source or item never stops the others."""
    source_ids: dict[str, int] = {}
    if not dry_run:  # a dry run writes nothing, not even the source rows
        with unit_of_work(session_factory) as session:
            source_ids = writes.sync_sources(session, sources)
    summary = FetchSummary()
    for source in sources:
        report = SourceReport(source.name)
        try:
            _fetch_source(
                session_factory,
                client,
                source,
                source_ids.get(source.name),
                settings,
                report,
                dry_run,
            )
        except NewstrackError as error:
            report.errors.append(str(error))
        if report.errors:
            report.status = "partial" if report.stored or report.known else "failed"
        log.info(
            "%s: %s, %d new, %d known%s",
            source.name,
            report.status,
            report.stored,
            report.known,
            f", {len(report.errors)} error(s): {report.errors[0]}" if report.errors else "",
        )
        summary.sources.append(report)
    return summary


def _fetch_source(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    source: SourceConfig,
    source_id: int | None,
    settings: Settings,
    report: SourceReport,
    dry_run: bool,
) -> None:
    items: list[_Item] = []
    modified = False
    # Validators live on the source row, so conditional GET is used for one-URL sources only.
    conditional = len(source.urls) == 1
    for url in source.urls:
        etag, last_modified = (
            _validators(session_factory, source_id) if conditional else (None, None)
        )
        result = fetch(client, url, settings.http, etag=etag, last_modified=last_modified)
        if not dry_run:
            with unit_of_work(session_factory) as session:
                writes.record_fetch(session, source_id, result)
                if source_id is not None:
                    writes.update_source_health(session, source_id, result)
        if result.outcome is Outcome.NOT_MODIFIED:
            continue
        if not result.ok:
            report.errors.append(f"{url}: {result.outcome}: {result.error}")
            continue
        modified = True
        items.extend(_items_of(source, result))
    if not modified and not report.errors:
        report.status = "not_modified"
    by_url: dict[str, _Item] = {}
    for item in items:
        by_url.setdefault(canonicalize_url(item.url), item)
    with unit_of_work(session_factory) as session:
        known = writes.known_urls(session, by_url)
    report.known = len(known)
    fresh = [(url, item) for url, item in by_url.items() if url not in known]
    budget = source.max_articles or settings.max_articles_per_source
    progress = Progress(source.name, total=min(len(fresh), budget))
    report.left_for_next_run = max(len(fresh) - budget, 0)
    for url, item in fresh[:budget]:
        try:
            retry = _store_item(
                session_factory, client, source, source_id, settings, url, item, report, dry_run
            )
        except NewstrackError as error:
            report.errors.append(f"{item.url}: {error}")
        else:
            report.left_for_next_run += retry
        progress.advance(url)
    progress.finish()
    if report.left_for_next_run and source_id is not None and not dry_run:
        # Forget the validators: the next run must see the whole feed again to pick these up.
        with unit_of_work(session_factory) as session:
            writes.forget_validators(session, source_id)


def _validators(
    session_factory: sessionmaker[Session], source_id: int | None
) -> tuple[str | None, str | None]:
    if source_id is None:
        return None, None
    with unit_of_work(session_factory) as session:
        row = session.execute(
            select(Source.etag, Source.last_modified).where(Source.id == source_id)
        ).one_or_none()
    return (row.etag, row.last_modified) if row is not None else (None, None)


def _items_of(source: SourceConfig, result: FetchResult) -> list[_Item]:
    if source.kind == "html_listing":
        assert source.link_selector is not None
        links = parse_listing(result.body, result.final_url, source.link_selector, result.headers)
        return [_Item(url=link) for link in links]
    items = []
    for entry in parse_feed(result.body, result.final_url, result.headers):
        if has_full_text(entry):
            items.append(
                _Item(entry.url, entry.title, html_to_text(entry.content_html), entry.published)
            )
        else:
            items.append(_Item(entry.url, entry.title, "", entry.published))
    return items


def _store_item(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    source: SourceConfig,
    source_id: int | None,
    settings: Settings,
    url: str,
    item: _Item,
    report: SourceReport,
    dry_run: bool,
) -> bool:
    """Store one item; return True when it failed in a way worth retrying next run."""
    title, text, published, language, extractor = (
        item.title,
        item.text,
        item.published,
        None,
        "feed",
    )
    if not text:
        result = fetch(client, item.url, settings.http)
        if not dry_run:
            with unit_of_work(session_factory) as session:
                writes.record_fetch(session, source_id, result)
        if not result.ok:
            report.errors.append(f"{item.url}: {result.outcome}: {result.error}")
            return result.outcome in (Outcome.TEMPORARY, Outcome.SOFT)
        page = extract_page(result.body, result.final_url, source.article, result.headers)
        title = title or page.title
        text, language, extractor = page.text, page.language, page.extractor
        published = published or page.published
    article = writes.NewArticle(
        url=url,
        source_id=source_id,
        title=title,
        published_at=published,
        text=text,
        language=language or "en",
        extractor=extractor,
    )
    with unit_of_work(session_factory, dry_run) as session:
        stored = writes.add_article(session, article)
    if stored is None:
        report.duplicates += 1
    else:
        report.stored += 1
    return False


def extract_pending(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    batch_size: int = 32,
    limit: int | None = None,
    dry_run: bool = False,
) -> ExtractSummary:
    """Annotate articles waiting for extraction and store their events, one article per transaction."""
    summary = ExtractSummary()
    last_id = 0
    with unit_of_work(session_factory) as session:
        waiting = queries.count_pending(session)
    progress = Progress("extract", total=waiting if limit is None else min(waiting, limit))
    while limit is None or summary.articles < limit:
        size = batch_size if limit is None else min(batch_size, limit - summary.articles)
        with unit_of_work(session_factory) as session:
            batch = queries.pending_articles(session, size, after_id=last_id)
        if not batch:
            break
        last_id = batch[-1].id
        texts = [ArticleText(str(a.id), a.text, a.title, a.published_at) for a in batch]
        for article, annotation in zip(batch, extractor.annotate(texts), strict=True):
            try:
                with unit_of_work(session_factory, dry_run) as session:
                    summary.events.update(writes.save_annotation(session, article.id, annotation))
            except Exception as error:  # one bad article must not stop the batch
                log.warning("article %d: extraction failed: %s", article.id, error)
                summary.failed += 1
                with unit_of_work(session_factory, dry_run) as session:
                    writes.mark_extraction_failed(
                        session, article.id, f"{type(error).__name__}: {error}"
                    )
            summary.articles += 1
            progress.advance(article.title)
    progress.finish()
    return summary
