"""The federal_register source kind: its `api:` config, the documents API's result pages read
strictly and paged against a loopback server, full texts stored with the API's facts, and the
facts applied to the events the extractor reads in them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Article, Event, Mention
from models.annotation import Annotation, ArticleText, DateTag, EventMention, EventRecord
from models.errors import ConfigError
from models.facts import CfrReference, DocumentFacts
from models.register import RegisterQuery
from models.source import ArticleSelectors, SourceConfig
from models.vocabulary import load_vocabulary
from pipeline.config.settings import HttpSettings, Settings
from pipeline.config.sources import load_sources
from pipeline.extraction import Extractor
from pipeline.extraction.facts import apply_facts, entity_list_destinations
from pipeline.fetching.federal_register import (
    FIELDS,
    parse_results,
    query_url,
    search_terms,
)
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import build_client
from pipeline.fetching.pages import extract_page, plain_text_page
from pipeline.flows.extract import extract_pending
from pipeline.flows.fetch import FetchSummary, fetch_sources
from storage.engine import make_session_factory, open_engine
from storage.migrate import current_revision, downgrade, upgrade
from storage.sessions import unit_of_work
from tests.servers import Behaviour, Handler, respond, serve
from tests.stored import engine_for

from .conftest import PROJECT

SETTINGS = Settings(
    http=HttpSettings(read_timeout=2, total_timeout=5, retries=0, per_host_interval=0)
)
API_PATH = "/api/v1/documents.json"
REGISTER_TEXTS = PROJECT / "snapshot" / "www.federalregister.gov" / "documents" / "full_text"
ENTITY_LIST_TEXT = REGISTER_TEXTS / "text" / "2025" / "03" / "25" / "2025-05083.txt"
PROPOSED_RULE_TEXT = REGISTER_TEXTS / "text" / "2025" / "08" / "20" / "2025-15873.txt"
BIS = ("commerce-department", "industry-and-security-bureau")
WRAPPED = (
    b"[FR Doc No: 2025-00001]\n\nSUMMARY: The Bureau of Industry and Security adds\n"
    b"entities to the Entity List.\n    Exports to them need a\nlicense.\n\nBILLING CODE 3510-33-P\n"
)

# ------------------------------------------------------------------------------- config

SOURCE = """\
sources:
  - name: register
    kind: federal_register
    urls: ["https://www.federalregister.gov/api/v1/documents.json"]
    api:
      agencies: [industry-and-security-bureau, international-trade-administration]
      types: [RULE, PRORULE]
      terms: [rare earth, gallium]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_federal_register_source_loads_its_query(tmp_path: Path) -> None:
    """The `api:` mapping becomes the source's query, with its defaults."""
    path = _write(tmp_path, SOURCE + "      since: 2025-01-01\n      pages: 4\n")
    [source] = load_sources(path)
    assert source.kind == "federal_register"
    assert source.query == RegisterQuery(
        agencies=("industry-and-security-bureau", "international-trade-administration"),
        document_types=("RULE", "PRORULE"),
        terms=("rare earth", "gallium"),
        since=date(2025, 1, 1),
        pages=4,
    )


