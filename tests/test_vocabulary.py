"""The one resolver of the names users type: elements, groups, countries, capitals, bodies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from models.vocabulary import UnknownNameError, VocabularyError, default_folder, load_vocabulary
from models.vocabulary.reading import SAFE_LOADER, read_document
from models.vocabulary.words import load_calendar, shipped_folder

HEAVY = ("gadolinium", "terbium", "dysprosium", "holmium", "erbium", "thulium", "ytterbium")


@pytest.mark.parametrize("word", ["dysprosium", "Dysprosium", "DY", "Dy", "dy", " dy "])
def test_an_element_is_known_by_name_or_symbol_in_any_case(word: str) -> None:
    """Names and symbols resolve whatever their case."""
    assert load_vocabulary().resolve_elements(word) == ("dysprosium",)


@pytest.mark.parametrize("word", ["heavy rare earths", "Heavy-Rare-Earths", "HREEs"])
def test_a_group_word_means_its_members(word: str) -> None:
    """A group word resolves to every member of the group."""
    assert set(HEAVY) <= set(load_vocabulary().resolve_elements(word))


@pytest.mark.parametrize(
    ("word", "code"),
    [("CN", "CN"), ("cn", "CN"), ("China", "CN"), ("Chinese", "CN"), ("Beijing", "CN"),
     ("beijing", "CN"), ("MOFCOM", "CN"), ("Ministry of Commerce", "CN"), ("Washington", "US"),
     ("Brussels", "EU"), ("Tokyo", "JP")],
)  # fmt: skip
def test_a_jurisdiction_is_known_by_code_name_capital_or_body(word: str, code: str) -> None:
    """Codes, names, adjectives, capitals and bodies all resolve to the ISO code."""
    assert load_vocabulary().resolve_jurisdiction(word) == code


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [("dysprosim", "dysprosium"), ("galium", "gallium"), ("heavy rare earth elemnts", "heavy")],
)
def test_an_unknown_element_suggests_the_closest_names(word: str, suggestion: str) -> None:
    """A misspelt element names what it is close to."""
    with pytest.raises(UnknownNameError, match=f"did you mean {suggestion}"):
        load_vocabulary().resolve_elements(word)


def test_an_unknown_name_far_from_any_suggests_nothing() -> None:
    """Nothing close, no guess: the message just says the word is unknown."""
    with pytest.raises(UnknownNameError) as caught:
        load_vocabulary().resolve_elements("kryptonite")
    assert "did you mean" not in str(caught.value)
    assert "'kryptonite'" in str(caught.value)


def test_an_unknown_jurisdiction_suggests_the_closest_names() -> None:
    """A misspelt capital or country names what it is close to."""
    with pytest.raises(UnknownNameError, match="did you mean Beijing"):
        load_vocabulary().resolve_jurisdiction("Bejing")


def _vocabulary_copy(tmp_path: Path) -> Path:
    """A copy of the shipped vocabulary folder, to break one file of."""
    folder = tmp_path / "vocabulary"
    folder.mkdir()
    for path in default_folder().glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_the_cue_words_and_calendar_are_read_into_typed_lists() -> None:
    """Cue words, parse relations and calendar words come from YAML as tuples and mappings."""
    vocabulary = load_vocabulary()
    assert "say" in vocabulary.cues.speech_verbs
    assert vocabulary.cues.qualifiers["more than"] == "over"
    assert vocabulary.cues.number_words["dozen"] == 12
    assert "nsubj" in vocabulary.relations.subject_deps
    assert vocabulary.calendar.month_numbers()["sept"] == 9
    assert vocabulary.calendar.weekdays[0] == "monday"


@pytest.mark.parametrize(
    ("file", "key", "broken", "message"),
    [
        ("cues.yaml", "speech_verbs", "", "cues.yaml: the list 'speech_verbs' is missing"),
        ("cues.yaml", "speech_verbs", "speech_verbs: say", "'speech_verbs' is not a list of"),
        ("cues.yaml", "qualifiers", "qualifiers: [over]", "'qualifiers' is not a mapping of"),
        ("cues.yaml", "number_words", "number_words: {one: uno}", "'number_words' is not a"),
        ("relations.yaml", "owner_deps", "owner_deps: [1, 2]", "relations.yaml: 'owner_deps'"),
        ("calendar.yaml", "weekdays", "weekdays: [monday]", "calendar.yaml: 'weekdays' needs 7"),
    ],
)
def test_a_missing_or_malformed_word_list_names_its_file_and_key(
    tmp_path: Path, file: str, key: str, broken: str, message: str
) -> None:
    """A word list that is absent or of the wrong shape stops loading with a clear message."""
    folder = _vocabulary_copy(tmp_path)
    path = folder / file
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")),
        len(lines),
    )
    path.write_text("\n".join([*lines[:start], broken, *lines[end:]]) + "\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=re.escape(message)):
        load_vocabulary(folder)


def test_every_vocabulary_file_reads_as_the_pure_python_parser_reads_it() -> None:
    """libyaml's parser, used when PyYAML has it, gives the shipped files the same values."""
    assert SAFE_LOADER is yaml.CSafeLoader  # the wheels the lock installs are built with libyaml
    files = sorted(default_folder().rglob("*.yaml"))
    assert files
    for path in files:
        expected = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        assert read_document(path) == expected, path.name


def test_the_shipped_vocabulary_is_read_once_however_it_is_asked_for() -> None:
    """No argument, None and the folder itself are one read: the extractor asks all three ways."""
    assert load_vocabulary() is load_vocabulary(None) is load_vocabulary(default_folder())
    assert load_calendar() is load_calendar(None) is load_calendar(shipped_folder())
