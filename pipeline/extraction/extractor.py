"""The extractor: elements, entities, quantities, dates and policy events from article text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from models.annotation import (
    EXTRACTOR_VERSION,
    Annotation,
    ArticleText,
    DateTag,
    ElementTag,
    EntityTag,
    EventMention,
    EventRecord,
    QuantityTag,
)
from models.vocabulary import Vocabulary
from pipeline.extraction.nlp import pipeline_version
from pipeline.text.dates import MONTHS, add_duration, resolve_date
from pipeline.text.language import detect_language

ANAPHORA = re.compile(
    r"\b(these|those|the|such)\s+(materials|metals|elements|minerals|items|products|rare earths)\b",
    re.IGNORECASE,
)
COUNTED_REFERENCE = re.compile(
    r"\b(?:(?:the|these|those|all)\s+(?P<count>two|three|four|five|six|seven|eight|nine|ten|\d{1,2})"
    r"|(?P<both>both))\s+(?:[a-z-]+\s+)?(?:metals|elements|minerals|materials|rare earths)\b",
    re.IGNORECASE,
)
SUBJECT_DEPS = ("nsubj", "nsubjpass", "csubj")
EFFECTIVE_CUES = ("effective", "from", "starting", "since", "take effect", "took effect", "as of")
EXPIRY_CUES = ("until", "through", "till", "expire", "expires", "expiring", "end")
DURATION = re.compile(r"\b(\d{1,3})[- ](day|week|month|year)s?\b", re.IGNORECASE)
QUALIFIERS = {
    "over": "over",
    "more than": "over",
    "above": "over",
    "at least": "at_least",
    "nearly": "nearly",
    "almost": "nearly",
    "about": "about",
    "around": "about",
    "roughly": "about",
    "some": "about",
    "up to": "up_to",
    "less than": "under",
    "under": "under",
}
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12, "a dozen": 12,
}  # fmt: skip
WEAK_BAN = frozenset({"ban", "bans", "banned", "embargo"})
# Hyphens and quotes may sit inside a measure phrase ("export-control list", 'its "unreliable" list'):
# measure phrases are matched on the words of a text with these tokens left out.
INNER_PUNCTUATION = frozenset({"-", '"', "'", "\u201c", "\u201d", "\u2018", "\u2019"})
EXPORT_SIDE_MEASURES = frozenset(
    {"export_ban", "export_control", "export_quota", "export_tax", "entity_listing"}
)
FORWARD_REFERENCE = re.compile(r"\b(the following|as follows|listed below)\b", re.IGNORECASE)
PART_OF_TAG = {"VERB": "verbs", "AUX": "verbs", "NOUN": "nouns", "ADJ": "adjectives"}
FUTURE_AUXILIARIES = frozenset({"will", "'ll", "would", "shall"})
MEASURE_REFERENCES = frozenset(
    {"implementation", "measure"}
)  # "the measures", "its implementation"
CHANGES = frozenset(
    {"suspend", "lift", "extend", "maintain", "ease"}
)  # done to an existing measure
LASTING = frozenset({"suspend", "extend", "impose", "ease"})  # actions that may run for a time
ADOPTED_MEASURES = frozenset({"state_support", "agreement", "investigation", "production_control"})
APPROVALS = frozenset({"approve", "grant", "authorize", "authorise"})
PROLONGED_DEPS = frozenset({"xcomp", "dobj", "pobj", "nsubjpass"})  # how a pause is prolonged
CONTAINERS = frozenset({"rule", "measure", "package", "regulation", "decision"})
SPEECH_VERBS = frozenset({"say", "announce", "state", "tell", "confirm", "add", "declare"})
THREAT_VERBS = frozenset({"threaten", "warn"})
BAN_WORDS = frozenset(
    {
        "ban",
        "prohibit",
        "prohibition",
        "bar",
        "halt",
        "stop",
        "block",
        "embargo",
        "forbid",
        "outlaw",
    }
)
BAN_NOUNS = frozenset({"suspension", "halt", "freeze", "moratorium"})  # of exports: a ban
BAN_FORMS = frozenset(
    form
    for word in BAN_WORDS | BAN_NOUNS
    for form in (word, word + "s", word + "es", word + "ed", word + "d", word + "ing",
                 word + word[-1] + "ed", word + word[-1] + "ing")
)  # fmt: skip
WORD = re.compile(r"[a-z]+")
MAX_BAN_REACH = 5  # tokens from a banning verb to its export object within one trigger span
EXPORT_WORDS = frozenset({"export", "exports", "exporting", "shipment", "shipments"})
OBJECT_PREPOSITIONS = frozenset({"of", "on", "to", "from", "in", "into"})
NOUN_PREPOSITIONS = frozenset(
    {"in"}
)  # "a cut in tariffs" under a noun; "added ... in a crackdown" not
REQUEST_VERBS = frozenset({"apply", "call", "push", "lobby", "press"})  # with "for": asking
ACTION_POS = frozenset({"VERB", "NOUN", "ADJ", "AUX", "PROPN"})
SUBJECT_ACTIONS = frozenset({"maintain", "lift", "extend"})  # "the ban remains / ends / runs on"
MAX_READ_CHARS = 100_000  # the trained pipeline reads at most this much of a text (~450 MB peak)
FORWARD_REACH = 2000  # characters after the sentence where "the following items" are listed
NAMES_NOT_MEASURES = frozenset(
    {"law", "laws", "act", "regulation", "regulations", "reform", "office"}
)
NOUN_PHRASE_DEPS = frozenset({"compound", "poss", "amod", "nmod", "appos", "conj", "cc"})
OWNER_DEPS = ("poss", "compound", "amod", "nmod")


@dataclass(frozen=True)
class _Reading:
    """What the trained pipeline reads of a text, and the vocabulary tags of what it skips."""

    doc: Doc
    note: str | None = None
    tags: tuple[list[ElementTag], list[EntityTag]] = field(default_factory=lambda: ([], []))
    blanked: tuple[tuple[int, int], ...] = ()

    def was_blanked(self, offset: int) -> bool:
        """Whether a character offset lies in a paragraph the pipeline did not read."""
        return any(start <= offset < end for start, end in self.blanked)


@dataclass
class _Candidate:
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


class Extractor:
    """Tags elements, entities, quantities and policy events; built once per process."""

    def __init__(self, nlp: Language, vocabulary: Vocabulary, screening: bool = True) -> None:
        self.nlp = nlp
        self.vocabulary = vocabulary
        self.screening = screening  # False: the trained pipeline reads every readable text
        self.version = f"{EXTRACTOR_VERSION}+{pipeline_version(nlp)}"
        self._terms = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._names = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._measures = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._labels: dict[str, tuple[str, str]] = {}
        self._measure_labels: dict[str, tuple[str, str | None]] = {}
        self._measure_words: set[str] = set()  # the last word of every measure phrase
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
        label = f"{kind}:{key}"
        self._labels[label] = (kind, key)
        patterns = [
            self.nlp.make_doc(phrase) for phrase in dict.fromkeys(phrases) if phrase.strip()
        ]
        if patterns:
            matcher.add(label, patterns)

    def _build_matchers(self) -> None:
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
            self._measure_labels[label] = (phrase.measure, phrase.action)
            words = [
                t.lower_ for t in self.nlp.make_doc(phrase.text) if t.text not in INNER_PUNCTUATION
            ]
            variants = {tuple(words), (*words[:-1], _plural(words[-1]))}
            self._measure_words.update(variant[-1] for variant in variants)
            self._measures.add(label, [Doc(self.nlp.vocab, words=list(v)) for v in variants])

    def annotate(
        self, articles: Sequence[ArticleText], batch_size: int = 32, processes: int = 1
    ) -> list[Annotation]:
        """Annotate many texts, in input order.

        A cheap first pass (tokenizer and phrase matchers, no trained components) screens each
        text; only texts that name a critical mineral and a trade measure go through the trained
        pipeline's `nlp.pipe`. The others keep their vocabulary tags and say why they stopped.
        """
        results: list[Annotation | None] = []
        to_read: list[tuple[int, _Reading]] = []
        for index, article in enumerate(articles):
            verdict = self._screen(article)
            if isinstance(verdict, Annotation):
                results.append(verdict)
            else:
                results.append(None)
                to_read.append((index, verdict))
        docs = self.nlp.pipe(
            (reading.doc for _, reading in to_read), batch_size=batch_size, n_process=processes
        )
        for (index, reading), doc in zip(to_read, docs, strict=True):
            results[index] = self._annotate_doc(articles[index], doc, reading)
        return [annotation for annotation in results if annotation is not None]

    def annotate_each(
        self, articles: Sequence[ArticleText], processes: int = 1
    ) -> list[Annotation | Exception]:
        """Annotations in input order; when a batch fails, each text alone, so a bad one fails alone."""
        try:
            return list(self.annotate(articles, processes=processes))
        except Exception:  # find the culprit: annotate the texts one by one
            results: list[Annotation | Exception] = []
            for article in articles:
                try:
                    results.extend(self.annotate([article]))
                except Exception as error:
                    results.append(error)
            return results

    def _screen(self, article: ArticleText) -> Annotation | _Reading:
        """An annotation for a text the trained pipeline need not read, else the doc it must read."""
        language = article.language or detect_language(article.text)
        if language not in (None, "en"):
            written = f"written in {language!r}; the pipeline reads English"
            return self._unread(article, ([], []), "skipped", written)
        if not article.text.strip():
            return self._unread(article, ([], []), "skipped", "empty text")
        text = article.text
        note: str | None = None
        if len(text) > MAX_READ_CHARS:
            cut = text.rfind("\n", 0, MAX_READ_CHARS)
            cut = cut if cut > MAX_READ_CHARS // 2 else MAX_READ_CHARS
            text, note = text[:cut], f"read the first {cut:,} of {len(text):,} characters"
        doc = self.nlp.make_doc(text)
        if not self.screening:
            return _Reading(doc, note)
        words = set(WORD.findall(text.lower()))
        # The phrase matcher runs only when a measure phrase's last word is there at all.
        measures = set() if words.isdisjoint(self._measure_words) else self._measures_named(doc)
        tags = self._tag_names(doc)
        minerals = bool(tags[0])  # elements and groups
        if minerals and not words.isdisjoint(WEAK_BAN):
            measures.add("export_ban")  # "ban" beside element names reads as an export ban
        if not words.isdisjoint(BAN_FORMS) and not words.isdisjoint(EXPORT_WORDS):
            measures.add("export_ban")  # maybe a ban verb on exports, which the parse decides
        if not measures:
            return self._unread(article, tags, "screened", _joined("names no trade measure", note))
        if not minerals and measures.isdisjoint(EXPORT_SIDE_MEASURES):
            # The same test as `_on_topic`: without minerals, only export-side measures count.
            return self._unread(
                article, tags, "screened", _joined("names no critical mineral", note)
            )
        return self._paragraphs_to_read(doc, note, tags)

    def _paragraphs_to_read(
        self, doc: Doc, note: str | None, tags: tuple[list[ElementTag], list[EntityTag]]
    ) -> _Reading:
        """The text with the paragraphs that cannot state a measure blanked out.

        The trained pipeline reads the first paragraph (headline, dateline), every paragraph with
        a measure word, and the paragraph before each (for "these materials"); the others become
        spaces of the same length, so offsets hold, and keep their vocabulary tags.
        """
        text = doc.text
        lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
        keep = {0}
        for index, (start, end) in enumerate(lines):
            words = set(WORD.findall(text[start:end].lower()))
            if not words.isdisjoint(self._measure_words) or not words.isdisjoint(BAN_FORMS):
                keep.update((index - 1, index))
                if FORWARD_REFERENCE.search(text[start:end]):  # "on the following items:"
                    keep.update(
                        later
                        for later, (later_start, _) in enumerate(lines)
                        if end <= later_start < end + FORWARD_REACH
                    )
        blanked = [span for index, span in enumerate(lines) if index not in keep]
        if not blanked:
            return _Reading(doc, note)  # every paragraph counts: the tokens are already there
        characters = list(text)
        for start, end in blanked:
            characters[start:end] = " " * (end - start)
        return _Reading(self.nlp.make_doc("".join(characters)), note, tags, tuple(blanked))

    def _measures_named(self, doc: Doc) -> set[str]:
        """The measure types whose phrases a doc contains."""
        return {self._measure_labels[span.label_][0] for span in self._measure_spans(doc)}

    def _measure_spans(self, doc: Doc) -> list[Span]:
        """Spans of measure phrases, labelled with their phrase; hyphens and quotes may sit inside."""
        orths = doc.to_array("ORTH")
        kept = [i for i, orth in enumerate(orths.tolist()) if orth not in self._punctuation]
        words = Doc(doc.vocab, words=[doc.vocab.strings[orths[i]] for i in kept])
        return [
            Span(doc, kept[start], kept[end - 1] + 1, label=doc.vocab.strings[match_id])
            for match_id, start, end in self._measures(words)
        ]

    def _unread(
        self,
        article: ArticleText,
        tags: tuple[list[ElementTag], list[EntityTag]],
        status: str,
        note: str,
    ) -> Annotation:
        """An annotation from the vocabularies alone: elements, groups and countries, no events."""
        element_tags, entity_tags = tags
        return Annotation(
            id=article.id,
            on_topic=False,
            element_tags=tuple(element_tags),
            entity_tags=tuple(entity_tags),
            quantities=(),
            events=(),
            extractor_version=self.version,
            status=status,
            note=note,
        )

    def _annotate_doc(
        self, article: ArticleText, doc: Doc, reading: _Reading | None = None
    ) -> Annotation:
        note = reading.note if reading is not None else None
        element_tags, entity_tags = self._tag_names(doc)
        quantities = tuple(_quantities(doc))
        events = self._events(article, doc, element_tags, entity_tags, quantities)
        if (
            reading is not None and reading.blanked
        ):  # paragraphs not read keep their vocabulary tags
            vocabulary_elements, vocabulary_entities = reading.tags
            element_tags = sorted(
                [*element_tags, *(t for t in vocabulary_elements if reading.was_blanked(t.start))],
                key=lambda tag: tag.start,
            )
            entity_tags = sorted(
                [*entity_tags, *(t for t in vocabulary_entities if reading.was_blanked(t.start))],
                key=lambda tag: tag.start,
            )
        on_topic = _on_topic(element_tags, events)
        return Annotation(
            id=article.id,
            on_topic=on_topic,
            element_tags=tuple(element_tags),
            entity_tags=tuple(entity_tags),
            quantities=quantities,
            events=tuple(events),
            extractor_version=self.version,
            note=note,
        )

    # Tagging -----------------------------------------------------------------------------

    def _tag_names(self, doc: Doc) -> tuple[list[ElementTag], list[EntityTag]]:
        spans: list[Span] = []
        for matcher in (self._terms, self._names):
            for match_id, start, end in matcher(doc):
                spans.append(Span(doc, start, end, label=doc.vocab.strings[match_id]))
        spans.extend(self._symbol_spans(doc))
        kept = _longest_first(spans)
        elements: list[ElementTag] = []
        entities: list[EntityTag] = []
        for span in kept:
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
        organisations = [
            ent
            for ent in doc.ents
            if ent.label_ in ("ORG", "PERSON", "FAC") and _looks_like_organisation(ent.text)
        ]
        elements = [tag for tag in elements if not _inside_name(tag, organisations)]
        spans_taken: list[ElementTag | EntityTag] = [*elements, *entities]
        taken = {(tag.start, tag.end) for tag in spans_taken}
        covered = [range(tag.start, tag.end) for tag in spans_taken]
        for ent in doc.ents:
            if ent.label_ not in ("ORG", "PERSON") or (ent.start_char, ent.end_char) in taken:
                continue
            if any(ent.start_char in r or ent.end_char - 1 in r for r in covered):
                continue
            if ent.label_ == "PERSON" and not _looks_like_organisation(ent.text):
                continue
            entities.append(
                EntityTag("company", ent.text, None, ent.text, ent.start_char, ent.end_char)
            )
        entities.sort(key=lambda tag: tag.start)
        return elements, entities

    def _symbol_spans(self, doc: Doc) -> Iterator[Span]:
        """Symbols count only beside another symbol ("Dy and Tb", "Ga/Ge"), one of them unambiguous."""
        hits = [
            match
            for match in re.finditer(r"(?<![\w-])([A-Z][a-z]?)(?=[/\s,)-]|$)", doc.text)
            if match.group(1) in self._symbols
        ]
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
        if index < len(doc):
            return self._forms.get(doc[index].lower_)
        return None

    # Events ------------------------------------------------------------------------------

    def _events(
        self,
        article: ArticleText,
        doc: Doc,
        element_tags: list[ElementTag],
        entity_tags: list[EntityTag],
        quantities: Sequence[QuantityTag],
    ) -> list[EventRecord]:
        triggers = self._measure_triggers(doc, element_tags)
        triggers += self._references_to_measures(doc, triggers)
        candidates: list[_Candidate] = []
        previous_elements: list[str] = []
        for sentence in doc.sents:
            in_sentence = [
                t for t in triggers if t[0].start >= sentence.start and t[0].end <= sentence.end
            ]
            sentence_elements = _names_within(element_tags, sentence.start_char, sentence.end_char)
            roots = {trigger.root.i for trigger, _, _ in in_sentence}
            for trigger, measure, implied in in_sentence:
                candidate = self._candidate(
                    sentence,
                    trigger,
                    measure,
                    implied,
                    entity_tags,
                    element_tags,
                    roots - {trigger.root.i},
                )
                if not candidate.elements and previous_elements and _refers_back(sentence, trigger):
                    candidate.elements = list(previous_elements)
                    candidate.elements_referred = True
                if not candidate.elements:  # "the three metals": the last three named before
                    candidate.elements = _counted_reference(sentence, element_tags)
                if not candidate.elements and FORWARD_REFERENCE.search(sentence.text):
                    candidate.elements = _names_within(
                        element_tags, sentence.end_char, sentence.end_char + FORWARD_REACH
                    )
                candidate.quantities = [
                    q for q in quantities if sentence.start_char <= q.start < sentence.end_char
                ]
                candidate.dates = list(_dates(sentence, article.published, candidate))
                candidates.append(candidate)
            if sentence_elements:
                previous_elements = sentence_elements
        default_actor = _default_actor(candidates, entity_tags)
        _future_steps_are_threats(candidates)
        _restrictions_kept_are_the_ban(candidates)
        records = []
        for candidate in candidates:
            if not candidate.stated_action:
                continue  # a measure named in passing ("the export ban") is not an event
            if candidate.actor is None and default_actor is not None:
                candidate.actor = default_actor
                candidate.confidence -= 0.1
            if candidate.actor is not None and candidate.target == candidate.actor.jurisdiction:
                candidate.target = candidate.target_count = candidate.target_unit = None
            if (
                candidate.measure == "entity_listing"
                and "control list" in candidate.trigger.text.lower()
                and candidate.elements
                and candidate.target_count is None
            ):
                # Minerals and items added to a control list are export controls, not listings.
                candidate.measure = "export_control"
            if candidate.modality == "negated" and candidate.action in ("lift", "suspend", "ease"):
                # "refused to lift the ban": the measure stays in force.
                candidate.action, candidate.modality = "maintain", "asserted"
            records.append(_record(candidate))
        return _merge_same_event(records)

    def _measure_triggers(
        self, doc: Doc, element_tags: list[ElementTag]
    ) -> list[tuple[Span, str, str | None]]:
        triggers = []
        for span in _longest_first(self._measure_spans(doc)):
            if _names_a_statute(doc, span):
                continue
            measure, action = self._measure_labels[span.label_]
            triggers.append((span, measure, action))
        taken = {index for span, _, _ in triggers for index in range(span.start, span.end)}
        for span in _export_bans(doc):  # "halted rare earth shipments", "stop exporting lithium"
            if taken.isdisjoint(range(span.start, span.end)):
                triggers.append(
                    (span, "export_ban", "impose" if span.root.pos_ == "VERB" else None)
                )
                taken.update(range(span.start, span.end))
        # A bare "ban" means an export ban when the sentence names elements.
        for token in doc:
            if token.lower_ in WEAK_BAN and token.i not in taken:
                sentence = token.sent
                if _names_within(element_tags, sentence.start_char, sentence.end_char, groups=True):
                    action = "impose" if token.pos_ == "VERB" else None
                    triggers.append((doc[token.i : token.i + 1], "export_ban", action))
        triggers.sort(key=lambda trigger: trigger[0].start)
        return triggers

    def _references_to_measures(
        self, doc: Doc, triggers: list[tuple[Span, str, str | None]]
    ) -> list[tuple[Span, str, str | None]]:
        """Changes to "the measures" or "the implementation of" a notice, in sentences naming no
        measure, read as changes to the measure the article is about ("the implementation of
        Announcement No. 55 shall be suspended")."""
        if not triggers:
            return []
        measure = Counter(found for _, found, _ in triggers).most_common(1)[0][0]
        taken = {trigger.sent.start for trigger, _, _ in triggers}
        found: list[tuple[Span, str, str | None]] = []
        for token in doc:
            if (
                token.lemma_.lower() in MEASURE_REFERENCES
                and token.pos_ == "NOUN"
                and token.sent.start not in taken
            ):
                governor = self._governing_action(token)
                if governor is not None and self.action_of(governor) in CHANGES:
                    found.append((doc[token.i : token.i + 1], measure, None))
                    taken.add(token.sent.start)
        return found

    def _candidate(
        self,
        sentence: Span,
        trigger: Span,
        measure: str,
        implied_action: str | None,
        entity_tags: list[EntityTag],
        element_tags: list[ElementTag],
        other_roots: set[int],
    ) -> _Candidate:
        action_token = self._action_token(sentence, trigger, other_roots)
        change = self._container_change(trigger)
        if change is not None:
            action_token, implied_action, trigger_verb = change, None, False
        else:
            trigger_verb = trigger.root.pos_ == "VERB"
        # Who would act and how sure it is are read at the step itself, before a threat over it
        # ("the broadcaster warned that Beijing could restrict exports": Beijing, hypothetically).
        step = trigger.root if trigger_verb else action_token or trigger.root
        found_action = self.action_of(action_token) if action_token is not None else None
        threat = self._threat_over(action_token)
        if threat is not None:  # "threatened to impose tariffs", "warned it could restrict exports"
            found_action, action_token = "threaten", threat
        prolonging = self._prolonging(action_token, implied_action or found_action)
        if prolonging is not None:  # "extended its suspension of exports", "continues to suspend"
            found_action, implied_action, action_token = "extend", None, prolonging
        if found_action == "threaten":  # "warned it could restrict exports": a threat, not a step
            implied_action = None
        if found_action == "extend" and _widens(trigger):
            found_action = "expand"  # "extended its controls to graphite": wider, not longer
        action = implied_action or found_action or "impose"
        if action == "ease" and measure in ADOPTED_MEASURES and step.lemma_.lower() in APPROVALS:
            action = "impose"  # approving a subsidy or a deal brings it in; approving exports eases
        candidate = _Candidate(
            sentence=sentence,
            trigger=trigger,
            measure=measure,
            action=action,
            action_token=action_token,
            modality=self._modality(sentence, action_token or step, action),
        )
        candidate.stated_action = action_token is not None or implied_action is not None
        if candidate.stated_action:
            candidate.confidence += 0.2
        sentence_entities = [
            t for t in entity_tags if sentence.start_char <= t.start < sentence.end_char
        ]
        candidate.actor = (
            _owner(trigger, sentence_entities)
            or _actor(sentence, step, sentence_entities)
            or _actor(sentence, action_token or step, sentence_entities)
        )
        if candidate.actor is not None:
            candidate.confidence += 0.15
        candidate.elements = self._event_elements(sentence, trigger, action_token, element_tags)
        target, count, unit = _target(
            sentence, trigger, action_token, candidate.actor, sentence_entities
        )
        candidate.target, candidate.target_count, candidate.target_unit = target, count, unit
        if candidate.elements or candidate.target:
            candidate.confidence += 0.15
        return candidate

    def _threat_over(self, token: Token | None) -> Token | None:
        """The threatening verb that governs an action verb, if any: that verb decides."""
        if token is None or token.dep_ not in ("xcomp", "ccomp"):
            return None
        head = token.head
        if self.action_of(head) != "threaten":
            return None
        return head if token.dep_ == "xcomp" or head.lemma_ in THREAT_VERBS else None

    def _prolonging(self, token: Token | None, action: str | None) -> Token | None:
        """The word that prolongs a suspension ("extended its pause", "continue to suspend")."""
        if token is None or action != "suspend" or token.dep_ not in PROLONGED_DEPS:
            return None  # "suspended X and maintains Y": two steps, not a prolonged pause
        governor = self._governing_action(token)
        if governor is not None and self.action_of(governor) in ("extend", "maintain"):
            return governor
        return None

    def action_of(self, token: Token) -> str | None:
        """The action a word states, by lemma, then by its own lower-case form ("Maintains")."""
        # A word states an action in the part of speech it is listed under ("subject" the verb,
        # not the adjective of "items subject to export control"); headline case and proper
        # nouns leave the tagger unsure, so any part counts there.
        if token.dep_ == "prep":  # participles used as prepositions: "including", "following"
            return None
        if any(child.dep_ == "prep" and child.lower_ == "for" for child in token.children) and (
            token.lemma_.lower() in REQUEST_VERBS
        ):
            return None  # "apply for export licenses" asks for one; "apply controls" imposes
        part = PART_OF_TAG.get(token.pos_)
        if part is None or token.is_title or token.is_upper:
            lemmas = self.vocabulary.action_lemmas
        else:
            lemmas = self.vocabulary.action_lemmas_by_part[part]
        word = token.lower_
        # Headline case hides verbs from the tagger ("China Pauses Some Export Controls"):
        # try the word's own inflections too.
        forms = [token.lemma_.lower(), word]
        for suffix, restore in (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", ""),
                                ("ing", ""), ("ing", "e"), ("ies", "y"), ("ied", "y")):  # fmt: skip
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                forms.append(word[: -len(suffix)] + restore)
        return next((lemmas[form] for form in forms if form in lemmas), None)

    def _action_token(self, sentence: Span, trigger: Span, other_roots: set[int]) -> Token | None:
        """The word stating what happens to a measure, nearest in the parse first.

        Participles of action verbs modifying the measure come first ("the tightened controls"),
        then the governing words ("suspended the controls", "the lifting of the ban", "the
        controls remain"), then other modifiers ("new controls"), then clauses attached to the
        measure ("the restrictions, imposed April 4"), then, when the sentence names no other
        measure, the nearest action verb the measure sits under, however deep.
        """
        root = trigger.root
        for child in root.children:  # "the tightened controls", "the continued ban"
            if child.dep_ == "amod" and child.tag_ == "VBN" and self.action_of(child):
                return child
        governing = self._governing_action(root)
        if governing is not None:
            return governing
        for child in root.children:
            if child.dep_ in ("amod", "compound") and child.i < root.i and self.action_of(child):
                return child
        for child in root.children:
            if child.dep_ in ("acl", "relcl") and self.action_of(child):
                return child
        if other_roots:  # with several measures in the sentence, a loose word is no evidence
            return None
        nearby = [
            token
            for token in sentence
            if token.pos_ == "VERB"
            and self.action_of(token)
            and not (trigger.start <= token.i < trigger.end)
            and token.head.i not in other_roots
            and not any(child.i in other_roots for child in token.children)
            and token.is_ancestor(trigger.root)  # the measure sits somewhere under it
        ]
        return min(
            nearby, key=lambda t: (abs(t.i - trigger.start), t.i > trigger.start), default=None
        )

    def _container_change(self, trigger: Span) -> Token | None:
        """The change made to a rule or set of measures the measure is described inside
        ("paused its rule extending Entity List restrictions": the pause, not the extending)."""
        container = _container_of(trigger.root)
        if container is None:
            return None
        governing = self._governing_action(container)
        if governing is not None and self.action_of(governing) in CHANGES:
            return governing
        return None

    def _governing_action(self, root: Token) -> Token | None:
        """The action word a measure is the object of, climbing at most four heads.

        The climb passes through prepositions that make the measure the thing acted on ("lifting
        of the ban", "cut in tariffs", "exemption from duties") but not through others ("in
        retaliation for tariffs"); a measure that is the subject of a verb takes only verbs of
        state ("the controls remain in force", "the ban ends"), not what it is said to do ("the ban
        signals").
        """
        token = root
        for _ in range(4):
            head = token.head
            if head.i == token.i:
                return None
            if token.dep_ == "pobj" and (
                head.lower_ not in OBJECT_PREPOSITIONS
                or (head.lower_ in NOUN_PREPOSITIONS and head.head.pos_ not in ("NOUN", "PROPN"))
            ):
                return None  # "in retaliation for tariffs"; "added ... in a crackdown"
            action = self.action_of(head) if head.pos_ in ACTION_POS else None
            if token.dep_ == "nsubj" and action not in SUBJECT_ACTIONS:
                return None
            if action is not None:
                return head
            token = head
        return None

    def _modality(self, sentence: Span, action_token: Token | None, action: str) -> str:
        """How the sentence states the event: asserted, reported, threatened, negated, hypothetical.

        An official's own statement ("the ministry said it would suspend ...") is asserted; a
        claim passed on from unnamed people or other media is reported.
        """
        cues = self.vocabulary.modality_cues
        if action == "threaten":
            return "threatened"
        if action_token is not None:
            children = {child.lower_ for child in action_token.children}
            if action_token.dep_ == "pcomp" and action_token.head.head.i != action_token.head.i:
                # "could respond by banning exports": the modal sits on the governing verb
                children |= {child.lower_ for child in action_token.head.head.children}
            if any(child.dep_ == "neg" for child in action_token.children) or (
                action_token.head.lemma_.lower() in set(cues.get("negation", ()))
            ):
                return "negated"
            hypothetical = children & set(cues.get("hypothetical", ()))
            if hypothetical - {"would", "will"} or (
                hypothetical and not _reported_speech(action_token)
            ):
                return "hypothetical"
        words = {token.lower_ for token in sentence}
        if words & set(cues.get("reported", ())):
            return "reported"
        return "asserted"

    def _event_elements(
        self,
        sentence: Span,
        trigger: Span,
        action_token: Token | None,
        element_tags: list[ElementTag],
    ) -> list[str]:
        def within(tokens: Iterable[Token]) -> list[str]:
            indexes = sorted(token.i for token in tokens)
            if not indexes:
                return []
            start = sentence.doc[indexes[0]].idx
            last = sentence.doc[indexes[-1]]
            return _names_within(element_tags, start, last.idx + len(last.text))

        found = within(trigger.root.subtree)
        if not found and action_token is not None and action_token.pos_ == "VERB":
            found = within(
                token
                for token in action_token.subtree
                if token.dep_ != "conj" or token.i < trigger.start
            )
        if not found:
            found = _names_within(element_tags, trigger.start_char, sentence.end_char)
        return found


def _export_bans(doc: Doc) -> Iterator[Span]:
    """Export bans stated by syntax rather than a fixed phrase, whatever words sit in between.

    A banning verb whose object is exports ("prohibiting the export of technologies", "halted rare
    earth shipments", "will stop exporting concentrates"), or a ban noun on exports ("a ban on
    raw lithium ore exports"). The span runs from the verb or noun to the export word.
    """
    for token in doc:
        lemma = token.lemma_.lower()
        if lemma not in BAN_WORDS and not (lemma in BAN_NOUNS and token.pos_ == "NOUN"):
            continue
        if token.pos_ == "VERB":
            objects = [
                c for c in token.children if c.dep_ in ("dobj", "xcomp", "pcomp", "nsubjpass")
            ]
        elif token.pos_ == "NOUN":  # "a ban on ore exports", "its suspension of cobalt exports"
            objects = [
                grandchild
                for child in token.children
                if child.dep_ == "prep" and child.lower_ in ("on", "of", "to")
                for grandchild in child.children
                if grandchild.dep_ == "pobj"
            ]
        else:
            continue
        for found in objects:
            if found.lemma_.lower() in EXPORT_WORDS or found.lower_ in EXPORT_WORDS:
                # "banned rare earth exports": the span runs over the words between; "the export
                # of items to U.S. users is prohibited": only the export word, so that nothing in
                # between reads as the owner of the ban.
                near = token.i < found.i <= token.i + MAX_BAN_REACH
                yield doc[token.i : found.i + 1] if near else doc[found.i : found.i + 1]
                break


def _restrictions_kept_are_the_ban(candidates: list[_Candidate]) -> None:
    """ "The restrictions remain in force for these materials", after a sentence on the ban kept on
    them, speaks of that ban."""
    kept_bans = [
        set(c.elements) for c in candidates if (c.measure, c.action) == ("export_ban", "maintain")
    ]
    for candidate in candidates:
        if (
            candidate.elements_referred
            and (candidate.measure, candidate.action) == ("export_control", "maintain")
            and any(set(candidate.elements) <= elements for elements in kept_bans)
        ):
            candidate.measure = "export_ban"


def _future_steps_are_threats(candidates: list[_Candidate]) -> None:
    """A step an actor "will" take on a measure the same article says it threatens is that threat."""
    threatened = {
        (c.actor.jurisdiction if c.actor else None, c.measure)
        for c in candidates
        if c.action == "threaten"
    }
    for candidate in candidates:
        token = candidate.action_token
        owner = candidate.actor.jurisdiction if candidate.actor else None
        if (
            candidate.action == "impose"
            and token is not None
            and any(child.lower_ in FUTURE_AUXILIARIES for child in token.children)
            and (owner, candidate.measure) in threatened
        ):
            candidate.action, candidate.modality = "threaten", "threatened"


def _container_of(root: Token) -> Token | None:
    """The rule or set of measures a measure is described inside ("a rule that would have
    extended export restrictions", "the measures against entities added to the control list")."""
    token = root
    for _ in range(6):
        if token.head.i == token.i:
            return None
        token = token.head
        if token.pos_ == "NOUN" and token.lemma_.lower() in CONTAINERS:
            return token
    return None


def _widens(trigger: Span) -> bool:
    """Whether "extended X to Y" widens a measure to new things rather than to a later date.

    Read from the words right after the measure, since the parse of "to graphite" is unreliable.
    """
    doc = trigger.doc
    following = doc[trigger.end : min(trigger.end + 3, trigger.sent.end)]
    for token in following:
        if token.lower_ == "to" and token.i + 1 < len(doc):
            after = doc[token.i + 1]
            if after.lower_ == "the" and after.i + 1 < len(doc):
                after = doc[after.i + 1]
            return not (after.ent_type_ == "DATE" or after.lower_ in MONTHS or after.like_num)
    return False


def _counted_reference(sentence: Span, element_tags: list[ElementTag]) -> list[str]:
    """Elements a counted phrase refers back to ("the three minor metals", "both elements")."""
    match = COUNTED_REFERENCE.search(sentence.text)
    if match is None:
        return []
    word = (match["count"] or "two").lower()  # "both" is two
    count = int(word) if word.isdigit() else NUMBER_WORDS[word]
    named = [
        tag.name for tag in element_tags if not tag.is_group and tag.end <= sentence.start_char
    ]
    recent = list(dict.fromkeys(reversed(named)))[:count]
    return list(reversed(recent)) if len(recent) == count else []


def _reported_speech(token: Token) -> bool:
    """Whether a verb sits under a verb of saying ("said it would lift"): "would" is then a future."""
    head = token
    for _ in range(3):
        if head.head.i == head.i:
            return False
        head = head.head
        if head.lemma_.lower() in SPEECH_VERBS:
            return True
    return False


def _joined(first: str, second: str | None) -> str:
    return f"{first}; {second}" if second else first


def _on_topic(element_tags: list[ElementTag], events: list[EventRecord]) -> bool:
    """About critical-mineral policy: an export-side measure, or a government's measure with minerals."""
    return any(
        event.measure in EXPORT_SIDE_MEASURES or (element_tags and event.actor is not None)
        for event in events
    )


def _plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if word.endswith(("x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _longest_first(spans: list[Span]) -> list[Span]:
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


def _looks_like_organisation(text: str) -> bool:
    return bool(
        re.search(
            r"\b(Exchange|Exchanges|Group|Corp|Inc|Ltd|Co|Holdings|Metals|Mining|Resources|Materials)\b",
            text,
        )
    )


def _names_within(
    tags: Sequence[ElementTag], start: int, end: int, groups: bool = False
) -> list[str]:
    names: dict[str, None] = {}
    for tag in tags:
        if start <= tag.start and tag.end <= end and (groups or not tag.is_group):
            names.setdefault(tag.name)
    return list(names)


def _entity_of(token: Token, entities: list[EntityTag]) -> EntityTag | None:
    """The country or body named by a noun phrase, without its attached clauses and phrases."""
    for candidate in _noun_phrase(token):
        for tag in entities:
            if tag.start <= candidate.idx < tag.end and tag.kind in ("country", "body"):
                return tag
    return None


def _noun_phrase(token: Token) -> Iterator[Token]:
    """A token and its modifiers ("China's Commerce Ministry"), not its prepositions or clauses."""
    yield token
    for child in token.children:
        if child.dep_ in NOUN_PHRASE_DEPS:
            yield from _noun_phrase(child)


def _inside_prepositional_phrase(token: Token, stop: Token) -> bool:
    """Whether a token hangs under a preposition ("in retaliation for Trump's tariffs")."""
    while token.head.i != token.i and token.i != stop.i:
        if token.dep_ in ("prep", "pobj") or (
            token.dep_ in ("advcl", "ccomp", "relcl") and not token.is_ancestor(stop)
        ):
            return True  # also a clause of its own: "Announced after U.S. officials met, ..."
        token = token.head
    return False


def _names_a_statute(doc: Doc, span: Span) -> bool:
    """ "the Export Control Law", "Regulations on the Export Control of Dual-Use Items"."""
    following = doc[span.end] if span.end < len(doc) else None
    if following is not None and following.lower_ in NAMES_NOT_MEASURES:
        return True
    title_case = all(token.is_title or not token.is_alpha for token in span)
    return title_case and following is not None and following.lower_ == "of"


def _refers_back(sentence: Span, trigger: Span) -> bool:
    """Whether "these materials" in the sentence belongs to the clause of this measure."""
    for match in ANAPHORA.finditer(sentence.text):
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


def _owner(trigger: Span, entities: list[EntityTag]) -> EntityTag | None:
    """The jurisdiction a measure belongs to: "China's export controls", "U.S. tariffs", "Trump's tariffs"."""
    tokens = [token for token in trigger if token.i != trigger.root.i]
    for child in trigger.root.children:
        if child.dep_ in OWNER_DEPS and child.i < trigger.start:
            tokens.extend(token for token in child.subtree if token.i < trigger.start)
    for token in tokens:
        for tag in entities:
            if tag.start <= token.idx < tag.end and tag.kind in ("country", "body"):
                return tag
    return None


def _actor(sentence: Span, anchor: Token, entities: list[EntityTag]) -> EntityTag | None:
    """The subject of the action, following coordinated verbs back to their shared subject."""
    token: Token | None = anchor
    for _ in range(4):
        if token is None:
            break
        for child in token.children:
            if child.dep_ in SUBJECT_DEPS:
                found = _entity_of(child, entities)
                if found is not None:
                    return found
            if child.dep_ == "agent":
                found = _entity_of(child, entities)
                if found is not None:
                    return found
        if token.dep_ == "relcl":  # "Indonesia, which prohibited ore exports": the antecedent
            found = _entity_of(token.head, entities)
            if found is not None:
                return found
        if token.dep_ == "pcomp" and token.head.head.i != token.head.i:
            token = token.head.head  # "could respond by banning exports": who responds
            continue
        token = (
            token.head
            if token.dep_ in ("conj", "xcomp", "ccomp", "acl", "advcl", "relcl")
            and token.head.i != token.i
            else None
        )
    for tag in entities:
        if tag.start >= anchor.idx or tag.kind not in ("country", "body"):
            continue
        span = sentence.doc.char_span(tag.start, tag.end, alignment_mode="expand")
        if span is not None and not _inside_prepositional_phrase(span.root, anchor):
            return tag
    return None


def _target(
    sentence: Span,
    trigger: Span,
    action_token: Token | None,
    actor: EntityTag | None,
    entities: list[EntityTag],
) -> tuple[str | None, int | None, str | None]:
    actor_code = actor.jurisdiction if actor else None
    others = [
        tag
        for tag in entities
        if tag.jurisdiction and tag.jurisdiction != actor_code and tag.kind == "country"
    ]
    if not others:
        return None, None, None
    near = (trigger.root, action_token) if action_token is not None else (trigger.root,)
    in_clause = {token.idx for anchor in near for token in anchor.subtree}
    ranked = sorted(
        others, key=lambda tag: (tag.start not in in_clause, abs(tag.start - trigger.start_char))
    )
    chosen = ranked[0]
    count, unit = _object_count(action_token) if action_token is not None else (None, None)
    if count is None:
        count, unit = _counted_noun(sentence, chosen)
    return chosen.jurisdiction, count, unit


def _object_count(action_token: Token) -> tuple[int | None, str | None]:
    """For "removed 17 entities": 17, entities."""
    for child in action_token.children:
        if child.dep_ in ("dobj", "nsubjpass") and child.pos_ == "NOUN":
            for grandchild in child.children:
                value = _number(grandchild.text) if grandchild.dep_ == "nummod" else None
                if value is not None:
                    return int(value), child.lower_
    return None, None


def _counted_noun(sentence: Span, tag: EntityTag) -> tuple[int | None, str | None]:
    """For "28 American companies": 28, companies."""
    span = sentence.doc.char_span(tag.start, tag.end, alignment_mode="expand")
    if span is None:
        return None, None
    head = span.root.head if span.root.dep_ in ("amod", "compound", "nmod") else None
    if head is None or head.pos_ != "NOUN":
        return None, None
    for child in head.children:
        if child.dep_ == "nummod":
            value = _number(child.text)
            if value is not None:
                return int(value), head.lower_
    return None, None


def _number(text: str) -> float | None:
    cleaned = text.lower().replace(",", "")
    if cleaned in NUMBER_WORDS:
        return float(NUMBER_WORDS[cleaned])
    try:
        return float(cleaned)
    except ValueError:
        return None


def _quantities(doc: Doc) -> Iterator[QuantityTag]:
    """Numbers with their unit or counted noun, and qualifiers such as "over"."""
    taken: set[int] = set()
    for match in DURATION.finditer(doc.text):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
        if span is None:
            continue
        taken.update(range(span.start, span.end))
        yield QuantityTag(
            float(match.group(1)),
            match.group(2).lower() + "s",
            None,
            match.group(0),
            match.start(),
            match.end(),
        )
    for ent in doc.ents:
        if ent.label_ not in ("CARDINAL", "PERCENT", "QUANTITY", "MONEY") or taken.intersection(
            range(ent.start, ent.end)
        ):
            continue
        qualifier = None
        text = ent.text
        lowered = text.lower()
        for phrase, meaning in QUALIFIERS.items():
            if lowered.startswith(phrase + " "):
                qualifier, lowered = meaning, lowered[len(phrase) + 1 :]
                break
        previous = doc[ent.start - 1].lower_ if ent.start > 0 else ""
        if qualifier is None and previous in QUALIFIERS:
            qualifier = QUALIFIERS[previous]
        number = re.search(r"\d[\d,]*(?:\.\d+)?", lowered)
        value = (
            _number(number.group(0))
            if number
            else _number(lowered.split()[0] if lowered.split() else "")
        )
        if value is None:
            continue
        if ent.label_ == "PERCENT":
            unit = "percent"
        elif ent.label_ == "MONEY":
            unit = "usd" if "$" in text or "dollar" in lowered else "money"
            if "billion" in lowered:
                value *= 1e9
            elif "million" in lowered:
                value *= 1e6
        elif ent.end < len(doc):
            following = ent.root.head if ent.root.dep_ == "nummod" else doc[ent.end]
            unit = following.lower_ if following.pos_ in ("NOUN", "PROPN") else "count"
        else:
            unit = "count"
        yield QuantityTag(value, unit, qualifier, text, ent.start_char, ent.end_char)


def _dates(sentence: Span, published: datetime | None, candidate: _Candidate) -> list[DateTag]:
    """The dates a sentence gives for its event; "for 90 days" gives an expiry from its start."""
    tags = list(_stated_dates(sentence, published, candidate))
    if candidate.action not in LASTING or any(tag.role == "expires" for tag in tags):
        return tags
    start = next(
        (tag.value for role in ("effective", "announced") for tag in tags if tag.role == role),
        published.date() if published else None,
    )
    for ent in sentence.ents:
        before = sentence.doc[max(ent.start - 1, sentence.start) : ent.start].text.lower()
        lasting = before == "for" or "-" in ent.text  # "for one year", "a 90-day reprieve"
        if ent.label_ == "DATE" and lasting and start is not None:
            end = add_duration(start, ent.text.lower().removeprefix("a ").removeprefix("the "))
            if end is not None:
                return [*tags, DateTag(end, "expires", ent.text)]
    return tags


def _stated_dates(
    sentence: Span, published: datetime | None, candidate: _Candidate
) -> Iterator[DateTag]:
    for ent in sentence.ents:
        if ent.label_ != "DATE":
            continue
        before = sentence.doc[max(ent.start - 2, sentence.start) : ent.start].text.lower()
        role = "announced"
        if candidate.action in CHANGES and _dates_the_measure(ent.root, candidate):
            role = "recalled"  # "suspend the controls announced on Oct. 9": not the suspension's
        elif any(cue in before.split() or before.endswith(cue) for cue in EXPIRY_CUES):
            role = "expires"
        elif any(cue in before for cue in EFFECTIVE_CUES):
            role = "effective"
        value = resolve_date(
            ent.text, published.date() if published else None, future=role == "expires"
        )
        if value is not None:
            yield DateTag(value, role, ent.text)


def _dates_the_measure(date_root: Token, candidate: _Candidate) -> bool:
    """Whether a date sits inside the measure's own phrase ("its Oct. 9 package", "the rules
    imposed April 4"), below the measure and not through the word of the action."""
    measure = candidate.trigger.root
    while measure.dep_ == "compound" and measure.head.pos_ in ("NOUN", "PROPN"):
        measure = measure.head  # "export control package": the package is the measure's phrase
    token = date_root
    while token.i != measure.i:
        if token.head.i == token.i or token == candidate.action_token:
            return False
        token = token.head
    return True


def _default_actor(candidates: list[_Candidate], entities: list[EntityTag]) -> EntityTag | None:
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


def _record(candidate: _Candidate) -> EventRecord:
    sentence = candidate.sentence
    text = sentence.text.strip()
    offset = sentence.text.index(text[:1]) if text else 0
    mention = EventMention(
        sentence=text,
        start=sentence.start_char + offset,
        end=sentence.start_char + offset + len(text),
        reported_label=candidate.trigger.text,
        modality=candidate.modality,
        confidence=round(min(max(candidate.confidence, 0.05), 0.99), 2),
    )
    actor = candidate.actor
    return EventRecord(
        actor=actor.jurisdiction if actor else None,
        actor_body=actor.canonical if actor and actor.kind == "body" else None,
        action=candidate.action,
        measure=candidate.measure,
        elements=tuple(candidate.elements),
        target=candidate.target,
        target_count=candidate.target_count,
        target_unit=candidate.target_unit,
        quantities=tuple(candidate.quantities),
        dates=tuple(candidate.dates),
        mentions=(mention,),
    )


def _merge_same_event(records: list[EventRecord]) -> list[EventRecord]:
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
    filled = len(record.elements) + bool(record.target) + bool(record.actor) + len(record.dates)
    return filled, record.mentions[0].confidence
