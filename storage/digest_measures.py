"""The measures a watchlist wants news of since its last digest, read for the digest."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from models import (
    Article,
    Event,
    MeasurePeriod,
    Mention,
    Source,
)
from models.digest import Act, DigestMeasure, DigestReport, Evidence, StatePeriod
from models.filters import Filters
from models.grouping import AFFIRMING
from storage.engine import as_utc
from storage.queries import event_lists

CHUNK = 500


def digest_measures(
    session: Session, filters: Filters, since: datetime, until: datetime
) -> list[DigestMeasure]:
    """Measures with an event matching the filters and reported (extracted) in [since, until)."""
    reported = _reported(session, since, until)
    if not reported:
        return []
    measure_ids: set[int] = set()
    for start in range(0, len(reported), CHUNK):
        measure_ids.update(
            session.scalars(
                select(func.coalesce(Event.changes_event_id, Event.id)).where(
                    Event.id.in_(reported[start : start + CHUNK])
                )
            )
        )
    events = _measure_events(session, sorted(measure_ids))
    lists = event_lists(session, sorted(events))
    members: dict[int, list[Event]] = defaultdict(list)
    for event in events.values():
        members[event.changes_event_id or event.id].append(event)
    reported_set = set(reported)
    chosen: dict[int, list[int]] = {}
    measure_lists: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for measure_id, measure_events in members.items():
        measure_lists[measure_id] = (
            tuple(sorted({name for event in measure_events for name in lists[event.id][0]})),
            tuple(sorted({name for event in measure_events for name in lists[event.id][1]})),
        )
        # A change that names no element or target is about its measure's.
        passing = [
            event.id
            for event in measure_events
            if event.id in reported_set
            and _passes(
                filters,
                event,
                list(lists[event.id][0] or measure_lists[measure_id][0]),
                list(lists[event.id][1] or measure_lists[measure_id][1]),
            )
        ]
        if passing and measure_id in events:
            chosen[measure_id] = passing
    if not chosen:
        return []
    all_ids = sorted(event.id for measure_id in chosen for event in members[measure_id])
    earlier = _reported_before(session, all_ids, since)
    evidence = _evidence(session, all_ids)
    reports = _reports(session, sorted(i for ids in chosen.values() for i in ids), since, until)
    periods = _periods(session, sorted(chosen))
    found = []
    for measure_id, passing in chosen.items():
        founding = events[measure_id]
        measure_events = members[measure_id]
        acts = sorted(
            (_act(event, event.id not in earlier) for event in measure_events),
            key=lambda act: (act.on, act.event_id),
        )
        new_reports = {report.url: report for event_id in passing for report in reports[event_id]}
        found.append(
            DigestMeasure(
                id=measure_id,
                actor=founding.actor,
                actor_body=founding.actor_body
                or next((event.actor_body for event in measure_events if event.actor_body), None),
                measure=founding.measure,
                status=founding.status,
                elements=measure_lists[measure_id][0],
                targets=measure_lists[measure_id][1],
                source_count=max(
                    [p.source_count for p in periods[measure_id]]
                    or [max(event.source_count for event in measure_events)]
                ),
                acts=tuple(acts),
                periods=tuple(
                    StatePeriod(p.state, p.starts_on, p.ends_on) for p in periods[measure_id]
                ),
                evidence={event.id: evidence[event.id] for event in measure_events},
                reports=tuple(
                    sorted(
                        new_reports.values(),
                        key=lambda report: (report.published_at or until, report.url),
                    )
                ),
                is_new=not any(event.id in earlier for event in measure_events),
            )
        )
    return found


def _measure_events(session: Session, measure_ids: list[int]) -> dict[int, Event]:
    """The founding events of these measures and every event that changes them."""
    events: dict[int, Event] = {}
    for start in range(0, len(measure_ids), CHUNK):
        chunk = measure_ids[start : start + CHUNK]
        for event in session.scalars(
            select(Event).where(or_(Event.id.in_(chunk), Event.changes_event_id.in_(chunk)))
        ):
            events[event.id] = event
    return events


def _reported_before(session: Session, event_ids: list[int], since: datetime) -> set[int]:
    """The events among these with a report extracted before `since`."""
    earlier: set[int] = set()
    for start in range(0, len(event_ids), CHUNK):
        earlier.update(
            session.scalars(
                select(Mention.event_id)
                .join(Article, Article.id == Mention.article_id)
                .where(
                    Mention.event_id.in_(event_ids[start : start + CHUNK]),
                    Article.extracted_at < since,
                )
            )
        )
    return earlier


def _evidence(session: Session, event_ids: list[int]) -> dict[int, tuple[Evidence, ...]]:
    """Every sentence stating each of these events, earliest report first."""
    found: dict[int, list[Evidence]] = defaultdict(list)
    for start in range(0, len(event_ids), CHUNK):
        for event_id, sentence, modality, confidence, published_at in session.execute(
            select(
                Mention.event_id,
                Mention.sentence,
                Mention.modality,
                Mention.confidence,
                Article.published_at,
            )
            .join(Article, Article.id == Mention.article_id)
            .where(Mention.event_id.in_(event_ids[start : start + CHUNK]))
            .order_by(Article.published_at, Article.id, Mention.start_char)
        ):
            found[event_id].append(Evidence(sentence, modality, confidence, _utc(published_at)))
    return {event_id: tuple(found[event_id]) for event_id in event_ids}


def _reports(
    session: Session, event_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[DigestReport]]:
    """The articles extracted in [since, until) that report each of these events."""
    found: dict[int, list[DigestReport]] = defaultdict(list)
    for start in range(0, len(event_ids), CHUNK):
        rows = session.execute(
            select(
                Mention.event_id,
                Article.title,
                Article.url,
                func.coalesce(Source.name, ""),
                Article.published_at,
            )
            .distinct()
            .join(Article, Article.id == Mention.article_id)
            .outerjoin(Source, Source.id == Article.source_id)
            .where(
                Mention.event_id.in_(event_ids[start : start + CHUNK]),
                _extracted_between(since, until),
            )
        )
        for event_id, title, url, source, published_at in rows:
            found[event_id].append(DigestReport(title, url, source, _utc(published_at)))
    return found


def _periods(session: Session, measure_ids: list[int]) -> dict[int, list[MeasurePeriod]]:
    """Each measure's states over time, by start."""
    found: dict[int, list[MeasurePeriod]] = defaultdict(list)
    for start in range(0, len(measure_ids), CHUNK):
        for period in session.scalars(
            select(MeasurePeriod)
            .where(MeasurePeriod.measure_id.in_(measure_ids[start : start + CHUNK]))
            .order_by(MeasurePeriod.starts_on, MeasurePeriod.id)
        ):
            found[period.measure_id].append(period)
    return found