def test_the_shipped_register_source_asks_for_the_four_agencies() -> None:
    """sources.yaml's federal-register source reads BIS, USTR, ITA and the President's documents."""
    [source] = [s for s in load_sources(PROJECT / "sources.yaml") if s.kind == "federal_register"]
    assert source.query is not None and source.group == "official"
    assert set(source.query.agencies) == {
        "industry-and-security-bureau",
        "trade-representative-office-of-united-states",
        "international-trade-administration",
        "executive-office-of-the-president",
    }
    assert set(source.query.document_types) == {"RULE", "PRORULE", "NOTICE", "PRESDOCU"}


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        ("      since: 2025-01-01\n      colour: red\n", 6, "unknown api field(s) colour"),
        ("      since: 2025-01-01\n      types: [RULES]\n", 6, "`api.types`: 'RULES' is not a document type; use RULE, PRORULE, NOTICE, PRESDOCU"),
        ("      since: 2025-01-01\n      agencies: [Industry and Security]\n", 6, "`api.agencies`: 'Industry and Security' is not an agency slug"),
        ("      since: 2025-01-01\n      agencies: industry-and-security-bureau\n", 6, "`api.agencies` must be a list of non-empty strings"),
        ("      since: 2025-01-01\n      terms: ['say \"this\"']\n", 6, "`api.terms`: 'say \"this\"' must be a word or phrase"),
        ("      days: 0\n", 6, "`api.days`: expected a whole number from 1 to 3660, got 0"),
        ("      days: true\n", 6, "`api.days`: expected a whole number from 1 to 3660, got True"),
        ("      days: 30\n      since: 2025-01-01\n", 6, "needs a publication window: `days` (back from today) or `since` (a date), not both"),
        ("      per_page: 10\n", 6, "needs a publication window"),
        ("      since: January\n", 6, "`api.since` must be a date such as 2025-01-01, got 'January'"),
        ("      since: 2025-03-01T10:00:00\n", 6, "`api.since` must be a date such as 2025-01-01"),
        ("      since: 2025-03-01\n      until: 2025-02-01\n", 6, "`api.until` (2025-02-01) is before `api.since` (2025-03-01)"),
        ("      since: 2025-01-01\n      per_page: 5000\n", 6, "`api.per_page`: expected a whole number from 1 to 1000, got 5000"),
        ("      since: 2025-01-01\n      pages: 0\n", 6, "`api.pages`: expected a whole number from 1 to 100, got 0"),
    ],
)  # fmt: skip
def test_a_bad_api_field_names_file_line_source_and_field(
    tmp_path: Path, extra: str, line: int, message: str
) -> None:
    """Each bad value of `api:` is a ConfigError naming the file, the line, the source, the field."""
    path = _write(tmp_path, SOURCE + extra)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: line {line} (source 'register'): ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SOURCE.split("    api:")[0], "a federal_register source needs an `api:` mapping"),
        (SOURCE.split("    api:")[0] + "    api: [a]\n", "needs an `api:` mapping"),
        (
            SOURCE.replace("kind: federal_register", "kind: rss") + "      since: 2025-01-01\n",
            "`api` is only for federal_register sources",
        ),
        (
            SOURCE.replace('documents.json"', 'documents.json?per_page=5"')
            + "      since: 2025-01-01\n",
            "a federal_register source's URLs are the documents endpoint",
        ),
        (
            SOURCE.replace("/api/v1/documents.json", "/documents/search")
            + "      since: 2025-01-01\n",
            "without a query; its conditions go under `api:`",
        ),
    ],
)
def test_the_api_mapping_belongs_to_federal_register_sources(
    tmp_path: Path, text: str, message: str
) -> None:
    """`api:` is required by, and only allowed for, federal_register sources on the endpoint."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: line 2 (source 'register'): ")
    assert message in str(caught.value)


# ---------------------------------------------------------------------------- URLs


def test_the_query_url_asks_for_every_condition_and_field() -> None:
    """Agencies, types, terms, the window, the fields, newest first and the page size."""
    query = RegisterQuery(
        agencies=BIS,
        document_types=("RULE", "NOTICE"),
        terms=("rare earth", "gallium"),
        since=date(2025, 1, 1),
        until=date(2025, 6, 30),
        per_page=20,
    )
    url = query_url("https://www.federalregister.gov/api/v1/documents.json", query, date.today())
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("www.federalregister.gov", API_PATH)
    assert "%5B" in parts.query and "[" not in parts.query  # brackets are percent-encoded
    assert parse_qsl(parts.query) == [
        ("conditions[agencies][]", "commerce-department"),
        ("conditions[agencies][]", "industry-and-security-bureau"),
        ("conditions[type][]", "RULE"),
        ("conditions[type][]", "NOTICE"),
        ("conditions[term]", '"rare earth" | gallium'),
        ("conditions[publication_date][gte]", "2025-01-01"),
        ("conditions[publication_date][lte]", "2025-06-30"),
        *[("fields[]", name) for name in FIELDS],
        ("order", "newest"),
        ("per_page", "20"),
    ]


def test_days_count_back_from_today() -> None:
    """`days: 30` asks for documents published from 30 days before the day of the run."""
    url = query_url("https://x.example" + API_PATH, RegisterQuery(days=30), date(2025, 3, 31))
    assert parse_qs(urlsplit(url).query)["conditions[publication_date][gte]"] == ["2025-03-01"]
    assert "conditions[publication_date][lte]" not in parse_qs(urlsplit(url).query)


def test_search_terms_quote_phrases_and_join_them_with_or() -> None:
    """Any term may match: phrases stay whole."""
    assert search_terms(("critical minerals", "tungsten")) == '"critical minerals" | tungsten'


# ------------------------------------------------------------------ result pages


def _result(
    number: str, base: str = "https://www.federalregister.gov", **fields: Any
) -> dict[str, Any]:
    """One result in the API's format, with every field the query asks for."""
    day = fields.pop("publication_date", "2025-03-25")
    path = (day or "2025-03-25").replace("-", "/")
    result: dict[str, Any] = {
        "document_number": number,
        "title": f"Document {number}",
        "type": "Rule",
        "abstract": None,
        "publication_date": day,
        "effective_on": None,
        "signing_date": None,
        "agencies": [
            {
                "raw_name": "DEPARTMENT OF COMMERCE",
                "name": "Commerce Department",
                "id": 54,
                "url": "https://www.federalregister.gov/agencies/commerce-department",
                "json_url": "https://www.federalregister.gov/api/v1/agencies/54",
                "parent_id": None,
                "slug": "commerce-department",
            },
            {
                "raw_name": "Bureau of Industry and Security",
                "name": "Industry and Security Bureau",
                "id": 241,
                "url": "https://www.federalregister.gov/agencies/industry-and-security-bureau",
                "json_url": "https://www.federalregister.gov/api/v1/agencies/241",
                "parent_id": 54,
                "slug": "industry-and-security-bureau",
            },
        ],
        "html_url": f"{base}/documents/{path}/{number}/document-{number}",
        "raw_text_url": f"{base}/documents/full_text/text/{path}/{number}.txt",
        "body_html_url": f"{base}/documents/full_text/html/{path}/{number}.html",
        "cfr_references": [],
        "action": "Final rule.",
    }
    result.update(fields)
    return result


