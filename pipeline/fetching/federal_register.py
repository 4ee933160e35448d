"""The US Federal Register's documents API (api/v1/documents.json): queries, result pages, full texts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from models.facts import CfrReference, DocumentFacts
from models.register import RegisterQuery
from models.vocabulary.register import RegisterWords, load_register_words
from pipeline.fetching.encoding import body_encoding
from pipeline.fetching.guards import ParseError
from pipeline.fetching.markup import strip_controls

# The fields each result carries: what an article and its facts are made of.
FIELDS = (
    "document_number",
    "title",
    "type",
    "abstract",
    "publication_date",
    "effective_on",
    "signing_date",
    "agencies",
    "html_url",
    "raw_text_url",
    "body_html_url",
    "cfr_references",
    "action",
)
ORDER = "newest"
DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")


class ResultError(ValueError):
    """One result of a page cannot be read; the others can."""


@dataclass(frozen=True)
class RegisterDocument:
    """One document of a result page: where its text is, and the facts the API gives."""

    html_url: str  # the public page: the article's URL
    text_url: str  # the page to fetch: the plain full text, else the HTML body
    title: str
    abstract: str
    facts: DocumentFacts

    @property
    def published(self) -> datetime:
        """The publication day, at midnight UTC."""
        return datetime.combine(self.facts.publication_date, time(), UTC)


@dataclass(frozen=True)
class ResultPage:
    """One page of search results."""

    count: int
    total_pages: int
    next_page_url: str | None
    documents: list[RegisterDocument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # results that could not be read, each named


def query_url(endpoint: str, query: RegisterQuery, today: date) -> str:
    """The URL of the first result page of a query; `days` counts back from `today`."""
    parameters: list[tuple[str, str]] = [("conditions[agencies][]", a) for a in query.agencies]
    parameters += [("conditions[type][]", kind) for kind in query.document_types]
    if query.terms:
        parameters.append(("conditions[term]", search_terms(query.terms)))
    since = today - timedelta(days=query.days) if query.days is not None else query.since
    if since is not None:
        parameters.append(("conditions[publication_date][gte]", since.isoformat()))
    if query.until is not None:
        parameters.append(("conditions[publication_date][lte]", query.until.isoformat()))
    parameters += [("fields[]", name) for name in FIELDS]
    parameters += [("order", ORDER), ("per_page", str(query.per_page))]
    return f"{endpoint}?{urlencode(parameters)}"


def search_terms(terms: tuple[str, ...]) -> str:
    """The full-text condition matching any of the terms: phrases quoted, joined by `|`."""
    return " | ".join(f'"{term}"' if " " in term else term for term in terms)


def parse_results(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    words: RegisterWords | None = None,
) -> ResultPage:
    """A result page read strictly: a malformed page is a ParseError naming the URL, a malformed
    result is an error of its own in `errors` and the others are read."""
    words = words or load_register_words()
    document = _envelope(body, url, headers)
    count, total_pages = _count(document, url, "count"), _count(document, url, "total_pages")
    results = document.get("results", [])  # the API leaves `results` out when nothing matched
    if not isinstance(results, list):
        raise ParseError(f"{url}: `results` must be a list, got {_kind(results)}")
    page = ResultPage(count, total_pages, _next_page_url(document, url))
    for index, result in enumerate(results, start=1):
        try:
            page.documents.append(_document(result, words))
        except ResultError as error:
            number = result.get("document_number") if isinstance(result, dict) else None
            name = f" ({number})" if isinstance(number, str) else ""
            page.errors.append(f"{url}: result {index}{name}: {error}")
    return page


def following_page(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> str | None:
    """The URL of the result page after this one, on this one's host; None after the last."""
    following = _next_page_url(_envelope(body, url, headers), url)
    if following is None:
        return None
    here, there = urlsplit(url), urlsplit(following)
    if (there.hostname or "").lower() != (here.hostname or "").lower():
        raise ParseError(
            f"{url}: `next_page_url` {following!r} leaves {here.hostname}: not followed"
        )
    return following


def _envelope(body: bytes, url: str, headers: Mapping[str, str] | None) -> dict[str, Any]:
    """The JSON object of a result page."""
    try:
        encoding = body_encoding(body, headers) or "utf-8"
        document = json.loads(body.decode(encoding, errors="replace"))
    except (ValueError, RecursionError) as error:
        raise ParseError(f"{url}: not a JSON result page: {_short(error)}") from None
    if not isinstance(document, dict):
        raise ParseError(f"{url}: a result page must be a JSON object, got {_kind(document)}")
    return document


