"""Consolidation: which claims are one event, which events change which measure, and when.

Pure functions over plain data, so the same claims give the same events in any order. A claim is
what one article sentence says; claims of one kind (same actor, action and measure) are grouped
into events, and events of one actor and measure are linked into measures with a timeline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

SAME_EVENT_DAYS = 31  # dated claims further apart than this are different actions
RECALL_GRACE_DAYS = (
    31  # an undated claim may recall an event dated up to this long after its article
)
AFFIRMING = frozenset({"asserted", "reported"})
STATE_OF_ACTION = {
    "impose": "in_force",
    "expand": "in_force",
    "maintain": "in_force",
    "extend": "in_force",
    "ease": "eased",
    "suspend": "suspended",
    "lift": "lifted",
    "threaten": "threatened",
}
ORDER_OF_ACTION = {action: rank for rank, action in enumerate(STATE_OF_ACTION)}
# Actions that start a measure rather than change one: a widening ("five more elements from
# November 8") is its own set of rules, suspended or lifted apart from the measure it widens.
FOUNDING = frozenset({"impose", "expand", "threaten"})
IN_FORCE_FOUNDING = frozenset({"impose", "expand"})
Value = TypeVar("Value", bound=Any)


@dataclass(frozen=True)
class Claim:
    """What one article sentence says about an event of a given actor, action and measure."""

    id: int
    elements: frozenset[str]
    target: str | None
    on: date | None  # the date it gives for the action: announced, else effective
    published: date | None  # the day its article appeared


@dataclass(frozen=True)
class EventFacts:
    """What the lifecycle needs to know of one consolidated event."""

    id: int
    action: str
    elements: frozenset[str]
    targets: frozenset[str]
    on: date  # when it took effect: effective, else announced, else first reported
    expires_on: date | None
    affirmed: bool  # False when its mentions mostly deny or only suppose it
    recalls: date | None = None  # the date its reports give for the measure it changes
    counted: bool = False  # its reports count whom it applies to ("28 U.S. companies")


@dataclass(frozen=True)
class Period:
    """A stretch of time in which a measure is in one state, and the event that started it."""

    measure_id: int
    event_id: int
    state: str
    starts_on: date
    ends_on: date | None


class _Partition:
    """Union-find over claim ids."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {claim_id: claim_id for claim_id in ids}

    def find(self, claim_id: int) -> int:
        root = claim_id
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[claim_id] != root:
            self.parent[claim_id], claim_id = root, self.parent[claim_id]
        return root

    def union(self, first: int, second: int) -> None:
        first, second = self.find(first), self.find(second)
        if first != second:
            self.parent[max(first, second)] = min(first, second)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = {}
        for claim_id in sorted(self.parent):
            found.setdefault(self.find(claim_id), []).append(claim_id)
        return list(found.values())


def _elements_agree(first: frozenset[str], second: frozenset[str]) -> bool:
    """Element lists agree when they overlap or one of them names none."""
    return not first or not second or bool(first & second)


def _targets_agree(first: str | None, second: str | None) -> bool:
    return first is None or second is None or first == second


@dataclass(frozen=True)
class _Anchor:
    """An event founded by dated claims, as undated claims see it."""

    ids: tuple[int, ...]
    elements: frozenset[str]
    targets: frozenset[str]
    first_on: date

    def accepts(self, claim: Claim) -> bool:
        """An undated claim may recall this event if it agrees and its article is not too early."""
        if not _elements_agree(self.elements, claim.elements):
            return False
        if claim.target is not None and self.targets and claim.target not in self.targets:
            return False
        return claim.published is None or self.first_on <= claim.published + timedelta(
            days=RECALL_GRACE_DAYS
        )

    def rank(self, claim: Claim) -> tuple[int, int, tuple[str, ...], tuple[str, ...]]:
        """Most shared elements first, then the latest event, then by content."""
        return (
            -len(self.elements & claim.elements),
            -self.first_on.toordinal(),
            tuple(sorted(self.elements)),
            tuple(sorted(self.targets)),
        )


