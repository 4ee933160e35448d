"""The digest e-mail: one item per measure, plain text and HTML from templates, a timeline chart."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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

from models.digest import Act, DigestMeasure, Evidence, StatePeriod
from models.vocabulary import Vocabulary
from pipeline.config.watchlists import Watchlist

HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")
WORD = re.compile(r"[a-z]+")
NO_ELEMENT = "Other measures (no element named)"
# Long URLs in List-Unsubscribe must stay plain ASCII, not be folded into encoded words.
HEADERS_UNFOLDED = policy.default.clone(max_line_length=998)
CHART_DAYS = 90
CHART_ROWS = 24  # measures drawn at most; the rest are counted under the chart
STATE_COLOURS = {
    "in_force": "#c53030",
    "suspended": "#f0b429",
    "eased": "#2186eb",
    "threatened": "#8719e0",
    "lifted": "#27ab83",
    "expired": "#9fb3c8",
}
KIND_TAGS = {"new": "NEW", "changed": "CHANGE", "reported": "UPDATE"}
KIND_ORDER = tuple(KIND_TAGS)


@dataclass(frozen=True)
class DigestItem:
    """One measure as a digest tells it: where it stands, its latest change, the new reports."""

    measure: DigestMeasure
    heading: str  # the watchlist's elements it concerns (or its measure type)
    state: str
    since: date | None  # when the state began (or begins)
    until: date | None  # when the state is due to end
    latest: Act  # the act that last changed it (restatements are not changes)
    evidence: str  # the sentence that states that act best; "" when none does
    kind: str  # "new" (first reported), "changed" (a change first reported) or "reported"


@dataclass(frozen=True)
class Digest:
    """What one recipient gets for one watchlist and period."""

    watchlist: str
    recipient: str
    period: datetime  # the scheduled time it is sent for: with watchlist and recipient, its key
    since: datetime
    until: datetime
    zone: ZoneInfo
    items: Sequence[DigestItem]
    group_by: str = "element"

    @property
    def new_count(self) -> int:
        """Measures first reported in this period."""
        return sum(item.kind == "new" for item in self.items)

    @property
    def update_count(self) -> int:
        """Known measures with new reports (or a new change) in this period."""
        return len(self.items) - self.new_count

    @property
    def today(self) -> date:
        """The day the digest is written for, in the watchlist's time zone."""
        return self.until.astimezone(self.zone).date()


@dataclass(frozen=True)
class EvidenceWords:
    """What the evidence choice looks for: element names, group words, action words, preambles."""

    element_names: dict[str, tuple[str, ...]]  # element -> its name and synonyms, lower case
    group_phrases: dict[str, tuple[str, ...]]  # element -> phrases of the groups it belongs to
    action_words: dict[str, str]  # an inflected word -> its action
    preambles: tuple[str, ...]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> EvidenceWords:
        """The words of a vocabulary."""
        group_phrases: dict[str, list[str]] = {}
        for group in vocabulary.groups:
            for member in group.members:
                group_phrases.setdefault(member, []).extend(
                    phrase.casefold() for phrase in (*group.phrases, group.name.replace("_", " "))
                )
        return cls(
            element_names={
                element.name: tuple(n.casefold() for n in (element.name, *element.synonyms))
                for element in vocabulary.elements
            },
            group_phrases={member: tuple(p) for member, p in group_phrases.items()},
            action_words={
                word: action
                for lemma, action in vocabulary.action_lemmas.items()
                for word in _inflections(lemma)
            },
            preambles=vocabulary.preambles,
        )


def _inflections(lemma: str) -> set[str]:
    """The regular forms of a word: ban, bans, banned, banning; impose, imposed, imposing."""
    forms = {lemma, f"{lemma}s", f"{lemma}es", f"{lemma}ed", f"{lemma}ing"}
    if lemma.endswith("e"):
        forms |= {f"{lemma}d", f"{lemma[:-1]}ing"}
    if lemma.endswith("y"):
        forms |= {f"{lemma[:-1]}ied", f"{lemma[:-1]}ies"}
    forms |= {f"{lemma}{lemma[-1]}ed", f"{lemma}{lemma[-1]}ing"}
    return forms


