"""Triggers: the spans that name a measure, by phrase, by the syntax of an export ban, or by
reference back to the measure an article is about."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache

from spacy.attrs import LEMMA, LOWER
from spacy.strings import StringStore
from spacy.tokens import Doc, Span, Token

from models.annotation import ElementTag
from pipeline.extraction.actions import CHANGES, action_of, governing_action
from pipeline.extraction.lexicon import Lexicon
from pipeline.extraction.tagging import Tagger, longest_first, names_within

Trigger = tuple[Span, str, str | None]  # the span, its measure, the action it states if any
MAX_BAN_REACH = 5  # tokens from a banning verb to its export object within one trigger span


def measure_triggers(doc: Doc, element_tags: list[ElementTag], tagger: Tagger) -> list[Trigger]:
    """Measure phrases that are not the names of statutes, export bans by syntax, and a bare
    "ban" in a sentence naming elements; in text order."""
    lexicon = tagger.lexicon
    triggers = []
    for span in longest_first(tagger.measure_spans(doc)):
        if _names_a_statute(doc, span, lexicon):
            continue
        measure, action = tagger.measure_labels[span.label_]
        triggers.append((span, measure, action))
    taken = {index for span, _, _ in triggers for index in range(span.start, span.end)}
    for span in _export_bans(
        doc, lexicon
    ):  # "halted rare earth shipments", "stop exporting lithium"
        if taken.isdisjoint(range(span.start, span.end)):
            triggers.append((span, "export_ban", "impose" if span.root.pos_ == "VERB" else None))
            taken.update(range(span.start, span.end))
    # A bare "ban" means an export ban when the sentence names elements.
    for token in _tokens_among(doc, lexicon.cues.weak_ban_words):
        if token.lower_ in lexicon.cues.weak_ban_words and token.i not in taken:
            sentence = token.sent
            if names_within(element_tags, sentence.start_char, sentence.end_char, groups=True):
                action = "impose" if token.pos_ == "VERB" else None
                triggers.append((doc[token.i : token.i + 1], "export_ban", action))
    triggers.sort(key=lambda trigger: trigger[0].start)
    return triggers


def references_to_measures(doc: Doc, triggers: list[Trigger], lexicon: Lexicon) -> list[Trigger]:
    """Changes to "the measures" or "the implementation of" a notice, in sentences naming no
    measure, read as changes to the measure the article is about ("the implementation of
    Announcement No. 55 shall be suspended")."""
    if not triggers:
        return []
    measure = Counter(found for _, found, _ in triggers).most_common(1)[0][0]
    taken = {trigger.sent.start for trigger, _, _ in triggers}
    found: list[Trigger] = []
    for token in _tokens_among(doc, lexicon.measure_reference_forms):
        if (
            token.lemma_.lower() in lexicon.cues.measure_references
            and token.pos_ == "NOUN"
            and token.sent.start not in taken
        ):
            governor = governing_action(token, lexicon)
            if governor is not None and action_of(governor, lexicon) in CHANGES:
                found.append((doc[token.i : token.i + 1], measure, None))
                taken.add(token.sent.start)
    return found


def _export_bans(doc: Doc, lexicon: Lexicon) -> Iterator[Span]:
    """Export bans stated by syntax rather than a fixed phrase, whatever words sit in between.

    A banning verb whose object is exports ("prohibiting the export of technologies", "halted rare
    earth shipments", "will stop exporting concentrates"), or a ban noun on exports ("a ban on
    raw lithium ore exports"). The span runs from the verb or noun to the export word.
    """
    cues = lexicon.cues
    for token in _tokens_among(doc, lexicon.ban_forms):
        lemma = token.lemma_.lower()
        if lemma not in cues.ban_words and not (lemma in cues.ban_nouns and token.pos_ == "NOUN"):
            continue
        if token.pos_ == "VERB":
            objects = [c for c in token.children if c.dep_ in lexicon.relations.ban_object_deps]
        elif token.pos_ == "NOUN":  # "a ban on ore exports", "its suspension of cobalt exports"
            objects = [
                grandchild
                for child in token.children
                if child.dep_ == "prep" and child.lower_ in cues.ban_prepositions
                for grandchild in child.children
                if grandchild.dep_ == "pobj"
            ]
        else:
            continue
        for found in objects:
            if found.lemma_.lower() in cues.export_words or found.lower_ in cues.export_words:
                # "banned rare earth exports": the span runs over the words between; "the export
                # of items to U.S. users is prohibited": only the export word, so that nothing in
                # between reads as the owner of the ban.
                near = token.i < found.i <= token.i + MAX_BAN_REACH
                yield doc[token.i : found.i + 1] if near else doc[found.i : found.i + 1]
                break


def _tokens_among(doc: Doc, forms: Iterable[str]) -> Iterator[Token]:
    """The tokens whose lower-case form or lemma is one of `forms`, found on the doc's arrays."""
    wanted = _hashes(doc.vocab.strings, frozenset(forms))
    rows = doc.to_array([LOWER, LEMMA]).tolist()
    for index, (lower, lemma) in enumerate(rows):
        if lower in wanted or lemma in wanted:
            yield doc[index]


@cache
def _hashes(strings: StringStore, forms: frozenset[str]) -> frozenset[int]:
    """The string-store hashes of some words."""
    return frozenset(strings.as_int(form) for form in forms)


def _names_a_statute(doc: Doc, span: Span, lexicon: Lexicon) -> bool:
    """ "the Export Control Law", "Regulations on the Export Control of Dual-Use Items"."""
    following = doc[span.end] if span.end < len(doc) else None
    if following is not None and following.lower_ in lexicon.cues.names_not_measures:
        return True
    title_case = all(token.is_title or not token.is_alpha for token in span)
    return title_case and following is not None and following.lower_ == "of"
