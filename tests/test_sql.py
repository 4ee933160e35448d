"""`newstrack sql` answers that never mislead: typed parameters, names, row cap, JSON, windows."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models.errors import QueryError, UsageError
from models.vocabulary import load_vocabulary
from pipeline.cli import main
from pipeline.extraction import Extractor
from storage import readonly
from storage.canned import CannedQuery, Parameter
from storage.readonly import run_readonly
from tests.stored import PROJECT, ready, two_reports_of_one_event, two_sources


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command line."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _typed(
    capsys: pytest.CaptureFixture[str], database_url: str, reader_url: str, *args: str
) -> tuple[int, str, str]:
    """`newstrack sql` on a database, reading as the reader role."""
    return _run(capsys, "--db", database_url, "sql", "--sql-db", reader_url, *args)


@pytest.mark.parametrize(
    ("args", "messages"),
    [
        (["by-element", "-p", "elemnt=Dy"], ["no parameter 'elemnt'", "did you mean element?"]),
        (["in-force", "-p", "day=2025-13-01"], ["-p day=2025-13-01", "not a date"]),
        (["by-element", "-p", "element=dysprosim"], ["did you mean dysprosium?"]),
        (["by-element", "-p", "element=heavy rare earths"], ["a group of 10 elements"]),
        (["by-actor", "-p", "actor=Atlantis"], ["-p actor=Atlantis", "'Atlantis' is not"]),
        (["by-elemnt"], ["no canned query 'by-elemnt'", "did you mean by-element?"]),
        (["SELECT :element"], [":element has no value", "-p element=VALUE"]),
        (["SELECT 1", "-p", "element=Dy"], ["-p element: the query has no :element"]),
        (["SELECT 1", "-p", "element"], ["not NAME=VALUE"]),
    ],
)
def test_parameters_that_cannot_be_meant_are_usage_errors(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], args: list[str], messages: list[str]
) -> None:
    """A misspelt, invalid, missing or unused parameter is exit 2 naming it, never a quiet answer."""
    ready(sqlite_url)
    code, _, err = _run(capsys, "--db", sqlite_url, "sql", *args)
    assert code == 2, err
    for message in messages:
        assert message in err


def test_typed_parameters_take_the_names_status_takes(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Element and country parameters resolve symbols, any case, countries, capitals and bodies."""
    two_reports_of_one_event(database_url, extractor)

    def measures(*args: str) -> list[object]:
        code, out, err = _run(capsys, "--db", database_url, "sql", *args, "--format", "json")
        assert code == 0, err
        return [row["measure"] for row in json.loads(out)]

    for element in ("gallium", "Ga", "ga", "GALLIUM"):
        assert measures("by-element", "-p", f"element={element}") == ["export_control"]
    for actor in ("CN", "cn", "China", "Beijing", "MOFCOM"):
        assert measures("by-actor", "-p", f"actor={actor}") == ["export_control"]
    assert measures("by-actor", "-p", "actor=Washington") == []


