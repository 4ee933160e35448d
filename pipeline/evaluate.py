"""Scoring extraction against what an analyst reads in each article (the quality floor)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from pipeline.urls import canonicalize_url
from storage import queries


@dataclass(frozen=True)
class ExpectedEvent:
    """An event an analyst records from one article."""

    actor: str | None
    action: str
    measure: str
    elements: frozenset[str]
    target: str | None


@dataclass(frozen=True)
class Expected:
    """What an analyst reads in one article."""

    url: str
    on_topic: bool
    elements: frozenset[str]
    events: tuple[ExpectedEvent, ...]


@dataclass(frozen=True)
class Found:
    """What newstrack extracted from one article."""

    on_topic: bool
    elements: frozenset[str]
    events: tuple[ExpectedEvent, ...]


@dataclass(frozen=True)
class Scores:
    """Extraction quality over a set of articles."""

    articles: int
    on_topic_accuracy: float
    element_precision: float
    element_recall: float
    event_recall: float
    event_precision: float
    event_element_recall: float

    def lines(self) -> list[str]:
        """One line per figure, for reports."""
        return [f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}"
                for name, value in vars(self).items()]  # fmt: skip


def load_expected(path: Path) -> list[Expected]:
    """Read an expectations file (tests/fixtures/snapshot_expected.yaml)."""
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Expected(
            url=canonicalize_url(item["url"]),
            on_topic=bool(item["on_topic"]),
            elements=frozenset(item.get("elements") or ()),
            events=tuple(_event(event) for event in item.get("events") or ()),
        )
        for item in document["articles"]
    ]


def _event(item: Mapping[str, Any]) -> ExpectedEvent:
    return ExpectedEvent(
        actor=item.get("actor"),
        action=str(item["action"]),
        measure=str(item["measure"]),
        elements=frozenset(item.get("elements") or ()),
        target=item.get("target"),
    )


def _same_event(expected: ExpectedEvent, found: ExpectedEvent) -> bool:
    return (expected.actor, expected.action, expected.measure) == (
        found.actor,
        found.action,
        found.measure,
    )


def score(expected: Sequence[Expected], found: Mapping[str, Found]) -> Scores:
    """Compare extraction with expectations, article by article (a missing article finds nothing)."""
    empty = Found(False, frozenset(), ())
    on_topic_right = element_hits = element_found = element_expected = 0
    event_hits = event_found = event_expected = 0
    element_in_event_hits = element_in_event_expected = 0
    for article in expected:
        got = found.get(article.url, empty)
        on_topic_right += got.on_topic == article.on_topic
        element_hits += len(article.elements & got.elements)
        element_found += len(got.elements)
        element_expected += len(article.elements)
        event_expected += len(article.events)
        event_found += len(got.events)
        for wanted in article.events:
            match = next((event for event in got.events if _same_event(wanted, event)), None)
            if match is not None:
                event_hits += 1
            element_in_event_expected += len(wanted.elements)
            if match is not None:
                element_in_event_hits += len(wanted.elements & match.elements)
    precise = sum(
        any(_same_event(wanted, event) for wanted in article.events)
        for article in expected
        for event in found.get(article.url, empty).events
    )
    return Scores(
        articles=len(expected),
        on_topic_accuracy=_ratio(on_topic_right, len(expected)),
        element_precision=_ratio(element_hits, element_found),
        element_recall=_ratio(element_hits, element_expected),
        event_recall=_ratio(event_hits, event_expected),
        event_precision=_ratio(precise, event_found),
        event_element_recall=_ratio(element_in_event_hits, element_in_event_expected),
    )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def found_in_database(session: Session) -> dict[str, Found]:
    """What the database holds per article URL, as `Found`."""
    found: dict[str, Found] = {}
    for article in queries.article_extractions(session):
        events = tuple(
            ExpectedEvent(actor, action, measure, frozenset(elements), None)
            for actor, action, measure, elements in article.events
        )
        found[article.url] = Found(bool(article.on_topic), frozenset(article.elements), events)
    return found
