"""Running cron.yaml: each due run claimed once in job_runs, run as a newstrack command line."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from pipeline.config.cron import CronFile, CronJob
from pipeline.config.settings import Settings, child_environment
from storage import runs
from storage.sessions import unit_of_work

log = logging.getLogger("newstrack")
FIRST_LOOK_BACK = timedelta(minutes=2)  # a job never run before catches times this recent
STALE_AFTER = timedelta(minutes=5)  # a run this long past its timeout died with its scheduler
LONGEST_NAP = 60.0  # seconds the foreground scheduler sleeps at most between looks
EXIT_PARTIAL = 3  # a command's exit code when some of its work failed


class Clock(Protocol):
    """Where the scheduler reads the time and waits: the system's, or a test's."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait this long, or until `stop` is set."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait, waking early when asked to stop."""
        stop.wait(max(seconds, 0.0))


Runner = Callable[[CronJob, Settings, Callable[[subprocess.Popen[bytes]], None]], runs.RunOutcome]


def run_command(
    job: CronJob, settings: Settings, started: Callable[[subprocess.Popen[bytes]], None]
) -> runs.RunOutcome:
    """Run a job's newstrack command in a child process, as the command line would, within its timeout."""
    command = [sys.executable, "-m", "pipeline.cli", *job.command, "--json"]
    return run_process(command, child_environment(settings), job.timeout, started)


def run_process(
    command: list[str],
    environment: dict[str, str],
    timeout: float,
    started: Callable[[subprocess.Popen[bytes]], None],
) -> runs.RunOutcome:
    """Run a child process to its end or its timeout; its JSON summary gives the figures."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
    )
    started(process)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return runs.RunOutcome(
            "timed_out", None, note=f"stopped after its timeout of {timeout:g} s"
        )
    if process.returncode < 0:
        return runs.RunOutcome(
            "abandoned", process.returncode, note=f"stopped by signal {-process.returncode}"
        )
    figures = _figures(out)
    state = "succeeded" if process.returncode in (0, EXIT_PARTIAL) else "failed"
    note = None if state == "succeeded" else _last_line(err) or f"exit code {process.returncode}"
    if process.returncode == EXIT_PARTIAL:
        note = "partial: " + (_last_line(err) or "some items failed")
    return runs.RunOutcome(state, process.returncode, figures[0], figures[1], note)


def _worth_retrying(job: CronJob, outcome: runs.RunOutcome) -> bool:
    """Whether a run's outcome calls for a retry: a failure, or a partial run the job retries."""
    partial = outcome.state == "succeeded" and outcome.exit_code == EXIT_PARTIAL
    return outcome.state in ("failed", "timed_out") or (partial and job.retry.on_partial)


def _figures(out: bytes) -> tuple[int | None, int | None]:
    """Articles and events from a command's JSON summary, when it printed one."""
    try:
        report: Any = json.loads(out.decode("utf-8", "replace") or "null")
    except json.JSONDecodeError:
        return None, None
    if not isinstance(report, dict):
        return None, None
    articles = next(
        (report[k] for k in ("articles_stored", "articles") if isinstance(report.get(k), int)),
        None,
    )
    events = next(
        (report[k] for k in ("events_touched", "events") if isinstance(report.get(k), int)), None
    )
    return articles, events


def _last_line(err: bytes) -> str | None:
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


@dataclass
class TickSummary:
    """What one look at the schedule did."""

    started: list[str] = field(default_factory=list)  # "job@time"
    missed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    taken_elsewhere: list[str] = field(default_factory=list)


@dataclass
class _Running:
    """A run in progress in this scheduler."""

    run_id: int
    job: CronJob
    scheduled_for: datetime
    thread: threading.Thread
    process: subprocess.Popen[bytes] | None = None


