"""The extractor: elements, entities, quantities, dates and policy events from article text."""

from __future__ import annotations

from collections.abc import Sequence

from spacy.language import Language
from spacy.tokens import Doc, Token

from models.annotation import Annotation, ArticleText, EventRecord
from models.vocabulary import Vocabulary, load_vocabulary
from models.vocabulary.chinese import ChineseVocabulary, load_chinese_vocabulary
from pipeline.extraction.actions import action_of
from pipeline.extraction.chinese import ChineseReader
from pipeline.extraction.decision import Decision, load_decision
from pipeline.extraction.events import ParsedText, decided_events, events, on_topic
from pipeline.extraction.instruments import with_instruments
from pipeline.extraction.lexicon import lexicon_of
from pipeline.extraction.nlp import load_pipeline
from pipeline.extraction.quantities import quantities
from pipeline.extraction.screening import MAX_READ_CHARS, Reading, screen
from pipeline.extraction.tagging import Tagger
from pipeline.extraction.version import extractor_version

__all__ = ["MAX_READ_CHARS", "Extractor", "standard_extractor"]


class Extractor:
    """Tags elements, entities, quantities and policy events; built once per process."""

    def __init__(
        self,
        nlp: Language,
        vocabulary: Vocabulary,
        screening: bool = True,
        decision: Decision | None = None,
        chinese: ChineseVocabulary | None = None,
    ) -> None:
        self.nlp = nlp
        self.vocabulary = vocabulary
        self.screening = screening  # False: the trained pipeline reads every readable text
        self.decision = decision  # None: the rules alone decide what is an event
        model = decision.meta["digest"] if decision is not None else None
        chinese = chinese if chinese is not None else load_chinese_vocabulary()
        self.version = extractor_version(nlp, vocabulary, str(model) if model else None, chinese)
        self.chinese = ChineseReader(chinese, vocabulary)  # reads texts in Chinese
        self.lexicon = lexicon_of(vocabulary)
        self.tagger = Tagger(nlp, vocabulary, self.lexicon)

    def annotate(
        self, articles: Sequence[ArticleText], batch_size: int = 32, processes: int = 1
    ) -> list[Annotation]:
        """Annotate many texts, in input order.

        A cheap first pass (tokenizer and phrase matchers, no trained components) screens each
        text; only texts that name a critical mineral and a trade measure go through the trained
        pipeline's `nlp.pipe`. The others keep their vocabulary tags and say why they stopped.
        """
        results: list[Annotation | None] = []
        to_read: list[tuple[int, Reading]] = []
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

    def action_of(self, token: Token) -> str | None:
        """The action a word states, by lemma, then by its own lower-case form ("Maintains")."""
        return action_of(token, self.lexicon)

    def _screen(self, article: ArticleText) -> Annotation | Reading:
        """An annotation for a text the trained pipeline need not read, else the doc it must read."""
        return screen(article, self.tagger, self.version, self.screening, self.chinese)

    def parsed_text(
        self, article: ArticleText, doc: Doc, reading: Reading | None = None
    ) -> ParsedText:
        """A parsed text with the tags and quantities of what the pipeline read of it."""
        if reading is not None and reading.tagged:  # the phrase matchers read tokens, not parses
            element_tags, entity_tags = self.tagger.with_companies(doc, *reading.read_tags())
        else:
            element_tags, entity_tags = self.tagger.tag_names(doc)
        found = tuple(quantities(doc, self.lexicon))
        return ParsedText(article, doc, element_tags, entity_tags, found, self.tagger)

    def _annotate_doc(
        self, article: ArticleText, doc: Doc, reading: Reading | None = None
    ) -> Annotation:
        """The annotation of a parsed text, with the vocabulary tags of the paragraphs it skipped."""
        note = reading.note if reading is not None else None
        text = self.parsed_text(article, doc, reading)
        element_tags, entity_tags, found = text.element_tags, text.entity_tags, text.quantities
        held: list[EventRecord] = []
        if self.decision is None:
            records = events(text)
        else:
            records, held = decided_events(text, self.decision)
        records = with_instruments(records, article.title, self.chinese.instruments)
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
        return Annotation(
            id=article.id,
            on_topic=on_topic(element_tags, records),
            element_tags=tuple(element_tags),
            entity_tags=tuple(entity_tags),
            quantities=tuple(found),
            events=tuple(records),
            candidates=tuple(held),
            extractor_version=self.version,
            note=note,
        )


def standard_extractor(threshold: float | None = None, screening: bool = True) -> Extractor:
    """The extractor newstrack runs: the installed pipeline, the shipped words and trained decision."""
    return Extractor(
        load_pipeline(),
        load_vocabulary(),
        screening=screening,
        decision=load_decision(threshold=threshold),
    )
