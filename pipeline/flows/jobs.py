"""Jobs: the stages wired to storage, one transaction per unit of work."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.annotation import Annotation, ArticleText
from models.errors import NewstrackError
from models.fetched import FetchOutcome, FetchResult
from models.source import ArticleSelectors, SourceConfig
from models.urls import canonicalize_url, without_credentials
from models.vocabulary import load_vocabulary
from pipeline.config.cron import CronFile
from pipeline.config.settings import Settings
from pipeline.config.watchlists import Watchlist
from pipeline.delivery.digest import Digest, build_digest
from pipeline.delivery.message import compose
from pipeline.delivery.smtp import MailError, SmtpSettings
from pipeline.delivery.smtp import send as send_mail
from pipeline.extraction import Extractor
from pipeline.fetching import wordpress
from pipeline.fetching.blocks import html_to_text
from pipeline.fetching.feeds import FeedEntry, has_full_text, parse_feed
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import HostPacer, fetch, fetching_for
from pipeline.fetching.listing import parse_listing, parse_next_page
from pipeline.fetching.markup import strip_controls
from pipeline.fetching.pages import extract_page
from pipeline.fetching.robots import RobotsPolicy
from pipeline.flows.progress import Progress
from pipeline.text.language import detect_language
from storage import consolidation, queries, writes
from storage import digests as digests_store

# Re-exported: the flows and their callers open transactions through this one helper.
from storage.sessions import unit_of_work

log = logging.getLogger("newstrack")
StoredHook = Callable[[Session, int], None]  # runs in the transaction that stores an article
FIRST_DIGEST_SPAN = timedelta(days=1)  # what a recipient's first digest covers
# A digest covers events extracted until this long before it is sent: an article's extraction
# commits within it, so nothing extracted just before a digest is left out of the next one.
DIGEST_SETTLE = timedelta(seconds=10)
SENDING_GRACE = timedelta(minutes=15)  # longer than any SMTP exchange: a sending older is stuck
MAX_CRAWL_DELAY = 60.0  # seconds: a larger Crawl-delay would stall a run on that host
ROBOTS_AGENT = "newstrack"  # the product token robots.txt groups are matched against
FEED_CONTENT_TYPE = "text/html; charset=utf-8"  # a feed entry's content, kept as its raw page


@dataclass
class SourceReport:
    """What fetching one source did."""

    name: str
    status: str = "ok"  # ok | not_modified | failed | partial
    stored: int = 0
    known: int = 0
    duplicates: int = 0
    left_for_next_run: int = 0
    updated: int = 0
    due_again: str | None = None
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
    screened: int = 0  # read by the vocabularies only: no critical mineral or no measure named
    skipped: int = 0  # not read: empty, or not in English
    events: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Item:
    """An article to store: from a feed's full text, or a page still to fetch."""

    url: str
    title: str = ""
    text: str = ""
    published: datetime | None = None
    content_html: str = ""
    guid: str = ""
    language: str | None = None


