"""`newstrack sql` answers that never mislead: typed parameters, names, row cap, JSON, windows."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from pipeline.cli import main
from pipeline.extract import Extractor
from tests.stored import PROJECT, ready, store_and_annotate, two_sources


def _two_reports(database_url: str, extractor: Extractor) -> None:
    """Two sources reporting China's gallium and germanium controls, published in May 2025."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    first = "China's Commerce Ministry on Friday imposed export controls on gallium and germanium."
    second = "Beijing imposed export controls on gallium on Friday, the ministry said."
    store_and_annotate(session_factory, extractor, "https://a.example/1", first, ids["first"])
    store_and_annotate(session_factory, extractor, "https://b.example/2", second, ids["second"])


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command line."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
@pytest.mark.parametrize("args", READING, ids=lambda args: " ".join(args[:2]))
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
