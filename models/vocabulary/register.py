"""The Federal Register's words (federal_register.yaml): agencies as bodies, document types, Entity List rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from models.vocabulary import ACTIONS, MEASURES, MODALITIES
from models.vocabulary.reading import VocabularyError, read_document
from models.vocabulary.words import shipped_folder

FILE_NAME = "federal_register.yaml"


@dataclass(frozen=True)
class DocumentType:
    """A document type of the API: the code a query asks for, the name a result gives."""

    code: str
    name: str
    action: str | None = None  # what every act the document states is, when the type says
    modality: str | None = None


@dataclass(frozen=True)
class EntityListWords:
    """How a rule adding entities to the Entity List is recognised and read."""

    title: int  # the CFR title and part the rule amends
    part: int
    name: str
    addition_words: tuple[str, ...]
    destination_cues: tuple[str, ...]
    leading_words: tuple[str, ...]  # words before a destination's name in the list
    unit: str
    measure: str
    action: str
    attached_measures: tuple[str, ...]  # acts a listing attaches to the entities: part of it


@dataclass(frozen=True)
class RegisterWords:
    """Everything newstrack reads the Federal Register's documents with."""

    jurisdiction: str  # the one the documents act for when none of their agencies is known
    agencies: tuple[tuple[str, str], ...]  # (API slug, canonical body), most specific first
    document_types: tuple[DocumentType, ...]
    entity_list: EntityListWords

    def acting_body(self, slugs: Iterable[str]) -> str | None:
        """The body that acts for a document of these agencies: the most specific one known."""
        given = set(slugs)
        return next((body for slug, body in self.agencies if slug in given), None)

    def document_type(self, word: str) -> DocumentType | None:
        """The document type of a code (PRORULE) or of the name a result gives (Proposed Rule)."""
        folded = word.strip().casefold()
        return next(
            (
                kind
                for kind in self.document_types
                if folded in (kind.code.casefold(), kind.name.casefold())
            ),
            None,
        )

    @property
    def codes(self) -> tuple[str, ...]:
        """The document type codes a query may ask for."""
        return tuple(kind.code for kind in self.document_types)


@cache
def load_register_words(folder: Path | None = None) -> RegisterWords:
    """Read federal_register.yaml of a vocabulary folder (the shipped one by default)."""
    path = (folder or shipped_folder()) / FILE_NAME
    document = read_document(path)
    try:
        agencies = tuple(
            (_word(item["slug"]), _word(item["body"])) for item in document["agencies"]
        )
        types = tuple(_document_type(item) for item in document["document_types"])
        entity_list = _entity_list(document["entity_list"])
        jurisdiction = _word(document["jurisdiction"])
    except (KeyError, TypeError, ValueError) as error:
        raise VocabularyError(f"{FILE_NAME}: malformed: {error!r}") from None
    return RegisterWords(jurisdiction, agencies, types, entity_list)


def _document_type(item: dict[str, Any]) -> DocumentType:
    kind = DocumentType(
        _word(item["code"]), _word(item["name"]), item.get("action"), item.get("modality")
    )
    if kind.action is not None and kind.action not in ACTIONS:
        raise VocabularyError(f"{FILE_NAME}: unknown action {kind.action!r}")
    if kind.modality is not None and kind.modality not in MODALITIES:
        raise VocabularyError(f"{FILE_NAME}: unknown modality {kind.modality!r}")
    return kind


def _entity_list(item: dict[str, Any]) -> EntityListWords:
    words = EntityListWords(
        title=int(item["title"]),
        part=int(item["part"]),
        name=_word(item["name"]),
        addition_words=tuple(_word(word) for word in item["addition_words"]),
        destination_cues=tuple(_word(cue) for cue in item["destination_cues"]),
        leading_words=tuple(_word(word) for word in item["leading_words"]),
        unit=_word(item["unit"]),
        measure=_word(item["measure"]),
        action=_word(item["action"]),
        attached_measures=tuple(_word(measure) for measure in item["attached_measures"]),
    )
    if (
        not {words.measure, *words.attached_measures} <= set(MEASURES)
        or words.action not in ACTIONS
    ):
        raise VocabularyError(
            f"{FILE_NAME}: entity_list: unknown measure {words.measure!r} or action "
            f"{words.action!r}"
        )
    return words


def _word(value: Any) -> str:
    if not isinstance(value, str | int) or not str(value).strip():
        raise VocabularyError(f"{FILE_NAME}: expected a word, got {value!r}")
    return str(value)
