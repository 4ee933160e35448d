"""Extractor throughput on the snapshot's articles, as a ratio to the trained pipeline's own nlp.pipe.

Usage: python bench/throughput.py [--repeat N]
Prints words per second of plain `nlp.pipe` and of `Extractor.annotate` on the same texts, timed
alternately chunk by chunk (bench/paired.py), their ratio, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paired import CHUNK, paired_ratio
from sqlalchemy import select

from models import Article
from models.annotation import ArticleText
from pipeline.extraction import standard_extractor
from storage.engine import make_session_factory, open_engine
from storage.sessions import unit_of_work

ROOT = Path(__file__).resolve().parent.parent


def newstrack(arguments: list[str]) -> int:
    """Run the command line in a child process, as a user would; return its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *arguments], check=False
    ).returncode


def snapshot_texts() -> list[str]:
    """Fetch the snapshot into a scratch database (no extraction) and return the article texts."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        newstrack(["--db", url, "-q", "fetch", "--replay", "snapshot"])
        with open_engine(url) as engine, unit_of_work(make_session_factory(engine)) as session:
            return list(session.scalars(select(Article.text).order_by(Article.id)))


def main() -> int:
    """Time both on the same texts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="copies of the snapshot texts (default 5)"
    )
    args = parser.parse_args()
    texts = snapshot_texts() * args.repeat
    words = sum(len(text.split()) for text in texts)
    extractor = standard_extractor()
    measured = paired_ratio(extractor, texts)
    started = time.perf_counter()
    annotations = extractor.annotate([ArticleText(str(i), text) for i, text in enumerate(texts)])
    full = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    low, middle, high = measured.chunk_quartiles
    print(f"texts: {len(texts)}  words: {words}")
    print(f"nlp.pipe:  {measured.plain_words_per_second:,.0f} words/s")
    print(
        f"extractor: {measured.extractor_words_per_second:,.0f} words/s, "
        f"{len(texts) / full:.1f} articles/s"
    )
    print(
        f"ratio extractor/nlp.pipe words/s: {measured.ratio:.3f} "
        f"(per chunk of {CHUNK}: median {middle:.3f}, quartiles {low:.3f}-{high:.3f})"
    )
    print(f"events found: {sum(len(a.events) for a in annotations)}")
    print(f"peak memory: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
