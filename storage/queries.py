"""Named read queries: articles waiting for extraction, totals, source health, stored pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from models import (
    Article,
    ElementMention,
    Event,
    EventElement,
    EventTarget,
    MeasurePeriod,
    Mention,
    MentionElement,
    Source,
)
from models.vocabulary import STATES


@dataclass(frozen=True)
class PendingArticle:
    """An article waiting for extraction."""

    id: int
    title: str
    text: str
    published_at: datetime | None
    language: str | None


@dataclass(frozen=True)
class DatabaseTotals:
    """Row counts users want to see after a run."""

    sources: int
    articles: int
    events: int
    mentions: int
    top_elements: list[tuple[str, int]]
    measures_today: dict[str, int]  # measures by their state today (UTC)
    with_instrument: int = 0  # events whose reports name their legal instrument
    instrument_also_elsewhere: int = 0  # of those, events reported by more than one source


def pending_article_ids(
    session: Session,
    limit: int | None = None,
    outdated_for: str | None = None,
    among: Sequence[int] | None = None,
) -> list[int]:
    """Articles waiting for extraction, oldest publication first, so any run consolidates alike.

    With `outdated_for` (an extractor version), articles another version extracted wait too;
    with `among`, only those articles are considered.
    """
    waiting = Article.extraction_status == "pending"
    if outdated_for is not None:
        waiting = or_(
            waiting,
            and_(
                Article.extraction_status != "pending",
                or_(Article.extractor_version.is_(None), Article.extractor_version != outdated_for),
            ),
        )
    if among is not None:
        waiting = and_(waiting, Article.id.in_(list(among)))
    query = (
        select(Article.id)
        .where(waiting)
        .order_by(Article.published_at.is_(None), Article.published_at, Article.url)
        .limit(limit)
    )
    return list(session.scalars(query))


CLAIM_LOCK = 0x6E657773  # advisory-lock namespace of articles claimed for extraction ("news")
CLAIM_WINDOW = 512  # waiting articles looked at per claim; the rest wait for the next one


def claim_pending_articles(session: Session, prefer: Sequence[int], size: int) -> list[int]:
    """On PostgreSQL, lock up to `size` waiting articles no other worker holds, `prefer` first.

    The locks are advisory and last as long as `session`'s transaction, so the articles can be
    written in other transactions meanwhile, and a worker that dies gives its claim back.
    """
    order = [Article.published_at.is_(None), Article.published_at, Article.url]
    if prefer:
        order.insert(0, Article.id.in_(list(prefer)).desc())
    waiting = (
        select(Article.id)
        .where(Article.extraction_status == "pending")
        .order_by(*order)
        .limit(CLAIM_WINDOW)
        .subquery()
    )
    claimed = (
        select(waiting.c.id)
        .where(func.pg_try_advisory_xact_lock(CLAIM_LOCK, waiting.c.id))
        .limit(size)
    )
    return list(session.scalars(claimed))


def articles_by_id(session: Session, ids: list[int]) -> list[PendingArticle]:
    """Articles to annotate, in the order of `ids`."""
    rows = session.execute(
        select(
            Article.id, Article.title, Article.text, Article.published_at, Article.language
        ).where(Article.id.in_(ids))
    )
    found = {row.id: PendingArticle(*row) for row in rows}
    return [found[article_id] for article_id in ids if article_id in found]


def totals(session: Session, top: int = 5) -> DatabaseTotals:
    """Counts of sources, articles, events and mentions, and the elements most articles name."""
    articles_per_element = func.count(distinct(ElementMention.article_id))
    top_elements = session.execute(
        select(ElementMention.element, articles_per_element)
        .where(ElementMention.is_group.is_(False))
        .group_by(ElementMention.element)
        .order_by(articles_per_element.desc(), ElementMention.element)
        .limit(top)
    ).all()
    return DatabaseTotals(
        sources=session.scalar(select(func.count()).select_from(Source)) or 0,
        articles=session.scalar(select(func.count()).select_from(Article)) or 0,
        events=session.scalar(select(func.count()).select_from(Event)) or 0,
        mentions=session.scalar(select(func.count()).select_from(Mention)) or 0,
        top_elements=[(name, count) for name, count in top_elements],
        measures_today=_measures_by_state(session, datetime.now(UTC).date()),
        with_instrument=session.scalar(
            select(func.count()).select_from(Event).where(Event.instrument.is_not(None))
        )
        or 0,
        instrument_also_elsewhere=session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.instrument.is_not(None), Event.source_count > 1)
        )
        or 0,
    )


def _measures_by_state(session: Session, on: date) -> dict[str, int]:
    rows = session.execute(
        select(MeasurePeriod.state, func.count(distinct(MeasurePeriod.measure_id)))
        .where(
            MeasurePeriod.starts_on <= on,
            or_(MeasurePeriod.ends_on.is_(None), MeasurePeriod.ends_on > on),
        )
        .group_by(MeasurePeriod.state)
    ).all()
    counts = {state: number for state, number in rows}
    return {state: counts[state] for state in STATES if state in counts}


@dataclass(frozen=True)
class ArticleExtraction:
    """One article's extraction: its elements and the events it mentions."""

    url: str
    on_topic: bool | None
    elements: set[str]
    events: list[tuple[str | None, str, str, set[str]]]


