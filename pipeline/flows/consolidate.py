"""Consolidation as a flow: the queued groupings run, or every stored event regrouped again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from storage import reconsolidation
from storage.consolidation import consolidate_queued
from storage.queries import measure_count, totals
from storage.sessions import unit_of_work


@dataclass(frozen=True)
class ConsolidationSummary:
    """What consolidating the stored events again changed."""

    families: int
    changed: int
    events: int
    measures: int


def consolidate_all(
    session_factory: sessionmaker[Session], dry_run: bool = False
) -> ConsolidationSummary:
    """Regroup every stored mention into events and rebuild every timeline, one family at a time."""
    with unit_of_work(session_factory) as session:
        families = reconsolidation.families(session)
    changed = 0
    for family in families:
        with unit_of_work(session_factory, dry_run) as session:
            changed += reconsolidation.consolidate_family(session, family)
    with unit_of_work(session_factory) as session:
        counts = totals(session)
        measures = measure_count(session)
    return ConsolidationSummary(len(families), changed, counts.events, measures)


def run_queued_consolidation(session_factory: sessionmaker[Session]) -> set[int]:
    """Group the mentions stored since the last grouping into events, in one transaction."""
    with unit_of_work(session_factory) as session:
        return consolidate_queued(session)
