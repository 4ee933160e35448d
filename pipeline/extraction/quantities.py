"""Quantities: numbers with their unit or counted noun, and the qualifier before them ("over")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from spacy.tokens import Doc

from models.annotation import QuantityTag
from pipeline.extraction.lexicon import Lexicon

DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")


def quantities(doc: Doc, lexicon: Lexicon) -> Iterator[QuantityTag]:
    """Numbers with their unit or counted noun, and qualifiers such as "over"."""
    taken: set[int] = set()
    for match in lexicon.duration.finditer(doc.text):
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
    qualifiers = lexicon.cues.qualifiers
    number_words = lexicon.cues.number_words
    for ent in doc.ents:
        if ent.label_ not in ("CARDINAL", "PERCENT", "QUANTITY", "MONEY") or taken.intersection(
            range(ent.start, ent.end)
        ):
            continue
        qualifier = None
        text = ent.text
        lowered = text.lower()
        for phrase, meaning in qualifiers.items():
            if lowered.startswith(phrase + " "):
                qualifier, lowered = meaning, lowered[len(phrase) + 1 :]
                break
        previous = doc[ent.start - 1].lower_ if ent.start > 0 else ""
        if qualifier is None and previous in qualifiers:
            qualifier = qualifiers[previous]
        number = DIGITS.search(lowered)
        value = (
            number_value(number.group(0), number_words)
            if number
            else number_value(lowered.split()[0] if lowered.split() else "", number_words)
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


def number_value(text: str, number_words: Mapping[str, int]) -> float | None:
    """The value of a number written in digits ("1,200") or as a word ("twelve"); None if neither."""
    cleaned = text.lower().replace(",", "")
    if cleaned in number_words:
        return float(number_words[cleaned])
    try:
        return float(cleaned)
    except ValueError:
        return None