def group_claims(
    claims: Sequence[Claim], together: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, ...]]:
    """Split claims of one actor, action and measure into events; the same claims in any order give the same events.

    Pairs in `together` (an analyst said so) end in one event whatever the rules below say.

    Dated claims that agree on elements and target within a month of each other are one event
    (and so are chains of them). An undated claim joins the agreeing dated event it shares most
    elements with, the latest one first; undated claims that fit none group among themselves,
    when their articles appeared within a month of each other.
    """
    claims = sorted(claims, key=lambda claim: claim.id)
    partition = _Partition(claim.id for claim in claims)
    dated = [(claim.on, claim) for claim in claims if claim.on is not None]
    _link_recent(partition, dated, elementless_agrees=True)
    by_id = {claim.id: claim for claim in claims}
    anchors = [
        _Anchor(
            ids=tuple(ids),
            elements=frozenset().union(*(by_id[i].elements for i in ids)),
            targets=frozenset(target for i in ids if (target := by_id[i].target)),
            first_on=min(on for i in ids if (on := by_id[i].on) is not None),
        )
        for ids in partition.groups()
        if by_id[ids[0]].on is not None
    ]
    orphans: list[Claim] = []
    chosen: dict[tuple[frozenset[str], str | None, date | None], _Anchor | None] = {}
    for claim in claims:
        if claim.on is not None:
            continue
        key = (claim.elements, claim.target, claim.published)  # many claims read alike
        if key not in chosen:
            fitting = [anchor for anchor in anchors if anchor.accepts(claim)]
            chosen[key] = min(fitting, key=lambda anchor: anchor.rank(claim), default=None)
        anchor = chosen[key]
        if anchor is not None:
            partition.union(claim.id, anchor.ids[0])
        else:
            orphans.append(claim)
    # Undated claims that fit no dated event: one event when they name an element in common (or
    # both none) and their articles appeared within a month of each other. Claims whose article
    # has no day group only among themselves.
    _link_recent(partition, [(c.published, c) for c in orphans if c.published], False)
    _link_recent(partition, [(date.min, c) for c in orphans if not c.published], False)
    for first, second in together:
        if first in by_id and second in by_id:
            partition.union(first, second)
    return sorted(tuple(ids) for ids in partition.groups())


def _link_recent(
    partition: _Partition, claims: Sequence[tuple[date, Claim]], elementless_agrees: bool
) -> None:
    """Join claims that agree and lie within SAME_EVENT_DAYS of each other, chains included.

    Claims agree when they name an element in common (or, with `elementless_agrees`, when one
    names none; without it, when both name none) and their targets agree. Each claim is joined
    only to the latest earlier claim of every element and target it agrees with: that one is
    already joined to the earlier ones in reach, so the groups are those of comparing all pairs.
    """
    # The latest claim of each element ("" for none) and target.
    latest: dict[str, dict[str | None, tuple[date, int]]] = defaultdict(dict)
    window = timedelta(days=SAME_EVENT_DAYS)
    for day, claim in sorted(claims, key=lambda pair: (pair[0], pair[1].id)):
        own = sorted(claim.elements) or [""]
        if not elementless_agrees:
            reach: Iterable[str] = own
        elif claim.elements:
            reach = [*own, ""]
        else:
            reach = list(latest)
        for element in reach:
            for target, (other_day, other) in latest[element].items():
                if day - other_day <= window and _targets_agree(claim.target, target):
                    partition.union(claim.id, other)
        for element in own:
            latest[element][claim.target] = (day, claim.id)


