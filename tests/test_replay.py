"""Replaying a recorded snapshot through a real loopback server, with the original URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.errors import ConfigError
from models.fetched import FetchOutcome
from pipeline.config.settings import HttpSettings
from pipeline.fetching.http import build_client, fetch
from pipeline.fetching.replay import ReplayTransport, load_snapshot, request_key, serve_snapshot

SETTINGS = HttpSettings(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0, retries=0)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>one</title></channel></rss>'
OTHER_FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>two</title></channel></rss>'
ARTICLE = "<html><body><p>Café prices.</p></body></html>".encode()
MANIFEST = """\
# a tiny snapshot
responses:
  - url: https://example.org/feed?id=1
    file: example.org/feed-1.xml
    content_type: "application/rss+xml; charset=UTF-8"
    headers:
      Last-Modified: "Wed, 19 Nov 2025 14:51:07 GMT"
  - url: https://news.example.net/feed?id=1
    file: news.example.net/feed.xml
    content_type: "text/xml"
  - url: https://Example.org/news/a.html
    file: example.org/a.html
  - url: https://example.org/gone
    status: 404
  - url: https://example.org/old
    status: 301
    headers:
      Location: /news/a.html
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot folder: manifest.yaml and the bodies it names (read-only, so shared)."""
    tmp_path = tmp_path_factory.mktemp("snapshot")
    (tmp_path / "example.org").mkdir()
    (tmp_path / "news.example.net").mkdir()
    (tmp_path / "example.org" / "feed-1.xml").write_bytes(FEED)
    (tmp_path / "news.example.net" / "feed.xml").write_bytes(OTHER_FEED)
    (tmp_path / "example.org" / "a.html").write_bytes(ARTICLE)
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="module")
def replay(snapshot: Path) -> Iterator[httpx.Client]:
    """A newstrack client whose every request goes to the snapshot server (one for the module)."""
    with (
        serve_snapshot(snapshot) as server_url,
        build_client(SETTINGS, ReplayTransport(server_url)) as client,
    ):
        yield client


def test_serve_snapshot_is_on_loopback(snapshot: Path) -> None:
    """The snapshot server listens on 127.0.0.1 only."""
    with serve_snapshot(snapshot) as server_url:
        assert httpx.URL(server_url).host == "127.0.0.1"
        assert httpx.URL(server_url).port


def test_original_url_gets_its_recorded_body(replay: httpx.Client) -> None:
    """An https URL of the snapshot comes back with its body and recorded content type."""
    result = fetch(replay, "https://example.org/feed?id=1", SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.status_code == 200
    assert result.body == FEED
    assert result.headers["content-type"] == "application/rss+xml; charset=UTF-8"
    assert result.last_modified == "Wed, 19 Nov 2025 14:51:07 GMT"
    assert result.final_url == "https://example.org/feed?id=1"


def test_host_and_query_select_the_response(replay: httpx.Client) -> None:
    """The same path on another host is another response; another query is not recorded."""
    other = fetch(replay, "https://news.example.net/feed?id=1", SETTINGS)
    assert other.body == OTHER_FEED
    assert other.headers["content-type"] == "text/xml"
    unrecorded = fetch(replay, "https://example.org/feed?id=2", SETTINGS)
    assert unrecorded.outcome is FetchOutcome.HARD
    assert unrecorded.status_code == 404


def test_default_content_type_and_host_case(replay: httpx.Client) -> None:
    """A response without content_type is HTML in UTF-8; host names match in any case."""
    result = fetch(replay, "https://EXAMPLE.org/news/a.html", SETTINGS)
    assert result.body == ARTICLE
    assert result.headers["content-type"] == "text/html; charset=utf-8"


def test_recorded_404(replay: httpx.Client) -> None:
    """A response recorded with status 404 replays as a HARD 404."""
    result = fetch(replay, "https://example.org/gone", SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.status_code == 404
    assert result.error == "HTTP 404"


def test_unknown_url_is_404(replay: httpx.Client) -> None:
    """A URL not in the snapshot gets 404, never the network."""
    result = fetch(replay, "https://unrecorded.example.com/feed", SETTINGS)
    assert result.outcome is FetchOutcome.HARD
    assert result.status_code == 404


def test_recorded_redirect_is_followed_on_the_original_host(replay: httpx.Client) -> None:
    """A recorded 301 with a relative Location leads to the recorded target."""
    result = fetch(replay, "https://example.org/old", SETTINGS)
    assert result.outcome is FetchOutcome.SUCCESS
    assert result.final_url == "https://example.org/news/a.html"
    assert result.body == ARTICLE


def test_etag_conditional_fetch_is_not_modified(replay: httpx.Client) -> None:
    """The body-derived ETag makes a second, conditional fetch NOT_MODIFIED."""
    first = fetch(replay, "https://example.org/feed?id=1", SETTINGS)
    assert first.etag is not None
    second = fetch(replay, "https://example.org/feed?id=1", SETTINGS, etag=first.etag)
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert second.status_code == 304
    stale = fetch(replay, "https://example.org/feed?id=1", SETTINGS, etag='"something-else"')
    assert stale.outcome is FetchOutcome.SUCCESS
    assert stale.body == FEED


def test_etags_differ_between_bodies(replay: httpx.Client) -> None:
    """Two different bodies get two different ETags."""
    one = fetch(replay, "https://example.org/feed?id=1", SETTINGS).etag
    two = fetch(replay, "https://news.example.net/feed?id=1", SETTINGS).etag
    assert one and two and one != two


def test_recorded_etag_header_is_honoured(tmp_path: Path) -> None:
    """A response recorded with its own ETag answers 304 to that ETag."""
    (tmp_path / "f.xml").write_bytes(FEED)
    (tmp_path / "manifest.yaml").write_text(
        "responses:\n"
        "  - url: https://example.org/f\n"
        "    file: f.xml\n"
        "    headers:\n"
        "      ETag: '\"recorded-1\"'\n",
        encoding="utf-8",
    )
    with (
        serve_snapshot(tmp_path) as server_url,
        build_client(SETTINGS, ReplayTransport(server_url)) as client,
    ):
        first = fetch(client, "https://example.org/f", SETTINGS)
        second = fetch(client, "https://example.org/f", SETTINGS, etag=first.etag)
    assert first.etag == '"recorded-1"'
    assert second.outcome is FetchOutcome.NOT_MODIFIED


def test_server_stops_after_the_block(snapshot: Path) -> None:
    """Once serve_snapshot's block ends, nothing answers on its port."""
    with serve_snapshot(snapshot) as server_url:
        pass
    with build_client(SETTINGS, ReplayTransport(server_url)) as client:
        result = fetch(client, "https://example.org/feed?id=1", SETTINGS)
    assert result.outcome is FetchOutcome.TEMPORARY
    assert result.error is not None
    assert result.error.startswith("ConnectError")


