"""Shared fixtures: real SQLite files, a fresh database on the real PostgreSQL, the extractor."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models.vocabulary import load_vocabulary
from pipeline.extract import Extractor
from pipeline.nlp import load_pipeline
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
