"""Events: an article's candidates read sentence by sentence, settled against each other, and
turned into event records, one per actor, action and measure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass, replace

from spacy.tokens import Doc

from models.annotation import (
    ArticleText,
    ElementTag,
    EntityTag,
    EventMention,
    EventRecord,
    QuantityTag,
)
from pipeline.extraction.candidates import Candidate, candidate, counted_reference, refers_back
from pipeline.extraction.dating import dates
from pipeline.extraction.decision import Choice, Decision, Verdict, confident, settle
from pipeline.extraction.features import SentenceView, jurisdiction_counts, sentence_views
from pipeline.extraction.tagging import Tagger, names_within
from pipeline.extraction.triggers import measure_triggers, references_to_measures

EXPORT_SIDE_MEASURES = frozenset(
    {"export_ban", "export_control", "export_quota", "export_tax", "entity_listing"}
)
FORWARD_REACH = 2000  # characters after the sentence where "the following items" are listed


@dataclass(frozen=True)
class ParsedText:
    """An article as the event stages read it: its parse, its tags and quantities, and the tagger."""

    article: ArticleText
    doc: Doc
    element_tags: list[ElementTag]
    entity_tags: list[EntityTag]
    quantities: Sequence[QuantityTag]
    tagger: Tagger


def events(text: ParsedText) -> list[EventRecord]:
    """The policy events a parsed article states by the rules alone, its sentences on the same event
    merged."""
    return rule_records(*rule_candidates(text))


def rule_records(candidates: list[Candidate], default_actor: EntityTag | None) -> list[EventRecord]:
    """The rules' events: candidates that state an act, settled, one record per act."""
    records = []
    for found in map(copy, candidates):  # settle copies: the candidates stay as the rules read them
        if not found.stated_action:
            continue  # a measure named in passing ("the export ban") is not an event
        if found.actor is None and default_actor is not None:
            found.actor = default_actor
            found.confidence -= 0.1
        if found.actor is not None and found.target == found.actor.jurisdiction:
            found.target = found.target_count = found.target_unit = None
        if (
            found.measure == "entity_listing"
            and "control list" in found.trigger.text.lower()
            and found.elements
            and found.target_count is None
        ):
            # Minerals and items added to a control list are export controls, not listings.
            found.measure = "export_control"
        if found.modality == "negated" and found.action in ("lift", "suspend", "ease"):
            # "refused to lift the ban": the measure stays in force.
            found.action, found.modality = "maintain", "asserted"
        records.append(record_of(found))
    return merge_same_event(records)


def as_acts(records: list[EventRecord]) -> list[EventRecord]:
    """The rules' records as the codebook counts acts: one that may act threatens; a denial is none."""
    return [
        replace(
            record,
            action="threaten",
            mentions=tuple(replace(m, modality="threatened") for m in record.mentions),
        )
        if record.mentions[0].modality == "hypothetical"
        else record
        for record in records
        if record.mentions[0].modality != "negated"
    ]


def rule_candidates(text: ParsedText) -> tuple[list[Candidate], EntityTag | None]:
    """Every candidate the rules find, settled against each other, and the article's usual actor."""
    candidates = _candidates(text)
    default_actor = _default_actor(candidates, text.entity_tags)
    _future_steps_are_threats(candidates, text.tagger.lexicon.cues.future_auxiliaries)
    _restrictions_kept_are_the_ban(candidates)
    return candidates, default_actor


def _candidates(text: ParsedText) -> list[Candidate]:
    """A candidate for every measure of every sentence, with the elements it refers back to."""
    article, doc, tagger = text.article, text.doc, text.tagger
    element_tags, entity_tags, quantities = text.element_tags, text.entity_tags, text.quantities
    lexicon = tagger.lexicon
    triggers = measure_triggers(doc, element_tags, tagger)
    triggers += references_to_measures(doc, triggers, lexicon)
    candidates: list[Candidate] = []
    previous_elements: list[str] = []
    for sentence in doc.sents:
        in_sentence = [
            t for t in triggers if t[0].start >= sentence.start and t[0].end <= sentence.end
        ]
        sentence_elements = names_within(element_tags, sentence.start_char, sentence.end_char)
        roots = {trigger.root.i for trigger, _, _ in in_sentence}
        for trigger, measure, implied in in_sentence:
            found = candidate(
                sentence,
                trigger,
                measure,
                implied,
                entity_tags,
                element_tags,
                roots - {trigger.root.i},
                lexicon,
            )
            if not found.elements and previous_elements and refers_back(sentence, trigger, lexicon):
                found.elements = list(previous_elements)
                found.elements_referred = True
            if not found.elements:  # "the three metals": the last three named before
                found.elements = counted_reference(sentence, element_tags, lexicon)
            if not found.elements and lexicon.forward_reference.search(sentence.text):
                found.elements = names_within(
                    element_tags, sentence.end_char, sentence.end_char + FORWARD_REACH
                )
            found.quantities = [
                q for q in quantities if sentence.start_char <= q.start < sentence.end_char
            ]
            found.dates = list(dates(sentence, article.published, found, lexicon))
            candidates.append(found)
        if sentence_elements:
            previous_elements = sentence_elements
    return candidates


