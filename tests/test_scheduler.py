"""The scheduler on a controllable clock, real databases and real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import JobRun
from pipeline.cli import check_newstrack_command
from pipeline.config.cron import CronFile, CronJob, Retry, load_cron
from pipeline.config.settings import Settings
from pipeline.running.scheduler import Scheduler, run_command, run_process
from storage import runs
from storage.sessions import unit_of_work
from tests.stored import ready
from tests.test_digest import Inbox, _free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves; sleeping moves it too."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        """The time the test set."""
        return self.moment

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Move the time on instead of waiting."""
        self.moment += timedelta(seconds=seconds)


def _python(code: str) -> Callable[[CronJob, Settings, Any], runs.RunOutcome]:
    """A runner whose job is a real Python child process running `code`."""

    def runner(job: CronJob, settings: Settings, started: Any) -> runs.RunOutcome:
        return run_process([sys.executable, "-c", code], dict(os.environ), job.timeout, started)

    return runner


def _job(schedule: str = "*/10 * * * *", **options: Any) -> CronJob:
    return CronJob(name=options.pop("name", "job"), schedule=schedule, command=("init",), **options)


def _scheduler(
    database_url: str,
    jobs: list[CronJob],
    clock: FakeClock,
    runner: Callable[[CronJob, Settings, Any], runs.RunOutcome] | None = None,
) -> tuple[Scheduler, sessionmaker[Session]]:
    session_factory = ready(database_url)
    settings = Settings(database_url=database_url)
    scheduler = Scheduler(
        CronFile(Path("cron.yaml"), tuple(jobs)),
        session_factory,
        settings,
        clock,
        runner or _python("pass"),
    )
    return scheduler, session_factory


def _runs(session_factory: sessionmaker[Session]) -> list[tuple[str, str, int, str]]:
    """Every job run: job, scheduled time (HH:MM UTC), attempts, state."""
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(JobRun.job, JobRun.scheduled_for, JobRun.attempt, JobRun.state).order_by(
                JobRun.job, JobRun.scheduled_for
            )
        ).all()
    return [(job, f"{moment:%H:%M}", attempt, state) for job, moment, attempt, state in rows]


def _seen(session_factory: sessionmaker[Session], job: str, at: datetime) -> None:
    """A run the job had before the scheduler went down."""
    with unit_of_work(session_factory) as session:
        run_id = runs.claim(session, job, at)
        assert run_id is not None
        runs.finish(session, run_id, runs.RunOutcome("succeeded", 0))


@pytest.mark.parametrize(
    ("misfire", "deadline", "expected"),
    [
        ("run_once", None, {"09:10": "missed", "09:20": "missed", "09:30": "missed", "09:40": "missed", "09:50": "missed", "10:00": "succeeded"}),
        ("run_all", None, {t: "succeeded" for t in ("09:10", "09:20", "09:30", "09:40", "09:50", "10:00")}),
        ("run_all", 1500, {"09:10": "missed", "09:20": "missed", "09:30": "missed", "09:40": "succeeded", "09:50": "succeeded", "10:00": "succeeded"}),
        ("skip", 120, {t: "missed" for t in ("09:10", "09:20", "09:30", "09:40", "09:50", "10:00")}),
    ],
)  # fmt: skip
def test_runs_missed_while_down_follow_the_misfire_policy(
    sqlite_url: str, misfire: str, deadline: int | None, expected: dict[str, str]
) -> None:
    """Down from 09:00 to 10:05: each missed time is run or recorded as missed, once."""
    clock = FakeClock(T0 + timedelta(minutes=65))
    job = _job(misfire=misfire, starting_deadline=deadline)
    scheduler, session_factory = _scheduler(sqlite_url, [job], clock)
    _seen(session_factory, "job", T0)
    scheduler.tick()
    scheduler.wait()
    scheduler.tick()  # a second look finds nothing new to do
    scheduler.wait()
    found = {moment: state for _, moment, _, state in _runs(session_factory) if moment != "09:00"}
    assert found == expected


