"""The WordPress posts API: URLs, parsing, and page walks against real servers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import ConfigError, FetchError
from models.fetched import FetchOutcome, FetchResult
from pipeline.config.settings import HttpSettings
from pipeline.fetching.feeds import FeedEntry, has_full_text
from pipeline.fetching.guards import ParseError
from pipeline.fetching.http import build_client, fetch
from pipeline.fetching.wordpress import (
    BackfillError,
    WordPressPost,
    backfill,
    parse_posts,
    posts_url,
    site_of,
    total_pages,
)
from tests.servers import Behaviour, Handler, LoopbackHTTPServer, respond, serve

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"
API = "/wp-json/wp/v2/posts"
FIELDS = "id,date_gmt,modified_gmt,link,title,content,excerpt"
JSON = "application/json; charset=UTF-8"
WP_HEADERS = {"X-WP-Total": "6", "X-WP-TotalPages": "2"}
OUT_OF_RANGE = json.dumps(
    {
        "code": "rest_post_invalid_page_number",
        "message": "The page number requested is larger than the number of pages available.",
        "data": {"status": 400},
    }
).encode()
SITE = "https://critical-minerals-desk.example"
SETTINGS = HttpSettings(
    user_agent="newstrack-tests/1.0 (+https://example.org/bot)",
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    retries=0,
)
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
ALL_IDS = [4101, 4117, 4130, 4152, 4166, 4189]


def _fixture(page: int) -> bytes:
    """The bytes of a fixture page."""
    return (FIXTURES / f"posts-page-{page}.json").read_bytes()


def _query(url: str) -> dict[str, list[str]]:
    """The query parameters of a URL or request path."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _by_page(pages: Mapping[int, Behaviour]) -> Behaviour:
    """Answer each ?page=N with its behaviour; any other page is WordPress's out-of-range 400."""
    beyond = respond(400, OUT_OF_RANGE, content_type=JSON)

    def behave(handler: Handler) -> None:
        page = int(_query(handler.path).get("page", ["1"])[0])
        pages.get(page, beyond)(handler)

    return behave


def _posts(page: int, headers: Mapping[str, str] | None = WP_HEADERS) -> Behaviour:
    """A fixture page as WordPress serves it."""
    return respond(200, _fixture(page), headers, content_type=JSON)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """A client with the test settings, shared by the module."""
    with build_client(SETTINGS) as http:
        yield http


def _getter(client: httpx.Client) -> Callable[[str], FetchResult]:
    """A `get` for backfill, as production builds it from fetch."""
    return lambda url: fetch(client, url, SETTINGS)


def _walk(
    client: httpx.Client,
    pages: Mapping[int, Behaviour],
    since: datetime = SINCE,
    modified: bool = False,
    max_pages: int = 50,
) -> tuple[list[WordPressPost], LoopbackHTTPServer]:
    """Backfill from a loopback WordPress serving `pages`; the posts and the server afterwards."""
    with serve({API: _by_page(pages)}) as server:
        posts = list(
            backfill(_getter(client), server.url("/feed/"), since, modified, max_pages=max_pages)
        )
    return posts, server


# URLs


def test_posts_url_asks_oldest_first_after_a_date() -> None:
    """The URL carries per_page, page, date order, `after` as naive ISO 8601 and the fields."""
    url = posts_url("https://rareearthexchanges.com/", 2, per_page=50, after=datetime(2025, 5, 1))
    assert url.startswith("https://rareearthexchanges.com/wp-json/wp/v2/posts?")
    assert _query(url) == {
        "per_page": ["50"],
        "page": ["2"],
        "orderby": ["date"],
        "order": ["asc"],
        "after": ["2025-05-01T00:00:00"],
        "_fields": [FIELDS],
    }
    assert "after=2025-05-01T00:00:00&" in url  # readable, as WordPress documents it
    assert f"_fields={FIELDS}" in url


