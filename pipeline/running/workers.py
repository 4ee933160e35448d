"""Distributed mode: procrastinate jobs kept in the PostgreSQL that holds the data, run by workers.

A fetch job per source (one queued and one running at a time, by its queueing lock and lock)
stores new articles and defers their extraction; an extraction job claims a batch of waiting
articles (its own first) and reads them in one pass of the trained pipeline, loaded once per
worker process. Every job is safe to run again: the unique keys of the store make a repeated fetch
or extraction change nothing. The job flows and the trained pipeline are imported by the tasks
that run them: a scheduler that only queues jobs loads neither.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import procrastinate
from sqlalchemy.orm import Session, sessionmaker

from models.errors import UsageError
from pipeline.config.cron import CronJob
from pipeline.config.settings import Settings, child_environment, stalled_after
from pipeline.config.sources import load_sources, select_sources
from pipeline.fetching.http import build_client
from pipeline.running.scheduler import Runner
from storage.engine import make_engine, make_session_factory, parse_database_url
from storage.queue import defer_in_transaction, record_failure
from storage.runs import RunOutcome

log = logging.getLogger("newstrack")
QUEUES = ("fetch", "extract", "jobs")
EXTRACT_BATCH = 32  # articles the trained pipeline reads at a time
EXTRACT_TASK = "newstrack:extract_articles"  # its name in the queue (the blueprint's namespace)
HEARTBEAT = 10.0  # seconds between a worker's heartbeats
SETTINGS = "settings"  # the key of the worker's settings in each job's context


def conninfo(database_url: str) -> str:
    """The libpq connection string of a PostgreSQL URL; other databases have no workers."""
    url = parse_database_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise UsageError(
            "distributed mode needs PostgreSQL (--db postgresql+psycopg://...); "
            "SQLite runs jobs with `newstrack cron run` on one machine"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(database_url: str) -> procrastinate.App:
    """The process's procrastinate app, connected to a database, with newstrack's tasks.

    One app per process: the tasks join it once (joining another app would rename them and bind
    them to it); a different database swaps the app's connector.
    """
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(database_url))
    app = _APPS.get("app")
    if app is None:
        app = procrastinate.App(connector=connector, import_paths=[])
        app.add_tasks_from(tasks, namespace="newstrack")
        _APPS["app"] = app
    else:
        app.connector = connector
        app.job_manager.connector = connector
    return app


_APPS: dict[str, procrastinate.App] = {}
tasks = procrastinate.Blueprint()


@cache
def _session_factory(database_url: str) -> sessionmaker[Session]:
    """One engine per worker process and database."""
    return make_session_factory(make_engine(database_url))


@cache
def _extractor() -> Any:
    """The trained pipeline, loaded once per worker process."""
    from pipeline.extraction import standard_extractor

    return standard_extractor(Settings.from_environment().event_threshold)


@cache
def _pace() -> Any:
    """When this worker process groups stored mentions into events, across its jobs."""
    from pipeline.flows.extract import ConsolidationPace

    return ConsolidationPace()


def _settings(context: procrastinate.JobContext) -> Settings:
    """The settings of the worker running the job (run_worker hands them to every job)."""
    settings = context.additional_context.get(SETTINGS)
    return settings if isinstance(settings, Settings) else Settings.from_environment()


@tasks.task(name="fetch_source", queue="fetch", pass_context=True)
def fetch_source(context: procrastinate.JobContext, source: str) -> dict[str, Any]:
    """Fetch one source; each new article is stored with its extraction queued, in one transaction."""
    from pipeline.config.sources import load_sources, select_sources
    from pipeline.flows.fetch import fetch_sources

    settings = _settings(context)
    chosen = select_sources(load_sources(settings.sources_path), [source])
    with recorded(context), build_client(settings.http) as client:
        summary = fetch_sources(
            _session_factory(settings.database_url),
            client,
            chosen,
            settings,
            on_stored=queue_extraction,
        )
    log.info("fetch %s: %d stored, each with its extraction queued", source, summary.stored)
    return {"source": source, "stored": summary.stored}


@contextmanager
def recorded(context: procrastinate.JobContext) -> Iterator[None]:
    """Keep why a job failed in queue_errors, for `newstrack jobs`, then let it fail."""
    try:
        yield
    except Exception as error:
        job = context.job
        try:
            record_failure(
                _session_factory(_settings(context).database_url),
                job.id,
                job.task_name,
                job.attempts + 1,
                f"{type(error).__name__}: {error}",
            )
        except Exception:  # the job's own error matters more than its record
            log.exception("could not record why job %s failed", job.id)
        raise


def queue_extraction(session: Session, article_id: int) -> None:
    """Queue an article's extraction in the transaction that stores it: both happen, or neither."""
    defer_in_transaction(session, "extract", EXTRACT_TASK, {"ids": [article_id]})


