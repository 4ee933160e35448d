"""The performance report: end-to-end runs on 1,000 to 10,000 loopback articles, as Markdown and PNG.

Usage: python bench/report.py [--sizes 1000,2000,5000,10000] [--feeds 50] [--out docs/performance]
For each size it serves bench/corpus.py's articles on 127.0.0.1 and runs `newstrack run` into a
new SQLite file (fetch, extraction, consolidation), then runs it again unchanged, then times the
canned queries and `status`. Each run is a child process; its peak memory is the kernel's count.
It also times the extractor against the trained pipeline's own `nlp.pipe` on the same 1,000 texts.
It writes REPORT.md (tables, and whether each cost grows linearly or better) and one chart per
figure into --out, and prints the tables. Then it runs the benchmarks of bench/ one by one (fetch,
extractor, screening, quality, pages, consolidation, queries, workers on PostgreSQL, soak, and a
`cron tick` with nothing due), each as a child process, and adds what each printed, its time, peak
memory and exit code to REPORT.md; --skip-earlier leaves them out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus
from PIL import Image, ImageDraw, ImageFont

PROJECT = Path(__file__).resolve().parent.parent
LINEAR_SLACK = (
    1.25  # cost per article at the largest size over the smallest: at most this is linear
)


EARLIER = (
    ("Fetching: a cold run, then conditional GETs", ("fetch.py",)),
    ("The fetch stage per part, on 30 real news pages", ("fetch_stage.py", "--repeat", "3")),
    (
        "A plain script against `newstrack run`, on 30 real news pages",
        ("plain.py", "--repeat", "3"),
    ),
    ("Extractor throughput on the snapshot's articles", ("throughput.py",)),
    ("Screening on a realistic feed mix", ("screening.py",)),
    ("Extraction quality on the development set", ("devset.py",)),
    ("Extraction quality on the snapshot", ("quality.py",)),
    ("Page text without selectors", ("pages.py",)),
    ("One more article into a kind of event with many mentions", ("consolidation.py",)),
    ("Canned queries on 100,000 events and 1 million mentions", ("queries.py",)),
    ("The board's pages on 10,000 articles", ("board.py",)),
    ("One and two workers on PostgreSQL", ("workers.py",)),
    ("Soak: 2,000 sources, one in three misbehaving", ("soak.py",)),
    ("`cron tick` with nothing due, next to an empty Python program", ("tick.py",)),
)


def on_benchmark_pages(path: str | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The fetch-stage benchmarks again on the article-extraction benchmark's 181 pages, if given."""
    if path is None:
        return ()
    return (
        (
            "The fetch stage per part, on 181 general-news pages",
            ("fetch_stage.py", "--aeb", path, "--repeat", "3"),
        ),
        (
            "A plain script against `newstrack run`, on 181 general-news pages",
            ("plain.py", "--aeb", path, "--repeat", "3"),
        ),
    )


@dataclass(frozen=True)
class EarlierResult:
    """What one earlier benchmark printed, how long it took and how it ended."""

    title: str
    command: str
    seconds: float
    peak_mb: float
    exit_code: int
    output: str


def run_earlier(title: str, arguments: tuple[str, ...], folder: Path) -> EarlierResult:
    """Run one benchmark of bench/ as a child process and keep what it printed."""
    command = ["bench/" + arguments[0], *arguments[1:]]
    output, errors = folder / "stdout.txt", folder / "stderr.txt"
    with output.open("w", encoding="utf-8") as stdout, errors.open("w", encoding="utf-8") as stderr:
        seconds, peak_mb, code = measured(
            [sys.executable, *command], folder, stdout=stdout, stderr=stderr, timeout=3600
        )
    printed = output.read_text(encoding="utf-8")
    if code != 0:
        printed += errors.read_text(encoding="utf-8")[-3000:]
    return EarlierResult(
        title, "python " + " ".join(command), seconds, peak_mb, code, printed.rstrip()
    )


