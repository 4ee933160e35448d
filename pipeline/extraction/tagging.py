"""Tagging by the vocabulary: elements, groups, countries, bodies and measure phrases, via phrase
matchers; companies from the trained pipeline's entities."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from models.annotation import ElementTag, EntityTag
from models.vocabulary import Vocabulary
from pipeline.extraction.lexicon import Lexicon

Tags = tuple[list[ElementTag], list[EntityTag]]
# Hyphens and quotes may sit inside a measure phrase ("export-control list", 'its "unreliable" list'):
# measure phrases are matched on the words of a text with these tokens left out.
INNER_PUNCTUATION = frozenset({"-", '"', "'", "\u201c", "\u201d", "\u2018", "\u2019"})
SYMBOL = re.compile(r"(?<![\w-])([A-Z][a-z]?)(?=[/\s,)-]|$)")


class Tagger:
    """The phrase matchers of a vocabulary, built once, and the tags they find in a doc."""

    def __init__(self, nlp: Language, vocabulary: Vocabulary, lexicon: Lexicon) -> None:
        self.nlp = nlp
        self.vocabulary = vocabulary
        self.lexicon = lexicon
        self._terms = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._names = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._measures = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._labels: dict[str, tuple[str, str]] = {}
        self.measure_labels: dict[str, tuple[str, str | None]] = {}
        self.measure_words: set[str] = set()  # the last word of every measure phrase
        self._punctuation = {nlp.vocab.strings.add(mark) for mark in INNER_PUNCTUATION}
        self._symbols = {
            element.symbol: element.name
            for element in vocabulary.elements
            if element.symbol and len(element.symbol) > 1
        }
        self._safe_symbols = {
            element.symbol for element in vocabulary.elements if not element.symbol_is_word
        }
        self._bodies = {body.name: body for body in vocabulary.bodies}
        self._forms = {
            word.lower(): form for form, words in vocabulary.forms.items() for word in words
        }
        self._build_matchers()

    def _add(self, matcher: PhraseMatcher, kind: str, key: str, phrases: Iterable[str]) -> None:
        """Match the phrases of one element, group, country or body under its label."""
        label = f"{kind}:{key}"
        self._labels[label] = (kind, key)
        patterns = [
            self.nlp.make_doc(phrase) for phrase in dict.fromkeys(phrases) if phrase.strip()
        ]
        if patterns:
            matcher.add(label, patterns)

    def _build_matchers(self) -> None:
        """Fill the matchers with every phrase of the vocabulary."""
        vocabulary = self.vocabulary
        for element in vocabulary.elements:
            self._add(self._terms, "element", element.name, [element.name, *element.synonyms])
        for group in vocabulary.groups:
            self._add(self._terms, "group", group.name, group.phrases)
        for compound in vocabulary.compounds:
            self._add(self._names, "compound", compound.text, [compound.text])
        for country in vocabulary.countries:
            self._add(self._names, "country", country.code, [*country.names, *country.adjectives])
            if country.capital:
                self._add(self._names, "capital", country.code, [country.capital])
        for body in vocabulary.bodies:
            self._add(self._names, "body", body.name, [*body.aliases, body.full_name])
            self._add(self._names, "head", body.name, body.heads)
        for index, phrase in enumerate(vocabulary.measure_phrases):
            label = f"measure:{index}"
            self.measure_labels[label] = (phrase.measure, phrase.action)
            words = [
                t.lower_ for t in self.nlp.make_doc(phrase.text) if t.text not in INNER_PUNCTUATION
            ]
            variants = {tuple(words), (*words[:-1], plural(words[-1]))}
            self.measure_words.update(variant[-1] for variant in variants)
            self._measures.add(label, [Doc(self.nlp.vocab, words=list(v)) for v in variants])

    def measures_named(self, doc: Doc) -> set[str]:
        """The measure types whose phrases a doc contains."""
        return {self.measure_labels[span.label_][0] for span in self.measure_spans(doc)}

    def measure_spans(self, doc: Doc) -> list[Span]:
        """Spans of measure phrases, labelled with their phrase; hyphens and quotes may sit inside."""
        orths = doc.to_array("ORTH")
        kept = [i for i, orth in enumerate(orths.tolist()) if orth not in self._punctuation]
        words = Doc(doc.vocab, words=[doc.vocab.strings[orths[i]] for i in kept])
        return [
            Span(doc, kept[start], kept[end - 1] + 1, label=doc.vocab.strings[match_id])
            for match_id, start, end in self._measures(words)
        ]

    def tag_names(self, doc: Doc) -> Tags:
        """The elements, groups, countries, bodies and companies a doc names, in text order."""
        spans: list[Span] = []
        for matcher in (self._terms, self._names):
            for match_id, start, end in matcher(doc):
                spans.append(Span(doc, start, end, label=doc.vocab.strings[match_id]))
        spans.extend(self._symbol_spans(doc))
        elements: list[ElementTag] = []
        entities: list[EntityTag] = []
        for span in longest_first(spans):
            kind, key = self._labels.get(span.label_, ("symbol", span.label_.partition(":")[2]))
            form = self._form_after(doc, span.end)
            if kind in ("element", "symbol"):
                elements.append(self._element_tag(key, span, form))
            elif kind == "compound":
                compound = next(c for c in self.vocabulary.compounds if c.text == key)
                for name in compound.elements:
                    elements.append(self._element_tag(name, span, compound.form or form))
            elif kind == "group":
                elements.append(
                    ElementTag(
                        key, None, key, True, form, span.text, span.start_char, span.end_char
                    )
                )
            elif kind in ("country", "capital"):
                entities.append(
                    EntityTag("country", key, key, span.text, span.start_char, span.end_char)
                )
            elif kind in ("body", "head"):
                body = self._bodies[key]
                entities.append(
                    EntityTag(
                        "body",
                        body.name,
                        body.jurisdiction,
                        span.text,
                        span.start_char,
                        span.end_char,
                    )
                )
        return self.with_companies(doc, elements, entities)

    def with_companies(
        self, doc: Doc, elements: list[ElementTag], entities: list[EntityTag]
    ) -> Tags:
        """Element words inside company names dropped, and the companies added as entities."""
        organisations = [
            ent
            for ent in doc.ents
            if ent.label_ in ("ORG", "PERSON", "FAC") and self._looks_like_organisation(ent.text)
        ]
        elements = [tag for tag in elements if not _inside_name(tag, organisations)]
        entities = list(entities)
        spans_taken: list[ElementTag | EntityTag] = [*elements, *entities]
        taken = {(tag.start, tag.end) for tag in spans_taken}
        covered = [range(tag.start, tag.end) for tag in spans_taken]
        for ent in doc.ents:
            if ent.label_ not in ("ORG", "PERSON") or (ent.start_char, ent.end_char) in taken:
                continue
            if any(ent.start_char in r or ent.end_char - 1 in r for r in covered):
                continue
            if ent.label_ == "PERSON" and not self._looks_like_organisation(ent.text):
                continue
            entities.append(
                EntityTag("company", ent.text, None, ent.text, ent.start_char, ent.end_char)
            )
        entities.sort(key=lambda tag: tag.start)
        return elements, entities

    def _symbol_spans(self, doc: Doc) -> Iterator[Span]:
        """Symbols count only beside another symbol ("Dy and Tb", "Ga/Ge"), one of them unambiguous."""
        hits = [match for match in SYMBOL.finditer(doc.text) if match.group(1) in self._symbols]
        for match in hits:
            neighbours = [
                other
                for other in hits
                if other is not match and abs(other.start() - match.start()) <= 12
            ]
            pair = [match, *neighbours]
            if not neighbours or not any(m.group(1) in self._safe_symbols for m in pair):
                continue
            label = f"symbol:{self._symbols[match.group(1)]}"
            span = doc.char_span(match.start(1), match.end(1), label=label, alignment_mode="expand")
            if span is not None and len(span.text) <= 6:
                yield span

    def _element_tag(self, name: str, span: Span, form: str | None) -> ElementTag:
        """The tag of an element named by a span."""
        element = self.vocabulary.element(name)
        return ElementTag(
            name,
            element.symbol,
            element.group,
            False,
            form,
            span.text,
            span.start_char,
            span.end_char,
        )

    def _form_after(self, doc: Doc, index: int) -> str | None:
        """The form the word after an element names ("oxide", "metal"), if any."""
        if index < len(doc):
            return self._forms.get(doc[index].lower_)
        return None

    def _looks_like_organisation(self, text: str) -> bool:
        """Whether a name has a word of company names ("Group", "Mining")."""
        return bool(self.lexicon.organisation.search(text))


def plural(word: str) -> str:
    """The plural of an English noun by the regular rules ("tariff": tariffs, "duty": duties)."""
    if word.endswith("s"):
        return word
    if word.endswith(("x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def longest_first(spans: list[Span]) -> list[Span]:
    """The spans that do not overlap a longer one (the first of equals), in text order."""
    chosen: list[Span] = []
    taken: set[int] = set()
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if taken.isdisjoint(range(span.start, span.end)):
            chosen.append(span)
            taken.update(range(span.start, span.end))
    return sorted(chosen, key=lambda s: s.start)


def _inside_name(tag: ElementTag, names: list[Span]) -> bool:
    """Whether an element word is part of a longer name ("Rare Earth Exchanges")."""
    return any(
        name.start_char <= tag.start
        and tag.end <= name.end_char
        and tag.end - tag.start < len(name.text)
        for name in names
    )


def names_within(
    tags: Sequence[ElementTag], start: int, end: int, groups: bool = False
) -> list[str]:
    """The element names (and group names when asked) tagged between two offsets, first seen first."""
    names: dict[str, None] = {}
    for tag in tags:
        if start <= tag.start and tag.end <= end and (groups or not tag.is_group):
            names.setdefault(tag.name)
    return list(names)
