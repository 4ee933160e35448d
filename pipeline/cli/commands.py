"""The `newstrack` command line: a thin layer over the jobs and storage."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import SQLAlchemyError

from models.errors import InputError, NewstrackError, UsageError
from pipeline import __version__
from pipeline.cli.arguments import NumberType, SuggestingParser, seconds, watchlist_name, whole
from pipeline.config import numbers
from pipeline.config.settings import Settings
from pipeline.text.terminal import printable

if TYPE_CHECKING:
    import httpx

    from models.annotation import Annotation, ArticleText, QuantityTag
    from models.vocabulary import Vocabulary
    from pipeline.config.cron import CronFile, CronJob
    from pipeline.config.watchlists import Watchlist
    from pipeline.delivery.smtp import SmtpSettings
    from pipeline.extraction import Extractor
    from pipeline.flows.fetch import FetchSummary
    from pipeline.running.deploy import JobNeeds
    from pipeline.running.scheduler import Scheduler
    from storage.measures import Report

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
CANNED_NAME = re.compile(r"^[a-z][a-z0-9-]*$")  # a one-word query is a canned query's name
CELL_WIDTH = 60  # characters of a table cell shown before it is cut (status --wide shows all)
log = logging.getLogger("newstrack")
# Columns that hold comma-separated lists (the views' elements, targets and conflicts; recipients):
# JSON output gives them as arrays.
LIST_COLUMNS = frozenset({"elements", "targets", "conflicts", "recipients"})
Resolved = TypeVar("Resolved")  # what the vocabulary resolves a name to
# The numbers options take (pipeline.cli.arguments): whole where they count, bounded, never nan or inf.
ARTICLE_LIMIT = whole(1, 1_000_000)
PROCESSES = whole(1, 256)
DAYS = whole(1, 36_500)  # a hundred years
JOB_ID = whole(1, 2**63 - 1)  # the queue's bigint ids
FIRE_TIMES = whole(1, 1_000)
ROW_CAP = whole(1, 10_000_000, zero="no cap")
TIME_LIMIT = seconds()  # at most a day
MIN_SOURCES = NumberType(numbers.MIN_SOURCES)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    defaults = (
        ("db", None),
        ("sql_db", None),
        ("sources", None),
        ("json", False),
        ("quiet", False),
    )
    for name, default in defaults:
        if not hasattr(args, name):
            setattr(args, name, default)
    configure_logging(quiet=args.quiet)
    try:
        settings = Settings.from_environment().with_overrides(
            database_url=args.db, sources_path=args.sources, sql_database_url=args.sql_db
        )
        command: Callable[[argparse.Namespace, Settings], int] = args.handler
        return command(args, settings)
    except NewstrackError as error:
        print(f"newstrack: error: {printable(str(error), keep=chr(10))}", file=sys.stderr)
        return error.exit_code
    except SQLAlchemyError as error:  # a database that changed under newstrack, or broke
        cause = getattr(error, "orig", None) or error
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        print(f"newstrack: error: database: {printable(reason)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("newstrack: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`newstrack sql ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def configure_logging(quiet: bool) -> None:
    """Plain log lines on standard error for newstrack's own logger only."""
    logger = logging.getLogger("newstrack")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    # SUPPRESS: an option given before the subcommand is not reset by the subcommand's default.
    common = SuggestingParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $NEWSTRACK_DB or sqlite:///newstrack.db)",
    )
    common.add_argument(
        "--sources", metavar="PATH", type=Path, help="source registry (default: sources.yaml)"
    )
    common.add_argument("--json", action="store_true", help="print the summary as JSON")
    common.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")

    parser = SuggestingParser(
        prog="newstrack",
        description="Track trade-policy events on critical minerals from the news.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"newstrack {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init", parents=[common], help="create or upgrade the database schema"
    )
    init.set_defaults(handler=command_init)

    run = commands.add_parser(
        "run", parents=[common], help="fetch every source, then extract events"
    )
    _fetch_options(run)
    run.add_argument(
        "--limit",
        type=ARTICLE_LIMIT,
        metavar="N",
        help=f"extract at most N articles ({ARTICLE_LIMIT.describe()})",
    )
    run.set_defaults(handler=command_run)

    fetch = commands.add_parser(
        "fetch", parents=[common], help="fetch sources and store new articles"
    )
    _fetch_options(fetch)
    fetch.set_defaults(handler=command_fetch)

    extract = commands.add_parser(
        "extract", parents=[common], help="extract events from stored articles"
    )
    extract.add_argument(
        "--limit",
        type=ARTICLE_LIMIT,
        metavar="N",
        help=f"extract at most N articles ({ARTICLE_LIMIT.describe()})",
    )
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
    extract.set_defaults(handler=command_extract)

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
    backfill.set_defaults(handler=command_backfill)

    sources = commands.add_parser(
        "sources", parents=[common], help="list the sources and how their fetching goes"
    )
    sources.set_defaults(handler=command_sources)

    reextract = commands.add_parser(
        "reextract",
        parents=[common],
        help="extract article text again from stored pages (after changing selectors)",
    )
    reextract.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source (repeatable)",
    )
    reextract.add_argument("--dry-run", action="store_true", help="report changes, store nothing")
    reextract.set_defaults(handler=command_reextract)

    consolidate = commands.add_parser(
        "consolidate",
        parents=[common],
        help="regroup every stored mention into events and rebuild the measures' timelines",
    )
    consolidate.add_argument("--dry-run", action="store_true", help="report, change nothing")
    consolidate.set_defaults(handler=command_consolidate)

    status = commands.add_parser(
        "status",
        parents=[common],
        help="what is in force, suspended or lifted on a day, with dates and sources",
    )
    status.add_argument(
        "--element",
        metavar="NAME",
        help="an element, symbol or group (dysprosium, Dy, heavy rare earths)",
    )
    status.add_argument(
        "--actor", metavar="WHO", help="who acts: a country code or name, or a body"
    )
    status.add_argument(
        "--target", metavar="WHO", help="whom it is aimed at: a country code or name"
    )
    status.add_argument(
        "--measure", metavar="TYPE", help="one type of measure (export_control ...)"
    )
    status.add_argument(
        "--on", type=_day, metavar="YYYY-MM-DD", help="the day to report on (default: today, UTC)"
    )
    status.add_argument("--format", choices=("table", "csv", "json", "jsonl"), default="table")
    status.add_argument(
        "--wide", action="store_true", help="print table cells whole (URLs, long lists)"
    )
    status.set_defaults(handler=command_status)

    prune = commands.add_parser(
        "prune", parents=[common], help="delete fetch attempts and job runs older than N days"
    )
    prune.add_argument(
        "--older-than", type=DAYS, default=90, metavar="DAYS", help=f"{DAYS.describe()}; default 90"
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.set_defaults(handler=command_prune)

    watchlists_file = SuggestingParser(add_help=False)
    watchlists_file.add_argument(
        "--file",
        type=Path,
        default=Path(os.environ.get("NEWSTRACK_WATCHLISTS", "watchlists.yaml")),
        metavar="PATH",
        help="default: NEWSTRACK_WATCHLISTS or watchlists.yaml",
    )
    watchlist = commands.add_parser("watchlist", help="list, add or remove watchlists")
    watchlist_commands = watchlist.add_subparsers(
        dest="watchlist_command", metavar="ACTION", required=True
    )
    listing = watchlist_commands.add_parser(
        "list", parents=[common, watchlists_file], help="the watchlists and their filters"
    )
    listing.set_defaults(handler=command_watchlist_list)
    adding = watchlist_commands.add_parser(
        "add", parents=[common, watchlists_file], help="add a watchlist to the file"
    )
    adding.add_argument("name", type=watchlist_name, help="a name for the watchlist")
    adding.add_argument(
        "--recipient", action="append", required=True, metavar="ADDRESS", help="repeatable"
    )
    for option in ("element", "group", "measure", "action", "actor", "target", "modality"):
        adding.add_argument(
            f"--{option}", action="append", default=[], metavar="NAME", help="filter (repeatable)"
        )
    adding.add_argument(
        "--min-sources", type=MIN_SOURCES, default=1, metavar="N", help=MIN_SOURCES.describe()
    )
    adding.add_argument("--schedule", default="digest-daily", metavar="JOB", help="a cron.yaml job")
    adding.add_argument("--timezone", default="UTC", metavar="ZONE")
    adding.add_argument("--group-by", choices=("element", "measure"), default="element")
    adding.set_defaults(handler=command_watchlist_add)
    removing = watchlist_commands.add_parser(
        "remove", parents=[common, watchlists_file], help="remove a watchlist from the file"
    )
    removing.add_argument("name", type=watchlist_name)
    removing.set_defaults(handler=command_watchlist_remove)

    digest = commands.add_parser("digest", help="send the due digest e-mails, or preview one")
    digest_commands = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    digest_options = SuggestingParser(add_help=False)
    digest_options.add_argument(
        "--cron", type=Path, default=Path("cron.yaml"), metavar="PATH", help="default: cron.yaml"
    )
    sending = digest_commands.add_parser(
        "send",
        parents=[common, watchlists_file, digest_options],
        help="send every due digest once (all watchlists, or --watchlist)",
    )
    sending.add_argument(
        "--watchlist", type=watchlist_name, action="append", default=[], metavar="NAME"
    )
    sending.add_argument("--dry-run", action="store_true", help="build the digests, send nothing")
    settle = sending.add_mutually_exclusive_group()
    settle.add_argument(
        "--resend-unconfirmed",
        dest="unconfirmed",
        action="store_const",
        const="resend",
        help="the digests listed as unconfirmed did not arrive: send them again (same Message-ID)",
    )
    settle.add_argument(
        "--dismiss-unconfirmed",
        dest="unconfirmed",
        action="store_const",
        const="dismiss",
        help="the digests listed as unconfirmed did arrive: mark them sent",
    )
    sending.set_defaults(handler=command_digest_send)
    previewing = digest_commands.add_parser(
        "preview",
        parents=[common, watchlists_file, digest_options],
        help="write the digest a watchlist would send now as .eml and .html",
    )
    previewing.add_argument("--watchlist", type=watchlist_name, required=True, metavar="NAME")
    previewing.add_argument(
        "--out",
        type=Path,
        default=Path("digest-preview"),
        metavar="DIR",
        help="default: digest-preview",
    )
    previewing.set_defaults(handler=command_digest_preview)

    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="run jobs from the PostgreSQL queue (distributed mode), on any host",
    )
    worker.add_argument(
        "--queue",
        "--queues",
        dest="queue",
        action="append",
        default=[],
        metavar="NAMES",
        help="fetch, extract or jobs (repeatable or comma-separated; default all)",
    )
    worker.add_argument(
        "--concurrency",
        type=PROCESSES,
        default=1,
        metavar="N",
        help=f"{PROCESSES.describe()}; default 1",
    )
    worker.add_argument("--once", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(handler=command_worker)
    jobs = commands.add_parser(
        "jobs",
        parents=[common],
        help="list the queued, running and failed jobs, queue or retry some",
    )
    jobs.add_argument(
        "--status", metavar="STATUS", help="todo, doing, succeeded, failed, cancelled, aborted"
    )
    action = jobs.add_mutually_exclusive_group()
    action.add_argument(
        "--retry",
        type=JOB_ID,
        metavar="ID",
        help="queue a failed job again (its id, a whole number from 1)",
    )
    action.add_argument(
        "--fetch", action="store_true", help="queue a fetch of each source (or --source)"
    )
    action.add_argument(
        "--extract", action="store_true", help="queue the extraction of waiting articles"
    )
    jobs.add_argument("--source", action="append", default=[], metavar="NAME", help="with --fetch")
    jobs.set_defaults(handler=command_jobs)

    cron = commands.add_parser(
        "cron", help="check cron.yaml, run its jobs when due, or render it for cron or Kubernetes"
    )
    cron_commands = cron.add_subparsers(dest="cron_command", metavar="ACTION", required=True)
    cron_file = SuggestingParser(add_help=False)
    cron_file.add_argument(
        "--file", type=Path, default=Path("cron.yaml"), metavar="PATH", help="default: cron.yaml"
    )
    check = cron_commands.add_parser(
        "check",
        parents=[common, cron_file],
        help="validate cron.yaml, list next fire times, warn about daylight saving",
    )
    check.add_argument(
        "--count",
        type=FIRE_TIMES,
        default=3,
        metavar="N",
        help=f"fire times per job ({FIRE_TIMES.describe()})",
    )
    check.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="IANA zone every fire time is shown in (default UTC)",
    )
    check.set_defaults(handler=command_cron_check)
    tick = cron_commands.add_parser(
        "tick",
        parents=[common, cron_file],
        help="run whatever is due since the last tick, then exit (for the system crontab)",
    )
    tick.add_argument("--job", action="append", default=[], metavar="NAME", help="only this job")
    tick.add_argument(
        "--wait-for-retries",
        action="store_true",
        help="then wait for the retries of the runs that failed and run them (for Kubernetes)",
    )
    tick.set_defaults(handler=command_cron_tick)
    scheduler = cron_commands.add_parser(
        "run", parents=[common, cron_file], help="the scheduler, in the foreground until SIGTERM"
    )
    scheduler.set_defaults(handler=command_cron_run)
    render = cron_commands.add_parser(
        "render",
        parents=[common, cron_file],
        help="print the crontab for `cron tick` with the jobs' environment, or Kubernetes CronJobs",
    )
    target = render.add_mutually_exclusive_group(required=True)
    target.add_argument("--crontab", action="store_true", help="the system crontab")
    target.add_argument(
        "--k8s", action="store_true", help="a ConfigMap and one Kubernetes CronJob per job"
    )
    render.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="write the jobs' environment to this file (mode 600), which the crontab reads",
    )
    render.add_argument(
        "--image", default="newstrack:latest", metavar="IMAGE", help="container image (--k8s)"
    )
    render.add_argument(
        "--secret",
        default="newstrack",
        metavar="NAME",
        help="Kubernetes Secret: `database-url` is NEWSTRACK_DB, other keys the variables they name",
    )
    render.add_argument(
        "--config-map",
        default="newstrack-config",
        metavar="NAME",
        help="Kubernetes ConfigMap holding cron.yaml, sources.yaml, watchlists.yaml (--k8s)",
    )
    render.set_defaults(handler=command_cron_render)

    sql = commands.add_parser(
        "sql", parents=[common], help="run a read-only SQL query, or a canned query by name"
    )
    sql.add_argument(
        "query",
        nargs="?",
        help="the SQL query (read-only whatever it says), or the name of a canned query",
    )
    sql.add_argument("--list", action="store_true", help="list the canned queries")
    sql.add_argument(
        "--sql-db",
        metavar="URL",
        help="database URL of a role that only reads, for the queries "
        "(default: $NEWSTRACK_SQL_DB, else --db; see README)",
    )
    sql.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a named parameter (:NAME); a canned query's are typed (see --list)",
    )
    sql.add_argument("--format", choices=("table", "csv", "json", "jsonl"), default="table")
    sql.add_argument(
        "--max-rows",
        type=ROW_CAP,
        default=1000,
        metavar="N",
        help=f"row cap: {ROW_CAP.describe()} (default 1000); exit 3 when it cuts rows",
    )
    sql.add_argument(
        "--time-limit",
        type=TIME_LIMIT,
        default=10.0,
        metavar="S",
        help=f"time limit: {TIME_LIMIT.describe()} (default 10)",
    )
    sql.set_defaults(handler=command_sql)

    article = commands.add_parser(
        "article", parents=[common], help="show what newstrack reads in one saved article page"
    )
    article.add_argument("file", type=Path, help="a saved HTML page")
    article.add_argument(
        "--url", help="the page's URL: resolves links and picks the selectors of a matching source"
    )
    article.set_defaults(handler=command_article)

    annotate = commands.add_parser(
        "annotate", parents=[common], help="run the extractor on JSON lines (no database needed)"
    )
    annotate.add_argument(
        "input", nargs="?", default="-", help="JSON lines file (default: standard input)"
    )
    annotate.add_argument(
        "-o", "--output", default="-", help="output file (default: standard output)"
    )
    annotate.set_defaults(handler=command_annotate)
    return parser


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