def _page(results: list[dict[str, Any]], next_page_url: str | None = None, **extra: Any) -> bytes:
    """A result page as the API writes it."""
    body: dict[str, Any] = {"count": len(results), "description": "Documents", "total_pages": 1}
    if next_page_url:
        body["next_page_url"] = next_page_url
    return json.dumps({**body, **extra, "results": results}).encode()


def test_a_result_page_is_read_into_documents_with_their_facts() -> None:
    """Each result's public page, full text, title and facts; the API's type name is coded."""
    result = _result(
        "2025-05083",
        effective_on="2025-03-25",
        cfr_references=[{"title": 15, "part": 744, "chapter": None, "citation_url": None}],
    )
    page = parse_results(_page([result], "https://www.federalregister.gov/next"), "https://x")
    [document] = page.documents
    assert (page.count, page.next_page_url, page.errors) == (
        1,
        "https://www.federalregister.gov/next",
        [],
    )
    assert document.html_url == result["html_url"]
    assert document.text_url == result["raw_text_url"]
    assert document.facts == DocumentFacts(
        document_number="2025-05083",
        document_type="RULE",
        publication_date=date(2025, 3, 25),
        agencies=BIS,
        effective_on=date(2025, 3, 25),
        cfr_references=(CfrReference(15, 744),),
        action="Final rule.",
    )
    assert document.facts.instrument == "FR Doc. 2025-05083"
    assert DocumentFacts.from_json(document.facts.to_json()) == document.facts


def test_without_a_plain_text_the_html_body_is_the_page_to_fetch() -> None:
    """`raw_text_url` first, else `body_html_url`."""
    page = parse_results(_page([_result("2025-1", raw_text_url=None)]), "https://x")
    assert page.documents[0].text_url.endswith("/full_text/html/2025/03/25/2025-1.html")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not a JSON result page"),
        (b"[]", "a result page must be a JSON object, got a list"),
        (b'{"count": "many", "results": []}', "`count` must be a whole number, got 'many'"),
        (b'{"count": 1, "results": {"a": 1}}', "`results` must be a list, got an object"),
        (b'{"count": 1, "next_page_url": "ftp://x", "results": []}', "`next_page_url` must be an http(s) URL"),
        (b"[" * 100_000, "not a JSON result page"),
    ],
)  # fmt: skip
def test_a_malformed_page_is_a_parse_error_naming_the_url(body: bytes, problem: str) -> None:
    """Bad JSON or a bad envelope stops that page, with the URL and what is wrong."""
    with pytest.raises(ParseError, match=re.escape(f"https://api.example/p: {problem}")):
        parse_results(body, "https://api.example/p")


