"""Consolidation as pure functions: which claims are one event, and a measure's timeline."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.grouping import (
    STATE_OF_ACTION,
    Claim,
    EventFacts,
    Period,
    best_supported,
    disputed,
    group_claims,
    link_changes,
    timeline,
)
from models.vocabulary import STATES

APRIL_4 = date(2025, 4, 4)


def _claim(
    claim_id: int,
    elements: str = "",
    target: str | None = None,
    on: date | None = None,
    published: date | None = None,
) -> Claim:
    return Claim(claim_id, frozenset(elements.split()), target, on, published)


def test_reports_of_one_action_are_one_event_and_a_later_action_another() -> None:
    """Dated claims within a month that agree are one event; months apart they are two."""
    claims = [
        _claim(1, "dysprosium terbium", "US", APRIL_4),
        _claim(2, "dysprosium", None, APRIL_4 + timedelta(days=1)),
        _claim(3, "terbium samarium", "US", APRIL_4),
        _claim(4, "dysprosium holmium", None, date(2025, 10, 9)),
    ]
    assert group_claims(claims) == [(1, 2, 3), (4,)]


def test_undated_recall_joins_the_latest_agreeing_event_before_its_article() -> None:
    """ "China's controls on dysprosium", written in December, recalls October's event, not April's."""
    claims = [
        _claim(1, "dysprosium terbium", None, APRIL_4),
        _claim(2, "dysprosium holmium", None, date(2025, 10, 9)),
        _claim(3, "dysprosium", None, None, published=date(2025, 12, 1)),
        _claim(4, "dysprosium", None, None, published=date(2025, 5, 1)),
        _claim(5, "terbium", None, None, published=date(2025, 12, 1)),
    ]
    assert group_claims(claims) == [(1, 4, 5), (2, 3)]


def test_undated_claims_do_not_bridge_two_dated_events() -> None:
    """A claim with no date naming elements of both events joins one, and they stay two."""
    claims = [
        _claim(1, "gallium", None, date(2023, 7, 3)),
        _claim(2, "gallium germanium", None, date(2024, 12, 3)),
        _claim(3, "gallium germanium", None, None, published=date(2025, 1, 5)),
    ]
    assert group_claims(claims) == [(1,), (2, 3)]


def test_claims_aimed_at_different_targets_are_different_events() -> None:
    """The same measure on the same day aimed at the US and at Japan is two events."""
    claims = [
        _claim(1, "gallium", "US", APRIL_4),
        _claim(2, "gallium", "JP", APRIL_4),
        _claim(3, "gallium", "JP", None, published=date(2025, 5, 1)),
    ]
    assert group_claims(claims) == [(1,), (2, 3)]


def test_undated_claims_with_no_event_group_among_themselves() -> None:
    """With no dated event to recall, undated claims sharing an element are one event."""
    claims = [
        _claim(1, "antimony"),
        _claim(2, "antimony gallium"),
        _claim(3, "tungsten"),
        _claim(4, ""),
        _claim(5, ""),
    ]
    assert group_claims(claims) == [(1, 2), (3,), (4, 5)]


def test_undated_claims_from_months_apart_are_different_events() -> None:
    """Two undated reports of an entity listing, in February and in April, are two listings."""
    claims = [
        _claim(1, "", "US", None, published=date(2025, 2, 4)),
        _claim(2, "", None, None, published=date(2025, 2, 20)),
        _claim(3, "", "US", None, published=date(2025, 4, 4)),
        _claim(4, "", None, None, published=date(2025, 4, 5)),
    ]
    assert group_claims(claims) == [(1, 2), (3, 4)]


def test_a_claim_cannot_recall_an_event_long_after_its_article() -> None:
    """An article from January does not report an action taken in October."""
    claims = [
        _claim(1, "graphite", None, date(2025, 10, 9)),
        _claim(2, "graphite", None, None, published=date(2025, 1, 10)),
    ]
    assert group_claims(claims) == [(1,), (2,)]


ELEMENTS = ("dysprosium", "terbium", "gallium", "germanium")
claims_strategy = st.lists(
    st.tuples(
        st.frozensets(st.sampled_from(ELEMENTS), max_size=3),
        st.sampled_from((None, "US", "JP")),
        st.one_of(st.none(), st.integers(0, 400)),
        st.one_of(st.none(), st.integers(0, 400)),
    ),
    max_size=25,
)


def _day(offset: int | None) -> date | None:
    return None if offset is None else APRIL_4 + timedelta(days=offset)


@settings(max_examples=300, deadline=None)
@given(claims_strategy, st.randoms(use_true_random=False))
def test_the_same_claims_in_any_order_give_the_same_events(
    contents: list[tuple[frozenset[str], str | None, int | None, int | None]],
    shuffler: random.Random,
) -> None:
    """Ids are arrival order: renumbering the claims must not change which of them are one event."""

    def events(order: list[int]) -> list[list[str]]:
        claims = [
            Claim(
                claim_id,
                contents[index][0],
                contents[index][1],
                _day(contents[index][2]),
                _day(contents[index][3]),
            )
            for claim_id, index in enumerate(order)
        ]
        content = {
            claim.id: repr((sorted(claim.elements), claim.target, claim.on, claim.published))
            for claim in claims
        }
        return sorted(sorted(content[i] for i in group) for group in group_claims(claims))

    order = list(range(len(contents)))
    shuffled = order[:]
    shuffler.shuffle(shuffled)
    assert events(order) == events(shuffled)


def _pairwise(claims: list[Claim]) -> list[tuple[int, ...]]:
    """The grouping rules applied the slow way, comparing every pair of claims."""
    dated = [claim for claim in claims if claim.on]
    groups = {claim.id: {claim.id} for claim in claims}

    def join(first: int, second: int) -> None:
        merged = groups[first] | groups[second]
        for claim_id in merged:
            groups[claim_id] = merged

    def near(first: date | None, second: date | None) -> bool:
        if first is None or second is None:
            return first is second
        return abs((first - second).days) <= 31

    def targets(first: Claim, second: Claim) -> bool:
        return None in (first.target, second.target) or first.target == second.target

    for first in dated:
        for second in dated:
            elements = not first.elements or not second.elements or first.elements & second.elements
            if near(first.on, second.on) and elements and targets(first, second):
                join(first.id, second.id)
    by_id = {claim.id: claim for claim in claims}
    anchors = {frozenset(groups[claim.id]) for claim in dated}
    orphans = []
    for claim in claims:
        if claim.on:
            continue
        fitting = []
        for anchor in anchors:
            members = [by_id[i] for i in anchor]
            names = frozenset().union(*(m.elements for m in members))
            aimed = {m.target for m in members if m.target}
            first_on = min(m.on for m in members if m.on)
            if names and claim.elements and not names & claim.elements:
                continue
            if claim.target and aimed and claim.target not in aimed:
                continue
            if claim.published and first_on > claim.published + timedelta(days=31):
                continue
            rank = (
                -len(names & claim.elements),
                -first_on.toordinal(),
                sorted(names),
                sorted(aimed),
            )
            fitting.append((rank, min(anchor)))
        if fitting:
            join(claim.id, min(fitting)[1])
        else:
            orphans.append(claim)
    for first in orphans:
        for second in orphans:
            shared = first.elements & second.elements or not (first.elements or second.elements)
            if near(first.published, second.published) and shared and targets(first, second):
                join(first.id, second.id)
    return sorted({tuple(sorted(group)) for group in groups.values()})


@settings(max_examples=300, deadline=None)
@given(claims_strategy)
def test_grouping_equals_comparing_every_pair(
    contents: list[tuple[frozenset[str], str | None, int | None, int | None]],
) -> None:
    """Joining each claim to the latest agreeing one finds the groups that every pair would."""
    claims = [
        Claim(claim_id, elements, target, _day(on), _day(published))
        for claim_id, (elements, target, on, published) in enumerate(contents)
    ]
    assert group_claims(claims) == _pairwise(claims)


def _facts(
    event_id: int,
    action: str,
    on: date,
    elements: str = "dysprosium terbium",
    expires_on: date | None = None,
    affirmed: bool = True,
) -> EventFacts:
    return EventFacts(
        event_id, action, frozenset(elements.split()), frozenset(), on, expires_on, affirmed
    )


def test_changes_link_to_the_latest_imposition_they_share_elements_with() -> None:
    """A suspension changes the imposition before it that names its elements."""
    events = [
        _facts(1, "impose", APRIL_4),
        _facts(2, "impose", date(2025, 10, 9), "holmium erbium"),
        _facts(3, "suspend", date(2025, 11, 10), "dysprosium"),
        _facts(4, "lift", date(2025, 11, 10), "tungsten"),
        _facts(5, "threaten", date(2025, 3, 1)),
        _facts(6, "maintain", date(2025, 11, 10), ""),
    ]
    assert link_changes(events) == {1: None, 2: None, 3: 1, 4: None, 5: None, 6: 2}


def test_a_change_links_to_the_measure_its_reports_date() -> None:
    """ "Suspends the controls announced on Oct. 9" changes October's widening, not April's rules."""
    suspension = EventFacts(
        3, "suspend", frozenset(), frozenset(), date(2025, 11, 7), None, True, date(2025, 10, 9)
    )
    events = [
        _facts(1, "impose", APRIL_4),
        _facts(2, "expand", date(2025, 10, 9), "holmium dysprosium"),
        suspension,
    ]
    assert link_changes(events) == {1: None, 2: None, 3: 2}
    undated = EventFacts(
        3, "suspend", frozenset({"terbium"}), frozenset(), date(2025, 11, 7), None, True
    )
    assert link_changes([*events[:2], undated]) == {1: None, 2: None, 3: 1}


def test_a_change_for_counted_companies_leaves_measures_on_elements_alone() -> None:
    """Suspending controls on "28 U.S. companies" does not suspend the controls on rare earths."""
    companies = EventFacts(
        2, "suspend", frozenset(), frozenset(), date(2025, 5, 14), None, True, APRIL_4, True
    )
    listing = EventFacts(3, "impose", frozenset(), frozenset(), APRIL_4, None, True, None, True)
    assert link_changes([_facts(1, "impose", APRIL_4), companies]) == {1: None, 2: None}
    assert link_changes([_facts(1, "impose", APRIL_4), companies, listing]) == {
        1: None,
        2: 3,
        3: None,
    }


def test_a_suspension_that_expires_gives_the_measure_back_in_force() -> None:
    """Imposed April 4, suspended November 10 for a year: in force again in November 2026."""
    measure = _facts(1, "impose", APRIL_4)
    suspension = _facts(2, "suspend", date(2025, 11, 10), expires_on=date(2026, 11, 10))
    assert timeline(measure, [suspension]) == [
        Period(1, 1, "in_force", APRIL_4, date(2025, 11, 10)),
        Period(1, 2, "suspended", date(2025, 11, 10), date(2026, 11, 11)),
        Period(1, 2, "in_force", date(2026, 11, 11), None),
    ]


def test_a_suspension_until_a_day_still_holds_on_that_day() -> None:
    """Suspended "until November 27, 2026": suspended on the 27th, in force again on the 28th."""
    measure = _facts(1, "impose", APRIL_4)
    suspension = _facts(2, "suspend", date(2025, 11, 27), expires_on=date(2026, 11, 27))
    periods = timeline(measure, [suspension])
    suspended = next(period for period in periods if period.state == "suspended")
    assert suspended.ends_on == date(2026, 11, 28)  # ends_on: the day the next state begins
    assert periods[-1] == Period(1, 2, "in_force", date(2026, 11, 28), None)


def test_a_lifting_the_day_after_a_suspension_expires_follows_it_directly() -> None:
    """Suspended until June 30, lifted July 1: no day back in force in between."""
    measure = _facts(1, "impose", APRIL_4)
    changes = [
        _facts(2, "suspend", date(2025, 5, 1), expires_on=date(2025, 6, 30)),
        _facts(3, "lift", date(2025, 7, 1)),
    ]
    assert [(p.state, p.starts_on, p.ends_on) for p in timeline(measure, changes)] == [
        ("in_force", APRIL_4, date(2025, 5, 1)),
        ("suspended", date(2025, 5, 1), date(2025, 7, 1)),
        ("lifted", date(2025, 7, 1), None),
    ]


def test_extending_a_suspension_keeps_it_suspended_and_lifting_ends_the_measure() -> None:
    """An extension during a suspension moves its end; a lifting is the last state."""
    measure = _facts(1, "impose", APRIL_4)
    changes = [
        _facts(2, "suspend", date(2025, 5, 14), expires_on=date(2025, 8, 12)),
        _facts(3, "extend", date(2025, 8, 11), expires_on=date(2025, 11, 10)),
        _facts(4, "lift", date(2026, 1, 1)),
    ]
    assert timeline(measure, changes) == [
        Period(1, 1, "in_force", APRIL_4, date(2025, 5, 14)),
        Period(1, 2, "suspended", date(2025, 5, 14), date(2025, 8, 11)),
        Period(1, 3, "suspended", date(2025, 8, 11), date(2025, 11, 11)),
        Period(1, 3, "in_force", date(2025, 11, 11), date(2026, 1, 1)),
        Period(1, 4, "lifted", date(2026, 1, 1), None),
    ]


def test_a_denied_change_changes_nothing_and_a_measure_in_force_can_expire() -> None:
    """A suspension every report denies leaves the measure in force until it expires."""
    measure = _facts(1, "impose", APRIL_4, expires_on=date(2025, 7, 3))
    denied = _facts(2, "suspend", date(2025, 5, 1), affirmed=False)
    assert timeline(measure, [denied]) == [
        Period(1, 1, "in_force", APRIL_4, date(2025, 7, 4)),
        Period(1, 1, "expired", date(2025, 7, 4), None),
    ]


def test_best_supported_value_and_disputes() -> None:
    """The value most claims give wins, ties go to the earliest; two values are a dispute."""
    assert best_supported([APRIL_4, None, date(2025, 4, 5), date(2025, 4, 5)]) == date(2025, 4, 5)
    assert best_supported([date(2025, 4, 5), APRIL_4]) == APRIL_4
    assert best_supported([None, None]) is None
    assert disputed([APRIL_4, None, APRIL_4]) is False
    assert disputed([APRIL_4, date(2025, 4, 5)]) is True


def test_the_measure_states_are_every_state_a_timeline_sets() -> None:
    """The vocabulary's closed set of states: those an action sets, and the end of a term."""
    assert set(STATES) == {*STATE_OF_ACTION.values(), "expired"}
