"""Dating events: the dates a sentence gives for its measure, by role, and expiries from spans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from spacy.tokens import Span, Token

from models.annotation import DateTag
from pipeline.extraction.actions import CHANGES
from pipeline.extraction.candidates import Candidate
from pipeline.extraction.lexicon import Lexicon
from pipeline.text.dates import add_duration, resolve_date

LASTING = frozenset({"suspend", "extend", "impose", "ease"})  # actions that may run for a time


def dates(
    sentence: Span, published: datetime | None, candidate: Candidate, lexicon: Lexicon
) -> list[DateTag]:
    """The dates a sentence gives for its event; "for 90 days" gives an expiry from its start."""
    tags = list(_stated_dates(sentence, published, candidate, lexicon))
    if candidate.action not in LASTING or any(tag.role == "expires" for tag in tags):
        return tags
    start = next(
        (tag.value for role in ("effective", "announced") for tag in tags if tag.role == role),
        published.date() if published else None,
    )
    for ent in sentence.ents:
        before = sentence.doc[max(ent.start - 1, sentence.start) : ent.start].text.lower()
        lasting = before == "for" or "-" in ent.text  # "for one year", "a 90-day reprieve"
        if ent.label_ == "DATE" and lasting and start is not None:
            end = add_duration(start, ent.text.lower().removeprefix("a ").removeprefix("the "))
            if end is not None:
                return [*tags, DateTag(end, "expires", ent.text)]
    return tags


def _stated_dates(
    sentence: Span, published: datetime | None, candidate: Candidate, lexicon: Lexicon
) -> Iterator[DateTag]:
    """The dates the sentence states, each with its role: announced, effective, expires, recalled."""
    cues = lexicon.cues
    for ent in sentence.ents:
        if ent.label_ != "DATE":
            continue
        before = sentence.doc[max(ent.start - 2, sentence.start) : ent.start].text.lower()
        role = "announced"
        if candidate.action in CHANGES and _dates_the_measure(ent.root, candidate):
            role = "recalled"  # "suspend the controls announced on Oct. 9": not the suspension's
        elif any(cue in before.split() or before.endswith(cue) for cue in cues.expiry_cues):
            role = "expires"
        elif any(cue in before for cue in cues.effective_cues):
            role = "effective"
        # The act's own dates take the tense of its verb; a recalled act's date is in the past.
        future = role == "expires" or (
            role != "recalled" and _in_future_tense(ent.root, cues.future_auxiliaries)
        )
        value = resolve_date(ent.text, published.date() if published else None, future=future)
        if value is not None:
            yield DateTag(value, role, ent.text)


def _in_future_tense(token: Token, auxiliaries: tuple[str, ...]) -> bool:
    """Whether the verb a date hangs on is in the future tense ("will take effect on Tuesday")."""
    while token.pos_ not in ("VERB", "AUX") and token.head.i != token.i:
        token = token.head
    return any(child.lower_ in auxiliaries for child in token.children)


def _dates_the_measure(date_root: Token, candidate: Candidate) -> bool:
    """Whether a date sits inside the measure's own phrase ("its Oct. 9 package", "the rules
    imposed April 4"), below the measure and not through the word of the action."""
    measure = candidate.trigger.root
    while measure.dep_ == "compound" and measure.head.pos_ in ("NOUN", "PROPN"):
        measure = measure.head  # "export control package": the package is the measure's phrase
    token = date_root
    while token.i != measure.i:
        if token.head.i == token.i or token == candidate.action_token:
            return False
        token = token.head
    return True