def test_posts_url_orders_by_modification_when_asked() -> None:
    """`modified_after` switches the order to the modification date."""
    url = posts_url(
        "https://rareearthexchanges.com/", 1, modified_after=datetime(2025, 4, 1, 6, 30, tzinfo=UTC)
    )
    query = _query(url)
    assert query["orderby"] == ["modified"]
    assert query["order"] == ["asc"]
    assert query["modified_after"] == ["2025-04-01T06:30:00"]
    assert query["per_page"] == ["100"]
    assert "after" not in query


def test_posts_url_without_dates_has_no_date_filter() -> None:
    """With neither date, the URL asks for everything by publication date."""
    query = _query(posts_url("https://rareearthexchanges.com/", 1))
    assert "after" not in query
    assert "modified_after" not in query
    assert query["orderby"] == ["date"]


def test_posts_url_dates_are_utc_without_fractions() -> None:
    """A zoned datetime is converted to UTC and written without zone or microseconds."""
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2025, 5, 1, 8, 0, 0, 123456, tzinfo=beijing)
    assert _query(posts_url(SITE, 1, after=moment))["after"] == ["2025-05-01T00:00:00"]


def test_posts_url_keeps_a_site_in_a_folder() -> None:
    """A site installed under /blog (with or without the slash) keeps its folder."""
    for site in ("https://example.org/blog", "https://example.org/blog/"):
        assert posts_url(site, 1).startswith("https://example.org/blog/wp-json/wp/v2/posts?")


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 101)])
def test_posts_url_refuses_pages_wordpress_refuses(page: int, per_page: int) -> None:
    """Page 0 and per_page outside 1..100 are programming errors, not requests."""
    with pytest.raises(ValueError, match="out of range"):
        posts_url(SITE, page, per_page=per_page)


@pytest.mark.parametrize(
    ("feed_url", "site"),
    [
        ("https://rareearthexchanges.com/feed/", "https://rareearthexchanges.com/"),
        ("https://rareearthexchanges.com/feed", "https://rareearthexchanges.com/"),
        ("https://rareearthexchanges.com/feed/atom/", "https://rareearthexchanges.com/"),
        ("https://rareearthexchanges.com/comments/feed/", "https://rareearthexchanges.com/"),
        ("https://rareearthexchanges.com/category/china/feed/", "https://rareearthexchanges.com/"),
        ("https://example.org/blog/feed/", "https://example.org/blog/"),
        ("https://example.org/?feed=rss2", "https://example.org/"),
        ("http://127.0.0.1:8080/feed/#top", "http://127.0.0.1:8080/"),
    ],
)
def test_site_of_finds_the_site_root(feed_url: str, site: str) -> None:
    """Feed, comment and archive feed URLs all lead to the site root, folder and port kept."""
    assert site_of(feed_url) == site


@pytest.mark.parametrize("feed_url", ["ftp://example.org/feed/", "feed.xml", "http://[::1/feed"])
def test_site_of_refuses_what_is_not_an_http_url(feed_url: str) -> None:
    """A feed URL that is not http(s) is a configuration error naming it."""
    with pytest.raises(ConfigError, match="not an http"):
        site_of(feed_url)


# Parsing


def test_parse_posts_reads_the_fixture() -> None:
    """Ids, links, decoded titles, GMT dates as UTC and the rendered HTML come out in order."""
    posts = parse_posts(_fixture(1), SITE + API)
    assert [post.id for post in posts] == ALL_IDS[:3]
    first = posts[0]
    assert first.url == f"{SITE}/2025/01/china-gallium-germanium-ban-us-shipments/"
    assert first.title == "China\u2019s Gallium & Germanium Ban Reaches U.S. Buyers"
    assert posts[1].title == "U.S. Adds 10% Tariff on Chinese Imports \u2013 Minerals Included"
    # date_gmt, not the site's local `date` five hours earlier
    assert first.published == datetime(2025, 1, 6, 14, 15, tzinfo=UTC)
    assert first.modified == datetime(2025, 1, 6, 14, 40, 12, tzinfo=UTC)
    assert first.published.utcoffset() == timedelta(0)
    assert first.html.startswith("<p>China&#8217;s Ministry of Commerce has banned exports")
    assert first.html.count("<p>") == 4
    assert first.excerpt.startswith("<p>China&#8217;s Ministry")


