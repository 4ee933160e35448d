"""A plain sequential news script against `newstrack run`, on the same saved pages served over loopback.

Usage: python bench/plain.py [--pages DIR | --aeb PATH] [--hosts 10] [--limit N] [--repeat N]
                             [--plain-only]
The script (bench/plain_script.py) is what a user would write: feedparser over each host's feed, an
httpx GET of each page, trafilatura.extract, spaCy (the English pipeline newstrack uses) on every
text, and an SQLAlchemy insert per page into a scratch SQLite file. It runs as a command of its own,
so its wall time counts start-up and imports as newstrack's do; the time of each part is printed.
Then `newstrack run` reads the same feeds into a new SQLite file (per-host interval 0, robots.txt
not asked, loopback allowed), and, into another new file, `newstrack fetch` and `newstrack extract`
one after the other, so each stage has its own wall time (each command's start-up included).
Prints those times and script time / `newstrack run` time. With --repeat N, the script and the run
take turns N times (each run into a new file) and the ratio is that of their medians, since one
pass on a shared machine can be off by a tenth either way. See bench/news_hosts.py for the pages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import spacy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.news_hosts import Hosts, page_arguments, serve_hosts
from pipeline.extraction.nlp import PIPELINE_NAMES

ROOT = Path(__file__).resolve().parent.parent
EXIT_PARTIAL = 3  # what newstrack exits with when some source or article failed


def installed_pipeline() -> str:
    """The first installed English spaCy pipeline of those newstrack reads with."""
    for name in PIPELINE_NAMES:
        if spacy.util.is_package(name):
            return name
    sys.exit(f"no spaCy pipeline installed of {', '.join(PIPELINE_NAMES)}")


def plain_script(hosts: Hosts, database: Path) -> tuple[float, dict[str, Any]]:
    """Run bench/plain_script.py over the hosts' feeds; return its wall time and its figures."""
    command = [
        sys.executable,
        str(ROOT / "bench" / "plain_script.py"),
        "--database",
        str(database),
        "--model",
        installed_pipeline(),
        *hosts.feeds,
    ]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"the plain script failed ({finished.returncode}): {finished.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(finished.stdout)
    return elapsed, report


def newstrack(command: str, environment: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Run one newstrack command; return its wall time and its JSON summary."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", command, "-q", "--json"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if finished.returncode not in (0, EXIT_PARTIAL):  # some pages failed: still measured
        sys.exit(f"newstrack {command} failed ({finished.returncode}): {finished.stderr[-2000:]}")
    try:
        summary: dict[str, Any] = json.loads(finished.stdout)
    except json.JSONDecodeError:
        sys.exit(f"newstrack {command}: no JSON summary: {finished.stdout[-500:]}")
    errors = [error for source in summary.get("sources", []) for error in source["errors"]]
    if errors:
        print(f"newstrack {command}: {len(errors)} page error(s), the first: {errors[0][:160]}")
    return elapsed, summary


def newstrack_environment(hosts: Hosts, folder: Path, database: str) -> dict[str, str]:
    """The environment of newstrack commands on the hosts' feeds, into a new SQLite file."""
    sources = folder / "sources.yaml"
    listed = "".join(
        f"  - name: host{index:02d}\n    kind: rss\n    max_articles: 10000\n"
        f"    obey_robots: false\n    urls: [{feed}]\n"
        for index, feed in enumerate(hosts.feeds, 1)
    )
    sources.write_text(f"version: 1\nsources:\n{listed}", encoding="utf-8")
    return {
        **os.environ,
        "NEWSTRACK_DB": f"sqlite:///{folder / database}",
        "NEWSTRACK_SOURCES": str(sources),
        "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSTRACK_PER_HOST_INTERVAL": "0",
        "NEWSTRACK_OBEY_ROBOTS": "false",
    }


def main() -> int:
    """Serve the pages, time the plain script, then newstrack, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_arguments(parser)
    parser.add_argument("--repeat", type=int, default=1, help="script and run pairs (default 1)")
    parser.add_argument("--plain-only", action="store_true", help="do not run newstrack")
    args = parser.parse_args()
    with serve_hosts(args) as hosts, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print(f"pages: {len(hosts.pages)} on {len(hosts.feeds)} hosts ({hosts.feeds[0]} ...)")
        scripts: list[float] = []
        runs: list[float] = []
        for turn in range(max(args.repeat, 1)):
            script, report = plain_script(hosts, folder / f"plain{turn}.db")
            scripts.append(script)
            if turn == 0:
                print_script(script, report)
            if args.plain_only:
                continue
            environment = newstrack_environment(hosts, folder, f"run{turn}.db")
            run, summary = newstrack("run", environment)
            runs.append(run)
            print(
                f"newstrack run: {run:.2f} s, {summary['articles_stored']} articles stored,"
                f" {summary['articles_extracted']} extracted (script this turn: {script:.2f} s)"
            )
        if args.plain_only:
            return 0
        environment = newstrack_environment(hosts, folder, "stages.db")
        fetch, fetched_summary = newstrack("fetch", environment)
        extract, extracted_summary = newstrack("extract", environment)
        print(
            f"newstrack fetch: {fetch:.2f} s, {fetched_summary['articles_stored']} articles stored"
        )
        print(f"newstrack extract: {extract:.2f} s, {extracted_summary['articles']} articles read")
        print(f"fetch + extract: {fetch + extract:.2f} s (separate commands, each started anew)")
        script, run = statistics.median(scripts), statistics.median(runs)
        if len(runs) > 1:
            print(f"medians of {len(runs)}: script {script:.2f} s, newstrack run {run:.2f} s")
        print(f"ratio script / newstrack run: {script / run:.2f} (goal: 3 or more)")
    return 0


def print_script(script: float, report: dict[str, Any]) -> None:
    """The plain script's wall time and the time of each of its parts."""
    fetched, seconds = report["fetched"], report["seconds"]
    print(f"plain script: {script:.2f} s, {fetched} pages fetched, {report['stored']} texts stored")
    print(f"  {'part':<14} {'seconds':>8} {'share':>6} {'ms/page':>8}")
    seconds["rest"] = script - sum(seconds.values())  # interpreter start-up, loops, output
    for part, spent in seconds.items():
        print(
            f"  {part:<14} {spent:8.2f} {spent / script:6.1%} {1000 * spent / max(fetched, 1):8.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
