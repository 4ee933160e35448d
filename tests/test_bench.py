"""The benchmarks still run against the code they measure (on tiny sizes; no time is asserted)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

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
