"""The source registry: what loads, what is refused, and how errors name the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError, UnknownSourceError
from pipeline.sources import load_sources, select_sources, selectors_for

from .conftest import PROJECT

VALID = """\
version: 1
sources:
  - name: feed-one
    kind: rss
    group: news
    urls: [https://one.example/feed]
  - name: listing
    kind: html_listing
    group: news
    urls: [https://two.example/news/]
    listing: {links: "ul li a", next: "a.next", pages: 3}
    article: {title: h1, text: div.body}
  - name: resting
    kind: rss
    enabled: false
    urls: [https://three.example/feed]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_registry_loads(tmp_path: Path) -> None:
    """Names, kinds, groups, selectors and listing pages come through as typed values."""
    sources = load_sources(_write(tmp_path, VALID))
    assert [s.name for s in sources] == ["feed-one", "listing", "resting"]
    listing = sources[1]
    assert (listing.link_selector, listing.next_selector, listing.listing_pages) == (
        "ul li a",
        "a.next",
        3,
    )
    assert listing.article.text == "div.body"
    assert sources[2].enabled is False


def test_shipped_registry_loads() -> None:
    """The sources.yaml shipped with newstrack is valid."""
    sources = {source.name: source for source in load_sources(PROJECT / "sources.yaml")}
    assert len(sources) == 7
    assert sources["mofcom-news-releases"].article.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/\n", 5, "at line 4"),
        ("sources:\n  - name: a\n    kind: pigeon\n    urls: [https://a.example/]\n", 2, "kind"),
        ("sources:\n  - name: A b\n    kind: rss\n    urls: [https://a.example/]\n", 2, "name"),
        ("sources:\n  - name: a\n    kind: rss\n    urls: [ftp://a.example/]\n", 2, "not an http"),
        ("sources:\n  - name: a\n    kind: rss\n    urls: []\n", 2, "non-empty list"),
        (
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n    colour: red\n",
            2,
            "colour",
        ),
        (
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n    max_articles: 0\n",
            2,
            "max_articles",
        ),
        (
            "sources:\n  - name: a\n    kind: html_listing\n    urls: [https://a.example/]\n",
            2,
            "listing",
        ),
        (
            "sources:\n  - name: a\n    kind: html_listing\n    urls: [https://a.example/]\n    listing: {links: a, pages: 2}\n",
            2,
            "listing.next",
        ),
        (
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n    http_cache: maybe\n",
            2,
            "http_cache",
        ),
        (
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n    article: {timezone: Mars/Olympus}\n",
            2,
            "article.timezone",
        ),
        (
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n  - name: a\n    kind: rss\n    urls: [https://b.example/]\n",
            5,
            "duplicate",
        ),
    ],
)
def test_malformed_registry_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    """Each mistake is a ConfigError with the file, the line and what is wrong."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: line {line}")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "just a string\n", "sources: {}\n", "version: 2\nsources: []\n"]
)
def test_registry_of_the_wrong_shape_is_refused(tmp_path: Path, text: str) -> None:
    """A file that is not a mapping with a `sources` list (or of another version) is refused."""
    with pytest.raises(ConfigError):
        load_sources(_write(tmp_path, text))


def test_missing_registry_is_named(tmp_path: Path) -> None:
    """A registry that does not exist is a clear error naming its path."""
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "absent.yaml")


def test_select_by_name_group_or_everything(tmp_path: Path) -> None:
    """No names means every enabled source; a group means its enabled members; names are exact."""
    sources = load_sources(_write(tmp_path, VALID))
    assert [s.name for s in select_sources(sources, [])] == ["feed-one", "listing"]
    assert [s.name for s in select_sources(sources, ["news"])] == ["feed-one", "listing"]
    assert [s.name for s in select_sources(sources, ["resting"])] == ["resting"]
    with pytest.raises(UnknownSourceError, match="known sources: feed-one, listing, resting"):
        select_sources(sources, ["nope"])


def test_selectors_follow_the_site_of_a_page(tmp_path: Path) -> None:
    """A page on www.two.example gets the selectors of the source on two.example."""
    sources = load_sources(_write(tmp_path, VALID))
    assert selectors_for(sources, "https://www.two.example/news/a.html").text == "div.body"
    assert selectors_for(sources, "https://elsewhere.example/a.html").text is None