def test_parse_posts_keeps_modification_dates_apart() -> None:
    """An edited post has its later modified_gmt, its published date unchanged."""
    edited = parse_posts(_fixture(2), SITE + API)[0]
    assert edited.title == "Terbium, Dysprosium & Five More: China\u2019s New Rare Earth Controls"
    assert edited.published == datetime(2025, 4, 7, 11, 30, tzinfo=UTC)
    assert edited.modified == datetime(2025, 4, 9, 20, 5, 41, tzinfo=UTC)


def test_title_tags_are_dropped_without_spaces() -> None:
    """Inline tags in a title vanish without splitting words; escaped markup stays text."""
    item = json.loads(_fixture(1))[0]
    item["title"]["rendered"] = "<em>Gallium</em>-linked  &lt;b&gt; curbs"
    (post,) = parse_posts(json.dumps([item]).encode(), SITE + API)
    assert post.title == "Gallium-linked <b> curbs"


def test_to_entry_gives_a_full_text_feed_entry() -> None:
    """A long post becomes a FeedEntry with the whole article; a short one stays a teaser."""
    long_post, short_post, _ = parse_posts(_fixture(1), SITE + API)
    entry = long_post.to_entry()
    assert entry == FeedEntry(
        url=long_post.url,
        title=long_post.title,
        published=long_post.published,
        summary=long_post.excerpt,
        content_html=long_post.html,
        guid="https://critical-minerals-desk.example/?p=4101",  # as WordPress feeds write it
    )
    assert has_full_text(entry)
    assert not has_full_text(short_post.to_entry())


def test_a_bad_item_is_skipped_and_the_rest_kept() -> None:
    """Items without a date, with a boolean id or a non-http link are skipped; good ones stay."""
    good = json.loads(_fixture(1))
    no_date = {**good[0], "date_gmt": None}
    bool_id = {**good[0], "id": True}
    bad_link = {**good[0], "link": "javascript:alert(1)"}
    body = json.dumps([no_date, good[1], bool_id, "a string", bad_link, good[2]]).encode()
    assert [post.id for post in parse_posts(body, SITE + API)] == ALL_IDS[1:3]


def test_an_empty_list_is_no_posts() -> None:
    """An empty page is an empty list, not an error."""
    assert parse_posts(b"[]", SITE + API) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'[{"id": 1', "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[" * 100_000, "not JSON"),  # nested too deep for the JSON parser
        (b'{"id": 1, "link": "https://example.org/"}', "expected a list of posts, got a JSON dict"),
        (b"42", "expected a list of posts, got a JSON int"),
        (b'[{"id": 1}, {"id": 2}]', "none of the 2 items is a readable post"),
        (b'{"code": "rest_forbidden", "message": "Sorry."}', "WordPress error rest_forbidden"),
    ],
)
def test_bodies_that_are_not_posts_raise(body: bytes, problem: str) -> None:
    """Malformed JSON, a non-list or a list without any post raise ParseError naming the URL."""
    with pytest.raises(ParseError) as raised:
        parse_posts(body, "https://example.org/wp-json/wp/v2/posts?page=1")
    assert str(raised.value).startswith("https://example.org/wp-json/wp/v2/posts?page=1: ")
    assert problem in str(raised.value)


def test_html_challenge_page_raises() -> None:
    """A challenge page served instead of JSON is a ParseError that says so."""
    page = b"\n<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"
    with pytest.raises(ParseError, match=r"^https://example\.org/x: HTML instead of JSON"):
        parse_posts(page, "https://example.org/x")


@given(st.binary())
def test_parse_posts_raises_only_parse_error_on_any_bytes(body: bytes) -> None:
    """Arbitrary bytes give a list of posts or a ParseError, never another exception."""
    try:
        posts = parse_posts(body, "https://example.org/x")
    except ParseError:
        return
    assert all(isinstance(post, WordPressPost) for post in posts)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "link", "title", "content", "rendered", "date_gmt", "code"])
            | st.text(max_size=3),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@given(st.lists(JSON_VALUES, max_size=5))
