"""Roles in a measure's sentence: who acts (owner or subject), at whom, and how many of them."""

from __future__ import annotations

from collections.abc import Iterator

from spacy.tokens import Span, Token

from models.annotation import EntityTag
from pipeline.extraction.lexicon import Lexicon
from pipeline.extraction.quantities import number_value


def owner(trigger: Span, entities: list[EntityTag], lexicon: Lexicon) -> EntityTag | None:
    """The jurisdiction a measure belongs to: "China's export controls", "U.S. tariffs", "Trump's tariffs"."""
    tokens = [token for token in trigger if token.i != trigger.root.i]
    for child in trigger.root.children:
        if child.dep_ in lexicon.relations.owner_deps and child.i < trigger.start:
            tokens.extend(token for token in child.subtree if token.i < trigger.start)
    for token in tokens:
        for tag in entities:
            if tag.start <= token.idx < tag.end and tag.kind in ("country", "body"):
                return tag
    return None


def actor(
    sentence: Span, anchor: Token, entities: list[EntityTag], lexicon: Lexicon
) -> EntityTag | None:
    """The subject of the action, following coordinated verbs back to their shared subject."""
    relations = lexicon.relations
    token: Token | None = anchor
    for _ in range(4):
        if token is None:
            break
        for child in token.children:
            if child.dep_ in relations.subject_deps:
                found = _entity_of(child, entities, lexicon)
                if found is not None:
                    return found
            if child.dep_ == "agent":
                found = _entity_of(child, entities, lexicon)
                if found is not None:
                    return found
        if token.dep_ == "relcl":  # "Indonesia, which prohibited ore exports": the antecedent
            found = _entity_of(token.head, entities, lexicon)
            if found is not None:
                return found
        if token.dep_ == "pcomp" and token.head.head.i != token.head.i:
            token = token.head.head  # "could respond by banning exports": who responds
            continue
        token = (
            token.head
            if token.dep_ in relations.agent_clause_deps and token.head.i != token.i
            else None
        )
    for tag in entities:
        if tag.start >= anchor.idx or tag.kind not in ("country", "body"):
            continue
        span = sentence.doc.char_span(tag.start, tag.end, alignment_mode="expand")
        if span is not None and not _inside_prepositional_phrase(span.root, anchor, lexicon):
            return tag
    return None


def target(
    sentence: Span,
    trigger: Span,
    action_token: Token | None,
    actor: EntityTag | None,
    entities: list[EntityTag],
    lexicon: Lexicon,
) -> tuple[str | None, int | None, str | None]:
    """The country a measure is aimed at, with how many of what ("28 American companies")."""
    actor_code = actor.jurisdiction if actor else None
    others = [
        tag
        for tag in entities
        if tag.jurisdiction
        and tag.jurisdiction != actor_code
        and tag.kind == "country"
        and not _venue_or_bystander(sentence, tag, lexicon)
    ]
    if not others:
        return None, None, None
    near = (trigger.root, action_token) if action_token is not None else (trigger.root,)
    in_clause = {token.idx for anchor in near for token in anchor.subtree}
    ranked = sorted(
        others, key=lambda tag: (tag.start not in in_clause, abs(tag.start - trigger.start_char))
    )
    chosen = ranked[0]
    number_words = lexicon.cues.number_words
    count, unit = (
        _object_count(action_token, number_words) if action_token is not None else (None, None)
    )
    if count is None:
        count, unit = _counted_noun(sentence, chosen, lexicon)
    return chosen.jurisdiction, count, unit


def _object_count(
    action_token: Token, number_words: dict[str, int]
) -> tuple[int | None, str | None]:
    """For "removed 17 entities": 17, entities."""
    for child in action_token.children:
        if child.dep_ in ("dobj", "nsubjpass") and child.pos_ == "NOUN":
            for grandchild in child.children:
                value = (
                    number_value(grandchild.text, number_words)
                    if grandchild.dep_ == "nummod"
                    else None
                )
                if value is not None:
                    return int(value), child.lower_
    return None, None


def _counted_noun(
    sentence: Span, tag: EntityTag, lexicon: Lexicon
) -> tuple[int | None, str | None]:
    """For "28 American companies": 28, companies."""
    modifier_deps = lexicon.relations.counted_modifier_deps
    span = sentence.doc.char_span(tag.start, tag.end, alignment_mode="expand")
    if span is None:
        return None, None
    head = span.root.head if span.root.dep_ in modifier_deps else None
    if head is None or head.pos_ != "NOUN":
        return None, None
    for child in head.children:
        if child.dep_ == "nummod":
            value = number_value(child.text, lexicon.cues.number_words)
            if value is not None:
                return int(value), head.lower_
    return None, None


def _venue_or_bystander(sentence: Span, tag: EntityTag, lexicon: Lexicon) -> bool:
    """Whether a country is named as where something happens ("met in Busan"), or as one that
    merely buys or suffers ("Japanese buyers", "Japan, which imports most of its gallium")."""
    span = sentence.doc.char_span(tag.start, tag.end, alignment_mode="expand")
    if span is None:
        return False
    cues = lexicon.cues
    token = span.root
    while token.dep_ in lexicon.relations.noun_phrase_deps and token.head.i != token.i:
        token = token.head  # "in South Korea's capital", "in Busan, South Korea": the whole phrase
        if token.lemma_.lower() in cues.bystander_nouns:
            return True
    if token.dep_ in lexicon.relations.object_deps:
        return token.head.lower_ in cues.venue_prepositions
    verbs = [token.head] if token.dep_ in lexicon.relations.subject_deps else []
    verbs += [child for child in token.children if child.dep_ in lexicon.relations.own_clause_deps]
    return any(verb.lemma_.lower() in cues.bystander_verbs for verb in verbs)


def _entity_of(token: Token, entities: list[EntityTag], lexicon: Lexicon) -> EntityTag | None:
    """The country or body named by a noun phrase, without its attached clauses and phrases."""
    for candidate in _noun_phrase(token, lexicon):
        for tag in entities:
            if tag.start <= candidate.idx < tag.end and tag.kind in ("country", "body"):
                return tag
    return None


def _noun_phrase(token: Token, lexicon: Lexicon) -> Iterator[Token]:
    """A token and its modifiers ("China's Commerce Ministry"), not its prepositions or clauses."""
    yield token
    for child in token.children:
        if child.dep_ in lexicon.relations.noun_phrase_deps:
            yield from _noun_phrase(child, lexicon)


def _inside_prepositional_phrase(token: Token, stop: Token, lexicon: Lexicon) -> bool:
    """Whether a token hangs under a preposition ("in retaliation for Trump's tariffs")."""
    while token.head.i != token.i and token.i != stop.i:
        if token.dep_ in ("prep", "pobj") or (
            token.dep_ in lexicon.relations.own_clause_deps and not token.is_ancestor(stop)
        ):
            return True  # also a clause of its own: "Announced after U.S. officials met, ..."
        token = token.head
    return False
