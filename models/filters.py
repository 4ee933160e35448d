"""Which events a reader wants: the filters of a watchlist or a query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """Which events a watchlist wants; an empty list means any."""

    elements: frozenset[str] = frozenset()  # canonical names, groups expanded
    measures: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    modality: frozenset[str] = frozenset()
    min_sources: int = 1
