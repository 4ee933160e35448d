"""The `api:` mapping of a federal_register source: what to ask the Federal Register's documents API."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from models.errors import ConfigError
from models.register import DEFAULT_PER_PAGE, RegisterQuery
from models.vocabulary.register import load_register_words
from pipeline.config.numbers import Whole
from pipeline.config.yaml_loader import where, whole_number

KIND = "federal_register"
API_KEYS = ("agencies", "types", "terms", "days", "since", "until", "per_page", "pages")
DOCUMENTS_PATH = "/api/v1/documents.json"  # the search endpoint every URL of the source must be
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # how the API spells an agency
DAYS = Whole(1, 3660)  # a publication window of up to ten years back
PER_PAGE = Whole(1, 1000)  # the API answers at most 1000 results a page
PAGES = Whole(1, 100)  # result pages followed through `next_page_url`
MAX_TERM_CHARS = 200


def register_query(path: Path, item: dict[str, Any], place: str) -> RegisterQuery | None:
    """The query of a federal_register source (None for other kinds); errors name file, line, field."""
    api = item.get("api")
    if item.get("kind") != KIND:
        if api is not None:
            raise ConfigError(f"{place}: `api` is only for {KIND} sources")
        return None
    if not isinstance(api, dict):
        raise ConfigError(f"{place}: a {KIND} source needs an `api:` mapping (agencies, types ...)")
    for url in item.get("urls") or ():
        parts = urlsplit(url)
        if parts.path != DOCUMENTS_PATH or parts.query or parts.fragment:
            raise ConfigError(
                f"{place}: {url!r}: a {KIND} source's URLs are the documents endpoint "
                f"(https://www.federalregister.gov{DOCUMENTS_PATH}) without a query; "
                "its conditions go under `api:`"
            )
    api_place = f"{where(path, api)} (source {item.get('name')!r})"  # where its fields are
    unknown = sorted(set(api) - set(API_KEYS) - {"__line__"})
    if unknown:
        raise ConfigError(f"{api_place}: unknown api field(s) {', '.join(unknown)}")
    codes = load_register_words().codes
    types = _words(api_place, api, "types")
    bad = [kind for kind in types if kind not in codes]
    if bad:
        raise ConfigError(
            f"{api_place}: `api.types`: {bad[0]!r} is not a document type; use {', '.join(codes)}"
        )
    agencies = _words(api_place, api, "agencies")
    for slug in agencies:
        if not SLUG.fullmatch(slug):
            raise ConfigError(
                f"{api_place}: `api.agencies`: {slug!r} is not an agency slug of the API "
                "(lower-case words joined by '-', such as industry-and-security-bureau)"
            )
    terms = _words(api_place, api, "terms")
    for term in terms:
        if '"' in term or len(term) > MAX_TERM_CHARS:
            raise ConfigError(
                f"{api_place}: `api.terms`: {term!r} must be a word or phrase of at most "
                f"{MAX_TERM_CHARS} characters, without double quotes"
            )
    days = api.get("days")
    if days is not None:
        days = whole_number(days, DAYS, _fail(api_place, "days"))
    since, until = _day(api_place, api, "since"), _day(api_place, api, "until")
    if (days is None) == (since is None):
        raise ConfigError(
            f"{api_place}: `api` needs a publication window: `days` (back from today) "
            "or `since` (a date), not both"
        )
    if since is not None and until is not None and until < since:
        raise ConfigError(f"{api_place}: `api.until` ({until}) is before `api.since` ({since})")
    return RegisterQuery(
        agencies=agencies,
        document_types=types,
        terms=terms,
        days=days,
        since=since,
        until=until,
        per_page=whole_number(
            api.get("per_page", DEFAULT_PER_PAGE), PER_PAGE, _fail(api_place, "per_page")
        ),
        pages=whole_number(api.get("pages", 1), PAGES, _fail(api_place, "pages")),
    )


def _words(place: str, api: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of non-empty strings, each once."""
    value = api.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(word, str) and word.strip() for word in value
    ):
        raise ConfigError(
            f"{place}: `api.{key}` must be a list of non-empty strings, got {value!r}"
        )
    return tuple(dict.fromkeys(word.strip() for word in value))


def _day(place: str, api: dict[str, Any], key: str) -> date | None:
    """A date written as YAML writes one (2025-01-01), or None when absent."""
    value = api.get(key)
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{place}: `api.{key}` must be a date such as 2025-01-01, got {value!r}")


def _fail(place: str, key: str) -> Any:
    """How a bad number of the mapping is reported: file, line, source and field."""
    return lambda problem: ConfigError(f"{place}: `api.{key}`: {problem}")
