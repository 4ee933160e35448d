"""Instruments: the announcement a text cites, in Chinese (商务部公告2025年第18号) or English
("MOFCOM Announcement No. 18 of 2025"), in one stored form; and English events given the one
their sentences or title name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from models.annotation import EventRecord
from models.vocabulary import Vocabulary
from models.vocabulary.chinese import ChineseVocabulary


@dataclass(frozen=True)
class Citation:
    """An instrument cited in a text, in its stored form, and where."""

    instrument: str
    start: int
    end: int
    issuer: str  # the canonical name of the body that issued it


class Instruments:
    """The citation forms of the vocabularies, compiled once."""

    def __init__(self, chinese: ChineseVocabulary, english: Vocabulary) -> None:
        self._forms = forms = chinese.instruments
        self.normal = forms.normal
        self.default_issuers = forms.default_issuers
        self._chinese_bodies = chinese.bodies
        self._english_bodies = {
            name.casefold(): body.name
            for body in english.bodies
            for name in (body.name, body.full_name, *body.aliases)
        }
        self._part_of = re.compile(forms.part_of, re.IGNORECASE)
        self._chinese_part = re.compile(forms.chinese_part)

    @cached_property
    def _chinese(self) -> list[re.Pattern[str]]:
        """The Chinese citation forms, compiled when first read (long alternations: 0.1 s)."""
        joiners = _either(self._forms.joiners)
        names = _either(self._chinese_bodies)
        issuers = f"(?:{names})(?:(?:{joiners})*(?:{names}))*"
        return [re.compile(p.replace("{issuers}", issuers)) for p in self._forms.chinese]

    @cached_property
    def _english(self) -> list[re.Pattern[str]]:
        """The English citation forms, compiled when first read."""
        names = _either(self._english_bodies)
        return [
            re.compile(p.replace("{issuers}", names), re.IGNORECASE) for p in self._forms.english
        ]

    def chinese(self, text: str) -> list[Citation]:
        """The Chinese citations of a text, in text order; the issuer is the first body named."""
        found: dict[int, Citation] = {}
        for pattern in self._chinese:
            for match in pattern.finditer(text):
                issuer = self._chinese_issuer(match["issuers"])
                if issuer is not None and match.start() not in found:
                    form = self.form(issuer, match["number"], match["year"])
                    found[match.start()] = Citation(form, match.start(), match.end(), issuer)
        return [found[start] for start in sorted(found)]

    def english(self, text: str, issuer: str | None, year: int | None) -> list[Citation]:
        """The English citations of a text that are not a part of another ("clause 2 of ...").

        A citation without an issuer takes `issuer`, one without a year takes `year`; one
        lacking either with none given is left out.
        """
        found: list[Citation] = []
        for pattern in self._english:
            for match in pattern.finditer(text):
                if self._part_of.search(text, max(0, match.start() - 40), match.start()):
                    continue
                named = match.groupdict().get("issuer") or match.groupdict().get("issuer_after")
                body = self._english_bodies.get(named.casefold()) if named else issuer
                number, stated = match["number"], match["year"]
                cited_year = stated or (str(year) if year is not None else None)
                if body is not None and cited_year is not None:
                    form = self.form(body, number, cited_year)
                    found.append(Citation(form, match.start(), match.end(), body))
        return sorted(found, key=lambda citation: citation.start)

    def names_a_part(self, text: str, end: int) -> bool:
        """Whether the words after a Chinese citation name a part of it (…第46号第二款)."""
        return bool(self._chinese_part.match(text[end : end + 20]))

    def form(self, issuer: str, number: str, year: str) -> str:
        """The stored form of an instrument: "MOFCOM Announcement No. 18 of 2025"."""
        return self.normal.format(issuer=issuer, number=int(number), year=int(year))

    def _chinese_issuer(self, issuers: str) -> str | None:
        """The body the first Chinese name of a list of issuers names."""
        for name in sorted(self._chinese_bodies, key=len, reverse=True):
            if issuers.startswith(name):
                return self._chinese_bodies[name]
        return None


def with_instruments(
    records: Sequence[EventRecord], title: str, instruments: Instruments
) -> list[EventRecord]:
    """English records with the instrument their sentences name, else their text's title names.

    Nothing else of a record changes. A citation without an issuer is the usual issuer of the
    record's actor (MOFCOM for China), else its body's; one without a year takes the year the
    record was announced in.
    """
    named: list[EventRecord] = []
    for record in records:
        if record.instrument is not None:
            named.append(record)
            continue
        issuer = instruments.default_issuers.get(record.actor or "") or record.actor_body
        announced = record.date_of("announced")
        year = announced.year if announced is not None else None
        texts: Iterable[str] = (*(mention.sentence for mention in record.mentions), title)
        cited = next(
            (found[0] for text in texts if (found := instruments.english(text, issuer, year))),
            None,
        )
        named.append(replace(record, instrument=cited.instrument) if cited else record)
    return named


def _either(words: Iterable[str]) -> str:
    """An alternation of literal words, the longest first so a longer name wins."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) or "(?!)"