def test_daylight_saving_changes_run_each_day_once(sqlite_url: str) -> None:
    """02:30 in Berlin: on the day it does not exist it runs at 03:00; on the day it repeats, once."""
    clock = FakeClock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    job = _job("30 2 * * *", timezone="Europe/Berlin", misfire="run_all")
    scheduler, session_factory = _scheduler(sqlite_url, [job], clock)
    started: list[str] = []
    for day_start, last_run in (
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 28, 1, 30, tzinfo=UTC)),
        (datetime(2026, 10, 24, 1, 0, tzinfo=UTC), datetime(2026, 10, 24, 0, 30, tzinfo=UTC)),
    ):
        _seen(session_factory, "job", last_run)  # the scheduler had been running
        clock.moment = day_start
        while clock.moment < day_start + timedelta(hours=51):
            started += scheduler.tick().started
            scheduler.wait()
            clock.moment += timedelta(minutes=7)
    local = [
        datetime.fromisoformat(label.split("@")[1]).astimezone(job.zone).strftime("%m-%d %H:%M %Z")
        for label in started
    ]
    assert local == [
        "03-29 03:00 CEST",  # 02:30 does not exist that night: Debian cron runs it at 03:00
        "03-30 02:30 CEST",
        "10-25 02:30 CEST",  # 02:30 happens twice that night: the first one runs
        "10-26 02:30 CET",
    ]
    assert [state for *_, state in _runs(session_factory)] == ["succeeded"] * 6


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("forbid", [("09:01", "timed_out"), ("09:02", "skipped")]),
        ("allow", [("09:01", "timed_out"), ("09:02", "timed_out")]),
        ("replace", [("09:01", "abandoned"), ("09:02", "timed_out")]),
    ],
)
def test_overlapping_runs_follow_the_concurrency_policy(
    sqlite_url: str, policy: str, expected: list[tuple[str, str]]
) -> None:
    """A run still going when the next is due: skipped, run alongside, or replaced."""
    clock = FakeClock(T0 + timedelta(minutes=1, seconds=5))
    job = _job("* * * * *", concurrency=policy, timeout=3)
    scheduler, session_factory = _scheduler(
        sqlite_url, [job], clock, _python("import time; time.sleep(30)")
    )
    _seen(session_factory, "job", T0)
    assert len(scheduler.tick().started) == 1
    while not scheduler.active or not all(r.process for r in scheduler.active.values()):
        threading.Event().wait(0.05)  # the child has started
    clock.moment += timedelta(minutes=1)
    scheduler.tick()
    scheduler.wait()
    assert [(moment, state) for _, moment, _, state in _runs(session_factory)][1:] == expected


def test_a_crashing_job_is_recorded_retried_and_the_others_go_on(sqlite_url: str) -> None:
    """A command that fails is retried per its policy; another job still runs and succeeds."""
    clock = FakeClock(T0 + timedelta(seconds=30))
    failing = CronJob(
        "broken", "0 * * * *", ("sql", "SELECT * FROM no_such_table"), retry=Retry(1, 60)
    )
    working = CronJob("works", "0 * * * *", ("sql", "SELECT 1"))
    scheduler, session_factory = _scheduler(sqlite_url, [failing, working], clock, run_command)
    scheduler.tick()
    scheduler.wait()
    assert _runs(session_factory) == [
        ("broken", "09:00", 1, "retrying"),
        ("works", "09:00", 1, "succeeded"),
    ]
    clock.moment += timedelta(seconds=59)
    assert scheduler.tick().started == []  # the backoff has not passed
    clock.moment += timedelta(seconds=2)
    assert scheduler.tick().started == ["broken@2026-03-02T09:00:00+00:00 (retry 1)"]
    scheduler.wait()
    assert _runs(session_factory)[0] == ("broken", "09:00", 2, "failed")
    with unit_of_work(session_factory) as session:
        note = session.scalar(select(JobRun.note).where(JobRun.job == "broken"))
    assert note is not None and "no_such_table" in note


