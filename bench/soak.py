"""A soak of the fetchers: 2,000 loopback sources, one in three misbehaving, several cycles.

Usage: python bench/soak.py [--sources 2000] [--cycles 6]
Runs tests/soak.py's cycles in this process against a scratch SQLite file and prints, per cycle,
articles stored (and expected: every good one once), sources failed, open files, threads and
resident memory, then the growth of each over the second half of the cycles (the first ones warm the allocator up).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soak import Cycle, soak


def show(cycle: Cycle) -> None:
    """One line per cycle."""
    print(
        f"cycle {cycle.number}: {cycle.stored:,} stored ({cycle.expected:,} expected, "
        f"{cycle.distinct_urls:,} distinct), {cycle.failed_sources} sources failed, "
        f"{cycle.open_files} open files, {cycle.threads} threads, {cycle.rss_mb:.0f} MB resident",
        flush=True,
    )


def main() -> int:
    """Run the soak and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=6)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        cycles = soak(args.sources, args.cycles, Path(folder), report=show)
    second, last = cycles[len(cycles) // 2], cycles[-1]  # after the allocator's warm-up
    print(f"{time.perf_counter() - started:.0f} s in all")
    print(
        f"from cycle {second.number} to {last.number}: open files {last.open_files - second.open_files:+d}, "
        f"threads {last.threads - second.threads:+d}, resident memory {last.rss_mb - second.rss_mb:+.0f} MB "
        f"while the store grew by {last.stored - second.stored:,} articles"
    )
    complete = all(c.stored == c.distinct_urls == c.expected for c in cycles)
    print(
        "every good article stored once in every cycle" if complete else "ARTICLES MISSING OR TWICE"
    )
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