@tasks.task(name="extract_articles", queue="extract", pass_context=True)
def extract_articles(
    context: procrastinate.JobContext, ids: list[int] | None = None
) -> dict[str, Any]:
    """Extract a batch of waiting articles, the given ones first; without ids, every waiting one.

    The batch is claimed, so each article is read once even with many workers; an article another
    worker holds is read there.
    """
    from pipeline.flows.extract import extract_claimed

    settings = _settings(context)
    with recorded(context):
        summary = extract_claimed(
            _session_factory(settings.database_url),
            _extractor(),
            prefer=ids or (),
            batch_size=EXTRACT_BATCH,
            until_none_left=ids is None,
            pace=_pace(),
        )
    return {"articles": summary.articles, "failed": summary.failed, "events": len(summary.events)}


@tasks.task(name="run_command", queue="jobs", pass_context=True)
def run_command(context: procrastinate.JobContext, argv: list[str]) -> dict[str, Any]:
    """Run any other newstrack command, as the command line would, on the worker's host."""
    with recorded(context):
        return _run_command(argv, _settings(context))


def _run_command(argv: list[str], settings: Settings) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=child_environment(settings),
    )
    if result.returncode not in (0, 3):
        raise RuntimeError(
            f"newstrack {shlex.join(argv)}: exit {result.returncode}: {result.stderr[-500:]}"
        )
    return {"exit_code": result.returncode}


async def retry_stalled(app: procrastinate.App) -> int:
    """Queue again the jobs of workers that stopped beating; return how many."""
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after()))
    for job in stalled:
        log.warning("job %s (%s) of a stopped worker goes back to the queue", job.id, job.task_name)
        await manager.retry_job(job)
    return len(stalled)


@tasks.periodic(cron="* * * * *", periodic_id="retry-stalled")
@tasks.task(
    name="retry_stalled_jobs", queue="jobs", queueing_lock="retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Give the jobs of workers that stopped beating back to the queue, every minute."""
    await retry_stalled(context.app)


def defer_fetches(app: procrastinate.App, sources: Sequence[str]) -> list[str]:
    """Queue one fetch per source; a source already queued is not queued twice."""
    queued = []
    for source in sources:
        try:
            fetch_source.configure(lock=f"fetch:{source}", queueing_lock=f"fetch:{source}").defer(
                source=source
            )
            queued.append(source)
        except procrastinate.exceptions.AlreadyEnqueued:
            log.info("fetch %s: already queued", source)
    return queued


def defer_job(app: procrastinate.App, settings: Settings, job: CronJob) -> str:
    """Queue what a cron.yaml job does: a fetch per source, an extraction, or its command."""
    if job.command[0] == "fetch":
        named = named_sources(job.command[1:])
        sources = select_sources(load_sources(settings.sources_path), named)
        queued = defer_fetches(app, [source.name for source in sources])
        return f"queued fetch of {', '.join(queued) or 'nothing new (all already queued)'}"
    if job.command[0] == "extract":
        try:
            extract_articles.configure(queueing_lock="extract-pending").defer()
        except procrastinate.exceptions.AlreadyEnqueued:
            return "extraction already queued"
        return "queued extraction of the waiting articles"
    run_command.configure(queueing_lock=f"command:{job.name}").defer(argv=list(job.command))
    return f"queued {shlex.join(job.command)}"


def named_sources(words: Sequence[str]) -> list[str]:
    """The sources (`--source`, repeatable) a fetch command's words name, as the command line reads them.

    The words were checked against the command line's parser when cron.yaml was loaded.
    """
    options = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    options.add_argument("--source", action="append", default=[])
    named: list[str] = options.parse_known_args(list(words))[0].source
    return named


def deferring_runner(app: procrastinate.App) -> Runner:
    """A scheduler runner that queues each run for the workers instead of running it here."""

    def runner(job: CronJob, settings: Settings, started: Any) -> RunOutcome:
        try:
            return RunOutcome("succeeded", 0, note=defer_job(app, settings, job))
        except procrastinate.exceptions.AlreadyEnqueued:
            return RunOutcome("succeeded", 0, note="already queued")

    return runner


async def run_worker(
    app: procrastinate.App,
    settings: Settings,
    queues: Sequence[str] | None,
    concurrency: int,
    once: bool,
) -> None:
    """Take back the jobs of dead workers, then work the queues, each job with these settings."""
    async with app.open_async():
        await retry_stalled(app)
        heartbeat = min(HEARTBEAT, stalled_after() / 3)
        options: Any = {  # no queue named: every queue
            "concurrency": concurrency,
            "wait": not once,
            "install_signal_handlers": True,
            "update_heartbeat_interval": heartbeat,
            "stalled_worker_timeout": stalled_after(),
            "additional_context": {SETTINGS: settings},
        }
        if queues:
            options["queues"] = list(queues)
        await app.run_worker_async(**options)