@dataclass
class SizeResult:
    """Figures of one corpus size."""

    articles: int
    stored: int = 0
    events: int = 0
    mentions: int = 0
    first_seconds: float = 0.0
    rerun_seconds: float = 0.0
    peak_mb: float = 0.0
    rerun_peak_mb: float = 0.0
    queries_ms: dict[str, float] = field(default_factory=dict)

    @property
    def articles_per_second(self) -> float:
        """End-to-end throughput of the first run."""
        return self.stored / self.first_seconds if self.first_seconds else 0.0

    @property
    def rerun_ratio(self) -> float:
        """The unchanged re-run's time over the first run's."""
        return self.rerun_seconds / self.first_seconds if self.first_seconds else 0.0


def measured(command: list[str], folder: Path, **options: Any) -> tuple[float, float, int]:
    """Run a command through bench/measured.py: seconds, its own peak memory in MB, exit code."""
    peak = folder / "peak.txt"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "measured.py"), str(peak), *command],
        cwd=PROJECT,
        check=False,
        **options,
    )
    elapsed = time.perf_counter() - started
    return elapsed, float(peak.read_text(encoding="utf-8")), done.returncode


def timed_newstrack(
    arguments: list[str], env: dict[str, str], folder: Path
) -> tuple[float, float, str]:
    """Run newstrack as a child: seconds, its peak resident memory in MB, and what it printed."""
    output = folder / "stdout.txt"
    with output.open("wb") as stdout:
        elapsed, peak_mb, code = measured(
            [sys.executable, "-m", "pipeline.cli", *arguments],
            folder,
            env={**os.environ, **env},
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    if code not in (0, 3):
        raise RuntimeError(f"newstrack {' '.join(arguments)}: exit {code}")
    return elapsed, peak_mb, output.read_text(encoding="utf-8")


def query_times(database_url: str) -> dict[str, float]:
    """Milliseconds of each canned query and of `status` for every measure and for one element."""
    from sqlalchemy.orm import Session

    from models.vocabulary import load_vocabulary
    from storage.canned import canned_queries
    from storage.engine import make_engine
    from storage.measures import measure_states
    from storage.readonly import run_readonly

    times: dict[str, float] = {}
    vocabulary = load_vocabulary()
    for query in canned_queries().values():
        parameters = query.values({}, vocabulary)  # each query's defaults
        started = time.perf_counter()
        run_readonly(
            database_url, query.sql, parameters, max_rows=1000, time_limit=120, trusted=True
        )
        times[query.name] = (time.perf_counter() - started) * 1000
    engine = make_engine(database_url)
    today = datetime.now(UTC).date()
    with Session(engine) as session:
        for label, elements in (("status", ()), ("status gallium", ("gallium",))):
            started = time.perf_counter()
            measure_states(session, today, elements)
            times[label] = (time.perf_counter() - started) * 1000
    engine.dispose()
    return times


def measure_size(articles: int, feeds: int, folder: Path) -> SizeResult:
    """A first run and an unchanged re-run on `articles` loopback articles, then query times."""
    result = SizeResult(articles)
    database_url = f"sqlite:///{folder / f'report-{articles}.db'}"
    with corpus.served(articles, feeds) as (_, sources):
        env = corpus.environment(database_url, sources, articles)
        result.first_seconds, result.peak_mb, printed = timed_newstrack(
            ["--json", "run"], env, folder
        )
        summary = json.loads(printed)
        result.stored = summary["articles_stored"]
        result.events = summary["totals"]["events"]
        result.mentions = summary["totals"]["mentions"]
        result.rerun_seconds, result.rerun_peak_mb, _ = timed_newstrack(
            ["--json", "run"], env, folder
        )
    result.queries_ms = query_times(database_url)
    return result


def extractor_ratio(texts: int = 1000) -> tuple[float, float, float]:
    """Words per second of `nlp.pipe` and of the extractor on the same texts, and their ratio."""
    from paired import paired_ratio

    from pipeline.extraction import standard_extractor

    measured = paired_ratio(standard_extractor(), [corpus.article(n)[2] for n in range(texts)])
    return measured.plain_words_per_second, measured.extractor_words_per_second, measured.ratio


def growth(results: list[SizeResult], cost: str) -> tuple[float, str]:
    """Cost per article at the largest size over the smallest, and what that says."""
    per = _cost_per_article(cost)
    ratio = per(results[-1]) / per(results[0])
    return ratio, "linear or better" if ratio <= LINEAR_SLACK else "grows faster than linear"


@dataclass(frozen=True)
class Cost:
    """One cost a run is measured by, and how to read it per article."""

    label: str
    per_article: Callable[[SizeResult], float]


RUN_COSTS = (
    Cost("first run", lambda r: r.first_seconds / r.articles),
    Cost("re-run", lambda r: r.rerun_seconds / r.articles),
    Cost("peak memory", lambda r: r.peak_mb / r.articles),
)


def _cost_per_article(cost: str) -> Callable[[SizeResult], float]:
    """A run's cost per article: one of RUN_COSTS by label, or "query: NAME"."""
    if cost.startswith("query: "):
        name = cost.removeprefix("query: ")
        return lambda r: r.queries_ms[name] / r.articles
    return next(known.per_article for known in RUN_COSTS if known.label == cost)


def line_chart(
    path: Path, title: str, y_label: str, series: dict[str, list[tuple[float, float]]]
) -> None:
    """A plain line chart with labelled axes, one colour per series."""
    width, height, left, right, top, bottom = 720, 420, 80, 20, 40, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    points = [point for values in series.values() for point in values]
    x_max = max(x for x, _ in points) or 1
    y_max = max(y for _, y in points) * 1.1 or 1

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            left + x / x_max * (width - left - right),
            height - bottom - y / y_max * (height - top - bottom),
        )

    draw.text((left, 12), title, fill="black", font=font)
    draw.line(
        [(left, top), (left, height - bottom), (width - right, height - bottom)], fill="black"
    )
    for step in range(6):
        y = y_max * step / 5
        _, pixel = at(0, y)
        draw.line([(left - 4, pixel), (width - right, pixel)], fill="#e5e5e5")
        draw.text((8, pixel - 6), f"{y:,.1f}", fill="black", font=font)
    for x, _ in next(iter(series.values())):
        pixel, _ = at(x, 0)
        draw.text((pixel - 14, height - bottom + 8), f"{x:,.0f}", fill="black", font=font)
    draw.text((width // 2 - 30, height - 22), "articles", fill="black", font=font)
    draw.text((8, top - 26), y_label, fill="black", font=font)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]
    for index, (name, values) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        draw.line([at(x, y) for x, y in values], fill=colour, width=2)
        for x, y in values:
            cx, cy = at(x, y)
            draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
        draw.text((width - right - 170, top + 14 * index), name, fill=colour, font=font)
    image.save(path)


def write_report(
    out: Path,
    results: list[SizeResult],
    ratio: tuple[float, float, float],
    earlier: list[EarlierResult],
) -> str:
    """REPORT.md and its charts; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = [r.articles for r in results]
    line_chart(out / "throughput.png", "End-to-end articles per second (first run)", "articles/s",
               {"first run": [(r.articles, r.articles_per_second) for r in results]})  # fmt: skip
    line_chart(out / "time.png", "Seconds per run", "s", {
        "first run": [(r.articles, r.first_seconds) for r in results],
        "unchanged re-run": [(r.articles, r.rerun_seconds) for r in results],
    })  # fmt: skip
    line_chart(out / "memory.png", "Peak resident memory of the run", "MB", {
        "first run": [(r.articles, r.peak_mb) for r in results],
        "unchanged re-run": [(r.articles, r.rerun_peak_mb) for r in results],
    })  # fmt: skip
    names = list(results[0].queries_ms)
    line_chart(out / "queries.png", "Query times", "ms",
               {name: [(r.articles, r.queries_ms[name]) for r in results] for name in names})  # fmt: skip
    plain, ours, share = ratio
    lines = [
        "# newstrack performance report",
        "",
        f"Made by `python bench/report.py --sizes {','.join(map(str, sizes))}` on "
        f"{datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores), SQLite, loopback articles from "
        "bench/corpus.py (real snapshot sentences, four in ten with a generated trade measure).",
        "",
        "## End to end: `newstrack run` (fetch, extract, consolidate)",
        "",
        "| articles | stored | events | mentions | first run | articles/s | unchanged re-run | "
        "re-run / first | peak memory | re-run peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.articles:,} | {r.stored:,} | {r.events:,} | {r.mentions:,} | {r.first_seconds:.1f} s "
        f"| {r.articles_per_second:.1f} | {r.rerun_seconds:.1f} s | {r.rerun_ratio:.3f} "
        f"| {r.peak_mb:.0f} MB | {r.rerun_peak_mb:.0f} MB |"
        for r in results
    ]
    lines += [
        "",
        "Peak memory is that of the run's largest process: on a first run its extraction process,"
        " which holds the trained pipeline. An unchanged re-run ends that process part way"
        " through loading the pipeline, so its figure is whichever of the two was larger then.",
        "",
        "![throughput](throughput.png) ![time](time.png) ![memory](memory.png)",
        "",
    ]
    lines += ["## Growth from the smallest to the largest size", ""]
    lines += ["| cost per article | largest / smallest | verdict |", "|---|---|---|"]
    for cost in (*(known.label for known in RUN_COSTS), *(f"query: {n}" for n in names)):
        value, verdict = growth(results, cost)
        lines.append(f"| {cost} | {value:.2f} | {verdict} |")
    lines += ["", f"Linear or better means at most {LINEAR_SLACK:.2f}.", ""]
    lines += ["## Queries (ms)", "", "| query | " + " | ".join(f"{s:,}" for s in sizes) + " |"]
    lines += ["|---|" + "---|" * len(sizes)]
    lines += [
        f"| {name} | " + " | ".join(f"{r.queries_ms[name]:.1f}" for r in results) + " |"
        for name in names
    ]
    lines += ["", "![queries](queries.png)", "", "## Extractor against the trained pipeline", ""]
    lines += [
        f"On the same 1,000 corpus texts in one process: `nlp.pipe` {plain:,.0f} words/s, the "
        f"extractor {ours:,.0f} words/s: {share:.2f} of the pipeline's own speed (the screening "
        "pass lets it skip texts that name no mineral or no measure).",
        "",
    ]
    if earlier:
        lines += ["## The other benchmarks of bench/", ""]
        lines += [
            "Each run as a child process after the sizes above: what it printed (and the end of "
            "its errors if it failed), its time and its peak memory.",
            "",
        ]
    for result in earlier:
        ended = "" if result.exit_code == 0 else f", **exit {result.exit_code}**"
        lines += [f"### {result.title}", ""]
        lines += [
            f"`{result.command}`: {result.seconds:.0f} s, peak {result.peak_mb:.0f} MB{ended}"
        ]
        lines += ["", "```", result.output, "```", ""]
    markdown = "\n".join(lines)
    (out / "REPORT.md").write_text(markdown, encoding="utf-8")
    return markdown


def main() -> int:
    """Measure every size, write the report, print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "performance")
    parser.add_argument("--skip-earlier", action="store_true", help="only the sizes")
    parser.add_argument(
        "--aeb",
        metavar="PATH",
        help="also the fetch stage and the plain script on the 181 pages of a copy of "
        "scrapinghub/article-extraction-benchmark (a checkout or a bare clone)",
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(part) for part in args.sizes.split(",")):
            result = measure_size(size, args.feeds, Path(folder))
            print(
                f"{size:>6} articles: first run {result.first_seconds:.1f} s "
                f"({result.articles_per_second:.1f}/s), re-run {result.rerun_seconds:.1f} s, "
                f"peak {result.peak_mb:.0f} MB",
                flush=True,
            )
            results.append(result)
    ratio = extractor_ratio()
    earlier = []
    for title, arguments in () if args.skip_earlier else EARLIER + on_benchmark_pages(args.aeb):
        with tempfile.TemporaryDirectory() as folder:
            earlier.append(run_earlier(title, arguments, Path(folder)))
        print(f"  {earlier[-1].command}: {earlier[-1].seconds:.0f} s", flush=True)
    print(write_report(args.out, results, ratio, earlier))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
