"""cron.yaml: what runs when. Loading with errors that name the job and field, and fire times."""

from __future__ import annotations

import shlex
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from models.errors import ConfigError
from pipeline.config.numbers import DAY, Whole
from pipeline.config.yaml_loader import is_time_zone, load_yaml, where, whole_number

VERSION = 1
CONCURRENCY = ("forbid", "allow", "replace")
MISFIRE = ("skip", "run_once", "run_all")
JOB_KEYS = frozenset(
    {
        "name", "description", "schedule", "command", "timezone", "concurrency", "misfire",
        "starting_deadline", "jitter", "timeout", "retry",
    }
)  # fmt: skip
DEFAULT_KEYS = JOB_KEYS - {"name", "description", "schedule", "command"}
LOOKAHEAD = timedelta(days=366 * 2)  # how far daylight-saving checks look
# Commands whose partial run is retried unless the job says otherwise: what `digest send` failed
# to send stays pending, so a retry sends only that. A fetch's partial is often a broken link
# that a retry would not mend.
RETRIED_WHEN_PARTIAL = (("digest", "send"),)
# The numbers a job takes (README "Schedules"): whole seconds or counts, bounded.
STARTING_DEADLINE = Whole(1, 7 * DAY, zero="no deadline")
JITTER = Whole(0, DAY)  # and shorter than the shortest gap between the job's fire times
TIMEOUT = Whole(1, DAY)
RETRY_LIMIT = Whole(0, 10)
RETRY_BACKOFF = Whole(0, DAY)  # before the first retry; doubled on each one after
GAP_SAMPLE = 500  # fire times looked at to find a schedule's shortest gap


@dataclass(frozen=True)
class Retry:
    """How often a failed run is tried again, and how long to wait before the first retry."""

    limit: int = 0
    backoff: int = 60  # seconds, doubling on each retry
    on_partial: bool = False  # a partial run (exit code 3) is tried again too

    def delay(self, attempt: int) -> timedelta:
        """The wait before retry number `attempt` (1 for the first)."""
        return timedelta(seconds=self.backoff * (1 << max(attempt - 1, 0)))


@dataclass(frozen=True)
class CronJob:
    """One scheduled newstrack command."""

    name: str
    schedule: str
    command: tuple[str, ...]  # the newstrack arguments, without "newstrack"
    description: str = ""
    timezone: str = "UTC"
    concurrency: str = "forbid"
    misfire: str = "run_once"
    starting_deadline: int | None = None  # seconds after its time a run may still start
    jitter: int = 0  # at most this many seconds late, the same for every run of the job
    timeout: int = 3600
    retry: Retry = field(default_factory=Retry)

    @property
    def zone(self) -> ZoneInfo:
        """The job's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def delay(self) -> timedelta:
        """The job's own offset within its jitter, derived from its name."""
        return timedelta(seconds=zlib.crc32(self.name.encode()) % (self.jitter + 1))

    def times(self, after: datetime) -> Iterator[datetime]:
        """The job's scheduled times (UTC) strictly after a moment, in order."""
        for moment in CronSim(self.schedule, after.astimezone(self.zone)):
            yield moment.astimezone(UTC)

    def latest(self, at: datetime) -> datetime:
        """The job's latest scheduled time (UTC) at or before a moment."""
        local = at.astimezone(self.zone)
        if at == next(self.times(at - timedelta(minutes=1)), None):
            return at.astimezone(UTC)
        return next(iter(CronSim(self.schedule, local, reverse=True))).astimezone(UTC)

    def times_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Scheduled times after `start`, up to and including `end`."""
        found = []
        for moment in self.times(start):
            if moment > end:
                break
            found.append(moment)
        return found


@dataclass(frozen=True)
class CronFile:
    """A validated cron.yaml."""

    path: Path
    jobs: tuple[CronJob, ...]

    def job(self, name: str) -> CronJob:
        """The job of a name; an unknown name lists the known ones."""
        for job in self.jobs:
            if job.name == name:
                return job
        raise ConfigError(f"{self.path}: no job {name!r}; known: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        """Every job's name, in file order."""
        return [job.name for job in self.jobs]


CommandCheck = Callable[[list[str]], str | None]  # a newstrack command line -> why it is invalid


def load_cron(path: Path, check_command: CommandCheck | None = None) -> CronFile:
    """Read and validate a cron.yaml; every error names the file, line, job and field."""
    document = load_yaml(path)
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with `version` and `jobs`")
    if document.get("version") != VERSION:
        raise ConfigError(f"{where(path, document)}: `version` must be {VERSION}")
    unknown = sorted(set(document) - {"version", "defaults", "jobs", "__line__"})
    if unknown:
        raise ConfigError(f"{where(path, document)}: unknown key(s) {', '.join(unknown)}")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where(path, document)}: `defaults` must be a mapping")
    bad = sorted(set(defaults) - DEFAULT_KEYS - {"__line__"})
    if bad:
        raise ConfigError(f"{where(path, defaults)}: defaults: unknown key(s) {', '.join(bad)}")
    items = document.get("jobs")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where(path, document)}: `jobs` must be a non-empty list")
    jobs: list[CronJob] = []
    for item in items:
        job = _job(path, item, defaults, check_command)
        if job.name in (known.name for known in jobs):
            raise ConfigError(f"{where(path, item)}: job {job.name!r}: duplicate name")
        jobs.append(job)
    return CronFile(path, tuple(jobs))


