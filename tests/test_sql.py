"""`newstrack sql` answers that never mislead: typed parameters, names, row cap, JSON, windows."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models.vocabulary import load_vocabulary
from pipeline.cli import main
from pipeline.errors import UsageError
from pipeline.extract import Extractor
from storage.canned import CannedQuery, Parameter
from tests.stored import PROJECT, ready, two_reports_of_one_event, two_sources


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command line."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cut rows are said on standard error with exit 3; --max-rows 0 gives them all."""
    two_sources(ready(database_url))
    query = "SELECT name FROM sources ORDER BY name"
    for output_format in ("csv", "json", "table"):
        code, out, err = _run(
            capsys, "--db", database_url, "sql", query, "--max-rows", "1", "--format", output_format
        )
        assert code == 3
        assert "first" in out
        assert "second" not in out
        assert "stopped at 1 rows" in err
    code, out, err = _run(capsys, "--db", database_url, "sql", query, "--max-rows", "0", "--json")
    assert code == 0, err
    assert [row["name"] for row in json.loads(out)] == ["first", "second"]
    code, _, err = _run(capsys, "--db", database_url, "sql", query, "--max-rows", "2")
    assert (code, err) == (0, "")


def test_json_gives_lists_as_arrays_and_empty_as_null(
    database_url: str, extractor: Extractor, capsys: pytest.CaptureFixture[str]
) -> None:
    """Elements, targets and conflicts are arrays in sql and status JSON; empty values are null."""
    two_reports_of_one_event(database_url, extractor)
    query = (
        "SELECT elements, targets, conflicts, '' AS note FROM v_events "
        "WHERE measure = 'export_control'"
    )
    for output_format in ("json", "jsonl"):
        code, out, err = _run(capsys, "--db", database_url, "sql", query, "--format", output_format)
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
    code, out, err = _run(capsys, "--db", database_url, "sql", query, "--format", "csv")
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
