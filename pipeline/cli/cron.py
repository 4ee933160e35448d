"""`cron check|tick|run`: cron.yaml checked, and its jobs run when due (`cron render` is in deploy)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.errors import UsageError
from pipeline.cli.arguments import SuggestingParser, whole
from pipeline.cli.base import EXIT_OK, EXIT_PARTIAL, Context, open_database
from pipeline.cli.deploy import add_render
from pipeline.config import cron as schedule
from pipeline.config.cron import CronFile
from pipeline.running.scheduler import Runner, Scheduler, run_command, stop_on_signals

if TYPE_CHECKING:
    from .base import Subcommands

FIRE_TIMES = whole(1, 1_000)


def load_cron(path: Path, context: Context) -> CronFile:
    """cron.yaml, each job's command checked by the command line's parser."""
    return schedule.load_cron(path, context.check_command)


def register(commands: Subcommands, common: SuggestingParser) -> None:
    """`cron` and its actions."""
    cron = commands.add_parser(
        "cron", help="check cron.yaml, run its jobs when due, or render it for cron or Kubernetes"
    )
    actions = cron.add_subparsers(dest="cron_command", metavar="ACTION", required=True)
    cron_file = SuggestingParser(add_help=False)
    cron_file.add_argument(
        "--file", type=Path, default=Path("cron.yaml"), metavar="PATH", help="default: cron.yaml"
    )
    parents = [common, cron_file]
    check = actions.add_parser(
        "check",
        parents=parents,
        help="validate cron.yaml, list next fire times, warn about daylight saving",
    )
    check.add_argument(
        "--count",
        type=FIRE_TIMES,
        default=3,
        metavar="N",
        help=f"fire times per job ({FIRE_TIMES.describe()})",
    )
    check.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="IANA zone every fire time is shown in (default UTC)",
    )
    check.set_defaults(handler=command_cron_check)
    tick = actions.add_parser(
        "tick",
        parents=parents,
        help="run whatever is due since the last tick, then exit (for the system crontab)",
    )
    tick.add_argument("--job", action="append", default=[], metavar="NAME", help="only this job")
    tick.add_argument(
        "--wait-for-retries",
        action="store_true",
        help="then wait for the retries of the runs that failed and run them (for Kubernetes)",
    )
    tick.set_defaults(handler=command_cron_tick)
    running = actions.add_parser(
        "run", parents=parents, help="the scheduler, in the foreground until SIGTERM"
    )
    running.set_defaults(handler=command_cron_run)
    add_render(actions, parents)


def command_cron_check(args: argparse.Namespace, context: Context) -> int:
    """Validate cron.yaml and show when each job fires next."""
    try:
        shown_in = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {args.timezone!r} is not an IANA time zone") from None
    cron = load_cron(args.file, context)
    now = datetime.now(UTC)
    report: dict[str, Any] = {
        "file": str(args.file),
        "timezone": args.timezone,
        "jobs": [],
        "warnings": [],
    }
    lines = [
        f"{args.file}: {len(cron.jobs)} job(s), valid; next fire times in {args.timezone}"
        " (in a job's own zone in parentheses when it differs)"
    ]
    for job in cron.jobs:
        times = []
        for moment in job.times(now):
            times.append((moment + job.delay).astimezone(shown_in))
            if len(times) == args.count:
                break
        shown = ", ".join(_fire_time(moment, shown_in, job.zone) for moment in times)
        lines.append(f"  {job.name}: {job.schedule} ({job.timezone}) next: {shown}")
        report["jobs"].append({"name": job.name, "next": [t.isoformat() for t in times]})
        for warning in schedule.daylight_saving_warnings(job, now):
            report["warnings"].append(warning)
            print(f"newstrack: warning: {warning}", file=sys.stderr)
    context.summary(report, "\n".join(lines))
    return EXIT_OK


def _fire_time(moment: datetime, shown_in: ZoneInfo, own: ZoneInfo) -> str:
    """A fire time in the zone asked for, and in the job's own zone when that differs."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S %Z")
    if own.key == shown_in.key:
        return text
    return f"{text} ({moment.astimezone(own).strftime('%Y-%m-%d %H:%M:%S %Z')})"


@contextmanager
def _scheduler(args: argparse.Namespace, context: Context) -> Iterator[Scheduler]:
    """The scheduler of cron.yaml (or --job) on a migrated database, closed afterwards."""
    settings = context.settings
    cron = load_cron(args.file, context)
    if getattr(args, "job", None):
        cron = replace(cron, jobs=tuple(cron.job(name) for name in args.job))
    with ExitStack() as stack:
        database = stack.enter_context(open_database(settings))
        runner: Runner = run_command
        if settings.distributed:  # runs go to the workers' queue; job_runs still counts each once
            from pipeline.running.workers import deferring_runner, make_app  # procrastinate

            app = make_app(settings.database_url)
            stack.enter_context(app.open())
            runner = deferring_runner(app)
        yield Scheduler(cron, database.sessions, settings, runner=runner)


def command_cron_tick(args: argparse.Namespace, context: Context) -> int:
    """Run every job due since the last tick, wait for them, report what happened."""
    with _scheduler(args, context) as scheduler:
        summary = scheduler.tick()
        if args.wait_for_retries:
            scheduler.settle(summary)
        scheduler.wait()
        failed = scheduler.failed_runs()
    report = {**asdict(summary), "failed": failed}
    text = (
        f"started {len(summary.started)} run(s){': ' + ', '.join(summary.started) if summary.started else ''}; "
        f"{len(summary.missed)} missed, {len(summary.skipped)} skipped (previous run still running), "
        f"{len(summary.taken_elsewhere)} run by another scheduler, {len(failed)} failed"
    )
    context.summary(report, text)
    return EXIT_PARTIAL if failed else EXIT_OK


def command_cron_run(args: argparse.Namespace, context: Context) -> int:
    """The scheduler in the foreground: runs jobs when due until SIGTERM or Ctrl-C."""
    with _scheduler(args, context) as scheduler:
        stop_on_signals(scheduler)
        scheduler.run_forever()
    return EXIT_OK
