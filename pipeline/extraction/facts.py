"""A register's facts applied to what the extractor read in its document: who acts, when, under which
instrument, and, for an Entity List rule, whom it lists by country."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from models.annotation import Annotation, ArticleText, DateTag, EventMention, EventRecord
from models.facts import DocumentFacts
from models.grouping import SAME_EVENT_DAYS
from models.vocabulary import Vocabulary
from models.vocabulary.register import (
    DocumentType,
    EntityListWords,
    RegisterWords,
    load_register_words,
)
from pipeline.extraction.events import on_topic

log = logging.getLogger("newstrack")
FACT_CONFIDENCE = 1.0  # the register says so: not a reading of the text
ASSERTED = "asserted"
RULE = "RULE"  # the API's code of a final rule
PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")  # lines up to a blank line
SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z])")
LAST_WORD = re.compile(r"\S+$")
COUNT = re.compile(r"\((\d{1,6})\)")  # "China (54)"
SEPARATORS = " \t\n,;:"


@dataclass(frozen=True)
class Destination:
    """A country an Entity List rule lists entities under, with how many and where the text says so."""

    code: str
    count: int
    evidence: EventMention


@dataclass(frozen=True)
class _Reading:
    """One document's facts as the stamping of its events needs them."""

    facts: DocumentFacts
    jurisdiction: str
    body: str | None
    kind: DocumentType | None
    dates: tuple[DateTag, ...]


def apply_facts(
    annotation: Annotation,
    article: ArticleText,
    vocabulary: Vocabulary,
    words: RegisterWords | None = None,
) -> Annotation:
    """The annotation with the document's own events stamped with the register's facts.

    The document's own events are those of its jurisdiction (or of none) that the text does not
    date to another time: each gets the acting body, the instrument ("FR Doc. 2025-05083"), the
    announced and effective dates and, for a proposed rule, the threat it is. An Entity List rule
    gets one event per destination it lists, with the count of entities, in place of the listing
    (and the licence requirements attached to it) the extractor read, or made when it read none.
    """
    facts = article.facts
    if facts is None:
        return annotation
    words = words or load_register_words()
    body = words.acting_body(facts.agencies)
    reading = _Reading(
        facts=facts,
        jurisdiction=_jurisdiction(vocabulary, body) or words.jurisdiction,
        body=body,
        kind=words.document_type(facts.document_type),
        dates=_fact_dates(facts),
    )
    own = [_is_own(record, reading) for record in annotation.events]
    records = list(annotation.events)
    destinations = entity_list_destinations(article.text, facts, vocabulary, words.entity_list)
    if destinations:
        listing = words.entity_list
        attached = {listing.measure, *listing.attached_measures}
        gone = {i for i, r in enumerate(records) if own[i] and r.measure in attached}
        listed = [r for i, r in enumerate(records) if i in gone and r.measure == listing.measure]
        elements = sorted({element for record in listed for element in record.elements})
        own = [mine for i, mine in enumerate(own) if i not in gone]
        records = [record for i, record in enumerate(records) if i not in gone]
        for destination in destinations:
            records.append(_listing(destination, listing, tuple(elements)))
            own.append(True)
    stamped = tuple(
        _stamped(record, reading) if mine else record
        for record, mine in zip(records, own, strict=True)
    )
    return replace(
        annotation,
        events=stamped,
        on_topic=annotation.on_topic or on_topic(list(annotation.element_tags), list(stamped)),
    )


