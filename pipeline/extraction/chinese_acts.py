"""Acts in Chinese sentences: per sentence, each measure it names with the action, elements,
target, count and actor the words around it give, by the formulae of MOFCOM's announcements."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from models.vocabulary.chinese import ChineseMeasurePhrase
from pipeline.extraction.chinese_text import (
    ChineseWriting,
    Count,
    FoundDate,
    Span,
    within,
)

FORWARD_REACH = 3000  # characters after a sentence where "下列物项" are listed
LISTED_AS_ENTITIES = frozenset({"export_ban", "export_control"})  # a ban on listed parties
RECALL_GAP = 2  # characters between a date and the act word it dates ("2025年4月4日列入")


@dataclass(frozen=True)
class Found:
    """A vocabulary phrase found in the text: its kind, meaning and place."""

    kind: str  # element | compound | group | country | short | body | measure | action | modality
    key: str
    start: int
    end: int
    text: str
    phrase: ChineseMeasurePhrase | None = None
    elements: tuple[str, ...] = ()  # the elements an element or compound names
    heads: bool = False  # an element heading a list of items (镓 in 镓相关物项)


@dataclass(frozen=True)
class Sentence:
    """A sentence's place in the text and the clauses of it that give grounds, not acts."""

    start: int
    end: int
    preambles: list[Span]


@dataclass(frozen=True)
class Act:
    """One measure a sentence states an act on, with what the sentence says of it."""

    sentence: Sentence
    action: str
    measure: str
    modality: str
    elements: list[str]
    targets: list[str]  # countries it may be aimed at, the likeliest first
    count: Count | None
    actor: Found | None  # the sentence's own subject, when it names one
    label: str  # the measure's words as the text writes them
    from_title: bool  # read from the title of the measure an act changes
    actions: tuple[Found, ...]

    @property
    def target(self) -> str | None:
        """The likeliest target."""
        return self.targets[0] if self.targets else None

    def recalls(self, day: FoundDate) -> bool:
        """Whether a date dates an earlier imposition the act changes ("2025年4月4日列入...")."""
        end = day.start + len(day.text)
        return any(
            action.key == "impose" and 0 <= action.start - end <= RECALL_GAP
            for action in self.actions
        )


def acts_of(
    text: str,
    sentences: Sequence[Sentence],
    found: Sequence[Found],
    titles: list[Span],
    quotes: list[Span],
    writing: ChineseWriting,
    precedence: Sequence[str],
) -> list[Act]:
    """The acts of every sentence, in text order."""
    counts = list(writing.counts(text))
    starts = [item.start for item in found]  # found is in text order
    acts: list[Act] = []
    for sentence in sentences:
        first, last = bisect_left(starts, sentence.start), bisect_left(starts, sentence.end)
        items = [
            item
            for item in found[first:last]
            if item.end <= sentence.end and not within(sentence.preambles, item.start, item.end)
        ]
        acts += _sentence_acts(
            text, sentence, items, found, counts, (titles, quotes), writing, precedence
        )
    return acts


def _sentence_acts(
    text: str,
    sentence: Sentence,
    items: list[Found],
    everything: Sequence[Found],
    all_counts: list[Count],
    enclosed: tuple[list[Span], list[Span]],
    writing: ChineseWriting,
    precedence: Sequence[str],
) -> list[Act]:
    """The acts of one sentence: one per measure it names with an action."""
    titles, quotes = enclosed
    measures = [
        item for item in items if item.kind == "measure" and _needs_met(text, item, sentence.end)
    ]
    primary = [item for item in measures if not within(titles, item.start, item.end)]
    chosen = primary or measures
    if not chosen:
        return []
    actions = [
        item for item in items if item.kind == "action" and not within(titles, item.start, item.end)
    ]
    pool = [item for item in actions if not within(quotes, item.start, item.end)] or actions
    stated = min(pool, key=lambda item: precedence.index(item.key)) if pool else None
    cues = {item.key for item in items if item.kind == "modality"}
    counts = [c for c in all_counts if sentence.start <= c.start and c.end <= sentence.end]
    counts = [c for c in counts if not within(sentence.preambles, c.start, c.end)]
    named = [item for item in items if item.elements]
    by_measure: dict[str, list[Found]] = {}
    for item in chosen:
        measure = item.phrase.measure if item.phrase else item.key
        if counts and not named and measure in LISTED_AS_ENTITIES:
            measure = "entity_listing"  # a ban on 28 named entities lists them
        by_measure.setdefault(measure, []).append(item)
    if "entity_listing" in by_measure:
        for measure in LISTED_AS_ENTITIES:
            by_measure.pop(measure, None)
    acts = []
    segments = writing.segments(text, sentence.start, sentence.end)
    for measure, spans in by_measure.items():
        first = spans[0]
        own = next((s.phrase.action for s in spans if s.phrase and s.phrase.action), None)
        action = stated.key if stated is not None else own
        if action is None:
            continue  # a measure named in passing is no act
        action, modality = _modality(action, cues)
        if modality is None:
            continue
        region = (
            next((s for s in segments if s[0] <= first.start < s[1]), None)
            if len(by_measure) > 1
            else None
        ) or (sentence.start, sentence.end)
        elements = _elements_within(named, *region)
        if not elements and any(
            word in text[sentence.start : sentence.end]
            for word in writing.writing.forward_references
        ):
            elements = _forward(text, sentence, writing, everything)
        anchor = stated.start if stated is not None and stated in pool else first.start
        acts.append(
            Act(
                sentence=sentence,
                action=action,
                measure=measure,
                modality=modality,
                elements=elements,
                targets=_targets(text, items, counts, first, region, writing),
                count=min(counts, key=lambda c: abs(c.start - first.start), default=None),
                actor=_subject(text, items, counts, anchor, titles, writing),
                label=first.text,
                from_title=not primary,
                actions=tuple(actions),
            )
        )
    return acts


