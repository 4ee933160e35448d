"""Hypothesis against the parts that read outside input: config files, feeds, texts to annotate.

Each must give a result or its own clear error (ConfigError naming the file and line, ParseError
naming the URL) for any input, never another exception, a hang or a wrong offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models.annotation import ArticleText
from models.errors import ConfigError
from models.vocabulary import load_vocabulary
from pipeline.cli import check_newstrack_command
from pipeline.config.cron import load_cron
from pipeline.config.sources import load_sources
from pipeline.config.watchlists import load_watchlists
from pipeline.extraction import Extractor
from pipeline.fetching.feeds import parse_feed
from pipeline.fetching.guards import ParseError
from tests.conftest import PROJECT

VOCABULARY = load_vocabulary()
LOADERS: dict[str, Callable[[Path], Any]] = {
    "sources.yaml": load_sources,
    "cron.yaml": lambda path: load_cron(path, check_newstrack_command),
    "watchlists.yaml": lambda path: load_watchlists(
        path, VOCABULARY, {"NEWSTRACK_DIGEST_TO": "analyst@example.com"}
    ),
}
SHIPPED = {name: (PROJECT / name).read_text(encoding="utf-8") for name in LOADERS}
SCALARS = st.one_of(
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "[]",
            "{}",
            "-1",
            "0",
            "1e999",
            "99999999999999999999",
            "yes",
            "no",
            "'*'",
            '"\\x00"',
            "!!binary aGVsbG8=",
            "!!python/object:os.system x",
            "&a [*a]",
            "*undefined",
            "[[[[[[[[",
            "{a: {b: {c: ",
            "- - - -",
            "|\n  multi",
            "'unterminated",
            "60 * * * *",
            "0 7 * * * *",
            "Mars/Olympus",
            "America",
            "https://",
            "rss",
            "daily",
            "@reboot",
        ]
    ),
    st.text(max_size=20),
)


def _mutate(data: st.DataObject, text: str) -> str:
    """The shipped file with a few lines deleted, repeated, moved, re-valued or re-indented."""
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not lines:
            break
        at = data.draw(st.integers(0, len(lines) - 1), label="line")
        action = data.draw(st.sampled_from(["delete", "repeat", "move", "value", "indent", "junk"]))
        if action == "delete":
            del lines[at]
        elif action == "repeat":
            lines.insert(at, lines[at])
        elif action == "move":
            lines.insert(data.draw(st.integers(0, len(lines))), lines.pop(at))
        elif action == "value" and ":" in lines[at]:
            key = lines[at].split(":", 1)[0]
            lines[at] = f"{key}: {data.draw(SCALARS, label='value')}"
        elif action == "indent":
            lines[at] = " " * data.draw(st.integers(0, 9)) + lines[at].lstrip()
        else:
            lines.insert(at, data.draw(st.text(max_size=40), label="junk"))
    return "\n".join(lines) + "\n"


def _check_loader(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        LOADERS[name](path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(str(path)), message  # names the file
        for line in re.findall(r"\bline (\d+)", message):
            assert 1 <= int(line) <= text.count("\n") + 2, message  # and a line that exists


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_malformed_config_files_fail_with_a_clear_error(
    name: str, data: st.DataObject, tmp_path: Path
) -> None:
    """A damaged sources.yaml, cron.yaml or watchlists.yaml loads or names the file and line."""
    _check_loader(name, _mutate(data, SHIPPED[name]), tmp_path)


HOSTILE_YAML = [
    "[" * 5000,  # deeper than the parser's stack
    "a: &a [*a]\nversion: 1\nsources: *a\njobs: *a\nwatchlists: *a\n",  # contains itself
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nversion: 1\nsources: [*g]\njobs: [*g]\n"
    "watchlists: [*g]\n",  # a billion laughs
    "\ufeffversion: 1\n",
    "version: 1\n\tjobs: []\n",
    "version: 1\nversion: 2\n",
    "? [a, b]\n: c\n",
    "!!python/object/apply:os.system ['true']\n",
    "---\nversion: 1\n---\nversion: 1\n",
    "\x00\x01\x02",
]


@pytest.mark.parametrize("name", sorted(LOADERS))
@pytest.mark.parametrize("text", HOSTILE_YAML, ids=range(len(HOSTILE_YAML)))
def test_hostile_config_files_fail_with_a_clear_error(name: str, text: str, tmp_path: Path) -> None:
    """Deep nesting, self-containing aliases, alias bombs, tags, several documents: clear errors."""
    _check_loader(name, text, tmp_path)


def test_aliases_a_config_file_may_use_still_work(tmp_path: Path) -> None:
    """Anchors shared by many sources are fine: only what would explode is refused."""
    shared = "  - name: s{n}\n    kind: rss\n    urls: [https://example.org/{n}]\n    article: *a\n"
    path = tmp_path / "sources.yaml"
    path.write_text(
        "selectors: &a {text: article, title: h1}\nsources:\n"
        + "".join(shared.format(n=n) for n in range(300)),
        encoding="utf-8",
    )
    sources = load_sources(path)
    assert len(sources) == 300 and sources[-1].article.text == "article"


FEED = (
    '<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>{title}</title>'
    "<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
    "<description>{body}</description></item></channel></rss>"
)


@settings(max_examples=300, deadline=None)
@given(
    encoding=st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "utf-16", "x-unknown", ""]),
    title=st.text(max_size=40),
    link=st.one_of(st.text(max_size=30), st.just("https://example.org/a")),
    date=st.one_of(st.text(max_size=30), st.just("Tue, 03 Dec 2024 08:00:00 GMT")),
    body=st.text(max_size=80),
    cut=st.integers(0, 400),
    noise=st.binary(max_size=20),
)
@example(
    encoding="utf-8",
    title="&amp;&#0;&#xD800;&nosuch;",
    link="/x",
    date="",
    body="",
    cut=0,
    noise=b"",
)
def test_any_damaged_feed_is_read_or_refused_with_a_reason(
    encoding: str, title: str, link: str, date: str, body: str, cut: int, noise: bytes
) -> None:
    """A feed with odd text, encodings, links and dates, cut short or with noise: entries or ParseError."""
    document = FEED.format(encoding=encoding, title=title, link=link, date=date, body=body)
    raw = document.encode("utf-8", errors="surrogatepass")
    for damaged in (raw, raw[: len(raw) - cut] + noise, noise + raw):
        try:
            entries = parse_feed(damaged, "https://example.org/feed")
        except ParseError as error:
            assert str(error).startswith("https://example.org/feed: "), error
        else:
            assert all(entry.url.startswith(("http://", "https://")) for entry in entries)


WORDS = st.sampled_from(
    ["China", "MOFCOM", "the United States", "Commerce Department", "banned", "imposed", "lifted",
     "suspended", "export", "controls", "on", "gallium", "germanium", "dysprosium", "rare earths",
     "tariff", "of", "25%", "90 days", "April 4", "Dec. 3, 2024", "entity list", "17", "entities",
     "will", "not", "may", ".", ",", "\n\n", "'s", "(", ")", "-", "\u200b", "ß", "中国", "稀土"]
)  # fmt: skip


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=60).map(" ".join)),
        min_size=1,
        max_size=4,
    )
)
@example(texts=["", " ", "\x00", "China banned gallium." * 2000])
def test_annotate_gives_sound_offsets_for_any_text(extractor: Extractor, texts: list[str]) -> None:
    """Any text, or words of the trade in any order: every tag and evidence points into the text."""
    articles = [ArticleText(str(n), text, "", None) for n, text in enumerate(texts)]
    annotations = extractor.annotate(articles)
    assert [annotation.id for annotation in annotations] == [article.id for article in articles]
    for article, annotation in zip(articles, annotations, strict=True):
        for tag in (*annotation.element_tags, *annotation.entity_tags, *annotation.quantities):
            assert article.text[tag.start : tag.end] == tag.text
        for event in annotation.events:
            assert event.elements or event.measure  # every event says what it is about
            for mention in event.mentions:
                assert 0 <= mention.start < mention.end <= len(article.text)
                assert mention.sentence.strip() in article.text
