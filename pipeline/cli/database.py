"""The database itself: `init` sets it up or upgrades it, `prune` empties its logs."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.cli.arguments import SuggestingParser, whole
from pipeline.cli.base import EXIT_OK, Context, open_database
from storage.engine import describe
from storage.runs import prune

if TYPE_CHECKING:
    from .base import Subcommands

DAYS = whole(1, 36_500)  # a hundred years


@dataclass(frozen=True)
class SchemaReport:
    """What `init` found and did."""

    database: str
    revision: str
    upgraded: bool


def add_init(commands: Subcommands, common: SuggestingParser) -> None:
    """`init`: create or upgrade the schema."""
    init = commands.add_parser(
        "init", parents=[common], help="create or upgrade the database schema"
    )
    init.set_defaults(handler=command_init)


def add_prune(commands: Subcommands, common: SuggestingParser) -> None:
    """`prune`: delete old fetch attempts and job runs."""
    pruning = commands.add_parser(
        "prune", parents=[common], help="delete fetch attempts and job runs older than N days"
    )
    pruning.add_argument(
        "--older-than", type=DAYS, default=90, metavar="DAYS", help=f"{DAYS.describe()}; default 90"
    )
    pruning.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    pruning.set_defaults(handler=command_prune)


def command_init(args: argparse.Namespace, context: Context) -> int:
    """Create or upgrade the schema."""
    from storage.migrate import head_revision  # Alembic, which other commands load only to migrate

    with open_database(context.settings) as database:
        pass  # opening the database creates or upgrades its schema
    report = SchemaReport(describe(database.engine.url), head_revision(), database.upgraded)
    context.summary(asdict(report), f"database ready: {report.database} (schema {report.revision})")
    return EXIT_OK


def command_prune(args: argparse.Namespace, context: Context) -> int:
    """Delete the fetch log and job history older than some days; articles and events stay."""
    before = datetime.now(UTC) - timedelta(days=args.older_than)
    with open_database(context.settings) as database, database.session(args.dry_run) as session:
        fetches, job_runs = prune(session, before)
    verb = "would delete" if args.dry_run else "deleted"
    report = {"before": before, "fetches": fetches, "job_runs": job_runs}
    text = (
        f"{verb} {fetches} fetch attempt(s) and {job_runs} job run(s) from before {before:%Y-%m-%d}"
    )
    context.summary(report, text)
    return EXIT_OK