def test_parse_posts_raises_only_parse_error_on_any_json_list(items: list[object]) -> None:
    """Lists of arbitrary JSON values (post-like keys included) never raise but ParseError."""
    try:
        posts = parse_posts(json.dumps(items).encode(), "https://example.org/x")
    except ParseError:
        return
    assert len(posts) <= len(items)
    assert all(post.published.tzinfo is UTC for post in posts)


@given(
    st.sampled_from(["id", "link", "title", "content", "excerpt", "date_gmt", "modified_gmt"]),
    JSON_VALUES,
)
def test_a_damaged_field_gives_a_post_or_parse_error(field: str, value: object) -> None:
    """A real post with one field replaced by any JSON value is read or refused, never crashes."""
    item = json.loads(_fixture(1))[0]
    item[field] = value
    try:
        posts = parse_posts(json.dumps([item]).encode(), "https://example.org/x")
    except ParseError as error:
        assert str(error) == "https://example.org/x: none of the 1 items is a readable post"
        return
    assert [post.id for post in posts] == [item["id"]]


@pytest.mark.parametrize(
    ("headers", "pages"),
    [
        ({"x-wp-totalpages": "2", "x-wp-total": "6"}, 2),
        ({"X-WP-TotalPages": " 7 "}, 7),
        ({"x-wp-totalpages": "0"}, 0),
        ({"x-wp-totalpages": "many"}, None),
        ({"x-wp-total": "6"}, None),
    ],
)
def test_total_pages_reads_the_header(headers: dict[str, str], pages: int | None) -> None:
    """X-WP-TotalPages is read as a number; absent or unreadable is None."""
    assert total_pages(headers) == pages


# Walking the pages


def test_backfill_walks_both_pages_in_order_and_stops(client: httpx.Client) -> None:
    """Six posts in order from pages 1 and 2; X-WP-TotalPages stops it before asking page 3."""
    posts, server = _walk(client, {1: _posts(1), 2: _posts(2), 3: respond(200, b"[]")})
    assert [post.id for post in posts] == ALL_IDS
    queries = [_query(path) for path in server.paths()]
    assert [query["page"] for query in queries] == [["1"], ["2"]]
    assert all(urlsplit(path).path == API for path in server.paths())
    # a day before `since`: WordPress compares `after` with the site's local time
    assert queries[0]["after"] == ["2024-12-31T00:00:00"]
    assert queries[0]["orderby"] == ["date"]


def test_backfill_drops_posts_published_before_since(client: httpx.Client) -> None:
    """Posts the day of margin let through, published before `since`, are not yielded."""
    since = datetime(2025, 2, 10, 13, 0, tzinfo=UTC)  # exactly when the third post went out
    posts, _ = _walk(client, {1: _posts(1), 2: _posts(2)}, since=since)
    assert [post.id for post in posts] == ALL_IDS[2:]


def test_backfill_by_modification_finds_edited_posts(client: httpx.Client) -> None:
    """With modified=True the walk asks by modification date and keeps posts edited since."""
    since = datetime(2025, 4, 9, tzinfo=UTC)
    posts, server = _walk(client, {1: _posts(1), 2: _posts(2)}, since=since, modified=True)
    assert [post.id for post in posts] == ALL_IDS[3:]  # 4152 was published April 7, edited April 9
    query = _query(server.paths()[0])
    assert query["orderby"] == ["modified"]
    assert query["modified_after"] == ["2025-04-08T00:00:00"]
    assert "after" not in query


def test_out_of_range_page_ends_the_walk(client: httpx.Client) -> None:
    """Without a page count, WordPress's 400 rest_post_invalid_page_number ends the walk quietly."""
    posts, server = _walk(client, {1: _posts(1, headers=None)})
    assert [post.id for post in posts] == ALL_IDS[:3]
    assert [_query(path)["page"] for path in server.paths()] == [["1"], ["2"]]


