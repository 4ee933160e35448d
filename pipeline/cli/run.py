"""The main job and its parts: `run`, `fetch`, `extract` and `backfill`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import InputError
from models.source import SourceConfig
from pipeline.cli.arguments import ARTICLE_LIMIT, PROCESSES, SuggestingParser
from pipeline.cli.base import (
    EXIT_OK,
    EXIT_PARTIAL,
    Context,
    Database,
    load_extractor,
    log,
    open_database,
)
from pipeline.config.settings import EXTRACT_VARIABLES, FETCH_VARIABLES, Settings
from pipeline.config.sources import load_sources, select_sources
from storage import queries
from storage.engine import describe

if TYPE_CHECKING:
    import httpx

    # The job flows are imported only by the commands that run them.
    from pipeline.fetching.reading import PageReader
    from pipeline.flows.alongside import ExtractionProcess
    from pipeline.flows.extract import ExtractSummary
    from pipeline.flows.fetch import FetchSummary
    from storage.queries import DatabaseTotals

    from .base import Subcommands


def add_run(commands: Subcommands, common: SuggestingParser) -> None:
    """`run`: fetch every source, then extract events."""
    run = commands.add_parser(
        "run", parents=[common], help="fetch every source, then extract events"
    )
    _fetch_options(run)
    _limit_option(run)
    run.set_defaults(handler=command_run, reads=FETCH_VARIABLES + EXTRACT_VARIABLES)


def add_fetch(commands: Subcommands, common: SuggestingParser) -> None:
    """`fetch`: fetch sources and store new articles."""
    fetch = commands.add_parser(
        "fetch", parents=[common], help="fetch sources and store new articles"
    )
    _fetch_options(fetch)
    fetch.set_defaults(handler=command_fetch, reads=FETCH_VARIABLES)


def add_extract(commands: Subcommands, common: SuggestingParser) -> None:
    """`extract`: extract events from stored articles."""
    extract = commands.add_parser(
        "extract", parents=[common], help="extract events from stored articles"
    )
    _limit_option(extract)
    extract.add_argument("--dry-run", action="store_true", help="extract but store nothing")
    extract.add_argument(
        "--all",
        action="store_true",
        help="also extract again the articles an older extractor version read",
    )
    extract.add_argument(
        "--processes",
        type=PROCESSES,
        default=1,
        metavar="N",
        help=f"worker processes for the trained pipeline ({PROCESSES.describe()}; default 1)",
    )
    extract.set_defaults(handler=command_extract, reads=EXTRACT_VARIABLES)


def add_backfill(commands: Subcommands, common: SuggestingParser) -> None:
    """`backfill`: load a WordPress source's history."""
    backfill = commands.add_parser(
        "backfill",
        parents=[common],
        help="load a WordPress source's history through its REST API (wp-json)",
    )
    backfill.add_argument("--source", required=True, metavar="NAME", help="a WordPress source")
    backfill.add_argument(
        "--since", required=True, metavar="DATE", help="posts published since (YYYY-MM-DD, UTC)"
    )
    backfill.add_argument(
        "--modified", action="store_true", help="posts modified since DATE: catches edited posts"
    )
    backfill.add_argument(
        "--replay", type=Path, metavar="DIR", help="serve a recorded snapshot on 127.0.0.1"
    )
    backfill.add_argument("--dry-run", action="store_true", help="fetch and parse, store nothing")
    backfill.set_defaults(handler=command_backfill, reads=FETCH_VARIABLES)


def _fetch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source or group (repeatable)",
    )
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="serve a recorded snapshot on 127.0.0.1 instead of the network",
    )
    parser.add_argument("--dry-run", action="store_true", help="fetch and parse but store nothing")
    parser.add_argument(
        "--force", action="store_true", help="also fetch sources resting after failures"
    )


def _limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=ARTICLE_LIMIT,
        metavar="N",
        help=f"extract at most N articles ({ARTICLE_LIMIT.describe()})",
    )


