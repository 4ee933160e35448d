"""Sources: their rows, their fetch log and health, and the HTTP validators of their URLs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models import Fetch, HttpValidator, Source
from models.urls import without_credentials
from storage.sessions import dialect_insert

if TYPE_CHECKING:
    from models.fetched import FetchResult
    from models.source import SourceConfig

FIRST_BACKOFF = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=24)


def sync_sources(session: Session, sources: Sequence[SourceConfig]) -> dict[str, int]:
    """Insert or update one row per configured source; return their ids by name."""
    for source in sources:
        statement = dialect_insert(session, Source).values(
            name=source.name, kind=source.kind, url=without_credentials(source.urls[0])
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"kind": statement.excluded.kind, "url": statement.excluded.url},
            )
        )
    rows = session.execute(
        select(Source.name, Source.id).where(Source.name.in_([s.name for s in sources]))
    )
    return {name: source_id for name, source_id in rows}


def record_fetch(session: Session, source_id: int | None, result: FetchResult) -> None:
    """Log one HTTP attempt."""
    session.add(
        Fetch(
            source_id=source_id,
            url=without_credentials(result.url),
            status_code=result.status_code,
            outcome=str(result.outcome),
            bytes=len(result.body),
            duration_ms=result.duration_ms,
            error=without_credentials(result.error) if result.error else None,
        )
    )


def update_source_health(session: Session, source_id: int, result: FetchResult) -> None:
    """On success, clear the failure count; on failure, count it and back off, capped."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"last_fetched_at": now}
    if result.outcome in ("success", "not_modified"):
        values.update(last_success_at=now, consecutive_failures=0, next_due_at=now, last_error=None)
    else:
        failures = (
            session.scalar(select(Source.consecutive_failures).where(Source.id == source_id)) or 0
        ) + 1
        values.update(
            consecutive_failures=failures,
            next_due_at=now + backoff_after(failures),
            last_error=without_credentials(f"{result.outcome}: {result.error}")[:2000],
        )
    session.execute(update(Source).where(Source.id == source_id).values(**values))


def save_validators(
    session: Session, source_id: int, url: str, result: FetchResult, body_hash: str | None
) -> None:
    """Keep a configured URL's validators as sent on every 200 and 304, and its body hash."""
    values: dict[str, Any] = {"source_id": source_id, "updated_at": datetime.now(UTC)}
    if result.outcome == "success":  # a 200 says it all, including that a validator is gone
        values.update(etag=result.etag, last_modified=result.last_modified)
    else:  # a 304 may refresh one validator and leave the other as it was
        values.update(
            {
                name: value
                for name, value in (("etag", result.etag), ("last_modified", result.last_modified))
                if value
            }
        )
    if body_hash is not None:
        values["body_hash"] = body_hash
    statement = dialect_insert(session, HttpValidator).values(
        url=without_credentials(url), **values
    )
    session.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))


def validators_of(session: Session, url: str) -> tuple[str | None, str | None, str | None]:
    """A configured URL's ETag, Last-Modified and last body hash."""
    row = session.execute(
        select(HttpValidator.etag, HttpValidator.last_modified, HttpValidator.body_hash).where(
            HttpValidator.url == without_credentials(url)
        )
    ).one_or_none()
    return (row.etag, row.last_modified, row.body_hash) if row is not None else (None, None, None)


def backoff_after(failures: int) -> timedelta:
    """How long a source rests after failures in a row: 15 min doubling, at most a day."""
    return min(FIRST_BACKOFF * (1 << min(max(failures - 1, 0), 16)), MAX_BACKOFF)


def forget_validators(session: Session, source_id: int) -> None:
    """Drop a source's validators and body hashes, so its next fetch reads everything."""
    session.execute(delete(HttpValidator).where(HttpValidator.source_id == source_id))
