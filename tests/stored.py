"""Helpers for tests on a real database: a migrated session factory, sources, annotated articles."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.annotation import Annotation, ArticleText
from models.source import SourceConfig
from pipeline.extraction import Extractor
from storage import consolidation
from storage.annotations import save_annotation, store_annotation
from storage.articles import NewArticle, add_article
from storage.engine import make_engine, make_session_factory
from storage.migrate import newstrack_owns, upgrade
from storage.sessions import unit_of_work
from storage.sources import sync_sources

PROJECT = Path(__file__).parent.parent
PUBLISHED = datetime(2025, 5, 14, 12, tzinfo=UTC)
ENGINES: list[Engine] = []  # closed after each test, before its database is dropped
# A measure imposed in April, suspended in November for a year, lifted the next December.
LIFECYCLE = [
    (
        "https://a.example/imposed",
        "2025-04-05",
        "China's Ministry of Commerce on April 4 imposed export controls on seven rare earths, "
        "including dysprosium, terbium and samarium, requiring licences for shipments to the "
        "United States.",
    ),
    (
        "https://b.example/suspended",
        "2025-11-08",
        "China's Ministry of Commerce said on November 7 it would suspend the export controls on "
        "dysprosium, terbium and samarium announced in April for one year, until November 10, 2026.",
    ),
    (
        "https://a.example/recalled",
        "2025-06-02",
        "Since China imposed export controls on dysprosium, prices outside China have tripled.",
    ),
    (
        "https://b.example/lifted",
        "2026-12-02",
        "China lifted its export controls on dysprosium and terbium on December 1, 2026, "
        "MOFCOM said.",
    ),
]


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
        return sync_sources(session, configs)


def new_article(
    url: str, text: str, source_id: int | None, published: datetime = PUBLISHED
) -> NewArticle:
    """An English article as a feed would give it."""
    return NewArticle(
        url=url,
        source_id=source_id,
        title="title",
        published_at=published,
        text=text,
        language="en",
        text_extractor="feed",
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
        article_id = add_article(session, new_article(url, text, source_id, published))
    assert article_id is not None
    with unit_of_work(session_factory) as session:
        save_annotation(session, article_id, annotation)
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


def two_reports_of_one_event(database_url: str, extractor: Extractor) -> tuple[str, str]:
    """Two sources reporting China's gallium and germanium controls; return their texts."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    first = "China's Commerce Ministry on Friday imposed export controls on gallium and germanium."
    second = "Beijing imposed export controls on gallium on Friday, the ministry said."
    store_and_annotate(session_factory, extractor, "https://a.example/1", first, ids["first"])
    store_and_annotate(session_factory, extractor, "https://b.example/2", second, ids["second"])
    return first, second


def store_lifecycle(
    database_url: str, extractor: Extractor, more: Sequence[tuple[str, str, str]] = ()
) -> sessionmaker[Session]:
    """LIFECYCLE's articles (and `more`: URL, day, text), from sources `first` (a.example) and
    `second`, annotated by the real extractor."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    for url, day, body in [*LIFECYCLE, *more]:
        published = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        source = ids["first"] if "a.example" in url else ids["second"]
        store_and_annotate(session_factory, extractor, url, body, source, published)
    return session_factory


def store_disputed_dates(database_url: str, extractor: Extractor) -> sessionmaker[Session]:
    """Three reports of one imposition: `first` and `second` say April 4, `second` once April 5."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    for url, day, source in (
        ("https://a.example/1", "April 4", "first"),
        ("https://b.example/2", "April 5", "second"),
        ("https://b.example/3", "April 4", "second"),
    ):
        body = f"China's Commerce Ministry on {day} imposed export controls on dysprosium."
        store_and_annotate(session_factory, extractor, url, body, ids[source])
    return session_factory


def store_queued(
    session_factory: sessionmaker[Session],
    url: str,
    text: str,
    source_id: int,
    annotation: Annotation,
    published: datetime = PUBLISHED,
) -> int:
    """Store an article and its annotation as an extraction batch does: its events wait to be grouped."""
    with unit_of_work(session_factory) as session:
        article_id = add_article(session, new_article(url, text, source_id, published))
        assert article_id is not None
        kinds, touched = store_annotation(session, article_id, annotation)
        consolidation.queue_consolidation(session, kinds, touched)
    return article_id


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


def event_rows(session: Session) -> list[tuple[Any, ...]]:
    """Every event as content (no ids): what a user sees, its mentions, the measure it changes."""
    rows = session.execute(
        text(
            """
            SELECT e.id, e.actor, e.action, e.measure, e.status, e.modality, v.elements, v.targets,
                   e.announced_on, e.effective_on, e.expires_on, e.article_count, e.source_count,
                   e.conflicts, e.changes_event_id
            FROM events AS e JOIN v_events AS v ON v.id = e.id
            """
        )
    ).all()
    mentions: dict[Any, list[str]] = {}
    for event_id, url, start in session.execute(
        text(
            "SELECT m.event_id, a.url, m.start_char FROM mentions AS m "
            "JOIN articles AS a ON a.id = m.article_id"
        )
    ):
        mentions.setdefault(event_id, []).append(f"{url}@{start}")
    content = {
        row[0]: (*(str(value) for value in row[1:14]), tuple(sorted(mentions[row[0]])))
        for row in rows
    }
    periods: dict[Any, list[str]] = {}
    for measure_id, event_id, state, starts, ends, first, latest in session.execute(
        text(
            "SELECT p.measure_id, p.event_id, p.state, p.starts_on, p.ends_on, f.url, l.url "
            "FROM measure_periods AS p LEFT JOIN articles AS f ON f.id = p.first_article_id "
            "LEFT JOIN articles AS l ON l.id = p.latest_article_id"
        )
    ):
        periods.setdefault(measure_id, []).append(
            f"{state} {starts}..{ends} by {content[event_id][:3]}, reported {first}..{latest}"
        )
    return sorted(
        (
            *content[row[0]],
            content[row[14]][:9] if row[14] is not None else None,
            tuple(sorted(periods.get(row[0], []))),
        )
        for row in rows
    )


# Tables and columns that record how the work went (attempts, times, row ids), not what was found.
RUN_RECORD_TABLES = {"fetches", "job_runs", "queue_errors", "alembic_version"}
RUN_RECORD_COLUMNS = {"id", "event_key", "duplicate_of", "consecutive_failures", "last_error"}
RUN_RECORD_COLUMNS |= {"attempts", "until", "error"}


def end_state(session: Session) -> dict[str, Any]:
    """What a database holds, without ids and times: equal after equal work, however it was split.

    Every table's rows as a multiset of their content columns (a row stored twice counts twice),
    the events with their mentions and links, and which article duplicates which.
    """
    state: dict[str, Any] = {"events": event_rows(session)}
    inspector = inspect(session.connection())
    for table in sorted(inspector.get_table_names()):
        if table in RUN_RECORD_TABLES or not newstrack_owns(table, "table", None):
            continue
        columns = [
            column["name"]
            for column in inspector.get_columns(table)
            if column["name"] not in RUN_RECORD_COLUMNS
            and not column["name"].endswith("_id")
            and not (column["name"].endswith("_at") and column["name"] != "published_at")
        ]
        rows = session.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))
        state[table] = Counter(tuple(str(value) for value in row) for row in rows)
    state["duplicates"] = sorted(
        session.execute(
            text(
                "SELECT a.url, b.url FROM articles AS a JOIN articles AS b ON b.id = a.duplicate_of"
            )
        ).all()
    )
    return state
