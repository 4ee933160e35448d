"""Consolidating the stored events again from their mentions, one family at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import Event, PendingConsolidation
from storage.consolidation import Family, Kind, actor_is, consolidate, family_order, lock_families


def families(session: Session) -> list[Family]:
    """Every actor and measure with events stored."""
    rows = session.execute(select(Event.actor, Event.measure).distinct())
    return sorted((Family(actor, measure) for actor, measure in rows), key=family_order)


def consolidate_family(session: Session, family: Family) -> int:
    """Regroup every event of one actor and measure from its mentions; return how many changed."""
    lock_families(session, [family])
    rows = session.execute(
        select(Event.id, Event.action).where(
            actor_is(family.actor), Event.measure == family.measure
        )
    ).all()
    kinds = {Kind(family.actor, action, family.measure) for _, action in rows}
    before = {
        row[0]: row[1:]
        for row in session.execute(_event_state().where(Event.id.in_([row[0] for row in rows])))
    }
    consolidate(session, kinds, touched=[row[0] for row in rows])
    _forget_pending(session, family)
    after = {
        row[0]: row[1:]
        for row in session.execute(
            _event_state().where(actor_is(family.actor), Event.measure == family.measure)
        )
    }
    return sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def _forget_pending(session: Session, family: Family) -> None:
    """Drop a family's queued consolidations, except those another writer holds."""
    held = (
        select(PendingConsolidation.id)
        .where(
            PendingConsolidation.actor.is_(None)
            if family.actor is None
            else PendingConsolidation.actor == family.actor,
            PendingConsolidation.measure == family.measure,
        )
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(PendingConsolidation).where(PendingConsolidation.id.in_(held)))


def _event_state() -> Any:
    """What a user sees change in an event when it is consolidated again."""
    return select(
        Event.id,
        Event.article_count,
        Event.source_count,
        Event.announced_on,
        Event.effective_on,
        Event.expires_on,
        Event.conflicts,
        Event.changes_event_id,
        Event.summary,
    )