def _default_actor(candidates: list[Candidate], entities: list[EntityTag]) -> EntityTag | None:
    """The actor most events of the article name, else the body it names most.

    Targets get no such default: a measure is aimed at a country only when the text says so
    (licensing that applies to every destination has no target).
    """
    actors = Counter(c.actor.jurisdiction for c in candidates if c.actor is not None)
    actor_code = actors.most_common(1)[0][0] if actors else None
    actor = next(
        (c.actor for c in candidates if c.actor is not None and c.actor.jurisdiction == actor_code),
        None,
    )
    if actor is None:
        # An announcement that never names its subject ("it is decided to ...") acts for the
        # body it names most, as MOFCOM's do.
        bodies = Counter(tag.canonical for tag in entities if tag.kind == "body")
        if bodies:
            name = bodies.most_common(1)[0][0]
            actor = next(tag for tag in entities if tag.canonical == name)
    return actor


def _future_steps_are_threats(candidates: list[Candidate], auxiliaries: Sequence[str]) -> None:
    """A step an actor "will" take on a measure the same article says it threatens is that threat."""
    threatened = {
        (c.actor.jurisdiction if c.actor else None, c.measure)
        for c in candidates
        if c.action == "threaten"
    }
    for found in candidates:
        token = found.action_token
        owner = found.actor.jurisdiction if found.actor else None
        if (
            found.action == "impose"
            and token is not None
            and any(child.lower_ in auxiliaries for child in token.children)
            and (owner, found.measure) in threatened
        ):
            found.action, found.modality = "threaten", "threatened"


def _restrictions_kept_are_the_ban(candidates: list[Candidate]) -> None:
    """ "The restrictions remain in force for these materials", after a sentence on the ban kept on
    them, speaks of that ban."""
    kept_bans = [
        set(c.elements) for c in candidates if (c.measure, c.action) == ("export_ban", "maintain")
    ]
    for found in candidates:
        if (
            found.elements_referred
            and (found.measure, found.action) == ("export_control", "maintain")
            and any(set(found.elements) <= elements for elements in kept_bans)
        ):
            found.measure = "export_ban"


def record_of(found: Candidate) -> EventRecord:
    """The event record of a settled candidate, its sentence as the one mention."""
    sentence = found.sentence
    text = sentence.text.strip()
    offset = sentence.text.index(text[:1]) if text else 0
    mention = EventMention(
        sentence=text,
        start=sentence.start_char + offset,
        end=sentence.start_char + offset + len(text),
        reported_label=found.trigger.text,
        modality=found.modality,
        confidence=round(min(max(found.confidence, 0.05), 0.99), 2),
    )
    actor = found.actor
    return EventRecord(
        actor=actor.jurisdiction if actor else None,
        actor_body=actor.canonical if actor and actor.kind == "body" else None,
        action=found.action,
        measure=found.measure,
        elements=tuple(found.elements),
        target=found.target,
        target_count=found.target_count,
        target_unit=found.target_unit,
        quantities=tuple(found.quantities),
        dates=tuple(found.dates),
        mentions=(mention,),
    )


def merge_same_event(records: list[EventRecord]) -> list[EventRecord]:
    """Sentences of one article stating the same actor, action and measure are one event."""
    merged: dict[tuple[str | None, str, str], EventRecord] = {}
    for record in records:
        key = (record.actor, record.action, record.measure)
        existing = merged.get(key)
        if existing is None:
            merged[key] = record
            continue
        better, other = (
            (record, existing)
            if _completeness(record) > _completeness(existing)
            else (existing, record)
        )
        seen_starts = {mention.start for mention in better.mentions}
        merged[key] = replace(
            better,
            elements=tuple(dict.fromkeys([*better.elements, *other.elements])),
            target=better.target or other.target,
            target_count=better.target_count or other.target_count,
            target_unit=better.target_unit or other.target_unit,
            actor_body=better.actor_body or other.actor_body,
            quantities=better.quantities
            + tuple(q for q in other.quantities if q not in better.quantities),
            dates=better.dates + tuple(d for d in other.dates if d not in better.dates),
            mentions=better.mentions
            + tuple(m for m in other.mentions if m.start not in seen_starts),
        )
    return list(merged.values())


