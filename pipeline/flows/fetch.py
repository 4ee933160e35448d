"""Fetching: every configured source's feeds or listings, and the articles they list, stored."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.errors import NewstrackError
from models.fetched import FetchOutcome, FetchResult
from models.source import SourceConfig
from models.urls import canonicalize_url, without_credentials
from pipeline.config.federal_register import KIND as REGISTER_KIND
from pipeline.config.settings import Settings
from pipeline.fetching.feeds import parse_feed
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import fetching_for
from pipeline.fetching.listing import ListingRules, parse_listing, parse_next_page
from pipeline.fetching.reading import PageReader
from pipeline.flows.failures import described, failure
from pipeline.flows.fetch_register import (
    first_pages,
    following_register_pages,
    register_items,
)
from pipeline.flows.fetch_run import (
    FetchRun,
    Item,
    Paging,
    SourceReport,
    StoredHook,
    follow_pages,
    item_of,
    store_item,
)
from storage.articles import adopt_articles, known_guids, known_urls
from storage.queries import resting_sources
from storage.sessions import unit_of_work
from storage.sources import forget_validators, sync_sources

log = logging.getLogger("newstrack")


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


def fetch_sources(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    sources: Sequence[SourceConfig],
    settings: Settings,
    dry_run: bool = False,
    force: bool = False,
    on_stored: StoredHook | None = None,
    reader: PageReader | None = None,
) -> FetchSummary:
    """Fetch every source, several hosts at once; one failing source or item never stops the others.

    Sources backing off after failures are skipped until they are due, unless `force`.
    `on_stored` runs in the transaction that stores each new article (to queue its extraction).
    Pages are read by `reader` (see page_reader), else in this process.
    """
    source_ids: dict[str, int] = {}
    resting: dict[str, datetime] = {}
    with unit_of_work(session_factory) as session:
        if not dry_run:  # a dry run writes nothing, not even the source rows
            source_ids = sync_sources(session, sources)
        if not force:
            resting = resting_sources(session, datetime.now(UTC))
    run = FetchRun.start(session_factory, client, settings, dry_run, on_stored, reader)

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
            report.errors.append(f"{source.name}: {described(error)}")
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
    run: FetchRun, source: SourceConfig, source_id: int | None, report: SourceReport
) -> None:
    items: list[Item] = []
    modified = False
    conditional = source.http_cache and source_id is not None
    # Validators are kept only once the items are stored: a run started meanwhile must not take
    # a 304 for "all stored" while this run is still storing them.
    validated: list[tuple[str, FetchResult, str | None]] = []
    for url in first_pages(source):  # a federal_register source: its query's first page
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
                result = replace(result, outcome=FetchOutcome.HARD, error=described(error))
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
        elif source.kind == REGISTER_KIND:
            items.extend(following_register_pages(run, source, source_id, result, report))
    if not modified and not report.errors:
        report.status = "not_modified"
    by_url: dict[str, Item] = {}
    for item in items:
        by_url.setdefault(canonicalize_url(item.url), item)
    with unit_of_work(run.session_factory) as session:
        known = known_urls(session, by_url)
        guids = [item.guid for item in by_url.values() if item.guid]
        stored_guids = known_guids(session, source_id, guids)
    if known and source_id is not None and not run.dry_run:
        with unit_of_work(run.session_factory) as session:
            adopt_articles(session, source_id, known)
    known |= {url for url, item in by_url.items() if item.guid and item.guid in stored_guids}
    report.known = len(known)
    fresh = [(url, item) for url, item in by_url.items() if url not in known]
    budget = source.max_articles or run.settings.max_articles_per_source
    report.left_for_next_run = max(len(fresh) - budget, 0)
    for url, item in fresh[:budget]:
        try:
            retry = store_item(run, source, source_id, url, item, report)
        except Exception as error:  # one item's bug or hostile content fails that item alone
            report.errors.append(failure(item.url, error))
        else:
            report.left_for_next_run += retry
        run.progress.advance(url)
    if report.left_for_next_run and source_id is not None and not run.dry_run:
        # Forget the validators: the next run must see the whole feed again to pick these up.
        with unit_of_work(run.session_factory) as session:
            forget_validators(session, source_id)
    elif validated:
        run.save_validators(source_id, validated)


def _older_listing_pages(
    run: FetchRun,
    source: SourceConfig,
    source_id: int | None,
    first: FetchResult,
    report: SourceReport,
) -> list[Item]:
    """Items of a listing's following pages, up to the source's `listing.pages`."""
    selector = source.next_selector or ""
    paging = Paging(
        pages=source.listing_pages,
        next_of=lambda page: parse_next_page(page.body, page.final_url, selector, page.headers),
        items_of=lambda page: _items_of(source, page, report),
    )
    return follow_pages(run, source, source_id, first, report, paging)


def _items_of(source: SourceConfig, result: FetchResult, report: SourceReport) -> list[Item]:
    """The items of a fetched feed or listing; an entry that cannot be read is a report error."""
    if source.kind == REGISTER_KIND:
        return register_items(result, report)
    if source.kind == "html_listing":
        links = parse_listing(result.body, result.final_url, listing_rules(source), result.headers)
        return [Item(url=link.url, listed=link.published) for link in links]
    items = []
    entries = parse_feed(result.body, result.final_url, result.headers, report.errors.append)
    for entry in entries:
        try:
            items.append(item_of(entry))
        except Exception as error:  # hostile content HTML: this entry's error
            log.debug("%s: entry not read", entry.url, exc_info=True)
            report.errors.append(f"{entry.url}: {described(error)}")
    return items


def listing_rules(source: SourceConfig) -> ListingRules:
    """How a source's listing pages are read: its links, their pattern, items and time zone."""
    return ListingRules(
        links=source.link_selector or ListingRules.links,
        pattern=source.link_pattern,
        item=source.item_selector,
        zone=source.article.zone,
    )