def test_request_key() -> None:
    """Responses are keyed by lower-cased host, path and query; scheme and port do not count."""
    assert request_key("https://Example.org:8443/a/B?x=1") == "example.org/a/B?x=1"
    assert request_key("http://example.org") == "example.org/"


def test_load_snapshot_reads_status_headers_and_bodies(snapshot: Path) -> None:
    """load_snapshot gives one RecordedResponse per manifest entry, keyed by request_key."""
    responses = load_snapshot(snapshot)
    assert set(responses) == {
        "example.org/feed?id=1",
        "news.example.net/feed?id=1",
        "example.org/news/a.html",
        "example.org/gone",
        "example.org/old",
    }
    assert responses["example.org/gone"].status == 404
    assert responses["example.org/gone"].body == b""
    assert responses["example.org/old"].headers == {"Location": "/news/a.html"}
    assert responses["example.org/feed?id=1"].body == FEED


def _manifest(folder: Path, text: str) -> Path:
    (folder / "manifest.yaml").write_text(text, encoding="utf-8")
    return folder


def test_missing_body_file_names_file_and_line(tmp_path: Path) -> None:
    """A file named in the manifest but absent is a ConfigError naming manifest, line and file."""
    (tmp_path / "here.xml").write_bytes(FEED)
    _manifest(
        tmp_path,
        "responses:\n"
        "  - url: https://example.org/a\n"
        "    file: here.xml\n"
        "  - url: https://example.org/b\n"
        "    file: not-there.xml\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_snapshot(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'manifest.yaml'}: line 4:")
    assert "not-there.xml" in message
    assert "No such file" in message


def test_missing_manifest(tmp_path: Path) -> None:
    """A folder without manifest.yaml is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"manifest\.yaml: file not found"):
        load_snapshot(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("responses: {}\n", "expected a mapping with a `responses:` list"),
        ("- url: https://example.org/\n", "expected a mapping with a `responses:` list"),
        ("responses:\n  - file: a.xml\n", "line 2: each response needs a `url`"),
        ("responses:\n  - https://example.org/\n", "each response needs a `url`"),
        ("responses:\n  - url: [unclosed\n", "line 3"),
    ],
)
def test_malformed_manifest(tmp_path: Path, text: str, problem: str) -> None:
    """Manifest mistakes are ConfigErrors that say what is wrong and where."""
    _manifest(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_snapshot(tmp_path)
    assert problem in str(raised.value)
    assert "manifest.yaml" in str(raised.value)


@pytest.mark.parametrize(
    "entry",
    ["    status: gone\n", "    headers: [Location, /x]\n", "    headers: just text\n"],
)
def test_bad_status_or_headers_are_config_errors(tmp_path: Path, entry: str) -> None:
    """A status that is not a number or headers that are not a mapping are ConfigErrors."""
    _manifest(tmp_path, "responses:\n  - url: https://example.org/a\n" + entry)
    with pytest.raises(ConfigError, match=r"manifest\.yaml: line 2: "):
        load_snapshot(tmp_path)