def _job(
    path: Path, item: Any, defaults: dict[str, Any], check_command: CommandCheck | None
) -> CronJob:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: every job must be a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where(path, item)}: a job needs a `name`")

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where(path, item)}: job {name!r}: {key}: {problem}")

    unknown = sorted(set(item) - JOB_KEYS - {"__line__"})
    if unknown:
        raise fail(unknown[0], f"unknown key; known: {', '.join(sorted(JOB_KEYS))}")
    merged = {**defaults, **item}
    schedule = merged.get("schedule")
    if not isinstance(schedule, str) or len(schedule.split()) != 5:
        raise fail("schedule", f"{schedule!r} is not a 5-field cron expression")
    try:
        CronSim(schedule, datetime(2026, 1, 1))
    except CronSimError as error:
        raise fail("schedule", f"{schedule!r}: {error}") from None
    timezone = merged.get("timezone", "UTC")
    if not is_time_zone(timezone):
        raise fail("timezone", f"{timezone!r} is not an IANA time zone")
    command = merged.get("command")
    try:
        words = shlex.split(command) if isinstance(command, str) else []
    except ValueError as error:
        raise fail("command", str(error)) from None
    if not words or words[0] != "newstrack" or len(words) < 2:
        raise fail("command", f"{command!r} is not a newstrack command")
    if check_command is not None and (problem := check_command(words[1:])):
        raise fail("command", f"{command!r}: {problem}")
    for key, allowed in (("concurrency", CONCURRENCY), ("misfire", MISFIRE)):
        if key in merged and merged[key] not in allowed:
            raise fail(key, f"{merged[key]!r}; one of {', '.join(allowed)}")
    numbers: dict[str, int] = {}
    for key, kind in (
        ("starting_deadline", STARTING_DEADLINE),
        ("jitter", JITTER),
        ("timeout", TIMEOUT),
    ):
        if merged.get(key) is not None:
            numbers[key] = whole_number(merged[key], kind, partial(fail, key))
    jitter = numbers.get("jitter", 0)
    gap = shortest_gap(schedule, str(timezone)) if jitter else DAY  # walked only when it matters
    if jitter >= gap:
        raise fail(
            "jitter",
            f"{jitter} s is not shorter than the {gap} s between the closest fire times of "
            f"{schedule!r}: a run would start at or after the next one",
        )
    return CronJob(
        name=name,
        schedule=schedule,
        command=tuple(words[1:]),
        description=str(merged.get("description") or ""),
        timezone=str(timezone),
        concurrency=merged.get("concurrency", "forbid"),
        misfire=merged.get("misfire", "run_once"),
        starting_deadline=numbers.get("starting_deadline"),
        jitter=jitter,
        timeout=numbers.get("timeout", 3600),
        retry=_retry(
            merged.get("retry"), tuple(words[1:3]) in RETRIED_WHEN_PARTIAL, partial(fail, "retry")
        ),
    )


def shortest_gap(schedule: str, timezone: str) -> int:
    """Seconds between the closest two of a schedule's first fire times from 2026 on, in its zone."""
    times = CronSim(schedule, datetime(2026, 1, 1, tzinfo=ZoneInfo(timezone)))
    first = next(times, None)
    if first is None:
        return DAY
    previous = first.astimezone(UTC)
    gap = None
    for _ in range(GAP_SAMPLE):
        moment = next(times, None)
        if moment is None:
            break
        current = moment.astimezone(UTC)
        seconds = int((current - previous).total_seconds())
        gap = seconds if gap is None else min(gap, seconds)
        previous = current
    return gap if gap is not None and gap > 0 else DAY


def _retry(value: Any, on_partial: bool, fail: Callable[[str], ConfigError]) -> Retry:
    if value is None:
        return Retry(on_partial=on_partial)
    if not isinstance(value, dict) or set(value) - {"limit", "backoff", "on_partial", "__line__"}:
        raise fail("expected a mapping with `limit`, `backoff` (seconds) and `on_partial`")
    chosen = value.get("on_partial", on_partial)
    if not isinstance(chosen, bool):
        raise fail(f"on_partial: {chosen!r} is not true or false")
    return Retry(
        limit=whole_number(value.get("limit", 0), RETRY_LIMIT, lambda p: fail(f"limit: {p}")),
        backoff=whole_number(
            value.get("backoff", 60), RETRY_BACKOFF, lambda p: fail(f"backoff: {p}")
        ),
        on_partial=chosen,
    )


def daylight_saving_warnings(job: CronJob, start: datetime) -> list[str]:
    """Local times of the job that daylight saving skips or repeats in the next two years."""
    zone = job.zone
    warnings: list[str] = []
    moment = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = moment + LOOKAHEAD
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + timedelta(hours=1)
        shift = following.astimezone(zone).utcoffset()
        if shift != offset and shift is not None and offset is not None:
            after = following.astimezone(zone).replace(tzinfo=None)
            gap = shift - offset  # positive: clocks go forward and skip; negative: they repeat
            first = after - gap if gap > timedelta(0) else after
            changed = _local_hits(job, first, abs(gap))
            if changed:
                verb = "skips" if gap > timedelta(0) else "repeats"
                warnings.append(
                    f"job {job.name!r}: on {first.date()} daylight saving {verb} "
                    f"{', '.join(changed)} in {job.timezone}"
                )
        offset = shift
        moment = following
    return warnings


def _local_hits(job: CronJob, first: datetime, gap: timedelta) -> list[str]:
    """The job's local wall-clock times from `first` for `gap`: a skipped or repeated stretch."""
    hits = []
    for moment in CronSim(job.schedule, first - timedelta(minutes=1)):
        if moment >= first + gap:
            break
        hits.append(moment.strftime("%H:%M"))
    return hits
