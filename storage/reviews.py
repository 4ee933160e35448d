"""Analysts' reviews: kept by article URL and evidence sentence, applied to every reading of them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import Article, Event, Mention, MentionElement, Review
from models.errors import UsageError
from models.vocabulary import ACTIONS, MEASURES, REVIEW_FIELDS, VERDICTS
from storage.consolidation import Family, Kind, consolidate, host_event, lock_families
from storage.links import LINK, join_event

Key = tuple[str, str]  # the article's URL and the evidence sentence
Fields = dict[str, str | None]  # a sentence's latest value per reviewed field
DATE_FIELDS = ("announced_on", "effective_on", "expires_on")
KIND_FIELDS = ("actor", "action", "measure")


@dataclass(frozen=True)
class Claim:
    """What a sentence says of an act, as the extractor read it or an analyst corrected it."""

    actor: str | None
    action: str
    measure: str
    target: str | None
    elements: frozenset[str]
    announced_on: date | None
    effective_on: date | None
    expires_on: date | None

    @property
    def kind(self) -> Kind:
        """The kind of event the claim belongs to."""
        return Kind(self.actor, self.action, self.measure)


def link_value(url: str, sentence: str) -> str:
    """An `event` review's value: the mention whose event the reviewed sentence joins."""
    return f"{url}{LINK}{sentence}"


def reviewed_fields(session: Session, urls: Iterable[str]) -> dict[Key, Fields]:
    """The latest value of each reviewed field of each sentence of these articles."""
    found: dict[Key, Fields] = {}
    unique = sorted(set(urls))
    for start in range(0, len(unique), 500):
        for url, evidence, field, after in session.execute(
            select(Review.article_url, Review.evidence, Review.field, Review.after)
            .where(Review.article_url.in_(unique[start : start + 500]))
            .order_by(Review.id)
        ):
            found.setdefault((url, evidence), {})[field] = after
    return found


def rejected(fields: Fields) -> bool:
    """Whether an analyst said the sentence reports no event."""
    return fields.get("verdict") == "rejected"


def label(fields: Fields) -> str:
    """What `reviewed` says of a sentence: `confirmed` and the fields corrected, comma-separated."""
    return ",".join(sorted({"confirmed" if field == "verdict" else field for field in fields}))


def corrected(claim: Claim, fields: Fields) -> Claim:
    """A claim with an analyst's corrections applied."""
    changes: dict[str, object] = {}
    for field, after in fields.items():
        if field in KIND_FIELDS or field == "target":
            changes[field] = after or None
            if field in ("action", "measure") and not after:
                changes.pop(field)  # an event always has an action and a measure
        elif field == "elements":
            changes[field] = frozenset(filter(None, (after or "").split(",")))
        elif field in DATE_FIELDS:
            changes[field] = date.fromisoformat(after) if after else None
    return replace(claim, **changes)  # type: ignore[arg-type]


def check(field: str, after: str | None) -> str | None:
    """A review's value as stored, or a usage error saying what the field takes."""
    value = (after or "").strip()
    if field not in REVIEW_FIELDS:
        raise UsageError(f"cannot review {field!r}: one of {', '.join(REVIEW_FIELDS)}")
    if field == "verdict" and value not in VERDICTS:
        raise UsageError(f"verdict {value!r}: one of {', '.join(VERDICTS)}")
    if field == "action" and value not in ACTIONS:
        raise UsageError(f"action {value!r}: one of {', '.join(ACTIONS)}")
    if field == "measure" and value not in MEASURES:
        raise UsageError(f"measure {value!r}: one of {', '.join(MEASURES)}")
    if field in DATE_FIELDS and value:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"{field} {value!r} is not a date (YYYY-MM-DD)") from None
    if field == "elements":
        value = ",".join(sorted({name.strip() for name in value.split(",") if name.strip()}))
    if field in ("actor", "target"):
        value = value.upper() if len(value) <= 3 else value
    return value or None


