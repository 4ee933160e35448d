"""cron.yaml: the shipped file's jobs, errors that name job and field, rendering, `cron tick`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import kubernetes_validate
import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import select

from models import JobRun
from models.errors import ConfigError
from pipeline.cli import build_parser, check_newstrack_command
from pipeline.config.cron import CronFile, CronJob, Retry, daylight_saving_warnings, load_cron
from pipeline.config.settings import Settings
from pipeline.config.sources import load_sources, select_sources
from pipeline.running.deploy import kubernetes_name, longest_run
from pipeline.running.scheduler import Scheduler
from storage import runs
from storage.migrate import _alembic_config, downgrade, head_revision, upgrade
from storage.revision import is_newest, newest_revision
from storage.sessions import unit_of_work
from tests.stored import engine_for, newstrack, ready

from .conftest import PROJECT

SNAPSHOT = PROJECT / "snapshot"


def _shipped() -> list[CronJob]:
    return list(load_cron(PROJECT / "cron.yaml", check_newstrack_command).jobs)


@pytest.mark.parametrize("job", _shipped(), ids=lambda job: job.name)
def test_every_shipped_job_names_a_real_command_with_valid_options(job: CronJob) -> None:
    """Each job of the shipped cron.yaml parses as a newstrack command line."""
    args = build_parser().parse_args(list(job.command))
    assert args.handler is not None
    assert check_newstrack_command(list(job.command)) is None


def test_shipped_jobs_cover_fetching_extraction_consolidation_digests_and_clean_up() -> None:
    """Fetching each source group, extraction, consolidation, digests and a clean-up are scheduled."""
    commands = {job.command[0] for job in _shipped()}
    assert {"fetch", "extract", "consolidate", "digest", "prune"} <= commands
    sources = load_sources(PROJECT / "sources.yaml")
    for job in _shipped():
        args = build_parser().parse_args(list(job.command))
        if getattr(args, "source", None):
            assert select_sources(sources, args.source), job.name
    groups = {source.name for job in _shipped() for source in _sources_of(job, sources)}
    assert groups == {source.name for source in sources if source.enabled}


def _sources_of(job: CronJob, sources: list[Any]) -> list[Any]:
    args = build_parser().parse_args(list(job.command))
    return select_sources(sources, args.source) if getattr(args, "source", None) else []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cron.yaml"
    path.write_text(text, encoding="utf-8")
    return path


JOB = "version: 1\njobs:\n  - name: {name}\n    schedule: '{schedule}'\n    command: {command}\n{extra}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule": "61 * * * *"}, "line 3: job 'a': schedule: '61 * * * *': Bad minute"),
        ({"schedule": "* * * *"}, "job 'a': schedule: '* * * *' is not a 5-field cron expression"),
        ({"command": "newstrack fetsh"}, "job 'a': command: 'newstrack fetsh': argument COMMAND: invalid choice"),
        ({"command": "newstrack fetch --sorce x"}, "job 'a': command: 'newstrack fetch --sorce x': unrecognized arguments: --sorce x"),
        ({"command": "rm -rf /"}, "job 'a': command: 'rm -rf /' is not a newstrack command"),
        ({"extra": "    timezone: Mars/Olympus\n"}, "job 'a': timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"extra": "    timezone: America\n"}, "job 'a': timezone: 'America' is not an IANA time zone"),
        ({"extra": "    concurrency: sometimes\n"}, "job 'a': concurrency: 'sometimes'; one of forbid, allow, replace"),
        ({"extra": "    misfire: later\n"}, "job 'a': misfire: 'later'; one of skip, run_once, run_all"),
        ({"extra": "    timeout: -5\n"}, "job 'a': timeout: expected a whole number from 1 to 86400, got -5"),
        ({"extra": "    retry: {limit: two}\n"}, "job 'a': retry: limit: expected a whole number from 0 to 10, got 'two'"),
        ({"extra": "    shedule: '* * * * *'\n"}, "job 'a': shedule: unknown key"),
        ({"extra": "  - name: a\n    schedule: '* * * * *'\n    command: newstrack extract\n"}, "line 6: job 'a': duplicate name"),
    ],
)  # fmt: skip
def test_errors_name_the_job_the_field_and_the_line(
    tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    """A bad cron.yaml is refused with a message a user can act on."""
    values = {"name": "a", "schedule": "*/5 * * * *", "command": "newstrack extract", "extra": ""}
    path = _write(tmp_path, JOB.format(**{**values, **fields}))
    with pytest.raises(ConfigError) as error:
        load_cron(path, check_newstrack_command)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_defaults_apply_to_every_job_and_jobs_override_them(tmp_path: Path) -> None:
    """`defaults` set each job's options unless the job sets its own."""
    path = _write(
        tmp_path,
        "version: 1\ndefaults: {timezone: Europe/Paris, timeout: 60, retry: {limit: 2, backoff: 30}}\n"
        "jobs:\n  - {name: a, schedule: '0 * * * *', command: newstrack extract}\n"
        "  - {name: b, schedule: '0 * * * *', command: newstrack extract, timezone: UTC, concurrency: allow}\n",
    )
    first, second = load_cron(path).jobs
    assert (first.timezone, first.timeout, first.retry.limit, first.concurrency) == (
        "Europe/Paris",
        60,
        2,
        "forbid",
    )
    assert (second.timezone, second.concurrency) == ("UTC", "allow")


