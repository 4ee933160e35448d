"""Canned-query times on a large database: 100,000 events and 1 million mentions.

Usage: python bench/queries.py [--db URL] [--events 100000] [--mentions-per-event 10]
Builds a synthetic database (SQLite file by default; PostgreSQL with --db) with the real schema,
then prints the time of each canned query run through `newstrack sql`'s read-only path, and of
`newstrack status` for every measure and for one element.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import Article, Event, EventElement, MeasurePeriod, Mention, Source
from models.vocabulary import load_vocabulary
from storage.canned import canned_queries
from storage.engine import make_engine
from storage.measures import measure_states
from storage.migrate import upgrade
from storage.readonly import run_readonly

ELEMENTS = ["dysprosium", "terbium", "gallium", "germanium", "antimony", "graphite", "tungsten"]
ACTIONS = ["impose", "expand", "maintain", "suspend", "lift", "threaten"]
MEASURES = ["export_ban", "export_control", "import_tariff", "entity_listing"]
ACTORS = ["CN", "US", "EU", "JP", "ID", "CD"]
CHUNK = 10_000


def build(url: str, events: int, per_event: int) -> None:
    """Fill a migrated database with synthetic sources, articles, events and mentions."""
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(4)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    articles = events * per_event // 3  # an article reports about three events

    def reported(n: int) -> dict[str, int]:
        """The first and latest article of event n's mentions (see the mentions below)."""
        return {
            "first_article_id": 1 + n * per_event // 3 % articles,
            "latest_article_id": 1 + (n * per_event + per_event - 1) // 3 % articles,
        }

    with engine.begin() as connection:
        connection.execute(
            insert(Source),
            [{"name": f"s{n}", "kind": "rss", "url": f"https://s{n}.example/"} for n in range(50)],
        )
        for first in range(0, articles, CHUNK):
            connection.execute(
                insert(Article),
                [
                    {
                        "url": f"https://news.example/{n}",
                        "source_id": 1 + n % 50,
                        "title": f"Article {n}",
                        "published_at": start + timedelta(minutes=n),
                        "text": "text",
                        "content_hash": f"{n:064x}",
                    }
                    for n in range(first, min(first + CHUNK, articles))
                ],
            )
        actions = [rng.choice(ACTIONS) for _ in range(events)]
        for first in range(0, events, CHUNK):
            rows = range(first, min(first + CHUNK, events))
            connection.execute(
                insert(Event),
                [
                    {
                        "event_key": f"{n:064x}",
                        "actor": rng.choice(ACTORS),
                        "action": (action := actions[n]),
                        "measure": rng.choice(MEASURES),
                        "status": "in_force"
                        if action in ("impose", "expand", "maintain")
                        else action,
                        "first_seen": start + timedelta(minutes=3 * n),
                        "last_seen": start + timedelta(minutes=3 * n + 600),
                        "article_count": per_event,
                        "source_count": min(per_event, 50),
                    }
                    for n in rows
                ],
            )
            measures = [n for n in rows if actions[n] == "impose"]
            if measures:  # each imposition in force from its day; every third suspended later
                connection.execute(
                    insert(MeasurePeriod),
                    [
                        {
                            "measure_id": n + 1,
                            "event_id": n + 1,
                            "state": "in_force",
                            "starts_on": (start + timedelta(minutes=3 * n)).date(),
                            "ends_on": (start + timedelta(minutes=3 * n, days=90)).date()
                            if n % 3 == 0
                            else None,
                            "source_count": min(per_event, 50),
                            "article_count": per_event,
                            **reported(n),
                        }
                        for n in measures
                    ]
                    + [
                        {
                            "measure_id": n + 1,
                            "event_id": n + 1,
                            "state": "suspended",
                            "starts_on": (start + timedelta(minutes=3 * n, days=90)).date(),
                            "ends_on": None,
                            "source_count": min(per_event, 50),
                            "article_count": per_event,
                            **reported(n),
                        }
                        for n in measures
                        if n % 3 == 0
                    ],
                )
            connection.execute(
                insert(EventElement),
                [
                    {
                        "event_id": n + 1,
                        "element": ELEMENTS[n % len(ELEMENTS)],
                        "element_group": "other",
                    }
                    for n in rows
                ],
            )
            connection.execute(
                insert(Mention),
                [
                    {
                        "event_id": n + 1,
                        "article_id": 1 + (n * per_event + k) // 3 % articles,
                        "sentence": "A sentence.",
                        "start_char": k,
                        "end_char": k + 11,
                        "reported_label": "export ban",
                        "modality": "asserted",
                        "confidence": 0.9,
                    }
                    for n in rows
                    for k in range(per_event)
                ],
            )

    if engine.dialect.name == "postgresql":  # planner statistics, as autovacuum would gather them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def main() -> int:
    """Build the database, then time each canned query."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a SQLite file in a scratch folder)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--mentions-per-event", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'queries.db'}"
        started = time.perf_counter()
        build(url, args.events, args.mentions_per_event)
        mentions = args.events * args.mentions_per_event
        print(
            f"built {args.events:,} events, {mentions:,} mentions in {time.perf_counter() - started:.1f} s"
        )
        # Half the events were first reported after this day, half the articles published after it.
        middle = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=3 * args.events // 2)
        given = {"since": middle.date().isoformat()}
        vocabulary = load_vocabulary()
        for query in canned_queries().values():
            names = {parameter.name for parameter in query.parameters}
            parameters = query.values({k: v for k, v in given.items() if k in names}, vocabulary)
            started = time.perf_counter()
            result = run_readonly(
                url, query.sql, parameters, max_rows=1000, time_limit=120, trusted=True
            )
            elapsed = time.perf_counter() - started
            print(
                f"{query.name:14} {elapsed * 1000:8.1f} ms  {len(result.rows):5d} rows (capped at 1,000)"
            )
        engine = make_engine(url)
        with Session(engine) as session:
            for elements in ((), ("dysprosium",)):
                started = time.perf_counter()
                states = measure_states(session, middle.date(), elements)
                elapsed = time.perf_counter() - started
                name = f"status {elements[0] if elements else '(all)'}"
                print(f"{name:14} {elapsed * 1000:8.1f} ms  {len(states):5d} measures")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
