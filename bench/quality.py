"""Extraction quality on the offline snapshot: runs the job into a scratch database and scores it.

Usage: python bench/quality.py [--snapshot snapshot] [--expected tests/fixtures/snapshot_expected.yaml]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.flows.evaluate import found_in_database, load_expected, score
from storage.engine import make_engine, make_session_factory
from storage.sessions import unit_of_work

ROOT = Path(__file__).resolve().parent.parent


def newstrack(arguments: list[str]) -> int:
    """Run the command line in a child process, as a user would; return its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *arguments], check=False
    ).returncode


def main() -> int:
    """Run the snapshot through `newstrack run` and print the quality figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=ROOT / "snapshot")
    parser.add_argument(
        "--expected", type=Path, default=ROOT / "tests/fixtures/snapshot_expected.yaml"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/quality.db"
        newstrack(["--db", url, "-q", "run", "--replay", str(args.snapshot)])
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            found = found_in_database(session)
        engine.dispose()
    for line in score(load_expected(args.expected), found).lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
