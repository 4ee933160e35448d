"""The command line end to end: the main job on the snapshot, idempotence, and clear errors."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from sqlalchemy import text

from models.pages import decompress_page
from pipeline.cli import build_parser, main
from pipeline.config.sources import load_sources
from storage.engine import open_engine
from tests.processes import printed
from tests.stored import newstrack

from .conftest import FIXTURES, PROJECT
from .servers import Behaviour, Handler, serve

SNAPSHOT = PROJECT / "snapshot"
COUNTED_TABLES = (
    "sources",
    "articles",
    "events",
    "event_elements",
    "event_targets",
    "mentions",
    "element_mentions",
    "entity_mentions",
    "quantities",
)


def _counts(database_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    counts = {}
    for table in COUNTED_TABLES:
        assert (
            main(["--db", database_url, "sql", f"SELECT count(*) AS n FROM {table}", "--json"]) == 0
        )
        counts[table] = json.loads(capsys.readouterr().out)[0]["n"]
    return counts


def test_run_on_snapshot_twice_stores_nothing_twice(
    database_url: str, reader_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The main job on the snapshot finds events; a second run adds no row anywhere."""
    code = main(["--db", database_url, "--json", "-q", "run", "--replay", str(SNAPSHOT)])
    report = json.loads(capsys.readouterr().out)
    assert code == 3  # the snapshot holds one broken link: a partial run, said so
    assert report["articles_stored"] >= 40
    assert report["totals"]["events"] >= 15
    failed = [source for source in report["sources"] if source["errors"]]
    assert [source["name"] for source in failed] == ["mofcom-news-releases"]
    assert "404" in failed[0]["errors"][0]
    first = _counts(reader_url, capsys)  # `sql` reads PostgreSQL as a role that only reads
    assert first["articles"] == report["articles_stored"]

    main(["--db", database_url, "--json", "-q", "run", "--replay", str(SNAPSHOT)])
    again = json.loads(capsys.readouterr().out)
    assert again["articles_stored"] == 0
    assert again["articles_extracted"] == 0
    assert _counts(reader_url, capsys) == first
    statuses = {source["name"]: source["status"] for source in again["sources"]}
    assert statuses["rare-earth-exchanges"] == "not_modified"


