"""Digests as a flow: each watchlist's due digest sent once per recipient and period, or previewed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.orm import Session, sessionmaker

from models.vocabulary import load_vocabulary
from pipeline.config.cron import CronFile
from pipeline.config.settings import SmtpSettings
from pipeline.config.watchlists import Watchlist
from pipeline.delivery.digest import Digest, build_digest
from pipeline.delivery.message import compose
from pipeline.delivery.smtp import MailError
from pipeline.delivery.smtp import send as send_mail
from pipeline.flows.consolidate import run_queued_consolidation
from storage import deliveries
from storage.consolidation import consolidate_queued
from storage.digest_measures import digest_measures
from storage.sessions import unit_of_work

log = logging.getLogger("newstrack")
FIRST_DIGEST_SPAN = timedelta(days=1)  # what a recipient's first digest covers
# A digest covers events extracted until this long before it is sent: an article's extraction
# commits within it, so nothing extracted just before a digest is left out of the next one.
DIGEST_SETTLE = timedelta(seconds=10)
SENDING_GRACE = timedelta(minutes=15)  # longer than any SMTP exchange: a sending older is stuck


@dataclass
class DigestSummary:
    """What sending digests did: sent, failed (still pending), previews written."""

    sent: list[str] = field(default_factory=list)  # "watchlist -> recipient (period)"
    failed: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # sending began, never confirmed
    events: int = 0


def send_digests(
    session_factory: sessionmaker[Session],
    watchlists: Sequence[Watchlist],
    cron: CronFile,
    smtp: SmtpSettings,
    now: datetime,
    dry_run: bool = False,
    unsubscribe_url: str | None = None,
    unconfirmed: str | None = None,
) -> DigestSummary:
    """Send every watchlist's due digest at most once per recipient and period.

    A failure the server never took leaves the digest pending for the next run. A digest whose
    sending began but was never confirmed (the run was killed, or the link broke while handing it
    over) is listed as unconfirmed until the user says whether it arrived: `unconfirmed` is
    "resend" (it did not: send it again, with the same Message-ID) or "dismiss" (it did).
    """
    summary = DigestSummary()
    if not dry_run:  # mentions stored but not yet grouped must reach the events digests read
        run_queued_consolidation(session_factory)
    for watchlist in watchlists:
        period = cron.job(watchlist.schedule).latest(now)
        if unconfirmed and not dry_run:
            with unit_of_work(session_factory) as session:
                deliveries.settle_unconfirmed(
                    session, watchlist.name, now, arrived=unconfirmed == "dismiss"
                )
        with unit_of_work(session_factory) as session:
            stuck = deliveries.unconfirmed(session, watchlist.name, now - SENDING_GRACE)
        summary.unconfirmed += [
            f"{_label(delivery)}: sending never confirmed" for delivery in stuck
        ]
        with unit_of_work(session_factory, dry_run) as session:
            deliveries.open_deliveries(
                session, watchlist.name, watchlist.recipients, period, period - FIRST_DIGEST_SPAN
            )
            waiting = deliveries.pending(session, watchlist.name)
            if dry_run:  # compose in this rolled-back transaction, send nothing
                consolidate_queued(session)
                for delivery in waiting:
                    message, digest = _digest_message(
                        session, watchlist, delivery, smtp, now, unsubscribe_url
                    )
                    summary.sent.append(f"{_label(delivery)} (dry run: {message['Subject']})")
                    summary.events += len(digest.items)
                continue
        for delivery in waiting:
            sent = _send_one(session_factory, watchlist, delivery, smtp, now, unsubscribe_url)
            if isinstance(sent, str):
                summary.failed.append(f"{_label(delivery)}: {sent}")
            elif sent is not None:
                summary.sent.append(_label(delivery))
                summary.events += sent
    return summary


def _send_one(
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    delivery: deliveries.Delivery,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None,
) -> int | str | None:
    """Send one pending digest: its event count, why it failed, or None when another run took it.

    The delivery is marked sending, and committed, before the server sees the message, so no
    run stopped at any point sends it twice; a failure the server never took puts it back.
    """
    with unit_of_work(session_factory) as session:
        taken = deliveries.take(session, delivery.id)
        if taken is None:
            return None  # another run sent it meanwhile
        message, digest = _digest_message(session, watchlist, taken, smtp, now, unsubscribe_url)
        deliveries.mark_sending(
            session,
            taken.id,
            digest.until,
            str(message["Message-ID"]),
            digest.new_count,
            digest.update_count,
        )
    try:
        send_mail(smtp, message, taken.recipient)
    except MailError as error:
        log.warning("digest %s: %s", _label(delivery), error)
        with unit_of_work(session_factory) as session:
            if error.maybe_delivered:
                deliveries.mark_unconfirmed(session, taken.id, str(error))
            else:
                deliveries.mark_failed(session, taken.id, str(error))
        return str(error)
    with unit_of_work(session_factory) as session:
        deliveries.mark_sent(session, taken.id)
    return len(digest.items)


def preview_digest(
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    cron: CronFile,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """The digest the first recipient would get now, built without recording anything."""
    period = cron.job(watchlist.schedule).latest(now)
    with unit_of_work(session_factory, dry_run=True) as session:
        deliveries.open_deliveries(
            session, watchlist.name, watchlist.recipients[:1], period, period - FIRST_DIGEST_SPAN
        )
        waiting = [d for d in deliveries.pending(session, watchlist.name) if d.period == period]
        delivery = (
            waiting[0]
            if waiting
            else deliveries.Delivery(
                0, watchlist.name, watchlist.recipients[0], period, period - FIRST_DIGEST_SPAN, 0
            )
        )
        message, _ = _digest_message(session, watchlist, delivery, smtp, now, unsubscribe_url)
    return message


def _digest_message(
    session: Session,
    watchlist: Watchlist,
    delivery: deliveries.Delivery,
    smtp: SmtpSettings,
    now: datetime,
    unsubscribe_url: str | None,
) -> tuple[EmailMessage, Digest]:
    until = now - DIGEST_SETTLE  # everything stored up to a moment ago, all of it committed
    digest = build_digest(
        digest_measures(session, watchlist.filters, delivery.since, until),
        watchlist,
        delivery.recipient,
        delivery.period,
        delivery.since,
        until,
        load_vocabulary(),
    )
    return compose(digest, smtp.sender, now, unsubscribe_url), digest


def _label(delivery: deliveries.Delivery) -> str:
    return f"{delivery.watchlist} -> {delivery.recipient} ({delivery.period:%Y-%m-%d %H:%M} UTC)"
