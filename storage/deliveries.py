"""The delivery log: which digest goes to whom for which period, and how far its sending got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import DigestDelivery
from storage.engine import as_utc
from storage.sessions import dialect_insert


def open_deliveries(
    session: Session,
    watchlist: str,
    recipients: tuple[str, ...],
    period: datetime,
    first_since: datetime,
) -> None:
    """Give each recipient a delivery for the period, covering what came since their last digest.

    A recipient whose earlier digest is still pending gets no new one: that one, when it is sent,
    covers everything up to its sending.
    """
    for recipient in recipients:
        rows = session.execute(
            select(DigestDelivery.period, DigestDelivery.until, DigestDelivery.state)
            .where(DigestDelivery.watchlist == watchlist, DigestDelivery.recipient == recipient)
            .order_by(DigestDelivery.period.desc())
            .limit(1)
        ).all()
        since = first_since
        if rows:
            last_period, last_until, last_state = rows[0]
            if last_state == "pending" or as_utc(last_period) >= period:
                continue
            since = as_utc(last_until or last_period)
        session.execute(
            dialect_insert(session, DigestDelivery)
            .values(
                watchlist=watchlist,
                recipient=recipient,
                period=period,
                since=since,
                state="pending",
            )
            .on_conflict_do_nothing(index_elements=["watchlist", "recipient", "period"])
        )


@dataclass(frozen=True)
class Delivery:
    """A digest to send: for whom, which watchlist and which stretch of time."""

    id: int
    watchlist: str
    recipient: str
    period: datetime
    since: datetime
    attempts: int


def pending(session: Session, watchlist: str) -> list[Delivery]:
    """A watchlist's deliveries not sent yet, oldest first."""
    rows = session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.watchlist == watchlist, DigestDelivery.state == "pending")
        .order_by(DigestDelivery.period, DigestDelivery.recipient)
    ).scalars()
    return [_delivery(row) for row in rows]


def take(session: Session, delivery_id: int) -> Delivery | None:
    """Lock a pending delivery for sending; None when it was sent meanwhile."""
    row = session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.state == "pending")
        .with_for_update()
    ).scalar_one_or_none()
    return _delivery(row) if row is not None else None


def mark_sending(
    session: Session,
    delivery_id: int,
    until: datetime,
    message_id: str,
    events: int,
    updates: int,
) -> None:
    """Record that a digest covering up to `until` is being handed to the server: never again.

    Committed before the server sees the message, so a run stopped at any point after this sends
    it at most once; if it stops before the server says yes, the digest shows as unconfirmed.
    """
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(
            state="sending",
            until=until,
            message_id=message_id,
            events=events,
            updates=updates,
            sent_at=datetime.now(UTC),  # when sending began, until it is confirmed
            attempts=DigestDelivery.attempts + 1,
            error=None,
        )
    )


def mark_sent(session: Session, delivery_id: int) -> None:
    """Record that the server took a digest."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(state="sent", sent_at=datetime.now(UTC))
    )


def mark_unconfirmed(session: Session, delivery_id: int, error: str) -> None:
    """Keep a digest whose handing-over broke off as sending: the server may have it."""
    session.execute(
        update(DigestDelivery).where(DigestDelivery.id == delivery_id).values(error=error[:2000])
    )


def unconfirmed(session: Session, watchlist: str, begun_before: datetime) -> list[Delivery]:
    """A watchlist's digests whose sending began before `begun_before` and was never confirmed."""
    rows = session.execute(
        select(DigestDelivery)
        .where(
            DigestDelivery.watchlist == watchlist,
            DigestDelivery.state == "sending",
            DigestDelivery.sent_at < begun_before,
        )
        .order_by(DigestDelivery.period, DigestDelivery.recipient)
    ).scalars()
    return [_delivery(row) for row in rows]


def settle_unconfirmed(
    session: Session, watchlist: str, begun_before: datetime, arrived: bool
) -> int:
    """At the user's word, mark a watchlist's unconfirmed digests sent, or queue them again."""
    result = session.execute(
        update(DigestDelivery)
        .where(
            DigestDelivery.watchlist == watchlist,
            DigestDelivery.state == "sending",
            DigestDelivery.sent_at < begun_before,
        )
        .values(state="sent" if arrived else "pending")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(session: Session, delivery_id: int, error: str) -> None:
    """Record a failed attempt the server never took; the delivery waits for the next run."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id)
        .values(state="pending", sent_at=None, error=error[:2000])
    )


def _delivery(row: DigestDelivery) -> Delivery:
    return Delivery(
        row.id, row.watchlist, row.recipient, as_utc(row.period), as_utc(row.since), row.attempts
    )