@dataclass(frozen=True)
class Applied:
    """What applying reviews to stored mentions changed: the kinds to regroup, the events touched."""

    kinds: set[Kind]
    touched: set[int]


def record_review(
    session: Session, mention_id: int, field: str, after: str | None, reviewer: str
) -> Applied:
    """Keep an analyst's word on the sentence of a stored mention, and apply it to every mention
    of that sentence; the caller consolidates what it returns."""
    value = check(field, after)
    mention = session.get(Mention, mention_id, populate_existing=True)
    if mention is None:
        raise UsageError(f"no mention #{mention_id}")
    url = session.scalar(select(Article.url).where(Article.id == mention.article_id))
    assert url is not None
    session.add(
        Review(
            article_url=url,
            evidence=mention.sentence,
            field=field,
            before=_current(session, mention, field),
            after=value,
            reviewer=reviewer[:80],
        )
    )
    session.flush()
    return _apply_reviews(session, mention.article_id, url, mention.sentence)


def _apply_reviews(session: Session, article_id: int, url: str, sentence: str) -> Applied:
    """Bring the stored mentions of one sentence in line with its reviews."""
    fields = reviewed_fields(session, [url]).get((url, sentence), {})
    applied = Applied(set(), set())
    for mention in session.scalars(
        select(Mention)
        .where(Mention.article_id == article_id, Mention.sentence == sentence)
        .execution_options(populate_existing=True)  # bulk moves bypass loaded objects
    ).all():
        event = session.get(Event, mention.event_id, populate_existing=True)
        assert event is not None
        applied.touched.add(event.id)
        applied.kinds.add(Kind(event.actor, event.action, event.measure))
        if rejected(fields):
            session.delete(mention)
            continue
        claim = corrected(_claim_of(session, mention, event), fields)
        _store(session, mention, claim, label(fields))
        if claim.kind != Kind(event.actor, event.action, event.measure):
            host = host_event(session, claim.kind, mention.actor_body)
            join_event(session, mention.id, host)
            applied.kinds.add(claim.kind)
            applied.touched.add(host)
    session.flush()
    return applied


def corrected_claims(
    session: Session, url: str, claims: Sequence[tuple[str, Claim]]
) -> list[tuple[Claim, str] | None]:
    """Each (sentence, claim) of a new reading with its sentence's reviews applied, and its label;
    None for a sentence an analyst rejected."""
    reviews = reviewed_fields(session, [url])
    found: list[tuple[Claim, str] | None] = []
    for sentence, claim in claims:
        fields = reviews.get((url, sentence), {})
        found.append(None if rejected(fields) else (corrected(claim, fields), label(fields)))
    return found


def _claim_of(session: Session, mention: Mention, event: Event) -> Claim:
    elements = session.scalars(
        select(MentionElement.element).where(MentionElement.mention_id == mention.id)
    )
    return Claim(
        actor=event.actor,
        action=event.action,
        measure=event.measure,
        target=mention.target,
        elements=frozenset(elements),
        announced_on=mention.announced_on,
        effective_on=mention.effective_on,
        expires_on=mention.expires_on,
    )


def _store(session: Session, mention: Mention, claim: Claim, reviewed: str) -> None:
    """Write a claim's sentence-level values to its mention."""
    if claim.target != mention.target:
        mention.target_count = mention.target_unit = None
    mention.target = claim.target
    mention.announced_on = claim.announced_on
    mention.effective_on = claim.effective_on
    mention.expires_on = claim.expires_on
    mention.reviewed = reviewed
    session.execute(delete(MentionElement).where(MentionElement.mention_id == mention.id))
    session.add_all(MentionElement(mention_id=mention.id, element=name) for name in claim.elements)
    session.flush()


