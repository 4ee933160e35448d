"""cron.yaml names real commands with valid options and well-formed schedules."""

from __future__ import annotations

import shlex
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from pipeline.cli import build_parser

from .conftest import PROJECT


def _jobs() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROJECT / "cron.yaml").read_text(encoding="utf-8"))
    assert document["version"] == 1
    jobs: list[dict[str, Any]] = document["jobs"]
    return jobs


def test_job_names_are_unique() -> None:
    """No two jobs share a name."""
    names = [job["name"] for job in _jobs()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("job", _jobs(), ids=lambda job: job["name"])
def test_job_is_a_valid_newstrack_command(job: dict[str, Any]) -> None:
    """Each job's command parses as a newstrack command line."""
    words = shlex.split(job["command"])
    assert words[0] == "newstrack"
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as error:
        pytest.fail(f"{job['name']}: {job['command']!r} is not a valid command (exit {error.code})")


@pytest.mark.parametrize("job", _jobs(), ids=lambda job: job["name"])
def test_job_schedule_has_five_fields_and_a_real_timezone(job: dict[str, Any]) -> None:
    """Schedules are 5-field cron expressions; timezones are IANA names."""
    fields = job["schedule"].split()
    assert len(fields) == 5
    assert all(set(field) <= set("0123456789*/,-") for field in fields)
    ZoneInfo(job.get("timezone", "UTC"))


def test_fetch_jobs_name_configured_groups() -> None:
    """Every --source a job passes is a source or group of sources.yaml."""
    from pipeline.sources import load_sources, select_sources

    sources = load_sources(PROJECT / "sources.yaml")
    for job in _jobs():
        words = shlex.split(job["command"])
        args = build_parser().parse_args(words[1:])
        if getattr(args, "source", None):
            assert select_sources(sources, args.source), job["name"]
