"""The robots.txt policy against real loopback servers, with a hand-moved clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest

from models.fetched import FetchResult
from pipeline.config.settings import HttpSettings
from pipeline.fetching.http import build_client, fetch
from pipeline.fetching.robots import (
    DEFAULT_MAX_AGE,
    MAX_ROBOTS_BYTES,
    UNREACHABLE_MAX_AGE,
    RobotsPolicy,
    robots_url,
)
from tests.servers import Behaviour, Handler, gzip_bomb, hang_up, respond, serve, slow

SETTINGS = HttpSettings(
    user_agent="newstrack/1.0 (+https://example.org/bot)",
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_body_bytes=1_000_000,
    retries=0,
)
AGENT = "newstrack"
ROBOTS = b"""User-agent: *
Disallow: /

User-agent: newstrack
Disallow: /private
"""


class Clock:
    """A monotonic clock that only moves when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """A client with the test settings, shared by the module."""
    with build_client(SETTINGS) as http:
        yield http


def _policy(
    client: httpx.Client,
    settings: HttpSettings = SETTINGS,
    *,
    enabled: bool = True,
    max_age: float = DEFAULT_MAX_AGE,
    clock: Callable[[], float] = time.monotonic,
) -> RobotsPolicy:
    """A policy fetching robots.txt over the real client, as production wires it."""
    return RobotsPolicy(
        lambda url: fetch(client, url, settings),
        AGENT,
        enabled=enabled,
        max_age=max_age,
        clock=clock,
    )


def _robots(body: bytes) -> dict[str, Behaviour]:
    """Routes serving `body` as /robots.txt."""
    return {"/robots.txt": respond(200, body)}


def _in_turn(*behaviours: Behaviour) -> Behaviour:
    """Each request gets the next behaviour; the last one repeats."""
    lock = threading.Lock()
    served = [0]

    def behave(handler: Handler) -> None:
        with lock:
            index = min(served[0], len(behaviours) - 1)
            served[0] += 1
        behaviours[index](handler)

    return behave


def test_own_group_decides_and_its_disallow_is_obeyed(client: httpx.Client) -> None:
    """The "newstrack" group refuses /private and allows the rest, though "*" refuses all."""
    with serve(_robots(ROBOTS)) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/private/report.html"))
        assert policy.allowed(server.url("/news/export-ban.html"))
        assert policy.allowed(server.url("/"))
    (request,) = server.requests
    assert request.path == "/robots.txt"
    assert request.headers["user-agent"] == SETTINGS.user_agent


def test_star_group_applies_without_a_specific_group(client: httpx.Client) -> None:
    """With only a "*" group, its rules are ours."""
    with serve(_robots(b"User-agent: *\nDisallow: /drafts/\n")) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/drafts/tariffs.html"))
        assert policy.allowed(server.url("/news/tariffs.html"))


def test_group_for_another_bot_does_not_apply(client: httpx.Client) -> None:
    """Another bot's "Disallow: /" is not ours; the "*" group is."""
    body = b"User-agent: otherbot\nDisallow: /\n\nUser-agent: *\nDisallow: /search\n"
    with serve(_robots(body)) as server:
        policy = _policy(client)
        assert policy.allowed(server.url("/news/lithium.html"))
        assert not policy.allowed(server.url("/search?q=lithium"))


def test_most_specific_rule_wins_whatever_the_order(client: httpx.Client) -> None:
    """An early "Allow: /" does not cancel a longer Disallow; a longer Allow beats it again."""
    body = b"User-agent: newstrack\nAllow: /\nDisallow: /private\nAllow: /private/press\n"
    with serve(_robots(body)) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/private/memo.html"))
        assert policy.allowed(server.url("/private/press/release.html"))
        assert policy.allowed(server.url("/news/gallium.html"))


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbfUser-agent: newstrack\nDisallow: /private\n",  # a UTF-8 byte order mark
        b"User-agent: newstrack\n\nDisallow: /private\n",  # a blank line inside the group
        b"User-agent: newstrack\r\nDisallow: /private\r\n",  # CRLF line ends
    ],
    ids=["bom", "blank-line", "crlf"],
)
def test_file_layout_does_not_hide_rules(client: httpx.Client, body: bytes) -> None:
    """A BOM, a blank line in a group or CRLF line ends still give the group its rules."""
    with serve(_robots(body)) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/private/memo.html"))
        assert policy.allowed(server.url("/news/gallium.html"))


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>Welcome!</body></html>", bytes(range(256)) * 4]
)
def test_empty_or_unparseable_file_allows_everything(client: httpx.Client, body: bytes) -> None:
    """A 200 with no rules in it (empty, HTML, binary) allows every path."""
    with serve(_robots(body)) as server:
        policy = _policy(client)
        assert policy.allowed(server.url("/news/cobalt.html"))
        assert policy.allowed(server.url("/private/memo.html"))