def _completeness(record: EventRecord) -> tuple[int, float]:
    """How much of an event a record fills in, then how sure it is."""
    filled = len(record.elements) + bool(record.target) + bool(record.actor) + len(record.dates)
    return filled, record.mentions[0].confidence


def on_topic(element_tags: list[ElementTag], records: list[EventRecord]) -> bool:
    """About critical-mineral policy: an export-side measure, or a government's measure with minerals."""
    return any(
        event.measure in EXPORT_SIDE_MEASURES or (element_tags and event.actor is not None)
        for event in records
    )


@dataclass(frozen=True)
class DecisionInput:
    """What the trained decision weighs in a parsed text: its sentences with the rules' candidates,
    the article's usual actor, how often it names each jurisdiction, and the rules' acts."""

    views: list[SentenceView]
    default_actor: str | None
    counts: Counter[str]
    rules: list[EventRecord]


def decision_input(text: ParsedText) -> DecisionInput:
    """The decision's input for a parsed text, read by the rules, at run time and in training alike."""
    candidates, default_actor = rule_candidates(text)
    views = sentence_views(
        text.doc, candidates, text.entity_tags, text.element_tags, text.tagger.lexicon.relations
    )
    return DecisionInput(
        views,
        default_actor.jurisdiction if default_actor else None,
        jurisdiction_counts(text.entity_tags),
        as_acts(rule_records(candidates, default_actor)),
    )


def decided_events(
    text: ParsedText, decision: Decision
) -> tuple[list[EventRecord], list[EventRecord]]:
    """The policy events the trained decision settles in a parsed article, filled in by the rules,
    and the acts it held back below its threshold, one record per sentence."""
    read = decision_input(text)
    article, tagger, views = text.article, text.tagger, read.views
    element_tags, entity_tags, quantities = text.element_tags, text.entity_tags, text.quantities
    verdicts = decision.verdicts(views, read.default_actor, read.counts, read.rules)
    records, held = [], []
    for verdict in verdicts:
        if verdict.probability < decision.threshold:
            held += _held_back(verdict, views)
            continue
        if verdict.rules:  # the rules' reading of the same act, with the decision's confidence
            records += [confident(record, verdict.probability) for record in verdict.rules]
            continue
        for choice in verdict.choices:
            view = views[choice.sentence]
            found = copy(_rule_reading(view.candidates, choice.measure, choice.action))
            if found is None:
                found = _fresh_reading(article, view, choice, entity_tags, element_tags, tagger)
            start, end = view.sentence.start_char, view.sentence.end_char
            found.quantities = [q for q in quantities if start <= q.start < end]
            if found.measure != choice.measure or not found.elements:
                found.elements = names_within(element_tags, start, end)  # the sentence's own
            records.append(settle(record_of(found), choice, verdict.probability))
    return merge_same_event(records), held


def _held_back(verdict: Verdict, views: list[SentenceView]) -> list[EventRecord]:
    """An act below the threshold as bare records: who, what, the sentence and the probability."""
    actor, action, measure = verdict.act
    usual = "threatened" if action == "threaten" else "asserted"
    below = math.floor(verdict.probability * 100) / 100  # rounded down: it stays below the bar
    sentences = {
        m.start: (m.sentence, m.end, m.modality) for r in verdict.rules for m in r.mentions
    }
    for choice in verdict.choices:
        span = views[choice.sentence].sentence
        text = span.text.strip()
        start = span.start_char + span.text.index(text[:1]) if text else span.start_char
        sentences.setdefault(start, (text, start + len(text), usual))
    return [
        EventRecord(
            actor=actor,
            actor_body=None,
            action=action,
            measure=measure,
            elements=(),
            target=None,
            target_count=None,
            target_unit=None,
            quantities=(),
            dates=(),
            mentions=(EventMention(text, start, end, "", modality, below),),
        )
        for start, (text, end, modality) in sorted(sentences.items())
    ]


def _rule_reading(candidates: list[Candidate], measure: str, action: str) -> Candidate | None:
    """The rules' reading of a sentence closest to the model's: same measure and action, else measure."""
    ranked = sorted(
        candidates, key=lambda c: (c.measure != measure, c.action != action, not c.stated_action)
    )
    return ranked[0] if ranked else None


def _fresh_reading(
    article: ArticleText,
    view: SentenceView,
    choice: Choice,
    entity_tags: list[EntityTag],
    element_tags: list[ElementTag],
    tagger: Tagger,
) -> Candidate:
    """The rules' filling of a sentence they had no measure in: elements, target and dates."""
    sentence = view.sentence
    root = sentence.root
    found = candidate(
        sentence,
        sentence.doc[root.i : root.i + 1],
        choice.measure,
        choice.action,
        entity_tags,
        element_tags,
        set(),
        tagger.lexicon,
    )
    found.dates = list(dates(sentence, article.published, found, tagger.lexicon))
    return found
