"""The cost of consolidating one more article into a kind of event that already has many mentions.

Usage: python bench/consolidation.py [--db URL] [--sizes 1000,5000,20000]
For each size, fills a fresh database (SQLite file by default) with that many mentions of one kind
of event (CN impose export_control: reports of 60 actions over two years, 60% of them dated,
naming some of the action's elements, half naming its target), consolidates them, then times what storing one more article costs: grouping the claims
(pure Python) and the whole regroup with its reads and writes. It also prints the time of grouping
the same claims by comparing every pair, the cost the linking by recency avoids.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import Article, Event, Mention, MentionElement, Source
from models.grouping import Claim, group_claims
from storage.consolidation import Kind, claims_of, consolidate
from storage.engine import make_engine
from storage.migrate import upgrade

ELEMENTS = ["dysprosium", "terbium", "gallium", "germanium", "antimony", "graphite", "tungsten"]
TARGETS = [None, None, "US", "JP", "NL"]
KIND = Kind("CN", "impose", "export_control")
START = date(2024, 1, 1)


@dataclass(frozen=True)
class Action:
    """One real action the synthetic articles report."""

    on: date
    elements: list[str]
    target: str | None


_actions = random.Random(7)
ACTIONS = [
    Action(
        START + timedelta(days=_actions.randrange(730)),
        _actions.sample(ELEMENTS, _actions.randrange(1, 4)),
        _actions.choice(TARGETS),
    )
    for _ in range(60)
]  # about one a fortnight over two years, as one kind of event goes


def fill(url: str, size: int, rng: random.Random) -> None:
    """A database with `size` mentions of one kind, all held by one event, then consolidated."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(insert(Source), [{"name": "s", "kind": "rss", "url": "https://s/"}])
        connection.execute(
            insert(Article),
            [
                {
                    "url": f"https://news.example/{n}",
                    "source_id": 1,
                    "title": f"Article {n}",
                    "published_at": datetime(2024, 1, 1, tzinfo=UTC)
                    + timedelta(hours=n * 17520 // size),
                    "text": "text",
                    "content_hash": f"{n:064x}",
                }
                for n in range(size + 1)
            ],
        )
        connection.execute(
            insert(Event),
            [
                {
                    "event_key": "0" * 64,
                    "actor": "CN",
                    "action": "impose",
                    "measure": "export_control",
                    "status": "in_force",
                }
            ],
        )
        mentions, names = [], []
        for n in range(size):
            action = ACTIONS[rng.randrange(len(ACTIONS))]
            on = action.on + timedelta(days=rng.randrange(3)) if rng.random() < 0.6 else None
            names.append(rng.sample(action.elements, rng.randrange(len(action.elements) + 1)))
            mentions.append(
                {
                    "event_id": 1,
                    "article_id": n + 1,
                    "sentence": "A sentence.",
                    "start_char": 0,
                    "end_char": 11,
                    "reported_label": "export controls",
                    "modality": "asserted",
                    "confidence": 0.8,
                    "announced_on": on,
                    "target": action.target if rng.random() < 0.5 else None,
                }
            )
        connection.execute(insert(Mention), mentions)
        connection.execute(
            insert(MentionElement),
            [
                {"mention_id": n + 1, "element": element}
                for n in range(size)
                for element in names[n]
            ],
        )
    with Session(engine) as session, session.begin():
        consolidate(session, [KIND], touched=[1])
    engine.dispose()


def one_more(url: str) -> tuple[float, float, int]:
    """Store one more mention and consolidate: seconds for grouping alone, for all, and events."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        host = session.scalar(select(Event.id).order_by(Event.id).limit(1))
        assert host is not None
        mention = Mention(
            event_id=host,
            article_id=session.scalar(select(Article.id).order_by(Article.id.desc()).limit(1)),
            sentence="One more.",
            start_char=0,
            end_char=9,
            reported_label="export controls",
            modality="asserted",
            confidence=0.8,
            announced_on=date(2025, 4, 4),
        )
        session.add(mention)
        session.flush()
        session.add(MentionElement(mention_id=mention.id, element="dysprosium"))
        session.flush()
        claims, _ = claims_of(session, KIND)
        started = time.perf_counter()
        group_claims(claims)
        grouping = time.perf_counter() - started
        started = time.perf_counter()
        consolidate(session, [KIND], touched=[host])
        whole = time.perf_counter() - started
        events = len(session.scalars(select(Event.id)).all())
    engine.dispose()
    return grouping, whole, events


def pairwise_seconds(claims: list[Claim]) -> float:
    """Seconds to compare every pair of dated claims, as grouping did before linking by recency."""
    dated = [claim for claim in claims if claim.on]
    started = time.perf_counter()
    for first in dated:
        for second in dated:
            assert first.on is not None and second.on is not None
            _ = abs((first.on - second.on).days) <= 31 and (
                not first.elements or not second.elements or first.elements & second.elements
            )
    return time.perf_counter() - started


def main() -> int:
    """Print the cost of one more article per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file per size)")
    parser.add_argument("--sizes", default="1000,5000,20000")
    args = parser.parse_args()
    print(f"{'mentions':>9} {'events':>7} {'grouping':>10} {'one more':>10} {'pairwise':>10}")
    for size in (int(part) for part in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            url = args.db or f"sqlite:///{Path(folder) / 'consolidation.db'}"
            fill(url, size, random.Random(size))
            grouping, whole, events = one_more(url)
            engine = make_engine(url)
            with Session(engine) as session:
                claims, _ = claims_of(session, KIND)
            engine.dispose()
            pairwise = pairwise_seconds(claims) if size <= 5000 else float("nan")
            print(
                f"{size:>9,} {events:>7,} {grouping * 1000:>8.1f}ms {whole * 1000:>8.1f}ms "
                f"{pairwise * 1000:>8.1f}ms"
            )
            if args.db:
                engine = make_engine(url)
                with engine.begin() as connection:
                    for table in (
                        "mention_elements",
                        "measure_periods",
                        "mentions",
                        "events",
                        "articles",
                        "sources",
                    ):
                        connection.exec_driver_sql(f"DELETE FROM {table}")
                engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
