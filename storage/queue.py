"""The database side of the procrastinate queue: jobs deferred in a transaction, and why jobs failed."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models import QueueError
from storage.sessions import unit_of_work

ERROR_LENGTH = 4000  # characters of a failed job's error that are kept

DEFER_JOB = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)


def defer_in_transaction(
    session: Session, queue: str, task: str, arguments: Mapping[str, object]
) -> None:
    """Queue a job in the session's transaction: it is queued if and only if the rest commits."""
    session.execute(DEFER_JOB, {"queue": queue, "task": task, "args": json.dumps(arguments)})


def record_failure(
    session_factory: sessionmaker[Session], job_id: int | None, task: str, attempt: int, error: str
) -> None:
    """Keep why a job failed, in its own transaction."""
    with unit_of_work(session_factory) as session:
        session.add(
            QueueError(job_id=job_id, task=task, attempt=attempt, error=error[:ERROR_LENGTH])
        )


def latest_errors(session_factory: sessionmaker[Session]) -> dict[int, str]:
    """The latest recorded error of each failed job of the queue."""
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(QueueError.job_id, QueueError.error).order_by(
                QueueError.failed_at, QueueError.id
            )
        )
        return {job_id: error for job_id, error in rows}