def link_changes(events: Sequence[EventFacts]) -> dict[int, int | None]:
    """For events of one actor and measure, the imposition each change applies to (None for a founding event).

    A suspension, extension, lifting, easing or confirmation changes the agreeing imposition or
    widening dated as its reports recall ("the controls announced on Oct. 9"), else the one it
    shares most elements with, the latest first; a change with no such imposition stands alone.
    A change that counts companies and names no element does not change a measure on elements.
    """
    impositions = [event for event in events if event.action in IN_FORCE_FOUNDING]
    links: dict[int, int | None] = {}
    for event in events:
        if event.action in FOUNDING:
            links[event.id] = None
            continue
        fitting = [
            imposition
            for imposition in impositions
            if imposition.on <= event.on
            and _elements_agree(imposition.elements, event.elements)
            and not (event.counted and not event.elements and imposition.elements)
            and (not imposition.targets or not event.targets or imposition.targets & event.targets)
        ]
        best = min(
            fitting,
            key=lambda imposition: (
                not _recalled(imposition, event),
                -len(imposition.elements & event.elements),
                -imposition.on.toordinal(),
                tuple(sorted(imposition.elements)),
                imposition.id,
            ),
            default=None,
        )
        links[event.id] = best.id if best else None
    return links


def _recalled(imposition: EventFacts, change: EventFacts) -> bool:
    """Whether a change's reports date the measure it changes on the imposition's day (give or take a few)."""
    return change.recalls is not None and abs((imposition.on - change.recalls).days) <= 3


def timeline(measure: EventFacts, changes: Sequence[EventFacts]) -> list[Period]:
    """The states a measure goes through, from its founding event and the events that change it.

    Each affirmed event sets a state from its date to the next event's. A suspension (or an
    extension of one) that expires gives the measure back in force; a measure in force that
    expires ends as `expired`. Events that mostly deny or only suppose an action change nothing.
    An expiry date is the last day the state holds ("until November 27" includes November 27),
    and a period's `ends_on` is the day the next state begins, so it ends the day after.
    """
    steps = sorted(
        (event for event in (measure, *changes) if event.affirmed),
        key=lambda event: (event.on, ORDER_OF_ACTION[event.action], event.id),
    )
    periods: list[Period] = []
    state: str | None = None
    for index, event in enumerate(steps):
        following = steps[index + 1].on if index + 1 < len(steps) else None
        extends_suspension = event.action == "extend" and state == "suspended"
        state = "suspended" if extends_suspension else STATE_OF_ACTION[event.action]
        ends = following
        after: str | None = None
        expires = event.expires_on + timedelta(days=1) if event.expires_on else None
        if (
            expires
            and expires > event.on
            and state in ("suspended", "in_force")
            and (following is None or expires < following)
        ):
            ends = expires
            after = "in_force" if state == "suspended" else "expired"
        periods.append(Period(measure.id, event.id, state, event.on, ends))
        if after is not None and ends is not None:
            periods.append(Period(measure.id, event.id, after, ends, following))
            state = after
    return [
        period for period in periods if period.ends_on is None or period.ends_on > period.starts_on
    ]


def stretch_starts(periods: Sequence[Any]) -> list[int]:
    """For each of one measure's periods (in order, with `state`, `starts_on`, `ends_on`), the index
    of the first period of the unbroken stretch in that state it belongs to: a measure kept or
    prolonged in force has been in force since the stretch began."""
    starts: list[int] = []
    for index, period in enumerate(periods):
        previous = periods[index - 1] if index else None
        continues = (
            previous is not None
            and previous.state == period.state
            and previous.ends_on == period.starts_on
        )
        starts.append(starts[-1] if continues else index)
    return starts


def best_supported(values: Iterable[Value | None]) -> Value | None:
    """The value most claims give; ties go to the smallest."""
    counts = Counter(value for value in values if value is not None)
    if not counts:
        return None
    return min(counts, key=lambda value: (-counts[value], value))


def disputed(values: Iterable[object | None]) -> bool:
    """Whether claims give more than one value (unknowns aside)."""
    return len({value for value in values if value is not None}) > 1