class Scheduler:
    """Runs cron.yaml's jobs when due, each scheduled time once across every scheduler."""

    def __init__(
        self,
        cron: CronFile,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock | None = None,
        runner: Runner = run_command,
    ) -> None:
        self.cron = cron
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock or SystemClock()
        self.runner = runner
        self.host = socket.gethostname()
        self.stop = threading.Event()
        self.active: dict[int, _Running] = {}
        self.outcomes: dict[str, str] = {}  # "job@time" -> how it ended, for this tick's runs
        self.lock = threading.Lock()

    def due(self, job: CronJob, now: datetime) -> list[datetime]:
        """The job's scheduled times up to now that no scheduler has handled."""
        with unit_of_work(self.session_factory) as session:
            runs.abandon_stale(
                session, job.name, now - timedelta(seconds=job.timeout) - STALE_AFTER
            )
            last = runs.last_scheduled(session, job.name)
        if last is None:  # a new job: its latest time, if that was a moment ago, and no history
            return job.times_between(now - FIRST_LOOK_BACK, now)[-1:]
        return job.times_between(last, now)

    def tick(self) -> TickSummary:
        """Start every run that is due now, each after its job's jitter, and every due retry."""
        now = self.clock.now()
        summary = TickSummary()
        with self.lock:
            self.outcomes.clear()  # a long-running scheduler keeps one tick's outcomes, not all
        starts: list[tuple[datetime, str, CronJob, datetime]] = []
        caught_up: set[str] = set()  # jobs this tick has started a run of
        for job in self.cron.jobs:
            due = self.due(job, now)
            chosen = self._to_run(job, due, now)
            for moment in due:
                if moment not in chosen:
                    note = "missed while no scheduler ran"
                    self._record(job, moment, "missed", summary.missed, note)
            starts.extend((moment + job.delay, job.name, job, moment) for moment in chosen)
        for start_at, _, job, moment in sorted(starts, key=lambda item: item[:2]):
            wait = (start_at - self.clock.now()).total_seconds()
            if wait > 0:
                self.clock.sleep(wait, self.stop)
            if job.concurrency == "forbid" and job.name in caught_up:
                self._wait_for(job)  # missed times caught up one after another, not skipped
            if self.stop.is_set():
                break
            self._start(job, moment, summary)
            caught_up.add(job.name)
        self._retries(self.clock.now(), summary)
        return summary

    def _to_run(self, job: CronJob, due: list[datetime], now: datetime) -> list[datetime]:
        """Which due times run, per the job's misfire policy and starting deadline."""
        deadline = timedelta(seconds=job.starting_deadline) if job.starting_deadline else None
        on_time = [m for m in due if deadline is None or now - m - job.delay <= deadline]
        if job.misfire == "run_all":
            return on_time
        if job.misfire == "skip":
            late = timedelta(seconds=job.starting_deadline or LONGEST_NAP * 2)
            return [m for m in due if now - m - job.delay <= late][-1:]
        return on_time[-1:]  # run_once: the latest missed time stands for all of them

    def _record(
        self, job: CronJob, moment: datetime, state: str, into: list[str], note: str
    ) -> None:
        with unit_of_work(self.session_factory) as session:
            if runs.claim(session, job.name, moment, state=state, note=note) is not None:
                into.append(f"{job.name}@{moment.isoformat()}")
                log.info("%s at %s: %s (%s)", job.name, moment.isoformat(), state, note)

    def _start(self, job: CronJob, moment: datetime, summary: TickSummary) -> None:
        label = f"{job.name}@{moment.isoformat()}"
        with unit_of_work(self.session_factory) as session:
            others = runs.running(session, job.name)
        if others and job.concurrency == "forbid":
            self._record(job, moment, "skipped", summary.skipped, "the previous run still runs")
            return
        if others and job.concurrency == "replace":
            self._replace(job, others)
        with unit_of_work(self.session_factory) as session:
            run_id = runs.claim(session, job.name, moment, host=self.host)
        if run_id is None:
            summary.taken_elsewhere.append(label)
            return
        summary.started.append(label)
        self._launch(run_id, job, moment, attempt=1)

    def _replace(self, job: CronJob, others: list[runs.ActiveRun]) -> None:
        """Stop the job's runs in progress so a new one can take their place."""
        for other in others:
            mine = self.active.get(other.id)
            if mine is not None and mine.process is not None:
                log.info("%s: stopping the run of %s to replace it", job.name, other.scheduled_for)
                mine.process.terminate()
            elif other.host == self.host and other.pid:  # a child of another scheduler here
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(other.pid, signal.SIGTERM)

    def _launch(self, run_id: int, job: CronJob, moment: datetime, attempt: int) -> None:
        running = _Running(run_id, job, moment, threading.Thread(target=lambda: None))

        def work() -> None:
            def started(process: subprocess.Popen[bytes]) -> None:
                running.process = process
                with unit_of_work(self.session_factory) as session:
                    runs.set_pid(session, run_id, process.pid)

            log.info("%s at %s: attempt %d starts", job.name, moment.isoformat(), attempt)
            try:
                outcome = self.runner(job, self.settings, started)
            except Exception as error:  # the scheduler keeps going whatever a run does
                outcome = runs.RunOutcome("failed", note=f"{type(error).__name__}: {error}")
            retry_at = None
            # A retry past any date (OverflowError) is no retry: never a run left `running`.
            try:
                if _worth_retrying(job, outcome) and attempt <= job.retry.limit:
                    retry_at = self.clock.now() + job.retry.delay(attempt)
            except ArithmeticError as error:
                log.error("%s: no retry: %s", job.name, error)
            with unit_of_work(self.session_factory) as session:
                runs.finish(session, run_id, outcome, retry_at)
            log.info(
                "%s at %s: %s%s%s",
                job.name,
                moment.isoformat(),
                outcome.state,
                f" ({outcome.note})" if outcome.note else "",
                f", retry at {retry_at.isoformat()}" if retry_at else "",
            )
            with self.lock:
                self.active.pop(run_id, None)
                self.outcomes[f"{job.name}@{moment.isoformat()}"] = outcome.state

        running.thread = threading.Thread(target=work, name=f"{job.name}-{run_id}", daemon=True)
        with self.lock:
            self.active[run_id] = running
        running.thread.start()

    def _retries(self, now: datetime, summary: TickSummary) -> None:
        with unit_of_work(self.session_factory) as session:
            waiting = runs.due_retries(session, now)
        for run_id, name, moment, attempts in waiting:
            try:
                job = self.cron.job(name)
            except Exception:
                continue  # a job removed from cron.yaml keeps its history, not its retries
            with unit_of_work(self.session_factory) as session:
                if not runs.claim_retry(session, run_id, self.host):
                    continue
            summary.started.append(f"{name}@{moment.isoformat()} (retry {attempts})")
            self._launch(run_id, job, moment, attempt=attempts + 1)

    def settle(self, summary: TickSummary) -> None:
        """Wait for this scheduler's runs, then run its jobs' retries as they fall due, until none waits."""
        self.wait()
        while not self.stop.is_set():
            with unit_of_work(self.session_factory) as session:
                upcoming = runs.next_retry(session, self.cron.names)
            if upcoming is None:
                return
            self.clock.sleep((upcoming - self.clock.now()).total_seconds(), self.stop)
            self._retries(self.clock.now(), summary)
            self.wait()

    def failed_runs(self) -> list[str]:
        """The runs this scheduler started that failed, timed out or were stopped."""
        with self.lock:
            return sorted(label for label, state in self.outcomes.items() if state != "succeeded")

    def _wait_for(self, job: CronJob) -> None:
        """Wait for this scheduler's runs of a job to end."""
        with self.lock:
            threads = [r.thread for r in self.active.values() if r.job.name == job.name]
        for thread in threads:
            thread.join()

    def wait(self) -> None:
        """Wait for every run this scheduler started to end."""
        while True:
            with self.lock:
                threads = [running.thread for running in self.active.values()]
            if not threads:
                return
            for thread in threads:
                thread.join()

    def next_wake(self, now: datetime) -> float:
        """Seconds until the next run of any job is due, at most a minute."""
        upcoming = [next(job.times(now)) for job in self.cron.jobs]
        soonest = min(upcoming, default=now + timedelta(seconds=LONGEST_NAP))
        return min(max((soonest - now).total_seconds(), 0.0), LONGEST_NAP)

    def run_forever(self) -> None:
        """Look at the schedule whenever a run is due, until asked to stop; then let runs end."""
        log.info(
            "scheduler started with %d job(s): %s", len(self.cron.jobs), ", ".join(self.cron.names)
        )
        while not self.stop.is_set():
            self.tick()
            self.clock.sleep(self.next_wake(self.clock.now()), self.stop)
        log.info("scheduler stopping: waiting for %d run(s) to end", len(self.active))
        self.wait()


def stop_on_signals(scheduler: Scheduler) -> None:
    """SIGTERM and SIGINT stop the scheduler gracefully: no new runs, running ones end."""

    def handle(signum: int, _frame: object) -> None:
        log.info("received signal %d", signum)
        scheduler.stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
