"""The Chinese vocabulary (models/vocabulary/zh/): names, measures, actions and the ways of writing
of MOFCOM's announcements, each mapped to the names of the English vocabulary."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from models.vocabulary import ACTIONS, MEASURES, Compound, Vocabulary, load_vocabulary
from models.vocabulary.reading import VocabularyError, read_document, read_named_lists
from models.vocabulary.words import shipped_folder

MODALITY_CUES = ("hypothetical", "reported", "negated")  # the modalities a cue word can set


@dataclass(frozen=True)
class ChineseMeasurePhrase:
    """A phrase stating a measure; its own action, and words of which one must follow it."""

    text: str
    measure: str
    action: str | None
    needs: tuple[str, ...]


@dataclass(frozen=True)
class Writing:
    """How announcements are written: sentences, clauses, dates and counts (zh/text.yaml)."""

    sentence_ends: str
    quotes: dict[str, str]
    titles: dict[str, str]
    clause_marks: str
    preambles: tuple[str, ...]
    forward_references: tuple[str, ...]
    item_heads: tuple[str, ...]
    head_breaks: str
    list_item: str
    not_words: tuple[str, ...]
    target_markers: tuple[str, ...]
    dates: tuple[str, ...]
    effective_leads: tuple[str, ...]
    effective_trails: tuple[str, ...]
    expiry_leads: tuple[str, ...]
    expiry_trails: tuple[str, ...]
    recalled_trails: tuple[str, ...]
    from_publication: tuple[str, ...]
    own_date_labels: tuple[str, ...]
    duration_pattern: str
    duration_units: dict[str, str]
    count_pattern: str
    count_nouns: dict[str, str]
    percent: str
    numerals: dict[str, int]


@dataclass(frozen=True)
class InstrumentForms:
    """How announcements are cited in Chinese and English, and the stored form (zh/instruments.yaml)."""

    chinese: tuple[str, ...]
    english: tuple[str, ...]
    chinese_part: str
    part_of: str
    joiners: tuple[str, ...]
    normal: str
    default_issuers: dict[str, str]


@dataclass(frozen=True)
class ChineseVocabulary:
    """Chinese words mapped to the English vocabulary's names."""

    elements: dict[str, str]  # Chinese name -> canonical element name
    compounds: tuple[Compound, ...]
    groups: dict[str, str]  # Chinese group word -> canonical group name
    unnamed: tuple[str, ...]  # materials with no element of their own (超硬材料)
    forms_after: dict[str, str]
    forms_before: dict[str, str]
    home: str  # the jurisdiction a Chinese text speaks for when it does not say
    countries: dict[str, str]  # Chinese name -> jurisdiction code
    short_names: dict[str, str]  # 美 -> US, after a target marker only
    bodies: dict[str, str]  # Chinese name -> canonical body name
    measure_phrases: tuple[ChineseMeasurePhrase, ...]
    law_names: tuple[str, ...]
    actions: dict[str, str]  # Chinese word -> action
    precedence: tuple[str, ...]  # actions, the one that wins first
    modality: dict[str, tuple[str, ...]]  # modality -> cue words
    writing: Writing
    instruments: InstrumentForms


def chinese_folder() -> Path:
    """The Chinese vocabulary shipped with newstrack."""
    return shipped_folder() / "zh"


@cache
def load_chinese_vocabulary(
    folder: Path | None = None, english_folder: Path | None = None
) -> ChineseVocabulary:
    """Read the Chinese vocabulary of a folder, every name checked against the English vocabulary."""
    folder = folder or chinese_folder()
    english = load_vocabulary(english_folder)
    elements_doc = read_document(folder / "elements.yaml")
    entities_doc = read_document(folder / "entities.yaml")
    measures_doc = read_document(folder / "measures.yaml")
    actions_doc = read_document(folder / "actions.yaml")
    vocabulary = ChineseVocabulary(
        elements=_mapping(elements_doc, "elements", "elements.yaml"),
        compounds=tuple(
            Compound(str(c["text"]), _strings(c.get("elements")), c.get("form"))
            for c in elements_doc.get("compounds") or []
        ),
        groups=_mapping(elements_doc, "groups", "elements.yaml"),
        unnamed=_strings(elements_doc.get("unnamed")),
        forms_after=_mapping(elements_doc, "forms_after", "elements.yaml"),
        forms_before=_mapping(elements_doc, "forms_before", "elements.yaml"),
        home=str(entities_doc.get("home") or ""),
        countries=_inverted(entities_doc, "countries", "entities.yaml"),
        short_names=_mapping(entities_doc, "short_names", "entities.yaml"),
        bodies=_inverted(entities_doc, "bodies", "entities.yaml"),
        measure_phrases=tuple(_measure_phrases(measures_doc)),
        law_names=_strings(measures_doc.get("law_names")),
        actions=_inverted(actions_doc, "actions", "actions.yaml"),
        precedence=_strings(actions_doc.get("precedence")),
        modality={
            str(kind): _strings(words)
            for kind, words in (actions_doc.get("modality") or {}).items()
        },
        writing=read_named_lists(Writing, folder / "text.yaml"),
        instruments=read_named_lists(InstrumentForms, folder / "instruments.yaml"),
    )
    _check(vocabulary, english)
    return vocabulary


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


