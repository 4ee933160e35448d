"""The WordPress posts API (/wp-json/wp/v2/posts): history and edits a feed no longer shows."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from models.errors import ConfigError, FetchError
from models.fetched import FetchResult
from models.urls import absolute_url
from pipeline.fetching.feeds import FeedEntry
from pipeline.fetching.guards import ParseError
from pipeline.fetching.times import parse_datetime

POSTS_PATH = "wp-json/wp/v2/posts"
FIELDS = ("id", "date_gmt", "modified_gmt", "link", "title", "content", "excerpt")
MAX_PER_PAGE = 100  # WordPress answers 400 to a larger per_page
OUT_OF_RANGE_CODE = "rest_post_invalid_page_number"
# Path segments that end a WordPress site root in a feed URL: /feed/, /comments/feed/,
# /category/x/feed/, /tag/x/feed/, /author/x/feed/ all belong to the site before them.
ARCHIVE_SEGMENTS = frozenset({"feed", "comments", "category", "tag", "author"})
# WordPress compares `after` with the site's local post date, not the GMT one; asking a day early
# covers every UTC offset, and the posts before `since` are dropped here by their GMT dates.
LOCAL_TIME_MARGIN = timedelta(days=1)
TAG = re.compile(r"<[^>]*>")


class BackfillError(FetchError):
    """A page of the posts API could not be fetched; names the URL and the fetch outcome."""

    def __init__(self, url: str, result: FetchResult) -> None:
        super().__init__(
            f"{url}: {result.outcome}: {result.error}", result.outcome, result.status_code
        )
        self.url = url


@dataclass(frozen=True)
class WordPressPost:
    """One post of the WordPress REST API, reduced to what newstrack uses."""

    id: int
    url: str
    title: str
    published: datetime
    modified: datetime
    html: str
    excerpt: str = ""

    def to_entry(self) -> FeedEntry:
        """The post as a feed entry, so the rest of the pipeline treats it like a feed item."""
        return FeedEntry(
            url=self.url,
            title=self.title,
            published=self.published,
            summary=self.excerpt,
            content_html=self.html,
            guid=self.guid,
        )

    @property
    def guid(self) -> str:
        """The GUID WordPress puts in its feeds for this post, so feed and API items match."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/?p={self.id}"


def site_of(feed_url: str) -> str:
    """The WordPress site root of a feed URL, with a trailing slash (…/feed/ → …/)."""
    try:
        parts = urlsplit(feed_url.strip())
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # "http://[broken": not a URL at all
        usable = False
    if not usable:
        raise ConfigError(f"{feed_url}: not an http(s) feed URL")
    segments = parts.path.split("/")[1:]
    cut = next((n for n, part in enumerate(segments) if part in ARCHIVE_SEGMENTS), None)
    if cut is None:
        cut = len(segments) - 1  # no marker: the folder of the feed ("/index.php" → "/")
    path = "/" + "".join(f"{part}/" for part in segments[:cut] if part)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def posts_url(
    site: str,
    page: int,
    per_page: int = MAX_PER_PAGE,
    after: datetime | None = None,
    modified_after: datetime | None = None,
) -> str:
    """The URL of one page of posts, oldest first (by modification with `modified_after`)."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"page {page} / per_page {per_page} out of range")
    params = [
        ("per_page", str(per_page)),
        ("page", str(page)),
        ("orderby", "modified" if modified_after is not None else "date"),
        ("order", "asc"),
    ]
    if after is not None:
        params.append(("after", _wordpress_time(after)))
    if modified_after is not None:
        params.append(("modified_after", _wordpress_time(modified_after)))
    params.append(("_fields", ",".join(FIELDS)))
    root = site if site.endswith("/") else site + "/"
    return urljoin(root, POSTS_PATH) + "?" + urlencode(params, safe=",:")


def parse_posts(body: bytes, url: str) -> list[WordPressPost]:
    """Posts of one API page; a bad item is skipped, a body that is not posts is a ParseError."""
    data = _json(body, url)
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        raise ParseError(f"{url}: WordPress error {data['code']}: {data.get('message', '')}")
    if not isinstance(data, list):
        raise ParseError(f"{url}: expected a list of posts, got a JSON {type(data).__name__}")
    posts = [post for post in (_post(item, url) for item in data) if post is not None]
    if data and not posts:
        raise ParseError(f"{url}: none of the {len(data)} items is a readable post")
    return posts


def total_pages(headers: Mapping[str, str]) -> int | None:
    """The page count WordPress announces in X-WP-TotalPages; None when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "x-wp-totalpages"), None)
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def backfill(
    get: Callable[[str], FetchResult],
    feed_url: str,
    since: datetime,
    modified: bool = False,
    max_pages: int = 50,
) -> Iterator[WordPressPost]:
    """Posts published (or, with `modified`, modified) at or after `since`, oldest first.

    Walks pages 1, 2, … until X-WP-TotalPages, an empty page, WordPress's "page out of range"
    or `max_pages`. A failed fetch raises BackfillError; a body that is not posts, ParseError.
    """
    site = site_of(feed_url)
    since = _utc(since)
    early = since - LOCAL_TIME_MARGIN
    seen: set[int] = set()
    for page in range(1, max_pages + 1):
        url = posts_url(
            site,
            page,
            after=None if modified else early,
            modified_after=early if modified else None,
        )
        result = get(url)
        if not result.ok:
            if page > 1 and _out_of_range(result):
                return
            raise BackfillError(url, result)
        posts = parse_posts(result.body, url)
        if not posts:
            return
        for post in posts:
            # An edit during the walk moves a post to the end of a by-modified listing: yield once.
            if post.id not in seen and (post.modified if modified else post.published) >= since:
                seen.add(post.id)
                yield post
        pages = total_pages(result.headers)
        if pages is not None and page >= pages:
            return


