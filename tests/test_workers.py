"""Distributed mode on the real PostgreSQL: procrastinate workers fetch and extract, each once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models import JobRun
from pipeline.config.cron import CronFile, CronJob
from pipeline.config.settings import Settings
from pipeline.running.scheduler import Scheduler
from pipeline.running.workers import deferring_runner, make_app
from storage import queries
from storage.sessions import unit_of_work
from tests.conftest import PROJECT
from tests.servers import respond, serve, slow
from tests.stored import engine_for, new_article, newstrack, ready
from tests.test_scheduler import FakeClock

PAGE = """<!DOCTYPE html><html lang="en"><head><title>{title}</title></head><body>
<article><h1>{title}</h1>
<p>China's Commerce Ministry imposed export controls on {element} on Sept. {day}, it said.</p>
<p>The measure covers {element} metal and compounds, the ministry said in a statement.</p>
</article></body></html>"""


def _feed(prefix: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>{prefix} {n}</title><link>/{prefix}/{n}</link>"
        f"<pubDate>Mon, 0{n} Sep 2025 10:00:00 +0000</pubDate></item>"
        for n in range(1, count + 1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@pytest.mark.postgres
def test_two_workers_fetch_and_extract_every_article_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two worker processes share the queue: each page is fetched once and extracted once."""
    routes = {
        "/gallium/feed": respond(200, _feed("gallium", 6), content_type="application/rss+xml")
    }
    routes["/germanium/feed"] = respond(
        200, _feed("germanium", 6), content_type="application/rss+xml"
    )
    for element in ("gallium", "germanium"):
        for n in range(1, 7):
            body = PAGE.format(title=f"{element} {n}", element=element, day=n).encode()
            routes[f"/{element}/{n}"] = respond(200, body, content_type="text/html; charset=utf-8")
    with serve(routes, max_requests=200) as server:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - name: {element}\n    kind: rss\n    urls: [{server.url(f'/{element}/feed')}]\n"
                for element in ("gallium", "germanium")
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "NEWSTRACK_DB": postgres_url, "NEWSTRACK_SOURCES": str(sources)}
        assert newstrack("init", env=env).returncode == 0
        queued = newstrack("jobs", "--fetch", env=env)
        assert queued.returncode == 0, queued.stderr
        assert "queued 2 fetch(es)" in queued.stdout
        again = newstrack("jobs", "--fetch", env=env)
        assert "each already queued" in again.stdout  # the queueing lock: no pile-up
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker", "--once"],
                cwd=PROJECT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        claims = []
        for worker in workers:
            _, errors = worker.communicate(timeout=300)
            assert worker.returncode == 0, errors.decode()
            claims += _claims(errors.decode())
        pages = Counter(
            path for path in server.paths() if not path.endswith(("feed", "robots.txt"))
        )
    assert len(pages) == 12 and set(pages.values()) == {1}  # every page fetched once
    engine = engine_for(postgres_url)
    with engine.connect() as connection:
        statuses = Counter(
            status
            for (status,) in connection.execute(text("SELECT extraction_status FROM articles"))
        )
        jobs = connection.execute(
            text("SELECT task_name, status, args FROM procrastinate_jobs ORDER BY id")
        ).all()
        events = connection.execute(
            text("SELECT count(*), sum(article_count) FROM events WHERE measure = 'export_control'")
        ).one()
    assert statuses == {"done": 12}
    assert {status for _, status, _ in jobs} == {"succeeded"}
    queued = [
        article_id
        for task, _, args in jobs
        if task.endswith("extract_articles")
        for article_id in (args if isinstance(args, dict) else json.loads(args))["ids"]
    ]
    assert sorted(queued) == sorted(set(queued)) and len(queued) == 12  # one job per article
    extracted = [article_id for claim in claims for article_id in claim]
    assert sorted(extracted) == sorted(queued)  # each read once, by one worker
    assert tuple(events) == (2, 12)  # gallium's and germanium's controls, six reports each
    listing = newstrack("jobs", "--json", env=env)
    assert len(json.loads(listing.stdout)) == len(jobs)


