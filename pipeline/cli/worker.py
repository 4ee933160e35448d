"""Distributed mode: `worker` runs the PostgreSQL queue's jobs, `jobs` lists and queues them.

pipeline.running.workers is imported by the commands that use it: it loads procrastinate, which
no other command needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from models.errors import UsageError
from pipeline.cli.arguments import PROCESSES, SuggestingParser, whole
from pipeline.cli.base import EXIT_OK, Context, open_database
from pipeline.cli.output import write_rows
from pipeline.config.sources import load_sources, select_sources
from storage.engine import make_session_factory, open_engine, open_existing
from storage.queue import latest_errors

if TYPE_CHECKING:
    from .base import Subcommands

JOB_ID = whole(1, 2**63 - 1)  # the queue's bigint ids


def add_worker(commands: Subcommands, common: SuggestingParser) -> None:
    """`worker`: run jobs from the queue."""
    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="run jobs from the PostgreSQL queue (distributed mode), on any host",
    )
    worker.add_argument(
        "--queue",
        "--queues",
        dest="queue",
        action="append",
        default=[],
        metavar="NAMES",
        help="fetch, extract or jobs (repeatable or comma-separated; default all)",
    )
    worker.add_argument(
        "--concurrency",
        type=PROCESSES,
        default=1,
        metavar="N",
        help=f"{PROCESSES.describe()}; default 1",
    )
    worker.add_argument("--once", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(handler=command_worker)


def add_jobs(commands: Subcommands, common: SuggestingParser) -> None:
    """`jobs`: list, queue or retry the queue's jobs."""
    jobs = commands.add_parser(
        "jobs",
        parents=[common],
        help="list the queued, running and failed jobs, queue or retry some",
    )
    jobs.add_argument(
        "--status", metavar="STATUS", help="todo, doing, succeeded, failed, cancelled, aborted"
    )
    action = jobs.add_mutually_exclusive_group()
    action.add_argument(
        "--retry",
        type=JOB_ID,
        metavar="ID",
        help="queue a failed job again (its id, a whole number from 1)",
    )
    action.add_argument(
        "--fetch", action="store_true", help="queue a fetch of each source (or --source)"
    )
    action.add_argument(
        "--extract", action="store_true", help="queue the extraction of waiting articles"
    )
    jobs.add_argument("--source", action="append", default=[], metavar="NAME", help="with --fetch")
    jobs.set_defaults(handler=command_jobs)


def command_worker(args: argparse.Namespace, context: Context) -> int:
    """Run jobs from the queue until stopped (or, with --once, until the queues are empty)."""
    from pipeline.running.workers import QUEUES, make_app, run_worker

    queues = [name for given in args.queue for name in given.split(",") if name]
    unknown = [queue for queue in queues if queue not in QUEUES]
    if unknown:
        raise UsageError(f"--queue {unknown[0]!r}: one of {', '.join(QUEUES)}")
    with open_database(context.settings):
        pass  # the queue's tables come with newstrack's schema, created or upgraded here
    app = make_app(context.settings.database_url)
    asyncio.run(run_worker(app, context.settings, queues, args.concurrency, args.once))
    return EXIT_OK


def command_jobs(args: argparse.Namespace, context: Context) -> int:
    """List the queue's jobs, or queue fetches, extraction, or a failed job again."""
    from pipeline.running.workers import defer_fetches, extract_articles, make_app

    settings = context.settings
    app = make_app(settings.database_url)
    with open_existing(settings.database_url):
        pass  # the queue's tables come with newstrack's schema: without it, say so
    with app.open():
        if args.fetch:
            sources = select_sources(load_sources(settings.sources_path), args.source)
            queued = defer_fetches(app, [source.name for source in sources])
            print(f"queued {len(queued)} fetch(es): {', '.join(queued) or 'each already queued'}")
            return EXIT_OK
        if args.extract:
            job_id = extract_articles.configure(queueing_lock="extract-pending").defer()
            print(f"queued extraction of the waiting articles (job {job_id})")
            return EXIT_OK
        if args.retry is not None:
            app.job_manager.retry_job_by_id(args.retry, datetime.now(UTC))
            print(f"job {args.retry} queued again")
            return EXIT_OK
        found = app.job_manager.list_jobs(status=args.status)
    with open_engine(settings.database_url) as engine:
        errors = latest_errors(make_session_factory(engine))
    rows = [
        (
            job.id,
            job.queue,
            job.task_name,
            job.status,
            job.attempts,
            json.dumps(job.task_kwargs),
            errors.get(job.id or 0),
        )
        for job in found
    ]
    columns = ["id", "queue", "task", "status", "attempts", "arguments", "error"]
    write_rows(sys.stdout, "json" if context.as_json else "table", columns, rows)
    return EXIT_OK
