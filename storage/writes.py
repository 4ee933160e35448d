"""Writes: sources, fetch attempts, articles, annotations and the events they report."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from models import (
    Article,
    ArticleBand,
    ElementMention,
    EntityMention,
    Event,
    Fetch,
    HttpValidator,
    Mention,
    MentionElement,
    Quantity,
    Source,
)
from models.similarity import NEAR_DUPLICATE, Fingerprint, fingerprint
from models.urls import without_credentials
from storage.consolidation import Family, Kind, consolidate, host_event, lock_families
from storage.sessions import dialect_insert

if TYPE_CHECKING:
    from models.annotation import Annotation
    from models.fetched import FetchResult
    from models.source import SourceConfig

STATUS_OF_ANNOTATION = {"read": "done", "screened": "screened", "skipped": "skipped"}
EXTRACTED = frozenset(STATUS_OF_ANNOTATION.values())  # the statuses of an article the extractor saw
FIRST_BACKOFF = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=24)


@dataclass(frozen=True)
class NewArticle:
    """An article ready to be stored."""

    url: str
    source_id: int | None
    title: str
    published_at: datetime | None
    text: str
    language: str | None
    extractor: str
    raw_html: bytes | None = None
    raw_content_type: str | None = None
    guid: str | None = None

    @property
    def content_hash(self) -> str:
        """SHA-256 of the whitespace-normalised text."""
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """SHA-256 of whitespace-normalised text: equal for texts that differ only in spacing."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def compress_page(body: bytes) -> bytes:
    """Raw pages are kept zlib-compressed: news HTML shrinks to a fifth or less."""
    return zlib.compress(body, 6)


def decompress_page(stored: bytes) -> bytes:
    """The raw page as fetched."""
    return zlib.decompress(stored)


def sync_sources(session: Session, sources: Sequence[SourceConfig]) -> dict[str, int]:
    """Insert or update one row per configured source; return their ids by name."""
    for source in sources:
        statement = dialect_insert(session, Source).values(
            name=source.name, kind=source.kind, url=without_credentials(source.urls[0])
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"kind": statement.excluded.kind, "url": statement.excluded.url},
            )
        )
    rows = session.execute(
        select(Source.name, Source.id).where(Source.name.in_([s.name for s in sources]))
    )
    return {name: source_id for name, source_id in rows}


def record_fetch(session: Session, source_id: int | None, result: FetchResult) -> None:
    """Log one HTTP attempt."""
    session.add(
        Fetch(
            source_id=source_id,
            url=without_credentials(result.url),
            status_code=result.status_code,
            outcome=str(result.outcome),
            bytes=len(result.body),
            duration_ms=result.duration_ms,
            error=without_credentials(result.error) if result.error else None,
        )
    )


def update_source_health(session: Session, source_id: int, result: FetchResult) -> None:
    """On success, clear the failure count; on failure, count it and back off, capped."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"last_fetched_at": now}
    if result.outcome in ("success", "not_modified"):
        values.update(last_success_at=now, consecutive_failures=0, next_due_at=now, last_error=None)
    else:
        failures = (
            session.scalar(select(Source.consecutive_failures).where(Source.id == source_id)) or 0
        ) + 1
        values.update(
            consecutive_failures=failures,
            next_due_at=now + backoff_after(failures),
            last_error=without_credentials(f"{result.outcome}: {result.error}")[:2000],
        )
    session.execute(update(Source).where(Source.id == source_id).values(**values))


def save_validators(
    session: Session, source_id: int, url: str, result: FetchResult, body_hash: str | None
) -> None:
    """Keep a configured URL's validators as sent on every 200 and 304, and its body hash."""
    values: dict[str, Any] = {"source_id": source_id, "updated_at": datetime.now(UTC)}
    if result.outcome == "success":  # a 200 says it all, including that a validator is gone
        values.update(etag=result.etag, last_modified=result.last_modified)
    else:  # a 304 may refresh one validator and leave the other as it was
        values.update(
            {
                name: value
                for name, value in (("etag", result.etag), ("last_modified", result.last_modified))
                if value
            }
        )
    if body_hash is not None:
        values["body_hash"] = body_hash
    statement = dialect_insert(session, HttpValidator).values(
        url=without_credentials(url), **values
    )
    session.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))