def _claims(log: str) -> list[list[int]]:
    """The batches of articles a worker claimed for extraction, from its log."""
    marker = "extract: claimed articles "
    return [
        [int(article_id) for article_id in line.split(marker, 1)[1].split(",")]
        for line in log.splitlines()
        if marker in line
    ]


def _queue_articles(session_factory: sessionmaker[Session], count: int) -> list[int]:
    """Store articles about export controls, each with its extraction job, as a fetch would."""
    from pipeline.running.workers import queue_extraction
    from storage.articles import add_article

    ids = []
    for n in range(1, count + 1):
        with unit_of_work(session_factory) as session:
            text_ = PAGE.format(title=f"n{n}", element="gallium", day=n % 28 + 1)
            article_id = add_article(session, new_article(f"https://a.example/{n}", text_, None))
            assert article_id is not None
            queue_extraction(session, article_id)
            ids.append(article_id)
    return ids


@pytest.mark.postgres
def test_claims_of_workers_at_once_do_not_overlap(postgres_url: str) -> None:
    """Two open claims take different waiting articles; a claim ended gives its articles back."""
    session_factory = ready(postgres_url)
    ids = _queue_articles(session_factory, 5)
    with session_factory() as first, first.begin():
        mine = queries.claim_pending_articles(first, prefer=[ids[3]], size=2)
        with session_factory() as second, second.begin():
            theirs = queries.claim_pending_articles(second, prefer=[ids[3]], size=10)
        assert mine[0] == ids[3] and len(mine) == 2  # the job's own article first
        assert sorted(mine + theirs) == ids  # together every article, none twice
        with unit_of_work(session_factory) as session:  # a claimed article can still be written
            session.execute(
                text("UPDATE articles SET extraction_status = 'done' WHERE id = :id"),
                {"id": mine[1]},
            )
    with session_factory() as third, third.begin():
        again = queries.claim_pending_articles(third, prefer=[], size=10)
    assert sorted(again) == sorted(set(ids) - {mine[1]})  # the ended claim's pending one is back


