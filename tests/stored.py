"""Helpers for tests on a real database: a migrated session factory, sources, annotated articles."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.extract import Annotation, ArticleText, Extractor
from pipeline.jobs import unit_of_work
from pipeline.sources import SourceConfig
from storage import writes
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade

PROJECT = Path(__file__).parent.parent
PUBLISHED = datetime(2025, 5, 14, 12, tzinfo=UTC)
ENGINES: list[Engine] = []  # closed after each test, before its database is dropped


def engine_for(database_url: str) -> Engine:
    """An engine closed when the test ends."""
    engine = make_engine(database_url)
    ENGINES.append(engine)
    return engine


def ready(database_url: str) -> sessionmaker[Session]:
    """A session factory on a database migrated to the newest schema."""
    engine = engine_for(database_url)
    upgrade(engine)
    return make_session_factory(engine)


def two_sources(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Sources `first` and `second`, by name."""
    configs = [
        SourceConfig(name="first", kind="rss", urls=("https://first.example/feed",)),
        SourceConfig(name="second", kind="rss", urls=("https://second.example/feed",)),
    ]
    with unit_of_work(session_factory) as session:
        return writes.sync_sources(session, configs)


def new_article(
    url: str, text: str, source_id: int | None, published: datetime = PUBLISHED
) -> writes.NewArticle:
    """An English article as a feed would give it."""
    return writes.NewArticle(
        url=url,
        source_id=source_id,
        title="title",
        published_at=published,
        text=text,
        language="en",
        extractor="feed",
    )


def store_annotated(
    session_factory: sessionmaker[Session],
    url: str,
    text: str,
    source_id: int,
    annotation: Annotation,
    published: datetime = PUBLISHED,
) -> int:
    """Store an article and save an annotation of it; return its id."""
    with unit_of_work(session_factory) as session:
        article_id = writes.add_article(session, new_article(url, text, source_id, published))
    assert article_id is not None
    with unit_of_work(session_factory) as session:
        writes.save_annotation(session, article_id, annotation)
    return article_id


def store_and_annotate(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    url: str,
    text: str,
    source_id: int,
    published: datetime = PUBLISHED,
) -> int:
    """Store an article, annotate it with the real extractor and save what it found."""
    [annotation] = extractor.annotate([ArticleText(url, text, "", published)])
    return store_annotated(session_factory, url, text, source_id, annotation, published)


def count(session_factory: sessionmaker[Session], model: type) -> int:
    """Rows of a table."""
    with unit_of_work(session_factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def newstrack(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = PROJECT,
    stdin: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a child process, as a user would (on no database unless told)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
        env=env if env is not None else {**os.environ, "NEWSTRACK_DB": "sqlite:///never-used.db"},
    )
