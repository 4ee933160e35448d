"""Digest e-mails sent to a real SMTP server on 127.0.0.1 (aiosmtpd), from real databases."""

from __future__ import annotations

import base64
import email
import io
import json
import os
import re
import signal
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from models import Article, DigestDelivery, Mention, PendingConsolidation
from models.annotation import ArticleText
from models.digest import Evidence, StatePeriod
from models.filters import Filters
from models.vocabulary import load_vocabulary
from pipeline.cli import check_newstrack_command, main
from pipeline.config.cron import CronFile, CronJob
from pipeline.config.settings import SmtpSettings
from pipeline.config.watchlists import Watchlist, load_watchlists
from pipeline.delivery.chart import (
    CHART_DAYS,
    HEADER_HEIGHT,
    LABEL_WIDTH,
    LEGEND_HEIGHT,
    ROW_HEIGHT,
    STATE_COLOURS,
    TOP,
    TimelineRow,
    timeline_png,
)
from pipeline.delivery.digest import EvidenceWords, best_evidence
from pipeline.extraction import Extractor
from pipeline.flows.digests import send_digests
from storage.consolidation import consolidate
from storage.reviews import record_review
from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.stored import (
    PUBLISHED,
    newstrack,
    ready,
    store_and_annotate,
    store_queued,
    two_sources,
)

CRON = CronFile(Path("cron.yaml"), (CronJob("digest-daily", "0 7 * * *", ("digest", "send")),))
HOSTILE_TITLE = '<script>alert("x")</script>\r\nBcc: victim@example.com\r\nSubject: free'
IMPOSED = (
    "China's Ministry of Commerce on April 4 imposed export controls on dysprosium and terbium, "
    "requiring licences for shipments to the United States."
)
GALLIUM = "Beijing banned exports of gallium to the United States on Dec. 3, the ministry said."
RESTATED = (
    "China's Ministry of Commerce said on Wednesday that the export controls on dysprosium and "
    "terbium it imposed on April 4 remain in place."
)
SUSPENDED = (
    "China on Sunday suspended its ban on exports of gallium to the United States until "
    "November 27, 2026, the Ministry of Commerce said."
)
PREAMBLE = (
    "In accordance with the relevant provisions of the Export Control Law of the People's Republic "
    "of China, in order to safeguard national security and interests, with the approval of the "
    "State Council, it is decided to implement export control on the following items."
)
OCTOBER = "The Ministry of Commerce announced export controls on holmium and erbium on October 9."


@dataclass
class Inbox:
    """What the SMTP server received, and how it misbehaves."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    accept_only: int | None = None  # after this many messages, answer 451 to every DATA
    hang_up_after_data: bool = False  # keep the message, then drop the link without a reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Refuse the addresses the test names."""
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, unless the server is to fail by now."""
        if self.accept_only is not None and len(self.messages) >= self.accept_only:
            return "451 4.3.0 try again later"
        content = envelope.original_content or b""
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        if self.hang_up_after_data:
            server.transport.close()
        return "250 Message accepted"

    def parsed(self) -> list[EmailMessage]:
        """The received messages, parsed."""
        return [
            email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
            for *_, raw in self.messages
        ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A plain SMTP server on 127.0.0.1."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _smtp(port: int, **options: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, sender="digest@newstrack.example", timeout=5, **options
    )


def _watchlist(*recipients: str, **filters: Any) -> Watchlist:
    return Watchlist(
        name="minerals",
        recipients=recipients or ("analyst@example.com",),
        filters=Filters(**filters),
        schedule="digest-daily",
    )


def _stored(database_url: str, extractor: Extractor) -> sessionmaker[DbSession]:
    """Two reports of one imposition and one of a gallium ban, one with a hostile title."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    store_and_annotate(session_factory, extractor, "https://a.example/1", IMPOSED, ids["first"])
    store_and_annotate(session_factory, extractor, "https://b.example/2", IMPOSED, ids["second"])
    store_and_annotate(session_factory, extractor, "https://a.example/3", GALLIUM, ids["first"])
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Article).where(Article.url == "https://b.example/2").values(title=HOSTILE_TITLE)
        )
    return session_factory


