"""The one resolver of the names users type: elements, groups, countries, capitals, bodies."""

from __future__ import annotations

import pytest

from models.vocabulary import UnknownNameError, load_vocabulary

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
