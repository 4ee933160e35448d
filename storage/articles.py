"""Articles: storing them with their raw pages, signature bands and near-duplicate links."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from models import Article, ArticleBand, Event, Mention
from models.facts import DocumentFacts
from models.pages import compress_page
from models.similarity import NEAR_DUPLICATE, Fingerprint, fingerprint
from storage.consolidation import Kind, consolidate, lock_families
from storage.sessions import dialect_insert


@dataclass(frozen=True)
class NewArticle:
    """An article ready to be stored."""

    url: str
    source_id: int | None
    title: str
    published_at: datetime | None
    text: str
    language: str | None
    text_extractor: str
    raw_html: bytes | None = None
    raw_content_type: str | None = None
    guid: str | None = None
    facts: DocumentFacts | None = None  # what an official register says of the document

    @property
    def content_hash(self) -> str:
        """SHA-256 of the whitespace-normalised text."""
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """SHA-256 of whitespace-normalised text: equal for texts that differ only in spacing."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def article_texts(session: Session, urls: list[str]) -> dict[str, tuple[int, str]]:
    """Id and text of the stored articles among `urls`."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(urls), 500):
        rows = session.execute(
            select(Article.url, Article.id, Article.text).where(
                Article.url.in_(urls[start : start + 500])
            )
        )
        found.update({url: (article_id, text) for url, article_id, text in rows})
    return found


def article_facts(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The stored register facts (`DocumentFacts.to_json`) of the articles among `ids` that have them."""
    wanted = sorted(set(ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Article.id, Article.facts).where(
                Article.id.in_(wanted[start : start + 500]), Article.facts.is_not(None)
            )
        )
        found.update({row.id: row.facts for row in rows if row.facts is not None})
    return found


def known_guids(session: Session, source_id: int | None, guids: list[str]) -> set[str]:
    """The GUIDs among `guids` a source's stored articles already carry."""
    if source_id is None or not guids:
        return set()
    found: set[str] = set()
    for start in range(0, len(guids), 500):
        chunk = guids[start : start + 500]
        found.update(
            guid
            for guid in session.scalars(
                select(Article.guid).where(Article.source_id == source_id, Article.guid.in_(chunk))
            )
            if guid is not None
        )
    return found


def known_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """The URLs among `urls` already stored as articles."""
    wanted = list(dict.fromkeys(urls))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(Article.url).where(Article.url.in_(chunk))))
    return found


def adopt_articles(session: Session, source_id: int, urls: Iterable[str]) -> list[int]:
    """Give stored articles a source that lists them too and was configured earlier; return them.

    An article in two feeds belongs to the first configured source (the lowest id), whichever
    fetch stored it first, so runs in any order, at once or after a crash, count sources alike.
    The events the moved articles report are consolidated again: their source counts changed.
    """
    wanted = sorted(set(urls))
    moved: list[int] = []
    for start in range(0, len(wanted), 500):
        moved += session.scalars(
            update(Article)
            .where(
                Article.url.in_(wanted[start : start + 500]),
                or_(Article.source_id.is_(None), Article.source_id > source_id),
            )
            .values(source_id=source_id)
            .returning(Article.id)
        ).all()
    if moved:
        reported = session.execute(
            select(Event.id, Event.actor, Event.action, Event.measure)
            .join(Mention, Mention.event_id == Event.id)
            .where(Mention.article_id.in_(moved))
            .distinct()
        ).all()
        kinds = {Kind(row.actor, row.action, row.measure) for row in reported}
        lock_families(session, {kind.family for kind in kinds})
        consolidate(session, kinds, {row.id for row in reported})
    return sorted(moved)


def add_article(session: Session, article: NewArticle) -> int | None:
    """Store an article unless its URL, its source's GUID or its text in the same source is stored.

    Returns the new id. The same text, or nearly the same, from another source (a syndicated wire
    story) is stored too, linked to the earliest stored copy by `duplicate_of`, so that every outlet
    reporting an event counts.
    """
    content_hash = article.content_hash
    same_text = session.execute(
        select(Article.id, Article.source_id, Article.duplicate_of)
        .where(Article.content_hash == content_hash)
        .order_by(Article.id)
    ).all()
    if any(row.source_id == article.source_id for row in same_text):
        return None
    if article.guid and known_guids(session, article.source_id, [article.guid]):
        return None
    signature = fingerprint(article.text)
    if same_text:
        original: tuple[int, float] | None = (same_text[0].duplicate_of or same_text[0].id, 1.0)
    else:
        original = _near_duplicate_of(session, signature, article.url) if signature else None
    statement = (
        dialect_insert(session, Article)
        .values(
            url=article.url,
            source_id=article.source_id,
            title=article.title,
            published_at=article.published_at,
            text=article.text,
            language=article.language,
            content_hash=content_hash,
            text_extractor=article.text_extractor,
            raw_html=compress_page(article.raw_html) if article.raw_html is not None else None,
            raw_content_type=article.raw_content_type,
            guid=article.guid or None,
            duplicate_of=original[0] if original else None,
            similarity=original[1] if original else None,
            minhash=signature.signature if signature else None,
            facts=article.facts.to_json() if article.facts is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Article.id)
    )
    article_id: int | None = session.execute(statement).scalar_one_or_none()
    if article_id is not None:
        _add_bands(session, article_id, signature)
    return article_id


def _near_duplicate_of(
    session: Session, signature: Fingerprint, url: str
) -> tuple[int, float] | None:
    """The original of the stored article most like `signature`, with their similarity, if any."""
    candidates = session.execute(
        select(Article.id, Article.duplicate_of, Article.minhash)
        .where(
            Article.id.in_(
                select(ArticleBand.article_id).where(
                    tuple_(ArticleBand.band, ArticleBand.bucket).in_(
                        list(enumerate(signature.bands))
                    )
                )
            ),
            Article.url != url,
            Article.minhash.is_not(None),
        )
        .order_by(Article.id)
    ).all()
    best: tuple[float, int] | None = None
    for row in candidates:
        similarity = signature.similarity(Fingerprint(row.minhash))
        if similarity >= NEAR_DUPLICATE and (best is None or similarity > best[0]):
            best = (similarity, row.duplicate_of or row.id)
    return (best[1], best[0]) if best else None


def replace_text(session: Session, article_id: int, text: str, text_extractor: str) -> None:
    """Store re-extracted text with its fingerprint and queue the article for extraction again."""
    signature = fingerprint(text)
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            text=text,
            content_hash=text_hash(text),
            text_extractor=text_extractor,
            extraction_status="pending",
            extractor_version=None,
            minhash=signature.signature if signature else None,
        )
    )
    session.execute(delete(ArticleBand).where(ArticleBand.article_id == article_id))
    _add_bands(session, article_id, signature)


def _add_bands(session: Session, article_id: int, signature: Fingerprint | None) -> None:
    """Index an article's signature bands, so later near-duplicates find it."""
    if signature is not None:
        session.execute(
            insert(ArticleBand),
            [
                {"band": band, "bucket": bucket, "article_id": article_id}
                for band, bucket in enumerate(signature.bands)
            ],
        )


def mark_extraction_failed(session: Session, article_id: int, error: str) -> None:
    """Record why an article could not be annotated, so it is not retried forever."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            extraction_status="failed",
            extraction_note=error[:2000],
            extracted_at=datetime.now(UTC),
        )
    )