def test_the_api_leaves_results_out_when_nothing_matched() -> None:
    """`{"count": 0}` is an empty page, not an error."""
    page = parse_results(b'{"count": 0, "description": "none"}', "https://x")
    assert (page.count, page.documents, page.errors) == (0, [], [])


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"raw_text_url": None, "body_html_url": None}, "no full text: neither `raw_text_url` nor `body_html_url`"),
        ({"publication_date": None}, "`publication_date` is missing"),
        ({"effective_on": "soon"}, "`effective_on` must be a date such as 2025-03-25, got 'soon'"),
        ({"type": "Memo"}, "`type` 'Memo' is not a document type newstrack knows"),
        ({"html_url": "javascript:alert(1)"}, "`html_url` must be an http(s) URL"),
        ({"agencies": "BIS"}, "`agencies` must be a list of objects, got text"),
        ({"cfr_references": [{"title": "15", "part": 744}]}, "`cfr_references`: title and part must be whole numbers"),
        ({"title": ""}, "`title` must be text, got ''"),
        ({"document_number": "../etc"}, "`document_number` '../etc' is not a document number"),
    ],
)  # fmt: skip
def test_a_malformed_result_fails_alone(fields: dict[str, Any], problem: str) -> None:
    """The bad result is an error naming the page, its place and its number; the others are read."""
    results = [_result("2025-1"), _result("2025-2", **fields), _result("2025-3")]
    page = parse_results(_page(results), "https://api.example/p")
    assert [d.facts.document_number for d in page.documents] == ["2025-1", "2025-3"]
    [error] = page.errors
    assert error.startswith("https://api.example/p: result 2")
    assert problem in error


def test_a_plain_text_page_is_read_as_text_with_its_lines_joined() -> None:
    """Hard-wrapped lines join into paragraphs; blank lines keep paragraphs apart."""
    headers = {"content-type": "text/plain; charset=utf-8"}
    page = extract_page(WRAPPED, "https://x/t.txt", ArticleSelectors(), headers)
    assert page.text.split("\n\n") == [
        "[FR Doc No: 2025-00001]",
        "SUMMARY: The Bureau of Industry and Security adds entities to the Entity List. "
        "Exports to them need a license.",
        "BILLING CODE 3510-33-P",
    ]
    assert page.text_extractor == "plain_text"
    with pytest.raises(ParseError, match=re.escape("https://x/t.txt: no text")):
        plain_text_page(b" \n\n \n", "https://x/t.txt")


# ---------------------------------------------------------- fetching, end to end


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file."""
    with open_engine(f"sqlite:///{tmp_path / 'register.db'}") as engine:
        upgrade(engine)
        yield make_session_factory(engine)


def _paged_api(pages: Mapping[int, Behaviour | bytes]) -> Behaviour:
    """The documents endpoint: the page its `page` parameter asks for (1 without one)."""

    def behave(handler: Handler) -> None:
        number = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        answer = pages.get(number, respond(404, b"no such page"))
        if isinstance(answer, bytes):
            answer = respond(200, answer, content_type="application/json; charset=utf-8")
        answer(handler)

    return behave


def _texts(numbers: list[str], day: str = "2025/03/25") -> dict[str, Behaviour]:
    """Plain full texts of documents, one sentence each."""
    return {
        f"/documents/full_text/text/{day}/{n}.txt": respond(
            200, f"Document {n}\nstates its rule\nin full.\n".encode(), content_type="text/plain"
        )
        for n in numbers
    }


def _source(base: str, pages: int = 3, per_page: int = 2) -> SourceConfig:
    query = RegisterQuery(agencies=BIS, since=date(2025, 1, 1), per_page=per_page, pages=pages)
    return SourceConfig(
        name="register", kind="federal_register", urls=(base + API_PATH,), query=query
    )


def _fetch(session_factory: sessionmaker[Session], source: SourceConfig) -> FetchSummary:
    with build_client(SETTINGS.http) as client:
        return fetch_sources(session_factory, client, [source], SETTINGS)


def _stored(session_factory: sessionmaker[Session]) -> dict[str, Article]:
    with unit_of_work(session_factory) as session:
        articles = session.scalars(select(Article)).all()
        session.expunge_all()
    return {article.guid or "": article for article in articles}


def _asked(url: str) -> str:
    """What a server sees of a URL: its path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _next(base: str, page: int) -> str:
    """A next_page_url as the API writes it: its own parameter order, the page added."""
    query = urlencode([("conditions[agencies][]", "industry-and-security-bureau"), ("page", page)])
    return f"{base}{API_PATH}?{query}"


