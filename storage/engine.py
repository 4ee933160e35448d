"""Engine and session factories for SQLite files and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from models.errors import DatabaseError, DatabaseUrlError, MissingDatabaseError

SQLITE_BUSY_TIMEOUT_SECONDS = 60
SET_UP_FIRST = "run `newstrack init` or `newstrack run` first"
SCHEMA_TABLE = "alembic_version"  # Alembic's own table: every schema newstrack made has it
DRIVERS = ("sqlite", "postgresql", "postgresql+psycopg")  # psycopg 3 is the driver installed
PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
SUPPORTED_URLS = (
    "use sqlite:///PATH (a file; sqlite:////absolute/path), postgresql://USER@HOST/NAME "
    "or postgresql+psycopg://USER@HOST/NAME"
)


def parse_database_url(url: str) -> URL:
    """Parse a database URL newstrack can keep its data in; any other is a usage error (exit 2).

    The error names the URLs newstrack takes. A SQLite file must be in a folder that exists, and
    an in-memory SQLite database is refused: every command stores or reads what another command
    stored, which such a database forgets when the command ends.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        shown = PASSWORD.sub(r"\1***@", url)  # a URL too broken to parse may still hold one
        raise DatabaseUrlError(f"not a database URL: {shown!r}; {SUPPORTED_URLS}") from None
    if parsed.drivername not in DRIVERS:
        raise DatabaseUrlError(f"unsupported database URL {describe(parsed)!r}: {SUPPORTED_URLS}")
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    database = parsed.database or ""
    if _in_memory(parsed):
        raise DatabaseUrlError(
            f"{url!r} is an in-memory SQLite database, which keeps nothing once a "
            f"command ends: every newstrack command needs a file; {SUPPORTED_URLS}"
        )
    if not database.startswith("file:"):  # a URI filename names its own path
        folder = Path(database).resolve().parent
        if not folder.is_dir():
            raise DatabaseUrlError(f"cannot use {describe(parsed)}: folder {folder} does not exist")
    return parsed


def _in_memory(url: URL) -> bool:
    """Whether a SQLite URL names a database that lives in memory only."""
    database = url.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or "mode=memory" in database
        or url.query.get("mode") == "memory"
    )


def describe(url: URL) -> str:
    """Render a database URL for messages, without its password."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite writers take the write lock at BEGIN so concurrent runs queue instead of failing."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    check_connection(engine)
    return engine


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so it can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    check_connection(engine)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once, turning driver errors into a message that names the database."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise DatabaseError(f"cannot connect to {describe(engine.url)}: {reason}") from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory whose sessions keep loaded values after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def open_engine(url: str) -> Iterator[Engine]:
    """An engine whose connections are closed when the block ends."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def open_existing(url: str) -> Iterator[Engine]:
    """An engine on a database newstrack has set up; a missing file or schema is an error, never created."""
    parsed = parse_database_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        require_sqlite_schema(parsed.database or "")  # before the engine, whose pragmas write
    with open_engine(url) as engine:
        if not sqlite:  # SQLite's schema was checked above, read-only
            with engine.connect() as connection:
                has_schema = inspect(connection).has_table(SCHEMA_TABLE)
            if not has_schema:
                raise MissingDatabaseError(
                    f"no newstrack schema in {describe(parsed)} ({SET_UP_FIRST})"
                )
        yield engine


def require_sqlite_schema(database: str) -> None:
    """A SQLite database that is no file there, or has no newstrack schema, is an error naming it."""
    if not database or database == ":memory:" or not Path(database).is_file():
        raise MissingDatabaseError(f"no database at {database or ':memory:'} ({SET_UP_FIRST})")
    uri = f"{Path(database).resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise DatabaseError(f"cannot open {database}: {error}") from None
    if found is None:
        raise MissingDatabaseError(f"no newstrack schema in sqlite:///{database} ({SET_UP_FIRST})")


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite gives back times without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def open_reader(url: str) -> Iterator[Engine]:
    """An engine on a set-up database that only reads: it takes no write lock and cannot write."""
    parsed = parse_database_url(url)
    with open_existing(url):  # the same checks and messages as every command on an existing one
        pass
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").resolve()
        engine = create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(
                f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=10
            ),
            # A pool shared by threads: "sqlite://" alone would get a pool per thread that closes
            # connections other threads still use once more than five threads have read.
            poolclass=QueuePool,
        )
    else:
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "options": "-c default_transaction_read_only=on"},
        )
    try:
        check_connection(engine)
        yield engine
    finally:
        engine.dispose()
