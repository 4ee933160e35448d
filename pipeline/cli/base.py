"""What every command shares: its context, the database it opens, exit codes and error printing."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import NewstrackError
from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.output import print_summary
from pipeline.config.settings import Settings
from pipeline.flows.progress import log_to_stderr
from pipeline.text.terminal import printable
from storage.engine import make_session_factory, open_engine, open_existing
from storage.revision import is_newest
from storage.sessions import unit_of_work

if TYPE_CHECKING:
    from pipeline.extraction import Extractor

    Subcommands = argparse._SubParsersAction[SuggestingParser]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
log = logging.getLogger("newstrack")


@dataclass(frozen=True)
class Context:
    """What a command runs with: the settings, the output asked for, and the command line itself."""

    settings: Settings
    parser: argparse.ArgumentParser
    as_json: bool = False

    def summary(self, report: dict[str, Any], text: str) -> None:
        """Print a command's summary: the report as JSON with --json, else the text."""
        print_summary(self.as_json, report, text)

    def read_command(self, words: Sequence[str]) -> argparse.Namespace:
        """The arguments of another newstrack command (a cron.yaml job's), as this parser reads them."""
        return self.parser.parse_args(list(words))

    def check_command(self, words: Sequence[str]) -> str | None:
        """Why a newstrack command line (without "newstrack") would not parse, or None."""
        return check_command(self.parser, words)


Handler = Callable[[argparse.Namespace, Context], int]


def common_options() -> SuggestingParser:
    """The options every command takes, before or after its name."""
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
    return common


def check_command(parser: argparse.ArgumentParser, words: Sequence[str]) -> str | None:
    """Why a newstrack command line (without "newstrack") would not parse, or None."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parser.parse_args(list(words))
    except SystemExit as error:
        if error.code == 0:
            return None
        message = errors.getvalue().strip().splitlines()
        return message[-1].split("error: ", 1)[-1] if message else "invalid command"
    return None


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse a command line and run its command; errors are one line on standard error."""
    args = parser.parse_args(argv)
    configure_logging(quiet=getattr(args, "quiet", False))
    try:
        settings = Settings.from_environment().with_overrides(
            database_url=getattr(args, "db", None),
            sources_path=getattr(args, "sources", None),
            sql_database_url=getattr(args, "sql_db", None),
        )
        command: Handler = args.handler
        return command(args, Context(settings, parser, getattr(args, "json", False)))
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
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`newstrack sql ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def configure_logging(quiet: bool) -> None:
    """Plain log lines on standard error for newstrack's own logger only."""
    log_to_stderr(logging.WARNING if quiet else logging.INFO)


@dataclass(frozen=True)
class Database:
    """An open database whose schema is the newest: its engine and sessions."""

    engine: Engine
    sessions: sessionmaker[Session]
    upgraded: bool  # whether opening it ran migrations

    @contextmanager
    def session(self, dry_run: bool = False) -> Iterator[Session]:
        """One unit of work, committed at the end (rolled back with dry_run)."""
        with unit_of_work(self.sessions, dry_run) as session:
            yield session


@contextmanager
def open_database(settings: Settings, existing: bool = False) -> Iterator[Database]:
    """The settings' database with its schema brought up to date, closed afterwards.

    With `existing`, a database newstrack has not set up is an error and is never created.
    """
    opener = open_existing if existing else open_engine
    with opener(settings.database_url) as engine:
        upgraded = False
        if not is_newest(engine):  # Alembic is loaded only when there is something to migrate
            from storage.migrate import upgrade

            upgraded = upgrade(engine)
        yield Database(engine, make_session_factory(engine), upgraded)


def load_extractor(settings: Settings) -> Extractor:
    """The extractor with the trained pipeline, loaded only by the commands that read text."""
    from pipeline.extraction import standard_extractor  # spaCy

    return standard_extractor(settings.event_threshold)
