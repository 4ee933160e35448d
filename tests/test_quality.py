"""Extraction quality on the snapshot must not drop below the pinned floor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from models import Article, Event, Mention, MentionElement
from pipeline.cli import main
from pipeline.evaluate import Scores, found_in_database, load_expected, score
from pipeline.jobs import unit_of_work
from pipeline.urls import canonicalize_url
from storage.engine import make_session_factory, open_engine

from .conftest import FIXTURES, PROJECT

# Measured with `python bench/quality.py`; raise these when the extractor improves.
FLOOR = {
    "on_topic_accuracy": 0.95,
    "element_precision": 0.95,
    "element_recall": 0.95,
    "event_recall": 0.86,
    "event_precision": 0.41,
    "event_element_recall": 0.72,
}


@pytest.fixture(scope="module")
def snapshot_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database `make demo` builds: the job run once on the snapshot."""
    database = f"sqlite:///{tmp_path_factory.mktemp('quality') / 'quality.db'}"
    main(["--db", database, "-q", "run", "--replay", str(PROJECT / "snapshot")])
    return database


@pytest.fixture(scope="module")
def scores(snapshot_database: str) -> Scores:
    """Score what the run on the snapshot stored."""
    with (
        open_engine(snapshot_database) as engine,
        unit_of_work(make_session_factory(engine)) as session,
    ):
        found = found_in_database(session)
    return score(load_expected(FIXTURES / "snapshot_expected.yaml"), found)


@pytest.mark.parametrize("figure", sorted(FLOOR))
def test_quality_floor(scores: Scores, figure: str) -> None:
    """Each quality figure stays at or above its floor."""
    assert getattr(scores, figure) >= FLOOR[figure], "\n".join(scores.lines())


def test_every_snapshot_article_was_stored(scores: Scores) -> None:
    """The expectations cover the 48 snapshot articles the job stores."""
    assert scores.articles == len(load_expected(FIXTURES / "snapshot_expected.yaml")) == 48


def test_score_counts_misses(tmp_path: Path) -> None:
    """A run that finds nothing scores zero recall, so the floor can fail."""
    expected = load_expected(FIXTURES / "snapshot_expected.yaml")
    empty = score(expected, {})
    assert empty.event_recall == 0
    assert empty.element_recall == 0


@dataclass(frozen=True)
class StoredMention:
    """A stored mention with its article, claim and event, as the consolidation test needs it."""

    url: str
    source_id: int | None
    event_id: int
    kind: tuple[str | None, str, str]
    elements: frozenset[str]


@pytest.fixture(scope="module")
def stored(snapshot_database: str) -> tuple[list[StoredMention], dict[int, tuple[int, int]]]:
    """Every mention the snapshot run stored, and each event's article and source counts."""
    with (
        open_engine(snapshot_database) as engine,
        unit_of_work(make_session_factory(engine)) as session,
    ):
        elements: dict[int, set[str]] = {}
        for mention_id, element in session.execute(
            select(MentionElement.mention_id, MentionElement.element)
        ):
            elements.setdefault(mention_id, set()).add(element)
        rows = session.execute(
            select(
                Mention.id,
                Article.url,
                Article.source_id,
                Event.id,
                Event.actor,
                Event.action,
                Event.measure,
            )
            .join(Article, Article.id == Mention.article_id)
            .join(Event, Event.id == Mention.event_id)
        )
        mentions = [
            StoredMention(
                url,
                source_id,
                event_id,
                (actor, action, measure),
                frozenset(elements.get(mention_id, ())),
            )
            for mention_id, url, source_id, event_id, actor, action, measure in rows
        ]
        counts = {
            event_id: (articles, sources)
            for event_id, articles, sources in session.execute(
                select(Event.id, Event.article_count, Event.source_count)
            )
        }
    return mentions, counts


def _together() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((FIXTURES / "snapshot_expected.yaml").read_text(encoding="utf-8"))
    return {group["name"]: group for group in document["reported_together"]}


def _events_of(group: dict[str, Any], mentions: list[StoredMention]) -> tuple[set[int], set[str]]:
    """The stored events holding the group's articles' claims about its action, and those articles."""
    urls = {canonicalize_url(url) for url in group["articles"]}
    wanted = frozenset(group["elements"])
    chosen = [
        mention
        for mention in mentions
        if mention.url in urls
        and mention.kind == (group["actor"], group["action"], group["measure"])
        and (not wanted or not mention.elements or mention.elements & wanted)
    ]
    return {mention.event_id for mention in chosen}, {mention.url for mention in chosen}


@pytest.mark.parametrize("name", sorted(_together()))
def test_an_action_several_articles_report_is_one_event_counted_right(
    stored: tuple[list[StoredMention], dict[int, tuple[int, int]]], name: str
) -> None:
    """Each action the snapshot reports in several articles is one event whose counts are its reports."""
    mentions, counts = stored
    group = _together()[name]
    events, articles = _events_of(group, mentions)
    assert len(articles) >= min(2, len(group["articles"])), f"{name}: found in {articles}"
    assert len(events) == 1, f"{name}: split over events {sorted(events)}"
    [event_id] = events
    reports = [mention for mention in mentions if mention.event_id == event_id]
    assert counts[event_id] == (
        len({mention.url for mention in reports}),
        len({mention.source_id for mention in reports}),
    )
    assert counts[event_id][0] >= len(articles)
    if "apart_from" in group:
        other, _ = _events_of(_together()[group["apart_from"]], mentions)
        assert event_id not in other, f"{name} merged with {group['apart_from']}"
