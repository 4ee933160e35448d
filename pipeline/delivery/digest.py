"""A digest's content: one item per measure, where it stands, its latest change, its best evidence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from models.digest import Act, DigestMeasure, Evidence
from models.grouping import stretch_starts
from models.vocabulary import Vocabulary
from pipeline.config.watchlists import Watchlist

WORD = re.compile(r"[a-z]+")
NO_ELEMENT = "Other measures (no element named)"
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
    first = stretch_starts(periods)[current]
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


def grouped(digest: Digest) -> list[tuple[str, list[DigestItem]]]:
    """Items under their headings: the fullest first, items without an element last."""
    groups: dict[str, list[DigestItem]] = {}
    for item in digest.items:
        groups.setdefault(item.heading, []).append(item)
    order = sorted(groups, key=lambda title: (title == NO_ELEMENT, -len(groups[title]), title))
    return [(title, groups[title]) for title in order]