def _mapping(document: dict[str, Any], key: str, file: str) -> dict[str, str]:
    """A mapping of strings to strings under a key; anything else names the file and key."""
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise VocabularyError(f"zh/{file}: {key!r} is not a mapping")
    return {str(name): str(meaning) for name, meaning in value.items()}


def _inverted(document: dict[str, Any], key: str, file: str) -> dict[str, str]:
    """Each word of a mapping of meanings to lists of words, with its meaning; a word listed
    under two meanings names the file, key and word."""
    words: dict[str, str] = {}
    for meaning, listed in (document.get(key) or {}).items():
        for word in listed or []:
            earlier = words.setdefault(str(word), str(meaning))
            if earlier != str(meaning):
                raise VocabularyError(
                    f"zh/{file}: {key}: {word!r} is listed for {earlier!r} and {meaning!r}"
                )
    return words


def _measure_phrases(document: dict[str, Any]) -> list[ChineseMeasurePhrase]:
    phrases = []
    for measure, items in (document.get("measures") or {}).items():
        for item in items or []:
            if isinstance(item, dict):
                phrases.append(
                    ChineseMeasurePhrase(
                        str(item["text"]),
                        str(measure),
                        item.get("action"),
                        _strings(item.get("needs")),
                    )
                )
            else:
                phrases.append(ChineseMeasurePhrase(str(item), str(measure), None, ()))
    return phrases


def _check(vocabulary: ChineseVocabulary, english: Vocabulary) -> None:
    """Every name the Chinese words map to is one the English vocabulary knows."""
    elements = {element.name for element in english.elements}
    _known("elements.yaml", "elements", vocabulary.elements.values(), elements)
    for compound in vocabulary.compounds:
        _known("elements.yaml", f"compounds: {compound.text}", compound.elements, elements)
    _known("elements.yaml", "groups", vocabulary.groups.values(), {g.name for g in english.groups})
    forms = [*vocabulary.forms_after.values(), *vocabulary.forms_before.values()]
    forms += [c.form for c in vocabulary.compounds if c.form is not None]
    _known("elements.yaml", "forms", forms, set(english.forms))
    codes = {country.code for country in english.countries}
    countries = [vocabulary.home, *vocabulary.countries.values(), *vocabulary.short_names.values()]
    _known("entities.yaml", "countries", countries, codes)
    _known("entities.yaml", "bodies", vocabulary.bodies.values(), {b.name for b in english.bodies})
    measures = [phrase.measure for phrase in vocabulary.measure_phrases]
    _known("measures.yaml", "measures", measures, set(MEASURES))
    own = [phrase.action for phrase in vocabulary.measure_phrases if phrase.action is not None]
    _known("measures.yaml", "action", own, set(ACTIONS))
    _known("actions.yaml", "actions", vocabulary.actions.values(), set(ACTIONS))
    if sorted(vocabulary.precedence) != sorted(ACTIONS):
        raise VocabularyError(f"zh/actions.yaml: 'precedence' must list each of {ACTIONS} once")
    _known("actions.yaml", "modality", vocabulary.modality, set(MODALITY_CUES))
    _distinct(vocabulary)
    instruments = vocabulary.instruments
    issuers = instruments.default_issuers.values()
    _known("instruments.yaml", "default_issuers", issuers, {b.name for b in english.bodies})
    writing = vocabulary.writing
    patterns = [("text.yaml", p) for p in (writing.list_item, *writing.dates, writing.percent)]
    patterns += [("text.yaml", p) for p in (writing.duration_pattern, writing.count_pattern)]
    patterns += [("instruments.yaml", p) for p in (*instruments.chinese, *instruments.english)]
    patterns += [("instruments.yaml", p) for p in (instruments.chinese_part, instruments.part_of)]
    for file, pattern in patterns:
        try:
            re.compile(pattern.replace("{issuers}", "x"))
        except re.error as error:
            raise VocabularyError(f"zh/{file}: {pattern!r}: {error}") from None


def _distinct(vocabulary: ChineseVocabulary) -> None:
    """Stop when one word is listed for two meanings: a text could not say which it has."""
    meanings: dict[str, set[str]] = {}
    listed = [
        *((word, f"element {name}") for word, name in vocabulary.elements.items()),
        *((c.text, f"compound {c.text}") for c in vocabulary.compounds),
        *((word, f"group {name}") for word, name in vocabulary.groups.items()),
        *((word, "unnamed") for word in vocabulary.unnamed),
        *((word, f"country {code}") for word, code in vocabulary.countries.items()),
        *((word, f"body {name}") for word, name in vocabulary.bodies.items()),
        *((p.text, f"measure {p.measure}") for p in vocabulary.measure_phrases),
        *((word, "law") for word in vocabulary.law_names),
        *((word, f"action {action}") for word, action in vocabulary.actions.items()),
        *((word, kind) for kind, words in vocabulary.modality.items() for word in words),
        *((word, "not a name") for word in vocabulary.writing.not_words),
    ]
    for word, meaning in listed:
        meanings.setdefault(word, set()).add(meaning)
    doubled = {word: sorted(found) for word, found in meanings.items() if len(found) > 1}
    if doubled:
        raise VocabularyError(f"zh: words listed with two meanings: {doubled}")


def _known(file: str, key: str, names: Iterable[str], known: set[str]) -> None:
    """Stop with the file, key and names when some name is not one the English vocabulary has."""
    unknown = sorted({name for name in names if name not in known})
    if unknown:
        raise VocabularyError(f"zh/{file}: {key}: not in the English vocabulary: {unknown}")
