"""`sql`: a read-only query, typed or canned, printed as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from models.errors import UsageError
from models.vocabulary import load_vocabulary
from pipeline.cli.arguments import SuggestingParser, seconds, whole
from pipeline.cli.base import EXIT_OK, EXIT_PARTIAL, Context
from pipeline.cli.output import FORMATS, write_rows
from pipeline.config.settings import SQL_DATABASE_VARIABLE
from storage.canned import canned_queries, canned_query

if TYPE_CHECKING:
    from .base import Subcommands

CANNED_NAME = re.compile(r"^[a-z][a-z0-9-]*$")  # a one-word query is a canned query's name
ROW_CAP = whole(1, 10_000_000, zero="no cap")
TIME_LIMIT = seconds()  # at most a day


def register(commands: Subcommands, common: SuggestingParser) -> None:
    """`sql`: run a read-only query."""
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
    sql.add_argument("--format", choices=FORMATS, default="table")
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
    sql.set_defaults(handler=command_sql, reads=(SQL_DATABASE_VARIABLE,))


def command_sql(args: argparse.Namespace, context: Context) -> int:
    """Run a read-only query and print its rows; exit 3 when the row cap cut them."""
    from storage.readonly import placeholders, run_readonly  # psycopg: no other command needs it

    settings = context.settings
    output_format = "json" if context.as_json else args.format
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
        write_rows(sys.stdout, output_format, columns, rows, list_columns={"parameters"})
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
    write_rows(sys.stdout, output_format, result.columns, result.rows)
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


def _parameter(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"-p {item!r} is not NAME=VALUE")
    return name.strip(), value
