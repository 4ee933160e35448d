"""Fetching a federal_register source: its query's result pages, each document an item with its facts."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from models.fetched import FetchResult
from models.source import SourceConfig
from pipeline.config.federal_register import KIND
from pipeline.fetching.federal_register import (
    RegisterDocument,
    following_page,
    parse_results,
    query_url,
)
from pipeline.flows.fetch_run import FetchRun, Item, Paging, SourceReport, follow_pages

log = logging.getLogger("newstrack")


def first_pages(source: SourceConfig, today: date | None = None) -> tuple[str, ...]:
    """The URLs a source's fetch starts from: its query's first result pages, else its own URLs."""
    if source.kind != KIND or source.query is None:
        return source.urls
    day = today or datetime.now(UTC).date()
    return tuple(query_url(url, source.query, day) for url in source.urls)


def register_items(result: FetchResult, report: SourceReport) -> list[Item]:
    """The documents of a result page as items; a result that cannot be read is a report error."""
    page = parse_results(result.body, result.final_url, result.headers)
    report.errors.extend(page.errors)
    return [item_of_document(document) for document in page.documents]


def item_of_document(document: RegisterDocument) -> Item:
    """A document as an item: its public page is the article, its full text the page to fetch."""
    return Item(
        url=document.html_url,
        title=document.title,
        published=document.published,
        guid=document.facts.document_number,
        page_url=document.text_url,
        facts=document.facts,
    )


def following_register_pages(
    run: FetchRun,
    source: SourceConfig,
    source_id: int | None,
    first: FetchResult,
    report: SourceReport,
) -> list[Item]:
    """Items of the result pages after the first, through `next_page_url`, up to `api.pages`."""
    paging = Paging(
        pages=source.query.pages if source.query is not None else 1,
        next_of=lambda page: following_page(page.body, page.final_url, page.headers),
        items_of=lambda page: register_items(page, report),
        robots=False,  # an API is for machines, as a feed is
    )
    return follow_pages(run, source, source_id, first, report, paging)