@pytest.mark.postgres
def test_extraction_jobs_read_waiting_articles_in_batches(postgres_url: str) -> None:
    """40 queued articles are read in two passes of the pipeline (32 and 8), each article once."""
    session_factory = ready(postgres_url)
    ids = _queue_articles(session_factory, 40)
    env = {**os.environ, "NEWSTRACK_DB": postgres_url}
    worker = newstrack("worker", "--queue", "extract", "--once", env=env)
    assert worker.returncode == 0, worker.stderr
    claims = _claims(worker.stderr)
    assert [len(claim) for claim in claims] == [32, 8]
    assert claims[0][0] == ids[0]  # the first job's own article leads its batch
    assert sorted(article_id for claim in claims for article_id in claim) == ids
    with unit_of_work(session_factory) as session:
        statuses = Counter(
            session.scalars(
                text("SELECT status FROM procrastinate_jobs WHERE queue_name = 'extract'")
            )
        )
        done = session.scalar(
            text("SELECT count(*) FROM articles WHERE extraction_status = 'done'")
        )
        reports = session.scalar(text("SELECT count(*) FROM mentions"))
        grouped = session.execute(text("SELECT count(*), sum(article_count) FROM events")).one()
        waiting = session.scalar(text("SELECT count(*) FROM pending_consolidation"))
    assert statuses == {"succeeded": 40} and done == 40
    assert reports == 40  # one report of the control in each article, none twice
    assert tuple(grouped) == (1, 40) and waiting == 0  # grouped when no article was left


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("kill_at", "stored"),
    [
        (
            "storage.annotations:store_annotation:10:after",
            0,
        ),  # storing the tenth article of a batch
        ("storage.consolidation:consolidate_queued:1", 32),  # a batch stored, not yet grouped
    ],
)
def test_a_worker_killed_mid_extraction_loses_nothing_and_duplicates_nothing(
    postgres_url: str, kill_at: str, stored: int
) -> None:
    """SIGKILL while a claimed batch is stored or grouped: the batch stays whole or not at all, the next worker ends it."""
    session_factory = ready(postgres_url)
    _queue_articles(session_factory, 40)
    env = {**os.environ, "NEWSTRACK_DB": postgres_url, "NEWSTRACK_STALLED_AFTER": "3"}
    crashing = {
        **env,
        "NEWSTRACK_KILL_AT": kill_at,
        "PYTHONPATH": str(PROJECT / "tests" / "crashpoints"),
    }
    first = newstrack("worker", "--queue", "extract", env=crashing)
    assert first.returncode == -signal.SIGKILL

    def count(query: str) -> Any:
        with unit_of_work(session_factory) as session:
            return session.execute(text(query)).one()

    assert tuple(count("SELECT count(*) FROM mentions")) == (stored,)  # whole or not at all
    assert tuple(count("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'")) == (1,)
    threading.Event().wait(4)  # the dead worker's heartbeat grows old
    second = newstrack("worker", "--queue", "extract", "--once", env=env)
    assert second.returncode == 0, second.stderr
    statuses = count(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM procrastinate_jobs "
        "WHERE queue_name = 'extract'"
    )
    assert tuple(statuses) == (40, 40)
    assert tuple(count("SELECT count(*) FROM articles WHERE extraction_status = 'done'")) == (40,)
    reports = count("SELECT count(*), count(DISTINCT article_id) FROM mentions")
    assert tuple(reports) == (40, 40)  # every article's report stored, none twice
    assert tuple(count("SELECT count(*), sum(article_count) FROM events")) == (1, 40)
    assert tuple(count("SELECT count(*) FROM pending_consolidation")) == (0,)


def test_distributed_mode_needs_postgresql(tmp_path: Path) -> None:
    """On SQLite the worker command says what to do instead."""
    env = {**os.environ, "NEWSTRACK_DB": f"sqlite:///{tmp_path / 'x.db'}"}
    result = newstrack("worker", "--once", env=env)
    assert result.returncode == 2
    assert "distributed mode needs PostgreSQL" in result.stderr


@pytest.mark.postgres
def test_two_distributed_schedulers_queue_each_run_once(postgres_url: str, tmp_path: Path) -> None:
    """With NEWSTRACK_DISTRIBUTED, schedulers queue fetches per source, extraction and commands, once."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - {name: one, kind: rss, urls: ['https://one.example/feed']}\n"
        "  - {name: two, kind: rss, urls: ['https://two.example/feed']}\n",
        encoding="utf-8",
    )
    cron = CronFile(
        Path("cron.yaml"),
        (
            CronJob("fetch-all", "0 * * * *", ("fetch",)),
            CronJob("extract", "0 * * * *", ("extract",)),
            CronJob("consolidate", "0 * * * *", ("consolidate",)),
        ),
    )
    settings = Settings(database_url=postgres_url, sources_path=sources, distributed=True)
    session_factory = ready(postgres_url)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC))
    app = make_app(postgres_url)
    with app.open():
        schedulers = [
            Scheduler(cron, session_factory, settings, clock, deferring_runner(app))
            for _ in range(2)
        ]
        barrier = threading.Barrier(2)

        def tick(scheduler: Scheduler) -> None:
            barrier.wait()
            scheduler.tick()
            scheduler.wait()

        threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        queued = sorted(
            (job.task_name.split(":")[-1], json.dumps(job.task_kwargs, sort_keys=True))
            for job in app.job_manager.list_jobs()
        )
    assert queued == [
        ("extract_articles", "{}"),
        ("fetch_source", '{"source": "one"}'),
        ("fetch_source", '{"source": "two"}'),
        ("run_command", '{"argv": ["consolidate"]}'),
    ]
    with unit_of_work(session_factory) as session:
        notes = sorted(session.scalars(select(JobRun.note)))
    assert notes == [
        "queued consolidate",
        "queued extraction of the waiting articles",
        "queued fetch of one, two",
    ]


@pytest.mark.postgres
def test_an_article_and_its_extraction_job_are_stored_together_or_not_at_all(
    postgres_url: str,
) -> None:
    """The extraction job is queued in the article's own transaction: a rollback takes both."""
    from pipeline.running.workers import queue_extraction
    from storage.articles import add_article
    from tests.stored import new_article

    session_factory = ready(postgres_url)

    def jobs() -> int:
        with unit_of_work(session_factory) as session:
            return session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) or 0

    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        article_id = add_article(session, new_article("https://a.example/1", "Text one.", None))
        assert article_id is not None
        queue_extraction(session, article_id)
        raise RuntimeError("the worker dies before the commit")
    assert jobs() == 0
    with unit_of_work(session_factory) as session:
        article_id = add_article(session, new_article("https://a.example/1", "Text one.", None))
        assert article_id is not None
        queue_extraction(session, article_id)
    with unit_of_work(session_factory) as session:
        queued = session.execute(
            text("SELECT task_name, queue_name, args FROM procrastinate_jobs")
        ).one()
    assert tuple(queued) == ("newstrack:extract_articles", "extract", {"ids": [article_id]})


