"""Crash safety: `newstrack run` killed with SIGKILL at many points, then run again, ends as one run.

The kill points are real functions of the running command (tests/crashpoints): the process dies
there as a power cut would stop it, with transactions open and work half done. After the rerun,
every table must hold what one uninterrupted run stores: no article lost, no row twice, no event
half stored. Two runs at once must end the same way, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.stored import end_state, ready

SNAPSHOT = PROJECT / "snapshot"
CRASHPOINTS = PROJECT / "tests" / "crashpoints"
RUN = ("-q", "run", "--replay", str(SNAPSHOT))
KILL_POINTS = [
    "storage.sources:save_validators:2:after",  # a feed's validators kept, its articles not all
    "storage.articles:add_article:5",  # fetching: some articles stored
    "storage.articles:add_article:30:after",  # an article written, its transaction not committed
    "pipeline.flows.extract:_extract_batch:1",  # every article stored, no event yet
    "storage.annotations:store_annotation:12:after",  # mentions written, the batch not committed
    "pipeline.flows.consolidate:run_queued_consolidation:1",  # a batch stored, its events not yet grouped
    "storage.consolidation:consolidate_queued:1:after",  # grouped, not committed
    "storage.event_refresh:refresh_event:40",  # consolidating: events half refreshed
    "storage.consolidation:relink:9:after",  # a family regrouped, its links not committed
]


def _run(database_url: str, kill_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NEWSTRACK_DB": database_url}
    if kill_at:
        env["NEWSTRACK_KILL_AT"] = kill_at
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CRASHPOINTS), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *RUN],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes]) -> int:
    _, errors = process.communicate(timeout=600)
    assert process.returncode in (0, 3, -signal.SIGKILL), errors.decode()[-2000:]
    return process.returncode


def _state(database_url: str) -> dict[str, Any]:
    with unit_of_work(ready(database_url)) as session:
        return end_state(session)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one run stores in a new SQLite file."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('alone') / 'newstrack.db'}"
    assert _finish(_run(database_url)) == 3  # the snapshot's one broken link
    state = _state(database_url)
    assert len(state["articles"]) > 40 and len(state["events"]) > 50
    return state


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_run_killed_and_run_again_ends_as_one_run(
    kill_at: str, uninterrupted: dict[str, Any], sqlite_url: str
) -> None:
    """SIGKILL at the named point, then a plain rerun: every table as after one uninterrupted run."""
    assert _finish(_run(sqlite_url, kill_at)) == -signal.SIGKILL  # it died where it was told
    assert _finish(_run(sqlite_url)) in (0, 3)
    assert _state(sqlite_url) == uninterrupted


def test_two_runs_at_once_end_as_one_run_on_sqlite(
    uninterrupted: dict[str, Any], sqlite_url: str
) -> None:
    """Two runs on one SQLite file at the same time store what one run stores."""
    both = [_run(sqlite_url), _run(sqlite_url)]
    assert [_finish(process) for process in both] == [3, 3]
    assert _state(sqlite_url) == uninterrupted


@pytest.mark.postgres
def test_two_runs_at_once_end_as_one_run_on_postgresql(
    postgres_url: str, another_postgres_url: str
) -> None:
    """Two runs on one PostgreSQL database at the same time store what one run stores there."""
    assert _finish(_run(another_postgres_url)) == 3
    both = [_run(postgres_url), _run(postgres_url)]
    assert [_finish(process) for process in both] == [3, 3]
    assert _state(postgres_url) == _state(another_postgres_url)


@pytest.mark.postgres
@pytest.mark.parametrize("kill_at", [KILL_POINTS[2], KILL_POINTS[4], KILL_POINTS[5]])
def test_a_run_killed_on_postgresql_and_run_again_ends_as_one_run(
    kill_at: str, postgres_url: str, another_postgres_url: str
) -> None:
    """The same on PostgreSQL, where a dead client's open transaction is rolled back by the server."""
    assert _finish(_run(another_postgres_url)) == 3
    assert _finish(_run(postgres_url, kill_at)) == -signal.SIGKILL
    assert _finish(_run(postgres_url)) in (0, 3)
    assert _state(postgres_url) == _state(another_postgres_url)


def test_a_kill_point_stops_the_process_there(tmp_path: Path) -> None:
    """The hook kills at the N-th call and only then: two calls pass, the third dies."""
    script = (
        "from models import urls\n"
        "for n in range(1, 4):\n"
        "    urls.canonicalize_url('https://example.org/' + str(n))\n"
        "    print(n, flush=True)\n"
    )
    env = {
        **os.environ,
        "NEWSTRACK_KILL_AT": "models.urls:canonicalize_url:3",
        "PYTHONPATH": str(CRASHPOINTS),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, check=False
    )
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == [b"1", b"2"]
