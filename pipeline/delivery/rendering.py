"""A digest's bodies: plain text and HTML from the templates, the HTML's CSS inlined."""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

from pipeline.delivery.chart import CHART_DAYS, STATE_COLOURS
from pipeline.delivery.digest import KIND_TAGS, Digest, DigestItem, grouped


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


def _groups(digest: Digest) -> list[dict[str, Any]]:
    return [
        {"title": title, "items": [_item_view(item, digest) for item in items]}
        for title, items in grouped(digest)
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
    if item.latest.reviewed:  # an analyst confirmed or corrected it on the board
        latest += f" [reviewed: {item.latest.reviewed.replace(',', ', ')}]"
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
