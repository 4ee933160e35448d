"""Read-only SQL for users: whatever the query says, it cannot write, and it is bounded."""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL

from models.errors import ConfigError, DatabaseError, MissingDatabaseError, QueryError
from storage.engine import (
    SCHEMA_TABLE,
    SET_UP_FIRST,
    describe,
    parse_database_url,
    require_sqlite_schema,
)

CURSOR_QUERY = re.compile(r"^(\s|--[^\n]*\n|/\*.*?\*/)*(select|with|values|table)\b", re.I | re.S)
READ_ONLY_REFUSALS = re.compile(r"not authorized|readonly|read-only|query_only", re.IGNORECASE)
READING_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "foreign_key_list"}
)  # pragmas that only describe the schema, allowed in `newstrack sql`
# Quoted strings, quoted names and comments: a ":name" inside them is not a placeholder.
QUOTED_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")  # not PostgreSQL's "::date" cast
# PostgreSQL's quoting: E'' strings take backslash escapes, $tag$ strings run to the same tag.
POSTGRES_QUOTED = re.compile(
    r"(?<!\w)[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/"
    r"|(\$(?:[A-Za-z_]\w*)?\$).*?\1",
    re.S,
)
FIRST_WORD = re.compile(r"[\s(]*([A-Za-z_]+)")
# Statements refused before they reach PostgreSQL: they would end or reshape the read-only
# transaction, change the session's limits, or move data to and from files and programs.
REFUSED_STATEMENTS = {
    **dict.fromkeys(
        ("begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release",
         "prepare", "execute", "deallocate"),
        "transaction control; each query runs alone in a read-only transaction",
    ),
    **dict.fromkeys(
        ("set", "reset", "discard", "load"),
        "session settings; newstrack sets the limits (--time-limit for the time)",
    ),
    "copy": "it reads and writes files and runs programs on the server; SELECT with --format csv",
}  # fmt: skip
SERVER_FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
PRIVILEGED_ROLES = f"""
SELECT current_user, r.rolname, r.rolsuper FROM pg_catalog.pg_roles r
WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
  AND (r.rolsuper OR r.rolname IN ({", ".join(f"'{name}'" for name in SERVER_FILE_ROLES)}))
ORDER BY r.rolname <> current_user, NOT r.rolsuper, r.rolname
"""  # roles current_user is, or can become: a superuser or one that reaches the server's files
SQL_DATABASE_HINT = (
    "give `newstrack sql` a role that only reads: NEWSTRACK_SQL_DB or --sql-db "
    '(README, "A read-only role for newstrack sql")'
)
MAX_VALUE_BYTES = 32 * 1024 * 1024  # SQLite's length limit: no string or blob grows past it
MAX_RESULT_BYTES = 64 * 1024 * 1024  # an answer's values together, on both databases
FIRST_BATCH, LARGEST_BATCH = 1, 1000  # rows fetched at a time, growing while rows stay small


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of a query; `truncated` when the row cap cut it short."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def run_readonly(
    database_url: str,
    query: str,
    parameters: Mapping[str, Any] | None = None,
    max_rows: int | None = 1000,
    time_limit: float = 10.0,
    *,
    trusted: bool = False,
) -> QueryResult:
    """Run one query on a read-only connection with a time limit and a row cap (None: no cap).

    `trusted` is for SQL newstrack wrote itself (canned queries): it may run as a PostgreSQL
    role that can reach the server's files; SQL a user typed may not.
    """
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _run_sqlite(url.database or "", query, parameters or {}, max_rows, time_limit)
    return _run_postgres(url, query, parameters or {}, max_rows, time_limit, trusted)


