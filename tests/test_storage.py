"""Storage on real SQLite files and the real PostgreSQL: migrations, idempotent writes, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from models import Article, Base, ElementMention, Event, EventElement, Mention
from models.annotation import ArticleText
from models.errors import DatabaseError, DatabaseUrlError, QueryError
from models.source import SourceConfig
from models.vocabulary import ANNOTATION_STATUSES
from pipeline.cli import main
from pipeline.extraction import Extractor
from storage import queries
from storage.annotations import STATUS_OF_ANNOTATION, save_annotation
from storage.articles import add_article, adopt_articles, known_urls
from storage.engine import SUPPORTED_URLS, make_engine, parse_database_url
from storage.migrate import current_revision, downgrade, head_revision, newstrack_owns, upgrade
from storage.readonly import run_readonly
from storage.sessions import unit_of_work
from storage.sources import sync_sources
from tests.stored import (
    PUBLISHED,
    count,
    engine_for,
    new_article,
    ready,
    store_and_annotate,
    two_reports_of_one_event,
    two_sources,
)


def test_migrations_create_schema_once(database_url: str) -> None:
    """The first upgrade creates every table and the view; the second finds nothing to do."""
    engine = engine_for(database_url)
    assert current_revision(engine) is None
    assert upgrade(engine) is True
    assert upgrade(engine) is False
    assert current_revision(engine) == head_revision()
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    assert {"sources", "fetches", "articles", "events", "event_elements", "event_targets"} <= tables
    assert {"mentions", "element_mentions", "entity_mentions", "quantities"} <= tables
    assert "v_events" in inspector.get_view_names()
    queue = {name for name in tables if name.startswith("procrastinate_")}
    if database_url.startswith("postgresql"):  # the job queue of distributed mode
        assert {"procrastinate_jobs", "procrastinate_workers"} <= queue
    else:
        assert queue == set()


def test_sync_sources_is_idempotent(database_url: str) -> None:
    """Syncing the registry twice keeps one row per source and the same ids."""
    session_factory = ready(database_url)
    first = two_sources(session_factory)
    second = two_sources(session_factory)
    assert first == second
    assert len(first) == 2


def test_article_stored_once_by_url_and_by_text(database_url: str) -> None:
    """The same URL, or the same text under another URL of the same source, is not stored twice."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    with unit_of_work(session_factory) as session:
        first = add_article(session, new_article("https://a.example/1", "Some text.", ids["first"]))
    with unit_of_work(session_factory) as session:
        again = add_article(
            session, new_article("https://a.example/1", "Other text.", ids["first"])
        )
        moved = add_article(
            session, new_article("https://a.example/moved", " Some   text. ", ids["first"])
        )
    assert first is not None
    assert again is None
    assert moved is None
    with unit_of_work(session_factory) as session:
        assert known_urls(session, ["https://a.example/1", "https://x.example/"]) == {
            "https://a.example/1"
        }


WIRE = (
    "China's Ministry of Commerce said on Wednesday it would suspend export controls on 28 U.S. "
    "companies for 90 days, while keeping in place the export ban on seven rare earths it imposed "
    "on April 4. The ministry also removed 17 entities from its unreliable entity list, a move "
    "that traders said would ease some pressure on magnet makers who rely on Chinese supply. "
    "Samarium, gadolinium, terbium, dysprosium, lutetium, scandium and yttrium remain under "
    "licence requirements, and exporters must still apply to the ministry for each shipment. "
    "China accounts for over 70% of U.S. imports of rare earth compounds and metals."
)


def _syndicated(
    session_factory: sessionmaker[Session], texts: dict[str, str]
) -> dict[str, Article]:
    """Store each text under its URL, from a source of its own; return the stored rows by URL."""
    configs = [
        SourceConfig(name=f"outlet-{n}", kind="rss", urls=(f"https://o{n}.example/feed",))
        for n in range(len(texts))
    ]
    with unit_of_work(session_factory) as session:
        ids = sync_sources(session, configs)
    for n, (url, body) in enumerate(texts.items()):
        with unit_of_work(session_factory) as session:
            add_article(session, new_article(url, body, ids[f"outlet-{n}"]))
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(Article)).all()
        session.expunge_all()
    return {row.url: row for row in rows}


