"""What a federal_register source asks the US Federal Register's documents API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_PER_PAGE = 100


@dataclass(frozen=True)
class RegisterQuery:
    """The conditions of a documents search, its publication window and how much to read."""

    agencies: tuple[str, ...] = ()  # API slugs: industry-and-security-bureau, ...
    document_types: tuple[str, ...] = ()  # RULE, PRORULE, NOTICE, PRESDOCU
    terms: tuple[str, ...] = ()  # any of them: "rare earth", gallium, ...
    days: int | None = None  # publication window: this many days back from today ...
    since: date | None = None  # ... or from this day on
    until: date | None = None  # optional last publication day
    per_page: int = DEFAULT_PER_PAGE
    pages: int = 1  # result pages followed through `next_page_url`