def test_pages_are_followed_through_next_page_url_up_to_the_limit(
    session_factory: sessionmaker[Session],
) -> None:
    """Three pages of two documents: each fetched once, its full text stored as the article text
    under the document's public URL, with the API's facts."""
    numbers = [f"2025-0{n}" for n in range(1, 7)]
    with serve({}) as server:
        base = server.base_url
        pages = {
            1: _page([_result(n, base) for n in numbers[0:2]], _next(base, 2)),
            2: _page([_result(n, base) for n in numbers[2:4]], _next(base, 3)),
            3: _page([_result(n, base) for n in numbers[4:6]]),
        }
        server.routes.update({API_PATH: _paged_api(pages), **_texts(numbers)})
        report = _fetch(session_factory, _source(base)).sources[0]
        api_requests = [r.path for r in server.requests if r.path.startswith(API_PATH)]
    assert (report.status, report.stored, report.errors) == ("ok", 6, [])
    first = query_url(base + API_PATH, RegisterQuery(agencies=BIS, since=date(2025, 1, 1),
                      per_page=2, pages=3), date.today())  # fmt: skip
    assert api_requests == [_asked(first), _asked(_next(base, 2)), _asked(_next(base, 3))]
    stored = _stored(session_factory)
    assert sorted(stored) == numbers
    article = stored["2025-03"]
    assert article.url == f"{base}/documents/2025/03/25/2025-03/document-2025-03"
    assert article.text == "Document 2025-03 states its rule in full."
    assert (article.text_extractor, article.title) == ("plain_text", "Document 2025-03")
    assert article.facts is not None
    assert DocumentFacts.from_json(article.facts).agencies == BIS


def test_the_page_limit_stops_the_paging(session_factory: sessionmaker[Session]) -> None:
    """With `pages: 2`, the third page is never asked for."""
    numbers = [f"2025-0{n}" for n in range(1, 5)]
    with serve({}) as server:
        base = server.base_url
        pages = {
            1: _page([_result(numbers[0], base)], _next(base, 2)),
            2: _page([_result(numbers[1], base)], _next(base, 3)),
            3: _page([_result(numbers[2], base)], _next(base, 4)),
        }
        server.routes.update({API_PATH: _paged_api(pages), **_texts(numbers)})
        report = _fetch(session_factory, _source(base, pages=2)).sources[0]
        asked = [r.path for r in server.requests if r.path.startswith(API_PATH)]
    assert report.stored == 2
    assert len(asked) == 2 and not any("page=3" in path for path in asked)


def test_a_failing_second_page_keeps_the_first_pages_items(
    session_factory: sessionmaker[Session],
) -> None:
    """A 500 on page 2 is an error naming its URL; page 1's documents are stored."""
    with serve({}) as server:
        base = server.base_url
        pages: dict[int, Behaviour | bytes] = {
            1: _page([_result("2025-01", base), _result("2025-02", base)], _next(base, 2)),
            2: respond(500, b"oops"),
        }
        server.routes.update({API_PATH: _paged_api(pages), **_texts(["2025-01", "2025-02"])})
        report = _fetch(session_factory, _source(base)).sources[0]
    assert (report.status, report.stored) == ("partial", 2)
    [error] = report.errors
    assert error.startswith(_next(base, 2)) and "500" in error
    assert sorted(_stored(session_factory)) == ["2025-01", "2025-02"]


def test_malformed_json_fails_the_source_with_its_url(
    session_factory: sessionmaker[Session],
) -> None:
    """A page that is not JSON is a clear error naming the URL asked for."""
    with serve({}) as server:
        server.routes[API_PATH] = _paged_api({1: b"<html>maintenance</html>"})
        source = _source(server.base_url)
        report = _fetch(session_factory, source).sources[0]
    assert (report.status, report.stored) == ("failed", 0)
    [error] = report.errors
    assert error.startswith(f"{server.base_url}{API_PATH}?conditions%5Bagencies%5D")
    assert "not a JSON result page" in error


