"""The fetch job against loopback servers: items kept for the next run, failures isolated."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Article, Fetch, HttpValidator, Source
from models.source import ArticleSelectors, SourceConfig
from pipeline.cli import main
from pipeline.config.settings import HttpSettings, Settings
from pipeline.extraction import Extractor
from pipeline.fetching.http import build_client
from pipeline.flows.extract import ConsolidationPace, extract_pending
from pipeline.flows.fetch import fetch_sources
from storage.engine import make_session_factory, open_engine
from storage.migrate import upgrade
from storage.sessions import unit_of_work

from .servers import (
    Behaviour,
    Handler,
    basic_auth,
    brotli_bomb,
    endless,
    gzip_bomb,
    hang_up,
    record_connections,
    redirect,
    respond,
    serve,
    slow,
    stacked_gzip_bomb,
    trickled_headers,
    truncated,
    with_etag,
)

SETTINGS = Settings(
    http=HttpSettings(read_timeout=2, total_timeout=5, retries=0, per_host_interval=0)
)
PAGE = """<html lang="en"><head><title>{title}</title></head><body>
<nav><a href="/">Home</a></nav><article><h1>{title}</h1>
<p>China's Commerce Ministry imposed export controls on gallium on {day}.</p>
<p>The measure covers gallium metal and compounds, the ministry said in a statement.</p>
</article><footer>Footer text</footer></body></html>"""


def _feed(count: int) -> bytes:
    """An RSS feed of teasers; relative links resolve against the feed's URL."""
    items = "".join(
        f"<item><title>Story {n}</title><link>/a/{n}</link>"
        f"<description>Teaser {n}</description>"
        f"<pubDate>Mon, 0{n} Sep 2025 10:00:00 +0000</pubDate></item>"
        for n in range(1, count + 1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def _page(n: int) -> Behaviour:
    body = PAGE.format(title=f"Story {n}", day=f"Sept. {n}").encode()
    return respond(200, body, content_type="text/html; charset=utf-8")


def _fails_once(then: Behaviour) -> Behaviour:
    """HTTP 503 on the first request, then the given behaviour."""
    calls = {"count": 0}

    def behave(handler: Handler) -> None:
        calls["count"] += 1
        if calls["count"] == 1:
            handler.send(503, b"busy", {"Content-Type": "text/plain"})
        else:
            then(handler)

    return behave


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file."""
    with open_engine(f"sqlite:///{tmp_path / 'jobs.db'}") as engine:
        upgrade(engine)
        yield make_session_factory(engine)


def _articles(session_factory: sessionmaker[Session]) -> list[str]:
    with unit_of_work(session_factory) as session:
        return sorted(session.scalars(select(Article.title)))


def _source(url: str, **options: object) -> SourceConfig:
    return SourceConfig(
        name="local",
        kind="rss",
        urls=(url,),
        article=ArticleSelectors(text="article"),
        **options,  # type: ignore[arg-type]
    )


def test_temporary_item_failure_is_fetched_on_the_next_run(
    session_factory: sessionmaker[Session],
) -> None:
    """A page that fails with 503 is left for the next run, which refetches the whole feed."""
    routes: dict[str, Behaviour] = {
        "/feed": with_etag('"v1"', _feed(3)),
        "/a/1": _page(1),
        "/a/2": _fails_once(_page(2)),
        "/a/3": _page(3),
    }
    with serve(routes) as server:
        source = _source(server.url("/feed"))
        with build_client(SETTINGS.http) as client:
            first = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
            assert (first.stored, first.left_for_next_run, first.status) == (2, 1, "partial")
            assert "503" in first.errors[0]
            second = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
            assert (second.stored, second.known, second.left_for_next_run) == (1, 2, 0)
            third = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
            assert third.status == "not_modified"
        feed_requests = [r for r in server.requests if r.path == "/feed"]
    assert "if-none-match" not in feed_requests[1].headers
    assert feed_requests[2].headers["if-none-match"] == '"v1"'
    assert _articles(session_factory) == ["Story 1", "Story 2", "Story 3"]


def test_article_budget_spreads_a_backlog_over_runs(session_factory: sessionmaker[Session]) -> None:
    """With max_articles=2, a feed of five stories is stored over three runs, none lost."""
    routes: dict[str, Behaviour] = {f"/a/{n}": _page(n) for n in range(1, 6)}
    routes["/feed"] = with_etag('"v1"', _feed(5))
    with serve(routes) as server:
        source = _source(server.url("/feed"), max_articles=2)
        with build_client(SETTINGS.http) as client:
            stored = [
                fetch_sources(session_factory, client, [source], SETTINGS).sources[0].stored
                for _ in range(4)
            ]
    assert stored == [2, 2, 1, 0]
    assert len(_articles(session_factory)) == 5


def test_broken_source_does_not_stop_the_others(session_factory: sessionmaker[Session]) -> None:
    """A feed that is not a feed fails with a message naming it; the next source is fetched."""
    routes: dict[str, Behaviour] = {
        "/a/1": _page(1),
        "/broken": respond(200, b"\x00\x01 not xml"),
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
    }
    with serve(routes) as server:
        broken = SourceConfig(name="broken", kind="rss", urls=(server.url("/broken"),))
        good = _source(server.url("/feed"))
        with build_client(SETTINGS.http) as client:
            summary = fetch_sources(session_factory, client, [broken, good], SETTINGS)
    reports = {report.name: report for report in summary.sources}
    assert reports["broken"].status == "failed"
    assert server.url("/broken") in reports["broken"].errors[0]
    assert reports["local"].stored == 1
    with unit_of_work(session_factory) as session:
        outcomes = dict(session.execute(select(Fetch.url, Fetch.outcome)).all())
    assert outcomes[server.url("/broken")] == "hard"  # fetched, but not a feed: a failed fetch
    assert outcomes[server.url("/a/1")] == "success"


def test_dry_run_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    """A dry run fetches and parses but leaves no row behind, not even fetch logs."""
    routes: dict[str, Behaviour] = {
        "/a/1": _page(1),
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
    }
    with serve(routes) as server:
        with build_client(SETTINGS.http) as client:
            report = fetch_sources(
                session_factory, client, [_source(server.url("/feed"))], SETTINGS, dry_run=True
            ).sources[0]
        assert server.paths() == ["/feed", "/robots.txt", "/a/1"]
    assert report.stored == 1
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0
        assert session.scalar(select(func.count()).select_from(Fetch)) == 0


def test_sources_on_different_hosts_are_fetched_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    """Two hosts whose feeds answer only when both requests are in flight: both succeed."""
    meeting = threading.Barrier(2, timeout=4)

    def together(then: Behaviour) -> Behaviour:
        def behave(handler: Handler) -> None:
            try:
                meeting.wait()
            except threading.BrokenBarrierError:
                handler.send(500, b"came alone", {"Content-Type": "text/plain"})
                return
            then(handler)

        return behave

    feed = respond(200, _feed(1), content_type="application/rss+xml")
    with (
        serve({"/feed": together(feed), "/a/1": _page(1)}) as first,
        serve({"/feed": together(feed), "/a/1": _page(2)}) as second,
    ):
        sources = [
            SourceConfig(name="one", kind="rss", urls=(first.url("/feed"),)),
            SourceConfig(name="two", kind="rss", urls=(second.url("/feed"),)),
        ]
        with build_client(SETTINGS.http) as client:
            summary = fetch_sources(session_factory, client, sources, SETTINGS)
    assert [(report.name, report.status, report.stored) for report in summary.sources] == [
        ("one", "ok", 1),
        ("two", "ok", 1),
    ]


def test_failing_source_rests_then_is_fetched_again(session_factory: sessionmaker[Session]) -> None:
    """After a failure a source backs off; the next run skips it unless forced; errors are kept."""
    with serve({"/feed": respond(503, b"down")}) as server:
        source = _source(server.url("/feed"))
        with build_client(SETTINGS.http) as client:
            first = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
            second = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
            forced = fetch_sources(session_factory, client, [source], SETTINGS, force=True)
        assert server.paths() == ["/feed", "/feed"]
    assert first.status == "failed"
    assert (second.status, second.errors) == ("resting", [])
    assert second.due_again is not None
    assert forced.sources[0].status == "failed"
    with unit_of_work(session_factory) as session:
        source_row = session.execute(select(Source)).scalar_one()
        assert source_row.consecutive_failures == 2
        assert source_row.last_error == "temporary: HTTP 503"
        assert source_row.next_due_at is not None


def test_bot_challenge_is_a_blocked_fetch_not_an_article(
    session_factory: sessionmaker[Session],
) -> None:
    """A "Just a moment..." page where an article should be is classified blocked and not stored."""
    challenge = b"<html><head><title>Just a moment...</title></head><body>Checking</body></html>"
    routes: dict[str, Behaviour] = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": respond(200, challenge, content_type="text/html"),
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        report = fetch_sources(
            session_factory, client, [_source(server.url("/feed"))], SETTINGS
        ).sources[0]
    assert report.stored == 0
    assert "blocked" in report.errors[0]
    with unit_of_work(session_factory) as session:
        outcomes = sorted(session.scalars(select(Fetch.outcome)))
    assert outcomes == ["blocked", "success"]


def test_unchanged_body_without_validators_counts_as_not_modified(
    session_factory: sessionmaker[Session],
) -> None:
    """A server that ignores conditional GET but sends the same bytes is not parsed again."""
    routes: dict[str, Behaviour] = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _page(1),
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        cached = _source(server.url("/feed"))
        statuses = [
            fetch_sources(session_factory, client, [cached], SETTINGS).sources[0].status
            for _ in range(2)
        ]
        uncached = replace(cached, http_cache=False)
        again = fetch_sources(session_factory, client, [uncached], SETTINGS).sources[0]
    assert statuses == ["ok", "not_modified"]
    assert (again.status, again.known) == ("ok", 1)


def test_robots_txt_keeps_pages_out_unless_the_source_opts_out(
    session_factory: sessionmaker[Session],
) -> None:
    """A page robots.txt disallows is not fetched; a source with obey_robots: false fetches it."""
    routes: dict[str, Behaviour] = {
        "/robots.txt": respond(200, b"User-agent: *\nDisallow: /a/\n"),
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _page(1),
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        polite = _source(server.url("/feed"))
        refused = fetch_sources(session_factory, client, [polite], SETTINGS).sources[0]
        assert "/a/1" not in server.paths()
        allowed = replace(polite, obey_robots=False, http_cache=False)
        fetched = fetch_sources(session_factory, client, [allowed], SETTINGS).sources[0]
        assert "/a/1" in server.paths()
    assert refused.stored == 0
    assert refused.errors == [f"{server.url('/a/1')}: disallowed by robots.txt"]
    assert fetched.stored == 1


def _listing(links: list[str], next_page: str | None) -> Behaviour:
    """A listing page with article links and a pager."""
    items = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    pager = f'<a href="{next_page}">Next</a>' if next_page else '<a href="#">Next</a>'
    body = f'<html><body><ul class="news">{items}</ul><div class="page">{pager}</div></body></html>'
    return respond(200, body.encode(), content_type="text/html; charset=utf-8")


@pytest.mark.parametrize(("pages", "stored"), [(1, 2), (2, 3), (5, 3)])
def test_listing_pages_are_followed_up_to_the_limit(
    session_factory: sessionmaker[Session], pages: int, stored: int
) -> None:
    """`listing.pages` reads older listing pages through the next-page link, and no further."""
    routes: dict[str, Behaviour] = {
        "/news": _listing(["/a/1", "/a/2"], "/news?page=2"),
        "/news?page=2": _listing(["/a/3"], None),
        **{f"/a/{n}": _page(n) for n in (1, 2, 3)},
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        source = SourceConfig(
            name="listing",
            kind="html_listing",
            urls=(server.url("/news"),),
            link_selector="ul.news li a",
            next_selector='div.page a:-soup-contains("Next")',
            listing_pages=pages,
            article=ArticleSelectors(text="article"),
        )
        report = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
        listing_requests = [path for path in server.paths() if path.startswith("/news")]
    assert report.stored == stored
    assert listing_requests == (["/news"] if pages == 1 else ["/news", "/news?page=2"])


def test_entry_whose_link_changed_is_known_by_its_guid(
    session_factory: sessionmaker[Session],
) -> None:
    """A feed entry that keeps its GUID under a new link is not stored again."""

    def feed(link: str) -> Behaviour:
        item = (
            f"<item><title>Story</title><link>{link}</link><description>Teaser</description>"
            '<guid isPermaLink="false">https://desk.example/?p=7</guid></item>'
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel>{item}</channel></rss>'
        return respond(200, body.encode(), content_type="application/rss+xml")

    reports = []
    for link in ("/a/1", "/a/1-renamed-slug"):
        routes: dict[str, Behaviour] = {"/feed": feed(link), "/a/1": _page(1)}
        routes["/a/1-renamed-slug"] = _page(2)
        with serve(routes) as server, build_client(SETTINGS.http) as client:
            source = replace(_source(server.url("/feed")), http_cache=False)
            reports.append(fetch_sources(session_factory, client, [source], SETTINGS).sources[0])
            fetched_pages = [path for path in server.paths() if path.startswith("/a/")]
    assert [(r.stored, r.known) for r in reports] == [(1, 0), (0, 1)]
    assert fetched_pages == []  # known by GUID before any page is fetched


def test_every_http_attempt_is_a_fetches_row(session_factory: sessionmaker[Session]) -> None:
    """A page that needs a retry leaves one row per attempt: the 503, then the success."""
    routes: dict[str, Behaviour] = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _fails_once(_page(1)),
    }
    retrying = Settings(http=replace(SETTINGS.http, retries=1, backoff=0.01))
    with serve(routes) as server, build_client(retrying.http) as client:
        report = fetch_sources(
            session_factory, client, [_source(server.url("/feed"))], retrying
        ).sources[0]
    assert report.stored == 1
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(Fetch.status_code, Fetch.outcome)
            .where(Fetch.url.like("%/a/1"))
            .order_by(Fetch.id)
        ).all()
    assert [tuple(row) for row in rows] == [(503, "temporary"), (200, "success")]


@pytest.mark.parametrize(
    ("misbehaviour", "outcome"),
    [
        ("gzip bomb", "hard"),
        ("truncated", "temporary"),
        ("hang up", "temporary"),
        ("redirect loop", "hard"),
        ("server error", "temporary"),
        ("endless body", "hard"),
        ("gone", "hard"),
        ("challenge", "blocked"),
    ],
)
def test_a_misbehaving_page_fails_alone(
    session_factory: sessionmaker[Session], misbehaviour: str, outcome: str
) -> None:
    """Each misbehaviour fails its page with its outcome class; the other source is stored."""
    page = PAGE.format(title="Story 1", day="Sept. 1").encode()
    behaviours: dict[str, Behaviour] = {
        "gzip bomb": gzip_bomb(5_000_000),
        "truncated": truncated(page, len(page) + 500),
        "hang up": hang_up(),
        "redirect loop": redirect("/a/1"),
        "server error": respond(500, b"oops"),
        "endless body": endless(),
        "gone": respond(410, b"gone"),
        "challenge": respond(200, b"<title>Just a moment...</title>", content_type="text/html"),
    }
    bad_routes: dict[str, Behaviour] = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": behaviours[misbehaviour],
    }
    good_routes: dict[str, Behaviour] = {
        "/feed": respond(200, _feed(2), content_type="application/rss+xml"),
        "/a/1": _page(3),
        "/a/2": _page(4),
    }
    settings = Settings(http=replace(SETTINGS.http, max_body_bytes=1_000_000))
    with (
        serve(bad_routes) as bad,
        serve(good_routes) as good,
        build_client(settings.http) as client,
    ):
        sources = [
            SourceConfig(
                "bad", "rss", (bad.url("/feed"),), article=ArticleSelectors(text="article")
            ),
            SourceConfig(
                "good", "rss", (good.url("/feed"),), article=ArticleSelectors(text="article")
            ),
        ]
        summary = fetch_sources(session_factory, client, sources, settings)
    reports = {report.name: report for report in summary.sources}
    assert (reports["bad"].stored, reports["bad"].status) == (0, "failed")
    assert (reports["good"].stored, reports["good"].status) == (2, "ok")
    with unit_of_work(session_factory) as session:
        outcomes = set(session.scalars(select(Fetch.outcome).where(Fetch.url == bad.url("/a/1"))))
        urls = set(session.scalars(select(Article.url)))
    assert outcomes == {outcome}
    assert urls == {good.url("/a/1"), good.url("/a/2")}


WINDOWS_1252_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>Ministry\u2019s caf\u00e9 rules</title><link>/a/1</link>"
    "<description>Teaser</description></item></channel></rss>"
).encode("cp1252")


@pytest.mark.parametrize(
    ("misbehaviour", "outcome", "stored"),
    [
        ("slow", "temporary", 0),
        ("429 with Retry-After", "temporary", 0),
        ("invalid XML", "hard", 0),
        ("truncated XML", "success", 1),
        ("HTML instead of a feed", "hard", 0),
        ("wrong charset", "success", 1),
    ],
)
def test_a_misbehaving_feed_fails_alone(
    session_factory: sessionmaker[Session], misbehaviour: str, outcome: str, stored: int
) -> None:
    """Each feed misbehaviour ends with its outcome class; what can be read is kept; others go on."""
    feed = _feed(1)
    behaviours: dict[str, Behaviour] = {
        "slow": slow(4, respond(200, feed, content_type="application/rss+xml")),
        "429 with Retry-After": respond(429, b"slow down", {"Retry-After": "1"}),
        "invalid XML": respond(
            200, b"<rss version='2.0'><channel><<<>>>", content_type="application/rss+xml"
        ),
        # The closing tags are cut off; the whole first item is there and must not be lost.
        "truncated XML": respond(
            200, feed[: feed.index(b"</item>") + 7], content_type="application/rss+xml"
        ),
        "HTML instead of a feed": respond(200, b"<html><body><p>Home</p></body></html>"),
        "wrong charset": respond(200, WINDOWS_1252_FEED, {}, "application/rss+xml; charset=utf-8"),
    }
    bad_routes = {"/feed": behaviours[misbehaviour], "/a/1": _page(1)}
    good_routes = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _page(2),
    }
    with (
        serve(bad_routes) as bad,
        serve(good_routes) as good,
        build_client(SETTINGS.http) as client,
    ):
        sources = [replace(_source(bad.url("/feed")), name="bad"), _source(good.url("/feed"))]
        summary = fetch_sources(session_factory, client, sources, SETTINGS)
    reports = {report.name: report for report in summary.sources}
    assert reports["bad"].stored == stored
    assert (reports["local"].stored, reports["local"].status) == (1, "ok")
    with unit_of_work(session_factory) as session:
        outcomes = set(session.scalars(select(Fetch.outcome).where(Fetch.url == bad.url("/feed"))))
        titles = set(session.scalars(select(Article.title).where(Article.url == bad.url("/a/1"))))
    assert outcomes == {outcome}
    if misbehaviour == "wrong charset":
        assert titles == {"Ministry\u2019s caf\u00e9 rules"}


def test_validators_are_kept_per_url_of_a_source(session_factory: sessionmaker[Session]) -> None:
    """A source with two feeds sends each feed its own ETag; an unchanged one is a 304."""
    routes: dict[str, Behaviour] = {
        "/one": with_etag('"one-v1"', _feed(1)),
        "/two": with_etag('"two-v1"', _feed(2)),
        "/a/1": _page(1),
        "/a/2": _page(2),
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        source = replace(_source(server.url("/one")), urls=(server.url("/one"), server.url("/two")))
        first = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
        second = fetch_sources(session_factory, client, [source], SETTINGS).sources[0]
    assert (first.status, first.stored) == ("ok", 2)
    assert second.status == "not_modified"
    sent = {
        request.path: request.headers.get("if-none-match")
        for request in server.requests[-2:]
        if request.path in ("/one", "/two")
    }
    assert sent == {"/one": '"one-v1"', "/two": '"two-v1"'}


def test_a_304_with_new_validators_updates_them(session_factory: sessionmaker[Session]) -> None:
    """A 304 carrying a new ETag replaces the stored one, and the Last-Modified it left alone stays."""
    stamp = "Wed, 02 Apr 2025 10:00:00 GMT"
    calls = {"count": 0}

    def behave(handler: Handler) -> None:
        calls["count"] += 1
        if calls["count"] == 1:
            headers = {
                "ETag": '"v1"',
                "Last-Modified": stamp,
                "Content-Type": "application/rss+xml",
            }
            handler.send(200, _feed(1), headers)
        else:
            handler.send(304, b"", {"ETag": f'"v{calls["count"]}"'})

    with (
        serve({"/feed": behave, "/a/1": _page(1)}) as server,
        build_client(SETTINGS.http) as client,
    ):
        source = _source(server.url("/feed"))
        for _ in range(3):
            fetch_sources(session_factory, client, [source], SETTINGS)
    feed_requests = [r for r in server.requests if r.path == "/feed"]
    assert [r.headers.get("if-none-match") for r in feed_requests] == [None, '"v1"', '"v2"']
    assert [r.headers.get("if-modified-since") for r in feed_requests] == [None, stamp, stamp]
    with unit_of_work(session_factory) as session:
        row = session.execute(select(HttpValidator.etag, HttpValidator.last_modified)).one()
    assert tuple(row) == ('"v3"', stamp)


WIRE_STORY = """<html lang="en"><head><title>{title}</title></head><body><article><h1>{title}</h1>
<p>{dateline}China's Ministry of Commerce said on Wednesday it would suspend export controls on 28
U.S. companies for 90 days, while keeping in place the export ban on seven rare earths it imposed on
April 4.</p>
<p>The ministry also removed 17 entities from its unreliable entity list, a move that traders said
would ease some pressure on magnet makers who rely on Chinese supply of samarium, gadolinium,
terbium, dysprosium, lutetium, scandium and yttrium.</p>
<p>China accounts for over 70% of U.S. imports of rare earth compounds and metals.{credit}</p>
</article></body></html>"""


def test_a_syndicated_story_is_kept_once_per_outlet_and_linked(
    session_factory: sessionmaker[Session],
) -> None:
    """The same wire story on two outlets is two articles; the later copy points to the first."""

    def story(dateline: str, credit: str) -> Behaviour:
        body = WIRE_STORY.format(title="China eases", dateline=dateline, credit=credit)
        return respond(200, body.encode(), content_type="text/html; charset=utf-8")

    wire = {"/feed": respond(200, _feed(1), content_type="application/rss+xml")}
    wire["/a/1"] = story("", "")
    paper = {"/feed": respond(200, _feed(1), content_type="application/rss+xml")}
    paper["/a/1"] = story("BEIJING (Wire) - ", " Reporting by the Beijing newsroom.")
    with (
        serve(wire) as first,
        serve(paper) as second,
        build_client(SETTINGS.http) as client,
    ):
        sources = [
            replace(_source(first.url("/feed")), name="wire"),
            replace(_source(second.url("/feed")), name="paper"),
        ]
        fetch_sources(session_factory, client, sources[:1], SETTINGS)
        fetch_sources(session_factory, client, sources, SETTINGS)
    with unit_of_work(session_factory) as session:
        rows = {
            url: (article_id, duplicate_of)
            for url, article_id, duplicate_of in session.execute(
                select(Article.url, Article.id, Article.duplicate_of)
            )
        }
    assert rows[first.url("/a/1")][1] is None
    assert rows[second.url("/a/1")][1] == rows[first.url("/a/1")][0]


def test_validators_are_kept_only_after_the_items_are_stored(
    session_factory: sessionmaker[Session],
) -> None:
    """While a run still fetches a feed's pages, another run must not get a 304 for that feed."""
    seen_while_storing: list[int] = []

    def page_that_looks(handler: Handler) -> None:
        with unit_of_work(session_factory) as session:
            seen_while_storing.append(session.scalar(select(func.count(HttpValidator.url))) or 0)
        _page(1)(handler)

    routes: dict[str, Behaviour] = {"/feed": with_etag('"v1"', _feed(1)), "/a/1": page_that_looks}
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        report = fetch_sources(session_factory, client, [_source(server.url("/feed"))], SETTINGS)
    assert report.sources[0].stored == 1
    assert seen_while_storing == [0]
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(HttpValidator.etag)) == '"v1"'


def test_grouping_is_paced_by_how_long_the_last_one_took() -> None:
    """Mentions are grouped when the extraction since the last grouping took ten times as long."""
    pace = ConsolidationPace()
    assert not pace.due()  # nothing extracted yet
    pace.extracted = 0.001
    assert pace.due()  # the first batch is grouped at once
    with pace.consolidating():
        pass
    assert pace.extracted == 0.0 and not pace.due()
    pace.last, pace.extracted = 2.0, 19.9
    assert not pace.due()
    pace.extracted = 20.0
    assert pace.due()


# Hostile links, encodings, header pacing and credentials: each fails alone, the good source goes on.

PRIVATE_LINKS = (
    "http://10.0.0.1/a/1",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/a/2",
)


def _feed_of(links: Sequence[str]) -> bytes:
    """An RSS feed of teasers linking to these URLs."""
    items = "".join(
        f"<item><title>Story {n}</title><link>{link}</link><description>Teaser</description></item>"
        for n, link in enumerate(links)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def _good_source(server_url: str) -> SourceConfig:
    return replace(_source(server_url + "/feed"), name="good")


def _extracted_in_the_same_run(
    session_factory: sessionmaker[Session], extractor: Extractor, urls: set[str]
) -> None:
    """Extract what the run stored: exactly these articles, none left pending."""
    extracted = extract_pending(session_factory, extractor)
    with unit_of_work(session_factory) as session:
        statuses = dict(session.execute(select(Article.url, Article.extraction_status)).all())
    assert set(statuses) == urls
    assert "pending" not in statuses.values()
    assert extracted.articles == len(urls)


GOOD_ROUTES: dict[str, Behaviour] = {
    "/feed": respond(200, _feed(2), content_type="application/rss+xml"),
    "/a/1": _page(3),
    "/a/2": _page(4),
}


@pytest.mark.parametrize("kind", ["rss", "html_listing"])
def test_links_to_private_addresses_fail_alone(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """A loopback source's links to private addresses fail hard before connecting; none stored."""
    opened = record_connections(monkeypatch)
    index = (
        respond(200, _feed_of(PRIVATE_LINKS), content_type="application/rss+xml")
        if kind == "rss"
        else _listing(list(PRIVATE_LINKS), None)
    )
    with (
        serve({"/index": index}) as bad,
        serve(GOOD_ROUTES) as good,
        build_client(SETTINGS.http) as client,
    ):
        hostile = SourceConfig(
            name="hostile",
            kind=kind,
            urls=(bad.url("/index"),),
            link_selector="ul.news li a" if kind == "html_listing" else None,
            article=ArticleSelectors(text="article"),
        )
        summary = fetch_sources(
            session_factory, client, [hostile, _good_source(good.base_url)], SETTINGS
        )
        assert set(bad.paths()) <= {"/index", "/robots.txt"}
    reports = {report.name: report for report in summary.sources}
    assert (reports["hostile"].stored, reports["hostile"].status) == (0, "failed")
    assert sorted(reports["hostile"].errors) == sorted(
        f"{link}: hard: refusing {link}: {urlsplit(link).hostname} is not a public address"
        for link in PRIVATE_LINKS
    )
    assert (reports["good"].stored, reports["good"].status) == (2, "ok")
    with unit_of_work(session_factory) as session:
        urls = set(session.scalars(select(Article.url)))
        outcomes = set(session.scalars(select(Fetch.outcome).where(Fetch.url.in_(PRIVATE_LINKS))))
    assert urls == {good.url("/a/1"), good.url("/a/2")}
    assert outcomes == {"hard"}
    assert set(opened) == {"127.0.0.1"}
    _extracted_in_the_same_run(session_factory, extractor, urls)


def test_a_source_on_a_name_that_leads_to_loopback_is_refused(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source named by a host that resolves to loopback is not a loopback source: refused."""
    opened = record_connections(monkeypatch)
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with (
        serve({"/feed": respond(200, _feed(1)), "/a/1": _page(1)}) as inside,
        serve(GOOD_ROUTES) as good,
        build_client(SETTINGS.http, resolver=resolver) as client,
    ):
        feed = f"http://intranet.example:{inside.server_address[1]}/feed"
        sources = [replace(_source(feed), name="intranet"), _good_source(good.base_url)]
        summary = fetch_sources(session_factory, client, sources, SETTINGS)
        assert inside.paths() == []
    reports = {report.name: report for report in summary.sources}
    assert reports["intranet"].errors == [
        f"{feed}: hard: refusing {feed}: intranet.example is at 127.0.0.1, "
        "which is not a public address"
    ]
    assert (reports["good"].stored, reports["good"].status) == (2, "ok")
    assert "intranet.example" in asked
    assert set(opened) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("misbehaviour", "error"),
    [
        ("brotli bomb", "hard: refusing a body in an encoding not asked for (br)"),
        ("stacked gzip bomb", "hard: refusing a body encoded several times (gzip, gzip)"),
        ("trickled headers", "temporary: took longer than 1 s"),
    ],
)
def test_a_hostile_encoding_or_pace_fails_its_page_alone(
    session_factory: sessionmaker[Session], extractor: Extractor, misbehaviour: str, error: str
) -> None:
    """Bombs in other encodings and headers sent a byte at a time fail their page; others go on."""
    behaviours: dict[str, Behaviour] = {
        "brotli bomb": brotli_bomb(),
        "stacked gzip bomb": stacked_gzip_bomb(),
        "trickled headers": trickled_headers(pause=0.2),
    }
    bad_routes = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": behaviours[misbehaviour],
    }
    settings = Settings(http=replace(SETTINGS.http, total_timeout=1.0, max_body_bytes=1_000_000))
    with (
        serve(bad_routes) as bad,
        serve(GOOD_ROUTES) as good,
        build_client(settings.http) as client,
    ):
        hostile = replace(_source(bad.url("/feed")), name="hostile")
        summary = fetch_sources(
            session_factory, client, [hostile, _good_source(good.base_url)], settings
        )
    reports = {report.name: report for report in summary.sources}
    assert reports["hostile"].errors == [f"{bad.url('/a/1')}: {error}"]
    assert reports["hostile"].stored == 0
    assert (reports["good"].stored, reports["good"].status) == (2, "ok")
    with unit_of_work(session_factory) as session:
        took = session.scalars(select(Fetch.duration_ms).where(Fetch.url == bad.url("/a/1"))).all()
    assert len(took) == 1
    assert took[0] < 3000  # 3 times the total time, where trickled headers used to last 5 s
    _extracted_in_the_same_run(session_factory, extractor, {good.url("/a/1"), good.url("/a/2")})


def test_credentials_in_a_source_url_are_used_and_never_stored_or_shown(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Basic-auth credentials in sources.yaml reach the server, and no table, log or summary."""
    monkeypatch.setenv("NEWSTRACK_RETRIES", "0")
    monkeypatch.setenv("NEWSTRACK_PER_HOST_INTERVAL", "0")
    password = "pw-9f8e7d6c"
    guarded = {
        "/feed": _feed(3),
        "/a/1": PAGE.format(title="Story 1", day="Sept. 1").encode(),
    }
    routes: dict[str, Behaviour] = {
        path: basic_auth("reader", password, respond(200, body, content_type="text/html"))
        for path, body in guarded.items()
    }
    routes["/a/2"] = basic_auth("reader", password, respond(500, b"oops"))
    routes["/a/3"] = basic_auth("reader", password, redirect("http://10.0.0.1/a/3"))
    database = f"sqlite:///{tmp_path / 'credentials.db'}"
    with serve(routes) as server:
        port = server.server_address[1]
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "version: 1\nsources:\n  - name: members\n    kind: rss\n    urls:\n"
            f"      - http://reader:{password}@127.0.0.1:{port}/feed\n"
            "    article:\n      text: article\n",
            encoding="utf-8",
        )
        caplog.set_level(logging.DEBUG)
        arguments = ["--db", database, "--sources", str(sources)]
        codes = [main([*arguments, "--json", "fetch"]), main([*arguments, "fetch"])]
        statuses = [(r.path, r.headers.get("authorization")) for r in server.requests]
    printed = capsys.readouterr()
    assert codes == [3, 3]  # partial: /a/2 and /a/3 fail, with their URLs named
    # robots.txt is asked for without them (a 401 there means "no rules"); every page with them.
    assert {path for path, auth in statuses if auth is None} == {"/robots.txt"}
    assert {path for path, auth in statuses if auth is not None} == {
        "/feed",
        "/a/1",
        "/a/2",
        "/a/3",
    }
    summary = json.loads(printed.out.split("\n}\n")[0] + "\n}")
    assert summary["sources"][0]["stored"] == 1
    with open_engine(database) as engine:
        texts = list(_every_text(engine))
    assert any(f"127.0.0.1:{port}/feed" in value for value in texts)  # the URL, without them
    for where, shown in [
        ("stdout", printed.out),
        ("stderr", printed.err),
        ("logs", caplog.text),
        *(("database", value) for value in texts),
    ]:
        assert password not in shown, where
        assert "reader:" not in shown, where


def _every_text(engine: Engine) -> Iterator[str]:
    """Every text value in every column of every table."""
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                yield from (str(value) for value in row if isinstance(value, str | bytes))


# Hostile pages (issue 17, items 3, 7, 14): each served next to a good source, through the job
# functions `newstrack run` calls, fetching then extracting in the same run.
HOSTILE_PAGE = PAGE.format(title="Story 1", day="Sept. 1")


def _hostile_page(misbehaviour: str) -> Behaviour:
    """The article page of the bad source, with one hostile trait."""
    html = "text/html; charset=utf-8"
    meta = '<head><meta charset="{}">'
    if misbehaviour.startswith("header charset="):
        charset = misbehaviour.removeprefix("header charset=")
        return respond(200, HOSTILE_PAGE.encode(), content_type=f"text/html; charset={charset}")
    if misbehaviour.startswith("meta charset="):
        charset = misbehaviour.removeprefix("meta charset=")
        body = HOSTILE_PAGE.replace("<head>", meta.format(charset)).encode()
        return respond(200, body, content_type="text/html")
    if misbehaviour == "JSON-LD 100k deep":
        script = '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000
        body = HOSTILE_PAGE.replace("<head>", "<head>" + script + "</script>").encode()
        return respond(200, body, content_type=html)
    assert misbehaviour == "HTML 100k deep"
    # Inside the article the selectors pick: its boilerplate pass was quadratic in the depth.
    deep = "<div>" * 100_000 + "<p>Gallium.</p>" + "</div>" * 100_000
    return respond(
        200, HOSTILE_PAGE.replace("<article>", "<article>" + deep).encode(), content_type=html
    )


@pytest.mark.parametrize(
    ("misbehaviour", "stored", "outcome"),
    [
        # A charset that is no text encoding of a page is passed over: the page is read anyway.
        ("header charset=undefined", 1, "success"),
        ("header charset=punycode", 1, "success"),
        ("header charset=idna", 1, "success"),
        ("header charset=rot13", 1, "success"),
        ("header charset=base64", 1, "success"),
        ("meta charset=undefined", 1, "success"),
        ("meta charset=punycode", 1, "success"),
        ("meta charset=zlib", 1, "success"),
        ("JSON-LD 100k deep", 1, "success"),  # its dates are not read; the page is
        ("HTML 100k deep", 0, "hard"),  # refused, as that page's own error
    ],
)
def test_a_hostile_page_fails_alone_and_the_run_goes_on(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    misbehaviour: str,
    stored: int,
    outcome: str,
) -> None:
    """A hostile page is read or refused alone; the good source is stored and extracted."""
    bad_routes = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _hostile_page(misbehaviour),
    }
    settings = Settings(http=replace(SETTINGS.http, max_body_bytes=5_000_000))
    with (
        serve(bad_routes) as bad,
        serve(GOOD_ROUTES) as good,
        build_client(settings.http) as client,
    ):
        sources = [
            SourceConfig("bad", "rss", (bad.url("/feed"),), article=ArticleSelectors("article")),
            SourceConfig("good", "rss", (good.url("/feed"),), article=ArticleSelectors("article")),
        ]
        started = time.perf_counter()
        fetched = fetch_sources(session_factory, client, sources, settings)
        extracted = extract_pending(session_factory, extractor)
        elapsed = time.perf_counter() - started
    assert elapsed < 60  # a hang guard only: the work is counted by the parse tests
    reports = {report.name: report for report in fetched.sources}
    assert (reports["good"].stored, reports["good"].status) == (2, "ok")
    assert reports["bad"].stored == stored
    with unit_of_work(session_factory) as session:
        outcomes = set(session.scalars(select(Fetch.outcome).where(Fetch.url == bad.url("/a/1"))))
        statuses = dict(session.execute(select(Article.url, Article.extraction_status)).all())
    assert outcomes == {outcome}
    assert statuses[good.url("/a/1")] != "pending"
    assert statuses[good.url("/a/2")] != "pending"
    assert extracted.articles == 2 + stored
    if stored:
        assert reports["bad"].status == "ok"
    else:  # the run is partial: the error names the page and what was wrong with it
        assert reports["bad"].status == "failed"
        assert fetched.failed == [reports["bad"]]
        assert bad.url("/a/1") in reports["bad"].errors[0]
        assert "nested" in reports["bad"].errors[0]


def test_an_unexpected_error_fails_its_item_and_its_source_alone(
    session_factory: sessionmaker[Session],
    extractor: Extractor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any exception reading a page is that page's error, classified; the other pages go on."""
    from pipeline.fetching import reading

    real = reading.extract_page

    def explode_on_first(body: bytes, url: str, *args: object, **kwargs: object) -> object:
        if url.endswith("/a/1") and "bad" in body.decode():
            raise UnicodeError("a codec no page should name")
        return real(body, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reading, "extract_page", explode_on_first)
    bad_page = PAGE.format(title="bad", day="Sept. 1").encode()
    bad_routes = {
        "/feed": respond(200, _feed(2), content_type="application/rss+xml"),
        "/a/1": respond(200, bad_page, content_type="text/html; charset=utf-8"),
        "/a/2": _page(2),
    }
    good_routes = {
        "/feed": respond(200, _feed(1), content_type="application/rss+xml"),
        "/a/1": _page(3),
    }
    with (
        serve(bad_routes) as bad,
        serve(good_routes) as good,
        build_client(SETTINGS.http) as client,
    ):
        sources = [
            SourceConfig("bad", "rss", (bad.url("/feed"),), article=ArticleSelectors("article")),
            SourceConfig("good", "rss", (good.url("/feed"),), article=ArticleSelectors("article")),
        ]
        fetched = fetch_sources(session_factory, client, sources, SETTINGS)
        extract_pending(session_factory, extractor)
    reports = {report.name: report for report in fetched.sources}
    assert (reports["bad"].stored, reports["bad"].status) == (1, "partial")
    assert reports["bad"].errors == [
        f"{bad.url('/a/1')}: hard: {bad.url('/a/1')}: UnicodeError: a codec no page should name"
    ]
    assert (reports["good"].stored, reports["good"].status) == (1, "ok")
    with unit_of_work(session_factory) as session:
        outcome = session.scalar(select(Fetch.outcome).where(Fetch.url == bad.url("/a/1")))
        pending = session.scalar(
            select(func.count()).select_from(Article).where(Article.extraction_status == "pending")
        )
    assert (outcome, pending) == ("hard", 0)


def test_a_source_whose_handling_raises_fails_alone(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception outside any one item fails that source; the others are fetched."""
    from pipeline.flows import fetch

    real = fetch._items_of

    def explode_for_bad(source: SourceConfig, *args: object) -> object:
        if source.name == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return real(source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch, "_items_of", explode_for_bad)
    routes = {"/feed": respond(200, _feed(1), content_type="application/rss+xml"), "/a/1": _page(1)}
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        sources = [
            replace(_source(server.url("/feed")), name="bad"),
            replace(_source(server.url("/feed?good")), name="good"),
        ]
        fetched = fetch_sources(session_factory, client, sources, SETTINGS)
    reports = {report.name: report for report in fetched.sources}
    assert reports["bad"].status == "failed"
    assert "RecursionError" in reports["bad"].errors[0]
    assert (reports["good"].stored, reports["good"].status) == (1, "ok")


CONTROLLED_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>Gallium \x1b[31mcurbs\x1b[0m\x07 widen\u202e</title><link>/a/1</link>"
    "<description>Teaser</description></item></channel></rss>"
).encode()


def test_stored_articles_hold_no_terminal_controls(session_factory: sessionmaker[Session]) -> None:
    """Escape sequences and control characters of a feed and its page never reach the database."""
    page = PAGE.format(title="Story", day="Sept. 1").replace(
        "imposed export", "imposed \x1b]0;pwned\x07export\x9b2J"
    )
    routes = {
        "/feed": respond(200, CONTROLLED_FEED, content_type="application/rss+xml"),
        "/a/1": respond(200, page.encode(), content_type="text/html; charset=utf-8"),
    }
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        fetch_sources(session_factory, client, [_source(server.url("/feed"))], SETTINGS)
    with unit_of_work(session_factory) as session:
        title, text = session.execute(select(Article.title, Article.text)).one()
    assert title == "Gallium curbs widen"
    assert "China's Commerce Ministry imposed export controls on gallium" in text
    assert "\n\n" in text  # paragraphs keep their breaks
    controls = [c for c in title + text if (ord(c) < 32 and c not in "\t\n") or 127 <= ord(c) < 160]
    assert controls == []


def test_a_feed_entry_with_hostile_content_fails_alone(
    session_factory: sessionmaker[Session], extractor: Extractor
) -> None:
    """Full text nested 100,000 deep fails its entry, named; the feed's other entry is stored."""
    deep = "&lt;div&gt;" * 100_000 + "gallium" + "&lt;/div&gt;" * 100_000
    feed = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"<item><title>Deep</title><link>/deep</link><content:encoded>{deep}</content:encoded></item>"
        "<item><title>Story 1</title><link>/a/1</link><description>Teaser</description></item>"
        "</channel></rss>"
    ).encode()
    routes = {"/feed": respond(200, feed, content_type="application/rss+xml"), "/a/1": _page(1)}
    with serve(routes) as server, build_client(SETTINGS.http) as client:
        fetched = fetch_sources(session_factory, client, [_source(server.url("/feed"))], SETTINGS)
        extract_pending(session_factory, extractor)
    (report,) = fetched.sources
    assert (report.stored, report.status) == (1, "partial")
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{server.url('/deep')}: TooDeep: HTML nested")
    with unit_of_work(session_factory) as session:
        statuses = list(session.scalars(select(Article.extraction_status)))
    assert len(statuses) == 1 and statuses != ["pending"]
