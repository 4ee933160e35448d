"""One fetch run: the politeness and bookkeeping its sources share, and storing one item found."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.facts import DocumentFacts
from models.fetched import FetchOutcome, FetchResult
from models.source import SourceConfig
from pipeline.config.settings import Settings
from pipeline.fetching.blocks import html_to_text
from pipeline.fetching.feeds import FeedEntry, has_full_text
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import HostPacer, fetch
from pipeline.fetching.markup import strip_controls
from pipeline.fetching.reading import PageReader, ReadingLost
from pipeline.fetching.robots import RobotsPolicy
from pipeline.flows.failures import described
from pipeline.flows.progress import Progress
from pipeline.text.language import detect_language
from storage.articles import NewArticle, add_article, adopt_articles
from storage.sessions import unit_of_work
from storage.sources import record_fetch, save_validators, update_source_health, validators_of

log = logging.getLogger("newstrack")
StoredHook = Callable[[Session, int], None]  # runs in the transaction that stores an article
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


@dataclass(frozen=True)
class Item:
    """An article to store: from a feed's full text, or a page still to fetch."""

    url: str
    title: str = ""
    text: str = ""
    published: datetime | None = None
    content_html: str = ""
    guid: str = ""
    language: str | None = None
    listed: datetime | None = None  # the time a listing shows beside the link; the page's own wins
    page_url: str = ""  # where the text is, when not at `url` (an API's full text of a document)
    facts: DocumentFacts | None = None  # what an official register says of the document


@dataclass(frozen=True)
class Paging:
    """How a source's pages follow one another: how many, where the next is, what each holds."""

    pages: int
    next_of: Callable[[FetchResult], str | None]
    items_of: Callable[[FetchResult], list[Item]]
    robots: bool = True  # whether robots.txt is asked (pages are; an API is for machines)


