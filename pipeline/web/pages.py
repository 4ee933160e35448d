"""What each page of the board holds, read from the database: the same data for HTML and JSON."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.config.cron import CronJob
from pipeline.web.highlight import Run, runs
from pipeline.web.timeline import Timeline, timeline
from storage import board
from storage.engine import as_utc
from storage.measures import MeasureState, Report, measure_reports, measure_states
from storage.queries import SourceHealth, source_health

RECENT_DAYS = 30
SHOWN_ROWS = 50  # Today lists the most reported measures of each state; /api/today has them all
CHART_ROWS = 60  # an element's chart draws the most reported measures; the list has them all
SHOWN_STATES = ("in_force", "suspended", "eased", "threatened")  # what Today lists


class NotFound(LookupError):
    """A page asked for something that is not there; the message says what."""


@dataclass(frozen=True)
class Page:
    """A page's template, title and data (a dataclass: its fields are the template's names)."""

    template: str
    title: str
    data: Any


@dataclass(frozen=True)
class Today:
    """Measures by state on a day, by element and by actor, the last changes, and freshness."""

    on: date
    states: dict[str, list[MeasureState]]
    by_element: dict[str, dict[str, int]]
    by_actor: dict[str, dict[str, int]]
    recent: list[board.EventRow]
    recent_days: int
    freshness: board.Freshness
    shown: int = field(default=SHOWN_ROWS, metadata={"html_only": True})


@dataclass(frozen=True)
class ElementView:
    """Every measure on an element or group: the chart, the histories, where each stands today."""

    name: str
    elements: list[str]
    timeline: Timeline = field(metadata={"html_only": True})  # JSON has the histories it draws
    measures: list[MeasureState]
    histories: list[board.MeasureHistory]
    today: date
    undrawn: int = field(default=0, metadata={"html_only": True})  # measures left off the chart


@dataclass(frozen=True)
class MeasureView:
    """A measure's history, the evidence of each event, its reports and its disagreements."""

    history: board.MeasureHistory
    evidence: dict[int, list[board.MentionRow]]
    reports: list[Report]
    conflicts: list[Disagreement]


@dataclass(frozen=True)
class Disagreement:
    """A field an event's reports give different values for, and the sources behind each value."""

    event_id: int
    field: str
    claims: dict[str, list[str]]  # value: the sources (else URLs) that give it


@dataclass(frozen=True)
class EventView:
    """An event and every report of it."""

    event: board.EventRow
    mentions: list[board.MentionRow]


@dataclass(frozen=True)
class ArticleView:
    """An article, its text in highlighted runs, and the candidates held back."""

    article: board.ArticlePage
    runs: list[Run]
    candidates: list[board.Tag]


Schedule = dict[str, tuple[CronJob, ...]]  # the cron.yaml jobs that fetch each source


@dataclass(frozen=True)
class SourcesView:
    """Every source's health and when it is fetched next, as of a time."""

    sources: list[SourceHealth]
    next_fetch: dict[str, datetime]  # sources whose schedule is known
    now: datetime
    freshness: board.Freshness


@dataclass(frozen=True)
class SearchView:
    """What a search found, and the most it lists."""

    words: str
    events: list[board.EventRow]
    articles: list[tuple[int, str, str, datetime | None]]
    limit: int


def today_page(session: Session, on: date) -> Page:
    """Measures by state on a day, by element and by actor; the last 30 days of changes; freshness."""
    states = [s for s in measure_states(session, on) if s.state in SHOWN_STATES]
    by_state: dict[str, list[MeasureState]] = {state: [] for state in SHOWN_STATES}
    by_element: dict[str, Counter[str]] = defaultdict(Counter)
    by_actor: dict[str, Counter[str]] = defaultdict(Counter)
    for state in states:
        by_state[state.state].append(state)
        for element in state.elements:
            by_element[element][state.state] += 1
        by_actor[state.actor or "unknown"][state.state] += 1
    recent = board.recent_events(session, on - timedelta(days=RECENT_DAYS), on)
    return Page(
        "today.html.j2",
        f"Measures on {on.isoformat()}",
        Today(
            on=on,
            states=by_state,
            by_element={k: dict(v) for k, v in sorted(by_element.items())},
            by_actor={k: dict(v) for k, v in sorted(by_actor.items())},
            recent=recent,
            recent_days=RECENT_DAYS,
            freshness=board.freshness(session),
        ),
    )


