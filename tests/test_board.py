"""The board (`newstrack serve`) over HTTP: every page and its JSON, errors, escaping, headers."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.errors import MissingDatabaseError
from pipeline.cli import build_parser, main
from pipeline.cli.base import Context
from pipeline.cli.serve import fetch_schedule
from pipeline.config.cron import CronJob
from pipeline.config.settings import Settings
from pipeline.config.sources import load_sources
from pipeline.extraction import Extractor
from pipeline.web import create_app
from storage.articles import NewArticle, add_article
from storage.engine import open_reader
from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.servers import serving_app
from tests.stored import ready, store_disputed_dates, store_lifecycle, two_sources

HOSTILE_TITLE = '<script>alert("title")</script> Gallium & "germanium"'
HOSTILE_TEXT = 'China\'s Commerce Ministry on Friday imposed export controls on gallium. <img src=x onerror="x">'


@pytest.fixture
def board(database_url: str, extractor: Extractor) -> Iterator[httpx.Client]:
    """The board on a database holding one measure's whole life and an article with markup in it."""
    session_factory = store_lifecycle(
        database_url, extractor, [("https://c.example/gallium", "2025-05-14", HOSTILE_TEXT)]
    )
    with unit_of_work(session_factory) as session:
        session.execute(
            text("UPDATE articles SET title = :title WHERE url = :url"),
            {"title": HOSTILE_TITLE, "url": "https://c.example/gallium"},
        )
        session.execute(
            text(
                "UPDATE sources SET consecutive_failures = 3, last_error = :error "
                "WHERE name = 'second'"
            ),
            {"error": "HTTP 500 <b>boom</b>"},
        )
    with (
        open_reader(database_url) as engine,
        serving_app(create_app(engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        yield client


def _ids(client: httpx.Client) -> dict[str, int]:
    """The measure and the event of each action on dysprosium, from the element's JSON."""
    data = client.get("/api/elements/dysprosium").json()
    [history] = data["histories"]
    found = {event["action"]: event["id"] for event in history["events"]}
    found["measure"] = history["founding"]["id"]
    return found


def test_the_element_page_draws_every_state_and_change_of_the_measure(board: httpx.Client) -> None:
    """Dysprosium's timeline: in force from April 4, suspended November 7, in force again, lifted."""
    page = board.get("/elements/dysprosium")
    assert page.status_code == 200
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]+)</title>', page.text)
    assert bars == [
        "in force: 2025-04-04 to 2025-11-06",
        "suspended: 2025-11-07 to 2026-11-10",
        "in force: 2026-11-11 to 2026-11-30",
        "lifted: 2026-12-01 to now",
    ]
    ids = _ids(board)
    for action in ("impose", "suspend", "lift"):
        assert f'href="/events/{ids[action]}"' in page.text
    assert f'href="/measures/{ids["measure"]}"' in page.text
    assert board.get("/elements/Dy").text == page.text.replace(
        "<title>dysprosium", "<title>Dy"
    ).replace("<h1>dysprosium</h1>", "<h1>Dy</h1>").replace(
        "every measure on dysprosium", "every measure on Dy"
    )


def test_a_group_shows_every_member_and_an_element_without_measures_says_so(
    board: httpx.Client,
) -> None:
    """A group's page covers its members; gallium has a measure, cobalt none."""
    heavy = board.get("/elements/heavy rare earths")
    assert heavy.status_code == 200 and "dysprosium" in heavy.text and "A group:" in heavy.text
    cobalt = board.get("/elements/cobalt")
    assert cobalt.status_code == 200 and "No measure on cobalt yet." in cobalt.text
    assert board.get("/api/elements/cobalt").json()["histories"] == []


def test_an_unknown_path_is_the_boards_404_page(board: httpx.Client) -> None:
    """A path no route serves answers the board's own page (HTML) or JSON under /api."""
    page = board.get("/nowhere/at/all")
    assert page.status_code == 404 and "nothing at /nowhere/at/all" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    api = board.get("/api/nowhere")
    assert api.status_code == 404 and api.json()["error"] == "nothing at /api/nowhere"


def test_an_unknown_element_is_a_404_naming_close_matches(board: httpx.Client) -> None:
    """A misspelt element is not found, and the page links the element meant."""
    page = board.get("/elements/dysprosum")
    assert page.status_code == 404
    assert "dysprosum" in page.text and 'href="/elements/dysprosium"' in page.text
    api = board.get("/api/elements/dysprosum")
    assert api.status_code == 404 and api.json()["suggestions"] == ["dysprosium"]


def test_today_lists_the_measures_in_force_on_a_day_and_the_last_changes(
    board: httpx.Client,
) -> None:
    """On 2025-06-01 the controls are in force; on 2025-11-20 suspended, with the change listed."""

    def standing(day: str, state: str) -> dict[str, str]:
        data = board.get("/api/today", params={"on": day}).json()
        return {m["elements"][0]: m["since"] for m in data["states"][state]}

    assert standing("2025-04-01", "in_force") == {}
    assert standing("2025-06-01", "in_force") == {
        "dysprosium": "2025-04-04",
        "gallium": "2025-05-09",
    }
    assert standing("2025-11-20", "in_force") == {"gallium": "2025-05-09"}
    assert standing("2025-11-20", "suspended") == {"dysprosium": "2025-11-07"}
    november = board.get("/api/today", params={"on": "2025-11-20"}).json()
    assert [e["action"] for e in november["recent"]] == ["suspend"]
    assert november["by_element"]["dysprosium"] == {"suspended": 1}
    assert november["by_actor"]["CN"] == {"in_force": 1, "suspended": 1}
    assert november["freshness"]["articles"] == 5
    page = board.get("/", params={"on": "2025-11-20"})
    assert page.status_code == 200 and 'value="2025-11-20"' in page.text


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/", {"on": "2025-13-01"}, "on="),
        ("/search", {"since": "yesterday"}, "since="),
        ("/search", {"measure": "embargo"}, "embargo"),
        ("/search", {"element": "kryptonite"}, "kryptonite"),
        ("/search", {"actor": "Atlantis"}, "Atlantis"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    board: httpx.Client, path: str, params: dict[str, str], named: str
) -> None:
    """Dates that are no dates and names the vocabulary does not know are refused, by name."""
    page = board.get(path, params=params)
    assert page.status_code == 400 and named in page.text
    api = board.get("/api" + ("/today" if path == "/" else path), params=params)
    assert api.status_code == 400 and named in api.json()["error"]


def test_the_measure_page_holds_its_chain_evidence_and_sources(board: httpx.Client) -> None:
    """The chain in order with dates, a quote for each, every article; a change redirects to it."""
    ids = _ids(board)
    data = board.get(f"/api/measures/{ids['measure']}").json()
    chain = [(e["action"], e["announced_on"]) for e in data["history"]["events"]]
    assert chain[0] == ("impose", "2025-04-04")
    assert ("suspend", "2025-11-07") in chain and chain[-1] == ("lift", "2026-12-01")
    assert {r["url"] for r in data["reports"]} >= {
        "https://a.example/imposed",
        "https://b.example/suspended",
        "https://b.example/lifted",
    }
    page = board.get(f"/measures/{ids['measure']}")
    assert "until November 10, 2026" in page.text  # the suspension's own sentence, quoted
    moved = board.get(f"/measures/{ids['lift']}", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (301, f"/measures/{ids['measure']}")
    assert board.get("/measures/999999").status_code == 404
    assert board.get("/measures/abc").status_code == 404


def test_the_event_and_article_pages_show_what_was_read_and_where(board: httpx.Client) -> None:
    """An event lists its reports with confidence; its article marks the evidence and the tags."""
    ids = _ids(board)
    event = board.get(f"/api/events/{ids['impose']}").json()
    urls = {m["url"] for m in event["mentions"]}
    assert "https://a.example/imposed" in urls
    mention = next(m for m in event["mentions"] if m["url"] == "https://a.example/imposed")
    assert 0 < mention["confidence"] <= 1
    article = board.get(f"/articles/{mention['article_id']}")
    assert article.status_code == 200
    assert re.search(r'<span class="[^"]*k-element[^"]*" title="element: dysprosium', article.text)
    assert re.search(
        r'class="[^"]*k-event[^"]*" title="[^"]*event #' + str(ids["impose"]), article.text
    )
    assert board.get("/articles/999999").status_code == 404
    assert board.get("/events/999999").status_code == 404


def test_words_from_the_web_are_escaped_everywhere(board: httpx.Client) -> None:
    """A title or text with markup shows as text on every page that prints it."""
    found = board.get("/api/search", params={"q": "gallium"}).json()
    [(article_id, *_)] = found["articles"]
    pages = [
        board.get(f"/articles/{article_id}"),
        board.get("/search", params={"q": "gallium"}),
        board.get("/search", params={"q": '<script>"'}),
        board.get("/sources"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script" not in page.text and "<img" not in page.text and "<b>" not in page.text
        assert " style=" not in page.text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in pages[0].text
    assert "&lt;img src=x onerror=&#34;x&#34;&gt;" in pages[0].text
    assert "HTTP 500 &lt;b&gt;boom&lt;/b&gt;" in pages[3].text


def test_every_page_sends_the_security_headers_and_refuses_other_hosts(board: httpx.Client) -> None:
    """A strict policy on every answer; a request naming another host is refused (DNS rebinding)."""
    for path in ("/", "/sources", "/api/today", "/elements/nothing", "/static/board.css"):
        answer = board.get(path)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert board.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert board.get("/states.css").text.count(".state-") == 6


def test_sources_show_their_health(board: httpx.Client) -> None:
    """Each source with its failures in a row and its last error."""
    data = board.get("/api/sources").json()
    second = next(s for s in data["sources"] if s["name"] == "second")
    assert (second["consecutive_failures"], second["last_error"]) == (3, "HTTP 500 <b>boom</b>")
    assert 'class="failing"' in board.get("/sources").text


def test_search_finds_evidence_and_narrows_by_element_actor_measure_and_days(
    board: httpx.Client,
) -> None:
    """Words match evidence and titles; each filter narrows; a word with LIKE's signs is literal."""

    def actions(**params: str) -> list[str]:
        return sorted(e["action"] for e in board.get("/api/search", params=params).json()["events"])

    assert "suspend" in actions(q="suspend")
    assert actions(q="lifted", element="Dy", actor="China") == ["lift"]
    assert actions(q="controls", measure="export_control", since="2026-01-01") == ["lift"]
    assert actions(q="controls", until="2025-04-30", element="gallium") == []
    assert actions(q="100%_") == [] and actions(q='"') == []
    assert "impose" in actions(element="gallium")
    assert "suspend" in actions(q="suspending controls")  # stemmed, every word
    assert actions(q="suspending pigs") == []

    def articles(words: str) -> set[str]:
        found = board.get("/api/search", params={"q": words}).json()["articles"]
        return {url for _, _, url, _ in found}

    # The title was changed after the article was stored: the index follows its row.
    assert articles("germanium") == {"https://c.example/gallium"}
    assert articles("dysprosium terbium") == {
        "https://a.example/imposed",
        "https://b.example/suspended",
        "https://b.example/lifted",
    }


def test_the_reader_cannot_write(database_url: str, tmp_path: Path) -> None:
    """The board's engine reads: a write through it fails, on SQLite and PostgreSQL."""
    ready(database_url)
    with open_reader(database_url) as engine, engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 0
        with pytest.raises(DBAPIError):
            connection.execute(
                text("INSERT INTO sources (name, kind, url) VALUES ('x', 'rss', 'https://x')")
            )
    with pytest.raises(MissingDatabaseError), open_reader(f"sqlite:///{tmp_path / 'none.db'}"):
        pass


def test_articles_can_be_added_while_the_board_reads(database_url: str) -> None:
    """The board's reads take no write lock: a run writes while a read is open (a writing
    engine's reads would hold SQLite's write lock and make it wait), and the board sees it."""
    session_factory = ready(database_url)
    with (
        open_reader(database_url) as engine,
        engine.connect() as reading,
        serving_app(create_app(engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        reading.execute(text("SELECT count(*) FROM events"))  # its transaction stays open
        with unit_of_work(session_factory) as session:
            session.execute(
                text("SET LOCAL lock_timeout = '2s'")
            ) if "postgresql" in database_url else None
            add_article(
                session,
                NewArticle(
                    url="https://a.example/new",
                    source_id=None,
                    title="t",
                    published_at=None,
                    text="Text.",
                    language="en",
                    text_extractor="feed",
                ),
            )
        assert client.get("/api/today").json()["freshness"]["articles"] == 1


def test_the_measure_page_says_who_gives_which_date_when_reports_disagree(
    database_url: str, extractor: Extractor
) -> None:
    """Two outlets say April 4, one April 5: the page names each date with its sources."""
    store_disputed_dates(database_url, extractor)
    with (
        open_reader(database_url) as engine,
        serving_app(create_app(engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        [history] = client.get("/api/elements/dysprosium").json()["histories"]
        measure = client.get(f"/api/measures/{history['founding']['id']}").json()
        [disagreement] = measure["conflicts"]
        assert disagreement["field"] == "announced_on"
        assert disagreement["claims"] == {
            "2025-04-04": ["first", "second"],
            "2025-04-05": ["second"],
        }
        page = client.get(f"/measures/{history['founding']['id']}").text
        assert "announced on: 2025-04-04 (first, second); 2025-04-05 (second)" in page


def test_sources_say_when_each_is_fetched_next(database_url: str) -> None:
    """From the jobs that fetch it; a source resting after failures waits for the rest to end."""
    session_factory = ready(database_url)
    two_sources(session_factory)
    now = datetime.now(UTC)
    with unit_of_work(session_factory) as session:
        session.execute(
            text(
                "UPDATE sources SET consecutive_failures = 2, next_due_at = :due WHERE name = 'second'"
            ),
            {"due": now + timedelta(hours=5)},
        )
    every_20_minutes = CronJob(name="fetch-all", schedule="*/20 * * * *", command=("fetch",))
    schedule = {"first": (every_20_minutes,), "second": (every_20_minutes,)}
    with (
        open_reader(database_url) as engine,
        serving_app(create_app(engine, schedule=schedule)) as base,
        httpx.Client(base_url=base) as client,
    ):
        found = client.get("/api/sources").json()["next_fetch"]
    first, second = (datetime.fromisoformat(found[name]) for name in ("first", "second"))
    assert now < first <= now + timedelta(minutes=20) and first.minute % 20 == 0
    assert now + timedelta(hours=5) < second <= now + timedelta(hours=5, minutes=20)


def test_serve_finds_the_jobs_that_fetch_each_shipped_source() -> None:
    """Every enabled source of sources.yaml is fetched by a job of cron.yaml."""
    context = Context(Settings(sources_path=PROJECT / "sources.yaml"), build_parser())
    schedule = fetch_schedule(context, PROJECT / "cron.yaml")
    enabled = {s.name for s in load_sources(PROJECT / "sources.yaml") if s.enabled}
    assert enabled and enabled <= set(schedule)
    assert all(job.command[0] in ("fetch", "run") for jobs in schedule.values() for job in jobs)
    assert fetch_schedule(context, PROJECT / "no-such-cron.yaml") == {}


def test_serve_needs_a_database_newstrack_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No database there: exit 2 naming it, and nothing is created."""
    missing = tmp_path / "none.db"
    assert main(["--db", f"sqlite:///{missing}", "serve"]) == 2
    assert "no database" in capsys.readouterr().err and not missing.exists()


def test_long_lists_show_the_most_reported_and_say_how_many_more(tmp_path: Path) -> None:
    """Hundreds of measures: Today lists 50 per state, the chart draws 60; both say the rest."""
    spec = importlib.util.spec_from_file_location("queries", PROJECT / "bench" / "queries.py")
    assert spec and spec.loader
    queries = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(queries)
    url = f"sqlite:///{tmp_path / 'large.db'}"
    queries.build(url, 900, 2)  # bench/queries.py's synthetic store: 900 events
    with (
        open_reader(url) as engine,
        serving_app(create_app(engine)) as base,
        httpx.Client(base_url=base) as client,
    ):
        today = client.get("/api/today", params={"on": "2026-01-01"}).json()
        in_force = today["states"]["in_force"]
        assert len(in_force) > 50  # the JSON has them all
        page = client.get("/", params={"on": "2026-01-01"}).text
        section = page.split("in force</span>", 1)[1].split("</table>", 1)[0]
        assert section.count("<tr>") == 1 + 50  # the header and the 50 most reported
        assert f"The 50 most reported of {len(in_force)}" in page
        histories = client.get("/api/elements/dysprosium").json()["histories"]
        assert len(histories) > 60
        chart = client.get("/elements/dysprosium").text
        assert len(re.findall(r'<a href="/measures/\d+"><text', chart)) == 60
        assert f"{len(histories) - 60} more are in the list below" in chart


def test_many_pages_read_at_once_all_answer(board: httpx.Client) -> None:
    """Requests served by many threads at once: the reader's connections are shared, never
    closed under another thread's read."""
    paths = ["/", "/elements/dysprosium", "/sources", "/api/today", "/search?q=controls"] * 8
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda path: board.get(path).status_code, paths))
    assert statuses == [200] * len(paths)


def test_search_finds_chinese_words_inside_unspaced_text(
    database_url: str, extractor: Extractor
) -> None:
    """镓 is found inside 镓、锗、锑 (the full-text index holds that run as one word), with others."""
    announcement = "https://c.example/zh/46"
    chinese = (
        "商务部公告2024年第46号\n\n"
        "二、原则上不予许可镓、锗、锑、超硬材料相关两用物项对美国出口。\n\n本公告自公布之日起正式实施。"
    )
    store_lifecycle(database_url, extractor, [(announcement, "2024-12-03", chinese)])
    with (
        open_reader(database_url) as engine,
        serving_app(create_app(engine)) as base,
        httpx.Client(base_url=base) as client,
    ):

        def found(words: str) -> tuple[set[str], int]:
            answer = client.get("/api/search", params={"q": words}).json()
            return {url for _, _, url, _ in answer["articles"]}, len(answer["events"])

        assert found("镓") == ({announcement}, 1)
        assert found("锗 镓")[0] == {announcement}  # every word, in any order
        assert found("镓 pigs") == (set(), 0)  # a spaced word still goes through the index
        assert found("镓%")[0] == set()  # LIKE's signs are literal
        assert found("钨")[0] == set()
        page = client.get("/search", params={"q": "镓"})
        assert page.status_code == 200 and "Events (1)" in page.text and "Articles (1)" in page.text