def _out_of_range(result: FetchResult) -> bool:
    """Whether a failed page is WordPress saying there is no such page.

    Only the page number changed since page 1 succeeded, so a 400 after it means "no such page".
    The fetch layer drops error bodies; when one is there, its code must say so too.
    """
    if result.status_code != 400:
        return False
    if not result.body:
        return True
    try:
        data = json.loads(result.body)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("code") == OUT_OF_RANGE_CODE


def _json(body: bytes, url: str) -> Any:
    """The decoded JSON of a body; ParseError for HTML (a challenge or error page) or bad JSON."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise ParseError(f"{url}: HTML instead of JSON (a challenge or error page?)")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: "[[[[…" nested too deep
        raise ParseError(f"{url}: not JSON: {error}") from None


def _post(item: object, url: str) -> WordPressPost | None:
    """One post, or None when the item lacks a field newstrack needs."""
    if not isinstance(item, dict):
        return None
    post_id = item.get("id")
    link = item.get("link")
    title = _rendered(item, "title")
    content = _rendered(item, "content")
    published = _gmt(item.get("date_gmt"))
    modified = _gmt(item.get("modified_gmt"))
    absolute = absolute_url(url, link) if isinstance(link, str) and link.strip() else None
    if (
        not isinstance(post_id, int)
        or isinstance(post_id, bool)  # JSON true is not a post id
        or absolute is None
        or title is None
        or content is None
        or published is None
        or modified is None
    ):
        return None
    return WordPressPost(
        id=post_id,
        url=absolute,
        title=_plain(title),
        published=published,
        modified=modified,
        html=content,
        excerpt=_rendered(item, "excerpt") or "",
    )


def _rendered(item: Mapping[str, Any], name: str) -> str | None:
    """The `rendered` string of a field like {"title": {"rendered": "…"}}."""
    field = item.get(name)
    value = field.get("rendered") if isinstance(field, dict) else None
    return value if isinstance(value, str) else None


def _gmt(value: object) -> datetime | None:
    """A WordPress *_gmt stamp ("2025-05-01T08:30:00", no zone, UTC) as an aware datetime."""
    return parse_datetime(value) if isinstance(value, str) else None


def _plain(rendered: str) -> str:
    """Plain text of a rendered title: tags dropped (html_to_text spaces them), entities read."""
    return re.sub(r"\s+", " ", html.unescape(TAG.sub("", rendered))).strip()


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC, as parse_datetime does."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _wordpress_time(moment: datetime) -> str:
    """ISO 8601 without zone or fractions, as WordPress reads it: 2025-05-01T00:00:00."""
    return _utc(moment).replace(tzinfo=None, microsecond=0).isoformat()
