"""Stored articles read again: their raw pages re-extracted, a WordPress source's posts backfilled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.errors import NewstrackError
from models.fetched import FetchResult
from models.pages import decompress_page
from models.source import ArticleSelectors, SourceConfig
from models.urls import canonicalize_url, without_credentials
from pipeline.config.settings import Settings
from pipeline.fetching import wordpress
from pipeline.fetching.blocks import html_to_text
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import fetching_for
from pipeline.fetching.pages import extract_page
from pipeline.flows.failures import failure
from pipeline.flows.fetch_run import FetchRun, SourceReport, item_of, store_item
from storage.articles import article_texts, replace_text
from storage.queries import StoredPage, article_ids_with_pages, stored_pages
from storage.sessions import unit_of_work
from storage.sources import sync_sources


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
        ids = article_ids_with_pages(session, only)
    for start in range(0, len(ids), batch_size):
        with unit_of_work(session_factory) as session:
            pages = stored_pages(session, ids[start : start + batch_size])
        for page in pages:
            summary.checked += 1
            try:
                text, text_extractor = _text_of(page, selectors.get(page.source or ""))
            except Exception as error:  # a hostile stored page fails alone
                summary.failed.append(failure(page.url, error))
                continue
            if text == page.text and text_extractor == page.text_extractor:
                continue
            summary.changed += 1
            with unit_of_work(session_factory, dry_run) as session:
                replace_text(session, page.id, text, text_extractor)
    return summary


def _text_of(page: StoredPage, selectors: ArticleSelectors | None) -> tuple[str, str]:
    """Text and text-extractor name of a stored page, as the fetch would produce them today."""
    raw = decompress_page(page.raw_html)
    if page.text_extractor == "feed":
        return html_to_text(raw.decode("utf-8", errors="replace")), "feed"
    headers = {"content-type": page.raw_content_type or ""}
    extracted = extract_page(raw, page.url, selectors or ArticleSelectors(), headers)
    return extracted.text, extracted.text_extractor


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
        source_id = sync_sources(session, [source])[source.name]
    run = FetchRun.start(session_factory, client, settings, dry_run)
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
        stored = article_texts(session, list(posts))
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
                    replace_text(session, article_id, text, "feed")
                report.updated += 1
            continue
        try:
            item = replace(item_of(post.to_entry()), text=text, content_html=post.html)
            store_item(run, source, None if dry_run else source_id, url, item, report)
        except Exception as error:  # one hostile post fails alone
            report.errors.append(failure(post.url, error))
    report.errors = [without_credentials(error) for error in report.errors]
    if report.errors:
        report.status = "partial" if report.stored or report.known else "failed"
    return report
