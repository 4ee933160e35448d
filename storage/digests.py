"""Digests: the events a watchlist wants since its last digest, and their deliveries."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from models import Article, DigestDelivery, Event, EventElement, EventTarget, Mention, Source
from pipeline.watchlists import Filters
from storage.engine import as_utc
from storage.sessions import dialect_insert

CHUNK = 500
CHART_DAYS = 30


@dataclass(frozen=True)
class Report:
    """An article reporting an event, as a digest links to it."""

    title: str
    url: str
    source: str
    published_at: datetime | None
    sentence: str


@dataclass(frozen=True)
class DigestEvent:
    """An event a digest tells about: new, or known with new reports."""

    id: int
    actor: str | None
    actor_body: str | None
    action: str
    measure: str
    status: str
    modality: str | None
    elements: tuple[str, ...]
    targets: tuple[str, ...]
    announced_on: date | None
    effective_on: date | None
    expires_on: date | None
    source_count: int
    summary: str
    evidence: str
    reports: tuple[Report, ...]  # the reports that arrived in the digest's period
    is_new: bool


def digest_events(
    session: Session, filters: Filters, since: datetime, until: datetime
) -> list[DigestEvent]:
    """Events matching the filters with reports extracted in [since, until): new, or updates."""
    window = _extracted_between(since, until)
    events = _matching(session, filters, _reported(session, since, until))
    if not events:
        return []
    ids = sorted(events)
    earlier = set(
        session.scalars(
            select(Mention.event_id)
            .join(Article, Article.id == Mention.article_id)
            .where(Mention.event_id.in_(ids), Article.extracted_at < since)
        )
    )
    reports: dict[int, dict[str, Report]] = defaultdict(dict)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(
                Mention.event_id,
                Article.title,
                Article.url,
                func.coalesce(Source.name, ""),
                Article.published_at,
                Mention.sentence,
            )
            .join(Article, Article.id == Mention.article_id)
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Mention.event_id.in_(ids[start : start + CHUNK]), window)
            .order_by(Article.published_at, Article.id, Mention.start_char)
        )
        for event_id, title, url, source, published_at, sentence in rows:
            reports[event_id].setdefault(url, Report(title, url, source, published_at, sentence))
    found = []
    for event_id in ids:
        row, elements, targets = events[event_id]
        new_reports = tuple(reports[event_id].values())
        found.append(
            DigestEvent(
                id=event_id,
                actor=row.actor,
                actor_body=row.actor_body,
                action=row.action,
                measure=row.measure,
                status=row.status,
                modality=row.modality,
                elements=elements,
                targets=targets,
                announced_on=row.announced_on,
                effective_on=row.effective_on,
                expires_on=row.expires_on,
                source_count=row.source_count,
                summary=row.summary,
                evidence=new_reports[0].sentence if new_reports else "",
                reports=new_reports,
                is_new=event_id not in earlier,
            )
        )
    return sorted(found, key=lambda e: (not e.is_new, -e.source_count, e.summary, e.id))


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


def _matching(
    session: Session, filters: Filters, event_ids: list[int]
) -> dict[int, tuple[Event, tuple[str, ...], tuple[str, ...]]]:
    """The events among these ids that pass a watchlist's filters, with elements and targets."""
    matching: dict[int, tuple[Event, tuple[str, ...], tuple[str, ...]]] = {}
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        elements: dict[int, list[str]] = defaultdict(list)
        targets: dict[int, list[str]] = defaultdict(list)
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
        for row in session.execute(select(Event).where(Event.id.in_(chunk))).scalars():
            if _passes(filters, row, elements[row.id], targets[row.id]):
                matching[row.id] = (row, tuple(elements[row.id]), tuple(targets[row.id]))
    return matching


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


def element_counts(session: Session, filters: Filters, until: datetime) -> list[tuple[str, int]]:
    """Matching events per element, among those reported in the 30 days up to `until`."""
    candidates = _reported(session, until - timedelta(days=CHART_DAYS), until)
    counts: Counter[str] = Counter()
    for _, elements, _ in _matching(session, filters, candidates).values():
        counts.update(e for e in elements if not filters.elements or e in filters.elements)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


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