def test_every_command_taking_an_element_suggests_the_closest(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status, sql parameters and watchlist filters all answer a misspelt element alike."""
    ready(sqlite_url)
    watchlists = str(tmp_path / "watchlists.yaml")
    for args in (
        ["status", "--element", "dysprosim"],
        ["sql", "by-element", "-p", "element=dysprosim"],
        ["watchlist", "add", "w", "--recipient", "a@b.example", "--element", "dysprosim",
         "--file", watchlists],
    ):  # fmt: skip
        code, _, err = _run(capsys, "--db", sqlite_url, *args)
        assert code == 2, args
        assert "'dysprosim' is not an element" in err
        assert "did you mean dysprosium?" in err


def test_a_canned_query_checks_every_type_and_needs_its_required_parameters() -> None:
    """Each type converts what it can mean and refuses the rest; no default means required."""
    query = CannedQuery(
        "q",
        "a query",
        "SELECT :n, :measure",
        (Parameter("n", "int", None), Parameter("measure", "measure", "export_ban")),
    )
    vocabulary = load_vocabulary()
    assert query.values({"n": "3"}, vocabulary) == {"n": 3, "measure": "export_ban"}
    assert query.values({"n": "3", "measure": "Export-Control"}, vocabulary)["measure"] == (
        "export_control"
    )
    with pytest.raises(UsageError, match=r"q needs -p n=VALUE \(int\)"):
        query.values({}, vocabulary)
    with pytest.raises(UsageError, match="-p n=three: not a whole number"):
        query.values({"n": "three"}, vocabulary)
    with pytest.raises(UsageError, match="did you mean export_ban"):
        query.values({"n": "1", "measure": "export_bna"}, vocabulary)


def test_the_list_of_canned_queries_gives_typed_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """sql --list names each parameter with its type and default, as an array in JSON."""
    code, out, err = _run(capsys, "sql", "--list", "--format", "json")
    assert code == 0, err
    listed = {row["name"]: row["parameters"] for row in json.loads(out)}
    assert listed["by-element"] == ["element:element=dysprosium"]
    assert listed["by-actor"] == ["actor:country=CN"]
    assert listed["in-force"] == ["day:date=days_ago(0)"]


def test_a_negative_row_cap_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-rows takes 0 (no cap) or more."""
    with pytest.raises(SystemExit) as caught:
        main(["sql", "SELECT 1", "--max-rows", "-1"])
    assert caught.value.code == 2
    assert "--max-rows" in capsys.readouterr().err


def test_a_row_cap_that_cuts_rows_is_a_partial_answer(
    database_url: str, reader_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cut rows are said on standard error with exit 3; --max-rows 0 gives them all."""
    two_sources(ready(database_url))
    query = "SELECT name FROM sources ORDER BY name"
    for output_format in ("csv", "json", "table"):
        code, out, err = _typed(
            capsys,
            database_url,
            reader_url,
            query,
            "--max-rows",
            "1",
            "--format",
            output_format,
        )
        assert code == 3
        assert "first" in out
        assert "second" not in out
        assert "stopped at 1 rows" in err
    code, out, err = _typed(
        capsys,
        database_url,
        reader_url,
        query,
        "--max-rows",
        "0",
        "--json",
    )
    assert code == 0, err
    assert [row["name"] for row in json.loads(out)] == ["first", "second"]
    code, _, err = _typed(capsys, database_url, reader_url, query, "--max-rows", "2")
    assert (code, err) == (0, "")


def test_json_gives_lists_as_arrays_and_empty_as_null(
    database_url: str, reader_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Elements, targets and conflicts are arrays in sql and status JSON; empty values are null."""
    two_reports_of_one_event(database_url, extractor)
    query = (
        "SELECT elements, targets, conflicts, '' AS note FROM v_events "
        "WHERE measure = 'export_control'"
    )
    for output_format in ("json", "jsonl"):
        code, out, err = _typed(
            capsys,
            database_url,
            reader_url,
            query,
            "--format",
            output_format,
        )
        assert code == 0, err
        rows = (
            [json.loads(line) for line in out.splitlines()]
            if output_format == "jsonl"
            else (json.loads(out))
        )
        assert rows == [
            {"elements": ["gallium", "germanium"], "targets": None, "conflicts": None,
             "note": None}
        ]  # fmt: skip
    code, out, err = _typed(capsys, database_url, reader_url, query, "--format", "csv")
    assert out.splitlines()[1] == '"gallium, germanium",,,'
    code, out, err = _run(
        capsys, "--db", database_url, "status", "--on", "2025-06-01", "--format", "json"
    )
    assert code == 0, err
    assert [row["elements"] for row in json.loads(out)] == [["gallium", "germanium"]]


def test_an_empty_window_says_how_old_the_newest_article_is(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """recent-events and most-reported with nothing in their window point at the newest article."""
    two_reports_of_one_event(database_url, extractor)
    for name in ("recent-events", "most-reported"):
        code, out, err = _run(capsys, "--db", database_url, "sql", name, "--format", "csv")
        assert code == 0, err
        assert len(out.splitlines()) == 1  # the header alone: the articles are from May 2025
        assert "the newest article is from 2025-05-14" in err
        assert "widen with -p since=2025-04-14" in err
    code, out, err = _run(
        capsys, "--db", database_url, "sql", "recent-events", "-p", "since=2025-05-01", "--json"
    )
    assert (code, err) == (0, "")
    assert len(json.loads(out)) == 1


READING = [
    ["status"],
    ["sources", "--sources", str(PROJECT / "sources.yaml")],
    ["sql", "recent-events"],
    ["sql", "SELECT 1"],
    ["digest", "preview", "--watchlist", "gallium", "--cron", str(PROJECT / "cron.yaml")],
]


def _reading(args: list[str], folder: Path) -> list[str]:
    """A reading command line; digest preview gets a watchlist file and an output folder there."""
    if args[0] != "digest":
        return args
    watchlists = folder / "watchlists.yaml"
    watchlists.write_text(
        "version: 1\nwatchlists:\n  - name: gallium\n    recipients: [a@b.example]\n"
        "    filters: {elements: [gallium]}\n",
        encoding="utf-8",
    )
    return [*args, "--file", str(watchlists), "--out", str(folder / "preview")]


@pytest.mark.parametrize("args", READING, ids=lambda args: " ".join(args[:2]))
def test_reading_commands_never_create_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """A missing SQLite file, or one without the schema, is exit 2 naming it; nothing is created."""
    missing = tmp_path / "nope.db"
    code, _, err = _run(capsys, "--db", f"sqlite:///{missing}", *_reading(args, tmp_path))
    assert code == 2, err
    assert f"no database at {missing}" in err
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    code, _, err = _run(capsys, "--db", f"sqlite:///{empty}", *_reading(args, tmp_path))
    assert code == 2, err
    assert f"no newstrack schema in sqlite:///{empty}" in err
    assert empty.stat().st_size == 0


@pytest.mark.postgres
@pytest.mark.parametrize("args", [*READING, ["jobs"]], ids=lambda args: " ".join(args[:2]))
def test_reading_commands_refuse_a_postgresql_database_without_the_schema(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """A PostgreSQL database without newstrack's tables is exit 2, and stays without them."""
    code, _, err = _run(capsys, "--db", postgres_url, *_reading(args, tmp_path))
    assert code == 2, err
    assert "no newstrack schema in" in err
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A psycopg connection to the database of `url`, as the test server's superuser."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn, autocommit=True)


def _probe_table(url: str) -> tuple[bool, int]:
    """Whether table `t` exists, and how many sources are stored: what the attacks aim at."""
    with _admin(url) as admin:
        created = admin.execute("SELECT to_regclass('t') IS NOT NULL").fetchone()
        sources = admin.execute("SELECT count(*) FROM sources").fetchone()
    assert created is not None and sources is not None
    return bool(created[0]), int(str(sources[0]))


POSTGRES_ATTACKS = [
    "COMMIT; CREATE TABLE t(x int)",
    "SET TRANSACTION READ WRITE; INSERT INTO sources (name, kind, url) "
    "VALUES ('x', 'rss', 'https://x.example/'); COMMIT",
    "; COMMIT; DROP TABLE sources CASCADE",
    "SELECT 1; COMMIT; CREATE TABLE t(x int)",
    "SET statement_timeout = 0; SELECT pg_sleep(8)",
]
REFUSED_ALONE = {
    "COMMIT": "COMMIT (transaction control",
    "begin work": "BEGIN (transaction control",
    "/* first */ SAVEPOINT s": "SAVEPOINT (transaction control",
    "SET statement_timeout = 0": "SET (session settings",
    "SET TRANSACTION READ WRITE": "SET (session settings",
    "RESET ALL": "RESET (session settings",
    "COPY sources TO '/tmp/newstrack-copy'": "COPY (it reads and writes files",
    "COPY (SELECT 1) TO PROGRAM 'id'": "COPY (it reads and writes files",
}


@pytest.mark.postgres
@pytest.mark.parametrize("attack", POSTGRES_ATTACKS)
def test_postgresql_sql_runs_one_statement_and_changes_nothing(
    postgres_url: str,
    postgres_reader_url: str,
    capsys: pytest.CaptureFixture[str],
    attack: str,
) -> None:
    """Several statements are refused before they run: no table made, no row stored, no wait."""
    two_sources(ready(postgres_url))
    for url in (postgres_url, postgres_reader_url):  # the superuser too: refused before the role
        started = time.monotonic()
        code, out, err = _typed(capsys, postgres_url, url, "--time-limit", "2", attack)
        assert (code, out) == (1, ""), err
        assert "runs one statement at a time" in err
        assert time.monotonic() - started < 2
        assert _probe_table(postgres_url) == (False, 2)


@pytest.mark.postgres
@pytest.mark.parametrize(("statement", "message"), REFUSED_ALONE.items())
def test_postgresql_sql_refuses_transaction_control_settings_and_copy(
    postgres_url: str,
    postgres_reader_url: str,
    capsys: pytest.CaptureFixture[str],
    statement: str,
    message: str,
) -> None:
    """BEGIN, COMMIT, SET, RESET and COPY are refused by name, as any role."""
    ready(postgres_url)
    for url in (postgres_url, postgres_reader_url):
        code, _, err = _typed(capsys, url, url, statement)
        assert code == 1, err
        assert f"newstrack sql only reads: it does not run {message}" in err
    assert not Path("/tmp/newstrack-copy").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("attack", [*POSTGRES_ATTACKS, *REFUSED_ALONE])
def test_postgresql_connection_limits_hold_without_the_statement_check(
    postgres_url: str, postgres_reader_url: str, monkeypatch: pytest.MonkeyPatch, attack: str
) -> None:
    """Were the check of the text fooled, the extended protocol still takes one statement only,
    the connection stays read-only and timed, and the reader role may not COPY to files."""
    two_sources(ready(postgres_url))
    monkeypatch.setattr(readonly, "_refuse_statement", lambda query: None)
    started = time.monotonic()
    with contextlib.suppress(QueryError):
        run_readonly(postgres_reader_url, attack, time_limit=2)
    assert time.monotonic() - started < 5
    assert _probe_table(postgres_url) == (False, 2)
    assert not Path("/tmp/newstrack-copy").exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    [
        "SELECT set_config('statement_timeout', '0', false), pg_sleep(8)",
        # The first row lifts the limit; the rows after it come in later FETCHes.
        "SELECT set_config('statement_timeout', '0', false) AS a "
        "UNION ALL SELECT pg_sleep(0.5)::text FROM generate_series(1, 16)",
        "DO $$BEGIN PERFORM set_config('statement_timeout', '0', false); "
        "PERFORM pg_sleep(8); END$$",
    ],
)
def test_postgresql_sql_time_limit_cannot_be_lifted_by_the_query(
    postgres_url: str,
    postgres_reader_url: str,
    capsys: pytest.CaptureFixture[str],
    query: str,
) -> None:
    """set_config() inside the query does not lift --time-limit: the query stops at it."""
    ready(postgres_url)
    started = time.monotonic()
    code, _, err = _run(capsys, "sql", "--sql-db", postgres_reader_url, "--time-limit", "1", query)
    assert code == 1, err
    assert "query stopped after the time limit of 1 s" in err
    assert time.monotonic() - started < 5  # generous: the limit is 1 s, the query 8 s


@pytest.mark.postgres
def test_postgresql_sql_refuses_a_superuser_and_reads_as_a_reader_role(
    postgres_url: str,
    postgres_reader_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Typed SQL as a superuser is exit 2 naming the role and the way out; a reader role reads,
    and cannot read the server's files; newstrack's canned queries still run as the superuser."""
    two_sources(ready(postgres_url))
    code, out, err = _run(
        capsys, "--db", postgres_url, "sql", "SELECT pg_read_file('/etc/passwd', 0, 200)"
    )
    assert (code, out) == (2, "")
    assert "as PostgreSQL role 'postgres' (a superuser)" in err
    assert "NEWSTRACK_SQL_DB or --sql-db" in err
    code, out, err = _run(capsys, "--db", postgres_url, "sql", "recent-events", "--json")
    assert code == 0, err  # newstrack's own SQL
    query = "SELECT count(*) AS n FROM sources"
    code, out, err = _typed(capsys, postgres_url, postgres_reader_url, query, "--json")  # fmt: skip
    assert (code, json.loads(out)) == (0, [{"n": 2}]), err
    monkeypatch.setenv("NEWSTRACK_SQL_DB", postgres_reader_url)
    code, out, err = _run(capsys, "--db", postgres_url, "sql", query, "--json")
    assert (code, json.loads(out)) == (0, [{"n": 2}]), err
    code, out, err = _run(capsys, "sql", "SELECT pg_read_file('/etc/passwd', 0, 200)")
    assert (code, out) == (1, "")
    assert "permission denied for function pg_read_file" in err
    code, _, err = _run(capsys, "sql", "COPY (SELECT 1) TO PROGRAM 'id'")
    assert code == 1
    assert "does not run COPY" in err


@pytest.mark.postgres
@pytest.mark.parametrize("power", ["pg_read_server_files", "pg_execute_server_program"])
def test_postgresql_sql_refuses_a_role_that_reaches_the_server_files(
    postgres_url: str, postgres_reader_url: str, capsys: pytest.CaptureFixture[str], power: str
) -> None:
    """A role that is not a superuser but may read, write or run server files is refused too."""
    ready(postgres_url)
    role = make_url(postgres_reader_url).username
    with _admin(postgres_url) as admin:
        admin.execute(f"GRANT {power} TO {role}")
    code, out, err = _run(capsys, "sql", "--sql-db", postgres_reader_url, "SELECT 1")
    assert (code, out) == (2, "")
    assert f"as PostgreSQL role '{role}' (member of {power})" in err


SLOW_FEW_STEPS = (  # about 0.15 s a row, and few virtual-machine steps: the progress handler waits
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
    "SELECT length(upper(hex(randomblob(16000000)))) FROM n"
)


def test_sqlite_time_limit_stops_a_query_of_few_slow_steps(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A timer interrupts what the every-10,000-steps progress handler would let run ~15 s."""
    ready(sqlite_url)
    started = time.monotonic()
    code, _, err = _run(capsys, "--db", sqlite_url, "sql", "--time-limit", "0.5", SLOW_FEW_STEPS)
    assert code == 1, err
    assert "query stopped after the time limit of 0.5 s" in err
    assert time.monotonic() - started < 5  # generous


def test_sqlite_length_limit_stops_a_huge_value(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's nested replace over 400 MB of hex stops at once at SQLite's length limit."""
    ready(sqlite_url)
    huge = "SELECT length(replace(replace(hex(zeroblob(200000000)), '0', '00'), '0', '00'))"
    code, _, err = _run(capsys, "--db", sqlite_url, "sql", "--time-limit", "60", huge)
    assert code == 1, err
    assert f"a value passed {readonly.MAX_VALUE_BYTES // 2**20} MB" in err
    assert "string or blob too big" in err  # the length limit, not the time limit, stopped it


@pytest.mark.parametrize("max_rows", ["1000", "0"])
def test_an_answer_too_big_is_stopped_whatever_its_row_count(
    database_url: str, reader_url: str, capsys: pytest.CaptureFixture[str], max_rows: str
) -> None:
    """Three rows of 30 MB pass the 64 MB bound of an answer: stopped with a clear message."""
    ready(database_url)
    big = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
        "SELECT hex(zeroblob(15000000)) FROM n"
        if database_url.startswith("sqlite")
        else "SELECT repeat('x', 30000000) FROM generate_series(1, 3)"
    )
    code, out, err = _typed(capsys, database_url, reader_url, "--max-rows", max_rows, big)
    assert (code, out) == (1, "")
    assert "query stopped: its answer passed 64 MB after 2 rows" in err


HOSTILE = "\x1b]0;owned\x07 \x1b]52;c;b3duZWQ=\x07 \x9b31m \r\x00\x7f \u202e line\nnext\tcell"


@pytest.mark.parametrize("output_format", ["table", "csv", "json", "jsonl"])
def test_control_characters_are_printed_as_escapes(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    """ESC, BEL, C1, CR, NUL, DEL and bidi overrides never reach the terminal raw, in any format."""
    ready(sqlite_url)
    query = 'SELECT :title AS "\x1b[2Jtitle"'
    code, out, err = _run(capsys, "--db", sqlite_url, "sql", query, "-p", f"title={HOSTILE}",
                          "--format", output_format)  # fmt: skip
    assert code == 0, err
    printed = out.replace("\r\n", "\n") if output_format == "csv" else out  # CSV's line ends
    raw = set(printed) & {"\x1b", "\x07", "\x9b", "\r", "\x00", "\x7f", "\u202e"}
    assert not raw
    if output_format == "table":
        assert "\\x1b]0;owned\\x07" in out
        assert "\\x1b[2Jtitle" in out
        assert len(out.splitlines()) == 4  # header, rule, one row, count: no line break in a cell
    elif output_format == "csv":
        assert "\\x1b]0;owned\\x07 \\x1b]52;c;b3duZWQ=\\x07 \\x9b31m \\x0d\\x00\\x7f \\u202e" in out
        assert "line\nnext\tcell" in out  # CSV quotes its line breaks and tabs
    else:  # json.dumps escapes them itself, and the text comes back whole
        rows = (
            [json.loads(line) for line in out.splitlines()]
            if output_format == "jsonl"
            else (json.loads(out))
        )
        assert rows == [{"\x1b[2Jtitle": HOSTILE}]


def test_error_messages_print_control_characters_as_escapes(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database error quoting hostile text (here a missing table's name) escapes it too."""
    ready(sqlite_url)
    code, _, err = _run(capsys, "--db", sqlite_url, "sql", 'SELECT 1 FROM "\x1b]0;owned\x07"')
    assert code == 1
    assert "\x1b" not in err
    assert "\\x1b]0;owned\\x07" in err


@pytest.mark.postgres
def test_postgresql_connection_settings_win_over_the_urls_options(
    postgres_url: str, postgres_reader_url: str
) -> None:
    """A URL's own `options` cannot turn read-only off or lift the time limit: ours come last."""
    ready(postgres_url)
    url = make_url(postgres_reader_url).update_query_dict(
        {"options": "-c default_transaction_read_only=off -c statement_timeout=0"}
    )
    rendered = url.render_as_string(hide_password=False)
    assert run_readonly(rendered, "SHOW default_transaction_read_only").rows == [("on",)]
    assert run_readonly(rendered, "SHOW statement_timeout", time_limit=3).rows == [("3s",)]
