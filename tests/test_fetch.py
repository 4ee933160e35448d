"""The fetch layer against real, deliberately misbehaving servers on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx
import pytest

from models.fetched import FetchOutcome, FetchResult
from models.source import ArticleSelectors
from pipeline.config.settings import HttpSettings
from pipeline.fetching.http import (
    DECODE_STEP,
    BoundedInflater,
    HostPacer,
    build_client,
    fetch,
    fetching_for,
    parse_retry_after,
)
from pipeline.fetching.network import is_refused_address
from pipeline.fetching.pages import extract_page
from tests.servers import (
    Behaviour,
    Handler,
    LoopbackHTTPServer,
    basic_auth,
    brotli_bomb,
    brotli_bomb_body,
    endless,
    gzip_bomb,
    gzip_bomb_body,
    hang_up,
    record_connections,
    redirect,
    redirect_chain,
    respond,
    serve,
    slow,
    stacked_gzip_bomb,
    stacked_gzip_bomb_body,
    trickle,
    trickled_headers,
    truncated,
    with_etag,
    with_last_modified,
)

SETTINGS = HttpSettings(
    user_agent="newstrack-tests/1.0 (+https://example.org/bot)",
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_body_bytes=1_000_000,
    max_redirects=5,
    retries=0,  # retries have their own tests below
)
# Short limits keep timeout tests fast; the trickle's 0.1 s gaps stay well inside read_timeout.
FAST = HttpSettings(
    user_agent=SETTINGS.user_agent,
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=1.5,
    retries=0,
)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
CAFE_PAGE = "<html><body><article><p>Le café coûte 2 € à Montréal.</p></article></body></html>"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """A client with the test settings, shared by the module (it keeps no state we use)."""
    with build_client(SETTINGS) as http:
        yield http


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts sockets are asked for, recorded; only loopback ones are really connected to."""
    return record_connections(monkeypatch)


@pytest.fixture(scope="module")
def fast_client() -> Iterator[httpx.Client]:
    """A client with half-second timeouts."""
    with build_client(FAST) as http:
        yield http


def _fetch_one(
    client: httpx.Client, behaviour: Behaviour, settings: HttpSettings = SETTINGS
) -> FetchResult:
    with serve({"/r": behaviour}) as server:
        return fetch(client, server.url("/r"), settings)


