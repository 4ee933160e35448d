"""Candidates: a measure found in a sentence, filled in with its action, modality, actor,
target and elements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spacy.tokens import Span, Token

from models.annotation import DateTag, ElementTag, EntityTag, QuantityTag
from pipeline.extraction import roles
from pipeline.extraction.actions import (
    action_of,
    action_token,
    container_change,
    prolonging,
    widens,
)
from pipeline.extraction.lexicon import Lexicon
from pipeline.extraction.modality import modality, threat_over
from pipeline.extraction.tagging import names_within

ADOPTED_MEASURES = frozenset({"state_support", "agreement", "investigation", "production_control"})


@dataclass
class Candidate:
    """A measure found in a sentence, being filled in."""

    sentence: Span
    trigger: Span
    measure: str
    action: str
    action_token: Token | None
    modality: str
    actor: EntityTag | None = None
    elements: list[str] = field(default_factory=list)
    target: str | None = None
    target_count: int | None = None
    target_unit: str | None = None
    quantities: list[QuantityTag] = field(default_factory=list)
    dates: list[DateTag] = field(default_factory=list)
    confidence: float = 0.5
    stated_action: bool = False
    elements_referred: bool = (
        False  # its elements came from "these materials" in an earlier sentence
    )


def candidate(
    sentence: Span,
    trigger: Span,
    measure: str,
    implied_action: str | None,
    entity_tags: list[EntityTag],
    element_tags: list[ElementTag],
    other_roots: set[int],
    lexicon: Lexicon,
) -> Candidate:
    """What a sentence says of one of its measures: the action, how sure, who, at whom, on what."""
    acting = action_token(sentence, trigger, other_roots, lexicon)
    change = container_change(trigger, lexicon)
    if change is not None:
        acting, implied_action, trigger_verb = change, None, False
    else:
        trigger_verb = trigger.root.pos_ == "VERB"
    # Who would act and how sure it is are read at the step itself, before a threat over it
    # ("the broadcaster warned that Beijing could restrict exports": Beijing, hypothetically).
    step = trigger.root if trigger_verb else acting or trigger.root
    found_action = action_of(acting, lexicon) if acting is not None else None
    threat = threat_over(acting, lexicon)
    if threat is not None:  # "threatened to impose tariffs", "warned it could restrict exports"
        found_action, acting = "threaten", threat
    prolonged = prolonging(acting, implied_action or found_action, lexicon)
    if prolonged is not None:  # "extended its suspension of exports", "continues to suspend"
        found_action, implied_action, acting = "extend", None, prolonged
    if found_action == "threaten":  # "warned it could restrict exports": a threat, not a step
        implied_action = None
    if found_action == "extend" and widens(trigger, lexicon):
        found_action = "expand"  # "extended its controls to graphite": wider, not longer
    action = implied_action or found_action or "impose"
    if (
        action == "ease"
        and measure in ADOPTED_MEASURES
        and step.lemma_.lower() in lexicon.cues.approvals
    ):
        action = "impose"  # approving a subsidy or a deal brings it in; approving exports eases
    found = Candidate(
        sentence=sentence,
        trigger=trigger,
        measure=measure,
        action=action,
        action_token=acting,
        modality=modality(sentence, acting or step, action, lexicon),
    )
    found.stated_action = acting is not None or implied_action is not None
    if found.stated_action:
        found.confidence += 0.2
    sentence_entities = [
        t for t in entity_tags if sentence.start_char <= t.start < sentence.end_char
    ]
    found.actor = (
        roles.owner(trigger, sentence_entities, lexicon)
        or roles.actor(sentence, step, sentence_entities, lexicon)
        or roles.actor(sentence, acting or step, sentence_entities, lexicon)
    )
    if found.actor is not None:
        found.confidence += 0.15
    found.elements = _event_elements(sentence, trigger, acting, element_tags)
    target, count, unit = roles.target(
        sentence, trigger, acting, found.actor, sentence_entities, lexicon
    )
    found.target, found.target_count, found.target_unit = target, count, unit
    if found.elements or found.target:
        found.confidence += 0.15
    return found


def _event_elements(
    sentence: Span,
    trigger: Span,
    acting: Token | None,
    element_tags: list[ElementTag],
) -> list[str]:
    """The elements of a measure: under it in the parse, else under its action, else after it."""

    def within(tokens: Iterable[Token]) -> list[str]:
        indexes = sorted(token.i for token in tokens)
        if not indexes:
            return []
        start = sentence.doc[indexes[0]].idx
        last = sentence.doc[indexes[-1]]
        return names_within(element_tags, start, last.idx + len(last.text))

    found = within(trigger.root.subtree)
    if not found and acting is not None and acting.pos_ == "VERB":
        found = within(
            token for token in acting.subtree if token.dep_ != "conj" or token.i < trigger.start
        )
    if not found:
        found = names_within(element_tags, trigger.start_char, sentence.end_char)
    return found


def refers_back(sentence: Span, trigger: Span, lexicon: Lexicon) -> bool:
    """Whether "these materials" in the sentence belongs to the clause of this measure."""
    for match in lexicon.anaphora.finditer(sentence.text):
        span = sentence.doc.char_span(
            sentence.start_char + match.start(),
            sentence.start_char + match.end(),
            alignment_mode="expand",
        )
        if span is None:
            continue
        governor = span.root.head
        while governor.pos_ not in ("VERB", "AUX") and governor.head.i != governor.i:
            governor = governor.head
        if trigger.root.head == governor or trigger.root.head.head == governor:
            return True
    return False


def counted_reference(
    sentence: Span, element_tags: list[ElementTag], lexicon: Lexicon
) -> list[str]:
    """Elements a counted phrase refers back to ("the three minor metals", "both elements")."""
    match = lexicon.counted_reference.search(sentence.text)
    if match is None:
        return []
    word = (match["count"] or "two").lower()  # "both" is two
    count = int(word) if word.isdigit() else lexicon.cues.number_words[word]
    named = [
        tag.name for tag in element_tags if not tag.is_group and tag.end <= sentence.start_char
    ]
    recent = list(dict.fromkeys(reversed(named)))[:count]
    return list(reversed(recent)) if len(recent) == count else []