def test_two_schedulers_at_once_run_each_time_once(database_url: str) -> None:
    """Two schedulers by mistake, on SQLite and PostgreSQL: every scheduled time runs once."""
    clock = FakeClock(T0 + timedelta(minutes=35))
    jobs = [
        _job("*/5 * * * *", name=f"job{n}", misfire="run_all", concurrency="allow")
        for n in range(3)
    ]
    first, session_factory = _scheduler(database_url, jobs, clock)
    second, _ = _scheduler(database_url, jobs, clock)
    for job in jobs:
        _seen(session_factory, job.name, T0)
    barrier = threading.Barrier(2)
    summaries: list[Any] = []

    def tick(scheduler: Scheduler) -> None:
        barrier.wait()
        summaries.append(scheduler.tick())
        scheduler.wait()

    threads = [threading.Thread(target=tick, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = sorted(label for summary in summaries for label in summary.started)
    assert len(started) == len(set(started)) == 3 * 7  # 09:05 to 09:35 for each job
    states = [state for *_, state in _runs(session_factory)]
    assert states.count("succeeded") == 3 * 8  # with the 09:00 runs


def test_a_job_past_its_timeout_is_stopped(sqlite_url: str) -> None:
    """A run that does not end within its timeout is killed and recorded as timed out."""
    clock = FakeClock(T0 + timedelta(seconds=5))
    job = _job("0 * * * *", timeout=1)
    scheduler, session_factory = _scheduler(
        sqlite_url, [job], clock, _python("import time; time.sleep(60)")
    )
    scheduler.tick()
    scheduler.wait()
    assert _runs(session_factory) == [("job", "09:00", 1, "timed_out")]


def test_a_run_whose_scheduler_died_is_abandoned(sqlite_url: str) -> None:
    """A run left `running` long past its timeout does not block its job forever."""
    clock = FakeClock(T0 + timedelta(hours=2, seconds=5))
    job = _job("0 * * * *", timeout=60)
    scheduler, session_factory = _scheduler(sqlite_url, [job], clock)
    with unit_of_work(session_factory) as session:
        session.add(
            JobRun(
                job="job",
                scheduled_for=T0 + timedelta(hours=1),
                state="running",
                started_at=T0 + timedelta(hours=1),
            )
        )
    scheduler.tick()
    scheduler.wait()
    assert _runs(session_factory) == [
        ("job", "10:00", 1, "abandoned"),
        ("job", "11:00", 1, "succeeded"),
    ]


def test_cron_run_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    """The foreground scheduler lets the running job finish when told to stop, then exits 0."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    cron = tmp_path / "cron.yaml"
    cron.write_text(
        "version: 1\njobs:\n  - name: slow\n    schedule: '* * * * *'\n"
        '    command: newstrack sql "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 '
        'FROM c WHERE x < 3000000) SELECT count(*) FROM c" --time-limit 60\n',
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--db", database, "init"],
        check=True,
        capture_output=True,
    )
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "--db",
            database,
            "cron",
            "run",
            "--file",
            str(cron),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    session_factory = ready(database)
    try:
        for _ in range(400):
            with unit_of_work(session_factory) as session:
                if session.scalar(select(JobRun.pid).where(JobRun.state == "running")):
                    break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the scheduler never started the job")
        scheduler.terminate()
        _, errors = scheduler.communicate(timeout=60)
    finally:
        scheduler.kill()
    assert scheduler.returncode == 0, errors.decode()
    assert [state for *_, state in _runs(session_factory)] == ["succeeded"]
    assert b"scheduler stopping" in errors


def _cron_file(tmp_path: Path, jobs: str) -> CronFile:
    path = tmp_path / "cron.yaml"
    path.write_text(f"version: 1\njobs:\n{jobs}", encoding="utf-8")
    return load_cron(path, check_newstrack_command)


def test_a_partial_digest_send_is_retried_and_sends_only_what_failed(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One address refused: the run waits for its retry, which sends that address's digest only."""
    handler = Inbox(refuse={"b@example.com"})
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setenv("NEWSTRACK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSTRACK_SMTP_PORT", str(controller.port))
    watchlists = tmp_path / "watchlists.yaml"
    watchlists.write_text(
        "version: 1\nwatchlists:\n  - name: minerals\n"
        "    recipients: [a@example.com, b@example.com]\n    schedule: digest-daily\n",
        encoding="utf-8",
    )
    cron = _cron_file(
        tmp_path,
        "  - name: digest-daily\n    schedule: '0 9 * * *'\n    retry: {limit: 2, backoff: 60}\n"
        f"    command: newstrack digest send --file {watchlists} --cron {tmp_path / 'cron.yaml'}\n",
    )
    assert cron.jobs[0].retry.on_partial  # a digest's partial run is retried by default
    clock = FakeClock(T0 + timedelta(seconds=30))
    scheduler, session_factory = _scheduler(sqlite_url, list(cron.jobs), clock, run_command)
    try:
        scheduler.tick()
        scheduler.wait()
        assert _runs(session_factory) == [("digest-daily", "09:00", 1, "retrying")]
        handler.refuse.clear()
        clock.moment += timedelta(seconds=61)
        scheduler.tick()
        scheduler.wait()
    finally:
        controller.stop()
    assert _runs(session_factory) == [("digest-daily", "09:00", 2, "succeeded")]
    assert sorted(recipients[0] for _, recipients, _ in handler.messages) == [
        "a@example.com",
        "b@example.com",
    ]


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        ("{limit: 1, backoff: 60}", "succeeded"),  # a partial fetch is not tried again by default
        ("{limit: 1, backoff: 60, on_partial: true}", "retrying"),
        ("{limit: 0, on_partial: true}", "succeeded"),  # no retry left
    ],
)
def test_a_partial_run_is_retried_only_when_its_job_says_so(
    tmp_path: Path, sqlite_url: str, retry: str, expected: str
) -> None:
    """Exit code 3 is a success unless the job's `retry.on_partial` asks for another try."""
    cron = _cron_file(
        tmp_path,
        f"  - {{name: fetch, schedule: '0 9 * * *', command: newstrack fetch, retry: {retry}}}\n",
    )
    clock = FakeClock(T0 + timedelta(seconds=30))
    scheduler, session_factory = _scheduler(
        sqlite_url, list(cron.jobs), clock, _python("raise SystemExit(3)")
    )
    scheduler.tick()
    scheduler.wait()
    assert _runs(session_factory) == [("fetch", "09:00", 1, expected)]


def test_a_tick_that_waits_for_retries_runs_them_when_due(tmp_path: Path, sqlite_url: str) -> None:
    """`cron tick --wait-for-retries` (a Kubernetes pod) sleeps until a failed run's retry is due."""
    marker = tmp_path / "failed-once"
    code = f"import pathlib, sys\np = pathlib.Path({str(marker)!r})\nsys.exit(0 if p.exists() else p.touch() or 1)"
    job = CronJob("flaky", "0 9 * * *", ("extract",), retry=Retry(2, 60))
    clock = FakeClock(T0 + timedelta(seconds=30))
    scheduler, session_factory = _scheduler(sqlite_url, [job], clock, _python(code))
    summary = scheduler.tick()
    scheduler.settle(summary)
    assert _runs(session_factory) == [("flaky", "09:00", 2, "succeeded")]
    assert clock.now() >= T0 + timedelta(seconds=90)  # it slept the backoff on the clock
    assert summary.started == [
        "flaky@2026-03-02T09:00:00+00:00",
        "flaky@2026-03-02T09:00:00+00:00 (retry 1)",
    ]
    assert scheduler.failed_runs() == []