def entity_list_destinations(
    text: str, facts: DocumentFacts, vocabulary: Vocabulary, words: EntityListWords
) -> list[Destination]:
    """The destinations a rule adding entities to the Entity List names, each with its count.

    Only a rule amending the list's CFR part whose text says it adds entities to the list "under
    the destinations of China (54), Iran (4) ..." has any; each destination's evidence is the
    sentence that adds entities under it alone, else its place in that list.
    """
    if words.name not in text or not facts.cites(words.title, words.part):
        return []
    if facts.document_type != RULE:  # a proposed or noticed listing adds nobody yet
        return []
    spans = list(sentences(text))
    for index, (start, end) in enumerate(spans):
        sentence = text[start:end]
        cue = _first_cue(sentence, words.destination_cues)
        if cue is None:
            continue
        context = text[spans[index - 1][0] : end] if index else sentence
        if words.name not in context or not _says_added(context, words):
            continue
        found = _destinations(text, (start, end), start + cue, vocabulary, words)
        if found:
            return [_with_own_sentence(d, text, spans, index, vocabulary, words) for d in found]
    return []


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each sentence, within paragraphs; "U.S." and "No. 4" end none."""
    for paragraph in PARAGRAPH.finditer(text):
        base, body, start = paragraph.start(), paragraph[0], 0
        for match in SENTENCE_END.finditer(body):
            word = LAST_WORD.search(body, start, match.start() + 1)
            if word is not None and _abbreviation(word[0]):
                continue
            yield base + start, base + match.start() + len(match[0].rstrip())
            start = match.end()
        if start < len(body):
            yield base + start, base + len(body.rstrip())


def _abbreviation(word: str) -> bool:
    """A word ending in a period that ends no sentence: U.S., an initial."""
    bare = word.strip("\"'([").rstrip(".")
    return "." in bare or (len(bare) == 1 and bare.isupper())


def _first_cue(sentence: str, cues: Sequence[str]) -> int | None:
    """Where the text after the first destination cue begins, or None."""
    folded = sentence.casefold()
    found = [(folded.find(cue.casefold()), len(cue)) for cue in cues]
    hits = [(at, length) for at, length in found if at >= 0]
    if not hits:
        return None
    at, length = min(hits)
    return at + length


def _says_added(text: str, words: EntityListWords) -> bool:
    """Whether a passage says entities are added (not removed or modified)."""
    present = set(re.findall(r"[a-z]+", text.casefold()))
    return not present.isdisjoint(word.casefold() for word in words.addition_words)


def _destinations(
    text: str,
    sentence: tuple[int, int],
    start: int,
    vocabulary: Vocabulary,
    words: EntityListWords,
) -> list[Destination]:
    """The "Country (count)" entries of the list that runs from `start` to the sentence's end."""
    found: list[Destination] = []
    seen: set[str] = set()
    previous = start
    for match in COUNT.finditer(text, start, sentence[1]):
        name_start, name = _name(text, previous, match.start(), words)
        previous = match.end()
        code = _country(vocabulary, name)
        if code is None or code in seen:
            continue
        seen.add(code)
        evidence = EventMention(
            sentence=text[sentence[0] : sentence[1]],
            start=name_start,
            end=match.end(),
            reported_label=words.name,
            modality=ASSERTED,
            confidence=FACT_CONFIDENCE,
        )
        found.append(Destination(code, int(match[1]), evidence))
    return found


def _name(text: str, start: int, end: int, words: EntityListWords) -> tuple[int, str]:
    """A destination's name between two list entries, without separators and leading words."""
    leading = {word.casefold() for word in words.leading_words}
    while True:
        while start < end and text[start] in SEPARATORS:
            start += 1
        word = re.match(r"\w+", text[start:end])
        if word is None or word[0].casefold() not in leading or start + word.end() >= end:
            break
        start += word.end()
    return start, " ".join(text[start:end].split())


def _country(vocabulary: Vocabulary, name: str) -> str | None:
    """The code of a country's name; "China, People's Republic of" is China."""
    for candidate in (name, name.split(",")[0]):
        folded = " ".join(candidate.casefold().split())
        for country in vocabulary.countries:
            if folded in (" ".join(n.casefold().split()) for n in (*country.names, country.code)):
                return country.code
    return None


