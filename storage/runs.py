"""Scheduled runs: claimed once per job and scheduled time, finished with their outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models import Fetch, JobRun
from storage.engine import as_utc
from storage.sessions import dialect_insert


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and the figures its command reported."""

    state: str  # succeeded | failed | timed_out | abandoned
    exit_code: int | None = None
    articles: int | None = None
    events: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class ActiveRun:
    """A run some scheduler started and has not finished."""

    id: int
    job: str
    scheduled_for: datetime
    started_at: datetime | None
    host: str | None
    pid: int | None


def last_scheduled(session: Session, job: str) -> datetime | None:
    """The latest scheduled time a job has a row for, whatever became of it."""
    moment = session.scalar(select(func.max(JobRun.scheduled_for)).where(JobRun.job == job))
    return as_utc(moment) if moment is not None else None


def claim(
    session: Session,
    job: str,
    scheduled_for: datetime,
    state: str = "running",
    host: str | None = None,
    pid: int | None = None,
    note: str | None = None,
) -> int | None:
    """Insert the run of a job's scheduled time; None when another scheduler already has it."""
    now = datetime.now(UTC)
    statement = (
        dialect_insert(session, JobRun)
        .values(
            job=job,
            scheduled_for=scheduled_for,
            state=state,
            started_at=now if state == "running" else None,
            finished_at=None if state == "running" else now,
            host=host,
            pid=pid,
            note=note,
        )
        .on_conflict_do_nothing(index_elements=["job", "scheduled_for"])
        .returning(JobRun.id)
    )
    run_id: int | None = session.execute(statement).scalar_one_or_none()
    return run_id


def running(session: Session, job: str) -> list[ActiveRun]:
    """The job's runs that are running now."""
    rows = session.execute(
        select(
            JobRun.id, JobRun.job, JobRun.scheduled_for, JobRun.started_at, JobRun.host, JobRun.pid
        ).where(JobRun.job == job, JobRun.state == "running")
    ).all()
    return [
        ActiveRun(row.id, row.job, as_utc(row.scheduled_for), row.started_at, row.host, row.pid)
        for row in rows
    ]


def finish(
    session: Session, run_id: int, outcome: RunOutcome, retry_at: datetime | None = None
) -> None:
    """Record how a run ended; a failure with a retry left waits as `retrying` until `retry_at`."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(
            state="retrying" if retry_at is not None else outcome.state,
            retry_at=retry_at,
            finished_at=datetime.now(UTC),
            exit_code=outcome.exit_code,
            articles=outcome.articles,
            events=outcome.events,
            note=outcome.note[:2000] if outcome.note else None,
        )
    )


def due_retries(session: Session, now: datetime) -> list[tuple[int, str, datetime, int]]:
    """Runs waiting to be tried again by now: id, job, scheduled time, attempts so far."""
    rows = session.execute(
        select(JobRun.id, JobRun.job, JobRun.scheduled_for, JobRun.attempt)
        .where(JobRun.state == "retrying", JobRun.retry_at <= now)
        .order_by(JobRun.retry_at, JobRun.id)
    ).all()
    return [(row.id, row.job, as_utc(row.scheduled_for), row.attempt) for row in rows]


def next_retry(session: Session, jobs: Sequence[str]) -> datetime | None:
    """When the earliest waiting retry of these jobs is due, or None when none waits."""
    moment = session.scalar(
        select(func.min(JobRun.retry_at)).where(JobRun.state == "retrying", JobRun.job.in_(jobs))
    )
    return as_utc(moment) if moment is not None else None


def claim_retry(session: Session, run_id: int, host: str) -> bool:
    """Take a waiting retry; False when another scheduler took it first."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.state == "retrying")
        .values(
            state="running",
            attempt=JobRun.attempt + 1,
            started_at=datetime.now(UTC),
            finished_at=None,
            retry_at=None,
            host=host,
            pid=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def set_pid(session: Session, run_id: int, pid: int) -> None:
    """Record the child process that runs a claimed run, so a replacing run can stop it."""
    session.execute(update(JobRun).where(JobRun.id == run_id).values(pid=pid))


def prune(session: Session, before: datetime) -> tuple[int, int]:
    """Delete fetch attempts and ended job runs older than a moment; return how many of each."""
    fetches = session.execute(delete(Fetch).where(Fetch.fetched_at < before))
    ended = session.execute(
        delete(JobRun).where(
            JobRun.scheduled_for < before, JobRun.state.not_in(("running", "retrying"))
        )
    )
    return int(getattr(fetches, "rowcount", 0)), int(getattr(ended, "rowcount", 0))


def abandon_stale(session: Session, job: str, started_before: datetime) -> int:
    """Mark runs still `running` that started before a moment as abandoned: their process died."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.state == "running", JobRun.started_at < started_before)
        .values(
            state="abandoned",
            finished_at=datetime.now(UTC),
            note="no scheduler finished it: its process stopped",
        )
    )
    return int(getattr(result, "rowcount", 0))