@dataclass(frozen=True)
class FetchRun:
    """What every source of one fetch run shares."""

    session_factory: sessionmaker[Session]
    client: httpx.Client
    settings: Settings
    pacer: HostPacer
    robots: RobotsPolicy
    progress: Progress
    dry_run: bool
    on_stored: StoredHook | None = None
    reader: PageReader = field(default_factory=PageReader)

    @classmethod
    def start(
        cls,
        session_factory: sessionmaker[Session],
        client: httpx.Client,
        settings: Settings,
        dry_run: bool,
        on_stored: StoredHook | None = None,
        reader: PageReader | None = None,
    ) -> FetchRun:
        """A run's shared pacer, robots policy and progress (pages read here, without `reader`)."""
        http = settings.http
        pacer = HostPacer(http.per_host_connections, http.per_host_interval)
        robots = RobotsPolicy(
            lambda url: fetch(client, url, http, pacer=pacer),
            ROBOTS_AGENT,
            enabled=http.obey_robots,
        )
        progress = Progress("fetch")
        return cls(
            session_factory,
            client,
            settings,
            pacer,
            robots,
            progress,
            dry_run,
            on_stored,
            reader or PageReader(),
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
            record_fetch(session, source_id, result)
            if health and source_id is not None:
                update_source_health(session, source_id, result)

    def save_validators(
        self, source_id: int | None, fetched: list[tuple[str, FetchResult, str | None]]
    ) -> None:
        """Keep the validators of configured URLs whose items are all stored now."""
        if self.dry_run or source_id is None:
            return
        with unit_of_work(self.session_factory) as session:
            for url, result, body_hash in fetched:
                save_validators(session, source_id, url, result, body_hash)

    def validators(self, url: str) -> tuple[str | None, str | None, str | None]:
        """A configured URL's ETag, Last-Modified and last body hash."""
        with unit_of_work(self.session_factory) as session:
            return validators_of(session, url)


def item_of(entry: FeedEntry) -> Item:
    """A feed entry as an item: its text when it carries the whole article, else a page to fetch."""
    full = has_full_text(entry)
    return Item(
        url=entry.url,
        title=entry.title,
        text=html_to_text(entry.content_html) if full else "",
        published=entry.published,
        content_html=entry.content_html if full else "",
        guid=entry.guid,
        language=entry.language,
    )


def store_item(
    run: FetchRun,
    source: SourceConfig,
    source_id: int | None,
    url: str,
    item: Item,
    report: SourceReport,
) -> bool:
    """Store one item; return True when it failed in a way worth retrying next run."""
    article = NewArticle(
        url=url,
        source_id=source_id,
        title=strip_controls(item.title),
        published_at=item.published,
        text=strip_controls(item.text),
        language=detect_language(item.text, item.language),
        text_extractor="feed",
        raw_html=item.content_html.encode("utf-8"),
        raw_content_type=FEED_CONTENT_TYPE,
        guid=item.guid or None,
        facts=item.facts,
    )
    if not item.text:
        refusal = run.refused(source, item.page_url or item.url)
        if refusal is not None:
            report.errors.append(refusal)
            return False
        result = run.get(item.page_url or item.url, source_id)
        page = None
        if result.ok:
            try:
                page = run.reader.read(
                    result.body, result.final_url, source.article, result.headers
                )
            except ParseError as error:  # no text, nested too deep, too slow to read
                result = replace(result, outcome=FetchOutcome.HARD, error=str(error))
            except ReadingLost as error:  # not known to be the page's fault: next run
                result = replace(result, outcome=FetchOutcome.TEMPORARY, error=str(error))
            except Exception as error:  # whatever else a hostile page sets off: this page's error
                log.debug("%s: page not read", item.url, exc_info=True)
                error_text = f"{item.url}: {described(error)}"
                result = replace(result, outcome=FetchOutcome.HARD, error=error_text)
        run.log_fetch(source_id, result)
        if page is None:
            report.errors.append(f"{item.url}: {result.outcome}: {result.error}")
            return result.outcome in (FetchOutcome.TEMPORARY, FetchOutcome.SOFT)
        article = replace(
            article,
            title=article.title or page.title,
            published_at=item.published or page.published or item.listed,
            text=page.text,
            language=page.language,
            text_extractor=page.text_extractor,
            raw_html=result.body,
            raw_content_type=result.headers.get("content-type", ""),
        )
    with unit_of_work(run.session_factory, run.dry_run) as session:
        stored = add_article(session, article)
        if stored is not None and run.on_stored is not None:
            run.on_stored(session, stored)
        if stored is None and source_id is not None:  # stored meanwhile, by another source?
            adopt_articles(session, source_id, [url])
    if stored is None:
        report.duplicates += 1
    else:
        report.stored += 1
    return False


def follow_pages(
    run: FetchRun,
    source: SourceConfig,
    source_id: int | None,
    first: FetchResult,
    report: SourceReport,
    paging: Paging,
) -> list[Item]:
    """Items of the pages after the first, each found on the one before, up to `paging.pages` in all.

    A page that fails ends the paging: the items of the pages before it are kept.
    """
    items: list[Item] = []
    page = first
    for _ in range(paging.pages - 1):
        try:
            following = paging.next_of(page)
        except Exception as error:  # the items of this page are kept; the pages after are not
            log.debug("%s: next page not found", page.final_url, exc_info=True)
            report.errors.append(f"{page.final_url}: next page: {described(error)}")
            break
        if following is None:
            break
        refusal = run.refused(source, following) if paging.robots else None
        if refusal is not None:
            report.errors.append(refusal)
            break
        page = run.get(following, source_id)
        found: list[Item] = []
        if page.ok:
            try:
                found = paging.items_of(page)
            except Exception as error:  # a hostile following page fails alone, like a first one
                log.debug("%s: not read", following, exc_info=True)
                page = replace(page, outcome=FetchOutcome.HARD, error=described(error))
        run.log_fetch(source_id, page)
        if not page.ok:
            report.errors.append(f"{following}: {page.outcome}: {page.error}")
            break
        items.extend(found)
    return items
