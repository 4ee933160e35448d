"""MOFCOM's English site in its current and earlier layouts, read by the shipped sources.yaml."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from models.source import ArticleSelectors
from pipeline.cli import main
from pipeline.config.sources import load_sources
from pipeline.fetching.listing import ListingRules, parse_listing
from pipeline.fetching.pages import extract_page
from pipeline.flows.fetch import listing_rules

from .conftest import FIXTURES, PROJECT

SNAPSHOT = PROJECT / "snapshot"
EARLIER = FIXTURES / "mofcom-2024"
ANNOUNCEMENTS = "english.mofcom.gov.cn/Policies/Announcements"
SOURCES = {source.name: source for source in load_sources(PROJECT / "sources.yaml")}


def _articles(database: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT url, title, published_at, text FROM articles ORDER BY url"
        ).fetchall()


def _fetch(replay: Path, database: Path) -> None:
    arguments = ["--db", f"sqlite:///{database}", "-q", "fetch", "--replay", str(replay)]
    english = ["--source", "mofcom-news-releases", "--source", "mofcom-announcements"]
    assert main([*arguments, *english]) in (0, 3)  # 3: one listed page is a 404


def test_both_layouts_give_the_same_articles(tmp_path: Path) -> None:
    """The current pages and the earlier ones are read into the same titles, times and texts."""
    _fetch(SNAPSHOT, tmp_path / "current.db")
    _fetch(EARLIER, tmp_path / "earlier.db")
    current, earlier = _articles(tmp_path / "current.db"), _articles(tmp_path / "earlier.db")
    assert len(current) == 13
    assert current == earlier
    assert all(published and text for _, _, published, text in current)
    titles = {title for _, title, _, _ in current}
    assert "MOFCOM and GAC Announcement No. 18 of 2025" in " ".join(titles)


def test_listing_links_by_pattern_with_the_times_their_scripts_write() -> None:
    """Links come by URL pattern; each item's `parseToData(<ms>,1)` call is its listed time."""
    body = (SNAPSHOT / ANNOUNCEMENTS / "index.html").read_bytes()
    url = "https://english.mofcom.gov.cn/Policies/Announcements/index.html"
    links = parse_listing(body, url, listing_rules(SOURCES["mofcom-announcements"]))
    assert len(links) == 7
    assert all("/Policies/Announcements/art/2025/art_" in link.url for link in links)
    first = links[0]
    assert first.url.endswith("art_ae2a0e44d372c84dff25afe1f7164d30.html")
    assert first.published == datetime(2025, 11, 9, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def test_earlier_listing_gives_dates_written_as_text_in_beijing_time() -> None:
    """The earlier layout's `<span>2025-04-04</span>` keeps its calendar day, as bare dates do."""
    body = (EARLIER / ANNOUNCEMENTS / "index.html").read_bytes()
    url = "https://english.mofcom.gov.cn/Policies/Announcements/index.html"
    links = parse_listing(body, url, listing_rules(SOURCES["mofcom-announcements"]))
    assert len(links) == 7
    assert links[3].published == datetime(2025, 4, 4, tzinfo=UTC)


def test_pattern_keeps_out_links_of_other_shapes() -> None:
    """Navigation, other sites and look-alike paths do not match the article pattern."""
    page = b"""<section><a href="/art/2025/art_0123456789abcdef0123456789abcdef.html">A</a>
    <span>2025-03-01</span></section>
    <a href="/News/index.html">News</a><a href="/art/2025/art_123.html">Short id</a>
    <a href="https://example.org/art/2025/art_0123456789abcdef0123456789abcdeX.html">X</a>"""
    rules = ListingRules(pattern=SOURCES["mofcom-announcements"].link_pattern)
    links = parse_listing(page, "https://english.mofcom.gov.cn/x/index.html", rules)
    assert [link.url for link in links] == [
        "https://english.mofcom.gov.cn/art/2025/art_0123456789abcdef0123456789abcdef.html"
    ]
    assert links[0].published == datetime(2025, 3, 1, tzinfo=UTC)


def test_listed_time_fills_in_for_a_page_without_one(tmp_path: Path) -> None:
    """A page that shows no time keeps the time its listing item showed; one that shows one, its own."""
    site = "https://english.mofcom.gov.cn"
    untimed, timed = (f"/Policies/Announcements/art/2025/art_{c * 32}.html" for c in "ab")
    listing = "".join(
        f'<section><a href="{path}">Item</a><p><script>document.write(parseToData({ms},1))'
        "</script></p></section>"
        for path, ms in ((untimed, 1743751800000), (timed, 1743751800000))
    )
    body = "<p>MOFCOM announced export control on {} items under the Export Control Law.</p>"
    pages = {
        "/Policies/Announcements/index.html": f"<html><body>{listing}</body></html>",
        untimed: f'<html><body><div class="art_title"><h1>A</h1></div><div class="art_con">{body.format("gallium")}</div></body></html>',
        timed: f'<html><body><div class="art_title"><h1>B</h1><div class="art_info"><span class="time">'
        f'2025-04-05 09:00</span></div></div><div class="art_con">{body.format("germanium")}</div></body></html>',
    }
    replay = tmp_path / "replay"
    responses = []
    for number, (path, page) in enumerate(pages.items()):
        (replay / f"{number}.html").parent.mkdir(parents=True, exist_ok=True)
        (replay / f"{number}.html").write_text(page, encoding="utf-8")
        responses.append(
            {"url": site + path, "file": f"{number}.html", "content_type": "text/html"}
        )
    (replay / "manifest.yaml").write_text(yaml.safe_dump({"responses": responses}))
    database = tmp_path / "listed.db"
    arguments = ["--db", f"sqlite:///{database}", "-q", "fetch", "--replay", str(replay)]
    assert main([*arguments, "--source", "mofcom-announcements"]) == 0
    with sqlite3.connect(database) as connection:
        rows = dict(connection.execute("SELECT url, published_at FROM articles").fetchall())
    assert rows[site + untimed].startswith("2025-04-04 07:30")  # 15:30 in Beijing, from the listing
    assert rows[site + timed].startswith("2025-04-05 01:00")  # the page's own 09:00 in Beijing


@pytest.mark.parametrize(
    "body",
    [
        '<div class="art_con"><div class="TRS_Editor"><p>{text}</p></div></div>',
        '<div class="art_con_main"><div class="TRS_Editor"><p>{text}</p></div></div>',
        '<div class="content"><article><p>{text}</p><p>{text}</p></article></div>',
    ],
    ids=["art_con", "TRS_Editor", "neither: generic extraction"],
)
def test_article_body_by_selectors_else_generic(body: str) -> None:
    """Bodies are read from .art_con or .TRS_Editor, and by the generic extractors otherwise."""
    sentence = (
        "The Ministry of Commerce announced export control on gallium items, effective at once "
        "under the Export Control Law of the People's Republic of China."
    )
    html = (
        '<html lang="en"><head><title>T</title></head><body><div class="art_title"><h1>Title</h1>'
        '<div class="art_info"><span class="time"><script>document.write(parseToData('
        "1733205600000,2))</script></span></div></div>"
        + body.format(text=sentence)
        + "</body></html>"
    )
    selectors: ArticleSelectors = SOURCES["mofcom-announcements"].article
    page = extract_page(html.encode(), "https://english.mofcom.gov.cn/a.html", selectors)
    assert sentence in page.text
    assert page.title == "Title"
    assert page.published == datetime(2024, 12, 3, 6, 0, tzinfo=UTC)
    assert page.text_extractor == ("selectors" if "TRS_Editor" in body else "trafilatura")


CHINESE = ("mofcom-zh-announcements", "mofcom-zh-spokesperson", "mofcom-zh-news-releases")


def test_chinese_site_announcements_answers_and_releases(tmp_path: Path) -> None:
    """Yearly announcement listings (two pages for 2025), answers and releases, in both layouts."""
    database = tmp_path / "zh.db"
    arguments = ["--db", f"sqlite:///{database}", "-q", "fetch", "--replay", str(SNAPSHOT)]
    assert main([*arguments, *(f"--source={name}" for name in CHINESE)]) == 0
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT a.url, a.title, a.published_at, a.language, a.text, s.name FROM articles a "
            "JOIN sources s ON s.id = a.source_id"
        ).fetchall()
    by_source: dict[str, list[str]] = {}
    for url, _, _, _, _, source in rows:
        by_source.setdefault(source, []).append(url)
    assert {name: len(urls) for name, urls in by_source.items()} == {
        "mofcom-zh-announcements": 8,  # 2025 over two listing pages, 2024, 2023
        "mofcom-zh-spokesperson": 3,
        "mofcom-zh-news-releases": 2,
    }
    assert all(language == "zh" for _, _, _, language, _, _ in rows)
    pages = {
        url.rsplit("/", 1)[-1]: (title, published, text)
        for url, title, published, _, text, _ in rows
    }
    # The current layout: PubDate and the time after 发布时间, in Beijing time.
    title, published, text = pages["art_b6c1e0f25a8d4f7e9c3a1d2e4f6a8b0c.html"]
    assert title.startswith("商务部公告2025年第72号")
    assert published.startswith("2025-11-09 09:30")
    assert "至2026年11月27日" in text and "附件" in text
    # The earlier layout, GBK-encoded with the charset only in <meta>: #artitle and .artCon.
    title, published, text = pages["art_3b2a19f8e7d6c5b4a3928170f6e5d4c3.html"]
    assert title == "商务部公告2024年第46号 关于加强相关两用物项对美国出口管制的公告"
    assert published.startswith("2024-12-03 04:05")
    assert "原则上不予许可镓、锗、锑、超硬材料相关两用物项对美国出口" in text
    # The spokesperson list: `.listCon.iListCon ul li`, the date in a span.
    title, published, text = pages["20251003611234.shtml"]
    assert title == "商务部新闻发言人就稀土相关物项出口管制措施答记者问"
    assert published.startswith("2025-10-09 10:40")


