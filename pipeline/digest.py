"""The digest e-mail: plain text and HTML from templates, a chart, and proper headers."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from PIL import Image, ImageDraw, ImageFont

from storage.digests import DigestEvent

HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")
NO_ELEMENT = "Other measures (no element named)"
# Long URLs in List-Unsubscribe must stay plain ASCII, not be folded into encoded words.
HEADERS_UNFOLDED = policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class Digest:
    """What one recipient gets for one watchlist and period."""

    watchlist: str
    recipient: str
    period: datetime  # the scheduled time it is sent for: with watchlist and recipient, its key
    since: datetime
    until: datetime
    zone: ZoneInfo
    events: Sequence[DigestEvent]
    chart: Sequence[tuple[str, int]]  # events per element over the last 30 days
    group_by: str = "element"

    @property
    def new_count(self) -> int:
        """Events first reported in this period."""
        return sum(event.is_new for event in self.events)

    @property
    def update_count(self) -> int:
        """Known events with new reports in this period."""
        return len(self.events) - self.new_count


def _template(name: str) -> str:
    return (files("pipeline") / "templates" / name).read_text(encoding="utf-8")


TEMPLATES = Environment(
    loader=FunctionLoader(_template),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(digest: Digest, unsubscribe: str, chart_cid: str | None) -> tuple[str, str]:
    """The plain-text and the HTML body (CSS inlined) of a digest."""
    context = {
        "digest": {
            "watchlist": digest.watchlist,
            "new_count": digest.new_count,
            "update_count": digest.update_count,
            "since_local": _local(digest.since, digest.zone),
            "until_local": _local(digest.until, digest.zone),
            "groups": _groups(digest),
            "unsubscribe": unsubscribe,
            "chart_cid": chart_cid,
        }
    }
    text = TEMPLATES.get_template("digest.txt.j2").render(context)
    html = TEMPLATES.get_template("digest.html.j2").render(context)
    return text, css_inline.inline(html)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _groups(digest: Digest) -> list[dict[str, Any]]:
    """Events grouped by element (each under its first element) or by measure."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for event in digest.events:
        if digest.group_by == "measure":
            title = event.measure.replace("_", " ")
        else:
            title = event.elements[0] if event.elements else NO_ELEMENT
        groups.setdefault(title, []).append(_event_view(event))
    order = sorted(groups, key=lambda title: (title == NO_ELEMENT, -len(groups[title]), title))
    return [{"title": title, "events": groups[title]} for title in order]


def _event_view(event: DigestEvent) -> dict[str, Any]:
    actor = event.actor_body or event.actor or "unknown actor"
    headline = f"{actor} {event.action}s {event.measure.replace('_', ' ')}"
    if event.elements:
        headline += f" on {', '.join(event.elements)}"
    if event.targets:
        headline += f" against {', '.join(event.targets)}"
    dates = "; ".join(
        f"{label} {value.isoformat()}"
        for label, value in (
            ("announced", event.announced_on),
            ("effective", event.effective_on),
            ("until", event.expires_on),
        )
        if value is not None
    )
    status = event.status.replace("_", " ")
    if event.modality and event.modality not in ("asserted", "reported"):
        status += f" ({event.modality})"
    return {
        "is_new": event.is_new,
        "headline": headline,
        "status_text": status,
        "dates": dates,
        "source_count": event.source_count,
        "evidence": " ".join(event.evidence.split()),
        "reports": [
            {"title": " ".join(r.title.split()), "url": r.url, "source": r.source}
            for r in event.reports
        ],
    }


def chart_png(counts: Sequence[tuple[str, int]], width: int = 600) -> bytes:
    """A horizontal bar chart of events per element, as PNG bytes."""
    rows = list(counts[:12]) or [("no events", 0)]
    bar_height, gap, label_width, top = 18, 6, 130, 28
    height = top + len(rows) * (bar_height + gap) + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text(
        (10, 6), "Events per element, reported in the last 30 days", fill="#1f2933", font=font
    )
    most = max((count for _, count in rows), default=0) or 1
    for index, (name, count) in enumerate(rows):
        y = top + index * (bar_height + gap)
        draw.text((10, y + 3), name[:20], fill="#1f2933", font=font)
        length = int((width - label_width - 50) * count / most)
        draw.rectangle(
            (label_width, y, label_width + max(length, 1), y + bar_height), fill="#2186eb"
        )
        draw.text((label_width + length + 6, y + 3), str(count), fill="#1f2933", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def message_id(digest: Digest, sender: str) -> str:
    """The same Message-ID for the same watchlist, recipient and period: a resend is the same mail."""
    key = f"{digest.watchlist}|{digest.recipient}|{digest.period.isoformat()}"
    digest_hash = hashlib.sha256(key.encode()).hexdigest()[:24]
    domain = sender.rsplit("@", 1)[-1].strip(">") or "newstrack.invalid"
    return f"<digest.{digest_hash}@{domain}>"


def unsubscribe_links(digest: Digest, sender: str, url_template: str | None) -> tuple[str, str]:
    """The List-Unsubscribe header value and the link shown in the mail."""
    mailto = f"mailto:{sender}?subject={quote(f'unsubscribe {digest.watchlist}')}"
    if not url_template:
        return f"<{mailto}>", mailto
    url = url_template.format(
        watchlist=quote(digest.watchlist, safe=""), recipient=quote(digest.recipient, safe="")
    )
    return f"<{url}>, <{mailto}>", url


def compose(
    digest: Digest, sender: str, sent_at: datetime, unsubscribe_url: str | None = None
) -> EmailMessage:
    """The digest as a multipart/alternative message with the chart as a related PNG."""
    header, link = unsubscribe_links(digest, sender, unsubscribe_url)
    chart_cid = f"chart.{message_id(digest, sender)[8:-1]}"
    text, html = render(digest, link, chart_cid)
    message = EmailMessage(policy=HEADERS_UNFOLDED)
    message["Message-ID"] = message_id(digest, sender)
    message["Date"] = format_datetime(sent_at)
    message["From"] = _header(sender)
    message["To"] = _header(digest.recipient)
    message["Subject"] = _header(
        f"newstrack {digest.watchlist}: {digest.new_count} new, {digest.update_count} updated "
        f"event(s), {digest.period.astimezone(digest.zone):%Y-%m-%d}"
    )
    message["List-Unsubscribe"] = header
    if unsubscribe_url and unsubscribe_url.startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for part in message.iter_parts():
        if part.get_content_type() == "text/html":
            part.add_related(chart_png(digest.chart), "image", "png", cid=f"<{chart_cid}>")
    return message


def _header(value: str) -> str:
    """A header value with no line breaks or control characters: nothing can be injected."""
    return HEADER_UNSAFE.sub(" ", value).strip()
