"""An article's text cut into runs, each with the tags that cover it, for highlighting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from storage.board import MentionRow, Tag


@dataclass(frozen=True)
class Run:
    """A stretch of text and the kinds and labels of the tags over it (empty: plain text)."""

    text: str
    kinds: tuple[str, ...]
    labels: tuple[str, ...]


def runs(text: str, tags: Sequence[Tag], mentions: Sequence[MentionRow]) -> list[Run]:
    """The text in runs at every tag's edges; overlapping tags both apply to the overlap."""
    spans = [(t.start, t.end, t.kind, _tag_label(t)) for t in tags]
    spans += [
        (m.start_char, m.end_char, "event", f"event #{m.event_id} ({m.confidence:.2f})")
        for m in mentions
    ]
    spans = [(max(0, s), min(len(text), e), k, label) for s, e, k, label in spans if e > s]
    edges = sorted({0, len(text), *(s for s, *_ in spans), *(e for _, e, *_ in spans)})
    found = []
    for start, end in pairwise(edges):
        over = [(k, label) for s, e, k, label in spans if s <= start and end <= e]
        kinds = tuple(sorted({k for k, _ in over}))
        labels = tuple(dict.fromkeys(label for _, label in over))
        found.append(Run(text[start:end], kinds, labels))
    return found


def _tag_label(tag: Tag) -> str:
    """What hovering a tag says."""
    detail = f" ({tag.detail})" if tag.detail and tag.detail != tag.label else ""
    return f"{tag.kind}: {tag.label}{detail}"