def test_a_result_without_a_text_url_fails_alone(session_factory: sessionmaker[Session]) -> None:
    """The other documents of the page are stored; the error names the document."""
    with serve({}) as server:
        base = server.base_url
        results = [
            _result("2025-01", base),
            _result("2025-02", base, raw_text_url=None, body_html_url=None),
            _result("2025-03", base),
        ]
        server.routes.update(
            {API_PATH: _paged_api({1: _page(results)}), **_texts(["2025-01", "2025-03"])}
        )
        report = _fetch(session_factory, _source(base)).sources[0]
    assert (report.status, report.stored) == ("partial", 2)
    [error] = report.errors
    assert "result 2 (2025-02): no full text" in error
    assert sorted(_stored(session_factory)) == ["2025-01", "2025-03"]


def test_an_html_body_is_read_as_a_page(session_factory: sessionmaker[Session]) -> None:
    """A document with only `body_html_url` has its HTML read for the text."""
    html = (
        b"<html><head><title>Ignored</title></head><body><div id='fulltext_content_area'>"
        b"<p>The Bureau of Industry and Security adds entities to the Entity List under the "
        b"destination of China.</p><p>A license is required for exports to them.</p>"
        b"</div></body></html>"
    )
    with serve({}) as server:
        base = server.base_url
        result = _result("2025-07", base, raw_text_url=None)
        server.routes.update(
            {
                API_PATH: _paged_api({1: _page([result])}),
                "/documents/full_text/html/2025/03/25/2025-07.html": respond(
                    200, html, content_type="text/html; charset=utf-8"
                ),
            }
        )
        report = _fetch(session_factory, _source(base)).sources[0]
    assert (report.status, report.stored) == ("ok", 1)
    article = _stored(session_factory)["2025-07"]
    assert "license is required" in article.text and "<p>" not in article.text
    assert article.title == "Document 2025-07"  # the API's title, not the page's


def test_the_second_run_is_not_modified(session_factory: sessionmaker[Session]) -> None:
    """The first page's ETag comes back as If-None-Match; a 304 means nothing to read."""
    etag = '"page-1"'
    with serve({}) as server:
        base = server.base_url
        body = _page([_result("2025-01", base)])

        def api(handler: Handler) -> None:
            if handler.headers.get("If-None-Match") == etag:
                handler.send(304, b"", {"ETag": etag})
            else:
                handler.send(200, body, {"ETag": etag, "Content-Type": "application/json"})

        server.routes.update({API_PATH: api, **_texts(["2025-01"])})
        first = _fetch(session_factory, _source(base)).sources[0]
        second = _fetch(session_factory, _source(base)).sources[0]
        api_requests = [r for r in server.requests if r.path.startswith(API_PATH)]
    assert (first.status, first.stored) == ("ok", 1)
    assert (second.status, second.stored) == ("not_modified", 0)
    assert "if-none-match" not in api_requests[0].headers
    assert api_requests[1].headers["if-none-match"] == etag


# ------------------------------------------------------------ facts on events


def _facts(number: str, kind: str, **fields: Any) -> DocumentFacts:
    return DocumentFacts(
        document_number=number,
        document_type=kind,
        publication_date=fields.pop("publication_date", date(2025, 3, 25)),
        agencies=fields.pop("agencies", BIS),
        **fields,
    )


def _record(
    actor: str | None, measure: str, sentence: str, start: int = 0, **fields: Any
) -> EventRecord:
    mention = EventMention(sentence, start, start + len(sentence), "rule", "asserted", 0.8)
    values: dict[str, Any] = {
        "actor": actor,
        "actor_body": None,
        "action": "impose",
        "measure": measure,
        "elements": (),
        "target": None,
        "target_count": None,
        "target_unit": None,
        "quantities": (),
        "dates": (),
        "mentions": (mention,),
    }
    return EventRecord(**{**values, **fields})


def _annotation(*events: EventRecord) -> Annotation:
    return Annotation("1", bool(events), (), (), (), tuple(events))