def _count(document: dict[str, Any], url: str, key: str) -> int:
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParseError(f"{url}: `{key}` must be a whole number, got {value!r}")
    return int(value)


def _next_page_url(document: dict[str, Any], url: str) -> str | None:
    value = document.get("next_page_url")
    if value is not None and not _is_web_url(value):
        raise ParseError(f"{url}: `next_page_url` must be an http(s) URL, got {value!r}")
    return str(value) if value is not None else None


def _document(result: Any, words: RegisterWords) -> RegisterDocument:
    """One result as a document; a missing or malformed field is a ResultError naming it."""
    if not isinstance(result, dict):
        raise ResultError(f"a result must be a JSON object, got {_kind(result)}")
    number = _required_text(result, "document_number")
    if not DOCUMENT_NUMBER.fullmatch(number):
        raise ResultError(f"`document_number` {number!r} is not a document number")
    type_name = _required_text(result, "type")
    kind = words.document_type(type_name)
    if kind is None:
        raise ResultError(f"`type` {type_name!r} is not a document type newstrack knows")
    html_url = _url(result, "html_url")
    text_url = _url(result, "raw_text_url") or _url(result, "body_html_url")
    if html_url is None:
        raise ResultError("`html_url` is missing")
    if text_url is None:
        raise ResultError("no full text: neither `raw_text_url` nor `body_html_url` is given")
    facts = DocumentFacts(
        document_number=number,
        document_type=kind.code,
        publication_date=_required_day(result, "publication_date"),
        agencies=_agencies(result.get("agencies")),
        effective_on=_day(result, "effective_on"),
        signing_date=_day(result, "signing_date"),
        cfr_references=_references(result.get("cfr_references")),
        action=_optional_text(result, "action"),
    )
    return RegisterDocument(
        html_url=html_url,
        text_url=text_url,
        title=_required_text(result, "title"),
        abstract=_optional_text(result, "abstract"),
        facts=facts,
    )


def _required_text(result: dict[str, Any], key: str) -> str:
    value = result.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ResultError(f"`{key}` must be text, got {value!r}")
    return strip_controls(value.strip())


def _optional_text(result: dict[str, Any], key: str) -> str:
    value = result.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ResultError(f"`{key}` must be text or null, got {_kind(value)}")
    return strip_controls(value.strip())


def _url(result: dict[str, Any], key: str) -> str | None:
    value = result.get(key)
    if value is None or value == "":
        return None
    if not _is_web_url(value):
        raise ResultError(f"`{key}` must be an http(s) URL, got {value!r}")
    return str(value)


def _required_day(result: dict[str, Any], key: str) -> date:
    day = _day(result, key)
    if day is None:
        raise ResultError(f"`{key}` is missing")
    return day


def _day(result: dict[str, Any], key: str) -> date | None:
    value = result.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ResultError(f"`{key}` must be a date such as 2025-03-25, got {value!r}")


def _agencies(value: Any) -> tuple[str, ...]:
    """The slugs of a result's agencies; an agency the API knows only by its raw name has none."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ResultError(f"`agencies` must be a list of objects, got {_kind(value)}")
    slugs = []
    for agency in value:
        slug = agency.get("slug")
        if slug is not None and not isinstance(slug, str):
            raise ResultError(f"`agencies`: a `slug` must be text, got {slug!r}")
        if slug:
            slugs.append(slug)
    return tuple(slugs)


def _references(value: Any) -> tuple[CfrReference, ...]:
    """The CFR parts a result cites; references to a whole title or chapter have no part."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ResultError(f"`cfr_references` must be a list of objects, got {_kind(value)}")
    found = []
    for reference in value:
        title, part = reference.get("title"), reference.get("part")
        if part is None:
            continue
        if not (_whole(title) and _whole(part)):
            raise ResultError(
                f"`cfr_references`: title and part must be whole numbers, got {title!r}, {part!r}"
            )
        found.append(CfrReference(title, part))
    return tuple(found)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _kind(value: object) -> str:
    """A JSON value's type, in JSON's words."""
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), repr(value))


def _short(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]