def test_syndicated_copies_are_stored_and_linked_to_the_original(database_url: str) -> None:
    """Another outlet's copy of a wire story, exact or lightly edited, is kept and points back."""
    session_factory = ready(database_url)
    rows = _syndicated(
        session_factory,
        {
            "https://wire.example/story": WIRE,
            "https://paper.example/copy": "BEIJING (Wire) - " + WIRE + " Reporting by a desk.",
            "https://portal.example/same": WIRE,
            "https://later.example/more": WIRE.replace("Wednesday", "Thursday") + " Read more.",
        },
    )
    original = rows["https://wire.example/story"]
    assert original.duplicate_of is None
    for url in ("https://paper.example/copy", "https://portal.example/same"):
        assert rows[url].duplicate_of == original.id
    assert rows["https://portal.example/same"].similarity == 1.0
    edited = rows["https://paper.example/copy"].similarity
    assert edited is not None and 0.7 <= edited < 1.0
    assert rows["https://later.example/more"].duplicate_of == original.id


def test_different_stories_on_the_same_topic_are_not_linked(database_url: str) -> None:
    """Two reports of the same event in their own words are distinct articles, and short texts never match."""
    other = (
        "Beijing is keeping its curbs on seven rare earth elements in place even as it pauses "
        "restrictions on dozens of American firms, according to a statement from the commerce "
        "ministry. Analysts said magnet producers in Japan and Europe still face long waits for "
        "licences, and prices of dysprosium oxide outside China have doubled since the spring. "
        "The ministry did not say when the review of the remaining measures would end."
    )
    session_factory = ready(database_url)
    rows = _syndicated(
        session_factory,
        {
            "https://wire.example/story": WIRE,
            "https://paper.example/own-words": other,
            "https://a.example/brief": "China keeps its rare earth export ban.",
            "https://b.example/brief": "China keeps its rare earth export ban, again.",
        },
    )
    assert [row.duplicate_of for row in rows.values()] == [None] * 4
    assert rows["https://a.example/brief"].minhash is None


def test_failed_unit_of_work_stores_nothing(database_url: str) -> None:
    """An error inside a unit of work rolls back every row written in it."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        add_article(session, new_article("https://a.example/1", "Text one.", ids["first"]))
        raise RuntimeError("crash between writes")
    assert count(session_factory, Article) == 0


def test_annotation_saved_twice_leaves_the_same_rows(
    database_url: str, extractor: Extractor, seed_text: str
) -> None:
    """Re-extracting an article replaces its rows instead of adding to them."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    article_id = store_and_annotate(
        session_factory, extractor, "https://a.example/seed", seed_text, ids["first"]
    )
    counts = [count(session_factory, model) for model in (Event, Mention, ElementMention)]
    assert counts[0] >= 3
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Article).where(Article.id == article_id).values(extraction_status="pending")
        )
    [annotation] = extractor.annotate([ArticleText(str(article_id), seed_text, "", PUBLISHED)])
    with unit_of_work(session_factory) as session:
        save_annotation(session, article_id, annotation)
    assert [count(session_factory, model) for model in (Event, Mention, ElementMention)] == counts