def test_the_documents_own_events_take_the_facts_and_others_keep_theirs() -> None:
    """An event of no one or of the US gets the body, instrument and dates; China's act and a US
    act the text dates a year earlier are left as read."""
    facts = _facts(
        "2025-13710",
        "NOTICE",
        publication_date=date(2025, 7, 22),
        effective_on=date(2025, 7, 23),
        agencies=("commerce-department", "international-trade-administration"),
    )
    own = _record(None, "import_tariff", "Commerce imposes duties.", target="CN")
    chinese = _record("CN", "export_control", "China controls graphite.", 30)
    earlier = _record(
        "US", "investigation", "Commerce opened it.", 60,
        dates=(DateTag(date(2024, 7, 1), "announced", "July 1, 2024"),),
    )  # fmt: skip
    article = ArticleText("1", "text", facts=facts)
    found = apply_facts(_annotation(own, chinese, earlier), article, load_vocabulary())
    stamped, kept_chinese, kept_earlier = found.events
    assert (stamped.actor, stamped.actor_body, stamped.instrument) == (
        "US",
        "ITA",
        "FR Doc. 2025-13710",
    )
    assert stamped.date_of("announced") == date(2025, 7, 22)
    assert stamped.date_of("effective") == date(2025, 7, 23)
    assert (kept_chinese, kept_earlier) == (chinese, earlier)


def test_a_presidential_document_is_announced_on_its_signing_day() -> None:
    """An executive order published three days after it was signed was made public when signed."""
    facts = _facts(
        "2025-06835",
        "PRESDOCU",
        publication_date=date(2025, 4, 18),
        signing_date=date(2025, 4, 15),
        agencies=("executive-office-of-the-president",),
    )
    event = _record("US", "investigation", "The Secretary shall initiate an investigation.")
    found = apply_facts(_annotation(event), ArticleText("1", "t", facts=facts), load_vocabulary())
    assert found.events[0].date_of("announced") == date(2025, 4, 15)
    assert found.events[0].actor_body == "US President"


def test_a_proposed_rule_threatens() -> None:
    """Every act of a proposed rule is a threat, its evidence threatened."""
    facts = _facts("2025-15873", "PRORULE", publication_date=date(2025, 8, 20))
    event = _record(None, "export_control", "BIS imposes export controls on technology.")
    found = apply_facts(_annotation(event), ArticleText("1", "t", facts=facts), load_vocabulary())
    [threat] = found.events
    assert (threat.actor, threat.action, threat.mentions[0].modality) == (
        "US",
        "threaten",
        "threatened",
    )


def test_an_entity_list_rule_lists_each_destination_with_its_count() -> None:
    """With no event read, the rule's destinations still become one listing each, with evidence."""
    text = ENTITY_LIST_TEXT.read_text(encoding="utf-8")
    page = plain_text_page(text.encode(), "https://x/t.txt")
    facts = _facts("2025-05083", "RULE", effective_on=date(2025, 3, 25),
                   cfr_references=(CfrReference(15, 744),))  # fmt: skip
    article = ArticleText("1", page.text, facts=facts)
    found = apply_facts(_annotation(), article, load_vocabulary())
    listed = {(e.target, e.target_count, e.target_unit) for e in found.events}
    assert listed == {("CN", 54, "entities"), ("IR", 4, "entities"), ("ZA", 1, "entities"),
                      ("TW", 12, "entities"), ("AE", 9, "entities")}  # fmt: skip
    assert found.on_topic
    for event in found.events:
        assert (event.actor, event.actor_body, event.action, event.measure) == (
            "US", "BIS", "impose", "entity_listing",
        )  # fmt: skip
        [mention] = event.mentions
        assert page.text[mention.start : mention.end] == mention.sentence
    openings = {e.target: e.mentions[0].sentence.split(",")[0] for e in found.events}
    assert openings == {
        "CN": "Under the destination of China",
        "IR": "Under the destination of Iran",
        "ZA": "Under the destination of South Africa",
        "TW": "Under the destination of Taiwan",  # its sentence names China too
        "AE": "Under the destination of the United Arab Emirates",
    }
    without_part = replace(facts, cfr_references=())
    vocabulary = load_vocabulary()
    assert not entity_list_destinations(page.text, without_part, vocabulary, _words())
    assert not entity_list_destinations(
        page.text, replace(facts, document_type="PRORULE"), vocabulary, _words()
    )


def test_a_destination_listed_without_its_own_sentence_points_at_the_list() -> None:
    """The entry "Iran (4)" is the evidence when no sentence adds entities under Iran alone."""
    text = (
        "SUMMARY: This rule amends the EAR by adding 7 entities to the Entity List under the "
        "destinations of China, People's Republic of (3), and Iran (4)."
    )
    facts = _facts("2025-1", "RULE", cfr_references=(CfrReference(15, 744),))
    found = entity_list_destinations(text, facts, load_vocabulary(), _words())
    assert [(d.code, d.count) for d in found] == [("CN", 3), ("IR", 4)]
    iran = found[1].evidence
    assert text[iran.start : iran.end] == "Iran (4)"
    assert iran.sentence == text


