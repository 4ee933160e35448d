"""Annotations: an article's tags, mentions and the events they join, written from an Annotation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models import (
    Article,
    ElementMention,
    EntityMention,
    Event,
    HeldCandidate,
    Mention,
    MentionElement,
    Quantity,
)
from storage.consolidation import Family, Kind, consolidate, host_event, lock_families
from storage.reviews import Claim, corrected_claims

if TYPE_CHECKING:
    from models.annotation import Annotation, EventRecord

STATUS_OF_ANNOTATION = {"read": "done", "screened": "screened", "skipped": "skipped"}
EXTRACTED = frozenset(STATUS_OF_ANNOTATION.values())  # the statuses of an article the extractor saw


def save_annotation(session: Session, article_id: int, annotation: Annotation) -> list[int]:
    """Replace an article's tags and mentions with a new annotation and consolidate its events.

    Returns the events it touched. The article row is locked first, so a second worker annotating
    the same article waits, then sees it done by the same extractor version and leaves it alone.
    """
    kinds, touched = store_annotation(session, article_id, annotation)
    return sorted(consolidate(session, kinds, touched)) if kinds or touched else []


def lock_for_annotations(session: Session, annotations: Sequence[tuple[int, Annotation]]) -> None:
    """Take every family lock a batch of annotations will need, at once and in one order.

    Two workers storing batches then never wait on each other in a circle.
    """
    ids = [article_id for article_id, _ in annotations]
    earlier = session.execute(
        select(Event.actor, Event.measure)
        .join(Mention, Mention.event_id == Event.id)
        .where(Mention.article_id.in_(ids))
        .distinct()
    ).all()
    families = {Family(row.actor, row.measure) for row in earlier}
    families |= {
        Family(record.actor, record.measure)
        for _, annotation in annotations
        for record in annotation.events
    }
    lock_families(session, families)


def store_annotation(
    session: Session, article_id: int, annotation: Annotation
) -> tuple[set[Kind], set[int]]:
    """Replace an article's tags and mentions; return the kinds and events to consolidate.

    The new mentions wait in a host event of their kind until the caller consolidates, in the
    same transaction.
    """
    current = session.execute(
        select(Article.extraction_status, Article.extractor_version)
        .where(Article.id == article_id)
        .with_for_update()
    ).one_or_none()
    if current is None or (
        current.extraction_status in EXTRACTED
        and current.extractor_version == annotation.extractor_version
    ):
        return set(), set()
    for table in (ElementMention, EntityMention, Quantity, HeldCandidate):
        session.execute(delete(table).where(table.article_id == article_id))
    earlier = session.execute(
        select(Event.id, Event.actor, Event.action, Event.measure)
        .join(Mention, Mention.event_id == Event.id)
        .where(Mention.article_id == article_id)
        .distinct()
    ).all()
    kinds = {Kind(row.actor, row.action, row.measure) for row in earlier}
    readings = [(record, mention) for record in annotation.events for mention in record.mentions]
    url = session.scalar(select(Article.url).where(Article.id == article_id)) or ""
    claims = corrected_claims(
        session, url, [(mention.sentence, _claim(record)) for record, mention in readings]
    )  # analysts' reviews of these sentences hold whatever read them
    kinds |= {found[0].kind for found in claims if found is not None}
    lock_families(session, {kind.family for kind in kinds})
    touched = {row.id for row in earlier}
    session.execute(delete(Mention).where(Mention.article_id == article_id))
    session.add_all(
        ElementMention(
            article_id=article_id,
            element=tag.name,
            symbol=tag.symbol,
            element_group=tag.group,
            is_group=tag.is_group,
            form=tag.form,
            text=tag.text,
            start_char=tag.start,
            end_char=tag.end,
        )
        for tag in annotation.element_tags
    )
    session.add_all(
        EntityMention(
            article_id=article_id,
            kind=tag.kind,
            canonical=tag.canonical[:200],
            jurisdiction=tag.jurisdiction,
            text=tag.text,
            start_char=tag.start,
            end_char=tag.end,
        )
        for tag in annotation.entity_tags
    )
    session.add_all(
        Quantity(
            article_id=article_id,
            value=tag.value,
            unit=tag.unit[:40],
            qualifier=tag.qualifier,
            text=tag.text,
            start_char=tag.start,
            end_char=tag.end,
        )
        for tag in _first_per_start(annotation.quantities)
    )
    session.add_all(
        HeldCandidate(
            article_id=article_id,
            actor=record.actor,
            action=record.action,
            measure=record.measure,
            confidence=mention.confidence,
            sentence=mention.sentence,
            start_char=mention.start,
            end_char=mention.end,
        )
        for record in annotation.candidates
        for mention in record.mentions
    )
    written: dict[tuple[Kind, int], tuple[int, set[str]]] = {}
    for (record, mention), found in zip(readings, claims, strict=True):
        if found is None:  # an analyst said this sentence reports no event
            continue
        claim, reviewed = found
        kind = claim.kind
        host = host_event(session, kind, record.actor_body)
        touched.add(host)
        if (kind, mention.start) in written:  # two records of one article state this sentence
            mention_id, named = written[(kind, mention.start)]
            session.add_all(
                MentionElement(mention_id=mention_id, element=name)
                for name in set(claim.elements) - named
            )
            named.update(claim.elements)
            continue
        same_target = claim.target == record.target
        row = Mention(
            event_id=host,
            article_id=article_id,
            sentence=mention.sentence,
            start_char=mention.start,
            end_char=mention.end,
            reported_label=mention.reported_label,
            modality=mention.modality,
            confidence=mention.confidence,
            announced_on=claim.announced_on,
            effective_on=claim.effective_on,
            expires_on=claim.expires_on,
            actor_body=record.actor_body,
            target=claim.target,
            target_count=record.target_count if same_target else None,
            target_unit=record.target_unit if same_target else None,
            recalls_on=record.date_of("recalled"),
            instrument=record.instrument,
            reviewed=reviewed,
        )
        session.add(row)
        session.flush()
        written[(kind, mention.start)] = (row.id, set(claim.elements))
        session.add_all(MentionElement(mention_id=row.id, element=name) for name in claim.elements)
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            extraction_status=STATUS_OF_ANNOTATION[annotation.status],
            extraction_note=annotation.note,
            extractor_version=annotation.extractor_version,
            on_topic=annotation.on_topic,
            extracted_at=datetime.now(UTC),
        )
    )
    session.flush()
    return kinds, touched


def _claim(record: EventRecord) -> Claim:
    """What a record says of its act, as reviews correct it."""
    return Claim(
        actor=record.actor,
        action=record.action,
        measure=record.measure,
        target=record.target,
        elements=frozenset(record.elements),
        announced_on=record.date_of("announced"),
        effective_on=record.date_of("effective"),
        expires_on=record.date_of("expires"),
    )


def _first_per_start(tags: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for tag in tags:
        seen.setdefault(tag.start, tag)
    return list(seen.values())