def test_primary_sources_stand_beside_the_news_in_the_demo(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the demo, the Chinese announcement is gallium's first source, and official acts group with news."""
    assert main(["--db", sqlite_url, "--json", "-q", "run", "--replay", str(SNAPSHOT)]) == 3
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["with_instrument"] >= 20 and totals["instrument_also_elsewhere"] >= 10
    assert main(["--db", sqlite_url, "--json", "status", "--element", "gallium"]) == 0
    rows = json.loads(capsys.readouterr().out)
    first = min(rows, key=lambda row: row["first_reported"])
    assert first["first_url"].startswith("https://www.mofcom.gov.cn/zcfb/zcgg/art/")
    assert rows[0]["first_url"].startswith("https://www.mofcom.gov.cn/zcfb/zcgg/art/2024/")
    query = (
        "SELECT e.instrument, group_concat(DISTINCT a.language) AS languages, "
        "group_concat(DISTINCT s.name) AS sources FROM events e "
        "JOIN mentions m ON m.event_id = e.id JOIN articles a ON a.id = m.article_id "
        "JOIN sources s ON s.id = a.source_id WHERE e.instrument IS NOT NULL GROUP BY e.id"
    )
    assert main(["--db", sqlite_url, "--json", "sql", query]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(  # the April 4 controls: one event, reported in Chinese and in English
        set(row["languages"].split(",")) == {"zh", "en"}
        for row in rows
        if row["instrument"] == "MOFCOM Announcement No. 18 of 2025"
    )
    entity_list = [  # the Entity List rule of 2025-03-25, one event per country
        set(row["sources"].split(",")) for row in rows if row["instrument"] == "FR Doc. 2025-05083"
    ]
    assert len(entity_list) >= 3
    assert any("federal-register" in names and len(names) > 1 for names in entity_list)
