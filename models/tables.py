"""The tables users query: sources, fetches, articles, events and their evidence."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """A configured source and its fetch health."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HttpValidator(Base):
    """What a configured URL last sent: ETag, Last-Modified and body hash, for conditional GET."""

    __tablename__ = "http_validators"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Fetch(Base):
    """One HTTP attempt: what was asked, what came back, how it was classified."""

    __tablename__ = "fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_fetches_source_fetched", "source_id", "fetched_at"),)


class Article(Base):
    """One distinct article, keyed by its canonical URL."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    text_extractor: Mapped[str] = mapped_column(String(40), default="", server_default="")
    guid: Mapped[str | None] = mapped_column(String(500))
    raw_html: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_content_type: Mapped[str | None] = mapped_column(Text)
    on_topic: Mapped[bool | None] = mapped_column()
    extractor_version: Mapped[str | None] = mapped_column(String(40))
    extraction_status: Mapped[str] = mapped_column(
        String(20), default="pending", server_default="pending", index=True
    )
    extraction_note: Mapped[str | None] = mapped_column(Text)  # why failed, skipped or screened
    extracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What an official register says of the document (`models.facts.DocumentFacts`), as JSON.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


Index("ix_articles_source_guid", Article.source_id, Article.guid)


class ArticleBand(Base):
    """One band of an article's MinHash signature: articles sharing a bucket may be near-duplicates."""

    __tablename__ = "article_bands"

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Event(Base):
    """One policy event (an announcement or action), however many articles report it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    actor: Mapped[str | None] = mapped_column(String(8), index=True)
    actor_body: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    announced_on: Mapped[date | None] = mapped_column(Date)
    effective_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    instrument: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    first_seen: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    last_seen: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    article_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    modality: Mapped[str | None] = mapped_column(String(20))
    conflicts: Mapped[str] = mapped_column(Text, default="", server_default="")
    # No foreign key: SQLite could add one only by rebuilding `events`, which would cascade.
    changes_event_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # What analysts said of its mentions: "confirmed" and the fields they corrected, comma-separated.
    reviewed: Mapped[str] = mapped_column(Text, default="", server_default="")

    elements: Mapped[list[EventElement]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventElement.element"
    )
    targets: Mapped[list[EventTarget]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventTarget.target"
    )
    __table_args__ = (Index("ix_events_kind", "actor", "action", "measure"),)


class EventElement(Base):
    """An element an event applies to."""

    __tablename__ = "event_elements"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    element: Mapped[str] = mapped_column(String(40), index=True)
    symbol: Mapped[str | None] = mapped_column(String(4))
    element_group: Mapped[str] = mapped_column(String(40))
    form: Mapped[str | None] = mapped_column(String(40))

    event: Mapped[Event] = relationship(back_populates="elements")
    __table_args__ = (UniqueConstraint("event_id", "element"),)


class EventTarget(Base):
    """A country or named entity an event is aimed at."""

    __tablename__ = "event_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    count: Mapped[int | None] = mapped_column(Integer)
    count_unit: Mapped[str | None] = mapped_column(String(40))

    event: Mapped[Event] = relationship(back_populates="targets")
    __table_args__ = (UniqueConstraint("event_id", "target"),)


class Mention(Base):
    """Evidence that an article reports an event: its sentence, wording and modality."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    sentence: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    reported_label: Mapped[str] = mapped_column(Text)
    modality: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    announced_on: Mapped[date | None] = mapped_column(Date)
    effective_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    actor_body: Mapped[str | None] = mapped_column(String(80))
    target: Mapped[str | None] = mapped_column(String(200))
    target_count: Mapped[int | None] = mapped_column(Integer)
    target_unit: Mapped[str | None] = mapped_column(String(40))
    recalls_on: Mapped[date | None] = mapped_column(Date)  # the date of the measure it changes
    instrument: Mapped[str | None] = mapped_column(Text)  # the legal instrument this report names
    reviewed: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("article_id", "event_id", "start_char"),)


class HeldCandidate(Base):
    """An act the decision read in an article but held back: below the event threshold, not an event."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str] = mapped_column(String(40))
    confidence: Mapped[float] = mapped_column(Float)
    sentence: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)


class Review(Base):
    """An analyst's word on a reported act, keyed on what re-reading keeps: article and sentence."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_url: Mapped[str] = mapped_column(Text, index=True)
    evidence: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(20))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(80))
    reviewed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class MentionElement(Base):
    """An element as one mention names it: the claim's own list, before consolidation."""

    __tablename__ = "mention_elements"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    element: Mapped[str] = mapped_column(String(40), primary_key=True)


class MeasurePeriod(Base):
    """A stretch of time in which a measure (a founding event and its changes) is in one state."""

    __tablename__ = "measure_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    source_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    article_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The earliest and latest article on the measure, kept here so status need not rank mentions.
    first_article_id: Mapped[int | None] = mapped_column(Integer)
    latest_article_id: Mapped[int | None] = mapped_column(Integer)


class ElementMention(Base):
    """An element or element group named in an article."""

    __tablename__ = "element_mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    element: Mapped[str] = mapped_column(String(40), index=True)
    symbol: Mapped[str | None] = mapped_column(String(4))
    element_group: Mapped[str] = mapped_column(String(40))
    is_group: Mapped[bool] = mapped_column(default=False, server_default="0")
    form: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("article_id", "start_char", "element"),)


class EntityMention(Base):
    """A country, body or company named in an article, normalised."""

    __tablename__ = "entity_mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    canonical: Mapped[str] = mapped_column(String(200), index=True)
    jurisdiction: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("article_id", "start_char", "kind"),)


class Quantity(Base):
    """A number in an article with what it counts or measures."""

    __tablename__ = "quantities"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    qualifier: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("article_id", "start_char"),)


class JobRun(Base):
    """One run of a scheduled job: unique per job and scheduled time, so a double fire runs once."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    articles: Mapped[int | None] = mapped_column(Integer)
    events: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)


class DigestDelivery(Base):
    """One digest for one recipient of a watchlist and period: sent once, or pending until it is."""

    __tablename__ = "digest_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(320))
    period: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    events: Mapped[int | None] = mapped_column(Integer)
    updates: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("watchlist", "recipient", "period"),)


class QueueError(Base):
    """Why a job of the distributed queue failed: procrastinate keeps its state, newstrack the error."""

    __tablename__ = "queue_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, index=True)
    task: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PendingConsolidation(Base):
    """A kind of event whose mentions changed since it was last grouped, and an event it touched."""

    __tablename__ = "pending_consolidation"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
