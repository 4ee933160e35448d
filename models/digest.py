"""A digest's plain records: the measures it tells of, their acts, states, evidence and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class DigestReport:
    """An article reporting a measure, as a digest links to it."""

    title: str
    url: str
    source: str
    published_at: datetime | None


@dataclass(frozen=True)
class Evidence:
    """A sentence stating an event, with how surely it states it."""

    sentence: str
    modality: str
    confidence: float
    published_at: datetime | None


@dataclass(frozen=True)
class Act:
    """One event of a measure: its founding act or a change to it."""

    event_id: int
    action: str
    on: date  # effective, else announced, else first reported: the day it sets a state
    expires_on: date | None
    affirmed: bool  # stated as done, not denied or supposed
    is_new: bool  # first reported in the digest's period
    reviewed: str = ""  # what analysts said of it: "confirmed" and the fields they corrected


@dataclass(frozen=True)
class StatePeriod:
    """A stretch of time in which a measure is in one state."""

    state: str
    starts_on: date
    ends_on: date | None


@dataclass(frozen=True)
class DigestMeasure:
    """A measure with new reports in a digest's period: its acts, states and evidence."""

    id: int  # its founding event
    actor: str | None
    actor_body: str | None
    measure: str
    status: str  # its founding event's status, for a measure with no stated period
    elements: tuple[str, ...]  # of all its events
    targets: tuple[str, ...]
    source_count: int
    acts: tuple[Act, ...]  # by day
    periods: tuple[StatePeriod, ...]  # by start
    evidence: dict[int, tuple[Evidence, ...]]  # each act's sentences, by event id
    reports: tuple[
        DigestReport, ...
    ]  # the reports that arrived in the digest's period, by publication
    is_new: bool  # no report of it came before the period