def command_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema."""
    from storage.engine import describe, open_engine
    from storage.migrate import head_revision, upgrade

    with open_engine(settings.database_url) as engine:
        applied = upgrade(engine)
    report = {"database": describe(engine.url), "revision": head_revision(), "upgraded": applied}
    _print_summary(
        args, report, f"database ready: {report['database']} (schema {report['revision']})"
    )
    return EXIT_OK


def command_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch sources and store new articles."""
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.flows.fetch import fetch_sources
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    sources = select_sources(load_sources(settings.sources_path), args.source)
    settings = _paced_for(settings, args.replay)
    with (
        open_engine(settings.database_url) as engine,
        _http_client(settings, args.replay) as client,
    ):
        upgrade(engine)
        summary = fetch_sources(
            make_session_factory(engine), client, sources, settings, args.dry_run, _forced(args)
        )
    report = {"sources": [asdict(s) for s in summary.sources], "articles_stored": summary.stored}
    _print_summary(args, report, _fetch_text(summary))
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Extract events from articles waiting for it."""
    from models.vocabulary import load_vocabulary
    from pipeline.extraction import Extractor
    from pipeline.extraction.nlp import load_pipeline
    from pipeline.flows.extract import extract_pending
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    extractor = Extractor(load_pipeline(), load_vocabulary())
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        summary = extract_pending(
            make_session_factory(engine),
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
        f"{summary.skipped} skipped (empty or not English), {summary.failed} failed; "
        f"{len(summary.events)} event(s) touched"
    )
    _print_summary(args, report, text)
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_run(args: argparse.Namespace, settings: Settings) -> int:
    """The main job: fetch every source, extract events, print what the database now holds."""
    from models.vocabulary import load_vocabulary
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.extraction import Extractor
    from pipeline.extraction.nlp import load_pipeline
    from pipeline.flows.extract import extract_pending
    from pipeline.flows.fetch import fetch_sources
    from storage import queries
    from storage.engine import describe, make_session_factory, open_engine
    from storage.migrate import upgrade
    from storage.sessions import unit_of_work

    sources = select_sources(load_sources(settings.sources_path), args.source)
    settings = _paced_for(settings, args.replay)
    extractor = Extractor(load_pipeline(), load_vocabulary())
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        session_factory = make_session_factory(engine)
        with _http_client(settings, args.replay) as client:
            fetched = fetch_sources(
                session_factory, client, sources, settings, args.dry_run, _forced(args)
            )
        extracted = extract_pending(
            session_factory, extractor, limit=args.limit, dry_run=args.dry_run
        )
        with unit_of_work(session_factory) as session:
            totals = queries.totals(session)
    report = {
        "database": describe(engine.url),
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
        _fetch_text(fetched),
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
        'query them with: newstrack sql "SELECT * FROM v_events ORDER BY source_count DESC LIMIT 20"',
    ]
    _print_summary(args, report, "\n".join(lines))
    return EXIT_PARTIAL if fetched.failed or extracted.failed else EXIT_OK


def command_backfill(args: argparse.Namespace, settings: Settings) -> int:
    """Load a WordPress source's posts since a date; edited posts get their new text."""
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.fetching.times import parse_datetime
    from pipeline.flows.reextract import backfill_source
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    since = parse_datetime(args.since)
    if since is None:
        raise InputError(f"--since {args.since!r} is not a date (YYYY-MM-DD)")
    named = select_sources(load_sources(settings.sources_path), [args.source])
    source = named[0]
    if len(named) != 1 or source.name != args.source:
        raise InputError(f"{args.source!r} is a group: backfill takes one source name")
    if source.kind != "rss":
        raise InputError(f"source {source.name!r} is {source.kind}: backfill reads WordPress feeds")
    settings = _paced_for(settings, args.replay)
    with (
        open_engine(settings.database_url) as engine,
        _http_client(settings, args.replay) as client,
    ):
        upgrade(engine)
        report = backfill_source(
            make_session_factory(engine),
            client,
            source,
            settings,
            since,
            args.modified,
            args.dry_run,
        )
    text = (
        f"{report.name}: {report.status}, {report.stored} new, {report.updated} updated, "
        f"{report.known} already stored"
    )
    if report.errors:
        text += f", {len(report.errors)} error(s): {report.errors[0]}"
    if report.stored or report.updated:
        text += "\nrun `newstrack extract` to extract their events"
    _print_summary(args, asdict(report), text)
    return EXIT_PARTIAL if report.errors else EXIT_OK


