"""Consolidation in the database: regroup the mentions of one kind of event, relink measures."""

from __future__ import annotations

import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from models import (
    Article,
    Event,
    EventElement,
    EventTarget,
    MeasurePeriod,
    Mention,
    MentionElement,
    PendingConsolidation,
)
from models.grouping import (
    AFFIRMING,
    STATE_OF_ACTION,
    Claim,
    EventFacts,
    best_supported,
    group_claims,
    link_changes,
    timeline,
)
from storage.engine import as_utc
from storage.event_refresh import refresh_event
from storage.links import linked_pairs, move_mentions
from storage.queries import existing_events

CHUNK = 500


@dataclass(frozen=True)
class Kind:
    """Events of one kind may be one event: same actor, action and measure."""

    actor: str | None
    action: str
    measure: str

    @property
    def family(self) -> Family:
        """The measures this kind of event founds or changes."""
        return Family(self.actor, self.measure)


@dataclass(frozen=True)
class Family:
    """Events of one actor and measure: the foundings and the changes linked to them."""

    actor: str | None
    measure: str


def actor_is(actor: str | None) -> ColumnElement[bool]:
    """Events of this actor, or of none."""
    return Event.actor.is_(None) if actor is None else Event.actor == actor


def _of_kind(kind: Kind) -> tuple[ColumnElement[bool], ...]:
    return (actor_is(kind.actor), Event.action == kind.action, Event.measure == kind.measure)


def lock_families(session: Session, families: Iterable[Family]) -> None:
    """On PostgreSQL, serialise writers consolidating the same families; SQLite writers are serial."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for family in sorted(set(families), key=family_order):
        key = zlib.crc32(f"{family.actor}|{family.measure}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def host_event(session: Session, kind: Kind, actor_body: str | None) -> int:
    """An event of this kind to hold new mentions until they are regrouped: the oldest, or a new one."""
    existing = session.scalar(select(func.min(Event.id)).where(*_of_kind(kind)))
    return existing if existing is not None else _new_event(session, kind, actor_body)


def _new_event(session: Session, kind: Kind, actor_body: str | None) -> int:
    event = Event(
        event_key=uuid.uuid4().hex,
        actor=kind.actor,
        actor_body=actor_body,
        action=kind.action,
        measure=kind.measure,
        status=STATE_OF_ACTION[kind.action],
    )
    session.add(event)
    session.flush()
    return event.id


def claims_of(session: Session, kind: Kind) -> tuple[list[Claim], dict[int, tuple[int, int, int]]]:
    """The claims of one kind of event, and each one's event, article and sentence start."""
    rows = session.execute(
        select(
            Mention.id,
            Mention.event_id,
            Mention.article_id,
            Mention.start_char,
            func.coalesce(Mention.announced_on, Mention.effective_on),
            Mention.target,
            func.coalesce(Article.published_at, Article.fetched_at),
        )
        .join(Event, Event.id == Mention.event_id)
        .join(Article, Article.id == Mention.article_id)
        .where(*_of_kind(kind))
    ).all()
    elements: dict[int, set[str]] = defaultdict(set)
    for mention_id, element in session.execute(
        select(MentionElement.mention_id, MentionElement.element)
        .join(Mention, Mention.id == MentionElement.mention_id)
        .join(Event, Event.id == Mention.event_id)
        .where(*_of_kind(kind))
    ):
        elements[mention_id].add(element)
    claims = [
        Claim(
            id=row[0],
            elements=frozenset(elements[row[0]]),
            target=row[5],
            on=_as_date(row[4]),
            published=_as_date(row[6]),
        )
        for row in rows
    ]
    return claims, {row[0]: (row[1], row[2], row[3]) for row in rows}


