"""cron.yaml: the shipped file's jobs, errors that name job and field, rendering, `cron tick`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from pipeline.cli import build_parser, check_newstrack_command
from pipeline.errors import ConfigError
from pipeline.schedule import CronJob, daylight_saving_warnings, kubernetes_name, load_cron
from pipeline.sources import load_sources, select_sources
from tests.stored import newstrack

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
        ({"extra": "    concurrency: sometimes\n"}, "job 'a': concurrency: 'sometimes'; one of forbid, allow, replace"),
        ({"extra": "    misfire: later\n"}, "job 'a': misfire: 'later'; one of skip, run_once, run_all"),
        ({"extra": "    timeout: -5\n"}, "job 'a': timeout: -5 is not a whole number of seconds"),
        ({"extra": "    retry: {limit: two}\n"}, "job 'a': retry: 'two' is not a whole number of seconds"),
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


def test_cron_check_lists_next_times_and_warns_about_daylight_saving(tmp_path: Path) -> None:
    """`cron check` validates, lists each job's next fire times and warns on standard error."""
    path = _write(
        tmp_path,
        "version: 1\njobs:\n  - {name: nightly, schedule: '30 2 * * *', timezone: Europe/Berlin, "
        "command: newstrack consolidate}\n",
    )
    result = newstrack("cron", "check", "--file", str(path), "--count", "2", "--json")
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
    failed = newstrack("cron", "check", "--file", str(broken))
    assert failed.returncode == 2
    assert "job 'x': schedule" in failed.stderr


def test_the_shipped_cron_file_checks_clean() -> None:
    """`newstrack cron check` with no --file reads the project's cron.yaml."""
    result = newstrack("cron", "check")
    assert result.returncode == 0, result.stderr
    assert "7 job(s), valid" in result.stdout


def test_cron_check_shows_every_time_in_one_zone_and_says_which() -> None:
    """Times are in UTC (or --timezone), a job in another zone with its own time in parentheses."""
    result = newstrack("cron", "check", "--count", "2")
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert "next fire times in UTC" in header
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    for line in lines:
        times = line.split(" next: ", 1)[1]
        own = r" \(" + stamp + r" CST\)" if "fetch-mofcom" in line else ""
        assert re.fullmatch(f"{stamp} UTC{own}, {stamp} UTC{own}", times), line
    paris = newstrack("cron", "check", "--count", "1", "--timezone", "Europe/Paris", "--json")
    report = json.loads(paris.stdout)
    assert report["timezone"] == "Europe/Paris"
    offsets = {datetime.fromisoformat(job["next"][0]).utcoffset() for job in report["jobs"]}
    assert offsets <= {timedelta(hours=1), timedelta(hours=2)}
    wrong = newstrack("cron", "check", "--timezone", "Mars/Olympus")
    assert wrong.returncode == 2 and "Mars/Olympus" in wrong.stderr


def test_render_k8s_writes_one_valid_cronjob_per_job() -> None:
    """Each job becomes a batch/v1 CronJob with its schedule, zone, policy and command."""
    result = newstrack("cron", "render", "--k8s", "--image", "registry.example/newstrack:1.0")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    jobs = _shipped()
    assert len(documents) == len(jobs)
    for document, job in zip(documents, jobs, strict=True):
        _assert_cronjob(document)
        spec = document["spec"]
        assert (spec["schedule"], spec["timeZone"]) == (job.schedule, job.timezone)
        assert spec["concurrencyPolicy"] == job.concurrency.capitalize()
        assert spec["startingDeadlineSeconds"] == job.starting_deadline
        container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.example/newstrack:1.0"
        assert container["command"] + container["args"][-2:] == [
            "newstrack", "-q", "cron", "tick", "--job", job.name
        ]  # fmt: skip
        assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == job.timeout
        assert document["metadata"]["name"] == kubernetes_name(job.name)


def test_kubernetes_names_are_dns_labels() -> None:
    """Job names become lower-case DNS labels of at most 52 characters."""
    assert kubernetes_name("Fetch_CNBC") == "newstrack-fetch-cnbc"
    long = kubernetes_name("x" * 80)
    assert len(long) == 52 and long.startswith("newstrack-")


def _assert_cronjob(document: dict[str, Any]) -> None:
    """The parts of the batch/v1 CronJob schema newstrack fills, with their types and enums."""
    assert (document["apiVersion"], document["kind"]) == ("batch/v1", "CronJob")
    name = document["metadata"]["name"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 52
    spec = document["spec"]
    assert set(spec) <= {
        "schedule", "timeZone", "concurrencyPolicy", "startingDeadlineSeconds", "suspend",
        "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "jobTemplate",
    }  # fmt: skip
    assert isinstance(spec["schedule"], str) and len(spec["schedule"].split()) == 5
    assert spec["concurrencyPolicy"] in ("Allow", "Forbid", "Replace")
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        assert isinstance(spec.get(key, 0), int) and spec.get(key, 0) >= 0
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("OnFailure", "Never")
    for container in pod["containers"]:
        assert isinstance(container["name"], str) and isinstance(container["image"], str)
        assert all(isinstance(word, str) for word in container["command"] + container["args"])


def test_render_crontab_prints_the_tick_line(tmp_path: Path) -> None:
    """The crontab line ticks every minute with this installation's newstrack and cron.yaml."""
    result = newstrack("cron", "render", "--crontab")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("* * * * * cd ")
    assert f"cron tick --file {PROJECT / 'cron.yaml'}" in line
    assert str(Path(sys.executable).with_name("newstrack")) in line


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
        "articles": 48,
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
    assert not loaded & {"spacy", "thinc", "pipeline.jobs", "pipeline.extract", "procrastinate"}
