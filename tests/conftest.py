"""Shared fixtures: real SQLite files, a fresh database on the real PostgreSQL, the extractor."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models.vocabulary import load_vocabulary
from pipeline.cli import main
from pipeline.extraction import Extractor
from pipeline.extraction.nlp import load_pipeline
from tests.stored import ENGINES

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).parent.parent
POSTGRES_URL = os.environ.get(
    "NEWSTRACK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close every engine a test made, before its database is dropped."""
    yield
    while ENGINES:
        ENGINES.pop().dispose()


@pytest.fixture(autouse=True)
def _drop_log_handlers() -> Iterator[None]:
    """Remove the handlers an in-process command added: they write to this test's captured stderr."""
    logger = logging.getLogger("newstrack")
    before = list(logger.handlers)
    yield
    for handler in logger.handlers[:]:
        if handler not in before:
            logger.removeHandler(handler)


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    """One extractor for the whole session: loading spaCy is the slow part."""
    return Extractor(load_pipeline(), load_vocabulary())


@pytest.fixture
def seed_text() -> str:
    """The article newstrack started from."""
    return (FIXTURES / "seed-article.txt").read_text(encoding="utf-8")


def _admin_dsn() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _new_postgres_database() -> Iterator[str]:
    name = f"newstrack_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty database on the real PostgreSQL server, dropped afterwards."""
    with _new_postgres_database() as url:
        yield url


@pytest.fixture
def another_postgres_url() -> Iterator[str]:
    """A second new, empty database, for tests that compare two."""
    with _new_postgres_database() as url:
        yield url


@contextmanager
def reader_role(database_url: str) -> Iterator[str]:
    """A new role that only reads the database, made as the README says; dropped afterwards.

    Roles belong to the whole cluster: the name is unique, and the role goes with its grants.
    """
    url = make_url(database_url)
    role, password = f"newstrack_reader_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    in_database = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(in_database, autocommit=True) as admin:
        for statement in READER_ROLE_SQL:
            admin.execute(
                statement.format(
                    role=role, password=password, database=url.database, owner=url.username
                )
            )
    try:
        yield url.set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(in_database, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


# The README's SQL for a role `newstrack sql` reads as, word for word but the names.
READER_ROLE_SQL = (
    "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD '{password}'",
    "ALTER ROLE {role} SET default_transaction_read_only = on",
    'GRANT CONNECT ON DATABASE "{database}" TO {role}',
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
)


@pytest.fixture
def postgres_reader_url(postgres_url: str) -> Iterator[str]:
    """`postgres_url` as a new role that only reads it (the test server's own is a superuser)."""
    with reader_role(postgres_url) as url:
        yield url


@pytest.fixture
def reader_url(request: pytest.FixtureRequest, database_url: str) -> str:
    """Where `newstrack sql` reads `database_url`: itself for SQLite, a role that only reads for
    PostgreSQL (the test server's own role is a superuser, which `sql` refuses)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return database_url
    return str(request.getfixturevalue("postgres_reader_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in a fresh folder."""
    return f"sqlite:///{tmp_path / 'newstrack.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on a SQLite file and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newstrack.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`newstrack` run in this process, in the folder and with the database `newstrack()` gives a child."""
    monkeypatch.chdir(PROJECT)
    monkeypatch.setenv("NEWSTRACK_DB", "sqlite:///never-used.db")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            code = main(list(args))
        except SystemExit as stop:  # --help, or a usage error argparse stopped at
            code = stop.code if isinstance(stop.code, int) else 0
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run