@pytest.mark.parametrize("status", [404, 410, 403, 401])
def test_unavailable_robots_allows_everything(client: httpx.Client, status: int) -> None:
    """A 4xx robots.txt is "unavailable" (RFC 9309): every path is allowed."""
    with serve({"/robots.txt": respond(status, b"Disallow: /")}) as server:
        policy = _policy(client)
        assert policy.allowed(server.url("/news/cobalt.html"))
        assert policy.allowed(server.url("/private/memo.html"))
    assert server.paths() == ["/robots.txt"]


@pytest.mark.parametrize(
    "behaviour",
    [respond(500, b"oops"), respond(503, b"later"), respond(429, b"slow down"), hang_up()],
    ids=["500", "503", "429", "hang-up"],
)
def test_unreachable_robots_refuses_everything(client: httpx.Client, behaviour: Behaviour) -> None:
    """5xx, 429 or a dropped connection make robots.txt "unreachable": every path is refused."""
    with serve({"/robots.txt": behaviour}) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/news/cobalt.html"))
        assert not policy.allowed(server.url("/"))
    assert server.paths() == ["/robots.txt"]


def test_unreachable_is_retried_after_the_short_memory(client: httpx.Client) -> None:
    """After a 500 the host is refused for ten minutes only, then robots.txt is asked again."""
    clock = Clock()
    behaviour = _in_turn(respond(500, b"oops"), respond(200, b"User-agent: *\nDisallow:\n"))
    with serve({"/robots.txt": behaviour}) as server:
        policy = _policy(client, clock=clock)
        page = server.url("/news/cobalt.html")
        assert not policy.allowed(page)
        clock.now += UNREACHABLE_MAX_AGE - 1
        assert not policy.allowed(page)
        assert server.paths() == ["/robots.txt"]
        clock.now += 1
        assert policy.allowed(page)
    assert server.paths() == ["/robots.txt", "/robots.txt"]


def test_robots_is_fetched_once_per_host(client: httpx.Client) -> None:
    """However many URLs of a host are checked within max_age, robots.txt is requested once."""
    clock = Clock()
    with serve(_robots(ROBOTS)) as server:
        policy = _policy(client, clock=clock)
        for n in range(20):
            policy.allowed(server.url(f"/news/{n}.html"))
            policy.crawl_delay(server.url(f"/private/{n}.html"))
            clock.now += 60
        assert not policy.allowed(server.url("/private/last.html"))
    assert server.paths() == ["/robots.txt"]


def test_robots_is_fetched_again_after_max_age(client: httpx.Client) -> None:
    """Past max_age the file is fetched again and its new rules apply."""
    clock = Clock()
    behaviour = _in_turn(
        respond(200, b"User-agent: *\nDisallow: /old\n"),
        respond(200, b"User-agent: *\nDisallow: /new\n"),
    )
    with serve({"/robots.txt": behaviour}) as server:
        policy = _policy(client, clock=clock)
        assert not policy.allowed(server.url("/old/a.html"))
        clock.now += DEFAULT_MAX_AGE - 1
        assert policy.allowed(server.url("/new/a.html"))
        clock.now += 1
        assert policy.allowed(server.url("/old/a.html"))
        assert not policy.allowed(server.url("/new/a.html"))
    assert server.paths() == ["/robots.txt", "/robots.txt"]


def test_outage_at_refetch_keeps_the_last_good_copy(client: httpx.Client) -> None:
    """A 5xx when refreshing keeps the file read before (RFC 9309), not a blanket refusal."""
    clock = Clock()
    behaviour = _in_turn(respond(200, b"User-agent: *\nDisallow: /private\n"), respond(503))
    with serve({"/robots.txt": behaviour}) as server:
        policy = _policy(client, clock=clock, max_age=60)
        assert policy.allowed(server.url("/news/a.html"))
        clock.now += 60
        assert policy.allowed(server.url("/news/b.html"))
        assert not policy.allowed(server.url("/private/c.html"))
    assert server.paths() == ["/robots.txt", "/robots.txt"]


def test_each_host_has_its_own_policy(client: httpx.Client) -> None:
    """Two servers (two origins) get one robots.txt request each and their own rules."""
    with (
        serve(_robots(b"User-agent: *\nDisallow: /a\n")) as first,
        serve(_robots(b"User-agent: *\nDisallow: /b\n")) as second,
    ):
        policy = _policy(client)
        assert not policy.allowed(first.url("/a/1.html"))
        assert policy.allowed(first.url("/b/1.html"))
        assert policy.allowed(second.url("/a/1.html"))
        assert not policy.allowed(second.url("/b/1.html"))
        assert not policy.allowed(first.url("/a/2.html"))
    assert first.paths() == ["/robots.txt"]
    assert second.paths() == ["/robots.txt"]