def validators_of(session: Session, url: str) -> tuple[str | None, str | None, str | None]:
    """A configured URL's ETag, Last-Modified and last body hash."""
    row = session.execute(
        select(HttpValidator.etag, HttpValidator.last_modified, HttpValidator.body_hash).where(
            HttpValidator.url == without_credentials(url)
        )
    ).one_or_none()
    return (row.etag, row.last_modified, row.body_hash) if row is not None else (None, None, None)


def backoff_after(failures: int) -> timedelta:
    """How long a source rests after failures in a row: 15 min doubling, at most a day."""
    return min(FIRST_BACKOFF * (1 << min(max(failures - 1, 0), 16)), MAX_BACKOFF)


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


def forget_validators(session: Session, source_id: int) -> None:
    """Drop a source's validators and body hashes, so its next fetch reads everything."""
    session.execute(delete(HttpValidator).where(HttpValidator.source_id == source_id))


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
            extractor=article.extractor,
            raw_html=compress_page(article.raw_html) if article.raw_html is not None else None,
            raw_content_type=article.raw_content_type,
            guid=article.guid or None,
            duplicate_of=original[0] if original else None,
            similarity=original[1] if original else None,
            minhash=signature.signature if signature else None,
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


def replace_text(session: Session, article_id: int, text: str, extractor: str) -> None:
    """Store re-extracted text with its fingerprint and queue the article for extraction again."""
    signature = fingerprint(text)
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            text=text,
            content_hash=text_hash(text),
            extractor=extractor,
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
    for table in (ElementMention, EntityMention, Quantity):
        session.execute(delete(table).where(table.article_id == article_id))
    earlier = session.execute(
        select(Event.id, Event.actor, Event.action, Event.measure)
        .join(Mention, Mention.event_id == Event.id)
        .where(Mention.article_id == article_id)
        .distinct()
    ).all()
    kinds = {Kind(row.actor, row.action, row.measure) for row in earlier}
    kinds |= {Kind(record.actor, record.action, record.measure) for record in annotation.events}
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
    written: dict[tuple[Kind, int], tuple[int, set[str]]] = {}
    for record in annotation.events:
        kind = Kind(record.actor, record.action, record.measure)
        host = host_event(session, kind, record.actor_body)
        touched.add(host)
        for mention in record.mentions:
            if (kind, mention.start) in written:  # two records of one article state this sentence
                mention_id, named = written[(kind, mention.start)]
                session.add_all(
                    MentionElement(mention_id=mention_id, element=name)
                    for name in set(record.elements) - named
                )
                named.update(record.elements)
                continue
            row = Mention(
                event_id=host,
                article_id=article_id,
                sentence=mention.sentence,
                start_char=mention.start,
                end_char=mention.end,
                reported_label=mention.reported_label,
                modality=mention.modality,
                confidence=mention.confidence,
                announced_on=record.date_of("announced"),
                effective_on=record.date_of("effective"),
                expires_on=record.date_of("expires"),
                actor_body=record.actor_body,
                target=record.target,
                target_count=record.target_count,
                target_unit=record.target_unit,
                recalls_on=record.date_of("recalled"),
            )
            session.add(row)
            session.flush()
            written[(kind, mention.start)] = (row.id, set(record.elements))
            session.add_all(
                MentionElement(mention_id=row.id, element=name) for name in set(record.elements)
            )
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


def _first_per_start(tags: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for tag in tags:
        seen.setdefault(tag.start, tag)
    return list(seen.values())