def _needs_met(text: str, item: Found, sentence_end: int) -> bool:
    """Whether a phrase that needs a word after it (禁止 … 出口) has one in its sentence."""
    needs = item.phrase.needs if item.phrase else ()
    return not needs or any(text.find(word, item.end, sentence_end) >= 0 for word in needs)


def _modality(action: str, cues: set[str]) -> tuple[str, str | None]:
    """The action and modality as the codebook counts acts; no modality when it is no act."""
    if action == "threaten":
        return action, "threatened"
    if "negated" in cues:
        if action in ("lift", "suspend", "ease"):
            return "maintain", "asserted"  # "不会取消": the measure stays
        return action, None
    if "hypothetical" in cues:
        return "threaten", "threatened"
    return action, "reported" if "reported" in cues else "asserted"


def _elements_within(named: Sequence[Found], start: int, end: int) -> list[str]:
    """The element names of the phrases between two offsets, first named first: those that head
    lists of items when some do, else all."""
    inside = [item for item in named if start <= item.start and item.end <= end]
    heads = [item for item in inside if item.heads] or inside
    return list(dict.fromkeys(name for item in heads for name in item.elements))


def _forward(
    text: str, sentence: Sentence, writing: ChineseWriting, everything: Sequence[Found]
) -> list[str]:
    """The elements listed after a sentence that points at them (以下物项): up to the next
    numbered clause when the sentence opens one, else within a reach."""
    end = min(len(text), sentence.end + FORWARD_REACH)
    if writing.list_item.match(text, sentence.start):
        following = writing.list_item.search(text, sentence.end, end)
        end = following.start() if following else end
    return _elements_within([item for item in everything if item.elements], sentence.end, end)


def _targets(
    text: str,
    items: list[Found],
    counts: list[Count],
    measure: Found,
    region: Span,
    writing: ChineseWriting,
) -> list[str]:
    """The countries a measure may be aimed at: marked ones (对美国, 28家美国实体) first, then
    those of its part of the sentence, then the nearest."""
    markers = writing.writing.target_markers
    ranked = []
    for item in items:
        if item.kind not in ("country", "short"):
            continue
        marked = text[: item.start].endswith(markers) or any(
            c.between[0] <= item.start and item.end <= c.between[1] for c in counts
        )
        in_region = region[0] <= item.start < region[1]
        ranked.append(((not marked, not in_region, abs(item.start - measure.start)), item.key))
    return list(dict.fromkeys(key for _, key in sorted(ranked)))


def _subject(
    text: str,
    items: list[Found],
    counts: list[Count],
    anchor: int,
    titles: list[Span],
    writing: ChineseWriting,
) -> Found | None:
    """The body or country the sentence names before its action word, not as a target."""
    markers = writing.writing.target_markers
    for item in items:
        if item.start >= anchor:
            break
        if (
            item.kind in ("country", "body")
            and not text[: item.start].endswith(markers)
            and not within(titles, item.start, item.end)
            and not any(c.start <= item.start and item.end <= c.end for c in counts)
        ):
            return item
    return None
