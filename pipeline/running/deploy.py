"""cron.yaml rendered for the system crontab and for Kubernetes, with what its jobs need to run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypedDict

import yaml

from models.errors import UsageError
from pipeline.config.cron import CronFile, CronJob
from pipeline.config.settings import DATABASE_VARIABLE

CONFIG_FOLDER = PurePosixPath("/app/config")  # where the image's jobs find the mounted files
DATABASE_KEY = "database-url"  # the Secret's key holding NEWSTRACK_DB
CONCURRENCY_POLICY = {"forbid": "Forbid", "allow": "Allow", "replace": "Replace"}
LOG_FILE = "newstrack-cron.log"
TICK = "newstrack -q cron tick"  # what a CronJob's container runs, its job named in its arguments


class Container(TypedDict):
    """A Kubernetes container, as a CronJob's pod runs it."""

    name: str
    image: str
    workingDir: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    volumeMounts: list[dict[str, Any]]


@dataclass(frozen=True)
class JobNeeds:
    """What one job's command reads from its environment and from files."""

    job: CronJob
    variables: tuple[str, ...]  # settings it reads, handed on when set
    required: tuple[str, ...] = ()  # variables it cannot run without (a watchlist's `${VAR}`)
    files: tuple[tuple[str, Path], ...] = ()  # (variable naming it, file) it reads


def missing_variables(needs: Sequence[JobNeeds], environment: Mapping[str, str]) -> None:
    """Refuse, naming the job and the variable, when a job needs a variable that is not set."""
    for need in needs:
        for name in need.required:
            if not environment.get(name, "").strip():
                raise UsageError(
                    f"job {need.job.name!r} ({' '.join(('newstrack', *need.job.command))}) "
                    f"needs {name}, which is not set: set it and render again"
                )


def crontab(
    cron: CronFile,
    newstrack: Path,
    folder: Path,
    environment: Mapping[str, str],
    env_file: Path | None = None,
) -> str:
    """The crontab: the jobs' environment, then one line ticking every minute.

    With `env_file`, the variables live in that file, which the line reads, and the crontab holds
    none of their values.
    """
    header = [
        f"# newstrack: `newstrack cron tick` every minute runs what {cron.path.resolve()} says is due.",
        "# Rendered by `newstrack cron render --crontab`; install with `crontab FILE`.",
    ]
    tick = (
        f"cd {shlex.quote(str(folder))} && {shlex.quote(str(newstrack))} -q cron tick --file "
        f"{shlex.quote(str(cron.path.resolve()))} >> {shlex.quote(str(folder / LOG_FILE))} 2>&1"
    )
    if env_file is not None:
        quoted = shlex.quote(str(env_file))
        line = f"* * * * * . {quoted} && {tick}"
        return "\n".join([*header, _cron_command(line)]) + "\n"
    lines = [f"{name}={_cron_value(name, value)}" for name, value in environment.items()]
    return "\n".join([*header, *lines, _cron_command(f"* * * * * {tick}")]) + "\n"


def env_file_text(environment: Mapping[str, str]) -> str:
    """A shell file exporting the jobs' environment, for the crontab line to read."""
    lines = ["# newstrack's scheduled jobs read these; keep this file private (mode 600)."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]
    return "\n".join(lines) + "\n"


def _cron_value(name: str, value: str) -> str:
    """A value for a crontab `NAME=value` line: cron strips one pair of matching quotes."""
    if "\n" in value or ('"' in value and "'" in value):
        raise UsageError(f"{name}: a crontab cannot hold this value; use --env-file PATH")
    return f"'{value}'" if '"' in value else f'"{value}"'


def _cron_command(line: str) -> str:
    """A crontab command line: cron turns an unescaped % into a newline."""
    return line.replace("%", "\\%")


