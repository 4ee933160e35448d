"""Named word lists read from YAML: cue words, parse relations, calendar and page words."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from models.vocabulary.reading import VocabularyError, read_named_lists


@dataclass(frozen=True)
class Cues:
    """The English words the extractor reads for, by what they signal (cues.yaml)."""

    reference_determiners: tuple[str, ...]
    reference_nouns: tuple[str, ...]
    counted_determiners: tuple[str, ...]
    counted_numbers: tuple[str, ...]
    counted_nouns: tuple[str, ...]
    forward_references: tuple[str, ...]
    boilerplate_lines: tuple[str, ...]  # regular expressions of whole lines that are page furniture
    link_list_headings: tuple[str, ...]  # regular expressions of a heading over a list of links
    effective_cues: tuple[str, ...]
    expiry_cues: tuple[str, ...]
    qualifiers: dict[str, str]
    number_words: dict[str, int]
    weak_ban_words: tuple[str, ...]
    ban_words: tuple[str, ...]
    ban_nouns: tuple[str, ...]
    export_words: tuple[str, ...]
    ban_prepositions: tuple[str, ...]
    future_auxiliaries: tuple[str, ...]
    venue_prepositions: tuple[str, ...]
    bystander_nouns: tuple[str, ...]
    bystander_verbs: tuple[str, ...]
    reported_futures: tuple[str, ...]
    approvals: tuple[str, ...]
    request_verbs: tuple[str, ...]
    speech_verbs: tuple[str, ...]
    threat_verbs: tuple[str, ...]
    measure_references: tuple[str, ...]
    containers: tuple[str, ...]
    names_not_measures: tuple[str, ...]
    object_prepositions: tuple[str, ...]
    noun_prepositions: tuple[str, ...]
    organisation_words: tuple[str, ...]


@dataclass(frozen=True)
class Relations:
    """The dependency labels of the trained pipeline the extractor follows (relations.yaml)."""

    subject_deps: tuple[str, ...]
    agent_clause_deps: tuple[str, ...]
    own_clause_deps: tuple[str, ...]
    ban_object_deps: tuple[str, ...]
    prolonged_deps: tuple[str, ...]
    noun_phrase_deps: tuple[str, ...]
    owner_deps: tuple[str, ...]
    counted_modifier_deps: tuple[str, ...]
    verb_marker_deps: tuple[str, ...]
    measure_clause_deps: tuple[str, ...]
    verb_measure_clause_deps: tuple[str, ...]
    object_deps: tuple[str, ...]


@dataclass(frozen=True)
class Calendar:
    """How news writes months, weekdays and spans of time (calendar.yaml)."""

    months: tuple[tuple[str, ...], ...]  # the spellings of each month, January first
    weekdays: tuple[str, ...]  # Monday first
    units: tuple[str, ...]
    counts: dict[str, int]
    ordinal_suffixes: tuple[str, ...]

    def month_numbers(self) -> dict[str, int]:
        """Every spelling of a month with the month's number (January is 1)."""
        return {name: number for number, names in enumerate(self.months, start=1) for name in names}


@dataclass(frozen=True)
class PageWords:
    """What the markup of an article page is read for (pages.yaml)."""

    boilerplate: tuple[str, ...]  # parts of class names and ids that mark a tag as boilerplate


def shipped_folder() -> Path:
    """The vocabulary shipped with newstrack."""
    return Path(str(files("models") / "vocabulary"))


@cache
def load_cues(folder: Path | None = None) -> Cues:
    """The cue words of a vocabulary folder (the shipped one by default)."""
    return read_named_lists(Cues, (folder or shipped_folder()) / "cues.yaml")


@cache
def load_relations(folder: Path | None = None) -> Relations:
    """The parse relations of a vocabulary folder (the shipped one by default)."""
    return read_named_lists(Relations, (folder or shipped_folder()) / "relations.yaml")


def load_calendar(folder: Path | None = None) -> Calendar:
    """The calendar words of a vocabulary folder (the shipped one by default), read once per folder."""
    return _calendar_of(folder or shipped_folder())  # no argument and None: one cache entry


@cache
def _calendar_of(folder: Path) -> Calendar:
    calendar = read_named_lists(Calendar, folder / "calendar.yaml")
    for key, needed in (("months", 12), ("weekdays", 7)):
        if len(getattr(calendar, key)) != needed:
            raise VocabularyError(f"calendar.yaml: {key!r} needs {needed} entries")
    return calendar


@cache
def load_page_words(path: Path | None = None) -> PageWords:
    """The page words of a file (the shipped pages.yaml by default); an empty list is an error."""
    path = path or shipped_folder() / "pages.yaml"
    words = read_named_lists(PageWords, path)
    if not words.boilerplate:
        raise VocabularyError(f"{path.name}: the list 'boilerplate' is empty")
    return words