def build_digest(
    measures: Sequence[DigestMeasure],
    watchlist: Watchlist,
    recipient: str,
    period: datetime,
    since: datetime,
    until: datetime,
    vocabulary: Vocabulary,
) -> Digest:
    """A digest of one item per measure, each placed under the watchlist's elements it concerns."""
    words = EvidenceWords.of(vocabulary)
    today = until.astimezone(watchlist.zone).date()
    items = [
        _item(measure, watchlist.filters.elements, watchlist.group_by, today, words)
        for measure in measures
    ]
    items.sort(
        key=lambda item: (KIND_ORDER.index(item.kind), -item.measure.source_count, item.measure.id)
    )
    return Digest(
        watchlist=watchlist.name,
        recipient=recipient,
        period=period,
        since=since,
        until=until,
        zone=watchlist.zone,
        items=items,
        group_by=watchlist.group_by,
    )


def _item(
    measure: DigestMeasure,
    watched: frozenset[str],
    group_by: str,
    today: date,
    words: EvidenceWords,
) -> DigestItem:
    state, since, until = current_state(measure, today)
    latest = latest_change(measure)
    if measure.is_new:
        kind = "new"
    elif any(act.is_new and act.affirmed and act.action != "maintain" for act in measure.acts):
        kind = "changed"
    else:
        kind = "reported"
    return DigestItem(
        measure=measure,
        heading=heading(measure, watched, group_by),
        state=state,
        since=since,
        until=until,
        latest=latest,
        evidence=best_evidence(
            measure.evidence.get(latest.event_id, ()), measure.elements, latest.action, words
        ),
        kind=kind,
    )


def heading(measure: DigestMeasure, watched: frozenset[str], group_by: str) -> str:
    """An item's heading: the watchlist's elements it concerns (else all its own), or its type."""
    if group_by == "measure":
        return measure.measure.replace("_", " ")
    concerned = [element for element in measure.elements if not watched or element in watched]
    return ", ".join(concerned) or NO_ELEMENT


def current_state(measure: DigestMeasure, today: date) -> tuple[str, date | None, date | None]:
    """A measure's state today, since when and until when (a state yet to begin: its first)."""
    periods = measure.periods
    if not periods:
        founding = next((act for act in measure.acts if act.event_id == measure.id), None)
        state = "threatened" if founding and founding.action == "threaten" else measure.status
        return state, founding.on if founding else None, None
    current = max(
        (index for index, period in enumerate(periods) if period.starts_on <= today), default=0
    )
    first = current
    while (
        first > 0
        and periods[first - 1].state == periods[current].state
        and periods[first - 1].ends_on == periods[first].starts_on
    ):
        first -= 1
    return periods[current].state, periods[first].starts_on, periods[current].ends_on


def latest_change(measure: DigestMeasure) -> Act:
    """The act that last changed a measure; restatements and denials count only if nothing else does."""
    acts = measure.acts
    chosen = (
        [act for act in acts if act.affirmed and act.action != "maintain"]
        or [act for act in acts if act.affirmed]
        or list(acts)
    )
    # On the same day the founding act comes before the changes to it, as in its timeline.
    return max(chosen, key=lambda act: (act.on, act.event_id != measure.id, act.event_id))


def best_evidence(
    candidates: Sequence[Evidence], elements: Sequence[str], action: str, words: EvidenceWords
) -> str:
    """The sentence stating an act best: naming an element and an action word; never a bare preamble."""
    ranked: list[tuple[bool | float | int | str, ...]] = []
    for order, candidate in enumerate(candidates):
        sentence = " ".join(candidate.sentence.split())
        folded = sentence.casefold()
        names_element = any(
            _names(folded, name)
            for element in elements
            for name in words.element_names.get(element, ())
        )
        names_group = any(
            _names(folded, phrase)
            for element in elements
            for phrase in words.group_phrases.get(element, ())
        )
        preamble = folded.lstrip("\"'“‘(").startswith(words.preambles)
        if preamble and not names_element:
            continue
        actions = {words.action_words.get(word) for word in WORD.findall(folded)}
        rank = (
            not names_element,
            preamble,
            not names_group,
            action not in actions,
            not (actions - {None}),
            candidate.modality != "asserted",
        )
        ranked.append((*rank, -candidate.confidence, order, sentence))
    return str(min(ranked)[-1]) if ranked else ""