def command_sources(args: argparse.Namespace, settings: Settings) -> int:
    """Each configured source with its health: last success, last error, failures, next due."""
    from datetime import UTC

    from pipeline.config.sources import load_sources
    from storage import queries
    from storage.engine import make_session_factory, open_existing
    from storage.migrate import upgrade
    from storage.sessions import unit_of_work

    configured = load_sources(settings.sources_path)
    now = datetime.now(UTC)
    with open_existing(settings.database_url) as engine:
        upgrade(engine)  # an older schema is brought up to date; none is never created
        with unit_of_work(make_session_factory(engine)) as session:
            health = {row.name: row for row in queries.source_health(session, now)}
    columns = [
        "name",
        "kind",
        "group",
        "enabled",
        "last_success",
        "failures",
        "next_due",
        "articles_7d",
        "last_error",
    ]
    rows = []
    for source in configured:
        seen = health.get(source.name)
        rows.append(
            (
                source.name,
                source.kind,
                source.group,
                source.enabled,
                seen.last_success_at.isoformat(timespec="seconds")
                if seen and seen.last_success_at
                else None,
                seen.consecutive_failures if seen else 0,
                seen.next_due_at.isoformat(timespec="seconds")
                if seen and seen.next_due_at
                else None,
                seen.articles_7d if seen else 0,
                seen.last_error if seen else None,
            )
        )
    _write_rows(sys.stdout, "json" if args.json else "table", columns, rows)
    return EXIT_OK