@pytest.mark.parametrize(
    ("body", "delay"),
    [
        (b"User-agent: *\nCrawl-delay: 9\n\nUser-agent: newstrack\nCrawl-delay: 5\n", 5.0),
        (b"User-agent: *\nCrawl-delay: 7\nDisallow: /private\n", 7.0),
        (b"User-agent: newstrack\nCrawl-delay: 2.5\n", 3.0),  # rounded up, never shorter
        (b"User-agent: *\nDisallow: /private\n", None),
        (b"User-agent: newstrack\nCrawl-delay: soon\n", None),
    ],
    ids=["own-group", "star-group", "fractional", "absent", "nonsense"],
)
def test_crawl_delay_is_read(client: httpx.Client, body: bytes, delay: float | None) -> None:
    """Crawl-delay comes from the group that applies to us, in seconds."""
    with serve(_robots(body)) as server:
        assert _policy(client).crawl_delay(server.url("/news/a.html")) == delay


def test_no_crawl_delay_without_a_file(client: httpx.Client) -> None:
    """A 404 robots.txt asks for no delay."""
    with serve({}) as server:
        assert _policy(client).crawl_delay(server.url("/news/a.html")) is None
    assert server.paths() == ["/robots.txt"]


def test_disabled_policy_never_requests_robots(client: httpx.Client) -> None:
    """enabled=False allows everything and asks for no delay, without any request."""
    body = b"User-agent: *\nDisallow: /\nCrawl-delay: 30\n"
    with serve(_robots(body)) as server:
        policy = _policy(client, enabled=False)
        assert policy.allowed(server.url("/private/memo.html"))
        assert policy.crawl_delay(server.url("/private/memo.html")) is None
    assert server.paths() == []


@pytest.mark.parametrize(
    "behaviour",
    [gzip_bomb(), respond(200, b"User-agent: *\nDisallow:\n" + b"#" * 50_000)],
    ids=["gzip-bomb", "huge-body"],
)
def test_oversized_robots_is_refused_not_a_crash(
    client: httpx.Client, behaviour: Behaviour
) -> None:
    """A robots.txt over the fetch cap cannot be read: the host is refused, nothing blows up."""
    small = replace(SETTINGS, max_body_bytes=10_000)
    with serve({"/robots.txt": behaviour}) as server:
        policy = _policy(client, small)
        assert not policy.allowed(server.url("/news/a.html"))
        assert policy.crawl_delay(server.url("/news/a.html")) is None
    assert server.paths() == ["/robots.txt"]


def test_only_the_first_500_kib_are_obeyed(client: httpx.Client) -> None:
    """Rules past 500 KiB are ignored, and a line cut by the limit is dropped, not shortened."""
    head = b"User-agent: *\nDisallow: /early\n"
    padding = b"# padding\n" * ((MAX_ROBOTS_BYTES - len(head)) // 10 - 1)
    straddling = b"Disallow: /straddling-the-limit\n"  # would read "Disallow: /s" if cut
    body = head + padding + straddling + b"Disallow: /late\n"
    assert len(head + padding) < MAX_ROBOTS_BYTES < len(head + padding + straddling)
    with serve(_robots(body)) as server:
        policy = _policy(client)
        assert not policy.allowed(server.url("/early/a.html"))
        assert policy.allowed(server.url("/late/a.html"))
        assert policy.allowed(server.url("/straddling-the-limit/a.html"))
        assert policy.allowed(server.url("/science/a.html"))


def test_concurrent_checks_fetch_robots_once(client: httpx.Client) -> None:
    """Threads asking about one host at once share a single, slow robots.txt request."""
    threads = 8
    start = threading.Barrier(threads)
    with serve({"/robots.txt": slow(0.5, respond(200, ROBOTS))}) as server:
        policy = _policy(client)

        def check(n: int) -> bool:
            start.wait(5)  # all threads ask together, while the first request is still slow
            return policy.allowed(server.url(f"/private/{n}.html" if n % 2 else f"/news/{n}.html"))

        with ThreadPoolExecutor(max_workers=threads) as pool:
            answers = list(pool.map(check, range(threads)))
    assert answers == [n % 2 == 0 for n in range(threads)]
    assert server.paths() == ["/robots.txt"]


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/news.html", "http:///news.html", "http://[::1/news", "news.html"]
)
def test_urls_without_an_http_origin_are_refused_without_a_request(url: str) -> None:
    """A URL with no http(s) host has no robots.txt to ask: refused, and nothing is fetched."""
    assert not RobotsPolicy(_never, AGENT).allowed(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Example.ORG/news/a.html?x=1", "http://example.org/robots.txt"),
        ("https://example.org:443/a", "https://example.org/robots.txt"),
        ("https://user:pw@example.org:8443/a", "https://example.org:8443/robots.txt"),
        ("http://[::1]:8080/a", "http://[::1]:8080/robots.txt"),
    ],
)
def test_robots_url_keeps_scheme_host_and_port(url: str, expected: str) -> None:
    """The robots.txt URL is the page's origin (default ports dropped, credentials too)."""
    assert robots_url(url) == expected


def test_empty_agent_is_rejected() -> None:
    """A policy without a user agent token would match no group, so it is refused at once."""
    with pytest.raises(ValueError, match="user agent token"):
        RobotsPolicy(_never, " ")


def _never(robots: str) -> FetchResult:
    """A robots.txt fetcher for tests that must not fetch."""
    raise AssertionError(f"{robots} should not have been fetched")