def kubernetes_manifests(
    cron: CronFile,
    needs: Sequence[JobNeeds],
    files: Mapping[str, str],
    image: str,
    secret: str,
    config_map: str,
    distributed: bool = False,
) -> str:
    """A ConfigMap of the configuration files and one batch/v1 CronJob per job, as YAML."""
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map, "labels": {"app.kubernetes.io/name": "newstrack"}},
            "data": dict(files),
        }
    ]
    for need in needs:
        documents.append(_cronjob(cron, need, image, secret, config_map, distributed))
    return yaml.dump_all(documents, Dumper=_BlockDumper, sort_keys=False)


class _BlockDumper(yaml.SafeDumper):
    """YAML that keeps a file's text readable: multi-line strings as literal blocks."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _string)


def _cronjob(
    cron: CronFile, need: JobNeeds, image: str, secret: str, config_map: str, distributed: bool
) -> dict[str, Any]:
    job = need.job
    environment: list[dict[str, Any]] = [
        _from_secret(DATABASE_VARIABLE, secret, DATABASE_KEY, optional=False)
    ]
    environment += [
        {"name": name, "value": str(CONFIG_FOLDER / path.name)} for name, path in need.files
    ]
    if distributed:
        environment.append({"name": "NEWSTRACK_DISTRIBUTED", "value": "1"})
    environment += [_from_secret(name, secret, name, optional=False) for name in need.required]
    handed = {entry["name"] for entry in environment}
    environment += [
        _from_secret(name, secret, name, optional=True)
        for name in need.variables
        if name not in handed
    ]
    container: Container = {
        "name": "newstrack",
        "image": image,
        "workingDir": str(CONFIG_FOLDER),
        # Through job_runs: a Kubernetes retry of a run that already happened does nothing.
        "command": shlex.split(TICK),
        "args": [
            "--file",
            str(CONFIG_FOLDER / cron.path.name),
            "--job",
            job.name,
            # The pod runs only when the job is due: it stays for the retries its run may need.
            *(["--wait-for-retries"] if job.retry.limit else []),
        ],
        "env": environment,
        "volumeMounts": [{"name": "config", "mountPath": str(CONFIG_FOLDER), "readOnly": True}],
    }
    spec: dict[str, Any] = {
        "schedule": job.schedule,
        "timeZone": job.timezone,
        "concurrencyPolicy": CONCURRENCY_POLICY[job.concurrency],
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "spec": {
                # Retries are newstrack's (job_runs): a pod retried by Kubernetes would find
                # its run already claimed and do nothing.
                "backoffLimit": 0,
                "activeDeadlineSeconds": longest_run(job),
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "newstrack"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "securityContext": {"runAsNonRoot": True},
                        "containers": [container],
                        "volumes": [{"name": "config", "configMap": {"name": config_map}}],
                    },
                },
            }
        },
    }
    if job.starting_deadline is not None:
        spec["startingDeadlineSeconds"] = job.starting_deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": kubernetes_name(job.name),
            "labels": {"app.kubernetes.io/name": "newstrack", "newstrack/job": job.name},
            "annotations": {"newstrack/description": job.description},
        },
        "spec": spec,
    }


def longest_run(job: CronJob) -> int:
    """Seconds a job's pod may take: every attempt to its timeout, and the waits between them."""
    waits = sum(
        job.retry.delay(attempt).total_seconds() for attempt in range(1, job.retry.limit + 1)
    )
    return job.timeout * (job.retry.limit + 1) + int(waits)


def _from_secret(name: str, secret: str, key: str, optional: bool) -> dict[str, Any]:
    reference = {"name": secret, "key": key, "optional": optional}
    return {"name": name, "valueFrom": {"secretKeyRef": reference}}


def kubernetes_name(name: str) -> str:
    """A CronJob name from a job name: lower-case DNS label, at most 52 characters."""
    label = re.sub(r"[^a-z0-9-]+", "-", f"newstrack-{name}".lower()).strip("-")
    return label[:52].rstrip("-")