@dataclass(frozen=True)
class _FetchRun:
    """What every source of one fetch run shares."""

    session_factory: sessionmaker[Session]
    client: httpx.Client
    settings: Settings
    pacer: HostPacer
    robots: RobotsPolicy
    progress: Progress
    dry_run: bool
    on_stored: StoredHook | None = None

    @classmethod
    def start(
        cls,
        session_factory: sessionmaker[Session],
        client: httpx.Client,
        settings: Settings,
        dry_run: bool,
        on_stored: StoredHook | None = None,
    ) -> _FetchRun:
        """A run's shared pacer, robots policy and progress."""
        http = settings.http
        pacer = HostPacer(http.per_host_connections, http.per_host_interval)
        robots = RobotsPolicy(
            lambda url: fetch(client, url, http, pacer=pacer),
            ROBOTS_AGENT,
            enabled=http.obey_robots,
        )
        return cls(
            session_factory, client, settings, pacer, robots, Progress("fetch"), dry_run, on_stored
        )

    def refused(self, source: SourceConfig, url: str) -> str | None:
        """Why robots.txt forbids a page, or None when it may be fetched."""
        if not source.obey_robots:
            return None
        if not self.robots.allowed(url):
            return f"{url}: disallowed by robots.txt"
        delay = self.robots.crawl_delay(url)
        if delay:
            self.pacer.slow_down(url, min(delay, MAX_CRAWL_DELAY))
        return None

    def get(
        self,
        url: str,
        source_id: int | None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch politely, with retries; each retried attempt gets its own `fetches` row."""
        return fetch(
            self.client,
            url,
            self.settings.http,
            etag=etag,
            last_modified=last_modified,
            pacer=self.pacer,
            on_retry=lambda attempt: self.log_fetch(source_id, attempt),
        )

    def log_fetch(self, source_id: int | None, result: FetchResult, health: bool = False) -> None:
        """Record an attempt, unless in a dry run; for a configured URL, also the source's health."""
        if self.dry_run:
            return
        with unit_of_work(self.session_factory) as session:
            writes.record_fetch(session, source_id, result)
            if health and source_id is not None:
                writes.update_source_health(session, source_id, result)

    def save_validators(
        self, source_id: int | None, fetched: list[tuple[str, FetchResult, str | None]]
    ) -> None:
        """Keep the validators of configured URLs whose items are all stored now."""
        if self.dry_run or source_id is None:
            return
        with unit_of_work(self.session_factory) as session:
            for url, result, body_hash in fetched:
                writes.save_validators(session, source_id, url, result, body_hash)

    def validators(self, url: str) -> tuple[str | None, str | None, str | None]:
        """A configured URL's ETag, Last-Modified and last body hash."""
        with unit_of_work(self.session_factory) as session:
            return writes.validators_of(session, url)


def fetch_sources(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    sources: Sequence[SourceConfig],
    settings: Settings,
    dry_run: bool = False,
    force: bool = False,
    on_stored: StoredHook | None = None,
) -> FetchSummary:
    """Fetch every source, several hosts at once; one failing source or item never stops the others.

    Sources backing off after failures are skipped until they are due, unless `force`.
    `on_stored` runs in the transaction that stores each new article (to queue its extraction).
    """
    source_ids: dict[str, int] = {}
    resting: dict[str, datetime] = {}
    with unit_of_work(session_factory) as session:
        if not dry_run:  # a dry run writes nothing, not even the source rows
            source_ids = writes.sync_sources(session, sources)
        if not force:
            resting = queries.resting_sources(session, datetime.now(UTC))
    run = _FetchRun.start(session_factory, client, settings, dry_run, on_stored)

    def fetch_one(source: SourceConfig) -> SourceReport:
        report = SourceReport(source.name)
        if source.name in resting:
            report.status, report.due_again = "resting", resting[source.name].isoformat()
            log.info("%s: resting after failures until %s", source.name, report.due_again)
            return report
        try:
            with fetching_for(source.urls):
                _fetch_source(run, source, source_ids.get(source.name), report)
        except NewstrackError as error:
            report.errors.append(str(error))
        except Exception as error:  # a bug or a hostile input: this source fails, not the run
            log.debug("%s: unexpected failure", source.name, exc_info=True)
            report.errors.append(f"{source.name}: {_described(error)}")
        report.errors = [without_credentials(error) for error in report.errors]
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
        return report

    workers = max(1, min(settings.http.fetch_workers, len(sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        reports = list(pool.map(fetch_one, sources))
    run.progress.finish()
    return FetchSummary(reports)


def _fetch_source(
    run: _FetchRun, source: SourceConfig, source_id: int | None, report: SourceReport
) -> None:
    items: list[_Item] = []
    modified = False
    conditional = source.http_cache and source_id is not None
    # Validators are kept only once the items are stored: a run started meanwhile must not take
    # a 304 for "all stored" while this run is still storing them.
    validated: list[tuple[str, FetchResult, str | None]] = []
    for url in source.urls:
        refusal = run.refused(source, url) if source.kind == "html_listing" else None
        if refusal is not None:  # feeds are published for machines; listings are pages
            report.errors.append(refusal)
            continue
        etag, last_modified, known_hash = run.validators(url) if conditional else (None, None, None)
        result = run.get(url, source_id, etag, last_modified)
        body_hash = hashlib.sha256(result.body).hexdigest() if result.ok else None
        if result.ok and conditional and body_hash == known_hash:
            # Some servers ignore validators: an identical body is as good as a 304.
            result = replace(result, outcome=FetchOutcome.NOT_MODIFIED)
        elif result.ok:
            try:
                items.extend(_items_of(source, result, report))
            except ParseError as error:  # HTML where a feed should be, an empty listing ...
                result = replace(result, outcome=FetchOutcome.HARD, error=str(error))
            except Exception as error:  # anything else a hostile body sets off: this URL's error
                log.debug("%s: not read", url, exc_info=True)
                result = replace(result, outcome=FetchOutcome.HARD, error=_described(error))
        run.log_fetch(source_id, result, health=True)
        if conditional and result.outcome in (FetchOutcome.SUCCESS, FetchOutcome.NOT_MODIFIED):
            validated.append((url, result, body_hash))
        if result.outcome is FetchOutcome.NOT_MODIFIED:
            continue
        if not result.ok:
            report.errors.append(f"{url}: {result.outcome}: {result.error}")
            continue
        modified = True
        if source.kind == "html_listing":
            items.extend(_older_listing_pages(run, source, source_id, result, report))
    if not modified and not report.errors:
        report.status = "not_modified"
    by_url: dict[str, _Item] = {}
    for item in items:
        by_url.setdefault(canonicalize_url(item.url), item)
    with unit_of_work(run.session_factory) as session:
        known = writes.known_urls(session, by_url)
        guids = [item.guid for item in by_url.values() if item.guid]
        known_guids = writes.known_guids(session, source_id, guids)
    if known and source_id is not None and not run.dry_run:
        with unit_of_work(run.session_factory) as session:
            writes.adopt_articles(session, source_id, known)
    known |= {url for url, item in by_url.items() if item.guid and item.guid in known_guids}
    report.known = len(known)
    fresh = [(url, item) for url, item in by_url.items() if url not in known]
    budget = source.max_articles or run.settings.max_articles_per_source
    report.left_for_next_run = max(len(fresh) - budget, 0)
    for url, item in fresh[:budget]:
        try:
            retry = _store_item(run, source, source_id, url, item, report)
        except Exception as error:  # one item's bug or hostile content fails that item alone
            report.errors.append(_failure(item.url, error))
        else:
            report.left_for_next_run += retry
        run.progress.advance(url)
    if report.left_for_next_run and source_id is not None and not run.dry_run:
        # Forget the validators: the next run must see the whole feed again to pick these up.
        with unit_of_work(run.session_factory) as session:
            writes.forget_validators(session, source_id)
    elif validated:
        run.save_validators(source_id, validated)


def _older_listing_pages(
    run: _FetchRun,
    source: SourceConfig,
    source_id: int | None,
    first: FetchResult,
    report: SourceReport,
) -> list[_Item]:
    """Items of a listing's following pages, up to the source's `listing.pages`."""
    items: list[_Item] = []
    page = first
    for _ in range(source.listing_pages - 1):
        assert source.next_selector is not None
        try:
            following = parse_next_page(
                page.body, page.final_url, source.next_selector, page.headers
            )
        except Exception as error:  # the items of this page are kept; the pages after are not
            log.debug("%s: next page not found", page.final_url, exc_info=True)
            report.errors.append(f"{page.final_url}: next page: {_described(error)}")
            break
        if following is None:
            break
        refusal = run.refused(source, following)
        if refusal is not None:
            report.errors.append(refusal)
            break
        page = run.get(following, source_id)
        try:
            found = _items_of(source, page, report) if page.ok else []
        except Exception as error:  # a hostile following page fails alone, like a first one
            log.debug("%s: not read", following, exc_info=True)
            page = replace(page, outcome=FetchOutcome.HARD, error=_described(error))
        run.log_fetch(source_id, page)
        if not page.ok:
            report.errors.append(f"{following}: {page.outcome}: {page.error}")
            break
        items.extend(found)
    return items


def _items_of(source: SourceConfig, result: FetchResult, report: SourceReport) -> list[_Item]:
    """The items of a fetched feed or listing; an entry that cannot be read is a report error."""
    if source.kind == "html_listing":
        assert source.link_selector is not None
        links = parse_listing(result.body, result.final_url, source.link_selector, result.headers)
        return [_Item(url=link) for link in links]
    items = []
    entries = parse_feed(result.body, result.final_url, result.headers, report.errors.append)
    for entry in entries:
        try:
            items.append(_item_of(entry))
        except Exception as error:  # hostile content HTML: this entry's error
            log.debug("%s: entry not read", entry.url, exc_info=True)
            report.errors.append(f"{entry.url}: {_described(error)}")
    return items


def _failure(name: str, error: Exception) -> str:
    """One item's error record: newstrack's own message, else the exception's class and message.

    An exception newstrack did not raise itself is logged with its traceback at debug level.
    """
    if isinstance(error, NewstrackError):
        return f"{name}: {error}"
    log.debug("%s: failed", name, exc_info=error)
    return f"{name}: {_described(error)}"


def _described(error: BaseException) -> str:
    """An unexpected exception as one line of an error record: its class and message."""
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _item_of(entry: FeedEntry) -> _Item:
    """A feed entry as an item: its text when it carries the whole article, else a page to fetch."""
    full = has_full_text(entry)
    return _Item(
        url=entry.url,
        title=entry.title,
        text=html_to_text(entry.content_html) if full else "",
        published=entry.published,
        content_html=entry.content_html if full else "",
        guid=entry.guid,
        language=entry.language,
    )


def _store_item(
    run: _FetchRun,
    source: SourceConfig,
    source_id: int | None,
    url: str,
    item: _Item,
    report: SourceReport,
) -> bool:
    """Store one item; return True when it failed in a way worth retrying next run."""
    article = writes.NewArticle(
        url=url,
        source_id=source_id,
        title=strip_controls(item.title),
        published_at=item.published,
        text=strip_controls(item.text),
        language=detect_language(item.text, item.language),
        extractor="feed",
        raw_html=item.content_html.encode("utf-8"),
        raw_content_type=FEED_CONTENT_TYPE,
        guid=item.guid or None,
    )
    if not item.text:
        refusal = run.refused(source, item.url)
        if refusal is not None:
            report.errors.append(refusal)
            return False
        result = run.get(item.url, source_id)
        page = None
        if result.ok:
            try:
                page = extract_page(result.body, result.final_url, source.article, result.headers)
            except ParseError as error:  # no text, nested too deep, too slow to read
                result = replace(result, outcome=FetchOutcome.HARD, error=str(error))
            except Exception as error:  # whatever else a hostile page sets off: this page's error
                log.debug("%s: page not read", item.url, exc_info=True)
                error_text = f"{item.url}: {_described(error)}"
                result = replace(result, outcome=FetchOutcome.HARD, error=error_text)
        run.log_fetch(source_id, result)
        if page is None:
            report.errors.append(f"{item.url}: {result.outcome}: {result.error}")
            return result.outcome in (FetchOutcome.TEMPORARY, FetchOutcome.SOFT)
        article = replace(
            article,
            title=article.title or page.title,
            published_at=item.published or page.published,
            text=page.text,
            language=page.language,
            extractor=page.extractor,
            raw_html=result.body,
            raw_content_type=result.headers.get("content-type", ""),
        )
    with unit_of_work(run.session_factory, run.dry_run) as session:
        stored = writes.add_article(session, article)
        if stored is not None and run.on_stored is not None:
            run.on_stored(session, stored)
        if stored is None and source_id is not None:  # stored meanwhile, by another source?
            writes.adopt_articles(session, source_id, [url])
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
        waiting = queries.pending_article_ids(
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
                summary.events |= consolidate_pending(session_factory)
    progress.finish()
    if not dry_run:
        summary.events |= consolidate_pending(session_factory)
    if summary.events and not dry_run:  # events merged into others later in the run are gone
        with unit_of_work(session_factory) as session:
            summary.events = queries.existing_events(session, summary.events)
    return summary


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
            claimed = queries.claim_pending_articles(claim, prefer, batch_size)
            if not claimed:
                break
            log.info("extract: claimed articles %s", ",".join(map(str, claimed)))
            with pace.extracting():
                _extract_batch(session_factory, extractor, claimed, summary, progress)
        if pace.due():
            with pace.consolidating():
                summary.events |= consolidate_pending(session_factory)
        if not until_none_left:
            break
    progress.finish()
    with unit_of_work(session_factory) as session:
        left = queries.pending_article_ids(session, limit=1)
    if not left:
        summary.events |= consolidate_pending(session_factory)
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


def consolidate_pending(session_factory: sessionmaker[Session]) -> set[int]:
    """Group the mentions stored since the last grouping into events, in one transaction."""
    with unit_of_work(session_factory) as session:
        return consolidation.consolidate_pending(session)


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
    with unit_of_work(session_factory) as session:
        batch = queries.articles_by_id(session, list(ids))
    texts = [ArticleText(str(a.id), a.text, a.title, a.published_at, a.language) for a in batch]
    annotated = list(zip(batch, extractor.annotate_each(texts, processes), strict=True))
    with unit_of_work(session_factory, dry_run) as session:
        writes.lock_for_annotations(
            session,
            [(article.id, found) for article, found in annotated if isinstance(found, Annotation)],
        )
        kinds: set[consolidation.Kind] = set()
        touched: set[int] = set()
        for article, annotation in annotated:
            try:
                if isinstance(annotation, Exception):
                    raise annotation
                with session.begin_nested():
                    found_kinds, found_events = writes.store_annotation(
                        session, article.id, annotation
                    )
            except Exception as error:  # one bad article must not stop the batch
                log.warning("article %d: extraction failed: %s", article.id, error)
                summary.failed += 1
                writes.mark_extraction_failed(
                    session, article.id, f"{type(error).__name__}: {error}"
                )
            else:
                kinds |= found_kinds
                touched |= found_events
                summary.screened += annotation.status == "screened"
                summary.skipped += annotation.status == "skipped"
            summary.articles += 1
            progress.advance(article.title)
        if dry_run and (kinds or touched):  # a rolled-back batch shows its events now
            summary.events.update(consolidation.consolidate(session, kinds, touched))
        else:
            consolidation.queue_consolidation(session, kinds, touched)


@dataclass
class ReextractSummary:
    """What re-extracting stored pages did."""

    checked: int = 0
    changed: int = 0
    failed: list[str] = field(default_factory=list)


def reextract_pages(
    session_factory: sessionmaker[Session],
    sources: Sequence[SourceConfig],
    only: list[str] | None = None,
    dry_run: bool = False,
    batch_size: int = 100,
) -> ReextractSummary:
    """Extract the text of stored raw pages again; changed articles wait for event extraction."""
    selectors = {source.name: source.article for source in sources}
    summary = ReextractSummary()
    with unit_of_work(session_factory) as session:
        ids = queries.article_ids_with_pages(session, only)
    for start in range(0, len(ids), batch_size):
        with unit_of_work(session_factory) as session:
            pages = queries.stored_pages(session, ids[start : start + batch_size])
        for page in pages:
            summary.checked += 1
            try:
                text, extractor = _text_of(page, selectors.get(page.source or ""))
            except Exception as error:  # a hostile stored page fails alone
                summary.failed.append(_failure(page.url, error))
                continue
            if text == page.text and extractor == page.extractor:
                continue
            summary.changed += 1
            with unit_of_work(session_factory, dry_run) as session:
                writes.replace_text(session, page.id, text, extractor)
    return summary


def _text_of(page: queries.StoredPage, selectors: ArticleSelectors | None) -> tuple[str, str]:
    """Text and extractor name of a stored page, as the fetch would produce them today."""
    raw = writes.decompress_page(page.raw_html)
    if page.extractor == "feed":
        return html_to_text(raw.decode("utf-8", errors="replace")), "feed"
    headers = {"content-type": page.raw_content_type or ""}
    extracted = extract_page(raw, page.url, selectors or ArticleSelectors(), headers)
    return extracted.text, extracted.extractor


def backfill_source(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    source: SourceConfig,
    settings: Settings,
    since: datetime,
    modified: bool = False,
    dry_run: bool = False,
) -> SourceReport:
    """Load a WordPress source's posts since a date through its REST API; edited posts are updated.

    New posts are stored like feed items; a stored post whose text changed gets the new text and
    waits for extraction again.
    """
    with unit_of_work(session_factory, dry_run) as session:
        source_id = writes.sync_sources(session, [source])[source.name]
    run = _FetchRun.start(session_factory, client, settings, dry_run)
    report = SourceReport(source.name)

    def get(url: str) -> FetchResult:
        logged_source = None if dry_run else source_id
        with fetching_for(source.urls):
            result = run.get(url, logged_source)
        run.log_fetch(logged_source, result)
        return result

    posts = {}
    try:
        for post in wordpress.backfill(get, source.urls[0], since, modified):
            posts[canonicalize_url(post.url)] = post
    except NewstrackError as error:
        report.errors.append(str(error))
    with unit_of_work(session_factory) as session:
        stored = writes.article_texts(session, list(posts))
    for url, post in posts.items():
        try:
            text = html_to_text(post.html)
        except ParseError as error:  # nested too deep
            report.errors.append(f"{post.url}: {error}")
            continue
        if url in stored:
            report.known += 1
            article_id, old_text = stored[url]
            if text and text != old_text:
                with unit_of_work(session_factory, dry_run) as session:
                    writes.replace_text(session, article_id, text, "feed")
                report.updated += 1
            continue
        try:
            item = replace(_item_of(post.to_entry()), text=text, content_html=post.html)
            _store_item(run, source, None if dry_run else source_id, url, item, report)
        except Exception as error:  # one hostile post fails alone
            report.errors.append(_failure(post.url, error))
    report.errors = [without_credentials(error) for error in report.errors]
    if report.errors:
        report.status = "partial" if report.stored or report.known else "failed"
    return report


@dataclass(frozen=True)
class ConsolidationSummary:
    """What consolidating the stored events again changed."""

    families: int
    changed: int
    events: int
    measures: int


def consolidate_all(
    session_factory: sessionmaker[Session], dry_run: bool = False
) -> ConsolidationSummary:
    """Regroup every stored mention into events and rebuild every timeline, one family at a time."""
    with unit_of_work(session_factory) as session:
        families = consolidation.families(session)
    changed = 0
    for family in families:
        with unit_of_work(session_factory, dry_run) as session:
            changed += consolidation.consolidate_family(session, family)
    with unit_of_work(session_factory) as session:
        counts = queries.totals(session)
        measures = queries.measure_count(session)
    return ConsolidationSummary(len(families), changed, counts.events, measures)


@dataclass
class DigestSummary:
    """What sending digests did: sent, failed (still pending), previews written."""

    sent: list[str] = field(default_factory=list)  # "watchlist -> recipient (period)"
    failed: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # sending began, never confirmed
    events: int = 0


def send_digests(
    session_factory: sessionmaker[Session],
    watchlists: Sequence[Watchlist],
    cron: CronFile,
    smtp: SmtpSettings,
    now: datetime,
    dry_run: bool = False,
    unsubscribe_url: str | None = None,
    unconfirmed: str | None = None,
) -> DigestSummary:
    """Send every watchlist's due digest at most once per recipient and period.

    A failure the server never took leaves the digest pending for the next run. A digest whose
    sending began but was never confirmed (the run was killed, or the link broke while handing it
    over) is listed as unconfirmed until the user says whether it arrived: `unconfirmed` is
    "resend" (it did not: send it again, with the same Message-ID) or "dismiss" (it did).
    """
    summary = DigestSummary()
    if not dry_run:  # mentions stored but not yet grouped must reach the events digests read
        consolidate_pending(session_factory)
    for watchlist in watchlists:
        period = cron.job(watchlist.schedule).latest(now)
        if unconfirmed and not dry_run:
            with unit_of_work(session_factory) as session:
                digests_store.settle_unconfirmed(
                    session, watchlist.name, now, arrived=unconfirmed == "dismiss"
                )
        with unit_of_work(session_factory) as session:
            stuck = digests_store.unconfirmed(session, watchlist.name, now - SENDING_GRACE)
        summary.unconfirmed += [
            f"{_label(delivery)}: sending never confirmed" for delivery in stuck
        ]
        with unit_of_work(session_factory, dry_run) as session:
            digests_store.open_deliveries(
                session, watchlist.name, watchlist.recipients, period, period - FIRST_DIGEST_SPAN
            )
            waiting = digests_store.pending(session, watchlist.name)
            if dry_run:  # compose in this rolled-back transaction, send nothing
                consolidation.consolidate_pending(session)
                for delivery in waiting:
                    message, digest = _digest_message(
                        session, watchlist, delivery, smtp, now, unsubscribe_url
                    )
                    summary.sent.append(f"{_label(delivery)} (dry run: {message['Subject']})")
                    summary.events += len(digest.items)
                continue
        for delivery in waiting:
            sent = _send_one(session_factory, watchlist, delivery, smtp, now, unsubscribe_url)
            if isinstance(sent, str):
                summary.failed.append(f"{_label(delivery)}: {sent}")
            elif sent is not None:
                summary.sent.append(_label(delivery))
                summary.events += sent
    return summary


def _send_one(
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    delivery: digests_store.Delivery,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None,
) -> int | str | None:
    """Send one pending digest: its event count, why it failed, or None when another run took it.

    The delivery is marked sending, and committed, before the server sees the message, so no
    run stopped at any point sends it twice; a failure the server never took puts it back.
    """
    with unit_of_work(session_factory) as session:
        taken = digests_store.take(session, delivery.id)
        if taken is None:
            return None  # another run sent it meanwhile
        message, digest = _digest_message(session, watchlist, taken, smtp, now, unsubscribe_url)
        digests_store.mark_sending(
            session,
            taken.id,
            digest.until,
            str(message["Message-ID"]),
            digest.new_count,
            digest.update_count,
        )
    try:
        send_mail(smtp, message, taken.recipient)
    except MailError as error:
        log.warning("digest %s: %s", _label(delivery), error)
        with unit_of_work(session_factory) as session:
            if error.maybe_delivered:
                digests_store.mark_unconfirmed(session, taken.id, str(error))
            else:
                digests_store.mark_failed(session, taken.id, str(error))
        return str(error)
    with unit_of_work(session_factory) as session:
        digests_store.mark_sent(session, taken.id)
    return len(digest.items)


def preview_digest(
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    cron: CronFile,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """The digest the first recipient would get now, built without recording anything."""
    period = cron.job(watchlist.schedule).latest(now)
    with unit_of_work(session_factory, dry_run=True) as session:
        digests_store.open_deliveries(
            session, watchlist.name, watchlist.recipients[:1], period, period - FIRST_DIGEST_SPAN
        )
        waiting = [d for d in digests_store.pending(session, watchlist.name) if d.period == period]
        delivery = (
            waiting[0]
            if waiting
            else digests_store.Delivery(
                0, watchlist.name, watchlist.recipients[0], period, period - FIRST_DIGEST_SPAN, 0
            )
        )
        message, _ = _digest_message(session, watchlist, delivery, smtp, now, unsubscribe_url)
    return message


def _digest_message(
    session: Session,
    watchlist: Watchlist,
    delivery: digests_store.Delivery,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None,
) -> tuple[EmailMessage, Digest]:
    until = now - DIGEST_SETTLE  # everything stored up to a moment ago, all of it committed
    digest = build_digest(
        digests_store.digest_measures(session, watchlist.filters, delivery.since, until),
        watchlist,
        delivery.recipient,
        delivery.period,
        delivery.since,
        until,
        load_vocabulary(),
    )
    return compose(digest, smtp.sender, now, unsubscribe_url), digest


def _label(delivery: digests_store.Delivery) -> str:
    return f"{delivery.watchlist} -> {delivery.recipient} ({delivery.period:%Y-%m-%d %H:%M} UTC)"