def _current(session: Session, mention: Mention, field: str) -> str | None:
    """A mention's value of a field as text, for the review's `before`."""
    event = session.get(Event, mention.event_id, populate_existing=True)
    assert event is not None
    if field in KIND_FIELDS:
        value = getattr(event, field)
        return str(value) if value is not None else None
    if field == "elements":
        names = session.scalars(
            select(MentionElement.element).where(MentionElement.mention_id == mention.id)
        )
        return ",".join(sorted(names)) or None
    if field in DATE_FIELDS:
        day = getattr(mention, field)
        return day.isoformat() if day else None
    if field == "target":
        return mention.target
    if field == "event":
        return str(mention.event_id)
    return mention.reviewed or None


def _sentences(session: Session, event_id: int) -> list[int]:
    """One mention per distinct sentence of an event, oldest first."""
    first: dict[tuple[int, str], int] = {}
    for mention_id, article_id, sentence in session.execute(
        select(Mention.id, Mention.article_id, Mention.sentence)
        .where(Mention.event_id == event_id)
        .order_by(Mention.id)
    ):
        first.setdefault((article_id, sentence), mention_id)
    if not first:
        raise UsageError(f"no event #{event_id}")
    return list(first.values())


def first_sentence(session: Session, event_id: int) -> tuple[int, str]:
    """An event's first sentence (its article and text): where the event is found after a review."""
    return sentence_of(session, _sentences(session, event_id)[0])


def sentence_of(session: Session, mention_id: int) -> tuple[int, str]:
    """A mention's article and sentence, which name it across re-readings."""
    found = session.execute(
        select(Mention.article_id, Mention.sentence).where(Mention.id == mention_id)
    ).first()
    if found is None:
        raise UsageError(f"no mention #{mention_id}")
    return found[0], found[1]


def reject_sentence(session: Session, mention_id: int, reviewer: str) -> Applied:
    """A sentence taken out of every event: it reports none."""
    owner = session.scalar(select(Mention.event_id).where(Mention.id == mention_id))
    lock_for_review(session, [owner] if owner is not None else [])
    return record_review(session, mention_id, "verdict", "rejected", reviewer)


def settle(session: Session, applied: Applied) -> None:
    """Regroup what reviews changed, its families held against other writers."""
    lock_families(session, {kind.family for kind in applied.kinds})
    consolidate(session, applied.kinds, applied.touched)


def _merged(into: Applied, more: Applied) -> Applied:
    return Applied(into.kinds | more.kinds, into.touched | more.touched)


def lock_for_review(
    session: Session, event_ids: Iterable[int], field: str = "", after: str | None = None
) -> None:
    """Before a review changes anything, hold the families of these events and of the kind a
    correction moves them to, in one order, so concurrent writers neither race nor deadlock."""
    families: set[Family] = set()
    for actor, measure in session.execute(
        select(Event.actor, Event.measure).where(Event.id.in_(sorted(set(event_ids))))
    ):
        families.add(Family(actor, measure))
        if field == "actor":
            families.add(Family(after or None, measure))
        elif field == "measure" and after:
            families.add(Family(actor, after))
    lock_families(session, families)


def review_event(
    session: Session, event_id: int, field: str, after: str | None, reviewer: str
) -> Applied:
    """One verdict or correction on every sentence that reports an event."""
    after = check(field, after)
    lock_for_review(session, [event_id], field, after)
    applied = Applied(set(), set())
    for mention_id in _sentences(session, event_id):
        applied = _merged(applied, record_review(session, mention_id, field, after, reviewer))
    return applied


