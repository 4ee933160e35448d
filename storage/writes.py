"""Writes: sources, fetch attempts, articles, annotations and the events they report."""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import (
    Article,
    ArticleBand,
    Base,
    ElementMention,
    EntityMention,
    Event,
    EventElement,
    EventTarget,
    Fetch,
    HttpValidator,
    Mention,
    Quantity,
    Source,
)
from models.vocabulary import load_vocabulary
from pipeline.similar import NEAR_DUPLICATE, Fingerprint, fingerprint

if TYPE_CHECKING:
    from pipeline.extract import Annotation, EventRecord
    from pipeline.fetch import FetchResult
    from pipeline.sources import SourceConfig

SAME_EVENT_DAYS = 31
STATUS_OF_ANNOTATION = {"read": "done", "screened": "screened", "skipped": "skipped"}
EXTRACTED = frozenset(STATUS_OF_ANNOTATION.values())  # the statuses of an article the extractor saw
FIRST_BACKOFF = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=24)
STATUS_OF_ACTION = {
    "impose": "in_force",
    "expand": "in_force",
    "maintain": "in_force",
    "extend": "in_force",
    "suspend": "suspended",
    "lift": "lifted",
    "ease": "eased",
    "threaten": "threatened",
}


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


def _insert(session: Session, model: type[Base]) -> Any:
    """An INSERT that understands ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def sync_sources(session: Session, sources: Sequence[SourceConfig]) -> dict[str, int]:
    """Insert or update one row per configured source; return their ids by name."""
    for source in sources:
        statement = _insert(session, Source).values(
            name=source.name, kind=source.kind, url=source.urls[0]
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
            url=result.url,
            status_code=result.status_code,
            outcome=str(result.outcome),
            bytes=len(result.body),
            duration_ms=result.duration_ms,
            error=result.error,
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
            last_error=f"{result.outcome}: {result.error}"[:2000],
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
    statement = _insert(session, HttpValidator).values(url=url, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))


def validators_of(session: Session, url: str) -> tuple[str | None, str | None, str | None]:
    """A configured URL's ETag, Last-Modified and last body hash."""
    row = session.execute(
        select(HttpValidator.etag, HttpValidator.last_modified, HttpValidator.body_hash).where(
            HttpValidator.url == url
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
        _insert(session, Article)
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
    """Replace an article's tags and mentions with a new annotation; return the events it touched.

    The article row is locked first, so a second worker annotating the same article waits, then
    sees it done by the same extractor version and leaves it alone.
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
        return []
    for table in (ElementMention, EntityMention, Quantity):
        session.execute(delete(table).where(table.article_id == article_id))
    touched = set(session.scalars(select(Mention.event_id).where(Mention.article_id == article_id)))
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
    written: set[tuple[int, int]] = set()
    for record in annotation.events:
        event_id = _find_or_create_event(session, record)
        touched.add(event_id)
        for mention in record.mentions:
            if (event_id, mention.start) in written:
                continue  # two records of one article may land on the same event
            written.add((event_id, mention.start))
            session.add(
                Mention(
                    event_id=event_id,
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
                )
            )
        _add_children(session, event_id, record)
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
    for event_id in sorted(touched):
        refresh_event(session, event_id)
    return sorted(touched)


def _first_per_start(tags: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for tag in tags:
        seen.setdefault(tag.start, tag)
    return list(seen.values())


def event_key(record: EventRecord) -> str:
    """A stable identity for the event a record founds."""
    parts = [
        record.actor or "-",
        record.action,
        record.measure,
        record.target or "-",
        *sorted(record.elements),
    ]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def _find_or_create_event(session: Session, record: EventRecord) -> int:
    """Join the record to an event with the same actor, action and measure that it overlaps, or found one."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers deciding about the same kind of event; SQLite writers are already serial.
        lock = zlib.crc32(f"{record.actor}|{record.action}|{record.measure}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    candidates = session.scalars(
        select(Event)
        .where(
            Event.actor.is_(None) if record.actor is None else Event.actor == record.actor,
            Event.action == record.action,
            Event.measure == record.measure,
        )
        .order_by(Event.id)
    ).all()
    for event in candidates:
        if _overlaps(session, event, record):
            return event.id
    key = event_key(record)
    existing = session.scalar(select(Event.id).where(Event.event_key == key))
    if existing is not None:
        return existing
    event = Event(
        event_key=key,
        actor=record.actor,
        actor_body=record.actor_body,
        action=record.action,
        measure=record.measure,
        status=STATUS_OF_ACTION.get(record.action, "reported"),
    )
    session.add(event)
    session.flush()
    return event.id


def _overlaps(session: Session, event: Event, record: EventRecord) -> bool:
    """Same event when targets agree, dates are compatible and elements overlap (or both name none)."""
    elements = set(
        session.scalars(select(EventElement.element).where(EventElement.event_id == event.id))
    )
    targets = set(
        session.scalars(select(EventTarget.target).where(EventTarget.event_id == event.id))
    )
    if record.target and targets and record.target not in targets:
        return False
    if not _dates_compatible(event.announced_on or event.effective_on, _record_date(record)):
        return False
    if elements and record.elements:
        return bool(elements.intersection(record.elements))
    return not elements and not record.elements


def _record_date(record: EventRecord) -> date | None:
    return record.date_of("announced") or record.date_of("effective")


def _dates_compatible(first: date | None, second: date | None) -> bool:
    """Dates a month apart or more belong to different actions; an unknown date fits any."""
    return first is None or second is None or abs((first - second).days) <= SAME_EVENT_DAYS


def _add_children(session: Session, event_id: int, record: EventRecord) -> None:
    vocabulary = load_vocabulary()
    for name in record.elements:
        element = vocabulary.element(name)
        session.execute(
            _insert(session, EventElement)
            .values(
                event_id=event_id, element=name, symbol=element.symbol, element_group=element.group
            )
            .on_conflict_do_nothing(index_elements=["event_id", "element"])
        )
    if record.target:
        session.execute(
            _insert(session, EventTarget)
            .values(
                event_id=event_id,
                target=record.target,
                kind="country",
                count=record.target_count,
                count_unit=record.target_unit,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "target"])
        )


def refresh_event(session: Session, event_id: int) -> None:
    """Recompute an event's counts, dates and first/last seen from its mentions."""
    rows = session.execute(
        select(
            Mention.article_id,
            Article.source_id,
            func.coalesce(Article.published_at, Article.fetched_at),
            Mention.announced_on,
            Mention.effective_on,
            Mention.expires_on,
        )
        .join(Article, Article.id == Mention.article_id)
        .where(Mention.event_id == event_id)
    ).all()
    if not rows:
        session.execute(delete(Event).where(Event.id == event_id))
        return
    seen = [_aware(row[2]) for row in rows if row[2] is not None]
    session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(
            article_count=len({row[0] for row in rows}),
            source_count=len({row[1] for row in rows if row[1] is not None}),
            first_seen=min(seen) if seen else datetime.now(UTC),
            last_seen=max(seen) if seen else datetime.now(UTC),
            announced_on=_best([row[3] for row in rows]),
            effective_on=_best([row[4] for row in rows]),
            expires_on=_best([row[5] for row in rows]),
        )
    )
    _refresh_summary(session, event_id)


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


def _best(values: Sequence[date | None]) -> date | None:
    """The most reported value; ties go to the earliest."""
    counts = Counter(value for value in values if value is not None)
    if not counts:
        return None
    return min(counts, key=lambda value: (-counts[value], value))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
