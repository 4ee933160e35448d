"""The source registry: what loads, what is refused, and how errors name the place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.errors import ConfigError, UnknownSourceError
from pipeline.config.sources import load_sources, select_sources, selectors_for
from tests.stored import newstrack

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
    assert len(sources) == 11
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
            "sources:\n  - name: a\n    kind: rss\n    urls: [https://a.example/]\n    article: {timezone: America}\n",
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


SOURCE = "sources:\n  - name: a\n    kind: html_listing\n    urls: [https://a.example/]\n"


@pytest.mark.parametrize(
    ("extra", "line", "field", "selector"),
    [
        ('    listing: {links: "div[[["}\n', 5, "listing.links", "div[[["),
        ('    listing: {links: a, next: "a:nth-child("}\n', 5, "listing.next", "a:nth-child("),
        ("    listing: {links: a}\n    article:\n      text: 'p >> q'\n", 7, "article.text", "p >> q"),
        ("    listing: {links: a}\n    article:\n      title: 'h1:unknown-pseudo'\n", 7, "article.title", "h1:unknown-pseudo"),
        ("    listing: {links: a}\n    article: {published: 'time[datetime'}\n", 6, "article.published", "time[datetime"),
        ("    listing: {links: 'a::before'}\n", 5, "listing.links", "a::before"),
        ("    listing: {links: '" + ":is(" * 2000 + "a" + ")" * 2000 + "'}\n", 5, "listing.links", ":is(" * 2000 + "a" + ")" * 2000),
    ],
)  # fmt: skip
def test_an_invalid_css_selector_is_refused_when_the_file_loads(
    tmp_path: Path, extra: str, line: int, field: str, selector: str
) -> None:
    """Every selector is compiled as pages will be read: file, line of its section and field."""
    path = _write(tmp_path, SOURCE + extra)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(
        f"{path}: line {line} (source 'a'): `{field}`: {selector!r} is not a CSS selector: "
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    listing: {links: 42}\n", "`listing.links` must be a CSS selector, got 42"),
        ("    listing: {links: '  '}\n", "`listing.links` must be a CSS selector, got '  '"),
        ("    listing: {links: a}\n    article: {text: [p]}\n", "`article.text` must be a CSS selector"),
        ("    listing: {link_pattern: 'art_([0-9'}\n", "`listing.link_pattern`: 'art_([0-9' is not a regular expression"),
        ("    listing: {link_pattern: 7}\n", "`listing.link_pattern` must be a regular expression"),
        ("    listing: {link_pattern: a, items: li}\n", "unknown listing field(s) items"),
        ("    listing: {item: 'li[['}\n", "`listing.item`: 'li[[' is not a CSS selector"),
    ],
)  # fmt: skip
def test_a_selector_must_be_text(tmp_path: Path, extra: str, message: str) -> None:
    """A selector that is not a string is named, not crashed on later."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sources(_write(tmp_path, SOURCE + extra))


def test_sources_and_run_refuse_a_bad_selector_with_exit_2(tmp_path: Path) -> None:
    """`newstrack sources` no longer passes a bad selector; `run` stops before fetching anything."""
    path = _write(tmp_path, SOURCE + '    listing: {links: "div[[["}\n')
    database = f"sqlite:///{tmp_path / 'x.db'}"
    assert newstrack("--db", database, "init").returncode == 0
    for command in ("sources", "fetch"):
        result = newstrack("--db", database, "--sources", str(path), command)
        assert result.returncode == 2, result.stderr
        assert f"{path}: line 5 (source 'a'): `listing.links`: 'div[[[' is not" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_articles", "true", "`max_articles`: expected a whole number from 1 to 10000, got True"),  # was 1
        ("max_articles", "0", "`max_articles`: expected a whole number from 1 to 10000, got 0"),
        ("max_articles", "2.5", "`max_articles`: expected a whole number from 1 to 10000, got 2.5"),
        ("max_articles", ".inf", "`max_articles`: expected a whole number from 1 to 10000, got inf"),
        ("max_articles", ".nan", "`max_articles`: expected a whole number from 1 to 10000, got nan"),
        ("max_articles", "100000000000000000000", "got 100000000000000000000"),
        ("listing", "{links: a, next: a, pages: 1000}", "`listing.pages`: expected a whole number from 1 to 100, got 1000"),
        ("listing", "{links: a, next: a, pages: true}", "`listing.pages`: expected a whole number from 1 to 100, got True"),
    ],
)  # fmt: skip
def test_numbers_are_whole_bounded_and_never_booleans(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    """`max_articles: true` is not 1; every number has its range, named in the error."""
    path = _write(tmp_path, SOURCE.replace("html_listing", "rss") + f"    {field}: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: line 2 (source 'a'): ")
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["a/b", "..", ".hidden", "a\n", "A", "a b", "x" * 101])
def test_source_names_follow_the_shared_name_rule(tmp_path: Path, name: str) -> None:
    """No '/', leading '.', line break (even a trailing one), capital or space; at most 100."""
    text = SOURCE.replace("name: a", f"name: {json.dumps(name)}").replace("html_listing", "rss")
    with pytest.raises(ConfigError, match="`name` must be 1 to 100 lower-case letters"):
        load_sources(_write(tmp_path, text))