def _names(folded: str, phrase: str) -> bool:
    """Whether a lower-case sentence has a phrase as whole words."""
    return re.search(rf"\b{re.escape(phrase)}\b", folded) is not None


def _template(name: str) -> str:
    return (files("pipeline.delivery") / "templates" / name).read_text(encoding="utf-8")


TEMPLATES = Environment(
    loader=FunctionLoader(_template),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(digest: Digest, unsubscribe: str, chart_src: str | None) -> tuple[str, str]:
    """The plain-text and HTML (CSS inlined, chart from a cid: or data: URI) bodies of a digest."""
    context = {
        "digest": {
            "watchlist": digest.watchlist,
            "new_count": digest.new_count,
            "update_count": digest.update_count,
            "since_local": _local(digest.since, digest.zone),
            "until_local": _local(digest.until, digest.zone),
            "groups": _groups(digest),
            "unsubscribe": unsubscribe,
            "chart_src": chart_src,
            "chart_days": CHART_DAYS,
            "chart_legend": [state.replace("_", " ") for state in STATE_COLOURS],
        }
    }
    text = TEMPLATES.get_template("digest.txt.j2").render(context)
    html = TEMPLATES.get_template("digest.html.j2").render(context)
    return text, css_inline.inline(html)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _grouped(digest: Digest) -> list[tuple[str, list[DigestItem]]]:
    """Items under their headings: the fullest first, items without an element last."""
    groups: dict[str, list[DigestItem]] = {}
    for item in digest.items:
        groups.setdefault(item.heading, []).append(item)
    order = sorted(groups, key=lambda title: (title == NO_ELEMENT, -len(groups[title]), title))
    return [(title, groups[title]) for title in order]


def _groups(digest: Digest) -> list[dict[str, Any]]:
    return [
        {"title": title, "items": [_item_view(item, digest) for item in items]}
        for title, items in _grouped(digest)
    ]


def _past(action: str) -> str:
    """imposed, suspended, eased: how a change reads."""
    return f"{action}d" if action.endswith("e") else f"{action}ed"


def _item_view(item: DigestItem, digest: Digest) -> dict[str, Any]:
    measure = item.measure
    actor = measure.actor_body or measure.actor or "unknown actor"
    headline = f"{actor} {measure.measure.replace('_', ' ')}"
    if measure.elements:
        headline += f" on {', '.join(measure.elements)}"
    if measure.targets:
        headline += f" against {', '.join(measure.targets)}"
    state = item.state.replace("_", " ")
    if item.since is not None:
        state += f" {'since' if item.since <= digest.today else 'from'} {item.since.isoformat()}"
    if item.until is not None:
        state += f" until {item.until.isoformat()}"
    latest = f"{_past(item.latest.action)} {item.latest.on.isoformat()}"
    if item.latest.expires_on is not None and item.latest.action in ("suspend", "extend"):
        latest += f" (until {item.latest.expires_on.isoformat()})"
    count = len(measure.reports)
    return {
        "tag": KIND_TAGS[item.kind],
        "kind": item.kind,
        "headline": headline,
        "state": state,
        "latest": latest,
        "sources": measure.source_count,
        "evidence": item.evidence,
        "report_count": f"{count} new report{'s' if count != 1 else ''}",
        "reports": [
            {
                "title": " ".join(report.title.split()) or report.url,
                "url": report.url,
                "source": report.source or "article",
                "published": report.published_at.astimezone(digest.zone).date().isoformat()
                if report.published_at is not None
                else "",
            }
            for report in measure.reports
        ],
    }


@dataclass(frozen=True)
class TimelineRow:
    """One measure in the chart: its label, its states, and the days it was changed."""

    label: str
    periods: Sequence[StatePeriod]
    changes: Sequence[date]


def timeline_rows(digest: Digest) -> list[tuple[str, list[TimelineRow]]]:
    """The chart's rows: each item's measure under its heading, as the digest lists them."""
    return [
        (
            title,
            [
                TimelineRow(
                    label=_row_label(item.measure),
                    periods=item.measure.periods
                    or ([StatePeriod(item.state, item.since, None)] if item.since else []),
                    changes=[
                        act.on
                        for act in item.measure.acts
                        if act.affirmed and act.action != "maintain"
                    ],
                )
                for item in items
            ],
        )
        for title, items in _grouped(digest)
    ]


def _row_label(measure: DigestMeasure) -> str:
    """A measure in the chart: who, what, and the month it was founded (two alike differ by it)."""
    founding = next((act for act in measure.acts if act.event_id == measure.id), None)
    label = f"{measure.actor_body or measure.actor or '?'} {measure.measure.replace('_', ' ')}"
    return f"{label}, {founding.on:%b %Y}" if founding else label


ROW_HEIGHT, HEADER_HEIGHT, TOP, LEGEND_HEIGHT, LABEL_WIDTH = 16, 16, 34, 22, 210


def timeline_png(
    groups: Sequence[tuple[str, Sequence[TimelineRow]]], end: date, width: int = 600
) -> bytes:
    """PNG of measures over the CHART_DAYS days to `end`: bars coloured by state, marked changes."""
    start = end - timedelta(days=CHART_DAYS)
    shown: list[tuple[str, list[TimelineRow]]] = []
    left = CHART_ROWS
    for title, rows in groups:
        if left > 0:
            shown.append((title, list(rows[:left])))
        left -= len(rows)
    height = TOP + sum(HEADER_HEIGHT + len(rows) * ROW_HEIGHT for _, rows in shown)
    height += LEGEND_HEIGHT + (14 if left < 0 else 0) + (ROW_HEIGHT if not shown else 0)
    image = Image.new("P", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x0, x1 = LABEL_WIDTH, width - 10

    def x_of(day: date) -> int:
        return x0 + round((x1 - x0) * (day - start).days / CHART_DAYS)

    draw.text(
        (10, 4),
        f"Measures over the last {CHART_DAYS} days, to {end.isoformat()}",
        fill="#1f2933",
        font=font,
    )
    month = date(start.year, start.month, 1)
    while month <= end:
        if month > start:
            draw.line((x_of(month), TOP - 12, x_of(month), height - LEGEND_HEIGHT), fill="#d9e2ec")
            if x_of(month) + 2 + draw.textlength(f"{month:%b}", font=font) <= width:
                draw.text((x_of(month) + 2, TOP - 14), f"{month:%b}", fill="#52606d", font=font)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    y = TOP
    for title, rows in shown:
        draw.text((10, y + 2), _clip(title, 90), fill="#1f2933", font=font)
        y += HEADER_HEIGHT
        for row in rows:
            draw.text((18, y + 2), _clip(row.label, 34), fill="#52606d", font=font)
            for period in row.periods:
                first = max(period.starts_on, start)
                last = min(period.ends_on or end, end)
                if last > first or (last == first and period.ends_on is None):
                    draw.rectangle(
                        (x_of(first), y + 3, max(x_of(last), x_of(first) + 1), y + ROW_HEIGHT - 3),
                        fill=STATE_COLOURS.get(period.state, "#bcccdc"),
                    )
            for day in row.changes:
                if start <= day <= end:
                    x = x_of(day)
                    draw.polygon(((x - 3, y), (x + 3, y), (x, y + 4)), fill="#1f2933")
            y += ROW_HEIGHT
    if not shown:
        draw.text((10, y + 2), "no measure to draw", fill="#52606d", font=font)
        y += ROW_HEIGHT
    if left < 0:
        draw.text(
            (10, y + 1), f"and {-left} more measure(s), listed below", fill="#52606d", font=font
        )
        y += 14
    x = 10
    for state, colour in STATE_COLOURS.items():
        draw.rectangle((x, y + 6, x + 10, y + 16), fill=colour)
        label = state.replace("_", " ")
        draw.text((x + 14, y + 6), label, fill="#1f2933", font=font)
        x += 24 + int(draw.textlength(label, font=font))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."


def chart_png(digest: Digest) -> bytes:
    """The digest's timeline chart."""
    return timeline_png(timeline_rows(digest), digest.today)


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