def test_same_event_from_two_sources_is_one_event(database_url: str, extractor: Extractor) -> None:
    """Two outlets reporting the same measure give one event with two mentions and two sources."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    first = (
        "China's Commerce Ministry on Friday imposed export controls on gallium and germanium, "
        "citing national security."
    )
    second = (
        "Beijing imposed export controls on gallium on Friday, the ministry said. "
        "Analysts expect prices to rise."
    )
    store_and_annotate(session_factory, extractor, "https://a.example/1", first, ids["first"])
    store_and_annotate(session_factory, extractor, "https://b.example/2", second, ids["second"])
    with unit_of_work(session_factory) as session:
        events = session.scalars(
            select(Event).where(Event.measure == "export_control", Event.action == "impose")
        ).all()
        assert len(events) == 1
        event = events[0]
        assert event.actor == "CN"
        assert (event.article_count, event.source_count) == (2, 2)
        elements = set(
            session.scalars(select(EventElement.element).where(EventElement.event_id == event.id))
        )
        assert elements == {"gallium", "germanium"}
        assert event.announced_on is not None


def test_an_article_in_two_feeds_belongs_to_the_first_configured_source(
    database_url: str, extractor: Extractor
) -> None:
    """Whichever source stored it first, the earlier configured one takes it; counts follow."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    texts = (
        "China banned exports of gallium to the United States on Dec. 3, MOFCOM said.",
        "On Dec. 3, China banned gallium exports to the United States, the ministry said.",
    )
    for n, text_ in enumerate(texts):
        store_and_annotate(
            session_factory, extractor, f"https://a.example/{n}", text_, ids["second"]
        )

    def sources_of_event() -> tuple[list[int | None], int]:
        with unit_of_work(session_factory) as session:
            owners = list(session.scalars(select(Article.source_id).order_by(Article.url)))
            [count_] = session.scalars(select(Event.source_count))
        return owners, count_

    assert sources_of_event() == ([ids["second"], ids["second"]], 1)
    with unit_of_work(session_factory) as session:
        moved = adopt_articles(session, ids["first"], ["https://a.example/0"])
    assert len(moved) == 1
    assert sources_of_event() == ([ids["first"], ids["second"]], 2)  # the event's count follows
    with unit_of_work(session_factory) as session:  # a later source never takes it back
        assert adopt_articles(session, ids["second"], ["https://a.example/0"]) == []
        assert adopt_articles(session, ids["first"], ["https://a.example/0"]) == []


def test_totals_count_articles_events_and_elements(
    database_url: str, extractor: Extractor, seed_text: str
) -> None:
    """The run summary counts what is stored and ranks elements by articles naming them."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    store_and_annotate(
        session_factory, extractor, "https://a.example/seed", seed_text, ids["first"]
    )
    with unit_of_work(session_factory) as session:
        totals = queries.totals(session)
    assert totals.articles == 1
    assert totals.sources == 2
    assert totals.events == count(session_factory, Event)
    assert {name for name, _ in totals.top_elements} <= {
        "samarium", "gadolinium", "terbium", "dysprosium", "lutetium", "scandium", "yttrium"
    }  # fmt: skip
    assert totals.top_elements


def test_readonly_sql_refuses_writes(database_url: str, reader_url: str) -> None:
    """Whatever the query says, `sql` cannot change the database."""
    ready(database_url)
    with pytest.raises(QueryError):
        run_readonly(reader_url, "DELETE FROM sources")
    with pytest.raises(QueryError):
        run_readonly(reader_url, "CREATE TABLE sneaky (x INTEGER)")
    result = run_readonly(reader_url, "SELECT count(*) AS n FROM sources")
    assert result.columns == ["n"]
    assert result.rows == [(0,)]


def test_readonly_sql_caps_rows_and_takes_parameters(database_url: str, reader_url: str) -> None:
    """Named parameters bind; the row cap truncates and says so."""
    session_factory = ready(database_url)
    two_sources(session_factory)
    capped = run_readonly(reader_url, "SELECT name FROM sources ORDER BY name", max_rows=1)
    assert capped.rows == [("first",)]
    assert capped.truncated
    bound = run_readonly(
        reader_url, "SELECT kind FROM sources WHERE name = :name", {"name": "second"}
    )
    assert bound.rows == [("rss",)]
    assert not bound.truncated
    commented = run_readonly(
        reader_url, "-- the names\nSELECT name FROM sources ORDER BY name", max_rows=5
    )
    assert commented.rows == [("first",), ("second",)]
    assert run_readonly(reader_url, "EXPLAIN SELECT name FROM sources").rows  # not in a cursor


def test_readonly_sql_reports_bad_queries(database_url: str, reader_url: str) -> None:
    """Invalid SQL becomes a QueryError carrying the database's message."""
    ready(database_url)
    with pytest.raises(QueryError, match="nope"):
        run_readonly(reader_url, "SELECT nope FROM sources")