def _words() -> Any:
    from models.vocabulary.register import load_register_words

    return load_register_words().entity_list


def test_facts_reach_the_events_of_a_real_store(
    session_factory: sessionmaker[Session], extractor: Extractor
) -> None:
    """Fetched, stored and extracted: the Entity List rule gives one event per country with its
    count, instrument and dates; the proposed rule gives a threat."""
    with serve({}) as server:
        base = server.base_url
        entity_list = _result(
            "2025-05083",
            base,
            effective_on="2025-03-25",
            cfr_references=[{"title": 15, "part": 744, "chapter": None, "citation_url": None}],
        )
        proposed = _result(
            "2025-15873",
            base,
            type="Proposed Rule",
            publication_date="2025-08-20",
            action="Proposed rule.",
        )
        server.routes.update(
            {
                API_PATH: _paged_api({1: _page([proposed, entity_list])}),
                "/documents/full_text/text/2025/03/25/2025-05083.txt": respond(
                    200, ENTITY_LIST_TEXT.read_bytes(), content_type="text/plain; charset=utf-8"
                ),
                "/documents/full_text/text/2025/08/20/2025-15873.txt": respond(
                    200, PROPOSED_RULE_TEXT.read_bytes(), content_type="text/plain; charset=utf-8"
                ),
            }
        )
        assert _fetch(session_factory, _source(base)).sources[0].stored == 2
    extract_pending(session_factory, extractor)
    columns = (
        Mention.target, Mention.target_count, Mention.target_unit, Mention.instrument,
        Mention.announced_on, Mention.effective_on, Event.actor, Event.actor_body, Event.action,
        Mention.modality,
    )  # fmt: skip
    with unit_of_work(session_factory) as session:
        of_document = (
            select(*columns)
            .join(Event, Event.id == Mention.event_id)
            .join(Article, Article.id == Mention.article_id)
        )
        listings = session.execute(
            of_document.where(Article.guid == "2025-05083", Event.measure == "entity_listing")
        ).all()
        threats = session.execute(
            of_document.where(Article.guid == "2025-15873", Event.measure == "export_control")
        ).all()
    assert sorted((row.target, row.target_count) for row in listings) == [
        ("AE", 9), ("CN", 54), ("IR", 4), ("TW", 12), ("ZA", 1),
    ]  # fmt: skip
    for row in listings:
        assert tuple(row)[2:] == (
            "entities", "FR Doc. 2025-05083", date(2025, 3, 25), date(2025, 3, 25),
            "US", "BIS", "impose", "asserted",
        )  # fmt: skip
    ours = [row for row in threats if row.actor == "US"]
    assert ours
    assert {(r.action, r.modality, r.instrument, r.announced_on) for r in ours} == {
        ("threaten", "threatened", "FR Doc. 2025-15873", date(2025, 8, 20))
    }


# ------------------------------------------------------------------ migration


def test_the_facts_column_comes_and_goes_with_its_migration(database_url: str) -> None:
    """0020 adds `articles.facts` to a store holding rows, and takes it away again."""
    engine = engine_for(database_url)
    upgrade(engine, "0019")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO articles (url, title, text, content_hash, text_extractor, "
                "extraction_status) VALUES ('https://a.example/1', 't', 'x', 'h', 'feed', 'pending')"
            )
        )
    upgrade(engine)
    assert "facts" in {c["name"] for c in inspect(engine).get_columns("articles")}
    facts = _facts("2025-1", "RULE").to_json()
    with unit_of_work(make_session_factory(engine)) as session:
        article = session.scalars(select(Article)).one()
        assert article.facts is None
        article.facts = facts
    with unit_of_work(make_session_factory(engine)) as session:
        assert session.scalars(select(Article.facts)).one() == facts
    downgrade(engine, "0019")
    assert current_revision(engine) == "0019"
    assert "facts" not in {c["name"] for c in inspect(engine).get_columns("articles")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT url FROM articles")).scalars().all() == [
            "https://a.example/1"
        ]
    upgrade(engine)
    assert current_revision(engine) == "0020"