def element_page(session: Session, name: str, elements: Sequence[str], today: date) -> Page:
    """Every measure on an element (or the members of a group): its timeline chart and list."""
    histories = board.measures_on_element(session, elements)
    drawn = sorted(histories, key=lambda h: -sum(e.articles for e in h.events))[:CHART_ROWS]
    drawn.sort(key=histories.index)  # earliest first, as the histories come
    return Page(
        "element.html.j2",
        name,
        ElementView(
            name=name,
            elements=list(elements),
            timeline=timeline(drawn, today),
            measures=measure_states(session, today, elements),
            histories=histories,
            today=today,
            undrawn=len(histories) - len(drawn),
        ),
    )


def measure_page(session: Session, measure_id: int) -> Page:
    """A measure's chain of events with their evidence, every source, and the conflicts among them."""
    found = board.histories(session, [measure_id])
    if not found:
        raise NotFound(f"no measure #{measure_id}")
    history = found[0]
    mentions = board.mentions_of(session, [event.id for event in history.events])
    evidence: dict[int, list[board.MentionRow]] = defaultdict(list)
    for mention in mentions:
        evidence[mention.event_id].append(mention)
    founding = history.founding
    return Page(
        "measure.html.j2",
        f"{founding.actor or '?'} {founding.measure.replace('_', ' ')} #{founding.id}",
        MeasureView(
            history=history,
            evidence=dict(evidence),
            reports=measure_reports(session, [measure_id]).get(measure_id, []),
            conflicts=_disagreements(history.events, evidence),
        ),
    )


def _disagreements(
    events: Sequence[board.EventRow], evidence: dict[int, list[board.MentionRow]]
) -> list[Disagreement]:
    """For each field an event's reports disagree on, who says what."""
    found = []
    for event in events:
        for disputed in filter(None, event.conflicts.split(",")):
            claims: dict[str, list[str]] = defaultdict(list)
            for mention in evidence.get(event.id, []):
                value = getattr(mention, disputed, None)
                if value is not None:
                    claims[str(value)].append(mention.source or mention.url)
            found.append(Disagreement(event.id, disputed, dict(claims)))
    return found


def measure_of_event(session: Session, event_id: int) -> int | None:
    """The measure an event belongs to, or None when there is no such event."""
    found = board.events_by_id(session, [event_id])
    return found[0].measure_id if found else None


def event_page(session: Session, event_id: int) -> Page:
    """An event with every report of it."""
    found = board.events_by_id(session, [event_id])
    if not found:
        raise NotFound(f"no event #{event_id}")
    event = found[0]
    return Page(
        "event.html.j2",
        f"{event.summary} (#{event.id})",
        EventView(event, board.mentions_of(session, [event_id])),
    )


def article_page(session: Session, article_id: int) -> Page:
    """What was read in an article: every tag and candidate with its confidence, in the text."""
    article = board.article_page(session, article_id)
    if article is None:
        raise NotFound(f"no article #{article_id}")
    return Page(
        "article.html.j2",
        article.title or article.url,
        ArticleView(
            article=article,
            runs=runs(article.text, article.tags, article.mentions),
            candidates=[t for t in article.tags if t.kind == "candidate"],
        ),
    )


def sources_page(session: Session, now: datetime, schedule: Schedule) -> Page:
    """Each source's health: last success, failures in a row, next fetch, last error, articles."""
    health = source_health(session, now)
    next_fetch = {}
    for source in health:
        # A source resting after failures is fetched at its first scheduled run after the rest.
        after = max(now, as_utc(source.next_due_at) if source.next_due_at else now)
        runs = [next(job.times(after)) for job in schedule.get(source.name, ())]
        if runs:
            next_fetch[source.name] = min(runs)
    return Page(
        "sources.html.j2",
        "Sources",
        SourcesView(health, next_fetch, now, board.freshness(session)),
    )


def search_page(
    session: Session,
    words: str,
    elements: Sequence[str],
    actor: str | None,
    measure: str | None,
    since: date | None,
    until: date | None,
) -> Page:
    """Events and articles holding every word, narrowed by element, actor, measure and days."""
    filtered = bool(elements or actor or measure or since or until)
    events = (
        board.search_events(session, words, elements, actor, measure, since, until)
        if words.strip() or filtered
        else []
    )
    return Page(
        "search.html.j2",
        f"Search: {words}" if words else "Search",
        SearchView(
            words=words,
            events=events,
            articles=board.search_articles(session, words) if not filtered else [],
            limit=board.SEARCH_LIMIT,
        ),
    )


def now_utc() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)