def command_reextract(args: argparse.Namespace, settings: Settings) -> int:
    """Re-extract text from stored raw pages; changed articles are queued for `extract`."""
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.flows.reextract import reextract_pages
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    sources = load_sources(settings.sources_path)
    only = [source.name for source in select_sources(sources, args.source)] if args.source else None
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        summary = reextract_pages(make_session_factory(engine), sources, only, args.dry_run)
    report = {"checked": summary.checked, "changed": summary.changed, "failed": summary.failed}
    text = f"re-extracted {summary.checked} page(s): {summary.changed} changed"
    if summary.failed:
        text += f", {len(summary.failed)} failed: {summary.failed[0]}"
    if summary.changed and not args.dry_run:
        text += "\nrun `newstrack extract` to extract their events again"
    _print_summary(args, report, text)
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_consolidate(args: argparse.Namespace, settings: Settings) -> int:
    """Regroup every stored mention into events and rebuild the timelines of measures."""
    from pipeline.flows.consolidate import consolidate_all
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        summary = consolidate_all(make_session_factory(engine), args.dry_run)
    report = asdict(summary)
    verb = "would change" if args.dry_run else "changed"
    text = (
        f"consolidated {summary.families} actor/measure famil"
        f"{'y' if summary.families == 1 else 'ies'}: {verb} {summary.changed} event(s); "
        f"{summary.events} event(s), {summary.measures} measure(s) with a timeline"
    )
    _print_summary(args, report, text)
    return EXIT_OK


def command_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print where each matching measure stands on a day."""
    from models.vocabulary import load_vocabulary
    from storage.engine import make_session_factory, open_existing
    from storage.measures import measure_reports, measure_states
    from storage.migrate import upgrade
    from storage.sessions import unit_of_work

    vocabulary = load_vocabulary()
    elements: tuple[str, ...] = ()
    if args.element:
        elements = _resolved(vocabulary.resolve_elements, "--element", args.element)
    actor, target = (
        _jurisdiction(vocabulary, option, value)
        for option, value in (("--actor", args.actor), ("--target", args.target))
    )
    measures = sorted({phrase.measure for phrase in vocabulary.measure_phrases})
    if args.measure and args.measure not in measures:
        raise UsageError(f"--measure {args.measure!r}: one of {', '.join(measures)}")
    on = args.on or datetime.now(UTC).date()
    output_format = "json" if args.json else args.format
    structured = output_format in ("json", "jsonl")
    with open_existing(settings.database_url) as engine:
        upgrade(engine)  # an older schema is brought up to date; none is never created
        with unit_of_work(make_session_factory(engine)) as session:
            states = measure_states(session, on, elements, actor, target, args.measure)
            reports = (
                measure_reports(session, [state.measure_id for state in states])
                if structured
                else {}
            )

    def day(moment: datetime | None) -> date | None:
        return moment.date() if moment else None

    def names(values: Sequence[str]) -> list[str] | str:
        return list(values) if structured else ", ".join(values)

    columns = [
        "measure_id", "actor", "actor_body", "measure", "state", "since", "until", "by",
        "elements", "targets", "sources", "articles", "first_reported", "first_url",
        "latest_reported", "latest_url",
    ]  # fmt: skip
    rows: list[tuple[Any, ...]] = [
        (
            state.measure_id,
            state.actor,
            state.actor_body,
            state.measure,
            state.state,
            state.since,
            state.until,
            state.action,
            names(state.elements),
            names(state.targets),
            state.sources,
            state.articles,
            day(state.first_reported),
            state.first_url,
            day(state.latest_reported),
            state.latest_url,
        )
        for state in states
    ]
    if structured:  # every report of the measure, earliest first
        columns.append("reports")
        rows = [
            (*row, [_report_json(report) for report in reports.get(state.measure_id, [])])
            for row, state in zip(rows, states, strict=True)
        ]
    if output_format == "table":
        print(f"status on {on.isoformat()}")
        _write_table(sys.stdout, columns, rows, cell_width=None if args.wide else CELL_WIDTH)
    else:
        _write_rows(sys.stdout, output_format, columns, rows)
    return EXIT_OK


def _report_json(report: Report) -> dict[str, Any]:
    """One report of a measure in `status --format json`."""
    return {
        "title": report.title,
        "url": report.url,
        "published": report.published.isoformat() if report.published else None,
        "source": report.source,
    }


def _jurisdiction(vocabulary: Vocabulary, option: str, value: str | None) -> str | None:
    if value is None:
        return None
    return _resolved(vocabulary.resolve_jurisdiction, option, value)


def _resolved(resolve: Callable[[str], Resolved], option: str, value: str) -> Resolved:
    """A name resolved by the vocabulary; an unknown one is a usage error naming the option."""
    from models.vocabulary import UnknownNameError

    try:
        return resolve(value)
    except UnknownNameError as error:
        raise UsageError(f"{option} {error}") from None


def command_prune(args: argparse.Namespace, settings: Settings) -> int:
    """Delete the fetch log and job history older than some days; articles and events stay."""
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade
    from storage.runs import prune
    from storage.sessions import unit_of_work

    before = datetime.now(UTC) - timedelta(days=args.older_than)
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        with unit_of_work(make_session_factory(engine), args.dry_run) as session:
            fetches, job_runs = prune(session, before)
    verb = "would delete" if args.dry_run else "deleted"
    report = {"before": before, "fetches": fetches, "job_runs": job_runs}
    text = (
        f"{verb} {fetches} fetch attempt(s) and {job_runs} job run(s) from before {before:%Y-%m-%d}"
    )
    _print_summary(args, report, text)
    return EXIT_OK


def command_watchlist_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print every watchlist with its recipients as written, schedule and filters."""
    from models.vocabulary import load_vocabulary
    from pipeline.config.watchlists import load_watchlists, unset_variables

    watchlists = load_watchlists(args.file, load_vocabulary())  # `${VAR}` stays as written
    rows = []
    for item in watchlists:
        filters = item.filters
        described = "; ".join(
            f"{name} {', '.join(sorted(values))}"
            for name, values in (
                ("elements", filters.elements),
                ("measures", filters.measures),
                ("actions", filters.actions),
                ("actors", filters.actors),
                ("targets", filters.targets),
                ("modality", filters.modality),
            )
            if values
        )
        if filters.min_sources > 1:
            described += f"; at least {filters.min_sources} sources"
        unset = unset_variables(item, os.environ)
        rows.append(
            (
                item.name,
                ", ".join(item.recipients),
                unset if args.json else ", ".join(unset),
                item.schedule,
                item.timezone,
                described,
            )
        )
    columns = ["name", "recipients", "unset_variables", "schedule", "timezone", "filters"]
    _write_rows(sys.stdout, "json" if args.json else "table", columns, rows)
    return EXIT_OK


