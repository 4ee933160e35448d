"""What the board shows: measures' histories, events with their evidence, articles with their tags."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, column, func, or_, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session

from models import (
    Article,
    ElementMention,
    EntityMention,
    Event,
    EventElement,
    HeldCandidate,
    MeasurePeriod,
    Mention,
    Source,
)
from storage.engine import as_utc
from storage.queries import event_lists

SEARCH_LIMIT = 100  # search lists at most this many events and articles each
# What full-text search reads of each table, and its FTS5 table (SQLite) or GIN index (PostgreSQL).
# Scripts written without spaces between words: Han (with its extensions), kana.
UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
SEARCHED = {
    "articles": ("search_articles", ("title", "text")),
    "mentions": ("search_mentions", ("sentence",)),
}


@dataclass(frozen=True)
class EventRow:
    """One event as the board lists it: what was done, on what, to whom, when, how often reported."""

    id: int
    measure_id: int  # the founding event of the measure it belongs to (itself when it founds one)
    actor: str | None
    actor_body: str | None
    action: str
    measure: str
    status: str
    modality: str | None
    announced_on: date | None
    effective_on: date | None
    expires_on: date | None
    first_seen: datetime
    summary: str
    conflicts: str
    articles: int
    sources: int
    elements: tuple[str, ...]
    targets: tuple[str, ...]
    reviewed: str = ""  # "confirmed" and the fields analysts corrected, comma-separated

    @property
    def day(self) -> date:
        """The day the event happened as far as the reports tell: announced, effective, first seen."""
        return self.announced_on or self.effective_on or self.first_seen.date()


@dataclass(frozen=True)
class Period:
    """A stretch of a measure's history in one state, and the event that began it."""

    state: str
    starts_on: date
    ends_on: date | None  # the first day no longer in this state
    event_id: int
    action: str


@dataclass(frozen=True)
class MeasureHistory:
    """A measure: its founding event, every event that changed it, and its periods."""

    founding: EventRow
    events: tuple[EventRow, ...]
    periods: tuple[Period, ...]


@dataclass(frozen=True)
class MentionRow:
    """One article's report of an event: its sentence and what the reading made of it."""

    id: int
    event_id: int
    article_id: int
    url: str
    title: str
    source: str | None
    published: datetime | None
    sentence: str
    start_char: int
    end_char: int
    modality: str
    confidence: float
    announced_on: date | None
    effective_on: date | None
    expires_on: date | None
    target: str | None
    reviewed: str
    recalls_on: date | None = None


@dataclass(frozen=True)
class Tag:
    """A span of an article's text the reading marked: an element, an entity, an act or a candidate."""

    kind: str  # element, group, country, body, company, event, candidate
    label: str
    start: int
    end: int
    detail: str = ""


@dataclass(frozen=True)
class ArticlePage:
    """An article with every tag, every event it reports and every act held back as a candidate."""

    id: int
    url: str
    title: str
    source: str | None
    published: datetime | None
    fetched: datetime
    text: str
    status: str
    note: str | None
    extractor_version: str | None
    on_topic: bool | None
    tags: tuple[Tag, ...]
    mentions: tuple[MentionRow, ...]


@dataclass(frozen=True)
class Freshness:
    """How fresh the data is: the newest article and successful fetch, and the counts."""

    newest_article: datetime | None
    last_success: datetime | None
    articles: int
    events: int


def _measure_of() -> Any:
    """The measure an event belongs to: the event it changes, else itself."""
    return func.coalesce(Event.changes_event_id, Event.id)


def _event_day() -> Any:
    """An event's day in SQL: announced, else effective, else the day it was first seen."""
    first_day = func.date(Event.first_seen, type_=Date)
    return func.coalesce(Event.announced_on, Event.effective_on, first_day, type_=Date)


def events_by_id(session: Session, ids: Sequence[int]) -> list[EventRow]:
    """The events with these ids, with their elements and targets, in the order given."""
    unique = sorted(set(ids))
    if not unique:
        return []
    # Columns, not ORM objects: a page may list thousands of events.
    columns = (
        Event.id,
        _measure_of().label("measure_id"),
        Event.actor,
        Event.actor_body,
        Event.action,
        Event.measure,
        Event.status,
        Event.modality,
        Event.announced_on,
        Event.effective_on,
        Event.expires_on,
        Event.first_seen,
        Event.summary,
        Event.conflicts,
        Event.article_count.label("articles"),
        Event.source_count.label("sources"),
        Event.reviewed,
    )
    rows: dict[int, Any] = {}
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for row in session.execute(select(*columns).where(Event.id.in_(chunk))):
            rows[row.id] = row
    lists = event_lists(session, unique)
    found = []
    for event_id in ids:
        if event_id in rows:
            fields = rows[event_id]._asdict()
            fields["first_seen"] = _utc(fields["first_seen"])
            elements, targets = lists[event_id]
            found.append(EventRow(**fields, elements=elements, targets=targets))
    return found


