"""What `newstrack cron tick` costs when nothing is due, next to an empty Python program.

Usage: python bench/tick.py [--runs 10] [--db URL]
The system crontab starts a tick every minute, so its cost when nothing is due is paid 1,440 times
a day. In a scratch folder, with a cron.yaml whose one job is not due and a database already
migrated (the first tick does that and is not counted), it runs the tick --runs times and prints
the median and worst wall time and peak memory, next to `python -c pass`, to importing SQLAlchemy's
ORM (what any program on the database loads) and to importing spaCy (what a tick used to load).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NOT_DUE = (
    "version: 1\njobs:\n  - {name: yearly, schedule: '0 0 1 1 *', command: newstrack extract}\n"
)


def measure(command: list[str], folder: Path) -> tuple[float, float]:
    """Seconds and peak memory (MB) of one run of a command, through bench/measured.py."""
    peak = folder / "peak.txt"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "measured.py"), str(peak), *command],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, float(peak.read_text(encoding="utf-8"))


def line(name: str, samples: list[tuple[float, float]]) -> str:
    """Median and worst of the samples of one command."""
    seconds = [s for s, _ in samples]
    memory = [m for _, m in samples]
    return (
        f"{name:<34} {statistics.median(seconds):6.2f} s median, {max(seconds):5.2f} s worst, "
        f"{statistics.median(memory):6.1f} MB peak"
    )


def main() -> int:
    """Time the tick and the baselines and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", help="database URL (default: a SQLite file in the scratch folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "cron.yaml").write_text(NOT_DUE, encoding="utf-8")
        database = args.db or f"sqlite:///{folder / 'tick.db'}"
        newstrack = Path(sys.executable).with_name("newstrack")
        tick = [str(newstrack), "-q", "--db", database, "cron", "tick", "--file", "cron.yaml"]
        measure(tick, folder)  # creates and migrates the database: once, not every minute
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import sqlalchemy.orm'": [sys.executable, "-c", "import sqlalchemy.orm"],
            "newstrack cron tick": tick,
            "python -c 'import spacy'": [sys.executable, "-c", "import spacy"],
        }
        print(f"{args.runs} runs each, nothing due, {database.split(':')[0]} database")
        for name, command in commands.items():
            print(line(name, [measure(command, folder) for _ in range(args.runs)]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