def _run_postgres(
    url: URL,
    query: str,
    parameters: Mapping[str, Any],
    max_rows: int | None,
    time_limit: float,
    trusted: bool,
) -> QueryResult:
    """One statement, on the extended protocol, on a connection made read-only and timed."""
    _refuse_statement(query)
    compiled = text(query).compile(dialect=url.get_dialect()())
    statement, values = compiled.string, compiled.construct_params(dict(parameters))
    finite = math.isfinite(time_limit)
    milliseconds = min(max(1, round(time_limit * 1000)), 2**31 - 1) if finite else 0
    # Connection settings, not statements: the user's one statement cannot come before them.
    # A later set_config() in the user's own statement cannot lift them either: the timer of a
    # statement is set when it starts, and the watchdog below cancels from outside.
    settings = f"-c default_transaction_read_only=on -c statement_timeout={milliseconds}"
    _, connect_parameters = url.get_dialect()().create_connect_args(url)
    # Ours come after the URL's own options: given twice, a setting takes the last value.
    connect_parameters["options"] = f"{connect_parameters.get('options', '')} {settings}".strip()
    connect_parameters.setdefault("connect_timeout", 10)
    try:
        connection = psycopg.connect(
            **connect_parameters,
            autocommit=False,  # psycopg opens a transaction: read-only, by the setting above
        )
    except psycopg.Error as error:
        raise DatabaseError(f"cannot connect to {describe(url)}: {_first_line(error)}") from None
    try:
        # The first query of the transaction: PostgreSQL refuses to make it read-write after it.
        found = connection.execute("SELECT to_regclass(%s)", [SCHEMA_TABLE]).fetchone()
        if found is None or found[0] is None:
            raise MissingDatabaseError(f"no newstrack schema in {describe(url)} ({SET_UP_FIRST})")
        if not trusted:
            _refuse_privileged_role(connection)
        with _watchdog(time_limit, connection.cancel_safe):
            return _fetch_postgres(connection, statement, values, max_rows)
    except psycopg.errors.QueryCanceled:
        raise QueryError(f"query stopped after the time limit of {time_limit:g} s") from None
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.ActiveSqlTransaction) as error:
        raise QueryError(f"newstrack sql only reads: {_first_line(error)}") from None
    except psycopg.OperationalError as error:
        if connection.broken:
            raise DatabaseError(f"cannot query {describe(url)}: {_first_line(error)}") from None
        raise QueryError(_first_line(error)) from None
    except psycopg.Error as error:
        raise QueryError(_first_line(error)) from None
    finally:
        connection.close()  # never back in a pool: whatever the statement did to it goes too


def _fetch_postgres(
    connection: psycopg.Connection[Any],
    statement: str,
    values: Mapping[str, Any],
    max_rows: int | None,
) -> QueryResult:
    if CURSOR_QUERY.match(statement):
        # A server-side cursor: PostgreSQL computes only the rows fetched, as SQLite does,
        # instead of the whole result before the row cap cuts it. It declares the query on the
        # extended protocol, which takes one statement only.
        with connection.cursor(name="newstrack_sql") as cursor:
            cursor.execute(statement, values)
            columns = [column.name for column in cursor.description or []]
            return _collect(columns, cursor.fetchmany, max_rows)
    # EXPLAIN and SHOW cannot run in a cursor. Prepared (a named Parse), so the extended protocol
    # again: without it psycopg sends a query without parameters as a simple, multi-statement one.
    with connection.cursor() as cursor:
        cursor.execute(statement, values, prepare=True)
        if cursor.description is None:
            return QueryResult([], [], False)
        columns = [column.name for column in cursor.description]
        return _collect(columns, cursor.fetchmany, max_rows)


def _refuse_statement(query: str) -> None:
    """Refuse more than one statement, and those that would undo the connection's limits."""
    bare = POSTGRES_QUOTED.sub(" ", query)
    if ";" in bare.rstrip().rstrip(";"):
        raise QueryError("newstrack sql runs one statement at a time: remove the ';' between them")
    first = FIRST_WORD.match(bare)
    word = first.group(1).lower() if first else ""
    if word in REFUSED_STATEMENTS:
        raise QueryError(
            f"newstrack sql only reads: it does not run {word.upper()} ({REFUSED_STATEMENTS[word]})"
        )


def _refuse_privileged_role(connection: psycopg.Connection[Any]) -> None:
    """A role that is, or can become, a superuser or a reader of server files may not run it."""
    rows = connection.execute(PRIVILEGED_ROLES).fetchall()
    if not rows:
        return
    role = str(rows[0][0])
    if rows[0][2]:  # its own rolsuper: that says everything
        powers = "a superuser"
    else:
        powers = ", ".join(
            f"member of superuser {name}" if superuser else f"member of {name}"
            for _, name, superuser in rows
        )
    raise ConfigError(
        f"refusing to run SQL you typed as PostgreSQL role {role!r} ({powers}): it could read, "
        f"write or run files on the database server; {SQL_DATABASE_HINT}"
    )


