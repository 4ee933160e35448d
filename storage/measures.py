"""Measures as a reader sees them: where each stands on a day, and the articles reporting it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from models import (
    Article,
    Event,
    EventElement,
    EventTarget,
    MeasurePeriod,
    Mention,
    Source,
)
from models.grouping import stretch_starts
from models.vocabulary import STATES
from storage.engine import as_utc


@dataclass(frozen=True)
class Report:
    """An article that reports a measure or a change of it."""

    url: str
    title: str
    source: str | None
    published: datetime | None
    seen: datetime  # published, else fetched: what reports are ordered by


@dataclass(frozen=True)
class MeasureState:
    """Where a measure stands on a day: its state, since when, until when, and its support."""

    measure_id: int
    actor: str | None
    actor_body: str | None
    measure: str
    state: str
    since: date  # the first day in this state, however often it was restated or kept since
    until: date | None  # the last day in this state ("until November 27" is November 27)
    action: str  # the action that set the state
    event_id: int
    elements: tuple[str, ...]
    targets: tuple[str, ...]
    sources: int
    articles: int
    summary: str
    first_url: str | None  # the earliest article on the measure or a change of it
    first_reported: datetime | None  # when it was published, else fetched
    latest_url: str | None  # the latest one
    latest_reported: datetime | None
    confirmed: date | None = None  # the last act that kept it in this state (maintain, extend)
    reviewed: str = ""  # what analysts said of the act that set the state (confirmed, corrected)


def measure_states(
    session: Session,
    on: date,
    elements: Sequence[str] = (),
    actor: str | None = None,
    target: str | None = None,
    measure: str | None = None,
) -> list[MeasureState]:
    """The state of every measure on a day, those in force first; filters narrow the measures."""
    founding, setting = aliased(Event), aliased(Event)
    first, latest = aliased(Article), aliased(Article)
    conditions: list[ColumnElement[bool]] = [
        MeasurePeriod.starts_on <= on,
        or_(MeasurePeriod.ends_on.is_(None), MeasurePeriod.ends_on > on),
    ]
    if actor is not None:
        conditions.append(founding.actor == actor)
    if measure is not None:
        conditions.append(founding.measure == measure)
    if elements:
        conditions.append(
            MeasurePeriod.measure_id.in_(
                _measures_of(EventElement.event_id, EventElement.element.in_(list(elements)))
            )
        )
    if target is not None:
        conditions.append(
            MeasurePeriod.measure_id.in_(
                _measures_of(EventTarget.event_id, EventTarget.target == target)
            )
        )
    rows = session.execute(
        select(
            MeasurePeriod.measure_id,
            founding.actor,
            founding.actor_body,
            founding.measure,
            MeasurePeriod.state,
            MeasurePeriod.starts_on,
            MeasurePeriod.ends_on,
            setting.action,
            setting.reviewed,
            MeasurePeriod.event_id,
            founding.summary,
            MeasurePeriod.source_count,
            MeasurePeriod.article_count,
            first.url.label("first_url"),
            func.coalesce(first.published_at, first.fetched_at).label("first_reported"),
            latest.url.label("latest_url"),
            func.coalesce(latest.published_at, latest.fetched_at).label("latest_reported"),
        )
        .join(founding, founding.id == MeasurePeriod.measure_id)
        .join(setting, setting.id == MeasurePeriod.event_id)
        .outerjoin(first, first.id == MeasurePeriod.first_article_id)
        .outerjoin(latest, latest.id == MeasurePeriod.latest_article_id)
        .where(*conditions)
    ).all()
    lists = _measure_lists(session, [row.measure_id for row in rows])
    # Every row's period is among the runs' periods: both are the periods begun by `on`.
    began = _state_runs(session, [row.measure_id for row in rows], on)
    states = [
        MeasureState(
            measure_id=row.measure_id,
            actor=row.actor,
            actor_body=row.actor_body,
            measure=row.measure,
            state=row.state,
            since=began[(row.measure_id, row.starts_on)][0],
            until=row.ends_on - timedelta(days=1) if row.ends_on else None,
            action=began[(row.measure_id, row.starts_on)][1],
            event_id=row.event_id,
            elements=lists[row.measure_id][0],
            targets=lists[row.measure_id][1],
            sources=row.source_count,
            articles=row.article_count,
            summary=row.summary,
            first_url=row.first_url,
            first_reported=_utc(row.first_reported),
            latest_url=row.latest_url,
            latest_reported=_utc(row.latest_reported),
            confirmed=(
                row.starts_on
                if began[(row.measure_id, row.starts_on)][0] != row.starts_on
                else None
            ),
            reviewed=row.reviewed,
        )
        for row in rows
    ]
    return sorted(
        states,
        key=lambda s: (STATES.index(s.state), -s.sources, s.actor or "", s.measure, s.since),
    )


def _state_runs(
    session: Session, measure_ids: Sequence[int], on: date
) -> dict[tuple[int, date], tuple[date, str]]:
    """For each period up to a day, the first day of the unbroken run of periods in its state and
    the action that began it.

    A measure kept or prolonged while in force ("did not revoke", "extended") starts a new period
    on that day, in the same state; the measure has been in that state since the run began.
    """
    rows = session.execute(
        select(
            MeasurePeriod.measure_id,
            MeasurePeriod.state,
            MeasurePeriod.starts_on,
            MeasurePeriod.ends_on,
            Event.action,
        )
        .join(Event, Event.id == MeasurePeriod.event_id)
        .where(MeasurePeriod.measure_id.in_(list(measure_ids)), MeasurePeriod.starts_on <= on)
        .order_by(MeasurePeriod.measure_id, MeasurePeriod.starts_on)
    ).all()
    runs: dict[tuple[int, date], tuple[date, str]] = {}
    for _, grouped in groupby(rows, key=lambda row: row.measure_id):
        periods = list(grouped)
        for period, first in zip(periods, stretch_starts(periods), strict=True):
            runs[(period.measure_id, period.starts_on)] = (
                periods[first].starts_on,
                periods[first].action,
            )
    return runs


def _measures_of(event_id: Any, condition: ColumnElement[bool]) -> Any:
    """The measures (founding event ids) with an event whose child rows meet a condition."""
    return (
        select(func.coalesce(Event.changes_event_id, Event.id))
        .join_from(Event, event_id.table, Event.id == event_id)
        .where(condition)
    )


def _measure_lists(
    session: Session, measure_ids: Sequence[int]
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Elements and targets of each measure's events together."""
    members: dict[int, int] = {}
    for start in range(0, len(measure_ids), 500):
        chunk = list(measure_ids[start : start + 500])
        for event_id, founding_id in session.execute(
            select(Event.id, func.coalesce(Event.changes_event_id, Event.id)).where(
                or_(Event.id.in_(chunk), Event.changes_event_id.in_(chunk))
            )
        ):
            members[event_id] = founding_id
    elements: dict[int, set[str]] = defaultdict(set)
    targets: dict[int, set[str]] = defaultdict(set)
    event_ids = sorted(members)
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for event_id, element in session.execute(
            select(EventElement.event_id, EventElement.element).where(
                EventElement.event_id.in_(chunk)
            )
        ):
            elements[members[event_id]].add(element)
        for event_id, target_name in session.execute(
            select(EventTarget.event_id, EventTarget.target).where(EventTarget.event_id.in_(chunk))
        ):
            targets[members[event_id]].add(target_name)
    return {
        measure_id: (tuple(sorted(elements[measure_id])), tuple(sorted(targets[measure_id])))
        for measure_id in measure_ids
    }