def command_fetch(args: argparse.Namespace, context: Context) -> int:
    """Fetch sources and store new articles."""
    from pipeline.fetching.reading import page_reader

    sources = select_sources(load_sources(context.settings.sources_path), args.source)
    settings = paced_for(context.settings, args.replay)
    # The page readers first, forked while there is no other thread (see page_reader).
    with page_reader(settings.reading_processes) as reader, open_database(settings) as database:
        summary = _fetch(args, database, sources, settings, reader)
    report = {"sources": [asdict(s) for s in summary.sources], "articles_stored": summary.stored}
    context.summary(report, fetch_text(summary))
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_extract(args: argparse.Namespace, context: Context) -> int:
    """Extract events from articles waiting for it."""
    from pipeline.flows.extract import extract_pending

    extractor = load_extractor(context.settings)
    with open_database(context.settings) as database:
        summary = extract_pending(
            database.sessions,
            extractor,
            limit=args.limit,
            dry_run=args.dry_run,
            outdated=args.all,
            processes=args.processes,
        )
    report = {
        "articles": summary.articles,
        "failed": summary.failed,
        "screened": summary.screened,
        "skipped": summary.skipped,
        "events": len(summary.events),
        "extractor_version": extractor.version,
    }
    text = (
        f"extracted {summary.articles} article(s) with extractor {extractor.version}: "
        f"{summary.screened} screened out (no mineral or no measure named), "
        f"{summary.skipped} skipped (empty, or in a language not read), {summary.failed} failed; "
        f"{len(summary.events)} event(s) touched"
    )
    context.summary(report, text)
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_run(args: argparse.Namespace, context: Context) -> int:
    """The main job: fetch every source, extract events, print what the database now holds."""
    from pipeline.fetching.reading import page_reader
    from pipeline.flows.alongside import ExtractionJob, extraction_process

    settings = context.settings
    with ExitStack() as stack:
        alongside = None
        if not args.dry_run:  # with nothing stored, nothing waits: fetch, then extract
            # First of all, while this process has no other thread (see ExtractionProcess).
            job = ExtractionJob(
                settings.database_url, settings.event_threshold, args.limit, log.level
            )
            alongside = stack.enter_context(extraction_process(job))
        reader = stack.enter_context(page_reader(settings.reading_processes))  # forked next
        fetched, extracted, totals, where = _fetch_and_extract(args, context, alongside, reader)
    report = {
        "database": where,
        "sources": [asdict(s) for s in fetched.sources],
        "articles_stored": fetched.stored,
        "articles_extracted": extracted.articles,
        "extraction_failures": extracted.failed,
        "extraction_screened": extracted.screened,
        "extraction_skipped": extracted.skipped,
        "events_touched": len(extracted.events),
        "totals": asdict(totals),
    }
    lines = [
        fetch_text(fetched),
        f"extracted {extracted.articles} article(s) ({extracted.screened} screened out, "
        f"{extracted.skipped} skipped, {extracted.failed} failed), touching {len(extracted.events)} event(s)",
        f"database {report['database']} now holds {totals.articles} articles from {totals.sources} sources, "
        f"{totals.events} events with {totals.mentions} mentions",
        "elements most mentioned: "
        + (", ".join(f"{name} ({count})" for name, count in totals.top_elements) or "none"),
        "measures today: "
        + (
            ", ".join(
                f"{count} {state.replace('_', ' ')}"
                for state, count in totals.measures_today.items()
            )
            or "none"
        )
        + " (newstrack status --element NAME)",
        f"{totals.with_instrument} event(s) name their instrument (an announcement, a Federal "
        f"Register document), {totals.instrument_also_elsewhere} of them reported by more than "
        "one source",
        'query them with: newstrack sql "SELECT * FROM v_events ORDER BY source_count DESC LIMIT 20"',
    ]
    context.summary(report, "\n".join(lines))
    return EXIT_PARTIAL if fetched.failed or extracted.failed else EXIT_OK


