"""Read-only SQL for users: whatever the query says, it cannot write, and it is bounded."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from pipeline.errors import DatabaseError, MissingDatabaseError, QueryError
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
) -> QueryResult:
    """Run one query on a read-only connection with a time limit and a row cap (None: no cap)."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _run_sqlite(url.database or "", query, parameters or {}, max_rows, time_limit)
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            if connection.exec_driver_sql(f"SELECT to_regclass('{SCHEMA_TABLE}')").scalar() is None:
                raise MissingDatabaseError(
                    f"no newstrack schema in {describe(url)} ({SET_UP_FIRST})"
                )
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(time_limit * 1000)}")
            # A server-side cursor: PostgreSQL computes only the rows fetched, as SQLite does,
            # instead of the whole result before the row cap cuts it. EXPLAIN and SHOW cannot
            # run in one, and need not.
            streamed = bool(CURSOR_QUERY.match(query))
            result = connection.execution_options(stream_results=streamed).execute(
                text(query), dict(parameters or {})
            )
            with result:  # the cursor closes before the connection does
                if not result.returns_rows:
                    return QueryResult([], [], False)
                rows = result.fetchall() if max_rows is None else result.fetchmany(max_rows + 1)
                return _capped(list(result.keys()), [tuple(r) for r in rows], max_rows)
    except DBAPIError as error:
        if error.connection_invalidated or "connection" in str(error.orig).lower()[:60]:
            raise DatabaseError(
                f"cannot connect to {describe(url)}: {_first_line(error.orig)}"
            ) from None
        raise QueryError(_first_line(error.orig)) from None
    except SQLAlchemyError as error:
        raise QueryError(_first_line(error)) from None
    finally:
        engine.dispose()


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
        # Called every N virtual-machine steps; a non-zero return interrupts the query.
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        cursor = connection.execute(query, dict(parameters))
        columns = [column[0] for column in cursor.description or []]
        rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows + 1)
        return _capped(columns, [tuple(r) for r in rows], max_rows)
    except sqlite3.DatabaseError as error:  # OperationalError among them
        if "interrupted" in str(error):
            raise QueryError(f"query stopped after the time limit of {time_limit:g} s") from None
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