def test_run_finds_the_seed_article_events(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the demo, v_events holds the maintained rare-earth measure with its seven elements."""
    main(["--db", sqlite_url, "-q", "run", "--replay", str(SNAPSHOT)])
    capsys.readouterr()
    query = (
        "SELECT actor, elements, source_count FROM v_events "
        "WHERE action = 'maintain' AND elements LIKE :element"
    )
    assert (
        main(["--db", sqlite_url, "sql", query, "-p", "element=%dysprosium%", "--format", "json"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all(row["actor"] == "CN" for row in rows)
    assert any("yttrium" in row["elements"] for row in rows)


def test_dry_run_stores_nothing(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`run --dry-run` fetches and extracts but leaves no article behind."""
    main(["--db", sqlite_url, "-q", "run", "--replay", str(SNAPSHOT), "--dry-run"])
    capsys.readouterr()
    assert _counts(sqlite_url, capsys)["articles"] == 0


def test_fetch_then_extract_equals_run(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`fetch` then `extract` is the same job as `run`, split in two."""
    assert (
        main(["--db", sqlite_url, "-q", "fetch", "--replay", str(SNAPSHOT), "--source", "cnbc"])
        == 0
    )
    capsys.readouterr()
    stored = _counts(sqlite_url, capsys)
    assert stored["articles"] > 0
    assert stored["events"] == 0
    assert main(["--db", sqlite_url, "-q", "--json", "extract"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == stored["articles"]
    assert _counts(sqlite_url, capsys)["events"] > 0


def test_two_runs_at_once_store_what_one_run_stores(tmp_path: Path) -> None:
    """Two concurrent runs on one SQLite file end with the rows of a single run."""
    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    base = [sys.executable, "-m", "pipeline.cli", "-q"]
    subprocess.run(
        [*base, "--db", alone, "run", "--replay", str(SNAPSHOT)],
        cwd=PROJECT,
        check=False,
        capture_output=True,
        timeout=600,
    )
    both = [
        subprocess.Popen(
            [*base, "--db", shared, "run", "--replay", str(SNAPSHOT)],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for process in both:
        _, errors = process.communicate(timeout=600)
        assert process.returncode in (0, 3), errors.decode()
    tables = ("articles", "events", "mentions", "mention_elements", "event_elements")
    for table in (*tables, "element_mentions", "measure_periods"):
        query = f"SELECT count(*) FROM {table}"
        one = newstrack("--db", alone, "sql", query, "--format", "csv").stdout
        two = newstrack("--db", shared, "sql", query, "--format", "csv").stdout
        assert one == two, table


def test_annotate_follows_the_contract(seed_text: str) -> None:
    """`annotate` writes one JSON object per input line with the contract's fields."""
    lines = [
        json.dumps({"id": "seed", "text": seed_text, "published": "2025-05-14T09:00:00Z"}),
        json.dumps({"id": "empty", "title": "Nothing", "text": "Markets were quiet."}),
    ]
    result = newstrack("annotate", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["id"] for item in outputs] == ["seed", "empty"]
    seed = outputs[0]
    assert set(seed) >= {"id", "on_topic", "elements", "countries", "orgs", "events", "quantities"}
    assert seed["on_topic"] is True
    assert {"CN", "US"} <= set(seed["countries"])
    event_fields = {"actor", "action", "measure", "elements", "target", "quantities", "dates"}
    assert all(event_fields | {"evidence", "reported_label"} <= set(e) for e in seed["events"])
    assert outputs[1]["on_topic"] is False
    assert outputs[1]["events"] == []


def test_annotate_reads_a_chinese_announcement_with_its_instrument() -> None:
    """A Chinese announcement is read, not skipped: its event, Chinese evidence and instrument."""
    text = (
        "商务部公告2024年第46号\n\n决定加强相关两用物项对美国出口管制。现将有关事项公告如下：\n\n"
        "二、原则上不予许可镓、锗、锑、超硬材料相关两用物项对美国出口。\n\n本公告自公布之日起正式实施。"
    )
    line = json.dumps({"id": "46", "text": text, "published": "2024-12-03T04:05:00Z"})
    result = newstrack("annotate", stdin=line + "\n")
    assert result.returncode == 0, result.stderr
    (output,) = [json.loads(row) for row in result.stdout.splitlines()]
    assert output["status"] == "read"
    bans = [event for event in output["events"] if event["measure"] == "export_ban"]
    assert [(e["actor"], e["target"], e["instrument"]) for e in bans] == [
        ("CN", "US", "MOFCOM Announcement No. 46 of 2024")
    ]
    assert set(bans[0]["elements"]) == {"gallium", "germanium", "antimony"}
    assert "原则上不予许可" in bans[0]["evidence"]


def test_annotate_reports_a_bad_line_and_goes_on() -> None:
    """A non-JSON line is named by number; the good lines are still annotated; exit 3."""
    stdin = '{"id": "a", "text": "China banned gallium exports."}\nnot json at all\n{"id": "b"}\n'
    result = newstrack("annotate", stdin=stdin)
    assert result.returncode == 3
    assert "line 2: not JSON" in result.stderr
    assert 'line 3: expected an object with a "text" string' in result.stderr
    assert "Traceback" not in result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["a"]


def test_annotate_reports_hostile_lines_and_answers_the_others(tmp_path: Path) -> None:
    """Deep nesting, bad UTF-8 and a 5,000-digit number are each their line's error; no line lost."""
    good = [json.dumps({"id": f"g{n}", "text": "China banned gallium exports."}) for n in range(14)]
    hostile = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": "latin", "text": "caf\xe9 \xff"}',
        b'{"id": ' + b"9" * 5_000 + b', "text": "China banned gallium."}',
    ]
    lines = [line.encode() for line in good[:12]] + hostile + [line.encode() for line in good[12:]]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = newstrack("annotate", str(path))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "line 13: not JSON (nested too deeply)" in result.stderr
    assert "line 14: not UTF-8" in result.stderr
    assert "line 15: not JSON (Exceeds the limit (4300 digits)" in result.stderr
    outputs = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert outputs == [f"g{n}" for n in range(14)]


def test_annotate_reads_hostile_lines_from_standard_input_too() -> None:
    """On standard input as from a file: the bad line is named, the others answered in order."""
    stdin = "\n".join(
        [
            json.dumps({"id": "a", "text": "China banned gallium exports."}),
            '{"x": ' * 50_000 + "1" + "}" * 50_000,
            json.dumps({"id": "b", "text": "Markets were quiet."}),
        ]
    )
    result = newstrack("annotate", stdin=stdin + "\n")
    assert result.returncode == 3
    assert "line 2: not JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["a", "b"]


@pytest.mark.parametrize(
    ("arguments", "message", "code"),
    [
        (["run", "--source", "no-such-source"], "unknown source 'no-such-source'", 2),
        (
            ["--db", "postgresql+psycopg://postgres@127.0.0.1:1/none", "init"],
            "cannot connect to",
            1,
        ),
        (["sql", "SELEC nonsense"], "syntax error", 1),
        (
            ["--db", "sqlite:////no/such/folder/x.db", "init"],
            "folder /no/such/folder does not exist",
            2,
        ),
        (["--db", "mysql://root@127.0.0.1/x", "init"], "unsupported database URL", 2),
        (["--db", "postgresql+asyncpg://u@127.0.0.1/x", "init"], "use sqlite:///PATH", 2),
        (["--db", "sqlite://", "init"], "in-memory SQLite database", 2),
        (["--db", "sqlite:///:memory:", "run"], "in-memory SQLite database", 2),
        (["--db", "sqlite:///:memory:", "sql", "SELECT 1"], "in-memory SQLite database", 2),
        (["--db", "nonsense", "status"], "not a database URL: 'nonsense'", 2),
    ],
)
def test_bad_input_is_a_clear_error(
    arguments: list[str],
    message: str,
    code: int,
    tmp_path: Path,
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Bad input prints one clear line, no traceback, and the documented exit code."""
    database = ["--db", f"sqlite:///{tmp_path / 'x.db'}"] if "--db" not in arguments else []
    if arguments[0] == "sql":
        in_process(*database, "init")
    result = in_process(*database, *arguments)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_sources_file_names_the_line(
    tmp_path: Path, in_process: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """A broken sources.yaml is reported with its path and line, and nothing runs."""
    broken = tmp_path / "sources.yaml"
    broken.write_text(
        "version: 1\nsources:\n  - name: ok\n    kind: rss\n    urls: [https://a.example/feed\n"
    )
    result = in_process("--db", f"sqlite:///{tmp_path / 'x.db'}", "--sources", str(broken), "fetch")
    assert result.returncode == 2
    assert f"{broken}: line" in result.stderr
    assert "Traceback" not in result.stderr
    unknown_kind = tmp_path / "kind.yaml"
    unknown_kind.write_text(
        "sources:\n  - name: odd\n    kind: carrier-pigeon\n    urls: [https://a.example/]\n"
    )
    result = in_process(
        "--db", f"sqlite:///{tmp_path / 'x.db'}", "--sources", str(unknown_kind), "fetch"
    )
    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert "kind" in result.stderr


def test_every_command_has_help_and_is_in_the_readme(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Each subcommand answers --help and the README tells users about it."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    [subparsers] = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    commands = subparsers._name_parser_map
    assert set(commands) >= {"init", "run", "fetch", "extract", "sql", "annotate"}
    for name in commands:
        result = in_process(name, "--help")
        assert result.returncode == 0
        assert "usage: newstrack" in result.stdout
        assert f"newstrack {name}" in readme, name


def test_readme_starts_with_the_two_commands() -> None:
    """The README's first commands are the demo and the tests, and .ci/run calls the second."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    blocks = [block.split("\n", 1)[1] for block in readme.split("```")[1::2]]
    assert blocks[0].strip().splitlines() == ["make demo", "make test"]
    assert "make test" in (PROJECT / ".ci" / "run").read_text(encoding="utf-8")


def test_shipped_sources_include_the_real_feeds() -> None:
    """sources.yaml ships Rare Earth Exchanges, four CNBC feeds and MOFCOM in English and Chinese."""
    from pipeline.config.sources import load_sources

    sources = load_sources(PROJECT / "sources.yaml")
    urls = [url for source in sources for url in source.urls]
    assert "https://rareearthexchanges.com/feed/" in urls
    for feed in ("100003114", "100727362", "20910258", "10000664"):
        assert any(url.endswith(f"id={feed}") and "search.cnbc.com" in url for url in urls)
    assert sum("english.mofcom.gov.cn" in url for url in urls) == 2
    assert sum("www.mofcom.gov.cn" in url for url in urls) == 5  # three yearly indexes, two lists
    assert FIXTURES.is_dir()


def test_article_shows_what_a_saved_page_reads_as(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """`article --json` gives title, date, text, language and extractor; --url picks selectors."""
    page = SNAPSHOT / "www.cnbc.com" / "2025-10-10-trump-threatens-100percent-tariffs-on-china.html"
    url = "https://www.cnbc.com/2025/10/10/trump-threatens-100percent-tariffs-on-china.html"
    chosen = in_process("article", str(page), "--url", url, "--json")
    assert chosen.returncode == 0, chosen.stderr
    report = json.loads(chosen.stdout)
    assert set(report) == {"title", "published", "text", "language", "text_extractor"}
    assert report["text_extractor"] == "selectors"
    assert report["published"].startswith("2025-10-10")
    assert "100%" in report["text"]
    generic = json.loads(in_process("article", str(page), "--json").stdout)
    assert generic["text_extractor"] == "trafilatura"
    assert generic["title"] == report["title"]
    missing = in_process("article", "no-such-page.html")
    assert missing.returncode == 1
    assert "cannot read no-such-page.html" in missing.stderr


def test_the_collector_runs_less_often_while_the_command_line_imports() -> None:
    """Its threshold is raised before the command line imports SQLAlchemy, the tables and the rest.

    The command line imports all that `models` does and more, yet collects a fraction as often.
    """
    probe = "import gc, {0}; print(gc.get_stats()[0]['collections'], gc.get_threshold()[0])"
    cli_collections, cli_threshold = map(int, printed(probe.format("pipeline.cli")).split())
    models_collections, models_threshold = map(int, printed(probe.format("models")).split())
    assert (cli_threshold, models_threshold) == (10_000, 700)
    assert cli_collections * 3 < models_collections


@pytest.mark.parametrize("stored_as", ["zstd", "zlib"])
def test_reextract_uses_stored_pages_after_a_selector_change(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], stored_as: str
) -> None:
    """Changing a source's selectors and running `reextract` redoes the text without fetching.

    Pages stored zlib-compressed, as earlier versions kept them, are read as well.
    """
    replay = ["--replay", str(SNAPSHOT)]
    assert main(["--db", sqlite_url, "-q", "fetch", "--source", "cnbc-top-news", *replay]) == 0
    capsys.readouterr()
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        stored = connection.execute("SELECT id, raw_html FROM articles").fetchall()
        assert stored and all(raw.startswith(zstandard.FRAME_HEADER) for _, raw in stored)
        if stored_as == "zlib":
            earlier = [(zlib.compress(decompress_page(raw)), id_) for id_, raw in stored]
            connection.executemany("UPDATE articles SET raw_html = ? WHERE id = ?", earlier)
    changed_sources = tmp_path / "sources.yaml"
    original = (PROJECT / "sources.yaml").read_text(encoding="utf-8")
    changed_sources.write_text(original.replace("text: div.ArticleBody-articleBody", "text: h1"))
    arguments = ["--db", sqlite_url, "--sources", str(changed_sources), "--json"]
    assert main([*arguments, "reextract"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["checked"] == 6
    assert first["changed"] == 6
    assert (
        main(
            [
                "--db",
                sqlite_url,
                "sql",
                "SELECT text, title, extraction_status FROM articles",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert all(row["text"] == row["title"] for row in rows)  # h1 holds the headline only
    assert {row["extraction_status"] for row in rows} == {"pending"}
    assert main([*arguments, "reextract"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 0


def test_sources_lists_health(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`sources --json` lists every configured source with its health after a run."""
    main(["--db", sqlite_url, "-q", "fetch", "--replay", str(SNAPSHOT), "--source", "mofcom"])
    capsys.readouterr()
    assert main(["--db", sqlite_url, "--json", "sources"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == len(load_sources(PROJECT / "sources.yaml"))
    assert rows["mofcom-announcements"]["articles_7d"] > 0
    assert rows["mofcom-announcements"]["failures"] == 0
    assert rows["mofcom-announcements"]["last_success"] is not None
    assert rows["cnbc-world"]["last_success"] is None


def _wordpress_site(edited: bool) -> dict[str, Behaviour]:
    """A WordPress REST API serving the two fixture pages (one post's text edited, if asked)."""
    pages = [
        (FIXTURES / "wordpress" / f"posts-page-{n}.json").read_text(encoding="utf-8")
        for n in (1, 2)
    ]
    if edited:
        pages[0] = pages[0].replace(
            "<\\/p>", " Updated with the ministry's licence figures.<\\/p>", 1
        )

    def behave(handler: Handler) -> None:
        page = 2 if "page=2" in handler.path else 1
        headers = {"X-WP-TotalPages": "2", "X-WP-Total": "6"}
        handler.send(200, pages[page - 1].encode(), {"Content-Type": "application/json", **headers})

    return {"/wp-json/wp/v2/posts": behave}


def test_backfill_loads_history_and_catches_edited_posts(
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`backfill` stores a WordPress site's posts since a date; --modified updates edited ones."""
    monkeypatch.setenv("NEWSTRACK_PER_HOST_INTERVAL", "0")
    registry = tmp_path / "sources.yaml"
    for edited in (False, True):
        with serve(_wordpress_site(edited)) as server:
            registry.write_text(
                f"sources:\n  - name: desk\n    kind: rss\n    urls: [{server.url('/feed/')}]\n"
            )
            base = ["--db", sqlite_url, "--sources", str(registry), "--json", "backfill"]
            flags = ["--modified"] if edited else []
            assert main([*base, "--source", "desk", "--since", "2025-01-01", *flags]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["stored"], report["updated"]) == ((0, 1) if edited else (6, 0))
    assert (
        main(
            [
                "--db",
                sqlite_url,
                "sql",
                "SELECT text FROM articles WHERE extraction_status = 'pending'",
                "--format",
                "json",
            ]
        )
        == 0
    )
    texts = [row["text"] for row in json.loads(capsys.readouterr().out)]
    assert len(texts) == 6
    assert sum("licence figures" in text for text in texts) == 1


def test_backfill_refuses_a_group(
    tmp_path: Path, in_process: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """`backfill` takes one source: a group name is a usage error."""
    result = in_process(
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "backfill",
        "--source",
        "cnbc",
        "--since",
        "2025-01-01",
    )
    assert result.returncode == 1
    assert "is a group" in result.stderr


def _rows(
    database_url: str, query: str, capsys: pytest.CaptureFixture[str], **parameters: object
) -> list[dict[str, object]]:
    bound = [word for name, value in parameters.items() for word in ("-p", f"{name}={value}")]
    assert main(["--db", database_url, "sql", query, *bound, "--json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_extract_all_reads_again_only_what_an_older_version_read(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an extractor change, `extract --all` replaces that article's rows and no other's."""
    assert main(
        ["--db", sqlite_url, "-q", "fetch", "--replay", str(SNAPSHOT), "--source", "mofcom"]
    ) in (0, 3)
    assert main(["--db", sqlite_url, "-q", "extract"]) == 0
    capsys.readouterr()
    # What each mention says, and the event of every other article's mention: an event that only
    # the article read again reports is made anew, so its id may change; no other may.
    mention_query = (
        "SELECT m.article_id, m.start_char, e.actor, e.action, e.measure, "
        "CASE WHEN EXISTS (SELECT 1 FROM mentions o WHERE o.event_id = m.event_id "
        "AND o.article_id <> :old) THEN m.event_id END AS shared_event "
        "FROM mentions m JOIN events e ON e.id = m.event_id ORDER BY 1, 2, 3, 4, 5"
    )
    articles = _rows(
        sqlite_url, "SELECT id, extracted_at, extractor_version FROM articles ORDER BY id", capsys
    )
    old = articles[0]["id"]
    before = _rows(sqlite_url, mention_query, capsys, old=old)
    # An older extractor version read this article; the database is opened writable for that only.
    with open_engine(sqlite_url) as engine, engine.begin() as connection:
        connection.execute(
            text("UPDATE articles SET extractor_version = '0+old' WHERE id = :id"), {"id": old}
        )
    assert main(["--db", sqlite_url, "-q", "--json", "extract"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 0  # plain extract: nothing pending
    assert main(["--db", sqlite_url, "-q", "--json", "extract", "--all"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 1
    after = _rows(
        sqlite_url, "SELECT id, extracted_at, extractor_version FROM articles ORDER BY id", capsys
    )
    changed = [row["id"] for row, then in zip(after, articles, strict=True) if row != then]
    assert changed == [old]
    assert after[0]["extractor_version"] == report["extractor_version"]
    assert _rows(sqlite_url, mention_query, capsys, old=old) == before


def test_extract_in_two_processes_stores_what_one_process_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--processes 2` spreads the trained pipeline over two processes with the same result."""
    results = []
    for processes in ("1", "2"):
        database = f"sqlite:///{tmp_path / f'p{processes}.db'}"
        assert (
            main(["--db", database, "-q", "fetch", "--replay", str(SNAPSHOT), "--source", "cnbc"])
            == 0
        )
        assert main(["--db", database, "-q", "extract", "--processes", processes]) == 0
        capsys.readouterr()
        results.append(_counts(database, capsys))
    assert results[0] == results[1]
    assert results[0]["events"] > 0


def test_a_broken_database_is_a_one_line_error(tmp_path: Path) -> None:
    """A table dropped by hand gives a clear message and exit 1, not a traceback."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    assert newstrack("--db", database, "init").returncode == 0
    with sqlite3.connect(tmp_path / "x.db") as connection:
        connection.execute("DROP TABLE measure_periods")
    result = newstrack("--db", database, "status")
    assert result.returncode == 1
    assert result.stderr.strip() == "newstrack: error: database: no such table: measure_periods"
