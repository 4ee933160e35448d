"""Features the trained decision reads: a sentence's words and parse, and what the rules found in it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from spacy.tokens import Doc, Span

from models.annotation import ElementTag, EntityTag, EventRecord
from models.vocabulary.words import Relations
from pipeline.extraction.candidates import Candidate


@dataclass
class SentenceView:
    """One sentence with the rule candidates in it and the tags it holds."""

    sentence: Span
    candidates: list[Candidate]
    entities: list[EntityTag]
    elements: list[ElementTag]
    relations: Relations
    previous: list[Candidate] = field(default_factory=list)

    @property
    def in_scope(self) -> bool:
        """Whether the sentence names a measure, a mineral or a country: else it states no act."""
        return bool(self.candidates or self.elements or self.entities)


def sentence_views(
    doc: Doc,
    candidates: Sequence[Candidate],
    entity_tags: Sequence[EntityTag],
    element_tags: Sequence[ElementTag],
    relations: Relations,
) -> list[SentenceView]:
    """Every sentence of a parsed text, each with its candidates and those of the sentence before."""
    views: list[SentenceView] = []
    previous: list[Candidate] = []
    for sentence in doc.sents:
        start, end = sentence.start_char, sentence.end_char
        mine = [c for c in candidates if c.sentence.start == sentence.start]
        views.append(
            SentenceView(
                sentence=sentence,
                candidates=mine,
                entities=[t for t in entity_tags if start <= t.start < end],
                elements=[t for t in element_tags if start <= t.start < end],
                relations=relations,
                previous=previous,
            )
        )
        previous = mine
    return views


def sentence_features(view: SentenceView) -> list[str]:
    """Words, word pairs, the verb's tense and the rule findings of one sentence."""
    words = [t for t in view.sentence if not t.is_space and not t.is_punct]
    lemmas = [t.lemma_.lower() if t.is_alpha else ("#" if t.like_num else t.lower_) for t in words]
    found = [f"w={lemma}" for lemma in lemmas]
    found += [f"b={a}_{b}" for a, b in pairwise(lemmas)]
    root = view.sentence.root
    found += [f"root={root.lemma_.lower()}", f"root_tag={root.tag_}"]
    found += [f"aux={t.lower_}" for t in root.children if t.dep_ in view.relations.verb_marker_deps]
    found.append(f"elements={min(len({t.name for t in view.elements}), 3)}")
    found += [f"entity={tag.kind}" for tag in view.entities]
    for rule in view.candidates:
        stated = "stated" if rule.stated_action else "named"
        found += [
            f"rule={rule.measure}",
            f"rule_action={rule.action}",
            f"rule={rule.measure}|{rule.action}|{stated}",
            f"rule_modality={rule.modality}",
            f"rule_{stated}",
            f"rule_actor={'yes' if rule.actor else 'no'}",
        ]
    found += [f"previous={rule.measure}|{rule.action}" for rule in view.previous]
    if not view.candidates:
        found.append("rule=none")
    return found


def action_features(features: Sequence[str], view: SentenceView, measure: str) -> list[str]:
    """A sentence's features, with what the rules said of this measure in it."""
    own = [rule for rule in view.candidates if rule.measure == measure]
    tied = [f"m={measure}", *(f"own_action={rule.action}|{rule.modality}" for rule in own)]
    tied += [f"own_action={rule.action}" for rule in own]
    return [*features, *tied]


def actor_options(
    view: SentenceView, measure: str, default: str | None, doc_counts: Counter[str]
) -> dict[str, list[str]]:
    """Each country that may act in a sentence on a measure, with what points to it."""
    options: dict[str, list[str]] = {}

    def add(code: str | None, *reasons: str) -> None:
        if code:
            options.setdefault(code, []).extend(reasons)

    for rule in view.candidates:
        same = "same" if rule.measure == measure else "other"
        if rule.actor is not None:
            add(rule.actor.jurisdiction, f"rule_actor_{same}", f"rule_actor_{rule.actor.kind}")
        if rule.target:
            add(rule.target, f"rule_target_{same}")
    doc = view.sentence.doc
    for position, tag in enumerate(view.entities):
        span = doc.char_span(tag.start, tag.end, alignment_mode="expand")
        if span is None or tag.jurisdiction is None:
            continue
        token = span.root
        reasons = [f"named_{tag.kind}", f"dep={token.dep_}", f"head={token.head.lemma_.lower()}"]
        if token.dep_ in view.relations.object_deps:
            reasons.append(f"prep={token.head.lower_}")
        if token.dep_ in view.relations.owner_deps:
            reasons.append(f"modifies={token.head.lemma_.lower()}")
        if position == 0:
            reasons.append("named_first")
        add(tag.jurisdiction, *reasons)
    for rule in view.previous:
        if rule.actor is not None:
            add(rule.actor.jurisdiction, "previous_actor")
    add(default, "default_actor")
    top = doc_counts.most_common(1)
    if top:
        add(top[0][0], "named_most")
    return {
        code: [*reasons, *(f"{measure}|{reason}" for reason in reasons)]
        for code, reasons in options.items()
    }


def jurisdiction_counts(entity_tags: Sequence[EntityTag]) -> Counter[str]:
    """How often a text names each jurisdiction, through countries and bodies."""
    return Counter(tag.jurisdiction for tag in entity_tags if tag.jurisdiction)


def event_features(
    act: tuple[str | None, str, str],
    model: Sequence[float],
    rules: Sequence[EventRecord],
    others: Iterable[tuple[str | None, str, str]],
    default_actor: str | None,
) -> list[str]:
    """What speaks for one act in a whole text: the model's confidences, the rules' records of it,
    and the other acts read on the same measure."""
    actor, action, measure = act
    found = [f"action={action}", f"measure={measure}", f"act={action}|{measure}"]
    if model:
        best = max(model)
        found += ["model", f"model_sentences={min(len(model), 3)}"]
        found += [f"model>{step / 10:.1f}" for step in range(1, 8) if best >= step / 10]
    if rules:
        mention = rules[0].mentions[0]
        found += ["rule", f"rule_modality={mention.modality}", f"rule_action={action}"]
        found.append(f"rule_mentions={min(sum(len(r.mentions) for r in rules), 3)}")
        found += [
            f"rule_confidence>{step / 10:.1f}"
            for step in range(5, 10)
            if mention.confidence >= step / 10
        ]
    if model and rules:
        found.append("model_and_rule")
    if any(other[0] == actor and other[2] == measure for other in others):
        found.append("other_action_on_measure")
    found.append("actor=default" if actor == default_actor else "actor=other")
    if actor is None:
        found.append("actor=none")
    return found