def test_readonly_sql_stops_at_the_time_limit(database_url: str, reader_url: str) -> None:
    """A runaway query is interrupted instead of running forever."""
    ready(database_url)
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    with pytest.raises(QueryError):
        run_readonly(reader_url, endless, time_limit=0.5)


def test_unreachable_database_is_a_clear_error() -> None:
    """A database nobody listens on is named in the error, without a password."""
    with pytest.raises(DatabaseError, match=r"127\.0\.0\.1:1/") as caught:
        make_engine("postgresql+psycopg://someone:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value)


def test_sqlite_in_missing_folder_is_a_clear_error(tmp_path: object) -> None:
    """A SQLite path in a folder that does not exist says which folder: a usage error (exit 2)."""
    with pytest.raises(
        DatabaseUrlError, match="folder /nonexistent-folder does not exist"
    ) as caught:
        make_engine("sqlite:////nonexistent-folder/newstrack.db")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/test", "unsupported database URL 'mysql://root@127.0.0.1/test'"),
        ("postgresql+asyncpg://u:secret@127.0.0.1/x", "unsupported database URL 'postgresql+asyncpg://u:***@127.0.0.1/x'"),
        ("postgresql+psycopg2://u@127.0.0.1/x", "unsupported database URL"),
        ("postgres://u@127.0.0.1/x", "unsupported database URL"),
        ("sqlite+pysqlcipher:///x.db", "unsupported database URL"),
        ("not a url", "not a database URL: 'not a url'"),
        ("postgresql://u:secret@host:port/x", "not a database URL: 'postgresql://u:***@host:port/x'"),
        ("", "not a database URL: ''"),
        ("sqlite://", "'sqlite://' is an in-memory SQLite database"),
        ("sqlite:///:memory:", "'sqlite:///:memory:' is an in-memory SQLite database"),
        ("sqlite:///file::memory:?uri=true", "in-memory SQLite database"),
        ("sqlite:///file:x.db?mode=memory&uri=true", "in-memory SQLite database"),
    ],
)  # fmt: skip
def test_unsupported_database_url(url: str, message: str) -> None:
    """Only SQLite files and PostgreSQL through psycopg: the error names the URLs newstrack takes."""
    with pytest.raises(DatabaseUrlError) as caught:
        parse_database_url(url)
    assert message in str(caught.value)
    assert "secret" not in str(caught.value)
    assert str(caught.value).endswith(SUPPORTED_URLS) or "does not exist" in str(caught.value)
    assert caught.value.exit_code == 2


def test_supported_database_urls_parse() -> None:
    """sqlite:///PATH, postgresql:// (psycopg is chosen) and postgresql+psycopg:// are taken."""
    assert parse_database_url("sqlite:///newstrack.db").database == "newstrack.db"
    assert parse_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_upgrade_keeps_rows_written_under_the_first_schema(database_url: str) -> None:
    """Moving a 0001 database to the newest schema keeps its articles and adds the new columns."""
    engine = engine_for(database_url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO articles (url, title, text, content_hash) "
                "VALUES ('https://a.example/1', 'kept', 'Kept text.', 'h')"
            )
        )
    assert upgrade(engine) is True
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        row = connection.execute(text("SELECT title, raw_html FROM articles")).one()
    assert tuple(row) == ("kept", None)


