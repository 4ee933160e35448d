"""The plain sequential news script a user would write, run by bench/plain.py as a command of its own.

Usage: python bench/plain_script.py --database FILE --model NAME FEED_URL...
feedparser over each feed, an httpx GET of each page, trafilatura.extract, the spaCy pipeline on
every text, and an SQLAlchemy insert per page. Imports only what such a script imports, so its
wall time, interpreter start-up and imports included, is comparable with a newstrack command's.
Prints one JSON line: pages fetched, texts stored, and the seconds of each part.
"""

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the imports are part of what is timed
import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import feedparser  # noqa: E402
import httpx  # noqa: E402
import spacy  # noqa: E402
import trafilatura  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)

IMPORTED = time.perf_counter()


class Stopwatch:
    """Seconds spent in each named part, in the order the parts first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        """Add the block's wall time to `part`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[part] = self.seconds.get(part, 0.0) + elapsed


def plain_script(feeds: list[str], database: str, model: str, watch: Stopwatch) -> tuple[int, int]:
    """Read every feed and page, one after another; return pages fetched and texts stored."""
    with watch("loading spaCy"):
        nlp = spacy.load(model)
    engine = create_engine(f"sqlite:///{database}")
    metadata = MetaData()
    articles = Table(
        "articles",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("url", String, unique=True),
        Column("title", String),
        Column("text", Text),
        Column("sentences", Integer),
        Column("entities", Integer),
    )
    with watch("storing"):
        metadata.create_all(engine)
    fetched = stored = 0
    with httpx.Client(timeout=30.0) as client:
        for feed_url in feeds:
            with watch("fetching"):
                feed = feedparser.parse(client.get(feed_url).content)
            for entry in feed.entries:
                with watch("fetching"):
                    response = client.get(entry.link)
                fetched += 1
                with watch("trafilatura"):
                    text = trafilatura.extract(response.text, url=entry.link)
                if not text:
                    continue
                with watch("spaCy"):
                    doc = nlp(text)
                    sentences, entities = len(list(doc.sents)), len(doc.ents)
                with watch("storing"), engine.begin() as connection:
                    connection.execute(
                        insert(articles).values(
                            url=entry.link,
                            title=entry.get("title", ""),
                            text=text,
                            sentences=sentences,
                            entities=entities,
                        )
                    )
                stored += 1
    engine.dispose()
    return fetched, stored


def main() -> int:
    """Run the script over the feeds given and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a new SQLite file")
    parser.add_argument("--model", required=True, help="the spaCy pipeline to load")
    parser.add_argument("feeds", nargs="+", help="feed URLs")
    args = parser.parse_args()
    watch = Stopwatch()
    watch.seconds["imports"] = IMPORTED - STARTED
    fetched, stored = plain_script(args.feeds, args.database, args.model, watch)
    print(json.dumps({"fetched": fetched, "stored": stored, "seconds": watch.seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
