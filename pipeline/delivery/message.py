"""A digest as an e-mail message: headers, text and HTML parts, the chart; and as a page alone."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from pipeline.delivery.chart import chart_png
from pipeline.delivery.digest import Digest
from pipeline.delivery.rendering import render

HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")
# Long URLs in List-Unsubscribe must stay plain ASCII, not be folded into encoded words.
HEADERS_UNFOLDED = policy.default.clone(max_line_length=998)


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
    text, html = render(digest, link, f"cid:{chart_cid}")
    message = EmailMessage(policy=HEADERS_UNFOLDED)
    message["Message-ID"] = message_id(digest, sender)
    message["Date"] = format_datetime(sent_at)
    message["From"] = _header(sender)
    message["To"] = _header(digest.recipient)
    message["Subject"] = _header(
        f"newstrack {digest.watchlist}: {digest.new_count} new, {digest.update_count} updated "
        f"measure(s), {digest.period.astimezone(digest.zone):%Y-%m-%d}"
    )
    message["List-Unsubscribe"] = header
    if unsubscribe_url and unsubscribe_url.startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for part in message.iter_parts():
        if part.get_content_type() == "text/html":
            part.add_related(chart_png(digest), "image", "png", cid=f"<{chart_cid}>")
    return message


def standalone_html(message: EmailMessage) -> str:
    """A digest's HTML part with its images inlined as data: URIs, to open alone in a browser."""
    body = message.get_body(preferencelist=("html",))
    if body is None:
        return ""
    html = str(body.get_content())
    for part in message.walk():
        cid = part["Content-ID"]
        if cid and part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                encoded = base64.b64encode(payload).decode("ascii")
                uri = f"data:{part.get_content_type()};base64,{encoded}"
                html = html.replace(f"cid:{cid.strip('<>')}", uri)
    return html


def _header(value: str) -> str:
    """A header value with no line breaks or control characters: nothing can be injected."""
    return HEADER_UNSAFE.sub(" ", value).strip()