class _watchdog:
    """Call `stop` once `seconds` have passed inside the block, from a timer thread."""

    def __init__(self, seconds: float, stop: Callable[[], object]) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.stop = stop
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        with self.lock:
            if not self.done:
                self.stop()

    def __enter__(self) -> _watchdog:
        if 0 <= self.timer.interval < threading.TIMEOUT_MAX:  # not for "no limit" (inf, nan)
            self.timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        with self.lock:  # after this, `stop` is not running and never will
            self.done = True
        self.timer.cancel()


def _collect(
    columns: list[str],
    fetch: Callable[[int], Iterable[Any]],
    max_rows: int | None,
) -> QueryResult:
    """Fetch rows in growing batches up to the row cap, stopping when their values grow too big."""
    rows: list[tuple[Any, ...]] = []
    size, largest, batch = 0, 0, FIRST_BATCH
    limit = None if max_rows is None else max_rows + 1
    while limit is None or len(rows) < limit:
        wanted = batch if limit is None else min(batch, limit - len(rows))
        fetched = [tuple(row) for row in fetch(wanted)]
        for row in fetched:
            row_size = sum(_value_size(value) for value in row)
            size += row_size
            largest = max(largest, row_size)
            if size > MAX_RESULT_BYTES:
                raise QueryError(
                    f"query stopped: its answer passed {MAX_RESULT_BYTES // 2**20} MB after "
                    f"{len(rows)} rows (give fewer rows or columns, or cut long values with substr)"
                )
            rows.append(row)
        if len(fetched) < wanted:
            break
        # As many rows as fit in half what is left, were they as big as the biggest so far.
        room = (MAX_RESULT_BYTES - size) // 2 // max(largest, 1)
        batch = max(1, min(LARGEST_BATCH, batch * 10, room))
    return _capped(columns, rows, max_rows)


def _value_size(value: object) -> int:
    """About how many bytes a value holds: its length for text and bytes."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, (list, tuple, dict)):
        return len(str(value))
    return 16


def _run_sqlite(
    database: str,
    query: str,
    parameters: Mapping[str, Any],
    max_rows: int | None,
    time_limit: float,
) -> QueryResult:
    require_sqlite_schema(database)
    path = Path(database)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as error:
        raise DatabaseError(f"cannot open {path}: {error}") from None
    deadline = time.monotonic() + time_limit
    try:
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_authorize)
        # No string or blob grows past this, in a table or in the middle of an expression.
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        # Called every N virtual-machine steps; a non-zero return interrupts the query. A query
        # of few, slow steps never reaches N: the watchdog interrupts it from another thread.
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        with _watchdog(time_limit, connection.interrupt):
            cursor = connection.execute(query, dict(parameters))
            columns = [column[0] for column in cursor.description or []]
            return _collect(columns, cursor.fetchmany, max_rows)
    except sqlite3.DatabaseError as error:  # OperationalError among them
        if "interrupted" in str(error):
            raise QueryError(f"query stopped after the time limit of {time_limit:g} s") from None
        if "too big" in str(error):
            raise QueryError(
                f"query stopped: a value passed {MAX_VALUE_BYTES // 2**20} MB ({error})"
            ) from None
        if READ_ONLY_REFUSALS.search(str(error)):
            raise QueryError(f"newstrack sql only reads: {error}") from None
        raise QueryError(str(error)) from None
    except (sqlite3.Error, sqlite3.Warning, ValueError) as error:
        raise QueryError(str(error)) from None
    finally:
        connection.close()


def placeholders(query: str) -> set[str]:
    """The names of a query's :name placeholders, outside quotes and comments."""
    return set(PLACEHOLDER.findall(QUOTED_OR_COMMENT.sub(" ", query)))


def _capped(columns: list[str], rows: list[tuple[Any, ...]], max_rows: int | None) -> QueryResult:
    if max_rows is None or len(rows) <= max_rows:
        return QueryResult(columns, rows, False)
    return QueryResult(columns, rows[:max_rows], True)


def _authorize(action: int, first: str | None, *_: str | None) -> int:
    """Refuse what query_only lets through: ATTACH (it creates files) and all but reading pragmas."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (first or "").lower() not in READING_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
