"""Consolidated events on SQLite and PostgreSQL: order, increments, conflicts, lifecycle, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import PendingConsolidation
from models.annotation import Annotation, ArticleText
from pipeline.cli import main
from pipeline.extraction import Extractor
from pipeline.flows.consolidate import consolidate_all
from pipeline.flows.evaluate import load_devset
from storage import consolidation
from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.stored import (
    LIFECYCLE,
    PUBLISHED,
    event_rows,
    ready,
    store_and_annotate,
    store_annotated,
    store_disputed_dates,
    store_queued,
    two_sources,
)


def _annotated_devset(extractor: Extractor) -> list[tuple[str, str, datetime, Annotation]]:
    articles = [
        article
        for article in load_devset(PROJECT / "tests" / "devset" / "articles.yaml")
        if article.events
    ]
    annotations = extractor.annotate(
        [ArticleText(a.id, a.text, a.title, a.published or PUBLISHED) for a in articles]
    )
    return [
        (f"https://devset.example/{a.id}", a.text, a.published or PUBLISHED, annotation)
        for a, annotation in zip(articles, annotations, strict=True)
    ]


def _store_all(
    session_factory: sessionmaker[Session],
    ids: dict[str, int],
    annotated: list[tuple[str, str, datetime, Annotation]],
) -> None:
    for index, (url, body, published, annotation) in enumerate(annotated):
        source = ids["first"] if index % 2 else ids["second"]
        store_annotated(session_factory, url, body, source, annotation, published)


def _start_over(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.execute(text("DELETE FROM events"))
        session.execute(text("DELETE FROM articles"))


def _one_by_one(
    database_url: str, extractor: Extractor, articles: int | None = None
) -> tuple[sessionmaker[Session], dict[str, int], list[tuple[str, str, datetime, Annotation]], Any]:
    """Development-set articles stored and grouped one by one: the store, sources, articles, events."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    annotated = _annotated_devset(extractor)[:articles]
    _store_all(session_factory, ids, annotated)
    with unit_of_work(session_factory) as session:
        return session_factory, ids, annotated, event_rows(session)


def test_the_same_articles_in_another_order_give_the_same_events(
    database_url: str, extractor: Extractor
) -> None:
    """Events, their mentions, conflicts, links and timelines do not depend on arrival order."""
    session_factory, ids, annotated, forward = _one_by_one(database_url, extractor)
    _start_over(session_factory)
    _store_all(session_factory, ids, annotated[::-1])
    with unit_of_work(session_factory) as session:
        backward = event_rows(session)
    assert len(forward) > 50
    assert any(row[11] != "1" for row in forward)  # some event has more than one article
    assert any(row[14] is not None for row in forward)  # some change is linked to a measure
    assert backward == forward


def test_consolidating_everything_again_changes_nothing_that_arrived_one_by_one(
    database_url: str, extractor: Extractor
) -> None:
    """Incremental consolidation as articles arrive ends where a full consolidation does."""
    session_factory = ready(database_url)
    _store_all(session_factory, two_sources(session_factory), _annotated_devset(extractor)[:40])
    with unit_of_work(session_factory) as session:
        before = event_rows(session)
    summary = consolidate_all(session_factory)
    with unit_of_work(session_factory) as session:
        after = event_rows(session)
    assert summary.changed == 0
    assert summary.events == len(before)
    assert after == before


def _store_queued(
    session_factory: sessionmaker[Session],
    ids: dict[str, int],
    annotated: list[tuple[str, str, datetime, Annotation]],
    group_every: int | None,
) -> None:
    """Store articles as extraction batches do, grouping what waits after every few and at the end.

    With `group_every` None, nothing is grouped: the mentions wait, as after a killed run.
    """
    for index, (url, body, published, annotation) in enumerate(annotated):
        source = ids["first"] if index % 2 else ids["second"]
        store_queued(session_factory, url, body, source, annotation, published)
        if group_every and index % group_every == group_every - 1:
            with unit_of_work(session_factory) as session:
                consolidation.consolidate_queued(session)
    if group_every:
        with unit_of_work(session_factory) as session:
            consolidation.consolidate_queued(session)


def _waiting(session_factory: sessionmaker[Session]) -> int:
    with unit_of_work(session_factory) as session:
        return session.scalar(select(func.count()).select_from(PendingConsolidation)) or 0


def test_grouping_what_waits_now_and_then_gives_the_events_of_one_by_one(
    database_url: str, extractor: Extractor
) -> None:
    """Mentions grouped after every 7 articles, or after all, end as when each article is grouped."""
    session_factory, ids, annotated, one_by_one = _one_by_one(database_url, extractor)
    for group_every in (7, len(annotated)):
        _start_over(session_factory)
        _store_queued(session_factory, ids, annotated, group_every)
        with unit_of_work(session_factory) as session:
            assert event_rows(session) == one_by_one
        assert _waiting(session_factory) == 0