def _act(event: Event, is_new: bool) -> Act:
    seen = as_utc(event.first_seen).date()
    return Act(
        event_id=event.id,
        action=event.action,
        on=event.effective_on or event.announced_on or seen,
        expires_on=event.expires_on,
        affirmed=event.modality is None or event.modality in AFFIRMING,
        is_new=is_new,
        reviewed=event.reviewed,
    )


def _utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def _reported(session: Session, since: datetime, until: datetime) -> list[int]:
    """The events with a report extracted in [since, until)."""
    query = (
        select(Mention.event_id)
        .join(Article, Article.id == Mention.article_id)
        .where(_extracted_between(since, until))
    )
    return sorted(set(session.scalars(query)))


def _extracted_between(since: datetime, until: datetime) -> ColumnElement[bool]:
    """Articles whose events were stored in [since, until): what a digest period covers."""
    return (Article.extracted_at >= since) & (Article.extracted_at < until)


def _passes(filters: Filters, event: Event, elements: list[str], targets: list[str]) -> bool:
    return (
        (not filters.elements or bool(filters.elements.intersection(elements)))
        and (not filters.measures or event.measure in filters.measures)
        and (not filters.actions or event.action in filters.actions)
        and (not filters.actors or event.actor in filters.actors)
        and (not filters.targets or bool(filters.targets.intersection(targets)))
        and (not filters.modality or event.modality in filters.modality)
        and event.source_count >= filters.min_sources
    )