def test_jitter_is_the_same_for_every_run_of_a_job_and_spreads_jobs() -> None:
    """Each job's delay comes from its name: stable, within its jitter, different across jobs."""
    delays = {CronJob(f"job-{n}", "* * * * *", ("extract",), jitter=60).delay for n in range(20)}
    assert len(delays) > 10
    assert all(0 <= delay.total_seconds() <= 60 for delay in delays)
    job = CronJob("fetch-cnbc", "* * * * *", ("extract",), jitter=60)
    assert job.delay == CronJob("fetch-cnbc", "0 * * * *", ("fetch",), jitter=60).delay


def test_daylight_saving_warnings_name_skipped_and_repeated_times() -> None:
    """02:30 in Berlin is skipped in March and repeated in October; UTC jobs get no warning."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    berlin = CronJob("nightly", "30 2 * * *", ("extract",), timezone="Europe/Berlin")
    warnings = daylight_saving_warnings(berlin, start)
    assert warnings[:2] == [
        "job 'nightly': on 2026-03-29 daylight saving skips 02:30 in Europe/Berlin",
        "job 'nightly': on 2026-10-25 daylight saving repeats 02:30 in Europe/Berlin",
    ]
    assert daylight_saving_warnings(CronJob("u", "30 2 * * *", ("extract",)), start) == []
    hourly_even = CronJob("ny", "15 */2 * * *", ("extract",), timezone="America/New_York")
    assert all("skips 02:15" in warning for warning in daylight_saving_warnings(hourly_even, start))


def test_cron_check_lists_next_times_and_warns_about_daylight_saving(
    tmp_path: Path, in_process: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """`cron check` validates, lists each job's next fire times and warns on standard error."""
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - {name: nightly, schedule: '30 2 * * *', timezone: Europe/Berlin, "
        "command: newstrack consolidate}\n",
    )
    result = in_process("cron", "check", "--file", str(path), "--count", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [job] = report["jobs"]
    assert job["name"] == "nightly" and len(job["next"]) == 2
    first, second = (datetime.fromisoformat(t) for t in job["next"])
    assert datetime.now(UTC) < first < second  # upcoming times, with their zone, in order
    local = {t.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") for t in (first, second)}
    assert local <= {"02:30", "03:00"}  # 03:00 on the night 02:30 does not exist
    assert second - first <= timedelta(days=1, hours=1)
    assert "daylight saving skips 02:30 in Europe/Berlin" in result.stderr
    broken = _write(
        tmp_path,
        "version: 1\njobs:\n  - {name: x, schedule: '* * *', command: newstrack extract}\n",
    )
    failed = in_process("cron", "check", "--file", str(broken))
    assert failed.returncode == 2
    assert "job 'x': schedule" in failed.stderr


def test_the_shipped_cron_file_checks_clean(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """`newstrack cron check` with no --file reads the project's cron.yaml."""
    result = in_process("cron", "check")
    assert result.returncode == 0, result.stderr
    jobs = yaml.safe_load((PROJECT / "cron.yaml").read_text())["jobs"]
    assert f"{len(jobs)} job(s), valid" in result.stdout


def test_cron_check_shows_every_time_in_one_zone_and_says_which(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Times are in UTC (or --timezone), a job in another zone with its own time in parentheses."""
    result = in_process("cron", "check", "--count", "2")
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert "next fire times in UTC" in header
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    for line in lines:
        times = line.split(" next: ", 1)[1]
        own = r" \(" + stamp + r" CST\)" if "fetch-mofcom" in line else ""
        assert re.fullmatch(f"{stamp} UTC{own}, {stamp} UTC{own}", times), line
    paris = in_process("cron", "check", "--count", "1", "--timezone", "Europe/Paris", "--json")
    report = json.loads(paris.stdout)
    assert report["timezone"] == "Europe/Paris"
    offsets = {datetime.fromisoformat(job["next"][0]).utcoffset() for job in report["jobs"]}
    assert offsets <= {timedelta(hours=1), timedelta(hours=2)}
    wrong = in_process("cron", "check", "--timezone", "Mars/Olympus")
    assert wrong.returncode == 2 and "Mars/Olympus" in wrong.stderr


KUBERNETES_VERSION = "1.31.0"  # the oldest Kubernetes the manifests are checked against


def _validate(document: dict[str, Any]) -> None:
    """A manifest valid against the Kubernetes schemas, strictly: no unknown field anywhere."""
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _environment(**variables: str) -> dict[str, str]:
    """The test's environment without newstrack's variables, plus the given ones."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTRACK_")}
    return {**kept, **variables}


def test_render_k8s_writes_a_configmap_and_one_valid_cronjob_per_job() -> None:
    """A ConfigMap of the three files, then a strictly valid batch/v1 CronJob per job mounting it."""
    result = newstrack(
        "cron", "render", "--k8s", "--image", "registry.example/newstrack:1.0", env=_environment()
    )
    assert result.returncode == 0, result.stderr
    config, *documents = yaml.safe_load_all(result.stdout)
    for document in (config, *documents):
        _validate(document)
    assert (config["kind"], config["metadata"]["name"]) == ("ConfigMap", "newstrack-config")
    for name in ("cron.yaml", "sources.yaml", "watchlists.yaml"):
        assert config["data"][name] == (PROJECT / name).read_text(encoding="utf-8")
    jobs = _shipped()
    assert len(documents) == len(jobs)
    for document, job in zip(documents, jobs, strict=True):
        spec = document["spec"]
        assert (spec["schedule"], spec["timeZone"]) == (job.schedule, job.timezone)
        assert spec["concurrencyPolicy"] == job.concurrency.capitalize()
        assert spec["startingDeadlineSeconds"] == job.starting_deadline
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["image"] == "registry.example/newstrack:1.0"
        retries = ["--wait-for-retries"] if job.retry.limit else []  # the pod stays for them
        assert container["command"] + container["args"] == [
            "newstrack", "-q", "cron", "tick", "--file", "/app/config/cron.yaml", "--job", job.name,
            *retries,
        ]  # fmt: skip
        assert pod["volumes"] == [{"name": "config", "configMap": {"name": "newstrack-config"}}]
        assert container["volumeMounts"][0]["mountPath"] == "/app/config"
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["NEWSTRACK_DB"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
        assert env["NEWSTRACK_SOURCES"]["value"] == "/app/config/sources.yaml"
        assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == longest_run(job)
        assert document["metadata"]["name"] == kubernetes_name(job.name)
        if job.command[:2] == ("digest", "send"):  # the recipient must be in the Secret
            assert env["NEWSTRACK_WATCHLISTS"]["value"] == "/app/config/watchlists.yaml"
            recipient = env["NEWSTRACK_DIGEST_TO"]["valueFrom"]["secretKeyRef"]
            assert recipient == {
                "name": "newstrack",
                "key": "NEWSTRACK_DIGEST_TO",
                "optional": False,
            }
            password = env["NEWSTRACK_SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert password["optional"] is True
        else:
            assert "NEWSTRACK_SMTP_PASSWORD" not in env


def test_the_shipped_worker_manifests_are_valid() -> None:
    """deploy/kubernetes/workers.yaml passes the same strict check and mounts the ConfigMap."""
    path = PROJECT / "deploy" / "kubernetes" / "workers.yaml"
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert {document["kind"] for document in documents} == {"Deployment"}
    for document in documents:
        _validate(document)
        pod = document["spec"]["template"]["spec"]
        assert {"name": "config", "configMap": {"name": "newstrack-config"}} in pod["volumes"]
        for container in pod["containers"]:
            assert container["volumeMounts"][0]["mountPath"] == "/app/config"
            env = {entry["name"]: entry.get("value") for entry in container["env"]}
            assert env["NEWSTRACK_SOURCES"] == "/app/config/sources.yaml"


def test_a_pod_has_time_for_every_attempt_of_its_run_and_the_waits_between() -> None:
    """Three retries 300 s apart, doubling, of a 1,800 s run: four runs and 2,100 s of waiting."""
    job = CronJob("d", "0 7 * * *", ("digest", "send"), timeout=1800, retry=Retry(3, 300))
    assert longest_run(job) == 4 * 1800 + 300 + 600 + 1200
    assert longest_run(CronJob("e", "* * * * *", ("extract",), timeout=60)) == 60


def test_kubernetes_names_are_dns_labels() -> None:
    """Job names become lower-case DNS labels of at most 52 characters."""
    assert kubernetes_name("Fetch_CNBC") == "newstrack-fetch-cnbc"
    long = kubernetes_name("x" * 80)
    assert len(long) == 52 and long.startswith("newstrack-")


def _schedule_here(folder: Path) -> Path:
    """A cron.yaml due every minute, a digest job and a watchlist whose recipient is a variable."""
    (folder / "watchlists.yaml").write_text(
        "version: 1\nwatchlists:\n  - name: w\n    recipients: ['${NEWSTRACK_DIGEST_TO}']\n"
        "    schedule: digest\n",
        encoding="utf-8",
    )
    (folder / "sources.yaml").write_text(
        (PROJECT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return _write(
        folder,
        "version: 1\njobs:\n  - {name: init, schedule: '* * * * *', command: newstrack init}\n"
        "  - {name: digest, schedule: '0 0 1 1 *', command: newstrack digest send}\n",
    )


def test_render_crontab_refuses_when_a_job_needs_an_unset_variable(tmp_path: Path) -> None:
    """A job's missing variable, or distributed mode on SQLite, stops the rendering with exit 2."""
    _schedule_here(tmp_path)
    result = newstrack("cron", "render", "--crontab", env=_environment(), cwd=tmp_path)
    assert result.returncode == 2
    assert "job 'digest' (newstrack digest send) needs NEWSTRACK_DIGEST_TO" in result.stderr
    shipped = newstrack("cron", "render", "--crontab", env=_environment())
    assert shipped.returncode == 2 and "job 'digest-daily'" in shipped.stderr
    queued = _environment(NEWSTRACK_DIGEST_TO="a@example.com", NEWSTRACK_DISTRIBUTED="1")
    on_sqlite = newstrack("cron", "render", "--crontab", env=queued, cwd=tmp_path)
    assert (
        on_sqlite.returncode == 2
        and "needs NEWSTRACK_DB to be a PostgreSQL URL" in on_sqlite.stderr
    )
    url = "postgresql+psycopg://newstrack@db.example/newstrack"
    on_postgres = newstrack("--db", url, "cron", "render", "--crontab", env=queued, cwd=tmp_path)
    assert on_postgres.returncode == 0, on_postgres.stderr
    assert _cron_environment(on_postgres.stdout)[0]["NEWSTRACK_DISTRIBUTED"] == "1"


def _cron_environment(crontab: str) -> tuple[dict[str, str], list[str]]:
    """A crontab's NAME=value lines, as cron reads them (one pair of quotes stripped), and its jobs."""
    environment: dict[str, str] = {}
    jobs = []
    for line in crontab.splitlines():
        if not line or line.startswith("#"):
            continue
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            name, value = line.split("=", 1)
            environment[name] = (
                value[1:-1] if value[:1] in "'\"" and value[:1] == value[-1:] else value
            )
        else:
            jobs.append(line)
    return environment, jobs


def test_the_rendered_crontab_runs_from_anywhere_on_the_database_asked_for(tmp_path: Path) -> None:
    """Run as cron would (empty environment, another folder), the line ticks into --db's file."""
    cron = _schedule_here(tmp_path)
    variables = {
        "NEWSTRACK_DIGEST_TO": "analyst@example.com",
        "NEWSTRACK_SMTP_HOST": "mail.example",
    }
    result = newstrack(
        "--db", "sqlite:///jobs.db", "cron", "render", "--crontab",
        env=_environment(**variables), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    environment, [line] = _cron_environment(result.stdout)
    assert environment == {
        "NEWSTRACK_DB": f"sqlite:///{tmp_path / 'jobs.db'}",
        "NEWSTRACK_SOURCES": str(tmp_path / "sources.yaml"),
        "NEWSTRACK_WATCHLISTS": str(tmp_path / "watchlists.yaml"),
        **variables,
    }
    schedule, command = line[: len("* * * * *")], line[len("* * * * * ") :]
    assert schedule == "* * * * *" and f"--file {cron}" in command
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        ["/bin/sh", "-c", command],
        env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere), **environment},
        cwd=elsewhere,
        check=True,
    )
    rows = newstrack(
        "--db", environment["NEWSTRACK_DB"], "sql", "SELECT job, state FROM job_runs", "--json"
    )
    assert {"job": "init", "state": "succeeded"} in json.loads(rows.stdout)
    assert not (elsewhere / "newstrack.db").exists() and not (tmp_path / "newstrack.db").exists()


def test_render_crontab_can_keep_secrets_in_a_private_env_file(tmp_path: Path) -> None:
    """With --env-file, the password goes to a mode-600 file the line reads, not to the crontab."""
    _schedule_here(tmp_path)
    variables = {"NEWSTRACK_DIGEST_TO": "a@example.com", "NEWSTRACK_SMTP_PASSWORD": "s3cret%x"}
    plain = newstrack("cron", "render", "--crontab", env=_environment(**variables), cwd=tmp_path)
    assert 'NEWSTRACK_SMTP_PASSWORD="s3cret%x"' in plain.stdout
    assert "--env-file" in plain.stderr  # said, since the user may not have meant it
    result = newstrack(
        "--db", "postgresql://newstrack:db-pass@db.example/newstrack",
        "cron", "render", "--crontab", "--env-file", "cron.env",
        env=_environment(**variables), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout and "db-pass" not in result.stdout
    env_file = tmp_path / "cron.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    [line] = _cron_environment(result.stdout)[1]
    assert line.startswith(f"* * * * * . {env_file} && cd {tmp_path} && ")
    shown = subprocess.run(
        ["/bin/sh", "-c", f". {env_file} && env"],
        env={},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "NEWSTRACK_SMTP_PASSWORD=s3cret%x" in shown
    assert "NEWSTRACK_DB=postgresql://newstrack:db-pass@db.example/newstrack" in shown


def test_cron_tick_runs_what_is_due_once_and_records_its_figures(tmp_path: Path) -> None:
    """A tick runs the due job through the command line and records the articles it stored."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - name: fetch-all\n    schedule: '* * * * *'\n"
        f"    command: newstrack fetch --replay {SNAPSHOT}\n",
    )
    first = newstrack("--db", database, "cron", "tick", "--file", str(path), "--json")
    assert first.returncode == 0, first.stderr
    [label] = json.loads(first.stdout)["started"]
    again = newstrack("--db", database, "cron", "tick", "--file", str(path), "--json")
    assert label not in json.loads(again.stdout)["started"]  # that time has run: never again
    query = (
        "SELECT job, state, attempt, exit_code, articles, note FROM job_runs ORDER BY scheduled_for"
    )
    rows = json.loads(newstrack("--db", database, "sql", query, "--json").stdout)
    assert rows[0] == {
        "job": "fetch-all",
        "state": "succeeded",
        "attempt": 1,
        "exit_code": 3,  # partial: the snapshot's broken link
        "articles": 74,  # every article the snapshot holds
        "note": rows[0]["note"],
    }
    assert "partial" in rows[0]["note"]


def test_a_tick_loads_neither_spacy_nor_the_job_flows(tmp_path: Path) -> None:
    """`cron tick` runs every minute: looking at the schedule imports no language model."""
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - {name: yearly, schedule: '0 0 1 1 *', command: newstrack extract}\n",
    )
    database = f"sqlite:///{tmp_path / 'x.db'}"
    assert newstrack("--db", database, "init").returncode == 0  # migrating is done once, not here
    code = (
        "import json, sys\nfrom pipeline.cli import main\n"
        f"code = main(['-q', '--db', {database!r}, 'cron', 'tick', '--file', {str(path)!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    code, modules = json.loads(result.stdout.splitlines()[-1])
    assert code == 0, result.stderr
    loaded = {name.split(".")[0] for name in modules} | set(modules)
    heavy = {
        "spacy",
        "thinc",
        "numpy",
        "pipeline.flows.fetch",
        "pipeline.flows.extract",
        "pipeline.flows.reextract",
        "pipeline.flows.consolidate",
        "pipeline.flows.digests",
        "pipeline.extraction.extractor",
        "procrastinate",
    }
    assert not loaded & (heavy | {"alembic", "sqlalchemy.dialects.postgresql"})


def test_the_newest_revision_is_read_as_alembic_reads_it(database_url: str) -> None:
    """The tick's quick look at the schema agrees with Alembic's, before and after migrating."""
    assert newest_revision() == head_revision()
    engine = engine_for(database_url)
    assert not is_newest(engine)  # no schema yet
    upgrade(engine)
    assert is_newest(engine)
    head = ScriptDirectory.from_config(_alembic_config()).get_revision(head_revision())
    assert head is not None and isinstance(head.down_revision, str)
    downgrade(engine, head.down_revision)
    assert not is_newest(engine)


def test_cron_tick_can_wait_for_the_retries_of_its_runs(tmp_path: Path) -> None:
    """With --wait-for-retries, the tick that ran a failing job also runs its retry, then exits."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - name: broken\n    schedule: '* * * * *'\n"
        "    retry: {limit: 1, backoff: 1}\n"
        "    command: newstrack sql 'SELECT * FROM no_such_table'\n",
    )
    result = newstrack(
        "--db", database, "cron", "tick", "--file", str(path), "--job", "broken",
        "--wait-for-retries", "--json",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert [label.endswith("(retry 1)") for label in report["started"]] == [False, True]
    rows = newstrack("--db", database, "sql", "SELECT state, attempt FROM job_runs", "--json")
    assert json.loads(rows.stdout) == [{"state": "failed", "attempt": 2}]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # the values of issue 17: an OverflowError that killed the tick, a tick that hung
        ("    retry: {backoff: 100000000000000000000}\n", "retry: backoff: expected a whole number from 0 to 86400, got 100000000000000000000"),
        ("    jitter: 1000000000000000000000\n", "jitter: expected a whole number from 0 to 86400, got 1000000000000000000000"),
        ("    timeout: 100000000000000000000\n", "timeout: expected a whole number from 1 to 86400, got 100000000000000000000"),
        ("    timeout: 0\n", "timeout: expected a whole number from 1 to 86400, got 0"),
        ("    timeout: .nan\n", "timeout: expected a whole number from 1 to 86400, got nan"),
        ("    timeout: .inf\n", "timeout: expected a whole number from 1 to 86400, got inf"),
        ("    timeout: true\n", "timeout: expected a whole number from 1 to 86400, got True"),
        ("    jitter: 1.5\n", "jitter: expected a whole number from 0 to 86400, got 1.5"),
        ("    starting_deadline: 604801\n", "starting_deadline: expected a whole number from 1 to 604800, or 0 for no deadline"),
        ("    retry: {limit: 11}\n", "retry: limit: expected a whole number from 0 to 10, got 11"),
        ("    retry: {limit: true}\n", "retry: limit: expected a whole number from 0 to 10, got True"),
        ("    retry: {backoff: -1}\n", "retry: backoff: expected a whole number from 0 to 86400, got -1"),
        ("    jitter: 600\n", "jitter: 600 s is not shorter than the 300 s between the closest fire times of '*/5 * * * *'"),
    ],
)  # fmt: skip
def test_numbers_are_whole_and_bounded(tmp_path: Path, extra: str, message: str) -> None:
    """Every number of a job is a whole number in its documented range; the error names it."""
    values = {"name": "a", "schedule": "*/5 * * * *", "command": "newstrack extract"}
    path = _write(tmp_path, JOB.format(**values, extra=extra))
    with pytest.raises(ConfigError) as error:
        load_cron(path, check_newstrack_command)
    assert f"{path}: line 3: job 'a': {message}" in str(error.value)


def test_numbers_at_their_bounds_load(tmp_path: Path) -> None:
    """A day of timeout and backoff, ten retries, a week's deadline and jitter under the gap load."""
    extra = (
        "    timeout: 86400\n    starting_deadline: 604800\n    jitter: 299\n"
        "    retry: {limit: 10, backoff: 86400}\n"
    )
    values = {"name": "a", "schedule": "*/5 * * * *", "command": "newstrack extract"}
    [job] = load_cron(_write(tmp_path, JOB.format(**values, extra=extra))).jobs
    assert (job.timeout, job.starting_deadline, job.jitter) == (86400, 604800, 299)
    assert (job.retry.limit, job.retry.backoff) == (10, 86400)
    assert job.retry.delay(10) == timedelta(days=512)  # the longest wait: no overflow


@pytest.mark.parametrize(
    "extra",
    [
        "    retry: {limit: 1, backoff: 100000000000000000000}\n",
        "    jitter: 1000000000000000000000\n",
        "    timeout: 100000000000000000000\n",
    ],
)
def test_cron_check_and_tick_refuse_the_numbers_before_any_run(
    tmp_path: Path, extra: str, in_process: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """`cron check` no longer passes them; `cron tick` stops with exit 2 and leaves no run running."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - name: broken\n    schedule: '* * * * *'\n"
        f"    command: newstrack sql 'SELECT * FROM no_such_table'\n{extra}",
    )
    check = in_process("cron", "check", "--file", str(path))
    assert check.returncode == 2, check.stdout
    assert f"{path}: line 3: job 'broken': " in check.stderr
    assert "Traceback" not in check.stderr
    assert in_process("--db", database, "init").returncode == 0
    tick = newstrack("--db", database, "cron", "tick", "--file", str(path), timeout=60)
    assert tick.returncode == 2, tick.stderr
    assert "Traceback" not in tick.stderr
    rows = in_process("--db", database, "sql", "SELECT job, state FROM job_runs", "--json")
    assert json.loads(rows.stdout) == []


def test_a_retry_too_far_off_to_date_ends_the_run_instead_of_the_thread(sqlite_url: str) -> None:
    """A backoff past any date (a job built without loading cron.yaml) fails the run: never `running`."""

    class StillClock:
        def now(self) -> datetime:
            return datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)

        def sleep(self, seconds: float, stop: threading.Event) -> None:
            pass

    def failing(job: CronJob, settings: Settings, started: Any) -> runs.RunOutcome:
        return runs.RunOutcome("failed", 1, note="exit code 1")

    job = CronJob("broken", "0 * * * *", ("extract",), retry=Retry(1, 10**20))
    settings = Settings(database_url=sqlite_url)
    scheduler = Scheduler(
        CronFile(Path("cron.yaml"), (job,)), ready(sqlite_url), settings, StillClock(), failing
    )
    assert scheduler.tick().started == ["broken@2026-03-02T09:00:00+00:00"]
    for running in list(scheduler.active.values()):
        running.thread.join(
            30
        )  # not scheduler.wait(): a thread that died would be waited on for ever
    with unit_of_work(scheduler.session_factory) as session:
        states = session.scalars(select(JobRun.state)).all()
    assert states == ["failed"]
    assert scheduler.failed_runs() == ["broken@2026-03-02T09:00:00+00:00"]
