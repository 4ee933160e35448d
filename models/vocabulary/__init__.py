"""The domain vocabulary (elements, countries, bodies, measures, actions, cue words) loaded from YAML data."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from models.vocabulary.reading import VocabularyError, read_document
from models.vocabulary.words import (
    Calendar,
    Cues,
    Relations,
    load_calendar,
    load_cues,
    load_relations,
    shipped_folder,
)

__all__ = [
    "ACTIONS",
    "MEASURES",
    "MODALITIES",
    "PARTS",
    "Body",
    "Calendar",
    "Compound",
    "Country",
    "Cues",
    "Element",
    "ElementGroup",
    "MeasurePhrase",
    "Relations",
    "UnknownNameError",
    "Vocabulary",
    "VocabularyError",
    "default_folder",
    "load_calendar",
    "load_cues",
    "load_relations",
    "load_vocabulary",
]

PARTS = ("verbs", "nouns", "adjectives")  # the parts of speech an action word is listed under
ACTIONS = ("impose", "expand", "maintain", "suspend", "extend", "lift", "ease", "threaten")
MEASURES = (
    "export_ban",
    "export_control",
    "export_quota",
    "export_tax",
    "import_tariff",
    "entity_listing",
    "investigation",
    "production_control",
    "state_support",
    "enforcement",
    "agreement",
)
MODALITIES = ("asserted", "reported", "threatened", "negated", "hypothetical")
# The states a measure can be in, in the order reports list them.
STATES = ("in_force", "suspended", "eased", "threatened", "lifted", "expired")
ANNOTATION_STATUSES = ("read", "screened", "skipped")  # how far the extractor read an article
# What an analyst may say of a reported act: its verdict, a corrected value, the event it belongs to.
REVIEW_FIELDS = (
    "verdict",
    "actor",
    "action",
    "measure",
    "target",
    "elements",
    "announced_on",
    "effective_on",
    "expires_on",
    "event",
)
VERDICTS = ("confirmed", "rejected")


@dataclass(frozen=True)
class Element:
    """A chemical element or mineral commodity."""

    name: str
    symbol: str | None
    group: str
    synonyms: tuple[str, ...] = ()
    symbol_is_word: bool = False


@dataclass(frozen=True)
class Compound:
    """A fixed string naming elements together, such as NdFeB."""

    text: str
    elements: tuple[str, ...]
    form: str | None


@dataclass(frozen=True)
class ElementGroup:
    """A group word such as "rare earths": tagged as a group, never as an element."""

    name: str
    phrases: tuple[str, ...]
    members: tuple[str, ...]


@dataclass(frozen=True)
class Country:
    """A jurisdiction with the names, adjectives and capital that refer to it."""

    code: str
    names: tuple[str, ...]
    adjectives: tuple[str, ...]
    capital: str | None


@dataclass(frozen=True)
class Body:
    """A government body or agency acting for a jurisdiction."""

    name: str
    jurisdiction: str
    full_name: str
    aliases: tuple[str, ...]
    heads: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeasurePhrase:
    """A phrase stating a measure, possibly also stating its action."""

    text: str
    measure: str
    action: str | None


@dataclass(frozen=True)
class Vocabulary:
    """Everything the extractor matches against."""

    elements: tuple[Element, ...]
    compounds: tuple[Compound, ...]
    groups: tuple[ElementGroup, ...]
    forms: dict[str, tuple[str, ...]]
    countries: tuple[Country, ...]
    bodies: tuple[Body, ...]
    measure_phrases: tuple[MeasurePhrase, ...]
    action_lemmas: dict[str, str]
    cues: Cues
    relations: Relations
    calendar: Calendar
    action_lemmas_by_part: dict[str, dict[str, str]] = field(default_factory=dict)
    modality_cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    preambles: tuple[str, ...] = ()  # openings of sentences that state grounds, not acts

    def element(self, name: str) -> Element:
        """The element of a canonical name."""
        return next(element for element in self.elements if element.name == name)

    def elements_meant(self, word: str) -> tuple[str, ...]:
        """The canonical elements a user means by a name, symbol or group, in any case; () if none."""
        folded = _fold(word)
        for element in self.elements:
            if folded in (_fold(n) for n in (element.name, *element.synonyms)):
                return (element.name,)
        for element in self.elements:  # symbols after names: "Sb" or "sb" is antimony
            if element.symbol and folded == element.symbol.casefold():
                return (element.name,)
        for group in self.groups:
            if group.members and folded in (_fold(p) for p in (group.name, *group.phrases)):
                return group.members
        return ()

    def jurisdiction_meant(self, word: str) -> str | None:
        """The code a user means by a country code, name, adjective or capital, or a body; None if none."""
        folded = _fold(word)
        for country in self.countries:
            names = (country.code, *country.names, *country.adjectives, country.capital or "")
            if folded in (_fold(n) for n in names if n):
                return country.code
        for body in self.bodies:
            if folded in (_fold(n) for n in (body.name, body.full_name, *body.aliases)):
                return body.jurisdiction
        return None

    def resolve_elements(self, word: str) -> tuple[str, ...]:
        """The canonical elements of a name, symbol or group; an unknown word suggests close names."""
        meant = self.elements_meant(word)
        if not meant:
            names = [n for e in self.elements for n in (e.name, *e.synonyms)]
            groups = [p for g in self.groups if g.members for p in (g.name, *g.phrases)]
            raise UnknownNameError(word, "an element, symbol or group", names + groups)
        return meant

    def resolve_jurisdiction(self, word: str) -> str:
        """The code of a country code, name, capital or body; an unknown word suggests close names."""
        code = self.jurisdiction_meant(word)
        if code is None:
            countries = [n for c in self.countries for n in (*c.names, c.capital or "") if n]
            bodies = [n for b in self.bodies for n in (b.name, *b.aliases)]
            raise UnknownNameError(
                word, "a country code, country, capital or body", countries + bodies
            )
        return code


class UnknownNameError(VocabularyError):
    """A word that names nothing of a kind the vocabulary knows; says which known names are close."""

    def __init__(self, word: str, kind: str, known: Sequence[str]) -> None:
        by_fold = {_fold(name): name for name in reversed(known)}
        close = difflib.get_close_matches(_fold(word), by_fold, n=3, cutoff=0.75)
        hint = f"; did you mean {' or '.join(by_fold[c] for c in close)}?" if close else ""
        super().__init__(f"{word!r} is not {kind} newstrack knows{hint}")
        self.word = word
        self.suggestions = tuple(by_fold[c] for c in close)


def _fold(word: str) -> str:
    """A word compared without case, hyphens, underscores or surrounding spaces."""
    return " ".join(word.casefold().replace("-", " ").replace("_", " ").split())


def default_folder() -> Path:
    """The vocabulary shipped with newstrack."""
    return shipped_folder()


def load_vocabulary(folder: Path | None = None) -> Vocabulary:
    """Read the vocabulary files of a folder (the shipped one by default), once per folder."""
    return _vocabulary_of(folder or default_folder())  # no argument and None: one cache entry


@cache
def _vocabulary_of(folder: Path) -> Vocabulary:
    elements_doc = read_document(folder / "elements.yaml")
    countries_doc = read_document(folder / "countries.yaml")
    bodies_doc = read_document(folder / "bodies.yaml")
    measures_doc = read_document(folder / "measures.yaml")
    actions_doc = read_document(folder / "actions.yaml")
    evidence_doc = read_document(folder / "evidence.yaml")
    return Vocabulary(
        elements=tuple(_element(item) for item in elements_doc.get("elements", [])),
        compounds=tuple(
            Compound(str(c["text"]), tuple(c["elements"]), c.get("form"))
            for c in elements_doc.get("compounds", [])
        ),
        groups=tuple(
            ElementGroup(str(g["name"]), _strings(g.get("phrases")), _strings(g.get("members")))
            for g in elements_doc.get("groups", [])
        ),
        forms={
            str(form): _strings(words) for form, words in (elements_doc.get("forms") or {}).items()
        },
        countries=tuple(
            Country(
                code=str(c["code"]),
                names=_strings(c.get("names")),
                adjectives=_strings(c.get("adjectives")),
                capital=c.get("capital"),
            )
            for c in countries_doc.get("countries", [])
        ),
        bodies=tuple(
            Body(
                name=str(b["name"]),
                jurisdiction=str(b["jurisdiction"]),
                full_name=str(b.get("full_name") or b["name"]),
                aliases=_strings(b.get("aliases")),
                heads=_strings(b.get("heads")),
            )
            for b in bodies_doc.get("bodies", [])
        ),
        measure_phrases=tuple(_measure_phrases(measures_doc)),
        action_lemmas=_action_lemmas(actions_doc),
        cues=load_cues(folder),
        relations=load_relations(folder),
        calendar=load_calendar(folder),
        action_lemmas_by_part={part: _action_lemmas(actions_doc, [part]) for part in PARTS},
        modality_cues={str(k): _strings(v) for k, v in (actions_doc.get("modality") or {}).items()},
        preambles=tuple(phrase.casefold() for phrase in _strings(evidence_doc.get("preambles"))),
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


def _element(item: dict[str, Any]) -> Element:
    return Element(
        name=str(item["name"]).lower(),
        symbol=item.get("symbol"),
        group=str(item.get("group", "other")),
        synonyms=_strings(item.get("synonyms")),
        symbol_is_word=bool(item.get("symbol_is_word", False)),
    )


def _measure_phrases(document: dict[str, Any]) -> list[MeasurePhrase]:
    phrases = []
    for measure in document.get("measures", []):
        kind = str(measure["type"])
        if kind not in MEASURES:
            raise VocabularyError(f"measures.yaml: unknown measure type {kind!r}")
        for phrase in measure.get("phrases", []):
            if isinstance(phrase, dict):
                action = phrase.get("action")
                if action is not None and action not in ACTIONS:
                    raise VocabularyError(f"measures.yaml: unknown action {action!r}")
                phrases.append(MeasurePhrase(str(phrase["text"]).lower(), kind, action))
            else:
                phrases.append(MeasurePhrase(str(phrase).lower(), kind, None))
    return phrases


def _action_lemmas(document: dict[str, Any], parts: Sequence[str] = PARTS) -> dict[str, str]:
    lemmas: dict[str, str] = {}
    for action, words in (document.get("actions") or {}).items():
        if action not in ACTIONS:
            raise VocabularyError(f"actions.yaml: unknown action {action!r}")
        for part in parts:
            for lemma in (words or {}).get(part, []) or []:
                lemmas.setdefault(str(lemma).lower(), action)
    return lemmas
