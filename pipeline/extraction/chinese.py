"""The Chinese reader: MOFCOM's announcements (商务部公告) read by the Chinese vocabulary into the
same tags and policy events as English text, sentence by sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from models.annotation import (
    Annotation,
    ArticleText,
    DateTag,
    EventMention,
    EventRecord,
    QuantityTag,
)
from models.vocabulary import Vocabulary
from models.vocabulary.chinese import ChineseVocabulary
from pipeline.extraction.actions import CHANGES
from pipeline.extraction.chinese_acts import Act, Found, Sentence, acts_of
from pipeline.extraction.chinese_tags import ChineseTagger
from pipeline.extraction.chinese_text import FoundDate, within
from pipeline.extraction.events import merge_same_event, on_topic
from pipeline.extraction.instruments import Citation, Instruments

MAX_CHINESE_CHARS = 100_000  # as much as the English pipeline reads of one text
ANNOUNCED_CONFIDENCE = 0.9  # an announcement's own formulaic statement of its act
TITLE_CONFIDENCE = 0.7  # an act read from the title of the measure it changes


@dataclass(frozen=True)
class DocumentDates:
    """The dates an announcement gives for all its acts: its own, when they apply, until when."""

    announced: DateTag | None
    effective: DateTag | None
    expires: DateTag | None
    published: date | None  # the page's day, which year-less dates are read against


class ChineseReader:
    """Reads Chinese text into an annotation: the tagger's tags, then acts, dates and instrument."""

    def __init__(self, vocabulary: ChineseVocabulary, english: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.tagger = ChineseTagger(vocabulary, english)
        self.writing = self.tagger.writing
        self.instruments = Instruments(vocabulary, english)
        self._bodies = self.tagger.bodies

    def annotate(self, article: ArticleText, version: str) -> Annotation:
        """The annotation of a Chinese text: its tags, quantities and the acts it states."""
        text, note = article.text, None
        if len(text) > MAX_CHINESE_CHARS:
            text = text[:MAX_CHINESE_CHARS]
            note = f"read the first {MAX_CHINESE_CHARS:,} of {len(article.text):,} characters"
        found = self.tagger.found(text)
        element_tags = self.tagger.element_tags(text, found)
        entity_tags = self.tagger.entity_tags(found)
        quantities = self.tagger.quantities(text)
        records = self.events(article, text, found, quantities)
        return Annotation(
            id=article.id,
            on_topic=on_topic(element_tags, records),
            element_tags=tuple(element_tags),
            entity_tags=tuple(entity_tags),
            quantities=tuple(quantities),
            events=tuple(records),
            extractor_version=version,
            note=note,
        )

    def events(
        self,
        article: ArticleText,
        text: str,
        found: list[Found],
        quantities: Sequence[QuantityTag] = (),
    ) -> list[EventRecord]:
        """The acts the text states, one record per actor, action and measure."""
        writing = self.writing
        titles = writing.enclosed(text, self.vocabulary.writing.titles)
        quotes = writing.enclosed(text, self.vocabulary.writing.quotes)
        sentences = [
            Sentence(start, end, writing.preambles(text, start, end))
            for start, end in writing.sentences(text)
        ]
        acts = acts_of(text, sentences, found, titles, quotes, writing, self.vocabulary.precedence)
        if not acts:
            return []
        own = self.writing.own_date(text)
        published = article.published.date() if article.published else None
        document = self._document_dates(text, sentences, acts, own, published)
        cited = self._own_citation(text, found) or self._own_citation(article.title, [])
        announcer = self._announcer(found, cited)
        instrument = cited.instrument if cited is not None else None
        records = [
            replace(self._record(text, act, announcer, document, quantities), instrument=instrument)
            for act in acts
        ]
        return merge_same_event(records)

    def _announcer(self, found: list[Found], cited: Citation | None) -> Found | None:
        """Who speaks: the issuer of the text's own announcement, else the first body of the
        home jurisdiction it names, else the first body."""
        bodies = [item for item in found if item.kind == "body"]
        if cited is not None:
            issuer = next((item for item in bodies if item.key == cited.issuer), None)
            return issuer or Found("body", cited.issuer, cited.start, cited.end, "")
        home = self.vocabulary.home
        return next((item for item in bodies if self._bodies.get(item.key) == home), None) or next(
            iter(bodies), None
        )

    def _document_dates(
        self,
        text: str,
        sentences: list[Sentence],
        acts: list[Act],
        own: FoundDate | None,
        published: date | None,
    ) -> DocumentDates:
        """The dates the sentences without an act give for the whole announcement."""
        announced = (
            DateTag(own.value, "announced", own.text)
            if own is not None
            else DateTag(published, "announced", published.isoformat())
            if published is not None
            else None
        )
        effective = expires = None
        stating = {(act.sentence.start, act.sentence.end) for act in acts}
        for sentence in sentences:
            if (sentence.start, sentence.end) in stating:
                continue
            for day in self.writing.dates(text, sentence.start, sentence.end, published):
                if day.role == "effective" and effective is None:
                    effective = DateTag(day.value, "effective", day.text)
                elif day.role == "expires" and expires is None:
                    expires = DateTag(day.value, "expires", day.text)
            phrase = self.writing.from_publication(text, sentence.start, sentence.end)
            if phrase is not None and effective is None and announced is not None:
                effective = DateTag(announced.value, "effective", phrase)
        return DocumentDates(announced, effective, expires, published)

    def _record(
        self,
        text: str,
        act: Act,
        announcer: Found | None,
        document: DocumentDates,
        quantities: Sequence[QuantityTag],
    ) -> EventRecord:
        """The event record of one act, its dates filled from the sentence, then the announcement."""
        sentence = act.sentence
        actor = act.actor or announcer
        if (
            act.actor is not None
            and announcer is not None
            and act.actor.kind == "country"
            and act.actor.key == self._bodies.get(announcer.key)
        ):
            actor = announcer  # 中方决定 in MOFCOM's statement: MOFCOM acts for China
        jurisdiction = self._jurisdiction(actor)
        target = next((code for code in act.targets if code != jurisdiction), None)
        dates = self._dates(text, act, document)
        mention = EventMention(
            sentence=text[sentence.start : sentence.end],
            start=sentence.start,
            end=sentence.end,
            reported_label=act.label,
            modality=act.modality,
            confidence=TITLE_CONFIDENCE if act.from_title else ANNOUNCED_CONFIDENCE,
        )
        count = act.count
        return EventRecord(
            actor=jurisdiction,
            actor_body=actor.key if actor is not None and actor.kind == "body" else None,
            action=act.action,
            measure=act.measure,
            elements=tuple(act.elements),
            target=target,
            target_count=count.value if count is not None else None,
            target_unit=count.unit if count is not None else None,
            quantities=tuple(q for q in quantities if sentence.start <= q.start < sentence.end),
            dates=tuple(dates),
            mentions=(mention,),
        )

    def _jurisdiction(self, actor: Found | None) -> str | None:
        if actor is None:
            return None
        return self._bodies.get(actor.key) if actor.kind == "body" else actor.key

    def _dates(self, text: str, act: Act, document: DocumentDates) -> list[DateTag]:
        """The act's dates: announced, effective, expires, and the date of a measure it changes."""
        sentence = act.sentence
        stated = [
            day
            for day in self.writing.dates(text, sentence.start, sentence.end, document.published)
            if not within(sentence.preambles, day.start, day.start + len(day.text))
        ]
        by_role: dict[str, DateTag] = {}
        for day in stated:
            role = day.role
            if role == "announced" and act.action in CHANGES and act.recalls(day):
                role = "recalled"
            by_role.setdefault(role, DateTag(day.value, role, day.text))
        announced = by_role.get("announced") or document.announced
        effective = by_role.get("effective")
        phrase = self.writing.from_publication(text, sentence.start, sentence.end)
        if effective is None and phrase is not None and announced is not None:
            effective = DateTag(announced.value, "effective", phrase)
        effective = effective or document.effective
        expires = by_role.get("expires")
        begins = effective or announced
        if expires is None and begins is not None:
            lasting = self.writing.expiry_after(text, sentence.start, sentence.end, begins.value)
            if lasting is not None:
                expires = DateTag(lasting.value, "expires", lasting.text)
        expires = expires or document.expires
        found = [announced, effective, expires, by_role.get("recalled")]
        return [tag for tag in found if tag is not None]

    def _own_citation(self, text: str, found: list[Found]) -> Citation | None:
        """The text's own announcement: the first it cites that no action or part word makes
        the instrument of another act (暂停实施商务部公告2024年第46号第二款)."""
        actions = [item for item in found if item.kind == "action"]
        for citation in self.instruments.chinese(text):
            before = text[max(0, citation.start - 2) : citation.start]
            changed = any(
                item.end >= citation.start - len(before) and item.end <= citation.start
                for item in actions
            )
            if not changed and not self.instruments.names_a_part(text, citation.end):
                return citation
        return None
