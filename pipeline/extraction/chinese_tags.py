"""Tagging Chinese text by the Chinese vocabulary: one phrase matcher over spaCy's Chinese
characters for names, measures, actions and cues, and the element, entity and quantity tags."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import replace

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Span

from models.annotation import ElementTag, EntityTag, QuantityTag
from models.vocabulary import Vocabulary, VocabularyError
from models.vocabulary.chinese import ChineseMeasurePhrase, ChineseVocabulary
from pipeline.extraction.chinese_acts import Found
from pipeline.extraction.chinese_text import ChineseWriting
from pipeline.extraction.tagging import longest_first

HEAD_REACH = 200  # characters before a head word where the names it heads may stand


class ChineseTagger:
    """The Chinese vocabulary's phrase matcher, built once, and the tags it finds in a text."""

    def __init__(self, vocabulary: ChineseVocabulary, english: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.english = english
        self.nlp = spacy.blank("zh")  # the default segmenter: one token per character
        self.writing = ChineseWriting(vocabulary.writing)
        self.bodies = {body.name: body.jurisdiction for body in english.bodies}
        self._matcher = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self._labels: dict[str, tuple[str, str]] = {}
        self._phrases: dict[str, ChineseMeasurePhrase] = {}
        self._compounds = {compound.text: compound.elements for compound in vocabulary.compounds}
        self._build()

    def _add(self, kind: str, key: str, phrases: Iterable[str]) -> None:
        """Match phrases under the label of one meaning."""
        label = f"{kind}:{key}"
        self._labels[label] = (kind, key)
        patterns = [self.nlp.make_doc(phrase) for phrase in dict.fromkeys(phrases) if phrase]
        if patterns:
            self._matcher.add(label, patterns)

    def _build(self) -> None:
        """Every phrase of the Chinese vocabulary, each under its meaning."""
        words = self.vocabulary
        for name, element in words.elements.items():
            self._add("element", element, [name])
        for compound in words.compounds:
            self._add("compound", compound.text, [compound.text])
        for name, group in words.groups.items():
            self._add("group", group, [name])
        for name, code in words.countries.items():
            self._add("country", code, [name])
        for name, code in words.short_names.items():
            self._add("short", code, [name])
        for name, body in words.bodies.items():
            self._add("body", body, [name])
        for index, phrase in enumerate(words.measure_phrases):
            self._phrases[str(index)] = phrase
            self._add("measure", str(index), [phrase.text])
        for name, action in words.actions.items():
            self._add("action", action, [name])
        for kind, cues in words.modality.items():
            self._add("modality", kind, cues)
        hidden = [*words.unnamed, *words.law_names, *words.writing.not_words]
        self._add("hidden", "", hidden)

    def found(self, text: str) -> list[Found]:
        """Every vocabulary phrase of a text, the longest where they overlap, in text order."""
        doc = self.nlp.make_doc(text)
        spans = [
            Span(doc, start, end, label=self.nlp.vocab.strings[match_id])
            for match_id, start, end in self._matcher(doc)
        ]
        markers = self.vocabulary.writing.target_markers
        found = []
        for span in longest_first(spans):
            kind, key = self._labels[span.label_]
            if kind == "hidden":
                continue
            if kind == "short" and not text[: span.start_char].endswith(markers):
                continue  # 美 stands for the US only in 对美出口
            phrase = self._phrases.get(key) if kind == "measure" else None
            named = (
                (key,)
                if kind == "element"
                else self._compounds.get(key, ())
                if kind == "compound"
                else ()
            )
            start, end = span.start_char, span.end_char
            found.append(Found(kind, key, start, end, span.text, phrase, named))
        return self._with_heads(text, found)

    def _with_heads(self, text: str, found: list[Found]) -> list[Found]:
        """Elements marked where they head a list of items: named right before a head word
        (镓、锗、锑、超硬材料相关两用物项), with no break between them and it."""
        writing = self.vocabulary.writing
        starts = [item.start for item in found]  # found is in text order
        heading: set[int] = set()
        for head in writing.item_heads:
            at = text.find(head)
            while at >= 0:
                reach = max(0, at - HEAD_REACH)
                breaks = (text.rfind(mark, reach, at) for mark in writing.head_breaks)
                begins = max(max(breaks, default=-1), reach - 1)
                first, last = bisect_right(starts, begins), bisect_left(starts, at)
                heading.update(item.start for item in found[first:last])
                at = text.find(head, at + len(head))
        return [
            replace(item, heads=True) if item.elements and item.start in heading else item
            for item in found
        ]

    def element_tags(self, text: str, found: list[Found]) -> list[ElementTag]:
        """Elements, compounds and groups, with the form the words around them give."""
        tags = []
        for item in found:
            form = self._form_around(text, item.start, item.end)
            if item.kind == "element":
                tags.append(self._element_tag(item.key, item, form))
            elif item.kind == "compound":
                compound = next(c for c in self.vocabulary.compounds if c.text == item.key)
                tags += [self._element_tag(n, item, compound.form) for n in compound.elements]
            elif item.kind == "group":
                tags.append(
                    ElementTag(
                        item.key, None, item.key, True, form, item.text, item.start, item.end
                    )
                )
        return tags

    def _element_tag(self, name: str, item: Found, form: str | None) -> ElementTag:
        element = self.english.element(name)
        return ElementTag(
            name, element.symbol, element.group, False, form, item.text, item.start, item.end
        )

    def _form_around(self, text: str, start: int, end: int) -> str | None:
        """The form the word after an element names (钐金属), else the word before it (氧化镝)."""
        words = self.vocabulary
        after = [word for word in words.forms_after if text.startswith(word, end)]
        if after:
            return words.forms_after[max(after, key=len)]
        before = [word for word in words.forms_before if text[:start].endswith(word)]
        return words.forms_before[max(before, key=len)] if before else None

    def entity_tags(self, found: list[Found]) -> list[EntityTag]:
        """Countries and government bodies, as the English tags name them."""
        tags = []
        for item in found:
            if item.kind in ("country", "short"):
                tags.append(
                    EntityTag("country", item.key, item.key, item.text, item.start, item.end)
                )
            elif item.kind == "body":
                jurisdiction = self.bodies.get(item.key)
                if jurisdiction is None:
                    raise VocabularyError(f"zh/entities.yaml: unknown body {item.key!r}")
                tags.append(
                    EntityTag("body", item.key, jurisdiction, item.text, item.start, item.end)
                )
        return tags

    def quantities(self, text: str) -> list[QuantityTag]:
        """Counts of parties, spans of time and percentages, in text order."""
        writing = self.writing
        tags = [
            QuantityTag(c.value, c.unit, None, c.text, c.start, c.end) for c in writing.counts(text)
        ]
        tags += [QuantityTag(v, u, None, t, s, e) for v, u, t, s, e in writing.durations(text)]
        tags += [
            QuantityTag(v, "percent", None, t, s, e) for v, t, s, e in writing.percentages(text)
        ]
        return sorted(tags, key=lambda tag: tag.start)