def command_watchlist_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a watchlist, checked as the loader checks it."""
    from models.vocabulary import load_vocabulary
    from pipeline.config.watchlists import add_watchlist

    filters: dict[str, Any] = {
        key: values
        for key, values in (
            ("elements", args.element),
            ("groups", args.group),
            ("measures", args.measure),
            ("actions", args.action),
            ("actors", args.actor),
            ("targets", args.target),
            ("modality", args.modality),
        )
        if values
    }
    if args.min_sources > 1:
        filters["min_sources"] = args.min_sources
    entry = {
        "name": args.name,
        "recipients": args.recipient,
        "filters": filters,
        "schedule": args.schedule,
        "timezone": args.timezone,
        "group_by": args.group_by,
    }
    add_watchlist(args.file, entry, load_vocabulary())
    print(f"added watchlist {args.name!r} to {args.file}")
    return EXIT_OK


def command_watchlist_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a watchlist by name."""
    from models.vocabulary import load_vocabulary
    from pipeline.config.watchlists import remove_watchlist

    remove_watchlist(args.file, args.name, load_vocabulary())
    print(f"removed watchlist {args.name!r} from {args.file}")
    return EXIT_OK


def _digest_setup(args: argparse.Namespace) -> tuple[list[Watchlist], CronFile, SmtpSettings]:
    from models.vocabulary import load_vocabulary
    from pipeline.config.watchlists import load_watchlists
    from pipeline.delivery.smtp import SmtpSettings

    # Sending and previewing fill in `${VAR}` recipients; listing and editing never need them.
    watchlists = load_watchlists(args.file, load_vocabulary(), os.environ)
    cron = _load_cron(args.cron)
    for item in watchlists:
        cron.job(item.schedule)  # a schedule that is not a cron.yaml job is an error now
    chosen = getattr(args, "watchlist", None)
    if chosen:
        names = [chosen] if isinstance(chosen, str) else chosen
        unknown = [name for name in names if name not in {w.name for w in watchlists}]
        if unknown:
            known = ", ".join(w.name for w in watchlists)
            raise UsageError(f"no watchlist {unknown[0]!r} in {args.file}; known: {known}")
        watchlists = [w for w in watchlists if w.name in names]
    return watchlists, cron, SmtpSettings.from_environment(os.environ)


def command_digest_send(args: argparse.Namespace, settings: Settings) -> int:
    """Send every due digest at most once; a failed one stays pending for the next run."""
    from pipeline.flows.digests import send_digests
    from storage.engine import make_session_factory, open_engine
    from storage.migrate import upgrade

    watchlists, cron, smtp = _digest_setup(args)
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
        summary = send_digests(
            make_session_factory(engine),
            watchlists,
            cron,
            smtp,
            datetime.now(UTC),
            args.dry_run,
            os.environ.get("NEWSTRACK_UNSUBSCRIBE_URL") or None,
            args.unconfirmed,
        )
    verb = "would send" if args.dry_run else "sent"
    lines = [f"{verb} {len(summary.sent)} digest(s), {len(summary.failed)} failed (kept pending)"]
    lines += [f"  {verb}: {label}" for label in summary.sent]
    lines += [f"  failed: {label}" for label in summary.failed]
    lines += [f"  unconfirmed: {label}" for label in summary.unconfirmed]
    if summary.unconfirmed:
        lines.append(
            "  an unconfirmed digest may or may not have arrived: ask its recipient, then run "
            "`newstrack digest send --resend-unconfirmed` (it did not) or --dismiss-unconfirmed"
        )
    _print_summary(args, asdict(summary), "\n".join(lines))
    if summary.failed:
        return EXIT_PARTIAL if summary.sent else EXIT_FAILURE
    return EXIT_PARTIAL if summary.unconfirmed else EXIT_OK