def _fetch_and_extract(
    args: argparse.Namespace,
    context: Context,
    alongside: ExtractionProcess | None,
    reader: PageReader,
) -> tuple[FetchSummary, ExtractSummary, DatabaseTotals, str]:
    """Fetch every source and extract what is stored (beside it, given a process); then count."""
    from pipeline.flows.extract import extract_pending

    sources = select_sources(load_sources(context.settings.sources_path), args.source)
    settings = paced_for(context.settings, args.replay)
    with open_database(settings) as database:

        def fetch() -> FetchSummary:
            return _fetch(args, database, sources, settings, reader)

        def extract_here() -> ExtractSummary:
            return extract_pending(
                database.sessions,
                load_extractor(context.settings),
                limit=args.limit,
                dry_run=args.dry_run,
            )

        if alongside is None:
            fetched, extracted = fetch(), extract_here()
        else:
            fetched, extracted = alongside.fetch_while_extracting(fetch, extract_here)
        with database.session() as session:
            totals = queries.totals(session)
    return fetched, extracted, totals, describe(database.engine.url)


def _fetch(
    args: argparse.Namespace,
    database: Database,
    sources: list[SourceConfig],
    settings: Settings,
    reader: PageReader,
) -> FetchSummary:
    """Fetch the sources into the database over the command's HTTP client, `reader` reading pages."""
    from pipeline.flows.fetch import fetch_sources

    with http_client(settings, args.replay) as client:
        return fetch_sources(
            database.sessions, client, sources, settings, args.dry_run, _forced(args), reader=reader
        )


def command_backfill(args: argparse.Namespace, context: Context) -> int:
    """Load a WordPress source's posts since a date; edited posts get their new text."""
    from pipeline.fetching.times import parse_datetime
    from pipeline.flows.reextract import backfill_source

    since = parse_datetime(args.since)
    if since is None:
        raise InputError(f"--since {args.since!r} is not a date (YYYY-MM-DD)")
    source = wordpress_source(load_sources(context.settings.sources_path), args.source)
    settings = paced_for(context.settings, args.replay)
    with open_database(settings) as database, http_client(settings, args.replay) as client:
        report = backfill_source(
            database.sessions, client, source, settings, since, args.modified, args.dry_run
        )
    text = (
        f"{report.name}: {report.status}, {report.stored} new, {report.updated} updated, "
        f"{report.known} already stored"
    )
    if report.errors:
        text += f", {len(report.errors)} error(s): {report.errors[0]}"
    if report.stored or report.updated:
        text += "\nrun `newstrack extract` to extract their events"
    context.summary(asdict(report), text)
    return EXIT_PARTIAL if report.errors else EXIT_OK


def wordpress_source(sources: list[SourceConfig], name: str) -> SourceConfig:
    """The one source a backfill reads: named by itself (not a group), and a feed (WordPress)."""
    named = select_sources(sources, [name])
    source = named[0]
    if len(named) != 1 or source.name != name:
        raise InputError(f"{name!r} is a group: backfill takes one source name")
    if source.kind != "rss":
        raise InputError(f"source {source.name!r} is {source.kind}: backfill reads WordPress feeds")
    return source


def _forced(args: argparse.Namespace) -> bool:
    """Sources named on the command line, or --force, are fetched even while resting."""
    return bool(args.force or args.source)


def paced_for(settings: Settings, replay: Path | None) -> Settings:
    """A replayed snapshot is one local server, so no host needs spacing between requests."""
    if replay is None:
        return settings
    return replace(settings, http=replace(settings.http, per_host_interval=0.0))


@contextmanager
def http_client(settings: Settings, replay: Path | None) -> Iterator[httpx.Client]:
    """The HTTP client for a run: the network, or a recorded snapshot served on 127.0.0.1."""
    from pipeline.fetching.http import build_client
    from pipeline.fetching.replay import ReplayTransport, serve_snapshot

    if replay is None:
        with build_client(settings.http) as client:
            yield client
        return
    with (
        serve_snapshot(replay) as server_url,
        build_client(settings.http, ReplayTransport(server_url)) as client,
    ):
        log.info("replaying %s through %s", replay, server_url)
        yield client


def fetch_text(summary: FetchSummary) -> str:
    """A fetch's summary for people: one line, then one per source."""
    lines = [f"fetched {len(summary.sources)} source(s), stored {summary.stored} new article(s)"]
    for report in summary.sources:
        line = (
            f"  {report.name}: {report.status}, {report.stored} new, {report.known} already stored"
        )
        if report.errors:
            line += f", {len(report.errors)} error(s): {report.errors[0]}"
        lines.append(line)
    return "\n".join(lines)