def join_sentences(
    session: Session, mention_ids: Sequence[int], into_event: int, reviewer: str
) -> Applied:
    """Put these sentences in another event: its kind, and a link to its first sentence."""
    event = session.get(Event, into_event, populate_existing=True)
    if event is None:
        raise UsageError(f"no event #{into_event}")
    owners = session.scalars(select(Mention.event_id).where(Mention.id.in_(list(mention_ids))))
    lock_for_review(session, [into_event, *owners])
    anchor = session.get(Mention, _sentences(session, into_event)[0])
    assert anchor is not None
    url = session.scalar(select(Article.url).where(Article.id == anchor.article_id)) or ""
    applied = Applied(set(), set())
    for mention_id in mention_ids:
        mention = session.get(Mention, mention_id, populate_existing=True)
        if mention is None:
            raise UsageError(f"no mention #{mention_id}")
        own = session.get(Event, mention.event_id, populate_existing=True)
        assert own is not None
        for field in KIND_FIELDS:
            if getattr(own, field) != getattr(event, field):
                applied = _merged(
                    applied,
                    record_review(session, mention_id, field, getattr(event, field), reviewer),
                )
        link = link_value(url, anchor.sentence)
        applied = _merged(applied, record_review(session, mention_id, "event", link, reviewer))
    return applied


def merge_events(session: Session, event_id: int, into_event: int, reviewer: str) -> Applied:
    """Every sentence of one event put in another."""
    if event_id == into_event:
        raise UsageError(f"event #{event_id} cannot be merged into itself")
    return join_sentences(session, _sentences(session, event_id), into_event, reviewer)


def event_of_sentence(session: Session, article_id: int, sentence: str) -> int | None:
    """The event now holding a sentence of an article (None: an analyst rejected it)."""
    return session.scalar(
        select(Mention.event_id).where(
            Mention.article_id == article_id, Mention.sentence == sentence
        )
    )


@dataclass(frozen=True)
class LabelledText:
    """A text in the labelled corpus's format (its README says what each field means)."""

    id: str
    url: str
    outlet: str  # the domain: training's folds never split one
    title: str
    published: str | None
    text: str
    split: str
    gold: dict[str, object]
    notes: str


@dataclass(frozen=True)
class Example:
    """A reviewed article as a labelled example, and how many events its gold holds."""

    record: dict[str, object]
    events: int


def reviewed_examples(session: Session) -> list[Example]:
    """Every reviewed article as a labelled example in the corpus's format: its text, and as gold
    the events of the sentences analysts reviewed, with their corrections (rejected ones gone)."""
    urls = sorted(set(session.scalars(select(Review.article_url))))
    found: list[Example] = []
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        for article in session.scalars(
            select(Article).where(Article.url.in_(chunk)).order_by(Article.url)
        ):
            found.append(_example(session, article))
    return found


def _example(session: Session, article: Article) -> Example:
    """One article's reviewed events, grouped as the corpus groups evidence: per event."""
    events: dict[int, dict[str, object]] = {}
    evidence: dict[int, list[str]] = {}
    named: dict[int, set[str]] = {}
    rows = session.execute(
        select(Mention, Event)
        .join(Event, Event.id == Mention.event_id)
        .where(Mention.article_id == article.id, Mention.reviewed != "")
        .order_by(Mention.start_char)
    ).all()
    for mention, event in rows:
        events.setdefault(
            event.id,
            {
                "actor": event.actor,
                "action": event.action,
                "measure": event.measure,
                "target": mention.target,
                "modality": mention.modality,
                "announced_on": _day(mention.announced_on),
                "effective_on": _day(mention.effective_on),
                "expires_on": _day(mention.expires_on),
            },
        )
        evidence.setdefault(event.id, []).append(mention.sentence)
        named.setdefault(event.id, set()).update(
            session.scalars(
                select(MentionElement.element).where(MentionElement.mention_id == mention.id)
            )
        )
    gold = [
        {**fields, "elements": sorted(named[event_id]), "evidence": evidence[event_id]}
        for event_id, fields in events.items()
    ]
    digest = hashlib.sha256(article.url.encode()).hexdigest()[:12]
    record = LabelledText(
        id=f"review-{digest}",
        url=article.url,
        outlet=urlsplit(article.url).hostname or "",
        title=article.title,
        published=_day(article.published_at.date() if article.published_at else None),
        text=article.text,
        split="train",
        gold={"on_topic": bool(gold), "events": gold},
        notes="reviewed on the board: the events of the sentences analysts reviewed",
    )
    return Example(asdict(record), len(gold))


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None