def _as_date(value: date | datetime | str | None) -> date | None:
    """A day from a date, a time or the text SQLite gives for a computed value."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def regroup(session: Session, kind: Kind) -> set[int]:
    """Split one kind's mentions into events again; return the events whose mentions changed.

    An event keeps its id when it keeps most of its mentions, so ids stay stable as articles
    arrive; events left with no mention are deleted.
    """
    claims, where = claims_of(session, kind)
    together = linked_pairs(session, where)  # analysts' merges and moves hold at every regrouping
    groups = [_without_repeats(session, group, where) for group in group_claims(claims, together)]
    assigned: dict[int, tuple[int, ...]] = {}
    for group in sorted(groups, key=lambda group: (-len(group), group)):
        held = Counter(where[mention_id][0] for mention_id in group)
        free = [event_id for event_id in held if event_id not in assigned]
        if free:
            event_id = min(free, key=lambda event_id: (-held[event_id], event_id))
        else:
            body = session.scalar(
                select(Mention.actor_body).where(
                    Mention.id.in_(group[:CHUNK]), Mention.actor_body.is_not(None)
                )
            )
            event_id = _new_event(session, kind, body)
        assigned[event_id] = group
    changed: set[int] = set()
    for event_id, group in assigned.items():
        moving = [mention_id for mention_id in group if where[mention_id][0] != event_id]
        if moving:
            changed.add(event_id)
            changed.update(where[mention_id][0] for mention_id in moving)
            move_mentions(session, moving, event_id)
    emptied = {event_id for event_id, _, _ in where.values()} - set(assigned)
    if emptied:
        session.execute(
            update(Event).where(Event.changes_event_id.in_(emptied)).values(changes_event_id=None)
        )
        session.execute(delete(Event).where(Event.id.in_(emptied)))
    return changed - emptied


def _without_repeats(
    session: Session, group: tuple[int, ...], where: dict[int, tuple[int, int, int]]
) -> tuple[int, ...]:
    """One mention per article sentence in an event: merge the elements of repeats into the first."""
    first: dict[tuple[int, int], int] = {}
    repeats: list[int] = []
    for mention_id in group:
        _, article_id, start = where[mention_id]
        kept = first.setdefault((article_id, start), mention_id)
        if kept == mention_id:
            continue
        repeats.append(mention_id)
        names = [
            select(MentionElement.element).where(MentionElement.mention_id == one)
            for one in (kept, mention_id)
        ]
        have, more = (set(session.scalars(query)) for query in names)
        session.add_all(MentionElement(mention_id=kept, element=name) for name in more - have)
        session.flush()
    if repeats:
        session.execute(delete(Mention).where(Mention.id.in_(repeats)))
    return tuple(mention_id for mention_id in group if mention_id not in repeats)


def relink(session: Session, family: Family) -> None:
    """Link a family's changes to the impositions they change, and rebuild their timelines."""
    events = session.execute(
        select(
            Event.id,
            Event.action,
            func.coalesce(Event.effective_on, Event.announced_on),
            Event.first_seen,
            Event.expires_on,
            Event.modality,
        ).where(actor_is(family.actor), Event.measure == family.measure)
    ).all()
    if not events:
        return
    ids = [row[0] for row in events]
    elements: dict[int, set[str]] = defaultdict(set)
    targets: dict[int, set[str]] = defaultdict(set)
    counted: set[int] = set()
    recalled: dict[int, list[date]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for event_id, day in session.execute(
            select(Mention.event_id, Mention.recalls_on).where(Mention.event_id.in_(chunk))
        ):
            if day is not None:
                recalled[event_id].append(day)
        for event_id, element in session.execute(
            select(EventElement.event_id, EventElement.element).where(
                EventElement.event_id.in_(chunk)
            )
        ):
            elements[event_id].add(element)
        for event_id, target, target_count in session.execute(
            select(EventTarget.event_id, EventTarget.target, EventTarget.count).where(
                EventTarget.event_id.in_(chunk)
            )
        ):
            targets[event_id].add(target)
            if target_count is not None:
                counted.add(event_id)
    facts = [
        EventFacts(
            id=row[0],
            action=row[1],
            elements=frozenset(elements[row[0]]),
            targets=frozenset(targets[row[0]]),
            on=_as_date(row[2]) or _as_date(row[3]) or date.today(),
            expires_on=row[4],
            affirmed=row[5] is None or row[5] in AFFIRMING,
            recalls=best_supported(recalled[row[0]]),
            counted=row[0] in counted,
        )
        for row in events
    ]
    links = link_changes(facts)
    for measure_id in {link for link in links.values()} | {None}:
        chosen = [event_id for event_id, link in links.items() if link == measure_id]
        for start in range(0, len(chosen), CHUNK):
            session.execute(
                update(Event)
                .where(Event.id.in_(chosen[start : start + CHUNK]))
                .values(changes_event_id=measure_id)
            )
    for start in range(0, len(ids), CHUNK):
        session.execute(
            delete(MeasurePeriod).where(MeasurePeriod.measure_id.in_(ids[start : start + CHUNK]))
        )
    by_id = {fact.id: fact for fact in facts}
    measure_of = {event_id: link or event_id for event_id, link in links.items()}
    reports: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    # The earliest and latest article of each measure; ties go by URL, so arrival order and the
    # ids it gives do not matter.
    first: dict[int, tuple[datetime, str, int]] = {}
    latest: dict[int, tuple[datetime, str, int]] = {}
    for start in range(0, len(ids), CHUNK):
        for event_id, article_id, source_id, seen, url in session.execute(
            select(
                Mention.event_id,
                Mention.article_id,
                Article.source_id,
                func.coalesce(Article.published_at, Article.fetched_at),
                Article.url,
            )
            .join(Article, Article.id == Mention.article_id)
            .where(Mention.event_id.in_(ids[start : start + CHUNK]))
        ):
            measure_id = measure_of[event_id]
            articles, sources = reports[measure_id]
            articles.add(article_id)
            if source_id is not None:
                sources.add(source_id)
            ranked = (as_utc(seen), url, article_id)
            first[measure_id] = min(first.get(measure_id, ranked), ranked)
            latest[measure_id] = max(latest.get(measure_id, ranked), ranked)
    periods = [
        period
        for fact in facts
        if links[fact.id] is None
        for period in timeline(
            fact, [by_id[event_id] for event_id, link in links.items() if link == fact.id]
        )
    ]
    if periods:
        session.execute(
            insert(MeasurePeriod),
            [
                {
                    "measure_id": period.measure_id,
                    "event_id": period.event_id,
                    "state": period.state,
                    "starts_on": period.starts_on,
                    "ends_on": period.ends_on,
                    "source_count": len(reports[period.measure_id][1]),
                    "article_count": len(reports[period.measure_id][0]),
                    "first_article_id": _article_of(first.get(period.measure_id)),
                    "latest_article_id": _article_of(latest.get(period.measure_id)),
                }
                for period in periods
            ],
        )


def _article_of(ranked: tuple[datetime, str, int] | None) -> int | None:
    return ranked[2] if ranked else None


def consolidate(session: Session, kinds: Iterable[Kind], touched: Iterable[int] = ()) -> set[int]:
    """Regroup these kinds of event and relink their families; return the events that changed.

    `touched` names events whose mentions the caller added or removed.
    """
    kinds = sorted(set(kinds), key=lambda kind: (kind.actor or "", kind.action, kind.measure))
    changed = set(touched)
    for kind in kinds:
        changed |= regroup(session, kind)
    session.flush()
    changed = existing_events(session, changed)
    for event_id in sorted(changed):
        refresh_event(session, event_id)
    for family in sorted({kind.family for kind in kinds}, key=family_order):
        relink(session, family)
    return changed


def queue_consolidation(session: Session, kinds: Iterable[Kind], touched: Iterable[int]) -> None:
    """Mark kinds of event, and events whose mentions changed, to be consolidated later."""
    rows = [
        {"actor": kind.actor, "action": kind.action, "measure": kind.measure, "event_id": None}
        for kind in set(kinds)
    ]
    touched = sorted(set(touched))
    for start in range(0, len(touched), CHUNK):
        rows += [
            {"actor": row.actor, "action": row.action, "measure": row.measure, "event_id": row.id}
            for row in session.execute(
                select(Event.id, Event.actor, Event.action, Event.measure).where(
                    Event.id.in_(touched[start : start + CHUNK])
                )
            )
        ]
    if rows:
        session.execute(insert(PendingConsolidation), rows)


def consolidate_queued(session: Session) -> set[int]:
    """Consolidate every kind queued by earlier transactions; return the events that changed.

    Another writer consolidating at the same time skips the queue rows this one holds.
    """
    rows = session.execute(
        select(
            PendingConsolidation.id,
            PendingConsolidation.actor,
            PendingConsolidation.action,
            PendingConsolidation.measure,
            PendingConsolidation.event_id,
        )
        .order_by(PendingConsolidation.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return set()
    kinds = {Kind(row.actor, row.action, row.measure) for row in rows}
    lock_families(session, {kind.family for kind in kinds})
    touched = {row.event_id for row in rows if row.event_id is not None}
    changed = consolidate(session, kinds, touched)  # it drops events since deleted
    ids = [row.id for row in rows]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            delete(PendingConsolidation).where(
                PendingConsolidation.id.in_(ids[start : start + CHUNK])
            )
        )
    return changed


def family_order(family: Family) -> tuple[str, str]:
    """The order families are locked and consolidated in."""
    return (family.actor or "", family.measure)