def _send(
    session_factory: sessionmaker[DbSession],
    watchlist: Watchlist,
    smtp: SmtpSettings,
    **options: Any,
) -> Any:
    return send_digests(
        session_factory,
        [watchlist],
        CRON,
        smtp,
        options.pop("now", datetime.now(UTC) + timedelta(minutes=1)),
        unsubscribe_url="https://newstrack.example/u?l={watchlist}&r={recipient}",
        **options,
    )


def _deliveries(session_factory: sessionmaker[DbSession]) -> list[tuple[str, str, int]]:
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(
                DigestDelivery.recipient, DigestDelivery.state, DigestDelivery.attempts
            ).order_by(DigestDelivery.recipient)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_digest_has_both_parts_the_chart_and_proper_headers(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """Text and HTML parts tell each measure with its evidence and sources; the chart is a CID image."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    summary = _send(session_factory, _watchlist(), _smtp(port))
    assert summary.failed == [] and len(summary.sent) == 1
    [(sender, recipients, _)] = handler.messages
    assert (sender, recipients) == ("digest@newstrack.example", ["analyst@example.com"])
    [message] = handler.parsed()
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == f"newstrack minerals: 2 new, 0 updated measure(s), {_today()}"
    assert message["Message-ID"].startswith("<digest.") and message["Date"]
    assert message["From"] == "digest@newstrack.example" and message["To"] == "analyst@example.com"
    assert message["List-Unsubscribe"] == (
        "<https://newstrack.example/u?l=minerals&r=analyst%40example.com>, "
        "<mailto:digest@newstrack.example?subject=unsubscribe%20minerals>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Bcc"] is None  # a title with CR/LF cannot make headers
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "dysprosium" in body and "gallium" in body
        assert "https://a.example/1" in body and "https://b.example/2" in body
    assert "[NEW] MOFCOM export control on dysprosium, terbium against US" in text
    assert "in force since 2025-04-04; latest change: imposed 2025-04-04; sources: 2" in text
    assert IMPOSED in text  # the evidence sentence
    assert "<script>" not in html and '&lt;script&gt;alert("x")&lt;/script&gt; Bcc:' in html
    assert 'style="' in html and "<style>" not in html  # CSS inlined for mail clients
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    chart = Image.open(io.BytesIO(image.get_content()))
    assert (
        chart.format == "PNG"
    )  # two headings (dysprosium, terbium; gallium), a measure under each
    assert chart.height == TOP + 2 * HEADER_HEIGHT + 2 * ROW_HEIGHT + LEGEND_HEIGHT


def _today() -> str:
    now = datetime.now(UTC)
    return CRON.job("digest-daily").latest(now).strftime("%Y-%m-%d")


def test_filters_choose_the_events(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """A gallium watchlist gets the gallium ban only; two sources at least gets the imposition only."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    gallium = Watchlist("gallium", ("g@example.com",), Filters(elements=frozenset({"gallium"})))
    widely = Watchlist("widely", ("w@example.com",), Filters(min_sources=2))
    summary = send_digests(
        session_factory,
        [gallium, widely],
        CRON,
        _smtp(port),
        datetime.now(UTC) + timedelta(minutes=1),
    )
    assert len(summary.sent) == 2
    texts = {m["To"]: m.get_body(preferencelist=("plain",)).get_content() for m in handler.parsed()}  # type: ignore[union-attr]
    assert "export ban on gallium" in texts["g@example.com"]
    assert "dysprosium" not in texts["g@example.com"]
    assert "dysprosium" in texts["w@example.com"] and "gallium" not in texts["w@example.com"]


def test_known_events_with_new_reports_are_updates_in_the_next_digest(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """The next day's digest tells a new report of a known measure as an update, and nothing else."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    first = datetime.now(UTC) + timedelta(seconds=10)  # its period ends now
    _send(session_factory, _watchlist(), _smtp(port), now=first)
    later = "On April 4, China's Ministry of Commerce imposed export controls on dysprosium and terbium."
    store_and_annotate(session_factory, extractor, "https://c.example/4", later, 2)
    next_day = first + timedelta(days=1)
    assert len(_send(session_factory, _watchlist(), _smtp(port), now=next_day).sent) == 1
    text = handler.parsed()[1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "0 new measure(s), 1 known measure(s) with news" in text
    assert (
        "[UPDATE]" in text and "https://c.example/4" in text and "https://a.example/1" not in text
    )


def test_mentions_waiting_to_be_grouped_reach_the_digest_as_their_own_event(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """A report stored by an extraction batch, not yet grouped, is grouped before the digest reads events."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    october = (
        "China's Ministry of Commerce on October 9 imposed export controls on holmium and erbium."
    )
    [annotation] = extractor.annotate([ArticleText("https://c.example/5", october, "", PUBLISHED)])
    store_queued(session_factory, "https://c.example/5", october, 1, annotation)
    with unit_of_work(session_factory) as session:  # it waits in April's event until grouped
        assert session.scalar(select(func.count()).select_from(PendingConsolidation)) > 0
    holmium = Watchlist("holmium", ("h@example.com",), Filters(elements=frozenset({"holmium"})))
    assert len(_send(session_factory, holmium, _smtp(port)).sent) == 1
    text = handler.parsed()[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "holmium" in text and "https://c.example/5" in text
    assert "dysprosium" not in text and "https://a.example/1" not in text
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(PendingConsolidation)) == 0


def _plain(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr,no-any-return]


def _items(text: str) -> list[str]:
    """The items of a plain-text digest, each with its lines."""
    return [chunk for chunk in text.split("\n* ")[1:]]


def test_a_measure_is_one_item_and_a_restatement_adds_a_report_with_its_date(
    database_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """On SQLite and PostgreSQL, a restatement joins its measure's item; links carry their dates."""
    handler, port = inbox
    session_factory = _stored(database_url, extractor)
    store_and_annotate(session_factory, extractor, "https://b.example/7", RESTATED, 2)
    _send(session_factory, _watchlist(), _smtp(port))
    [message] = handler.parsed()
    assert message["Subject"].startswith("newstrack minerals: 2 new, 0 updated measure(s)")
    items = _items(_plain(message))
    [controls] = [item for item in items if "dysprosium" in item]
    assert len(items) == 2 and "maintain" not in controls
    assert "in force since 2025-04-04; latest change: imposed 2025-04-04" in controls
    assert "3 new reports:" in controls
    assert "title — first, 2025-05-14 <https://a.example/1>" in controls
    assert "— second, 2025-05-14 <https://b.example/7>" in controls


def test_a_change_to_a_known_measure_updates_its_item(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """The next day a suspension of the gallium ban is a change of that measure, not a new item."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    first = datetime.now(UTC) + timedelta(seconds=10)
    gallium = _watchlist(elements=frozenset({"gallium"}))
    _send(session_factory, gallium, _smtp(port), now=first)
    store_and_annotate(session_factory, extractor, "https://c.example/8", SUSPENDED, 1)
    _send(session_factory, gallium, _smtp(port), now=first + timedelta(days=1))
    text = _plain(handler.parsed()[1])
    assert "0 new measure(s), 1 known measure(s) with news" in text
    [item] = _items(text)
    assert item.startswith("[CHANGE] CN export ban on gallium against US")
    assert "suspended since 2025-05-14; latest change: suspended 2025-05-14" in item
    assert f'"{SUSPENDED}"' in item and "1 new report:" in item


def test_items_sit_under_the_elements_the_watchlist_asked_for(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """Holmium lists erbium and holmium controls under holmium; no element filter, under both."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    store_and_annotate(session_factory, extractor, "https://c.example/5", OCTOBER, 1)
    holmium = Watchlist("holmium", ("h@example.com",), Filters(elements=frozenset({"holmium"})))
    everything = Watchlist("everything", ("e@example.com",))
    send_digests(
        session_factory,
        [holmium, everything],
        CRON,
        _smtp(port),
        datetime.now(UTC) + timedelta(minutes=1),
    )
    texts = {m["To"]: _plain(m) for m in handler.parsed()}
    assert "== holmium ==" in texts["h@example.com"] and "== erbium" not in texts["h@example.com"]
    assert "== erbium, holmium ==" in texts["e@example.com"]
    assert "== dysprosium, terbium ==" in texts["e@example.com"]


def test_the_quote_is_never_a_legal_preamble(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """Of an event stated by a preamble and by a sentence naming its elements, the sentence is quoted."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    store_and_annotate(
        session_factory, extractor, "https://c.example/9", f"{PREAMBLE} {OCTOBER}", 1
    )
    with unit_of_work(session_factory) as session:
        stating = session.execute(
            select(Mention.event_id).where(Mention.sentence.in_([PREAMBLE, OCTOBER]))
        ).all()
    assert len(stating) == 2 and len(set(stating)) == 1  # both state the one event
    holmium = Watchlist("holmium", ("h@example.com",), Filters(elements=frozenset({"holmium"})))
    _send(session_factory, holmium, _smtp(port))
    [message] = handler.parsed()
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f'"{OCTOBER}"' in _plain(message) and OCTOBER in html
    assert "In accordance" not in _plain(message) and "In accordance" not in html


def _said(sentence: str, confidence: float = 0.99) -> Evidence:
    return Evidence(sentence, "asserted", confidence, None)


def test_the_quote_names_an_element_of_the_measure_and_an_action() -> None:
    """Element and action word first; no element only if none names one; bare preambles never."""
    words = EvidenceWords.of(load_vocabulary())
    elements = ("erbium", "holmium")
    acted = _said("China imposed export controls on holmium and erbium.", 0.6)
    named = _said("Holmium and erbium items are on the list.", 0.6)
    grouped = _said("The rare earth curbs were imposed to safeguard national security.")
    bare = _said("The ministry imposed the controls on Thursday.")
    grounded = _said("Pursuant to the Export Control Law, control is imposed on holmium items.")
    assert best_evidence([bare, grouped, named, acted], elements, "impose", words) == acted.sentence
    assert best_evidence([bare, grouped, named], elements, "impose", words) == named.sentence
    assert best_evidence([bare, grouped], elements, "impose", words) == grouped.sentence
    assert best_evidence([bare, grounded], elements, "impose", words) == grounded.sentence
    assert best_evidence([grounded, named], elements, "impose", words) == named.sentence
    assert best_evidence([_said(PREAMBLE)], elements, "impose", words) == ""


def test_the_preview_html_shows_its_chart_when_opened_alone(
    tmp_path: Path,
    extractor: Extractor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`digest preview` writes the .eml with the chart by Content-ID, the .html with it inlined."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    _stored(database, extractor)
    monkeypatch.setattr("pipeline.flows.digests.DIGEST_SETTLE", timedelta(0))
    monkeypatch.setenv("NEWSTRACK_DIGEST_TO", "analyst@example.com")
    out = tmp_path / "preview"
    arguments = [
        "--db", database, "digest", "preview", "--watchlist", "critical-minerals",
        "--file", str(PROJECT / "watchlists.yaml"), "--cron", str(PROJECT / "cron.yaml"),
        "--out", str(out),
    ]  # fmt: skip
    assert main(arguments) == 0
    html = (out / "critical-minerals.html").read_text(encoding="utf-8")
    assert "cid:" not in html and "dysprosium" in html
    [encoded] = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert Image.open(io.BytesIO(base64.b64decode(encoded))).format == "PNG"
    eml = email.message_from_bytes(
        (out / "critical-minerals.eml").read_bytes(),
        _class=EmailMessage,
        policy=email.policy.default,
    )
    mailed = eml.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert 'src="cid:chart.' in mailed and "data:" not in mailed


def _pixel(png: bytes, x: int, y: int) -> str:
    red, green, blue = Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))  # type: ignore[misc]
    return f"#{red:02x}{green:02x}{blue:02x}"


def test_the_chart_draws_each_measure_as_a_row_coloured_by_state() -> None:
    """A row per measure under its heading, bars in each state's colour, a mark at each change."""
    end = date(2025, 12, 1)
    start = end - timedelta(days=CHART_DAYS)
    suspended_on = end - timedelta(days=30)
    controls = TimelineRow(
        "MOFCOM export control",
        [
            StatePeriod("in_force", end - timedelta(days=200), suspended_on),
            StatePeriod("suspended", suspended_on, None),
        ],
        [end - timedelta(days=200), suspended_on],
    )
    old_ban = TimelineRow(
        "CN export ban",
        [StatePeriod("lifted", start - timedelta(days=9), start - timedelta(days=1))],
        [],
    )
    groups = [("erbium, holmium", [controls]), ("gallium", [old_ban, controls])]
    png = timeline_png(groups, end)
    assert Image.open(io.BytesIO(png)).size == (
        600, TOP + 2 * HEADER_HEIGHT + 3 * ROW_HEIGHT + LEGEND_HEIGHT
    )  # fmt: skip
    wider = timeline_png([*groups, ("tungsten", [controls])], end)
    assert (
        Image.open(io.BytesIO(wider)).height
        == Image.open(io.BytesIO(png)).height + HEADER_HEIGHT + ROW_HEIGHT
    )

    def x_of(day: date) -> int:
        return LABEL_WIDTH + round((600 - 10 - LABEL_WIDTH) * (day - start).days / CHART_DAYS)

    first_row = TOP + HEADER_HEIGHT
    middle = first_row + ROW_HEIGHT // 2
    assert _pixel(png, x_of(end - timedelta(days=60)), middle) == STATE_COLOURS["in_force"]
    assert _pixel(png, x_of(end - timedelta(days=10)), middle) == STATE_COLOURS["suspended"]
    assert _pixel(png, x_of(suspended_on), first_row + 1) == "#1f2933"  # the change's mark
    assert _pixel(png, x_of(end - timedelta(days=10)), first_row + 1) == "#ffffff"
    old_row = TOP + 2 * HEADER_HEIGHT + ROW_HEIGHT  # lifted before the 90 days: no bar
    assert _pixel(png, x_of(start + timedelta(days=5)), old_row + ROW_HEIGHT // 2) == "#ffffff"
    assert len(png) < 20_000


def test_sending_twice_or_twice_at_once_sends_once(
    database_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """On SQLite and PostgreSQL, two sends at once and a third after deliver one message."""
    handler, port = inbox
    session_factory = _stored(database_url, extractor)
    other = ready(database_url)
    now = datetime.now(UTC) + timedelta(minutes=1)
    barrier = threading.Barrier(2)

    def send(factory: sessionmaker[DbSession]) -> None:
        barrier.wait()
        _send(factory, _watchlist(), _smtp(port), now=now)

    threads = [threading.Thread(target=send, args=(f,)) for f in (session_factory, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _send(session_factory, _watchlist(), _smtp(port), now=now + timedelta(minutes=5))
    assert len(handler.messages) == 1
    assert _deliveries(session_factory) == [("analyst@example.com", "sent", 1)]


def test_a_server_failing_mid_batch_loses_nothing_and_sends_nothing_twice(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """The first digest goes out, the server then fails; the next run sends the rest, once."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    watchlist = _watchlist("a@example.com", "b@example.com", "c@example.com")
    handler.accept_only = 1
    summary = _send(session_factory, watchlist, _smtp(port))
    assert (len(summary.sent), len(summary.failed)) == (1, 2)
    assert "451" in summary.failed[0]
    assert [state for _, state, _ in _deliveries(session_factory)] == ["sent", "pending", "pending"]
    handler.accept_only = None
    summary = _send(session_factory, watchlist, _smtp(port))
    assert (len(summary.sent), len(summary.failed)) == (2, 0)
    assert sorted(to for _, [to], _ in handler.messages) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert _deliveries(session_factory) == [
        ("a@example.com", "sent", 1), ("b@example.com", "sent", 2), ("c@example.com", "sent", 2)
    ]  # fmt: skip


def test_a_link_broken_while_handing_over_a_digest_leaves_it_unconfirmed_not_resent(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """The server may have it: the digest is neither sent again nor forgotten, but listed."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    handler.hang_up_after_data = True
    now = datetime.now(UTC) + timedelta(minutes=1)
    summary = _send(session_factory, _watchlist(), _smtp(port), now=now)
    assert summary.sent == [] and "cannot send" in summary.failed[0]
    handler.hang_up_after_data = False
    summary = _send(session_factory, _watchlist(), _smtp(port), now=now + timedelta(minutes=1))
    assert summary.sent == [] and summary.failed == [] and summary.unconfirmed == []
    assert len(handler.messages) == 1 and _deliveries(session_factory) == [
        ("analyst@example.com", "sending", 1)
    ]
    summary = _send(session_factory, _watchlist(), _smtp(port), now=now + timedelta(minutes=30))
    assert len(summary.unconfirmed) == 1 and len(handler.messages) == 1


def test_a_refused_recipient_stays_pending_and_the_others_are_sent(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """One address refused by the server does not stop the others; it is tried again next run."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    handler.refuse = {"gone@example.com"}
    summary = _send(
        session_factory, _watchlist("gone@example.com", "here@example.com"), _smtp(port)
    )
    assert len(summary.sent) == 1
    assert "refused gone@example.com: 550" in summary.failed[0]
    assert _deliveries(session_factory) == [
        ("gone@example.com", "pending", 1),
        ("here@example.com", "sent", 1),
    ]


def test_an_unreachable_server_keeps_every_digest_pending(
    sqlite_url: str, extractor: Extractor
) -> None:
    """Nothing listening: every delivery stays pending with the reason."""
    session_factory = _stored(sqlite_url, extractor)
    summary = _send(session_factory, _watchlist(), _smtp(_free_port()))
    assert summary.sent == [] and "cannot send through 127.0.0.1" in summary.failed[0]
    assert _deliveries(session_factory) == [("analyst@example.com", "pending", 1)]


@pytest.fixture
def tls_inbox(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """An SMTP server that requires STARTTLS and a login (user `newstrack`, password `s3cret!`)."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"newstrack",
            b"s3cret!",
        )
        return AuthResult(success=ok, handled=False)

    handler = Inbox()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_required=True,
    )
    controller.start()
    try:
        yield handler, controller.port, ca_file
    finally:
        controller.stop()


def test_starttls_and_login_and_a_password_that_never_shows(
    sqlite_url: str, extractor: Extractor, tls_inbox: tuple[Inbox, int, Path]
) -> None:
    """STARTTLS with a login sends; a wrong password fails without showing it, and stays pending."""
    handler, port, ca_file = tls_inbox
    session_factory = _stored(sqlite_url, extractor)
    wrong = _smtp(
        port, security="starttls", user="newstrack", password="hunter2", ca_file=str(ca_file)
    )
    summary = _send(session_factory, _watchlist(), wrong)
    assert "refused the login of 'newstrack'" in summary.failed[0]
    assert "hunter2" not in repr(summary) and "hunter2" not in repr(wrong)
    right = _smtp(
        port, security="starttls", user="newstrack", password="s3cret!", ca_file=str(ca_file)
    )
    assert len(_send(session_factory, _watchlist(), right).sent) == 1
    assert len(handler.messages) == 1
    with unit_of_work(session_factory) as session:
        error = session.scalar(select(DigestDelivery.error))
    assert error is None  # cleared once sent


def test_watchlists_file_errors_name_the_watchlist_and_field(tmp_path: Path) -> None:
    """An unset variable, a bad address, an unknown element or filter: each named."""
    vocabulary = load_vocabulary()
    cases = {
        "recipients: ['${NOPE}']": "watchlist 'w': recipients: ${NOPE} is not set in the environment",
        "recipients: [not-an-address]": "watchlist 'w': recipients: 'not-an-address' is not an e-mail address",
        "recipients: [a@example.com]\n    filters: {elements: [kryptonite]}": "filters.elements: 'kryptonite' is not an element",
        "recipients: [a@example.com]\n    filters: {colour: red}": "filters.colour: unknown filter",
        "recipients: [a@example.com]\n    timezone: Mars/Olympus": "timezone: 'Mars/Olympus' is not an IANA time zone",
        "recipients: [a@example.com]\n    timezone: America": "timezone: 'America' is not an IANA time zone",
        "recipients: [a@example.com]\n    filters: {measures: [embargo]}": "filters.measures: 'embargo'",
    }
    for body, message in cases.items():
        path = tmp_path / "w.yaml"
        path.write_text(f"version: 1\nwatchlists:\n  - name: w\n    {body}\n", encoding="utf-8")
        with pytest.raises(Exception) as error:
            load_watchlists(path, vocabulary, {})
        assert message in str(error.value) and "line 3" in str(error.value), str(error.value)


def test_the_example_watchlist_reads_its_recipient_from_the_environment() -> None:
    """The shipped watchlists.yaml loads with NEWSTRACK_DIGEST_TO set and names a cron.yaml job."""
    [watchlist] = load_watchlists(
        PROJECT / "watchlists.yaml", load_vocabulary(), {"NEWSTRACK_DIGEST_TO": "me@example.com"}
    )
    assert watchlist.recipients == ("me@example.com",)
    assert "dysprosium" in watchlist.filters.elements and "gallium" in watchlist.filters.elements
    from pipeline.config.cron import load_cron

    cron = load_cron(PROJECT / "cron.yaml", check_newstrack_command)
    assert cron.job(watchlist.schedule).command == ("digest", "send")


def test_watchlist_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`watchlist add` checks and writes, `list` shows, `remove` takes it out."""
    path = tmp_path / "watchlists.yaml"
    base = ["watchlist"]
    assert (
        main(
            [
                *base,
                "add",
                "gallium",
                "--file",
                str(path),
                "--recipient",
                "g@example.com",
                "--element",
                "Ga",
                "--measure",
                "export_ban",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                *base,
                "add",
                "bad",
                "--file",
                str(path),
                "--recipient",
                "x@example.com",
                "--element",
                "kryptonite",
            ]
        )
        == 2
    )
    assert main([*base, "list", "--file", str(path), "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"name": "gallium"' in listed and "export_ban" in listed and "kryptonite" not in listed
    assert main([*base, "remove", "gallium", "--file", str(path)]) == 0
    assert main([*base, "remove", "gallium", "--file", str(path)]) == 2


def test_digests_group_by_measure_when_asked(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """`group_by: measure` puts each event under its measure."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    watchlist = Watchlist("by-measure", ("m@example.com",), group_by="measure")
    _send(session_factory, watchlist, _smtp(port))
    text = handler.parsed()[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "== export control ==" in text and "== export ban ==" in text


def test_a_dry_run_sends_and_records_nothing(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """`--dry-run` builds the digest and says what it would send; no mail, no delivery row."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    summary = _send(session_factory, _watchlist(), _smtp(port), dry_run=True)
    assert "dry run" in summary.sent[0] and summary.events == 2
    assert handler.messages == [] and _deliveries(session_factory) == []


def test_digest_send_exit_codes_say_what_happened(
    tmp_path: Path,
    extractor: Extractor,
    inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """0 when sent, 0 with nothing new to send, 1 when the server is down, 2 without a recipient."""
    handler, port = inbox
    database = f"sqlite:///{tmp_path / 'x.db'}"
    _stored(database, extractor)
    monkeypatch.setattr("pipeline.flows.digests.DIGEST_SETTLE", timedelta(0))
    arguments = [
        "--db", database, "digest", "send",
        "--file", str(PROJECT / "watchlists.yaml"), "--cron", str(PROJECT / "cron.yaml"),
    ]  # fmt: skip
    monkeypatch.delenv("NEWSTRACK_DIGEST_TO", raising=False)
    assert main(arguments) == 2
    assert "${NEWSTRACK_DIGEST_TO} is not set" in capsys.readouterr().err
    monkeypatch.setenv("NEWSTRACK_DIGEST_TO", "analyst@example.com")
    monkeypatch.setenv("NEWSTRACK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSTRACK_SMTP_PORT", str(_free_port()))
    assert main(arguments) == 1
    monkeypatch.setenv("NEWSTRACK_SMTP_PORT", str(port))
    assert main(arguments) == 0
    assert main(arguments) == 0
    assert len(handler.messages) == 1


@pytest.mark.parametrize(
    ("kill_at", "unsent", "in_doubt"),
    [
        (
            "pipeline.flows.digests:_digest_message:2",
            set(),
            set(),
        ),  # composing the second: rerun sends it
        (
            "pipeline.delivery.smtp:send:2",
            {"b@example.com"},
            {"b@example.com"},
        ),  # never handed over
        (
            "pipeline.delivery.smtp:send:2:after",
            set(),
            {"b@example.com"},
        ),  # taken, never marked sent
    ],
)
def test_a_digest_send_killed_anywhere_never_sends_a_digest_twice(
    kill_at: str,
    unsent: set[str],
    in_doubt: set[str],
    tmp_path: Path,
    extractor: Extractor,
    inbox: tuple[Inbox, int],
) -> None:
    """SIGKILL mid-send, then reruns: each digest at most once; one in doubt is listed, not resent."""
    handler, port = inbox
    database = f"sqlite:///{tmp_path / 'x.db'}"
    session_factory = _stored(database, extractor)
    with unit_of_work(session_factory) as session:  # extracted a while ago: past DIGEST_SETTLE
        session.execute(update(Article).values(extracted_at=datetime.now(UTC) - timedelta(hours=1)))
    recipients = ["a@example.com", "b@example.com", "c@example.com"]
    watchlists = tmp_path / "watchlists.yaml"
    watchlists.write_text(
        "version: 1\nwatchlists:\n  - name: minerals\n"
        f"    recipients: {json.dumps(recipients)}\n"
        "    filters: {elements: [gallium, germanium]}\n    schedule: digest-daily\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "NEWSTRACK_DB": database,
        "NEWSTRACK_SMTP_HOST": "127.0.0.1",
        "NEWSTRACK_SMTP_PORT": str(port),
    }
    send = ["digest", "send", "--file", str(watchlists), "--cron", str(PROJECT / "cron.yaml")]
    crashing = {
        **env,
        "NEWSTRACK_KILL_AT": kill_at,
        "PYTHONPATH": str(PROJECT / "tests" / "crashpoints"),
    }
    assert newstrack(*send, env=crashing).returncode == -signal.SIGKILL

    def received() -> Counter[str]:
        return Counter(to for _, [to], _ in handler.messages)

    for _ in range(2):  # a rerun, and another: nothing in doubt is sent again
        rerun = newstrack(*send, env=env)
        assert rerun.returncode == 0, rerun.stderr
        assert received() == Counter({to: 1 for to in recipients if to not in unsent})

    def doubted() -> list[str]:
        later = send_digests(
            session_factory,
            load_watchlists(watchlists, load_vocabulary(), env),
            CRON,
            _smtp(port),
            datetime.now(UTC) + timedelta(minutes=20),  # past the grace of a send in progress
            dry_run=True,
        )
        return [label.split(" -> ")[1].split(" ")[0] for label in later.unconfirmed]

    assert doubted() == sorted(in_doubt)
    # The user asks the recipient: a digest that never arrived is sent again, one that did is not.
    if in_doubt:
        decision = "--resend-unconfirmed" if unsent else "--dismiss-unconfirmed"
        done = newstrack(*send, decision, env=env)
        assert done.returncode == 0, done.stderr
    assert doubted() == []
    assert received() == Counter({to: 1 for to in recipients})
    with unit_of_work(session_factory) as session:
        rows = session.execute(select(DigestDelivery.state, DigestDelivery.message_id)).all()
    assert {state for state, _ in rows} == {"sent"}
    sent_ids = {str(message["Message-ID"]) for message in handler.parsed()}
    assert sent_ids == {message_id for _, message_id in rows}  # a resend keeps its Message-ID


def test_preview_writes_only_inside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--watchlist ../../x` is a usage error; a file in --out linking elsewhere is not followed."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["--db", database, "init"]) == 0
    monkeypatch.setenv("NEWSTRACK_DIGEST_TO", "analyst@example.com")
    out = tmp_path / "a" / "b" / "preview"
    out.mkdir(parents=True)
    arguments = [
        "--db", database, "digest", "preview",
        "--file", str(PROJECT / "watchlists.yaml"), "--cron", str(PROJECT / "cron.yaml"),
        "--out", str(out),
    ]  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        main([*arguments, "--watchlist", "../../x"])
    assert stopped.value.code == 2
    assert "'../../x' is not a name" in capsys.readouterr().err
    assert not (tmp_path / "a" / "x.eml").exists()
    outside = tmp_path / "outside.eml"
    outside.write_text("kept", encoding="utf-8")
    (out / "critical-minerals.eml").symlink_to(outside)
    assert main([*arguments, "--watchlist", "critical-minerals"]) == 2
    assert "would be written outside" in capsys.readouterr().err
    assert outside.read_text(encoding="utf-8") == "kept"
    (out / "critical-minerals.eml").unlink()
    assert main([*arguments, "--watchlist", "critical-minerals"]) == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "critical-minerals.eml",
        "critical-minerals.html",
    ]


def test_a_digest_says_what_an_analyst_confirmed_and_shows_the_corrected_values(
    sqlite_url: str, extractor: Extractor, inbox: tuple[Inbox, int]
) -> None:
    """The gallium ban's target corrected to JP and confirmed: the e-mail shows JP and says so."""
    handler, port = inbox
    session_factory = _stored(sqlite_url, extractor)
    with unit_of_work(session_factory) as session:
        mention = session.scalars(
            select(Mention).join(Article).where(Article.url == "https://a.example/3")
        ).one()
        for field, value in (("target", "JP"), ("verdict", "confirmed")):
            applied = record_review(session, mention.id, field, value, "ana")
            consolidate(session, applied.kinds, applied.touched)
    _send(session_factory, _watchlist(elements=frozenset({"gallium"})), _smtp(port))
    [item] = _items(_plain(handler.parsed()[0]))
    assert item.startswith("[NEW] CN export ban on gallium against JP")
    assert "[reviewed: confirmed, target]" in item