def _measure_articles(measure_ids: Sequence[int]) -> Any:
    """Each article reporting one of these measures or a change of one, with its measure."""
    return (
        select(
            func.coalesce(Event.changes_event_id, Event.id).label("measure_id"),
            Mention.article_id,
        )
        .join(Mention, Mention.event_id == Event.id)
        .where(or_(Event.id.in_(list(measure_ids)), Event.changes_event_id.in_(list(measure_ids))))
    )


def _report(row: Any) -> Report:
    return Report(row.url, row.title, row.source, _utc(row.published_at), _utc(row.seen))


def _utc(moment: datetime | None) -> Any:
    """A stored time as an aware UTC time, as PostgreSQL gives it (SQLite keeps no zone)."""
    return as_utc(moment).astimezone(UTC) if moment is not None else None


def _articles_as_reports(session: Session, article_ids: Sequence[int]) -> dict[int, Report]:
    found: dict[int, Report] = {}
    for start in range(0, len(article_ids), 500):
        for row in session.execute(
            select(
                Article.id,
                Article.url,
                Article.title,
                Source.name.label("source"),
                Article.published_at,
                func.coalesce(Article.published_at, Article.fetched_at).label("seen"),
            )
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Article.id.in_(article_ids[start : start + 500]))
        ):
            found[row.id] = _report(row)
    return found


def measure_reports(session: Session, measure_ids: Sequence[int]) -> dict[int, list[Report]]:
    """Every article on each measure or a change of it, earliest first."""
    found: dict[int, set[int]] = defaultdict(set)
    unique = sorted(set(measure_ids))
    for start in range(0, len(unique), 500):
        for row in session.execute(_measure_articles(unique[start : start + 500])):
            found[row.measure_id].add(row.article_id)
    articles = _articles_as_reports(session, sorted(set().union(*found.values())))
    return {
        measure_id: [
            articles[article_id]
            for article_id in sorted(
                found[measure_id],
                key=lambda article_id: (articles[article_id].seen, articles[article_id].url),
            )
        ]
        for measure_id in unique
    }
