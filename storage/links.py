"""Moving mentions between events: as grouping places them, and as analysts put them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models import Article, Mention, MentionElement, Review

CHUNK = 500
LINK = "\n"  # an `event` review's value: the URL and sentence of a mention of the event it joins
KindKey = tuple[str | None, str, str]  # actor, action, measure


def move_mentions(session: Session, mention_ids: Sequence[int], event_id: int) -> None:
    """Move mentions to an event without tripping the one-per-sentence key on the way."""
    for start in range(0, len(mention_ids), CHUNK):
        chunk = mention_ids[start : start + CHUNK]
        # Negative starts cannot meet a mention still waiting to move out of the event.
        session.execute(
            update(Mention)
            .where(Mention.id.in_(chunk))
            .values(event_id=event_id, start_char=-Mention.start_char - 1)
        )
    for start in range(0, len(mention_ids), CHUNK):
        chunk = mention_ids[start : start + CHUNK]
        session.execute(
            update(Mention).where(Mention.id.in_(chunk)).values(start_char=-Mention.start_char - 1)
        )


def join_event(session: Session, mention_id: int, event_id: int) -> None:
    """Move one mention to an event; where the event already holds its sentence, merge into that."""
    # Columns, not the ORM object: bulk moves may have left a loaded one behind the database.
    mention = session.execute(
        select(Mention.event_id, Mention.article_id, Mention.start_char).where(
            Mention.id == mention_id
        )
    ).first()
    if mention is None or mention.event_id == event_id:
        return
    held = session.scalar(
        select(Mention.id).where(
            Mention.event_id == event_id,
            Mention.article_id == mention.article_id,
            Mention.start_char == mention.start_char,
        )
    )
    if held is None:
        move_mentions(session, [mention_id], event_id)
        return
    names = set(
        session.scalars(
            select(MentionElement.element).where(MentionElement.mention_id == mention_id)
        )
    )
    have = set(
        session.scalars(select(MentionElement.element).where(MentionElement.mention_id == held))
    )
    session.add_all(MentionElement(mention_id=held, element=name) for name in names - have)
    session.execute(delete(Mention).where(Mention.id == mention_id))
    session.flush()


def linked_pairs(session: Session, mention_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Pairs of these mentions an analyst put in one event (merged, or moved into another's)."""
    wanted = set(mention_ids)
    latest: dict[tuple[str, str], str | None] = {}
    for url, evidence, after in session.execute(
        select(Review.article_url, Review.evidence, Review.after)
        .where(Review.field == "event")
        .order_by(Review.id)
    ):
        latest[(url, evidence)] = after
    pairs: list[tuple[int, int]] = []
    for (url, evidence), anchor in latest.items():
        if not anchor or LINK not in anchor:
            continue
        anchor_url, anchor_sentence = anchor.split(LINK, 1)
        joined = _mentions_of(session, url, evidence) & wanted
        anchors = _mentions_of(session, anchor_url, anchor_sentence) & wanted
        pairs += [(one, other) for one in sorted(joined) for other in sorted(anchors)]
    return pairs


def _mentions_of(session: Session, url: str, sentence: str) -> set[int]:
    """The mentions of a sentence of an article."""
    return set(
        session.scalars(
            select(Mention.id)
            .join(Article, Article.id == Mention.article_id)
            .where(Article.url == url, Mention.sentence == sentence)
        )
    )