def test_migrations_match_the_models(database_url: str) -> None:
    """The migrated schema is exactly what the models declare: no table, column or index differs."""
    engine = engine_for(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": newstrack_owns}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_the_first_schema_and_back(database_url: str) -> None:
    """Every migration can be reverted and applied again on a database that holds rows."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    with unit_of_work(session_factory) as session:
        add_article(session, new_article("https://a.example/1", "Kept text.", ids["first"]))
    engine = session_factory.kw["bind"]
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert upgrade(engine) is True
    with engine.connect() as connection:
        assert connection.execute(text("SELECT url FROM articles")).scalars().all() == [
            "https://a.example/1"
        ]


def test_views_give_one_row_per_element_mention_and_day(
    database_url: str, reader_url: str, extractor: Extractor
) -> None:
    """v_event_elements, v_mentions and v_element_timeline answer without joins, on both databases."""
    first, second = two_reports_of_one_event(database_url, extractor)
    elements = run_readonly(
        reader_url,
        "SELECT element, actor, action, measure, source_count FROM v_event_elements "
        "WHERE measure = 'export_control' ORDER BY element",
    )
    assert [tuple(row) for row in elements.rows] == [
        ("gallium", "CN", "impose", "export_control", 2),
        ("germanium", "CN", "impose", "export_control", 2),
    ]
    mentions = run_readonly(
        reader_url,
        "SELECT source, url, title, sentence, modality FROM v_mentions "
        "WHERE measure = 'export_control' ORDER BY source",
    )
    assert [(row[0], row[1], row[3]) for row in mentions.rows] == [
        ("first", "https://a.example/1", first),
        ("second", "https://b.example/2", second),
    ]
    timeline = run_readonly(
        reader_url,
        "SELECT element, CAST(day AS VARCHAR(10)), events, mentions, sources "
        "FROM v_element_timeline ORDER BY element",
    )
    day = PUBLISHED.date().isoformat()
    assert [tuple(row) for row in timeline.rows] == [
        ("gallium", day, 1, 2, 2),
        ("germanium", day, 1, 2, 2),  # the second article reports the same event on both
    ]


def test_canned_queries_answer_on_both_databases(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each shipped query runs by name with its defaults or given parameters, on SQLite and PostgreSQL."""
    two_reports_of_one_event(database_url, extractor)

    def rows(*args: str) -> list[dict[str, object]]:
        assert main(["--db", database_url, "sql", *args, "--json"]) == 0
        result: list[dict[str, object]] = json.loads(capsys.readouterr().out)
        return result

    assert {row["name"] for row in rows("--list")} == {
        "recent-events", "in-force", "by-element", "by-actor", "most-reported"
    }  # fmt: skip
    assert [(r["element"], r["measure"]) for r in rows("by-element", "-p", "element=gallium")] == [
        ("gallium", "export_control")
    ]
    assert [r["measure"] for r in rows("by-actor", "-p", "actor=CN")] == ["export_control"]
    assert [r["measure"] for r in rows("by-actor", "-p", "actor=US")] == []
    assert [r["measure"] for r in rows("in-force")] == ["export_control"]
    assert rows("in-force", "-p", "day=2025-01-01") == []  # imposed in May 2025
    assert rows("recent-events") == []  # first reported in May 2025, not in the last 30 days
    assert [r["measure"] for r in rows("recent-events", "-p", "since=2025-05-01")] == [
        "export_control"
    ]
    reported = rows("most-reported", "-p", "since=2025-01-01")
    assert [(r["measure"], r["sources"], r["mentions"]) for r in reported] == [
        ("export_control", 2, 2)
    ]
    assert rows("most-reported") == []  # the articles were published in 2025, not this week


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM sources",
        "DROP TABLE sources",
        "DROP VIEW v_events",
        "UPDATE sources SET name = 'x'",
        "ATTACH DATABASE '{attached}' AS other",
        "PRAGMA writable_schema = ON",
        "WITH gone AS (DELETE FROM sources RETURNING id) SELECT count(*) FROM gone",
        "INSERT INTO sources (name, kind, url) SELECT 'x', 'rss', 'https://x.example/'",
        "SELECT 1; DELETE FROM sources",
    ],
)
def test_no_statement_can_write_through_sql(
    database_url: str, reader_url: str, statement: str, tmp_path: Path
) -> None:
    """Every way to write through `newstrack sql` fails with a clear message and changes nothing."""
    session_factory = ready(database_url)
    two_sources(session_factory)
    attached = tmp_path / "attached.db"
    with pytest.raises(QueryError) as caught:
        run_readonly(reader_url, statement.format(attached=attached))
    assert str(caught.value).strip()
    assert not attached.exists()
    assert run_readonly(reader_url, "SELECT count(*) FROM sources").rows == [(2,)]
    assert run_readonly(reader_url, "SELECT count(*) FROM v_events").rows == [(0,)]


def test_every_annotation_status_has_an_article_status() -> None:
    """An article annotated with any status the vocabulary names is stored with a status of its own."""
    assert set(STATUS_OF_ANNOTATION) == set(ANNOTATION_STATUSES)
