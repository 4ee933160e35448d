"""An event's row refreshed from its mentions: elements, targets, dates, counts and summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from models import Article, Event, EventElement, EventTarget, Mention, MentionElement
from models.grouping import AFFIRMING, best_supported, disputed
from models.vocabulary import load_vocabulary
from storage.engine import as_utc


def refresh_event(session: Session, event_id: int) -> None:
    """Recompute an event's elements, targets, dates, counts and conflicts from its mentions."""
    rows = session.execute(
        select(
            Mention.article_id,
            Article.source_id,
            func.coalesce(Article.published_at, Article.fetched_at).label("seen"),
            Mention.announced_on,
            Mention.effective_on,
            Mention.expires_on,
            Mention.recalls_on,
            Mention.modality,
            Mention.actor_body,
            Mention.target,
            Mention.target_count,
            Mention.target_unit,
            Mention.instrument,
        )
        .join(Article, Article.id == Mention.article_id)
        .where(Mention.event_id == event_id)
    ).all()
    if not rows:
        session.execute(delete(Event).where(Event.id == event_id))
        return
    elements = set(
        session.scalars(
            select(MentionElement.element)
            .join(Mention, Mention.id == MentionElement.mention_id)
            .where(Mention.event_id == event_id)
        )
    )
    _replace_children(session, event_id, elements, rows)
    labels = session.scalars(select(Mention.reviewed).where(Mention.event_id == event_id))
    reviewed = sorted({name for text in labels for name in text.split(",") if name})
    seen = [as_utc(row.seen) for row in rows if row.seen is not None]
    claimed = {
        name: [getattr(row, name) for row in rows]
        for name in ("announced_on", "effective_on", "expires_on", "recalls_on", "target")
    }
    claimed["modality"] = [_polarity(row.modality) for row in rows]
    session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(
            article_count=len({row.article_id for row in rows}),
            source_count=len({row.source_id for row in rows if row.source_id is not None}),
            first_seen=min(seen) if seen else datetime.now(UTC),
            last_seen=max(seen) if seen else datetime.now(UTC),
            announced_on=best_supported(claimed["announced_on"]),
            effective_on=best_supported(claimed["effective_on"]),
            expires_on=best_supported(claimed["expires_on"]),
            modality=best_supported(row.modality for row in rows),
            actor_body=best_supported(row.actor_body for row in rows),
            instrument=best_supported(row.instrument for row in rows),
            conflicts=",".join(name for name, values in claimed.items() if disputed(values)),
            reviewed=",".join(reviewed),
        )
    )
    _refresh_summary(session, event_id)


def _polarity(modality: str | None) -> str | None:
    """Asserted and reported claims say the same thing; denials and suppositions differ."""
    return "affirmed" if modality in AFFIRMING else modality


def _replace_children(
    session: Session, event_id: int, elements: set[str], rows: Sequence[Any]
) -> None:
    vocabulary = load_vocabulary()
    session.execute(delete(EventElement).where(EventElement.event_id == event_id))
    session.execute(delete(EventTarget).where(EventTarget.event_id == event_id))
    if elements:
        session.execute(
            insert(EventElement),
            [
                {
                    "event_id": event_id,
                    "element": name,
                    "symbol": vocabulary.element(name).symbol,
                    "element_group": vocabulary.element(name).group,
                }
                for name in sorted(elements)
            ],
        )
    targets = sorted({row.target for row in rows if row.target})
    if targets:
        session.execute(
            insert(EventTarget),
            [
                {
                    "event_id": event_id,
                    "target": target,
                    "kind": "country",
                    "count": best_supported(r.target_count for r in rows if r.target == target),
                    "count_unit": best_supported(r.target_unit for r in rows if r.target == target),
                }
                for target in targets
            ],
        )


def _refresh_summary(session: Session, event_id: int) -> None:
    event = session.execute(
        select(Event.actor, Event.action, Event.measure).where(Event.id == event_id)
    ).one()
    elements = ", ".join(
        session.scalars(
            select(EventElement.element)
            .where(EventElement.event_id == event_id)
            .order_by(EventElement.element)
        )
    )
    targets = ", ".join(
        session.scalars(
            select(EventTarget.target)
            .where(EventTarget.event_id == event_id)
            .order_by(EventTarget.target)
        )
    )
    summary = f"{event.actor or '?'} {event.action} {event.measure.replace('_', ' ')} on {elements or 'unnamed items'}"
    summary += f" (target {targets})" if targets else ""
    session.execute(update(Event).where(Event.id == event_id).values(summary=summary))