def article_extractions(session: Session) -> list[ArticleExtraction]:
    """Every article with its element names and mentioned events (elements of each event)."""
    articles = {
        article_id: ArticleExtraction(url, on_topic, set(), [])
        for article_id, url, on_topic in session.execute(
            select(Article.id, Article.url, Article.on_topic)
        )
    }
    for article_id, element in session.execute(
        select(ElementMention.article_id, ElementMention.element).where(
            ElementMention.is_group.is_(False)
        )
    ):
        articles[article_id].elements.add(element)
    claimed: dict[tuple[int, int], set[str]] = defaultdict(set)  # each article's own claim
    for article_id, event_id, element in session.execute(
        select(Mention.article_id, Mention.event_id, MentionElement.element).join(
            MentionElement, MentionElement.mention_id == Mention.id
        )
    ):
        claimed[(article_id, event_id)].add(element)
    rows = session.execute(
        select(Mention.article_id, Event.id, Event.actor, Event.action, Event.measure)
        .join(Event, Event.id == Mention.event_id)
        .distinct()
    )
    for article_id, event_id, actor, action, measure in rows:
        articles[article_id].events.append(
            (actor, action, measure, claimed.get((article_id, event_id), set()))
        )
    return list(articles.values())


@dataclass(frozen=True)
class StoredPage:
    """An article's raw page, as kept for re-extraction."""

    id: int
    url: str
    source: str | None
    text: str
    text_extractor: str
    raw_html: bytes
    raw_content_type: str | None


def article_ids_with_pages(session: Session, source_names: list[str] | None = None) -> list[int]:
    """Articles that kept their raw page, optionally of some sources only."""
    query = select(Article.id).where(Article.raw_html.is_not(None)).order_by(Article.id)
    if source_names:
        query = query.join(Source, Source.id == Article.source_id).where(
            Source.name.in_(source_names)
        )
    return list(session.scalars(query))


def stored_pages(session: Session, ids: list[int]) -> list[StoredPage]:
    """Raw pages of some articles, with their source's name."""
    rows = session.execute(
        select(
            Article.id,
            Article.url,
            Source.name,
            Article.text,
            Article.text_extractor,
            Article.raw_html,
            Article.raw_content_type,
        )
        .outerjoin(Source, Source.id == Article.source_id)
        .where(Article.id.in_(ids))
        .order_by(Article.id)
    )
    return [
        StoredPage(id, url, source, text, text_extractor, raw or b"", content_type)
        for id, url, source, text, text_extractor, raw, content_type in rows
    ]


@dataclass(frozen=True)
class SourceHealth:
    """How a source has been fetching."""

    name: str
    kind: str
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_due_at: datetime | None
    articles_7d: int


def source_health(session: Session, now: datetime) -> list[SourceHealth]:
    """Every source row with its health and the articles it brought in the last 7 days."""
    recent = (
        select(Article.source_id, func.count().label("n"))
        .where(Article.fetched_at >= now - timedelta(days=7))
        .group_by(Article.source_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Source.name,
            Source.kind,
            Source.last_success_at,
            Source.last_error,
            Source.consecutive_failures,
            Source.next_due_at,
            func.coalesce(recent.c.n, 0).label("articles_7d"),
        )
        .outerjoin(recent, recent.c.source_id == Source.id)
        .order_by(Source.name)
    )
    return [
        SourceHealth(
            name=row.name,
            kind=row.kind,
            last_success_at=row.last_success_at,
            last_error=row.last_error,
            consecutive_failures=row.consecutive_failures,
            next_due_at=row.next_due_at,
            articles_7d=int(row.articles_7d),
        )
        for row in rows
    ]


def resting_sources(session: Session, now: datetime) -> dict[str, datetime]:
    """Sources backing off after failures, with the time they are due again."""
    rows = session.execute(
        select(Source.name, Source.next_due_at).where(
            Source.consecutive_failures > 0, Source.next_due_at > now
        )
    )
    return {name: due for name, due in rows if due is not None}


def measure_count(session: Session) -> int:
    """How many measures have a timeline."""
    return session.scalar(select(func.count(distinct(MeasurePeriod.measure_id)))) or 0


def existing_events(session: Session, event_ids: set[int]) -> set[int]:
    """The events among these ids still stored."""
    wanted = sorted(event_ids)
    return {
        event_id
        for start in range(0, len(wanted), 500)
        for event_id in session.scalars(
            select(Event.id).where(Event.id.in_(wanted[start : start + 500]))
        )
    }


def event_lists(
    session: Session, event_ids: Sequence[int]
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each event's elements and targets, alphabetical."""
    elements: dict[int, list[str]] = defaultdict(list)
    targets: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start : start + 500])
        for event_id, element in session.execute(
            select(EventElement.event_id, EventElement.element)
            .where(EventElement.event_id.in_(chunk))
            .order_by(EventElement.element)
        ):
            elements[event_id].append(element)
        for event_id, target in session.execute(
            select(EventTarget.event_id, EventTarget.target)
            .where(EventTarget.event_id.in_(chunk))
            .order_by(EventTarget.target)
        ):
            targets[event_id].append(target)
    return {
        event_id: (tuple(elements[event_id]), tuple(targets[event_id])) for event_id in event_ids
    }
