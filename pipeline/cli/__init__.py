"""The `newstrack` command line: one module per group of commands over a small base."""

# ruff: noqa: E402 (the collector is tuned before the imports below run)
from __future__ import annotations

import gc

# Importing SQLAlchemy and loading spaCy builds some 150,000 objects the collector tracks, nearly
# all kept for good; collecting every 700 allocations ran it hundreds of times over them (0.1 s of
# the 1 s an extractor takes to load). Every 10,000 still frees short-lived cycles soon enough.
gc.set_threshold(10_000)

import argparse
import sys
from collections.abc import Sequence

from models import trained
from pipeline import __version__
from pipeline.cli import (
    annotate,
    cron,
    database,
    digest,
    review,
    run,
    serve,
    sources,
    sql,
    status,
    watchlist,
    worker,
)
from pipeline.cli.arguments import PrintVersion, SuggestingParser
from pipeline.cli.base import check_command, common_options, run_command

# Each adds its command (or a command and its actions) to the parser, in the order --help lists.
ADDERS = (
    database.add_init,
    run.add_run,
    run.add_fetch,
    run.add_extract,
    run.add_backfill,
    sources.add_sources,
    sources.add_reextract,
    sources.add_consolidate,
    status.add_status,
    database.add_prune,
    watchlist.register,
    digest.register,
    worker.add_worker,
    worker.add_jobs,
    cron.register,
    sql.register,
    serve.add_serve,
    review.register,
    annotate.add_article,
    annotate.add_annotate,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    common = common_options()
    parser = SuggestingParser(
        prog="newstrack",
        description="Track trade-policy events on critical minerals from the news.",
        parents=[common],
    )
    parser.add_argument(
        "--version",
        action=PrintVersion,
        version=f"newstrack {__version__}\nevent decision: {trained.summary()}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in ADDERS:
        add(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    return run_command(build_parser(), argv)


def command_line() -> None:
    """The `newstrack` command: run it, then exit with its code."""
    code = main()
    # Exiting, the interpreter collects its heap once more; what the imports built is all live
    # (a tenth of a second or more for SQLAlchemy, spaCy and the rest), so that walk is skipped.
    gc.freeze()
    sys.exit(code)


def check_newstrack_command(words: list[str]) -> str | None:
    """Why a newstrack command line (without "newstrack") would not parse, or None."""
    return check_command(build_parser(), words)


__all__ = ["build_parser", "check_newstrack_command", "command_line", "main"]