def recent_events(session: Session, since: date, until: date) -> list[EventRow]:
    """Events that happened between two days (announced, else effective, else first seen), newest first."""
    day = _event_day()
    ids = session.scalars(
        select(Event.id).where(day >= since, day <= until).order_by(day.desc(), Event.id)
    ).all()
    return events_by_id(session, list(ids))


def measures_on_element(session: Session, elements: Sequence[str]) -> list[MeasureHistory]:
    """Every measure with an event on one of these elements, each with its whole history."""
    founding: Sequence[int] = session.scalars(
        select(_measure_of())
        .join(EventElement, EventElement.event_id == Event.id)
        .where(EventElement.element.in_(list(elements)))
        .distinct()
    ).all()
    return histories(session, list(founding))


def histories(session: Session, measure_ids: Sequence[int]) -> list[MeasureHistory]:
    """The history of each measure: its events by day and its periods, earliest measure first."""
    unique = sorted(set(measure_ids))
    if not unique:
        return []
    member_ids = session.scalars(
        select(Event.id).where(or_(Event.id.in_(unique), Event.changes_event_id.in_(unique)))
    ).all()
    rows = events_by_id(session, list(member_ids))
    by_measure: dict[int, list[EventRow]] = defaultdict(list)
    for row in rows:
        by_measure[row.measure_id].append(row)
    periods: dict[int, list[Period]] = defaultdict(list)
    for measure_id, state, starts_on, ends_on, event_id, action in session.execute(
        select(
            MeasurePeriod.measure_id,
            MeasurePeriod.state,
            MeasurePeriod.starts_on,
            MeasurePeriod.ends_on,
            MeasurePeriod.event_id,
            Event.action,
        )
        .join(Event, Event.id == MeasurePeriod.event_id)
        .where(MeasurePeriod.measure_id.in_(unique))
        .order_by(MeasurePeriod.starts_on, MeasurePeriod.id)
    ):
        periods[measure_id].append(Period(state, starts_on, ends_on, event_id, action))
    found = []
    for measure_id in unique:
        events = sorted(by_measure[measure_id], key=lambda e: (e.day, e.id))
        founding = next((e for e in events if e.id == measure_id), None)
        if founding is None:
            continue
        found.append(MeasureHistory(founding, tuple(events), tuple(periods[measure_id])))
    return sorted(found, key=lambda h: (h.events[0].day, h.founding.id))


def mentions_of(session: Session, event_ids: Sequence[int]) -> list[MentionRow]:
    """Every report of these events, earliest article first."""
    if not event_ids:
        return []
    return _mention_rows(
        session,
        Mention.event_id.in_(sorted(set(event_ids))),
        func.coalesce(Article.published_at, Article.fetched_at),
    )


def _mention_rows(session: Session, condition: Any, order: Any) -> list[MentionRow]:
    """The mentions meeting a condition, with their articles, in an order (then by id)."""
    rows = session.execute(
        select(Mention, Article.url, Article.title, Source.name, Article.published_at)
        .join(Article, Article.id == Mention.article_id)
        .outerjoin(Source, Source.id == Article.source_id)
        .where(condition)
        .order_by(order, Mention.id)
    )
    return [_mention_row(row) for row in rows]


def _mention_row(row: Any) -> MentionRow:
    mention = row.Mention
    return MentionRow(
        id=mention.id,
        event_id=mention.event_id,
        article_id=mention.article_id,
        url=row.url,
        title=row.title,
        source=row.name,
        published=_utc(row.published_at),
        sentence=mention.sentence,
        start_char=mention.start_char,
        end_char=mention.end_char,
        modality=mention.modality,
        confidence=mention.confidence,
        announced_on=mention.announced_on,
        effective_on=mention.effective_on,
        expires_on=mention.expires_on,
        target=mention.target,
        reviewed=mention.reviewed,
        recalls_on=mention.recalls_on,
    )


