"""Digests: the measures a watchlist wants news of since its last digest, and their deliveries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from models import (
    Article,
    DigestDelivery,
    Event,
    EventElement,
    EventTarget,
    MeasurePeriod,
    Mention,
    Source,
)
from models.filters import Filters
from storage.engine import as_utc
from storage.sessions import dialect_insert

CHUNK = 500
AFFIRMING = (
    "asserted",
    "reported",
)  # modalities that state an act; denials and suppositions do not


@dataclass(frozen=True)
class Report:
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
    reports: tuple[Report, ...]  # the reports that arrived in the digest's period, by publication
    is_new: bool  # no report of it came before the period


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
    lists = _lists(session, sorted(events))
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


def _lists(
    session: Session, event_ids: list[int]
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each event's elements and targets."""
    elements: dict[int, list[str]] = defaultdict(list)
    targets: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        for event_id, element in session.execute(
            select(EventElement.event_id, EventElement.element)
            .where(EventElement.event_id.in_(chunk))
            .order_by(EventElement.element)
        ):
            elements[event_id].append(element)
        for event_id, target in session.execute(
            select(EventTarget.event_id, EventTarget.target)
            .where(EventTarget.event_id.in_(chunk))
            .order_by(EventTarget.target)
        ):
            targets[event_id].append(target)
    return {
        event_id: (tuple(elements[event_id]), tuple(targets[event_id])) for event_id in event_ids
    }


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
) -> dict[int, list[Report]]:
    """The articles extracted in [since, until) that report each of these events."""
    found: dict[int, list[Report]] = defaultdict(list)
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
            found[event_id].append(Report(title, url, source, _utc(published_at)))
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


def open_deliveries(
    session: Session,
    watchlist: str,
    recipients: tuple[str, ...],
    period: datetime,
    first_since: datetime,
) -> None:
    """Give each recipient a delivery for the period, covering what came since their last digest.

    A recipient whose earlier digest is still pending gets no new one: that one, when it is sent,
    covers everything up to its sending.
    """
    for recipient in recipients:
        rows = session.execute(
            select(DigestDelivery.period, DigestDelivery.until, DigestDelivery.state)
            .where(DigestDelivery.watchlist == watchlist, DigestDelivery.recipient == recipient)
            .order_by(DigestDelivery.period.desc())
            .limit(1)
        ).all()
        since = first_since
        if rows:
            last_period, last_until, last_state = rows[0]
            if last_state == "pending" or as_utc(last_period) >= period:
                continue
            since = as_utc(last_until or last_period)
        session.execute(
            dialect_insert(session, DigestDelivery)
            .values(
                watchlist=watchlist,
                recipient=recipient,
                period=period,
                since=since,
                state="pending",
            )
            .on_conflict_do_nothing(index_elements=["watchlist", "recipient", "period"])
        )


@dataclass(frozen=True)
class Delivery:
    """A digest to send: for whom, which watchlist and which stretch of time."""

    id: int
    watchlist: str
    recipient: str
    period: datetime
    since: datetime
    attempts: int


def pending(session: Session, watchlist: str) -> list[Delivery]:
    """A watchlist's deliveries not sent yet, oldest first."""
    rows = session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.watchlist == watchlist, DigestDelivery.state == "pending")
        .order_by(DigestDelivery.period, DigestDelivery.recipient)
    ).scalars()
    return [_delivery(row) for row in rows]


def take(session: Session, delivery_id: int) -> Delivery | None:
    """Lock a pending delivery for sending; None when it was sent meanwhile."""
    row = session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.state == "pending")
        .with_for_update()
    ).scalar_one_or_none()
    return _delivery(row) if row is not None else None


def mark_sending(
    session: Session,
    delivery_id: int,
    until: datetime,
    message_id: str,
    events: int,
    updates: int,
) -> None:
    """Record that a digest covering up to `until` is being handed to the server: never again.

    Committed before the server sees the message, so a run stopped at any point after this sends
    it at most once; if it stops before the server says yes, the digest shows as unconfirmed.
    """
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(
            state="sending",
            until=until,
            message_id=message_id,
            events=events,
            updates=updates,
            sent_at=datetime.now(UTC),  # when sending began, until it is confirmed
            attempts=DigestDelivery.attempts + 1,
            error=None,
        )
    )


def mark_sent(session: Session, delivery_id: int) -> None:
    """Record that the server took a digest."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(state="sent", sent_at=datetime.now(UTC))
    )


def mark_unconfirmed(session: Session, delivery_id: int, error: str) -> None:
    """Keep a digest whose handing-over broke off as sending: the server may have it."""
    session.execute(
        update(DigestDelivery).where(DigestDelivery.id == delivery_id).values(error=error[:2000])
    )


def unconfirmed(session: Session, watchlist: str, begun_before: datetime) -> list[Delivery]:
    """A watchlist's digests whose sending began before `begun_before` and was never confirmed."""
    rows = session.execute(
        select(DigestDelivery)
        .where(
            DigestDelivery.watchlist == watchlist,
            DigestDelivery.state == "sending",
            DigestDelivery.sent_at < begun_before,
        )
        .order_by(DigestDelivery.period, DigestDelivery.recipient)
    ).scalars()
    return [_delivery(row) for row in rows]


def settle_unconfirmed(
    session: Session, watchlist: str, begun_before: datetime, arrived: bool
) -> int:
    """At the user's word, mark a watchlist's unconfirmed digests sent, or queue them again."""
    result = session.execute(
        update(DigestDelivery)
        .where(
            DigestDelivery.watchlist == watchlist,
            DigestDelivery.state == "sending",
            DigestDelivery.sent_at < begun_before,
        )
        .values(state="sent" if arrived else "pending")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(session: Session, delivery_id: int, error: str) -> None:
    """Record a failed attempt the server never took; the delivery waits for the next run."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(state="pending", sent_at=None, error=error[:2000])
    )


def _delivery(row: DigestDelivery) -> Delivery:
    return Delivery(
        row.id, row.watchlist, row.recipient, as_utc(row.period), as_utc(row.since), row.attempts
    )