def test_empty_page_ends_the_walk(client: httpx.Client) -> None:
    """Without a page count, the first empty page ends the walk."""
    pages = {1: _posts(1, headers=None), 2: respond(200, b"[]", content_type=JSON)}
    posts, server = _walk(client, {**pages, 3: _posts(2, headers=None)})
    assert [post.id for post in posts] == ALL_IDS[:3]
    assert len(server.paths()) == 2


def test_max_pages_bounds_the_walk(client: httpx.Client) -> None:
    """max_pages stops a walk the server would let go on."""
    posts, server = _walk(client, {1: _posts(1, None), 2: _posts(2, None)}, max_pages=1)
    assert [post.id for post in posts] == ALL_IDS[:3]
    assert len(server.paths()) == 1


def test_a_post_seen_twice_is_yielded_once(client: httpx.Client) -> None:
    """A post that shows up again on a later page (edited mid-walk) is yielded only once."""
    pages = {1: _posts(1, None), 2: _posts(1, None), 3: respond(200, b"[]", content_type=JSON)}
    posts, server = _walk(client, pages)
    assert [post.id for post in posts] == ALL_IDS[:3]
    assert len(server.paths()) == 3


def test_server_error_raises_naming_url_and_outcome(client: httpx.Client) -> None:
    """A 500 on a page raises BackfillError with that page's URL, the outcome and the status."""
    with (
        serve({API: _by_page({1: _posts(1), 2: respond(500, b"oops")})}) as server,
        pytest.raises(BackfillError) as raised,
    ):
        list(backfill(_getter(client), server.url("/feed/"), SINCE))
    error = raised.value
    assert isinstance(error, FetchError)
    assert error.url == posts_url(server.url("/"), 2, after=SINCE - timedelta(days=1))
    assert str(error) == f"{error.url}: temporary: HTTP 500"
    assert error.outcome == FetchOutcome.TEMPORARY
    assert error.status_code == 500


def test_bad_request_on_the_first_page_raises(client: httpx.Client) -> None:
    """A 400 on page 1 cannot be "page out of range": it is an error, not an empty history."""
    with (
        serve({API: respond(400, OUT_OF_RANGE, content_type=JSON)}) as server,
        pytest.raises(BackfillError, match=r"page=1&.*: soft: HTTP 400$"),
    ):
        list(backfill(_getter(client), server.url("/feed/"), SINCE))


def test_other_400_code_on_a_later_page_raises() -> None:
    """A 400 whose body names another error than page out of range is not the end of the walk."""
    first = FetchResult("u", "u", FetchOutcome.SUCCESS, 200, _fixture(1))
    invalid = b'{"code": "rest_invalid_param", "message": "Invalid parameter(s): after"}'
    second = FetchResult("u", "u", FetchOutcome.SOFT, 400, invalid, error="HTTP 400")
    answers = iter([first, second])
    with pytest.raises(BackfillError, match="soft: HTTP 400"):
        list(backfill(lambda url: next(answers), SITE + "/feed/", SINCE))


def test_html_instead_of_json_raises_parse_error(client: httpx.Client) -> None:
    """A 200 HTML challenge page where the posts should be raises ParseError naming the URL."""
    page = b"<!DOCTYPE html><html><body>Checking your browser before accessing</body></html>"
    with (
        serve({API: respond(200, page, content_type="text/html")}) as server,
        pytest.raises(ParseError) as raised,
    ):
        list(backfill(_getter(client), server.url("/feed/"), SINCE))
    assert str(raised.value).startswith(server.url(API + "?per_page=100&page=1&"))
    assert "HTML instead of JSON" in str(raised.value)


def test_unusable_feed_url_raises_before_any_request() -> None:
    """A feed URL that is not http(s) raises ConfigError and nothing is fetched."""
    asked: list[str] = []

    def get(url: str) -> FetchResult:
        asked.append(url)
        return FetchResult(url, url, FetchOutcome.SUCCESS, 200, b"[]")

    with pytest.raises(ConfigError):
        list(backfill(get, "feed.xml", SINCE))
    assert asked == []
