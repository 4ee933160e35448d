"""What the extractor reads and what it finds: article text, tags, events, the annotation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from models.facts import DocumentFacts

EXTRACTOR_VERSION = "1"


@dataclass(frozen=True)
class ElementTag:
    """An element or element group named in the text."""

    name: str
    symbol: str | None
    group: str
    is_group: bool
    form: str | None
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class EntityTag:
    """A country, government body or company named in the text, normalised."""

    kind: str  # country | body | company
    canonical: str
    jurisdiction: str | None
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class QuantityTag:
    """A number with what it counts or measures."""

    value: float
    unit: str
    qualifier: str | None
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class DateTag:
    """A date resolved against the article's publication date, with its role for an event."""

    value: date
    role: str  # announced | effective | expires | recalled (of the measure a change applies to)
    text: str


@dataclass(frozen=True)
class EventMention:
    """One sentence's statement of a policy event."""

    sentence: str
    start: int
    end: int
    reported_label: str
    modality: str
    confidence: float


@dataclass(frozen=True)
class EventRecord:
    """A policy event as one article states it (its sentences merged)."""

    actor: str | None
    actor_body: str | None
    action: str
    measure: str
    elements: tuple[str, ...]
    target: str | None
    target_count: int | None
    target_unit: str | None
    quantities: tuple[QuantityTag, ...]
    dates: tuple[DateTag, ...]
    mentions: tuple[EventMention, ...]
    instrument: str | None = (
        None  # the legal instrument named: "MOFCOM Announcement No. 18 of 2025"
    )

    @property
    def evidence(self) -> EventMention:
        """The sentence that states the event most completely."""
        return self.mentions[0]

    def date_of(self, role: str) -> date | None:
        """The first date of a role (announced, effective, expires)."""
        return next((tag.value for tag in self.dates if tag.role == role), None)


@dataclass(frozen=True)
class Annotation:
    """Everything the extractor found in one text."""

    id: str
    on_topic: bool
    element_tags: tuple[ElementTag, ...]
    entity_tags: tuple[EntityTag, ...]
    quantities: tuple[QuantityTag, ...]
    events: tuple[EventRecord, ...]
    extractor_version: str = EXTRACTOR_VERSION
    # Acts the trained decision read but held below its threshold: kept to query, never events.
    candidates: tuple[EventRecord, ...] = ()
    status: str = "read"  # read | screened | skipped
    note: str | None = None  # why the trained pipeline did not read the text, or read part of it

    @property
    def elements(self) -> list[str]:
        """Canonical names of the elements named, most mentioned first."""
        counts = Counter(tag.name for tag in self.element_tags if not tag.is_group)
        return [name for name, _ in counts.most_common()]

    @property
    def groups(self) -> list[str]:
        """Group words named ("rare earths", "critical minerals"), most mentioned first."""
        counts = Counter(tag.name for tag in self.element_tags if tag.is_group)
        return [name for name, _ in counts.most_common()]

    @property
    def countries(self) -> list[str]:
        """ISO codes of the countries named or acting, most mentioned first."""
        counts = Counter(tag.jurisdiction for tag in self.entity_tags if tag.jurisdiction)
        return [code for code, _ in counts.most_common()]

    @property
    def orgs(self) -> list[str]:
        """Canonical names of the bodies and companies named."""
        seen: dict[str, None] = {}
        for tag in self.entity_tags:
            if tag.kind in ("body", "company"):
                seen.setdefault(tag.canonical)
        return list(seen)


@dataclass(frozen=True)
class ArticleText:
    """What the extractor reads: an id, the text, and optionally a title and publication time."""

    id: str
    text: str
    title: str = ""
    published: datetime | None = None
    language: str | None = None  # as stored at fetch time; detected from the text when None
    facts: DocumentFacts | None = None  # what an official register says of the document
