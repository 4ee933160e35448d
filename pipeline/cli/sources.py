"""The sources and what is stored from them: `sources`, `reextract` and `consolidate`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.base import EXIT_OK, EXIT_PARTIAL, Context, open_database
from pipeline.cli.output import write_rows
from pipeline.config.sources import load_sources, select_sources
from storage import queries

if TYPE_CHECKING:
    from .base import Subcommands


def add_sources(commands: Subcommands, common: SuggestingParser) -> None:
    """`sources`: the sources and how their fetching goes."""
    sources = commands.add_parser(
        "sources", parents=[common], help="list the sources and how their fetching goes"
    )
    sources.set_defaults(handler=command_sources)


def add_reextract(commands: Subcommands, common: SuggestingParser) -> None:
    """`reextract`: article text again from stored pages."""
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


def add_consolidate(commands: Subcommands, common: SuggestingParser) -> None:
    """`consolidate`: regroup mentions into events, rebuild timelines."""
    consolidate = commands.add_parser(
        "consolidate",
        parents=[common],
        help="regroup every stored mention into events and rebuild the measures' timelines",
    )
    consolidate.add_argument("--dry-run", action="store_true", help="report, change nothing")
    consolidate.set_defaults(handler=command_consolidate)


def command_sources(args: argparse.Namespace, context: Context) -> int:
    """Each configured source with its health: last success, last error, failures, next due."""
    configured = load_sources(context.settings.sources_path)
    now = datetime.now(UTC)
    # an older schema is brought up to date; none is never created
    with open_database(context.settings, existing=True) as database, database.session() as session:
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
    write_rows(sys.stdout, "json" if context.as_json else "table", columns, rows)
    return EXIT_OK


def command_reextract(args: argparse.Namespace, context: Context) -> int:
    """Re-extract text from stored raw pages; changed articles are queued for `extract`."""
    # The job flows load spaCy: only the commands that run them import them.
    from pipeline.flows.reextract import reextract_pages

    sources = load_sources(context.settings.sources_path)
    only = [source.name for source in select_sources(sources, args.source)] if args.source else None
    with open_database(context.settings) as database:
        summary = reextract_pages(database.sessions, sources, only, args.dry_run)
    report = {"checked": summary.checked, "changed": summary.changed, "failed": summary.failed}
    text = f"re-extracted {summary.checked} page(s): {summary.changed} changed"
    if summary.failed:
        text += f", {len(summary.failed)} failed: {summary.failed[0]}"
    if summary.changed and not args.dry_run:
        text += "\nrun `newstrack extract` to extract their events again"
    context.summary(report, text)
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def command_consolidate(args: argparse.Namespace, context: Context) -> int:
    """Regroup every stored mention into events and rebuild the timelines of measures."""
    from pipeline.flows.consolidate import consolidate_all

    with open_database(context.settings) as database:
        summary = consolidate_all(database.sessions, args.dry_run)
    verb = "would change" if args.dry_run else "changed"
    text = (
        f"consolidated {summary.families} actor/measure famil"
        f"{'y' if summary.families == 1 else 'ies'}: {verb} {summary.changed} event(s); "
        f"{summary.events} event(s), {summary.measures} measure(s) with a timeline"
    )
    context.summary(asdict(summary), text)
    return EXIT_OK