def article_page(session: Session, article_id: int) -> ArticlePage | None:
    """An article with its tags, the events it reports and the candidates held back, or None."""
    row = session.execute(
        select(Article, Source.name)
        .outerjoin(Source, Source.id == Article.source_id)
        .where(Article.id == article_id)
    ).first()
    if row is None:
        return None
    article = row.Article
    tags: list[Tag] = []
    for element in session.scalars(
        select(ElementMention).where(ElementMention.article_id == article_id)
    ):
        kind = "group" if element.is_group else "element"
        tags.append(Tag(kind, element.element, element.start_char, element.end_char))
    for entity in session.scalars(
        select(EntityMention).where(EntityMention.article_id == article_id)
    ):
        detail = entity.jurisdiction or ""
        tags.append(Tag(entity.kind, entity.canonical, entity.start_char, entity.end_char, detail))
    for held in session.scalars(
        select(HeldCandidate).where(HeldCandidate.article_id == article_id)
    ):
        label = f"{held.actor or '?'} {held.action} {held.measure}"
        tags.append(
            Tag("candidate", label, held.start_char, held.end_char, f"{held.confidence:.2f}")
        )
    mentions = _mention_rows(session, Mention.article_id == article_id, Mention.start_char)
    return ArticlePage(
        id=article.id,
        url=article.url,
        title=article.title,
        source=row.name,
        published=_utc(article.published_at),
        fetched=_utc(article.fetched_at),
        text=article.text,
        status=article.extraction_status,
        note=article.extraction_note,
        extractor_version=article.extractor_version,
        on_topic=article.on_topic,
        tags=tuple(sorted(tags, key=lambda t: (t.start, -t.end))),
        mentions=tuple(mentions),
    )


def freshness(session: Session) -> Freshness:
    """The newest article, the last successful fetch, and how many articles and events there are."""
    return Freshness(
        newest_article=_utc(session.scalar(select(func.max(Article.fetched_at)))),
        last_success=_utc(session.scalar(select(func.max(Source.last_success_at)))),
        articles=session.scalar(select(func.count()).select_from(Article)) or 0,
        events=session.scalar(select(func.count()).select_from(Event)) or 0,
    )


def search_events(
    session: Session,
    words: str,
    elements: Sequence[str] = (),
    actor: str | None = None,
    measure: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[EventRow]:
    """Events whose evidence holds every word (stemmed: "ban" finds "bans"), narrowed by the filters."""
    query = select(Event.id).distinct()
    if words.split():
        query = query.join(Mention, Mention.event_id == Event.id).where(
            Mention.id.in_(_matching(session, "mentions", words))
        )
    if elements:
        query = query.where(
            Event.id.in_(
                select(EventElement.event_id).where(EventElement.element.in_(list(elements)))
            )
        )
    if actor:
        query = query.where(Event.actor == actor)
    if measure:
        query = query.where(Event.measure == measure)
    day = _event_day()
    if since:
        query = query.where(day >= since)
    if until:
        query = query.where(day <= until)
    ids = session.scalars(query.limit(SEARCH_LIMIT)).all()
    return sorted(events_by_id(session, list(ids)), key=lambda e: (e.day, e.id), reverse=True)


def search_articles(session: Session, words: str) -> list[tuple[int, str, str, datetime | None]]:
    """Articles whose title or text holds every word: id, title, URL and publication time."""
    if not words.split():
        return []
    query = select(Article.id, Article.title, Article.url, Article.published_at).where(
        Article.id.in_(_matching(session, "articles", words))
    )
    rows = session.execute(
        query.order_by(func.coalesce(Article.published_at, Article.fetched_at).desc()).limit(
            SEARCH_LIMIT
        )
    )
    return [(row.id, row.title, row.url, _utc(row.published_at)) for row in rows]


def _matching(session: Session, table: str, words: str) -> Any:
    """The ids of the rows of `articles` (title and text) or `mentions` (sentence) holding every
    word, by the full-text search migration 0018 made: FTS5 on SQLite, GIN on PostgreSQL.

    Chinese and Japanese are written without spaces, so those indexes hold a whole run of
    characters as one word: a term in those scripts is matched inside the text instead.
    """
    search, columns = SEARCHED[table]
    terms = words.split()
    unspaced = [term for term in terms if UNSPACED_SCRIPT.search(term)]
    spaced = " ".join(term for term in terms if term not in unspaced)
    rows = sql_table(table, column("id"), *(column(name) for name in columns))
    found = select(rows.c.id).where(
        *(
            or_(*(rows.c[name].contains(term, autoescape=True) for name in columns))
            for term in unspaced
        )
    )
    if not spaced:
        return found
    if session.get_bind().dialect.name == "postgresql":
        # The expression of the index, word for word, so PostgreSQL uses it.
        document = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
        sql = (
            f"SELECT id FROM {table} "
            f"WHERE to_tsvector('english', {document}) @@ plainto_tsquery('english', :words)"
        )
        indexed = text(sql).bindparams(words=spaced).columns(column("id"))
    else:
        phrase = " ".join('"' + term.replace('"', '""') + '"' for term in spaced.split())
        sql = f"SELECT rowid FROM {search} WHERE {search} MATCH :words"
        indexed = text(sql).bindparams(words=phrase).columns(column("rowid"))
    return found.where(rows.c.id.in_(indexed)) if unspaced else indexed


def _utc(moment: datetime | None) -> Any:
    """A stored time as an aware UTC time (SQLite keeps no zone)."""
    return as_utc(moment).astimezone(UTC) if moment is not None else None
