"""What an official register says of one of its documents: facts carried with the article, not guesses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

INSTRUMENT_PREFIX = "FR Doc."  # how the Federal Register cites its own documents


@dataclass(frozen=True)
class CfrReference:
    """A part of the Code of Federal Regulations a document amends or cites: 15 CFR part 744."""

    title: int
    part: int


@dataclass(frozen=True)
class DocumentFacts:
    """The Federal Register API's fields of one document, as stored with its article."""

    document_number: str  # "2025-05083"
    document_type: str  # the API's code: RULE, PRORULE, NOTICE or PRESDOCU
    publication_date: date
    agencies: tuple[str, ...] = ()  # the API's agency slugs, in its order
    effective_on: date | None = None
    signing_date: date | None = None  # presidential documents: the day the President signed
    cfr_references: tuple[CfrReference, ...] = ()
    action: str = ""  # the document's ACTION line: "Final rule."

    @property
    def instrument(self) -> str:
        """The legal instrument the document is: "FR Doc. 2025-05083"."""
        return f"{INSTRUMENT_PREFIX} {self.document_number}"

    @property
    def announced_on(self) -> date:
        """When the act was made public: the signing day of a presidential document, else publication."""
        return self.signing_date or self.publication_date

    def cites(self, title: int, part: int) -> bool:
        """Whether the document amends or cites a part of the CFR."""
        return CfrReference(title, part) in self.cfr_references

    def to_json(self) -> dict[str, Any]:
        """The facts as a JSON object, for the `articles.facts` column."""
        return {
            "document_number": self.document_number,
            "document_type": self.document_type,
            "publication_date": self.publication_date.isoformat(),
            "agencies": list(self.agencies),
            "effective_on": _iso(self.effective_on),
            "signing_date": _iso(self.signing_date),
            "cfr_references": [{"title": r.title, "part": r.part} for r in self.cfr_references],
            "action": self.action,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DocumentFacts:
        """The facts a stored JSON object holds; a malformed one is a ValueError saying what."""
        try:
            return cls(
                document_number=_text(value["document_number"]),
                document_type=_text(value["document_type"]),
                publication_date=date.fromisoformat(value["publication_date"]),
                agencies=tuple(_text(slug) for slug in value.get("agencies") or ()),
                effective_on=_day(value.get("effective_on")),
                signing_date=_day(value.get("signing_date")),
                cfr_references=tuple(
                    CfrReference(int(reference["title"]), int(reference["part"]))
                    for reference in value.get("cfr_references") or ()
                ),
                action=str(value.get("action") or ""),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"stored document facts are malformed: {error!r}") from None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected text, got {value!r}")
    return value
