"""Screening: whether a text is worth the trained pipeline's time, and which of its paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Doc

from models.annotation import Annotation, ArticleText
from pipeline.extraction.chinese import ChineseReader
from pipeline.extraction.events import EXPORT_SIDE_MEASURES, FORWARD_REACH
from pipeline.extraction.lexicon import Lexicon
from pipeline.extraction.tagging import Tagger, Tags
from pipeline.text.language import detect_language

MAX_READ_CHARS = 100_000  # the trained pipeline reads at most this much of a text (~450 MB peak)
WORD = re.compile(r"[a-z]+")
LINE = re.compile(r"[^\n]+")
LINK_LINE_CHARS = 160  # a linked headline is at most this long
SENTENCE_ENDS = (".", "!")  # a headline may ask ("?") but does not end with a full stop
CLOSING_QUOTES = "\"'\u201d\u2019"
CHINESE = "zh"  # texts in this language go to the Chinese reader


@dataclass(frozen=True)
class Reading:
    """What the trained pipeline reads of a text, and the vocabulary tags of what it skips."""

    doc: Doc
    note: str | None = None
    tags: Tags = field(default_factory=lambda: ([], []))
    blanked: tuple[tuple[int, int], ...] = ()
    tagged: bool = False  # whether `tags` holds the screen's vocabulary tags of the whole text

    def was_blanked(self, offset: int) -> bool:
        """Whether a character offset lies in a paragraph the pipeline did not read."""
        return any(start <= offset < end for start, end in self.blanked)

    def read_tags(self) -> Tags:
        """The vocabulary tags of the paragraphs the pipeline reads."""
        elements, entities = self.tags
        return (
            [tag for tag in elements if not self.was_blanked(tag.start)],
            [tag for tag in entities if not self.was_blanked(tag.start)],
        )


def screen(
    article: ArticleText,
    tagger: Tagger,
    version: str,
    screening: bool = True,
    chinese: ChineseReader | None = None,
) -> Annotation | Reading:
    """An annotation for a text the trained pipeline need not read, else the doc it must read."""
    language = article.language or detect_language(article.text)
    # Chinese goes to the Chinese reader, when the caller has one; other languages are skipped.
    if language == CHINESE and chinese is not None:
        if not article.text.strip():
            return unread(article, ([], []), "skipped", "empty text", version)
        return chinese.annotate(article, version)
    if language not in (None, "en"):
        written = f"written in {language!r}; the pipeline reads English"
        return unread(article, ([], []), "skipped", written, version)
    if not article.text.strip():
        return unread(article, ([], []), "skipped", "empty text", version)
    text = article.text
    note: str | None = None
    if len(text) > MAX_READ_CHARS:
        cut = text.rfind("\n", 0, MAX_READ_CHARS)
        cut = cut if cut > MAX_READ_CHARS // 2 else MAX_READ_CHARS
        text, note = text[:cut], f"read the first {cut:,} of {len(text):,} characters"
    text = without_boilerplate(text, tagger.lexicon)
    doc = tagger.nlp.make_doc(text)
    if not screening:
        return Reading(doc, note)
    cues = tagger.lexicon.cues
    words = set(WORD.findall(text.lower()))
    # The phrase matcher runs only when a measure phrase's last word is there at all.
    measures = set() if words.isdisjoint(tagger.measure_words) else tagger.measures_named(doc)
    tags = tagger.tag_names(doc)
    minerals = bool(tags[0])  # elements and groups
    if minerals and not words.isdisjoint(cues.weak_ban_words):
        measures.add("export_ban")  # "ban" beside element names reads as an export ban
    if not words.isdisjoint(tagger.lexicon.ban_forms) and not words.isdisjoint(cues.export_words):
        measures.add("export_ban")  # maybe a ban verb on exports, which the parse decides
    if not measures:
        return unread(article, tags, "screened", _joined("names no trade measure", note), version)
    if not minerals and measures.isdisjoint(EXPORT_SIDE_MEASURES):
        # The same test as `on_topic`: without minerals, only export-side measures count.
        return unread(
            article, tags, "screened", _joined("names no critical mineral", note), version
        )
    return paragraphs_to_read(doc, note, tags, tagger)


def without_boilerplate(text: str, lexicon: Lexicon) -> str:
    """The text with its page furniture turned to spaces of the same length, so offsets hold:
    whole boilerplate lines, and lists of links with the heading over them."""
    blanked = list(text)
    in_list = False
    for line in LINE.finditer(text):
        content = line[0]
        if lexicon.link_list_heading.fullmatch(content):
            in_list = True
        elif not (in_list and _link_like(content)):
            in_list = False
            if not lexicon.boilerplate_line.fullmatch(content):
                continue
        blanked[line.start() : line.end()] = " " * len(content)
    return "".join(blanked)


def _link_like(line: str) -> bool:
    """Whether a line reads as a linked headline: short, and not the end of a sentence."""
    stripped = line.strip().rstrip(CLOSING_QUOTES)
    return len(stripped) <= LINK_LINE_CHARS and not stripped.endswith(SENTENCE_ENDS)


def paragraphs_to_read(doc: Doc, note: str | None, tags: Tags, tagger: Tagger) -> Reading:
    """The text with the paragraphs that cannot state a measure blanked out.

    The trained pipeline reads the first paragraph (headline, dateline), every paragraph with
    a measure word, and the paragraph before each (for "these materials"); the others become
    spaces of the same length, so offsets hold, and keep their vocabulary tags.
    """
    lexicon = tagger.lexicon
    text = doc.text
    lines = [(m.start(), m.end()) for m in LINE.finditer(text)]
    keep = {0}
    for index, (start, end) in enumerate(lines):
        words = set(WORD.findall(text[start:end].lower()))
        if not words.isdisjoint(tagger.measure_words) or not words.isdisjoint(lexicon.ban_forms):
            keep.update((index - 1, index))
            if lexicon.forward_reference.search(text[start:end]):  # "on the following items:"
                keep.update(
                    later
                    for later, (later_start, _) in enumerate(lines)
                    if end <= later_start < end + FORWARD_REACH
                )
    blanked = [span for index, span in enumerate(lines) if index not in keep]
    if not blanked:
        return Reading(doc, note, tags, tagged=True)  # every paragraph counts: tokens are there
    characters = list(text)
    for start, end in blanked:
        characters[start:end] = " " * (end - start)
    read = tagger.nlp.make_doc("".join(characters))
    return Reading(read, note, tags, tuple(blanked), tagged=True)


def unread(article: ArticleText, tags: Tags, status: str, note: str, version: str) -> Annotation:
    """An annotation from the vocabularies alone: elements, groups and countries, no events."""
    element_tags, entity_tags = tags
    return Annotation(
        id=article.id,
        on_topic=False,
        element_tags=tuple(element_tags),
        entity_tags=tuple(entity_tags),
        quantities=(),
        events=(),
        extractor_version=version,
        status=status,
        note=note,
    )


def _joined(first: str, second: str | None) -> str:
    """Two notes as one, the second only when there is one."""
    return f"{first}; {second}" if second else first
