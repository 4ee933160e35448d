"""Scoring extraction against what an analyst reads in each article (the quality floor)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy.orm import Session

from models.urls import canonicalize_url
from models.vocabulary import ACTIONS, MODALITIES
from storage import queries

if TYPE_CHECKING:
    from models.annotation import Annotation


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


# The development set: hand-labelled texts scored field by field and label by label.


@dataclass
class Tally:
    """Counts behind precision, recall and F1."""

    hits: int = 0
    found: int = 0
    expected: int = 0

    def add(self, expected: Set[Any], found: Set[Any]) -> None:
        """Count one item's expected and found labels."""
        self.hits += len(expected & found)
        self.found += len(found)
        self.expected += len(expected)

    @property
    def precision(self) -> float:
        """Share of what was found that was expected."""
        return _ratio(self.hits, self.found)

    @property
    def recall(self) -> float:
        """Share of what was expected that was found."""
        return _ratio(self.hits, self.expected)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class GoldEvent:
    """An event as an analyst labels it in a development-set text."""

    actor: str | None
    action: str
    measure: str
    elements: frozenset[str]
    target: str | None
    modality: str
    target_count: int | None

    @property
    def key(self) -> tuple[str | None, str, str]:
        """What an event is matched on: actor, action and measure."""
        return (self.actor, self.action, self.measure)


@dataclass(frozen=True)
class GoldArticle:
    """One labelled text of the development set."""

    id: str
    style: str
    title: str
    text: str
    published: datetime | None
    on_topic: bool
    elements: frozenset[str]
    groups: frozenset[str]
    countries: frozenset[str]
    events: tuple[GoldEvent, ...]


@dataclass
class DevsetReport:
    """Precision, recall and F1 on the development set, overall, per field and per label."""

    articles: int = 0
    on_topic: Tally = field(default_factory=Tally)
    elements: Tally = field(default_factory=Tally)
    groups: Tally = field(default_factory=Tally)
    countries: Tally = field(default_factory=Tally)
    events: Tally = field(default_factory=Tally)
    fields: dict[str, Tally] = field(default_factory=dict)
    labels: dict[str, dict[str, Tally]] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        """The headline F1 figures, by name (what the test gate pins)."""
        return {
            "on_topic_f1": self.on_topic.f1,
            "elements_f1": self.elements.f1,
            "groups_f1": self.groups.f1,
            "countries_f1": self.countries.f1,
            "events_f1": self.events.f1,
            **{f"event_{name}_f1": tally.f1 for name, tally in sorted(self.fields.items())},
        }

    def lines(self) -> list[str]:
        """A plain-text report: the headline table, then each field, then each label."""
        rows = [f"{'':24} {'P':>6} {'R':>6} {'F1':>6} {'expected':>9}"]

        def row(name: str, tally: Tally) -> str:
            return (
                f"{name:24} {tally.precision:6.3f} {tally.recall:6.3f} {tally.f1:6.3f}"
                f" {tally.expected:9d}"
            )

        rows.append(f"articles: {self.articles}")
        for name in ("on_topic", "elements", "groups", "countries", "events"):
            rows.append(row(name, getattr(self, name)))
        rows.append("matched events, field by field:")
        rows.extend(row(f"  {name}", tally) for name, tally in sorted(self.fields.items()))
        for kind, tallies in sorted(self.labels.items()):
            rows.append(f"{kind}, label by label:")
            rows.extend(row(f"  {label}", tally) for label, tally in sorted(tallies.items()))
        return rows


def load_devset(path: Path) -> list[GoldArticle]:
    """Read the development set (tests/devset/articles.yaml); a bad label names its article."""
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    articles = []
    for item in document["articles"]:
        name = f"{path}: article {item.get('id')!r}"
        events = []
        for event in item.get("events") or ():
            if event["action"] not in ACTIONS or event["modality"] not in MODALITIES:
                raise ValueError(f"{name}: unknown action or modality in {event}")
            events.append(
                GoldEvent(
                    actor=event.get("actor"),
                    action=event["action"],
                    measure=event["measure"],
                    elements=frozenset(event.get("elements") or ()),
                    target=event.get("target"),
                    modality=event["modality"],
                    target_count=event.get("target_count"),
                )
            )
        published = item.get("published")
        articles.append(
            GoldArticle(
                id=str(item["id"]),
                style=str(item["style"]),
                title=str(item.get("title") or ""),
                text=str(item["text"]),
                published=datetime(published.year, published.month, published.day, 12, tzinfo=UTC)
                if published
                else None,
                on_topic=bool(item["on_topic"]),
                elements=frozenset(item.get("elements") or ()),
                groups=frozenset(item.get("groups") or ()),
                countries=frozenset(item.get("countries") or ()),
                events=tuple(events),
            )
        )
    return articles


def score_devset(gold: Sequence[GoldArticle], found: Mapping[str, Annotation]) -> DevsetReport:
    """Compare annotations with the labels, text by text (a missing annotation finds nothing)."""
    report = DevsetReport(articles=len(gold))
    fields = report.fields
    for name in ("target", "modality", "elements", "target_count"):
        fields[name] = Tally()
    per: dict[str, defaultdict[str, Tally]] = {
        kind: defaultdict(Tally) for kind in ("element", "country", "measure", "action")
    }
    for article in gold:
        annotation = found.get(article.id)
        got_elements = set(annotation.elements) if annotation else set()
        got_groups = set(annotation.groups) if annotation else set()
        got_countries = set(annotation.countries) if annotation else set()
        got_events = list(annotation.events) if annotation else []
        report.on_topic.add(
            {article.id} if article.on_topic else set(),
            {article.id} if annotation and annotation.on_topic else set(),
        )
        report.elements.add(article.elements, got_elements)
        report.groups.add(article.groups, got_groups)
        report.countries.add(article.countries, got_countries)
        for label in article.elements | got_elements:
            per["element"][label].add(article.elements & {label}, got_elements & {label})
        for label in article.countries | got_countries:
            per["country"][label].add(article.countries & {label}, got_countries & {label})
        wanted = {event.key for event in article.events}
        got = {(event.actor, event.action, event.measure) for event in got_events}
        report.events.add(wanted, got)
        for kind, position in (("action", 1), ("measure", 2)):
            for label in {str(key[position]) for key in wanted | got}:
                per[kind][label].add(
                    {key for key in wanted if key[position] == label},
                    {key for key in got if key[position] == label},
                )
        for event in article.events:
            matches = [e for e in got_events if (e.actor, e.action, e.measure) == event.key]
            if not matches:
                continue
            best = max(matches, key=lambda e: len(event.elements & set(e.elements)))
            fields["target"].add({event.target}, {best.target})
            fields["modality"].add({event.modality}, {best.evidence.modality})
            fields["elements"].add(event.elements, set(best.elements))
            if event.target_count is not None or best.target_count is not None:
                fields["target_count"].add({event.target_count}, {best.target_count})
    report.labels = {kind: dict(tallies) for kind, tallies in per.items()}
    return report