def test_success_returns_body_status_and_headers(client: httpx.Client) -> None:
    """A plain 200 is SUCCESS with the body, status and lower-cased headers."""
    with serve({"/feed": respond(200, FEED, {"X-Extra": "yes"}, "application/rss+xml")}) as server:
        result = fetch(client, server.url("/feed"), SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.ok
    assert result.status_code == 200
    assert result.body == FEED
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["x-extra"] == "yes"
    assert result.error is None
    assert result.url == result.final_url == server.url("/feed")


def test_user_agent_and_host_are_sent(client: httpx.Client) -> None:
    """Each request carries newstrack's User-Agent and the server's Host."""
    with serve({"/feed": respond(200, FEED)}) as server:
        fetch(client, server.url("/feed"), SETTINGS)
    (request,) = server.requests
    assert request.method == "GET"
    assert request.path == "/feed"
    assert request.headers["user-agent"] == SETTINGS.user_agent
    assert request.headers["host"] == f"127.0.0.1:{server.server_address[1]}"
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers


def test_etag_conditional_get_is_not_modified(client: httpx.Client) -> None:
    """A second fetch with the ETag sends If-None-Match and gets NOT_MODIFIED."""
    with serve({"/feed": with_etag('"v1"', FEED)}) as server:
        first = fetch(client, server.url("/feed"), SETTINGS)
        second = fetch(client, server.url("/feed"), SETTINGS, etag=first.etag)
    assert first.outcome is FetchOutcome.SUCCESS
    assert first.etag == '"v1"'
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert second.status_code == 304
    assert second.body == b""
    assert not second.ok
    assert server.requests[1].headers["if-none-match"] == '"v1"'


def test_stale_etag_gets_the_new_body(client: httpx.Client) -> None:
    """An ETag the server no longer has yields SUCCESS with the new body and ETag."""
    with serve({"/feed": with_etag('"v2"', FEED)}) as server:
        result = fetch(client, server.url("/feed"), SETTINGS, etag='"v1"')
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == FEED
    assert result.etag == '"v2"'


def test_last_modified_conditional_get_is_not_modified(client: httpx.Client) -> None:
    """A second fetch with Last-Modified sends If-Modified-Since and gets NOT_MODIFIED."""
    with serve({"/feed": with_last_modified(1_700_000_000, FEED)}) as server:
        first = fetch(client, server.url("/feed"), SETTINGS)
        second = fetch(client, server.url("/feed"), SETTINGS, last_modified=first.last_modified)
    assert first.outcome is FetchOutcome.SUCCESS
    assert first.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert second.status_code == 304
    assert server.requests[1].headers["if-modified-since"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_redirect_is_followed_and_final_url_kept(client: httpx.Client) -> None:
    """An absolute redirect is followed; final_url is where the body came from."""
    with serve({"/old": redirect("/new", 301), "/new": respond(200, b"moved here")}) as server:
        result = fetch(client, server.url("/old"), SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == b"moved here"
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new")
    assert server.paths() == ["/old", "/new"]


def test_relative_redirect_is_resolved(client: httpx.Client) -> None:
    """A Location relative to the current URL ("../b/page") is resolved against it."""
    routes = {"/a/x/start": redirect("../b/page"), "/a/b/page": respond(200, b"relative ok")}
    with serve(routes) as server:
        result = fetch(client, server.url("/a/x/start"), SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == b"relative ok"
    assert result.final_url == server.url("/a/b/page")


def test_conditional_headers_follow_redirects(client: httpx.Client) -> None:
    """If-None-Match is sent again to the redirect target, which can answer 304."""
    with serve({"/old": redirect("/feed"), "/feed": with_etag('"v1"', FEED)}) as server:
        result = fetch(client, server.url("/old"), SETTINGS, etag='"v1"')
    assert result.outcome is FetchOutcome.NOT_MODIFIED
    assert result.final_url == server.url("/feed")
    assert [r.headers.get("if-none-match") for r in server.requests] == ['"v1"', '"v1"']


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/feed", "file:///etc/passwd"])
def test_redirect_to_non_http_scheme_is_refused(client: httpx.Client, location: str) -> None:
    """A redirect to a non-http(s) scheme is HARD and is not followed."""
    with serve({"/r": redirect(location)}) as server:
        result = fetch(client, server.url("/r"), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == f"refusing non-http URL {location}"
    assert result.final_url == location
    assert server.paths() == ["/r"]


def test_redirect_to_javascript_is_hard(client: httpx.Client) -> None:
    """A redirect to javascript: (which httpx cannot even parse as a target) is HARD."""
    with serve({"/r": redirect("javascript:alert(1)")}) as server:
        result = fetch(client, server.url("/r"), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error is not None
    assert result.error.startswith(("refusing non-http URL", "invalid URL"))
    assert server.paths() == ["/r"]


def test_redirect_loop_is_hard(client: httpx.Client) -> None:
    """a → b → a is detected as a loop, without using up the redirect budget."""
    with serve({"/a": redirect("/b"), "/b": redirect("/a")}) as server:
        result = fetch(client, server.url("/a"), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == f"redirect loop at {server.url('/a')}"
    assert result.status_code == 302
    assert server.paths() == ["/a", "/b"]


def test_too_many_redirects_is_hard(client: httpx.Client) -> None:
    """A chain of 10 redirects stops after max_redirects hops with a HARD outcome."""
    with serve(redirect_chain("/hop", 10, respond(200, b"end"))) as server:
        result = fetch(client, server.url("/hop/0"), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == "more than 5 redirects"
    assert len(server.requests) == SETTINGS.max_redirects + 1
    assert "/hop/10" not in server.paths()


def test_redirects_up_to_the_limit_are_followed(client: httpx.Client) -> None:
    """Exactly max_redirects redirects still reach the final page."""
    with serve(redirect_chain("/hop", SETTINGS.max_redirects, respond(200, b"end"))) as server:
        result = fetch(client, server.url("/hop/0"), SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == b"end"
    assert result.final_url == server.url(f"/hop/{SETTINGS.max_redirects}")


def test_redirect_without_location_is_hard(client: httpx.Client) -> None:
    """A 302 without Location is HARD, not a SUCCESS carrying the redirect page's body."""
    result_routes = {"/r": respond(302, b"<html>moved, somewhere</html>", content_type="text/html")}
    with serve(result_routes) as server:
        result = fetch(client, server.url("/r"), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.status_code == 302
    assert result.error == "redirect without Location"
    assert result.body == b""


def test_redirect_to_unparseable_url_is_a_failure(client: httpx.Client) -> None:
    """A Location that is not a URL ("http://[::1") is a classified failure, never an exception."""
    with serve({"/r": redirect("http://[::1")}) as server:
        result = fetch(client, server.url("/r"), SETTINGS)
    assert result.outcome in (FetchOutcome.TEMPORARY, FetchOutcome.HARD)
    assert result.error is not None
    assert "location header" in result.error.lower() or result.error.startswith("invalid URL")
    assert server.paths() == ["/r"]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, FetchOutcome.TEMPORARY),
        (503, FetchOutcome.TEMPORARY),
        (404, FetchOutcome.HARD),
        (410, FetchOutcome.HARD),
        (403, FetchOutcome.SOFT),
        (401, FetchOutcome.SOFT),
        (400, FetchOutcome.SOFT),
    ],
)
def test_error_statuses_are_classified(
    client: httpx.Client, status: int, outcome: FetchOutcome
) -> None:
    """Each error status maps to its outcome class, with "HTTP <status>" and no body."""
    result = _fetch_one(client, respond(status, b"error page"))
    assert result.outcome is outcome
    assert result.status_code == status
    assert result.error == f"HTTP {status}"
    assert result.body == b""


def test_429_is_temporary_and_keeps_retry_after(client: httpx.Client) -> None:
    """429 is TEMPORARY and its Retry-After header is kept for backoff."""
    result = _fetch_one(client, respond(429, b"slow down", {"Retry-After": "120"}))
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.status_code == 429
    assert result.error == "HTTP 429"
    assert result.headers["retry-after"] == "120"


def test_gzip_bomb_is_stopped_by_the_size_cap(client: httpx.Client) -> None:
    """A 50 KB gzip body that inflates to 50 MB is HARD under a 1 MB cap."""
    assert len(gzip_bomb_body()) < 100_000  # the bomb really is small on the wire
    result = _fetch_one(client, gzip_bomb())
    assert result.outcome is FetchOutcome.HARD
    assert result.error == f"body larger than {SETTINGS.max_body_bytes} bytes"
    assert result.body == b""


def test_endless_body_is_stopped_by_the_size_cap(client: httpx.Client) -> None:
    """A body without a length that never ends is cut at the cap and classed hard."""
    result = _fetch_one(client, endless(), SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == f"body larger than {SETTINGS.max_body_bytes} bytes"


def test_gzip_body_under_the_cap_is_decoded(client: httpx.Client) -> None:
    """A gzip body within the cap arrives inflated, so the cap counts decoded bytes."""
    result = _fetch_one(client, gzip_bomb(200_000))
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == b"\0" * 200_000


def test_declared_length_over_the_cap_is_hard(client: httpx.Client) -> None:
    """A plain body larger than max_body_bytes is HARD."""
    settings = HttpSettings(user_agent=SETTINGS.user_agent, max_body_bytes=1000, retries=0)
    result = _fetch_one(client, respond(200, b"x" * 5000), settings)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == "body larger than 1000 bytes"


def test_body_at_the_cap_is_accepted(client: httpx.Client) -> None:
    """A body of exactly max_body_bytes is still SUCCESS."""
    settings = HttpSettings(user_agent=SETTINGS.user_agent, max_body_bytes=1000, retries=0)
    result = _fetch_one(client, respond(200, b"x" * 1000), settings)
    assert result.outcome is FetchOutcome.SUCCESS
    assert len(result.body) == 1000


def test_slow_headers_time_out_as_temporary(fast_client: httpx.Client) -> None:
    """A server silent for longer than read_timeout gives TEMPORARY with a timeout error."""
    result = _fetch_one(fast_client, slow(4.0, respond(200, b"too late")), FAST)
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error == "timeout: ReadTimeout"
    assert result.status_code is None
    assert result.body == b""


def test_trickled_body_past_total_timeout_is_temporary(fast_client: httpx.Client) -> None:
    """A body that keeps trickling within read_timeout is cut at total_timeout."""
    result = _fetch_one(
        fast_client, trickle(b"x" * 2000, chunk_size=10, pause=0.1, limit=4.0), FAST
    )
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error == "took longer than 1.5 s"
    assert result.body == b""


def test_short_trickle_completes(fast_client: httpx.Client) -> None:
    """A trickled body that ends in time arrives whole."""
    body = b"abcdefghij" * 5
    result = _fetch_one(fast_client, trickle(body, chunk_size=10, pause=0.02), FAST)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == body


def test_truncated_body_is_temporary(client: httpx.Client) -> None:
    """A body shorter than its Content-Length is TEMPORARY, never a partial SUCCESS."""
    result = _fetch_one(client, truncated(b"<html><body>half of it", declared=10_000))
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error is not None
    assert result.error.startswith("RemoteProtocolError")
    assert result.body == b""


def test_connection_closed_without_response_is_temporary(client: httpx.Client) -> None:
    """A server that hangs up without answering gives TEMPORARY and names the problem."""
    result = _fetch_one(client, hang_up())
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("RemoteProtocolError")
    assert "disconnected" in result.error


def test_refused_connection_is_temporary(client: httpx.Client) -> None:
    """Nothing listening on the port gives TEMPORARY with a ConnectError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(client, f"http://127.0.0.1:{port}/feed", SETTINGS)
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error is not None
    assert result.error.startswith("ConnectError")


def test_undecodable_gzip_is_temporary(client: httpx.Client) -> None:
    """A body that claims gzip but is not gzip gives TEMPORARY, not an exception."""
    result = _fetch_one(client, respond(200, b"this is not gzip", {"Content-Encoding": "gzip"}))
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error is not None
    assert result.error.startswith("undecodable body")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed", "mailto:news@example.org", "feed.xml"])
def test_non_http_start_url_is_hard(client: httpx.Client, url: str) -> None:
    """A start URL that is not http(s) is refused without a request."""
    result = fetch(client, url, SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error == f"refusing non-http URL {url}"


@pytest.mark.parametrize("url", ["http:///feed", "http://[::1/feed", "http://256.1.1.1/feed"])
def test_malformed_start_url_is_hard(client: httpx.Client, url: str) -> None:
    """A malformed http URL is a HARD "invalid URL", never an exception or a retry."""
    result = fetch(client, url, SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error is not None
    assert result.error.startswith("invalid URL")


def test_header_declared_latin1_body_reaches_the_parser_intact(client: httpx.Client) -> None:
    """A windows-1252 body declared only in Content-Type is kept as bytes and decodes right."""
    body = CAFE_PAGE.encode("windows-1252")
    with serve({"/p": respond(200, body, content_type="text/html; charset=windows-1252")}) as srv:
        result = fetch(client, srv.url("/p"), SETTINGS)
    assert result.body == body
    page = extract_page(result.body, result.final_url, ArticleSelectors(), result.headers)
    assert page.text == "Le café coûte 2 € à Montréal."


def test_iso_8859_1_declared_body_decodes(client: httpx.Client) -> None:
    """An ISO-8859-1 body declared in Content-Type decodes "é" right."""
    body = "<html><body><p>Résumé de la décision.</p></body></html>".encode("iso-8859-1")
    with serve({"/p": respond(200, body, content_type="text/html; charset=ISO-8859-1")}) as srv:
        result = fetch(client, srv.url("/p"), SETTINGS)
    page = extract_page(result.body, result.final_url, ArticleSelectors(), result.headers)
    assert page.text == "Résumé de la décision."


def test_wrong_charset_header_does_not_garble_text(client: httpx.Client) -> None:
    """Latin-1 bytes served as utf-8 are not turned into replacement characters."""
    body = CAFE_PAGE.replace("€", "EUR").encode("latin-1")
    with serve({"/p": respond(200, body, content_type="text/html; charset=utf-8")}) as srv:
        result = fetch(client, srv.url("/p"), SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    page = extract_page(result.body, result.final_url, ArticleSelectors(), result.headers)
    assert "\ufffd" not in page.text
    assert page.text == "Le café coûte 2 EUR à Montréal."


def test_server_budget_and_recording_are_per_server() -> None:
    """The loopback server records only its own requests and stops answering past its budget."""
    with (
        serve({"/x": respond(200, b"x")}, max_requests=2) as server,
        build_client(SETTINGS) as http,
    ):
        outcomes = [fetch(http, server.url("/x"), SETTINGS).outcome for _ in range(3)]
    assert outcomes == [FetchOutcome.SUCCESS, FetchOutcome.SUCCESS, FetchOutcome.TEMPORARY]
    assert isinstance(server, LoopbackHTTPServer)
    assert server.paths() == ["/x", "/x"]


def _failing(
    times: int, status: int, then: Behaviour, headers: dict[str, str] | None = None
) -> Behaviour:
    """`status` for the first `times` requests, then the given behaviour."""
    calls = {"count": 0}

    def behave(handler: Handler) -> None:
        calls["count"] += 1
        if calls["count"] <= times:
            handler.send(status, b"not now", {"Content-Type": "text/plain", **(headers or {})})
        else:
            then(handler)

    return behave


RETRYING = replace(SETTINGS, retries=2, backoff=0.5)


def test_temporary_failures_are_retried_with_growing_backoff(client: httpx.Client) -> None:
    """Two 503s then a 200: three requests, and waits that double (with jitter above each)."""
    waits: list[float] = []
    with serve({"/f": _failing(2, 503, respond(200, FEED))}) as server:
        result = fetch(client, server.url("/f"), RETRYING, sleep=waits.append)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.attempts == 3
    assert server.paths() == ["/f", "/f", "/f"]
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 0.75
    assert 1.0 <= waits[1] <= 1.5


def test_retry_after_is_honoured(client: httpx.Client) -> None:
    """A 429 with Retry-After: 7 waits at least 7 s (here on a recorded clock) before retrying."""
    waits: list[float] = []
    behaviour = _failing(1, 429, respond(200, FEED), {"Retry-After": "7"})
    with serve({"/f": behaviour}) as server:
        result = fetch(client, server.url("/f"), RETRYING, sleep=waits.append)
    assert result.outcome is FetchOutcome.SUCCESS
    assert 7 <= waits[0] <= 10.5


def test_retry_after_beyond_the_cap_is_not_waited_for(client: httpx.Client) -> None:
    """A Retry-After of an hour ends the fetch as temporary instead of blocking the run."""
    waits: list[float] = []
    behaviour = _failing(5, 503, respond(200, FEED), {"Retry-After": "3600"})
    with serve({"/f": behaviour}) as server:
        result = fetch(client, server.url("/f"), RETRYING, sleep=waits.append)
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.attempts == 1
    assert waits == []
    assert result.headers["retry-after"] == "3600"


@pytest.mark.parametrize(("status", "requests"), [(404, 1), (403, 1), (408, 3), (500, 3)])
def test_only_temporary_statuses_are_retried(
    client: httpx.Client, status: int, requests: int
) -> None:
    """404 and 403 are final; 408 and 500 are tried again up to the retry limit."""
    with serve({"/f": respond(status, b"no")}) as server:
        result = fetch(client, server.url("/f"), RETRYING, sleep=lambda _: None)
    assert len(server.paths()) == requests
    assert result.attempts == requests


def test_parse_retry_after_reads_seconds_and_dates() -> None:
    """Retry-After is seconds or an HTTP date; nonsense is ignored."""
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 May 2025 12:00:30 GMT", now) == 30
    assert parse_retry_after("Thu, 01 May 2025 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_pacer_spaces_requests_to_one_host_only() -> None:
    """The second request to a host waits the interval; another host does not wait."""
    clock = {"now": 100.0}
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock["now"] += seconds

    pacer = HostPacer(max_per_host=2, min_interval=3.0, clock=lambda: clock["now"], sleep=sleep)
    with pacer.slot("https://a.example/1"):
        pass
    with pacer.slot("https://b.example/1"):
        pass
    with pacer.slot("https://A.example/2"):
        pass
    assert waits == [3.0]
    clock["now"] += 10
    with pacer.slot("https://a.example/3"):
        pass
    assert waits == [3.0]


def test_pacer_limits_requests_in_flight_per_host() -> None:
    """With one slot per host, a second request to the host waits until the first is done."""
    pacer = HostPacer(max_per_host=1, min_interval=0)
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with pacer.slot("https://a.example/1"):
            order.append("first in")
            inside.set()
            release.wait(5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    second = threading.Thread(target=lambda: _enter(pacer, order))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # blocked by the first request's slot
    release.set()
    thread.join(5)
    second.join(5)
    assert order == ["first in", "first out", "second in"]


def _enter(pacer: HostPacer, order: list[str]) -> None:
    with pacer.slot("https://a.example/2"):
        order.append("second in")


def test_redirect_to_a_private_address_is_refused(
    client: httpx.Client, connections: list[str]
) -> None:
    """A redirect to a private address is refused before connecting; loopback stays loopback."""
    with serve({"/feed": respond(200, FEED)}) as server:
        port = server.server_address[1]
        routes = {
            "/private": redirect("http://10.0.0.1/feed"),
            "/local": redirect(f"http://localhost:{port}/feed"),
        }
        with serve(routes) as origin:
            refused = fetch(client, origin.url("/private"), SETTINGS)
            allowed = fetch(client, origin.url("/local"), SETTINGS)
        assert server.paths() == ["/feed"]
    assert refused.outcome is FetchOutcome.HARD
    assert refused.error == ("refusing http://10.0.0.1/feed: 10.0.0.1 is not a public address")
    assert "10.0.0.1" not in connections
    assert allowed.outcome is FetchOutcome.SUCCESS


def test_slow_headers_are_bounded_by_the_total_time(client: httpx.Client) -> None:
    """Headers that arrive after the total time limit end the fetch, however long reads may be."""
    settings = replace(SETTINGS, read_timeout=10.0, total_timeout=0.5)
    with serve({"/f": slow(2.0, respond(200, FEED))}) as server:
        result = fetch(client, server.url("/f"), settings)
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error == "took longer than 0.5 s"


def test_waiting_for_a_busy_host_does_not_use_up_the_total_time(client: httpx.Client) -> None:
    """A request queued behind a slow one on the same host starts its clock when its turn comes."""
    pacer = HostPacer(max_per_host=1, min_interval=0)
    settings = replace(SETTINGS, read_timeout=3.0, total_timeout=1.0)
    routes = {"/slow": slow(1.5, respond(200, FEED)), "/fast": respond(200, FEED)}
    with serve(routes) as server:
        first: list[FetchResult] = []
        relaxed = replace(settings, total_timeout=4.0)
        thread = threading.Thread(
            target=lambda: first.append(fetch(client, server.url("/slow"), relaxed, pacer=pacer))
        )
        thread.start()
        for _ in range(500):  # until the slow request holds the host's only slot
            if server.paths():
                break
            threading.Event().wait(0.01)
        second = fetch(client, server.url("/fast"), settings, pacer=pacer)
        thread.join(10)
    assert first[0].outcome is FetchOutcome.SUCCESS
    assert second.outcome is FetchOutcome.SUCCESS


def test_crawl_delay_slows_one_host_only() -> None:
    """After slow_down, a host's requests are spaced by its own delay; others keep the default."""
    clock = {"now": 0.0}
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock["now"] += seconds

    pacer = HostPacer(max_per_host=2, min_interval=1.0, clock=lambda: clock["now"], sleep=sleep)
    pacer.slow_down("https://slow.example/robots.txt", 10.0)
    for url in ("https://slow.example/1", "https://slow.example/2", "https://b.example/1"):
        with pacer.slot(url):
            pass
    with pacer.slot("https://b.example/2"):
        pass
    assert waits == [10.0, 1.0]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # cloud metadata
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "192.0.2.7",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "fc00::1",  # unique local
        "fe80::1%eth0",  # link-local with a zone
        "ff02::1",  # multicast
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:db8::1",  # documentation
        "not an address",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    """Anything not globally routable is refused, however it is written."""
    assert is_refused_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::6810:85e5", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    """Globally routable addresses may be reached."""
    assert not is_refused_address(address)
    assert not is_refused_address(address, allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("10.0.0.1", True),
        ("100.64.0.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("fc00::1", True),
    ],
)
def test_loopback_allowance_covers_loopback_only(address: str, refused: bool) -> None:
    """Allowing loopback allows 127.0.0.0/8 and ::1 (however written), no other private range."""
    assert is_refused_address(address, allow_loopback=True) is refused


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/news/a",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fc00::1]:8080/",
        "http://0.0.0.0:6379/",
        "http://[::ffff:10.0.0.1]/",
    ],
)
def test_private_addresses_are_refused_before_connecting(
    client: httpx.Client, connections: list[str], url: str
) -> None:
    """A first request to a private address fails hard, naming it, and opens no socket."""
    result = fetch(client, url, SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.error is not None
    assert result.error.startswith(f"refusing {url}: ")
    assert "is not a public address" in result.error
    assert connections == []


def test_loopback_is_refused_for_a_source_that_is_not_loopback(
    client: httpx.Client, connections: list[str]
) -> None:
    """Links of a public source to loopback are refused, by address or by name."""
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    with (
        serve({"/secret": respond(200, b"internal")}) as server,
        build_client(SETTINGS, resolver=resolver) as named,
    ):
        port = server.server_address[1]
        with fetching_for(["https://news.example/feed"]):
            by_address = fetch(client, server.url("/secret"), SETTINGS)
            protocol_relative = fetch(
                client, urljoin("https://news.example/feed", f"//localhost:{port}/secret"), SETTINGS
            )
        by_name = fetch(named, f"http://intranet.example:{port}/secret", SETTINGS)
        assert server.paths() == []
    assert [r.outcome for r in (by_address, protocol_relative, by_name)] == [FetchOutcome.HARD] * 3
    assert by_name.error == (
        f"refusing http://intranet.example:{port}/secret: "
        "intranet.example is at 127.0.0.1, which is not a public address"
    )
    assert resolved == ["intranet.example"]
    assert connections == []


def test_a_connection_pool_loads_the_certificate_authorities_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CA bundle takes hundredths of a second to load: one SSL context per pool, not two."""
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    with (
        serve({"/feed": respond(200, FEED)}) as server,
        build_client(SETTINGS) as client,
        fetching_for([server.url("/")]),
    ):
        first = fetch(client, server.url("/feed"), SETTINGS)
        second = fetch(client, server.url("/feed"), SETTINGS)
    assert (first.outcome, second.outcome) == (FetchOutcome.SUCCESS, FetchOutcome.SUCCESS)
    assert len(loads) == 1


def test_the_connection_goes_to_the_address_checked(
    connections: list[str],
) -> None:
    """DNS rebinding: a second, different answer is never asked for; the checked address is used."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    with (
        serve({"/feed": respond(200, FEED)}) as server,
        build_client(SETTINGS, resolver=rebinding) as rebound,
    ):
        port = server.server_address[1]
        with fetching_for([server.url("/")]):  # a loopback source: loopback is allowed
            result = fetch(rebound, f"http://rebind.example:{port}/feed", SETTINGS)
        assert server.requests[0].headers["host"] == f"rebind.example:{port}"
    assert result.outcome is FetchOutcome.SUCCESS
    assert asked == ["rebind.example"]
    assert connections == ["127.0.0.1"]


def test_a_rebound_answer_is_refused(connections: list[str]) -> None:
    """A host whose answer turns private on a later lookup is refused on that lookup."""
    answers = iter([["127.0.0.1"], ["127.0.0.1", "10.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    with serve({"/a": respond(200, FEED), "/b": respond(200, FEED)}) as server:
        port = server.server_address[1]
        with fetching_for([server.url("/")]), build_client(SETTINGS, resolver=rebinding) as one:
            first = fetch(one, f"http://rebind.example:{port}/a", SETTINGS)
        with fetching_for([server.url("/")]), build_client(SETTINGS, resolver=rebinding) as two:
            second = fetch(two, f"http://rebind.example:{port}/b", SETTINGS)
    assert first.outcome is FetchOutcome.SUCCESS
    assert second.outcome is FetchOutcome.HARD
    assert second.error is not None and "rebind.example is at 10.0.0.1" in second.error
    assert connections == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (brotli_bomb(), "refusing a body in an encoding not asked for (br)"),
        (stacked_gzip_bomb(), "refusing a body encoded several times (gzip, gzip)"),
    ],
)
def test_bombs_in_other_encodings_fail_hard(
    client: httpx.Client, behaviour: Behaviour, error: str
) -> None:
    """Brotli (never asked for) and stacked encodings fail hard, and nothing is inflated."""
    assert len(brotli_bomb_body()) < 3000 and len(stacked_gzip_bomb_body()) < 3000
    tracemalloc.start()
    try:
        result = _fetch_one(client, behaviour)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is FetchOutcome.HARD
    assert result.error == error
    assert peak < SETTINGS.max_body_bytes + 4 * DECODE_STEP


def test_gzip_bomb_inflates_no_more_than_the_cap_and_one_step(client: httpx.Client) -> None:
    """A gzip bomb is stopped as it inflates: memory stays near the cap, not the bomb's size."""
    gzip_bomb_body()  # built before measuring
    tracemalloc.start()
    try:
        result = _fetch_one(client, gzip_bomb())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is FetchOutcome.HARD
    # The kept chunks, their join, and one step in flight: far below the 50 MB the bomb makes.
    assert peak < 2 * SETTINGS.max_body_bytes + 4 * DECODE_STEP


def test_inflater_hands_out_bounded_steps() -> None:
    """Each step of inflating is at most DECODE_STEP bytes, whatever one input chunk holds."""
    inflater = BoundedInflater("gzip")
    steps = [len(chunk) for chunk in inflater.feed(gzip_bomb_body(3_000_000))]
    steps.append(len(inflater.finish()))
    assert max(steps) <= DECODE_STEP
    assert sum(steps) == 3_000_000


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_is_read_with_or_without_its_zlib_header(client: httpx.Client, wbits: int) -> None:
    """ "deflate" bodies come both as zlib streams and as raw deflate; both are read."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(b"<p>news</p>" * 1000) + compressor.flush()
    result = _fetch_one(client, respond(200, body, {"Content-Encoding": "deflate"}))
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.body == b"<p>news</p>" * 1000


def test_brotli_is_not_asked_for(client: httpx.Client) -> None:
    """Only encodings inflated in bounded steps are offered."""
    with serve({"/r": respond(200, FEED)}) as server:
        fetch(client, server.url("/r"), SETTINGS)
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_trickled_headers_end_at_the_total_time(fast_client: httpx.Client) -> None:
    """Headers arriving a byte at a time, each within read_timeout, still end at the total time."""
    settings = replace(FAST, read_timeout=2.0, total_timeout=1.0)
    started = time.monotonic()
    result = _fetch_one(fast_client, trickled_headers(pause=0.2), settings)
    took = time.monotonic() - started
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error == "took longer than 1 s"
    assert took < 3 * settings.total_timeout  # the server trickles for 5 s


def test_credentials_are_used_but_never_shown(client: httpx.Client) -> None:
    """A URL's user and password go out as basic auth, and appear in no result field."""
    routes = {
        "/feed": basic_auth("reader", "s3cret-pass", respond(200, FEED)),
        "/moved": basic_auth("reader", "s3cret-pass", redirect("/gone")),
    }
    with serve(routes) as server:
        port = server.server_address[1]
        ok = fetch(client, f"http://reader:s3cret-pass@127.0.0.1:{port}/feed", SETTINGS)
        gone = fetch(client, f"http://reader:s3cret-pass@127.0.0.1:{port}/moved", SETTINGS)
        bad = fetch(client, f"ftp://reader:s3cret-pass@127.0.0.1:{port}/x", SETTINGS)
    assert ok.outcome is FetchOutcome.SUCCESS and ok.body == FEED
    assert gone.outcome is FetchOutcome.HARD
    assert bad.error == f"refusing non-http URL ftp://127.0.0.1:{port}/x"
    for result in (ok, gone, bad):
        assert "s3cret-pass" not in (result.error or "")