@pytest.mark.postgres
def test_a_worker_killed_mid_fetch_loses_nothing_and_duplicates_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    """SIGKILL during a fetch: the next worker takes the job back and the store ends complete, once."""
    routes = {"/slow/feed": respond(200, _feed("slow", 6), content_type="application/rss+xml")}
    for n in range(1, 7):
        body = PAGE.format(title=f"slow {n}", element="antimony", day=n).encode()
        page = respond(200, body, content_type="text/html; charset=utf-8")
        routes[f"/slow/{n}"] = slow(1.5, page) if n > 2 else page
    with serve(routes, max_requests=200) as server:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: slow\n    kind: rss\n    urls: [{server.url('/slow/feed')}]\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "NEWSTRACK_DB": postgres_url,
            "NEWSTRACK_SOURCES": str(sources),
            "NEWSTRACK_STALLED_AFTER": "3",
        }
        assert newstrack("init", env=env).returncode == 0
        assert "queued 1 fetch" in newstrack("jobs", "--fetch", env=env).stdout
        first = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker", "--queue", "fetch"],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engine = engine_for(postgres_url)
        try:
            for _ in range(600):  # until the fetch has stored something and is still going
                with engine.connect() as connection:
                    stored = connection.execute(text("SELECT count(*) FROM articles")).scalar()
                if stored:
                    break
                threading.Event().wait(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            with engine.connect() as connection:
                cut_at = connection.execute(text("SELECT count(*) FROM articles")).scalar()
                doing = connection.execute(
                    text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'")
                ).scalar()
            assert 0 < (cut_at or 0) < 6 and doing == 1  # killed in the middle of the fetch
            threading.Event().wait(4)  # the dead worker's heartbeat grows old
            second = newstrack("worker", "--once", env=env, timeout=300)
            assert second.returncode == 0, second.stderr
        finally:
            first.kill()
        pages = Counter(
            path for path in server.paths() if path.startswith("/slow/") and path[-1].isdigit()
        )
    with engine.connect() as connection:
        articles = connection.execute(text("SELECT url FROM articles")).scalars().all()
        statuses = Counter(
            connection.execute(text("SELECT status FROM procrastinate_jobs")).scalars().all()
        )
        done = connection.execute(
            text("SELECT count(*) FROM articles WHERE extraction_status = 'done'")
        ).scalar()
    assert len(articles) == len(set(articles)) == 6  # nothing lost, nothing twice
    assert done == 6
    assert set(statuses) == {"succeeded"}
    assert set(pages) == {f"/slow/{n}" for n in range(1, 7)}


def test_deployment_examples_run_real_commands() -> None:
    """The Kubernetes and systemd examples start newstrack commands that parse."""
    import configparser
    import shlex

    import yaml

    from pipeline.cli import check_newstrack_command

    commands = []
    for document in yaml.safe_load_all((PROJECT / "deploy/kubernetes/workers.yaml").read_text()):
        assert document["apiVersion"] == "apps/v1" and document["kind"] == "Deployment"
        [container] = document["spec"]["template"]["spec"]["containers"]
        assert container["env"][0]["name"] == "NEWSTRACK_DB"
        commands.append(container["command"])
    for unit in ("newstrack-worker@.service", "newstrack-scheduler.service"):
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.read(PROJECT / "deploy/systemd" / unit)
        words = shlex.split(parser["Service"]["ExecStart"])
        assert words[0].endswith("/newstrack")
        commands.append(["newstrack", *words[1:]])
    assert {tuple(command[:2]) for command in commands} == {
        ("newstrack", "worker"),
        ("newstrack", "cron"),
    }
    for command in commands:
        assert command[0] == "newstrack"
        assert check_newstrack_command(command[1:]) is None, command


@pytest.mark.postgres
def test_failed_jobs_are_listed_with_their_error_and_can_be_retried(
    postgres_url: str, postgres_reader_url: str
) -> None:
    """A job that fails shows in `newstrack jobs` with why; `--retry` queues it again."""
    from pipeline.running.workers import run_command

    # `sql` runs typed SQL as a role that only reads, not as the test server's superuser
    env = {**os.environ, "NEWSTRACK_DB": postgres_url, "NEWSTRACK_SQL_DB": postgres_reader_url}
    assert newstrack("init", env=env).returncode == 0
    app = make_app(postgres_url)
    with app.open():
        job_id = run_command.defer(argv=["sql", "SELECT * FROM no_such_table"])
    worker = newstrack("worker", "--queues", "jobs,extract", "--once", env=env)
    assert worker.returncode == 0, worker.stderr
    [failed] = json.loads(newstrack("jobs", "--status", "failed", "--json", env=env).stdout)
    assert (failed["id"], failed["task"], failed["attempts"]) == (
        job_id,
        "newstrack:run_command",
        1,
    )
    assert "no_such_table" in failed["error"]
    assert newstrack("jobs", "--retry", str(job_id), env=env).returncode == 0
    [queued] = json.loads(newstrack("jobs", "--status", "todo", "--json", env=env).stdout)
    assert queued["id"] == job_id


@pytest.mark.parametrize(
    "command",
    [
        ["fetch"],
        ["fetch", "--source", "cnbc"],
        ["fetch", "--source=one", "--force", "--source", "two"],
        ["fetch", "--sources", "other.yaml", "--source", "mofcom", "--dry-run"],
        ["fetch", "-q", "--json", "--replay", "snapshot", "--source", "three"],
    ],
)
def test_a_queued_fetch_names_the_sources_the_command_line_reads(command: list[str]) -> None:
    """A cron.yaml fetch queued for the workers fetches the sources `newstrack fetch` would."""
    from pipeline.cli import build_parser
    from pipeline.running.workers import named_sources

    assert named_sources(command[1:]) == build_parser().parse_args(command).source


def test_the_latest_error_of_each_failed_job_is_kept(sqlite_url: str) -> None:
    """`newstrack jobs` shows the error of a job's last failed attempt, cut to a bounded length."""
    from storage.queue import ERROR_LENGTH, latest_errors, record_failure

    session_factory = ready(sqlite_url)
    record_failure(session_factory, 7, "newstrack:run_command", 1, "first")
    record_failure(session_factory, 7, "newstrack:run_command", 2, "second")
    record_failure(session_factory, 8, "newstrack:fetch_source", 1, "x" * (ERROR_LENGTH + 10))
    errors = latest_errors(session_factory)
    assert errors[7] == "second"
    assert len(errors[8]) == ERROR_LENGTH