def test_consolidate_groups_what_a_killed_run_left_waiting(
    database_url: str, extractor: Extractor
) -> None:
    """`newstrack consolidate` groups mentions left waiting, and empties the queue."""
    session_factory, ids, annotated, one_by_one = _one_by_one(database_url, extractor, 20)
    _start_over(session_factory)
    _store_queued(session_factory, ids, annotated, group_every=None)
    with unit_of_work(session_factory) as session:
        assert event_rows(session) != one_by_one  # held by a host event of each kind
    assert _waiting(session_factory) > 0
    consolidate_all(session_factory)
    with unit_of_work(session_factory) as session:
        assert event_rows(session) == one_by_one
    assert _waiting(session_factory) == 0


@pytest.mark.postgres
def test_a_grouping_under_way_is_skipped_by_another_not_waited_for(
    postgres_url: str, extractor: Extractor
) -> None:
    """Two writers grouping at once: the second skips the queue rows the first holds."""
    session_factory = ready(postgres_url)
    _store_queued(
        session_factory, two_sources(session_factory), _annotated_devset(extractor)[:8], None
    )
    with session_factory() as first, first.begin():
        assert consolidation.consolidate_queued(first)  # some events changed
        with session_factory() as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert consolidation.consolidate_queued(second) == set()
        assert _waiting(session_factory) > 0  # the first has not committed
    assert _waiting(session_factory) == 0


def test_conflicting_reports_are_kept_and_marked(database_url: str, extractor: Extractor) -> None:
    """Two outlets giving different dates for one event: both claims kept, the conflict marked."""
    session_factory = store_disputed_dates(database_url, extractor)
    with unit_of_work(session_factory) as session:
        events = session.execute(
            text("SELECT id, announced_on, conflicts, article_count FROM events")
        ).all()
        assert len(events) == 1
        event_id, announced_on, conflicts, articles = events[0]
        assert str(announced_on) == "2025-04-04"  # two of three reports say so
        assert (conflicts, articles) == ("announced_on", 3)
        claims = session.execute(
            text(
                "SELECT value, mentions, sources FROM v_event_claims "
                "WHERE event_id = :id AND field = 'announced_on' ORDER BY value"
            ),
            {"id": event_id},
        ).all()
        assert [tuple(row) for row in claims] == [("2025-04-04", 2, 2), ("2025-04-05", 1, 1)]


def _status(database_url: str, capsys: pytest.CaptureFixture[str], *options: str) -> Any:
    capsys.readouterr()
    code = main(["--db", database_url, "status", "--format", "json", *options])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_status_follows_a_measure_through_its_lifecycle(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Imposed in April, suspended in November for a year, lifted the next December."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    for url, day, body in LIFECYCLE:
        published = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        source = ids["first"] if "a.example" in url else ids["second"]
        store_and_annotate(session_factory, extractor, url, body, source, published)

    def state_on(day: str, *options: str) -> list[tuple[str, str, str, str | None, int]]:
        rows = _status(database_url, capsys, "--on", day, *options)
        return [
            (row["measure"], row["state"], row["since"], row["until"], row["sources"])
            for row in rows
        ]

    assert state_on("2025-03-01", "--element", "Dy") == []
    assert state_on("2025-06-01", "--element", "dysprosium") == [
        ("export_control", "in_force", "2025-04-04", "2025-11-06", 2)
    ]
    assert state_on("2025-12-01", "--element", "heavy rare earths", "--actor", "China") == [
        ("export_control", "suspended", "2025-11-07", "2026-11-10", 2)
    ]
    # "until November 10, 2026": still suspended that day, in force again the next.
    assert state_on("2026-11-10", "--element", "Dy") == [
        ("export_control", "suspended", "2025-11-07", "2026-11-10", 2)
    ]
    assert state_on("2026-11-11", "--actor", "CN", "--target", "United States") == [
        ("export_control", "in_force", "2026-11-11", "2026-11-30", 2)
    ]
    assert state_on("2027-01-01", "--element", "terbium", "--measure", "export_control") == [
        ("export_control", "lifted", "2026-12-01", None, 2)
    ]
    assert state_on("2025-06-01", "--target", "JP") == []
    assert state_on("2025-06-01", "--element", "gallium") == []
    # The in-force query names the day the state ends as what it is: the first day without it.
    capsys.readouterr()
    assert main(["--db", database_url, "sql", "in-force", "-p", "day=2025-06-01", "--json"]) == 0
    [in_force] = json.loads(capsys.readouterr().out)
    assert (in_force["in_force_since"], in_force["no_longer_in_force_on"]) == (
        "2025-04-04",
        "2025-11-07",
    )
    with unit_of_work(session_factory) as session:
        recalled = session.execute(
            text(
                "SELECT e.action, e.article_count FROM mentions AS m "
                "JOIN articles AS a ON a.id = m.article_id JOIN events AS e ON e.id = m.event_id "
                "WHERE a.url = 'https://a.example/recalled'"
            )
        ).all()
    assert [tuple(row) for row in recalled] == [("impose", 2)]  # the undated recall joined April


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--element", "kryptonite"], "--element 'kryptonite'"),
        (["--actor", "Atlantis"], "--actor 'Atlantis'"),
        (["--measure", "embargo"], "--measure 'embargo'"),
    ],
)
def test_status_names_the_option_it_cannot_understand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    """A filter newstrack does not know is a usage error naming it, not an empty answer."""
    code = main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "status", *options])
    assert code == 2
    assert message in capsys.readouterr().err