def _with_own_sentence(
    destination: Destination,
    text: str,
    spans: list[tuple[int, int]],
    listed_in: int,
    vocabulary: Vocabulary,
    words: EntityListWords,
) -> Destination:
    """The destination with the sentence that adds entities under it alone ("Under the destination
    of China, the ERC determined to add 54 entities ..."), when the text has one."""
    for index, (start, end) in enumerate(spans):
        cue = _first_cue(text[start:end], words.destination_cues)
        if index == listed_in or cue is None:
            continue
        _, after = _name(text, start + cue, end, words)
        named = re.split(r"[,;:(]", after, maxsplit=1)[0].strip()
        sentence = text[start:end]
        if _country(vocabulary, named) == destination.code and _says_added(sentence, words):
            evidence = replace(destination.evidence, sentence=sentence, start=start, end=end)
            return replace(destination, evidence=evidence)
    return destination


def _listing(
    destination: Destination, words: EntityListWords, elements: tuple[str, ...]
) -> EventRecord:
    """The listing of a destination's entities, as one event of the document."""
    return EventRecord(
        actor=None,
        actor_body=None,
        action=words.action,
        measure=words.measure,
        elements=elements,
        target=destination.code,
        target_count=destination.count,
        target_unit=words.unit,
        quantities=(),
        dates=(),
        mentions=(destination.evidence,),
    )


def _is_own(record: EventRecord, reading: _Reading) -> bool:
    """Whether an event is the document's own act: its jurisdiction's (or no one's), not dated
    by the text to another time than the document's."""
    if record.actor not in (None, reading.jurisdiction):
        return False
    stated = record.date_of("announced")
    return stated is None or abs((stated - reading.facts.announced_on).days) <= SAME_EVENT_DAYS


def _stamped(record: EventRecord, reading: _Reading) -> EventRecord:
    """An event of the document with the register's facts in place of what the text suggested."""
    kind, facts = reading.kind, reading.facts
    replaced_roles = {"announced", "effective"} if facts.effective_on else {"announced"}
    kept = tuple(tag for tag in record.dates if tag.role not in replaced_roles)
    mentions = record.mentions
    if kind is not None and kind.modality is not None:
        mentions = tuple(replace(mention, modality=kind.modality) for mention in mentions)
    return replace(
        record,
        actor=reading.jurisdiction,
        actor_body=reading.body or record.actor_body,
        action=kind.action if kind is not None and kind.action else record.action,
        dates=(*reading.dates, *kept),
        mentions=mentions,
        instrument=facts.instrument,
    )


def _fact_dates(facts: DocumentFacts) -> tuple[DateTag, ...]:
    """The announced date (signing, else publication) and the effective date, as date tags."""
    announced_field = "signing_date" if facts.signing_date else "publication_date"
    dates = [DateTag(facts.announced_on, "announced", announced_field)]
    if facts.effective_on is not None:
        dates.append(DateTag(facts.effective_on, "effective", "effective_on"))
    return tuple(dates)


def _jurisdiction(vocabulary: Vocabulary, body: str | None) -> str | None:
    """The jurisdiction a canonical body acts for."""
    return next((b.jurisdiction for b in vocabulary.bodies if b.name == body), None)


def read_facts(article_id: int, stored: Mapping[int, Mapping[str, Any]]) -> DocumentFacts | None:
    """An article's facts among the stored ones; malformed ones are logged and left out, so the
    text is still read."""
    if article_id not in stored:
        return None
    try:
        return DocumentFacts.from_json(stored[article_id])
    except ValueError as error:
        log.warning("article %d: facts not used: %s", article_id, error)
        return None


def with_facts(
    articles: Sequence[ArticleText],
    annotations: Sequence[Annotation | Exception],
    vocabulary: Vocabulary,
) -> list[Annotation | Exception]:
    """Each annotation with its article's facts applied; one that fails to apply fails alone."""
    applied: list[Annotation | Exception] = []
    for article, annotation in zip(articles, annotations, strict=True):
        if isinstance(annotation, Exception) or article.facts is None:
            applied.append(annotation)
            continue
        try:
            applied.append(apply_facts(annotation, article, vocabulary))
        except Exception as error:  # a bug on one document's facts: that article fails alone
            applied.append(error)
    return applied
