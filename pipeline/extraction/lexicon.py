"""What the extraction stages read from the vocabulary: action words, cue words, parse relations
and the patterns built from them, put together once per extractor."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from models.vocabulary import Cues, Relations, Vocabulary, VocabularyError


@dataclass(frozen=True)
class Lexicon:
    """The vocabulary as the extraction stages read it."""

    action_lemmas: dict[str, str]
    action_lemmas_by_part: dict[str, dict[str, str]]
    modality_cues: dict[str, tuple[str, ...]]
    cues: Cues
    relations: Relations
    month_names: frozenset[str]
    ban_forms: frozenset[str]  # every inflection of a ban word or noun
    measure_reference_forms: frozenset[str]  # every inflection of "measure", "implementation"
    anaphora: re.Pattern[str]  # "these materials"
    counted_reference: re.Pattern[str]  # "the three metals", "both elements"
    duration: re.Pattern[str]  # "90-day", "6 months"
    forward_reference: re.Pattern[str]  # "the following items"
    boilerplate_line: re.Pattern[str]  # a whole line of page furniture ("The post ... appeared")
    link_list_heading: re.Pattern[str]  # a line over a list of links ("Related stories")
    organisation: re.Pattern[str]  # "... Group", "... Mining"


def lexicon_of(vocabulary: Vocabulary) -> Lexicon:
    """The lexicon of a vocabulary, its patterns compiled."""
    cues = vocabulary.cues
    uncounted = [word for word in cues.counted_numbers if word not in cues.number_words]
    if uncounted:
        raise VocabularyError(f"cues.yaml: 'counted_numbers' not in 'number_words': {uncounted}")
    return Lexicon(
        action_lemmas=vocabulary.action_lemmas,
        action_lemmas_by_part=vocabulary.action_lemmas_by_part,
        modality_cues=vocabulary.modality_cues,
        cues=cues,
        relations=vocabulary.relations,
        month_names=frozenset(vocabulary.calendar.month_numbers()),
        ban_forms=_inflections((*cues.ban_words, *cues.ban_nouns)),
        measure_reference_forms=_inflections(cues.measure_references),
        anaphora=re.compile(
            rf"\b({_either(cues.reference_determiners)})\s+({_either(cues.reference_nouns)})\b",
            re.IGNORECASE,
        ),
        counted_reference=re.compile(
            rf"\b(?:(?:{_either(cues.counted_determiners)})\s+"
            rf"(?P<count>{_either(cues.counted_numbers)}|\d{{1,2}})"
            rf"|(?P<both>both))\s+(?:[a-z-]+\s+)?(?:{_either(cues.counted_nouns)})\b",
            re.IGNORECASE,
        ),
        duration=re.compile(
            rf"\b(\d{{1,3}})[- ]({_either(vocabulary.calendar.units)})s?\b", re.IGNORECASE
        ),
        forward_reference=re.compile(rf"\b({_either(cues.forward_references)})\b", re.IGNORECASE),
        boilerplate_line=_whole_lines("boilerplate_lines", cues.boilerplate_lines),
        link_list_heading=_whole_lines("link_list_headings", cues.link_list_headings),
        organisation=re.compile(rf"\b({_either(cues.organisation_words)})\b"),
    )


def _whole_lines(key: str, patterns: Iterable[str]) -> re.Pattern[str]:
    """One expression matching a line that any of the patterns matches whole; a bad one is named."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise VocabularyError(f"cues.yaml: {key!r}: {pattern!r}: {error}") from None
    either = "|".join(f"(?:{pattern})" for pattern in patterns) or "(?!)"
    return re.compile(rf"[ \t]*(?:{either})[ \t]*", re.IGNORECASE)


def _either(words: Iterable[str]) -> str:
    """A regular-expression alternation of words, in their order."""
    return "|".join(re.escape(word) for word in words)


def _inflections(words: Iterable[str]) -> frozenset[str]:
    """Each word with its regular inflections ("ban": bans, banned, banning; "halt": halted)."""
    return frozenset(
        form
        for word in words
        for form in (word, word + "s", word + "es", word + "ed", word + "d", word + "ing",
                     word + word[-1] + "ed", word + word[-1] + "ing")
    )  # fmt: skip