def test_status_names_the_acting_body_and_the_reports_behind_each_measure(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Acting body, first and latest report with their URLs; JSON lists every report."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    for url, day, body in reversed(LIFECYCLE):  # the first report arrives last
        published = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        source = ids["first"] if "a.example" in url else ids["second"]
        store_and_annotate(session_factory, extractor, url, body, source, published)
    [row] = _status(database_url, capsys, "--on", "2025-12-01", "--element", "Dy")
    assert row["actor_body"] == "MOFCOM"
    assert row["elements"] == ["dysprosium", "samarium", "terbium"]
    assert row["targets"] == ["US"]
    assert (row["first_reported"], row["first_url"]) == ("2025-04-05", "https://a.example/imposed")
    # the measure's reports, its later lifting included, whatever day status is asked about
    assert (row["latest_reported"], row["latest_url"]) == ("2026-12-02", "https://b.example/lifted")
    assert row["reports"] == [
        {
            "title": "title",
            "url": url,
            "published": f"{day}T12:00:00+00:00",
            "source": "first" if "a.example" in url else "second",
        }
        for url, day in (
            ("https://a.example/imposed", "2025-04-05"),
            ("https://a.example/recalled", "2025-06-02"),
            ("https://b.example/suspended", "2025-11-08"),
            ("https://b.example/lifted", "2026-12-02"),
        )
    ]


def test_status_wide_prints_whole_cells(
    sqlite_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table cuts cells at 60 characters; `--wide` prints a long URL whole."""
    session_factory = ready(sqlite_url)
    ids = two_sources(session_factory)
    url = "https://a.example/2025/04/04/" + "china-imposes-export-controls-on-seven-rare-earths" * 2
    _, day, body = LIFECYCLE[0]
    published = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
    store_and_annotate(session_factory, extractor, url, body, ids["first"], published)
    command = ["--db", sqlite_url, "status", "--on", "2025-06-01", "--element", "Dy"]
    capsys.readouterr()
    assert main(command) == 0
    cut = capsys.readouterr().out
    assert url not in cut and url[:59] + "…" in cut
    assert main([*command, "--wide"]) == 0
    wide = capsys.readouterr().out
    assert url in wide and "…" not in wide
    header = wide.splitlines()[1].split()
    assert header[:3] == ["measure_id", "actor", "actor_body"]
    assert header[-5:] == [
        "first_reported",
        "first_url",
        "latest_reported",
        "latest_url",
        "reviewed",
    ]
    [row] = _status(sqlite_url, capsys, "--on", "2025-06-01", "--element", "Dy")
    assert row["first_url"] == row["latest_url"] == url  # one report: the first and the latest


def test_a_kept_measure_is_in_force_since_it_began_and_confirmed_when_kept(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Imposed April 4, recalled in June, kept August 19: the recall is a mention of the imposition;
    in force since April 4, by impose, confirmed August 19."""
    session_factory = ready(database_url)
    source = two_sources(session_factory)["first"]
    for url, day, body in (
        (
            "https://a.example/imposed",
            "2025-04-05",
            "China imposed export controls on dysprosium and terbium on April 4, the Ministry of "
            "Commerce said.",
        ),
        (
            "https://a.example/recalled",
            "2025-06-10",
            "The export controls China imposed on dysprosium and terbium on April 4 have forced "
            "automakers to slow production.",
        ),
        (
            "https://a.example/kept",
            "2025-08-20",
            "China refused on August 19 to lift its export controls on dysprosium and terbium.",
        ),
    ):
        published = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        store_and_annotate(session_factory, extractor, url, body, source, published)
    with session_factory() as session:
        reported = session.execute(
            text(
                "SELECT e.action, count(*) FROM events e JOIN mentions m ON m.event_id = e.id "
                "GROUP BY e.id, e.action ORDER BY e.action"
            )
        ).all()
    assert [tuple(row) for row in reported] == [
        ("impose", 2),
        ("maintain", 1),
    ]  # recalled: a mention
    [before] = _status(database_url, capsys, "--on", "2025-06-01", "--element", "Dy")
    [after] = _status(database_url, capsys, "--on", "2025-09-01", "--element", "Dy")
    assert (before["since"], before["by"], before["confirmed"]) == ("2025-04-04", "impose", None)
    assert (after["state"], after["since"], after["by"], after["confirmed"]) == (
        "in_force",
        "2025-04-04",
        "impose",
        "2025-08-19",
    )
