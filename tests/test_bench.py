"""The benchmarks still run against the code they measure (on tiny sizes; no time is asserted)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from storage.canned import canned_queries
from tests.stored import PROJECT, ready


def test_the_query_benchmark_runs_every_canned_query_and_status() -> None:
    """bench/queries.py builds its store and prints a line per canned query and per status."""
    result = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "queries.py"), "--events", "300",
         "--mentions-per-event", "2"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert printed == [*sorted(canned_queries()), "status", "status"]


def test_the_board_benchmark_times_every_page_it_lists() -> None:
    """bench/board.py builds a small store, serves it and prints a line per page, all answered."""
    result = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "board.py"), "--events", "60", "--repeat", "2"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pages = [line.split()[0] for line in lines if line.startswith("/")]
    assert {"/", "/elements/dysprosium", "/sources", "/api/today"} <= set(pages)
    assert lines[-1].startswith("slowest page p95 over HTTP")


def test_the_report_times_every_canned_query_with_its_defaults(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/report.py's query timing runs each canned query as `newstrack sql NAME` would."""
    spec = importlib.util.spec_from_file_location("report", PROJECT / "bench" / "report.py")
    assert spec and spec.loader
    report = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "report", report)  # its dataclasses look their module up
    spec.loader.exec_module(report)
    ready(sqlite_url)
    times = report.query_times(sqlite_url)
    assert set(times) == {*canned_queries(), "status", "status gallium"}


def test_the_fetch_benchmarks_print_every_part_on_a_few_pages(tmp_path: Path) -> None:
    """bench/fetch_stage.py and bench/plain.py serve three saved pages and time each part."""
    for number in range(3):
        paragraphs = "".join(
            f"<p>Paragraph {line} of story {number}: the port of Rotterdam handled more ships "
            f"this spring than last, and the harbour authority said waiting times fell.</p>"
            for line in range(8)
        )
        (tmp_path / f"story{number}.html").write_text(
            f"<html lang='en'><head><title>Story {number}</title></head><body><nav>Home</nav>"
            f"<article><h1>Story {number}</h1>{paragraphs}</article></body></html>"
        )
    pages = ["--pages", str(tmp_path), "--hosts", "2"]
    stage = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "fetch_stage.py"), *pages],
        capture_output=True, text=True, check=False, cwd=PROJECT,
    )  # fmt: skip
    assert stage.returncode == 0, stage.stderr
    calls = {
        line[:26].strip(): int(line[26:33])
        for line in stage.stdout.splitlines()
        if line[:1] == " " or line.startswith("sources ")
        if line[26:33].strip().isdigit()
    }
    assert calls["sources"] == 2 and calls["page reading"] == 3 and calls["article insert"] == 3
    assert calls["http GET"] == 5 and {"trafilatura", "language", "fingerprint"} <= set(calls)
    assert "3 stored" in stage.stdout and "ratio page reading / trafilatura alone" in stage.stdout
    plain = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "plain.py"), *pages, "--repeat", "2"],
        capture_output=True, text=True, check=False, cwd=PROJECT,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    parts = {line.split("  ")[1].strip() for line in plain.stdout.splitlines() if line[:2] == "  "}
    assert {"imports", "fetching", "trafilatura", "spaCy", "storing"} <= parts
    assert "3 pages fetched, 3 texts stored" in plain.stdout
    runs = [line for line in plain.stdout.splitlines() if line.startswith("newstrack run:")]
    assert len(runs) == 2 and all("3 articles stored" in line for line in runs)
    assert "medians of 2: script" in plain.stdout and "ratio script / newstrack run" in plain.stdout