def command_digest_preview(args: argparse.Namespace, settings: Settings) -> int:
    """Write the digest a watchlist would send now, as .eml and .html, and print their paths."""
    from pipeline.delivery.message import standalone_html
    from pipeline.flows.digests import preview_digest
    from storage.engine import make_session_factory, open_existing
    from storage.migrate import upgrade

    [watchlist], cron, smtp = _digest_setup(args)
    with open_existing(settings.database_url) as engine:
        upgrade(engine)  # an older schema is brought up to date; none is never created
        message = preview_digest(
            make_session_factory(engine),
            watchlist,
            cron,
            smtp,
            datetime.now(UTC),
            os.environ.get("NEWSTRACK_UNSUBSCRIBE_URL") or None,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    eml = _inside(args.out, f"{watchlist.name}.eml")
    eml.write_bytes(bytes(message))
    html = _inside(args.out, f"{watchlist.name}.html")
    html.write_text(standalone_html(message), encoding="utf-8")  # the chart inlined
    print(f"{eml}\n{html}")
    return EXIT_OK


def _inside(folder: Path, file_name: str) -> Path:
    """A file directly in a folder, links resolved; a name that would lead elsewhere is an error."""
    resolved_folder = folder.resolve()
    path = (resolved_folder / file_name).resolve()
    if path.parent != resolved_folder:
        raise UsageError(f"{file_name!r} would be written outside {folder}: refused")
    return folder / file_name


def command_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run jobs from the queue until stopped (or, with --once, until the queues are empty)."""
    import asyncio

    from pipeline.running.workers import QUEUES, make_app, run_worker
    from storage.engine import open_engine
    from storage.migrate import upgrade

    args.queue = [name for given in args.queue for name in given.split(",") if name]
    unknown = [queue for queue in args.queue if queue not in QUEUES]
    if unknown:
        raise UsageError(f"--queue {unknown[0]!r}: one of {', '.join(QUEUES)}")
    with open_engine(settings.database_url) as engine:
        upgrade(engine)
    app = make_app(settings.database_url)
    os.environ.setdefault("NEWSTRACK_DB", settings.database_url)  # for the jobs this worker runs
    os.environ.setdefault("NEWSTRACK_SOURCES", str(settings.sources_path))
    asyncio.run(run_worker(app, args.queue, args.concurrency, args.once))
    return EXIT_OK


def command_jobs(args: argparse.Namespace, settings: Settings) -> int:
    """List the queue's jobs, or queue fetches, extraction, or a failed job again."""
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.running.workers import defer_fetches, extract_articles, make_app
    from storage.engine import open_existing

    app = make_app(settings.database_url)
    with open_existing(settings.database_url):
        pass  # the queue's tables come with newstrack's schema: without it, say so
    with app.open():
        if args.fetch:
            sources = select_sources(load_sources(settings.sources_path), args.source)
            queued = defer_fetches(app, [source.name for source in sources])
            print(f"queued {len(queued)} fetch(es): {', '.join(queued) or 'each already queued'}")
            return EXIT_OK
        if args.extract:
            job_id = extract_articles.configure(queueing_lock="extract-pending").defer()
            print(f"queued extraction of the waiting articles (job {job_id})")
            return EXIT_OK
        if args.retry is not None:
            app.job_manager.retry_job_by_id(args.retry, datetime.now(UTC))
            print(f"job {args.retry} queued again")
            return EXIT_OK
        found = app.job_manager.list_jobs(status=args.status)
    errors = _queue_errors(settings.database_url)
    rows = [
        (
            job.id,
            job.queue,
            job.task_name,
            job.status,
            job.attempts,
            json.dumps(job.task_kwargs),
            errors.get(job.id or 0),
        )
        for job in found
    ]
    columns = ["id", "queue", "task", "status", "attempts", "arguments", "error"]
    _write_rows(sys.stdout, "json" if args.json else "table", columns, rows)
    return EXIT_OK


def _queue_errors(database_url: str) -> dict[int, str]:
    """The latest recorded error of each failed job of the queue."""
    from sqlalchemy import select

    from models import QueueError
    from storage.engine import make_session_factory, open_engine
    from storage.sessions import unit_of_work

    with open_engine(database_url) as engine, unit_of_work(make_session_factory(engine)) as session:
        rows = session.execute(
            select(QueueError.job_id, QueueError.error).order_by(
                QueueError.failed_at, QueueError.id
            )
        )
        return {job_id: error for job_id, error in rows}


def check_newstrack_command(words: list[str]) -> str | None:
    """Why a newstrack command line (without "newstrack") would not parse, or None."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            build_parser().parse_args(words)
    except SystemExit as error:
        if error.code == 0:
            return None
        message = errors.getvalue().strip().splitlines()
        return message[-1].split("error: ", 1)[-1] if message else "invalid command"
    return None


def _load_cron(path: Path) -> CronFile:
    from pipeline.config.cron import load_cron

    return load_cron(path, check_newstrack_command)


def command_cron_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate cron.yaml and show when each job fires next."""
    from pipeline.config.cron import daylight_saving_warnings

    try:
        shown_in = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {args.timezone!r} is not an IANA time zone") from None
    cron = _load_cron(args.file)
    now = datetime.now(UTC)
    report: dict[str, Any] = {
        "file": str(args.file),
        "timezone": args.timezone,
        "jobs": [],
        "warnings": [],
    }
    lines = [
        f"{args.file}: {len(cron.jobs)} job(s), valid; next fire times in {args.timezone}"
        " (in a job's own zone in parentheses when it differs)"
    ]
    for job in cron.jobs:
        times = []
        for moment in job.times(now):
            times.append((moment + job.delay).astimezone(shown_in))
            if len(times) == args.count:
                break
        shown = ", ".join(_fire_time(moment, shown_in, job.zone) for moment in times)
        lines.append(f"  {job.name}: {job.schedule} ({job.timezone}) next: {shown}")
        report["jobs"].append({"name": job.name, "next": [t.isoformat() for t in times]})
        for warning in daylight_saving_warnings(job, now):
            report["warnings"].append(warning)
            print(f"newstrack: warning: {warning}", file=sys.stderr)
    _print_summary(args, report, "\n".join(lines))
    return EXIT_OK


def _fire_time(moment: datetime, shown_in: ZoneInfo, own: ZoneInfo) -> str:
    """A fire time in the zone asked for, and in the job's own zone when that differs."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S %Z")
    if own.key == shown_in.key:
        return text
    return f"{text} ({moment.astimezone(own).strftime('%Y-%m-%d %H:%M:%S %Z')})"


@contextmanager
def _scheduler(args: argparse.Namespace, settings: Settings) -> Iterator[Scheduler]:
    """The scheduler of cron.yaml (or --job) on a migrated database, closed afterwards."""
    from pipeline.running.scheduler import Runner, Scheduler, run_command
    from storage.engine import make_session_factory, open_engine
    from storage.revision import is_newest

    cron = _load_cron(args.file)
    if getattr(args, "job", None):
        cron = replace(cron, jobs=tuple(cron.job(name) for name in args.job))
    with ExitStack() as stack:
        engine = stack.enter_context(open_engine(settings.database_url))
        if not is_newest(engine):  # Alembic is loaded only when there is something to migrate
            from storage.migrate import upgrade

            upgrade(engine)
        runner: Runner = run_command
        if settings.distributed:  # runs go to the workers' queue; job_runs still counts each once
            from pipeline.running.workers import deferring_runner, make_app

            app = make_app(settings.database_url)
            stack.enter_context(app.open())
            runner = deferring_runner(app)
        yield Scheduler(cron, make_session_factory(engine), settings, runner=runner)


def command_cron_tick(args: argparse.Namespace, settings: Settings) -> int:
    """Run every job due since the last tick, wait for them, report what happened."""
    with _scheduler(args, settings) as scheduler:
        summary = scheduler.tick()
        if args.wait_for_retries:
            scheduler.settle(summary)
        scheduler.wait()
        failed = scheduler.failed_runs()
    report = {**asdict(summary), "failed": failed}
    text = (
        f"started {len(summary.started)} run(s){': ' + ', '.join(summary.started) if summary.started else ''}; "
        f"{len(summary.missed)} missed, {len(summary.skipped)} skipped (previous run still running), "
        f"{len(summary.taken_elsewhere)} run by another scheduler, {len(failed)} failed"
    )
    _print_summary(args, report, text)
    return EXIT_PARTIAL if failed else EXIT_OK


def command_cron_run(args: argparse.Namespace, settings: Settings) -> int:
    """The scheduler in the foreground: runs jobs when due until SIGTERM or Ctrl-C."""
    from pipeline.running.scheduler import stop_on_signals

    with _scheduler(args, settings) as scheduler:
        stop_on_signals(scheduler)
        scheduler.run_forever()
    return EXIT_OK


def command_cron_render(args: argparse.Namespace, settings: Settings) -> int:
    """Print the crontab for `cron tick`, or a ConfigMap and one Kubernetes CronJob per job."""
    from pipeline.config.settings import SECRET_VARIABLES, read_variables
    from pipeline.running.deploy import (
        crontab,
        env_file_text,
        kubernetes_manifests,
        missing_variables,
    )
    from storage.engine import parse_database_url

    cron = _load_cron(args.file)
    needs = [_job_needs(job, settings) for job in cron.jobs]
    if args.k8s:
        if args.env_file is not None:
            raise UsageError("--env-file goes with --crontab")
        files = {
            args.file.name: args.file,
            **{path.name: path for n in needs for _, path in n.files},
        }
        contents = {name: _config_text(path) for name, path in files.items()}
        manifests = kubernetes_manifests(
            cron, needs, contents, args.image, args.secret, args.config_map, settings.distributed
        )
        print(manifests, end="")
        return EXIT_OK
    names = dict.fromkeys(name for need in needs for name in (*need.variables, *need.required))
    found = read_variables(names)
    missing_variables(needs, found)
    environment = _crontab_settings(needs, settings)
    environment |= {name: value for name, value in found.items() if name not in environment}
    folder = Path.cwd()
    newstrack = Path(sys.executable).with_name("newstrack")
    if args.env_file is None:
        secrets = sorted(set(environment) & SECRET_VARIABLES)
        if parse_database_url(settings.database_url).password:
            secrets.insert(0, "NEWSTRACK_DB")
        if secrets:
            log.warning(
                "the crontab holds %s; --env-file PATH keeps them in a file only you can read",
                ", ".join(secrets),
            )
        print(crontab(cron, newstrack, folder, environment), end="")
        return EXIT_OK
    env_file = args.env_file.resolve()
    env_file.touch(mode=0o600)
    env_file.chmod(0o600)  # before the secrets go in
    env_file.write_text(env_file_text(environment), encoding="utf-8")
    print(crontab(cron, newstrack, folder, environment, env_file), end="")
    return EXIT_OK


def _job_needs(job: CronJob, settings: Settings) -> JobNeeds:
    """What a cron.yaml job's command reads: its settings, files, and the variables it requires."""
    from pipeline.config.settings import COMMAND_VARIABLES, SOURCES_VARIABLE, WATCHLISTS_VARIABLE
    from pipeline.config.watchlists import recipient_variables
    from pipeline.running.deploy import JobNeeds

    args = build_parser().parse_args(list(job.command))
    variables = COMMAND_VARIABLES.get(job.command[0], ())
    files = [(SOURCES_VARIABLE, getattr(args, "sources", None) or settings.sources_path)]
    required: list[str] = []
    if job.command[0] == "digest":
        files.append((WATCHLISTS_VARIABLE, args.file))
        required = recipient_variables(args.file)
    return JobNeeds(job, variables, tuple(required), tuple(files))


def _crontab_settings(needs: list[JobNeeds], settings: Settings) -> dict[str, str]:
    """The database and files the jobs use here, absolute so that cron's folder does not matter."""
    from pipeline.config.settings import DATABASE_VARIABLE, DISTRIBUTED_VARIABLE
    from storage.engine import parse_database_url

    database_url = settings.database_url
    url = parse_database_url(database_url)
    database = url.database or ""
    # A relative file is relative to where cron runs; a URI (file:...) names its own path.
    local_file = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and local_file:
        resolved = url.set(database=str(Path(database).expanduser().resolve()))
        database_url = resolved.render_as_string(hide_password=False)
    if settings.distributed and url.get_backend_name() != "postgresql":
        raise UsageError("NEWSTRACK_DISTRIBUTED needs NEWSTRACK_DB to be a PostgreSQL URL")
    found = {DATABASE_VARIABLE: database_url}
    if settings.distributed:
        found[DISTRIBUTED_VARIABLE] = "1"
    for need in needs:
        for name, path in need.files:
            found[name] = str(path.resolve())
    return found


def _config_text(path: Path) -> str:
    """A configuration file's text, for the ConfigMap; a missing one is a usage error."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def command_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run a read-only query and print its rows; exit 3 when the row cap cut them."""
    from models.vocabulary import load_vocabulary
    from storage.canned import canned_queries, canned_query
    from storage.readonly import placeholders, run_readonly

    output_format = "json" if args.json else args.format
    if args.list:
        rows = [
            (
                query.name,
                query.description,
                ", ".join(parameter.describe() for parameter in query.parameters),
            )
            for query in canned_queries().values()
        ]
        columns = ["name", "description", "parameters"]
        _write_rows(sys.stdout, output_format, columns, rows, list_columns={"parameters"})
        return EXIT_OK
    if not args.query:
        raise UsageError("give a query, the name of a canned query, or --list")
    query, given = args.query, dict(_parameter(item) for item in args.param)
    parameters: dict[str, object] = dict(given)
    canned = canned_query(query) if CANNED_NAME.match(query) else None  # one word: a name
    if canned:
        query, parameters = canned.sql, canned.values(given, load_vocabulary())
    else:
        _check_placeholders(placeholders(query), set(given))
    max_rows = args.max_rows or None  # 0: no cap
    # SQL a user typed needs a role that cannot reach the server's files; newstrack's own canned
    # SQL may run as any role, read-only. Both run as the reading role when one is named.
    database_url = settings.sql_database_url or settings.database_url
    result = run_readonly(
        database_url, query, parameters, max_rows, args.time_limit, trusted=bool(canned)
    )
    _write_rows(sys.stdout, output_format, result.columns, result.rows)
    if canned and not result.rows and "since" in parameters:
        _hint_newest_article(database_url, str(parameters["since"]))
    if result.truncated:
        print(
            f"newstrack: partial answer: stopped at {args.max_rows} rows "
            "(--max-rows N for more, --max-rows 0 for all)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_OK


def _check_placeholders(used: set[str], given: set[str]) -> None:
    """Every :name of a query has its -p, and every -p a :name."""
    missing, unused = sorted(used - given), sorted(given - used)
    if missing:
        raise UsageError(f"the query's :{missing[0]} has no value: give -p {missing[0]}=VALUE")
    if unused:
        known = ", ".join(f":{name}" for name in sorted(used)) or "none"
        raise UsageError(
            f"-p {unused[0]}: the query has no :{unused[0]} (its placeholders: {known})"
        )


def _hint_newest_article(database_url: str, since: str) -> None:
    """Say on standard error how old the newest article is, when a window found nothing."""
    from storage.readonly import run_readonly

    newest_article = "SELECT max(published_at) FROM articles"
    newest = run_readonly(database_url, newest_article, trusted=True).rows[0][0]
    if newest is None:
        print("newstrack: no rows: the database holds no dated article yet", file=sys.stderr)
        return
    day = date.fromisoformat(str(newest)[:10])
    age = (datetime.now(UTC).date() - day).days
    wider = (day - timedelta(days=30)).isoformat()
    print(
        f"newstrack: no rows since {since}: the newest article is from {day.isoformat()}, "
        f"{age} day{'s' if age != 1 else ''} ago; widen with -p since={wider}",
        file=sys.stderr,
    )


def command_article(args: argparse.Namespace, settings: Settings) -> int:
    """Extract title, date, text and language from one saved page, as the fetcher would."""
    from models.source import ArticleSelectors
    from pipeline.config.sources import load_sources, selectors_for
    from pipeline.fetching.pages import extract_page

    try:
        body = args.file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from None
    url = args.url or args.file.resolve().as_uri()
    selectors = ArticleSelectors()
    if args.url and settings.sources_path.is_file():
        selectors = selectors_for(load_sources(settings.sources_path), args.url)
    page = extract_page(body, url, selectors)
    report = {
        "title": page.title,
        "published": page.published.isoformat() if page.published else None,
        "text": page.text,
        "language": page.language,
        "extractor": page.extractor,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        header = [
            f"{key}: {report[key]}" for key in ("title", "published", "language", "extractor")
        ]
        print("\n".join(header) + "\n\n" + page.text)
    return EXIT_OK


def command_annotate(args: argparse.Namespace, settings: Settings) -> int:
    """Annotate JSON lines; a bad line is reported by number and the rest go on."""
    from models.vocabulary import load_vocabulary
    from pipeline.extraction import Extractor
    from pipeline.extraction.nlp import load_pipeline

    extractor = Extractor(load_pipeline(), load_vocabulary())
    failures = successes = 0
    with ExitStack() as stack:
        # Bytes, decoded line by line: a line that is not UTF-8 is that line's error alone.
        source: Iterator[bytes | str] = (
            getattr(sys.stdin, "buffer", sys.stdin)
            if args.input == "-"
            else stack.enter_context(_open_input(args.input))
        )
        target = (
            sys.stdout
            if args.output == "-"
            else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        )
        batch: list[ArticleText] = []
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                batch.append(_article_of_line(line, number))
            except InputError as error:
                print(f"newstrack: annotate: {error}", file=sys.stderr)
                failures += 1
                continue
            if len(batch) >= 64:
                written = _annotate_batch(extractor, batch, target)
                successes, failures, batch = (
                    successes + written,
                    failures + len(batch) - written,
                    [],
                )
        written = _annotate_batch(extractor, batch, target)
        successes, failures = successes + written, failures + len(batch) - written
    if failures:
        return EXIT_PARTIAL if successes else EXIT_FAILURE
    return EXIT_OK


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None


def _article_of_line(raw: bytes | str, number: int) -> ArticleText:
    """One input line as a text to annotate; whatever is wrong with it is an InputError naming it."""
    try:
        return _read_line(raw, number)
    except InputError:
        raise
    except Exception as error:  # anything else a hostile line sets off is still that line's error
        log.debug("annotate: line %d not read", number, exc_info=True)
        raise InputError(f"line {number}: not read ({type(error).__name__})") from None


def _read_line(raw: bytes | str, number: int) -> ArticleText:
    from models.annotation import ArticleText
    from pipeline.fetching.times import parse_datetime

    try:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise InputError(f"line {number}: not UTF-8 (byte {error.start + 1})") from None
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"line {number}: not JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise InputError(f"line {number}: not JSON (nested too deeply)") from None
    except ValueError as error:  # an integer of more digits than Python converts
        reason = str(error).split(";")[0]  # Python's advice on its own limit is not the user's
        raise InputError(f"line {number}: not JSON ({reason})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise InputError(f'line {number}: expected an object with a "text" string')
    published = item.get("published")
    return ArticleText(
        id=str(item.get("id", number)),
        text=item["text"],
        title=str(item.get("title") or ""),
        published=parse_datetime(published) if isinstance(published, str) else None,
    )


def _annotate_batch(extractor: Extractor, batch: list[ArticleText], target: TextIO) -> int:
    """Write each text's annotation; a text the extractor fails on is reported and skipped."""
    written = 0
    for article, annotation in zip(batch, extractor.annotate_each(batch), strict=True):
        if isinstance(annotation, Exception):
            print(f"newstrack: annotate: {article.id}: {annotation}", file=sys.stderr)
            continue
        target.write(json.dumps(annotation_to_json(annotation), ensure_ascii=False) + "\n")
        written += 1
    target.flush()
    return written


def annotation_to_json(annotation: Annotation) -> dict[str, Any]:
    """The `annotate` output contract of one annotation."""
    return {
        "id": annotation.id,
        "status": annotation.status,
        "note": annotation.note,
        "on_topic": annotation.on_topic,
        "elements": annotation.elements,
        "groups": annotation.groups,
        "countries": annotation.countries,
        "orgs": annotation.orgs,
        "events": [
            {
                "actor": event.actor,
                "actor_body": event.actor_body,
                "action": event.action,
                "measure": event.measure,
                "elements": list(event.elements),
                "target": event.target,
                "target_count": event.target_count,
                "target_unit": event.target_unit,
                "quantities": [_quantity_json(q) for q in event.quantities],
                "dates": [
                    {"date": d.value.isoformat(), "role": d.role, "text": d.text}
                    for d in event.dates
                ],
                "evidence": event.evidence.sentence,
                "evidence_start": event.evidence.start,
                "evidence_end": event.evidence.end,
                "reported_label": event.evidence.reported_label,
                "modality": event.evidence.modality,
                "confidence": event.evidence.confidence,
            }
            for event in annotation.events
        ],
        "quantities": [_quantity_json(q) for q in annotation.quantities],
    }


def _quantity_json(quantity: QuantityTag) -> dict[str, Any]:
    return {
        "value": quantity.value,
        "unit": quantity.unit,
        "qualifier": quantity.qualifier,
        "text": quantity.text,
    }


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _parameter(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"-p {item!r} is not NAME=VALUE")
    return name.strip(), value


def _forced(args: argparse.Namespace) -> bool:
    """Sources named on the command line, or --force, are fetched even while resting."""
    return bool(args.force or args.source)


def _paced_for(settings: Settings, replay: Path | None) -> Settings:
    """A replayed snapshot is one local server, so no host needs spacing between requests."""
    if replay is None:
        return settings
    return replace(settings, http=replace(settings.http, per_host_interval=0.0))


@contextmanager
def _http_client(settings: Settings, replay: Path | None) -> Iterator[httpx.Client]:
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


def _fetch_text(summary: FetchSummary) -> str:
    lines = [f"fetched {len(summary.sources)} source(s), stored {summary.stored} new article(s)"]
    for report in summary.sources:
        line = (
            f"  {report.name}: {report.status}, {report.stored} new, {report.known} already stored"
        )
        if report.errors:
            line += f", {len(report.errors)} error(s): {report.errors[0]}"
        lines.append(line)
    return "\n".join(lines)


def _print_summary(args: argparse.Namespace, report: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(report, indent=2, default=_json_default))
    else:
        print(text)


def _json_default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _write_rows(
    stream: TextIO,
    output_format: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    list_columns: Collection[str] = LIST_COLUMNS,
) -> None:
    """Rows as a table, CSV or JSON; in JSON, list columns are arrays and empty values null."""
    if output_format in ("json", "jsonl"):
        objects = [
            {
                column: _json_value(value, column in list_columns)
                for column, value in zip(columns, row, strict=True)
            }
            for row in rows
        ]
        if output_format == "json":
            stream.write(json.dumps(objects, indent=2, default=str) + "\n")
        else:
            stream.writelines(json.dumps(item, default=str) + "\n" for item in objects)
        return
    if output_format == "csv":
        # Quoted fields may hold line breaks and tabs; no other control character is printed.
        writer = csv.writer(stream)
        writer.writerow(printable(column, keep="\n\t") for column in columns)
        writer.writerows(
            [printable(value, keep="\n\t") if isinstance(value, str) else value for value in row]
            for row in rows
        )
    else:
        _write_table(stream, columns, rows)


def _json_value(value: object, is_list: bool) -> object:
    """A value as JSON shows it: a list column's comma-separated text as an array; empty as null."""
    if is_list and isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    return None if value in ("", []) else value


def _write_table(
    stream: TextIO,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    cell_width: int | None = CELL_WIDTH,
) -> None:
    """A plain-text table; cells longer than `cell_width` are cut with "…" (None: never).

    Control characters, line breaks and tabs among them, are printed as escapes (\\x1b, \\n).
    """
    columns = [printable(column) for column in columns]
    cells = [["" if value is None else printable(str(value)) for value in row] for row in rows]
    widths = [
        max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)
    ]
    if cell_width is not None:
        widths = [min(cell_width, width) for width in widths]
    stream.write(
        "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)) + "\n"
    )
    stream.write("  ".join("-" * width for width in widths) + "\n")
    for row in cells:
        shown = [
            value if len(value) <= width else value[: width - 1] + "…"
            for value, width in zip(row, widths, strict=True)
        ]
        stream.write(
            "  ".join(
                value.ljust(width) for value, width in zip(shown, widths, strict=True)
            ).rstrip()
            + "\n"
        )
    stream.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


if __name__ == "__main__":
    sys.exit(main())
