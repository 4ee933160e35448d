"""`cron render`: cron.yaml as a crontab for `cron tick`, or as Kubernetes CronJobs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import UsageError
from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.base import EXIT_OK, Context, log
from pipeline.cli.watchlist import watchlists_file
from pipeline.config import cron as schedule
from pipeline.config.cron import CronJob
from pipeline.config.settings import (
    DATABASE_VARIABLE,
    DISTRIBUTED_VARIABLE,
    SECRET_VARIABLES,
    SOURCES_VARIABLE,
    WATCHLISTS_VARIABLE,
    Settings,
    read_variables,
)
from pipeline.config.watchlists import recipient_variables
from pipeline.running.deploy import (
    JobNeeds,
    crontab,
    env_file_text,
    kubernetes_manifests,
    missing_variables,
)
from storage.engine import parse_database_url

if TYPE_CHECKING:
    from .base import Subcommands


def add_render(actions: Subcommands, parents: list[SuggestingParser]) -> None:
    """`cron render`, among the actions of `cron`."""
    render = actions.add_parser(
        "render",
        parents=parents,
        help="print the crontab for `cron tick` with the jobs' environment, or Kubernetes CronJobs",
    )
    target = render.add_mutually_exclusive_group(required=True)
    target.add_argument("--crontab", action="store_true", help="the system crontab")
    target.add_argument(
        "--k8s", action="store_true", help="a ConfigMap and one Kubernetes CronJob per job"
    )
    render.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="write the jobs' environment to this file (mode 600), which the crontab reads",
    )
    render.add_argument(
        "--image", default="newstrack:latest", metavar="IMAGE", help="container image (--k8s)"
    )
    render.add_argument(
        "--secret",
        default="newstrack",
        metavar="NAME",
        help="Kubernetes Secret: `database-url` is NEWSTRACK_DB, other keys the variables they name",
    )
    render.add_argument(
        "--config-map",
        default="newstrack-config",
        metavar="NAME",
        help="Kubernetes ConfigMap holding cron.yaml, sources.yaml, watchlists.yaml (--k8s)",
    )
    render.set_defaults(handler=command_cron_render)


def command_cron_render(args: argparse.Namespace, context: Context) -> int:
    """Print the crontab for `cron tick`, or a ConfigMap and one Kubernetes CronJob per job."""
    settings = context.settings
    cron = schedule.load_cron(args.file, context.check_command)
    needs = [job_needs(job, context) for job in cron.jobs]
    if args.k8s:
        if args.env_file is not None:
            raise UsageError("--env-file goes with --crontab")
        files = {
            args.file.name: args.file,
            **{path.name: path for n in needs for _, path in n.files},
        }
        contents = {name: _config_text(path) for name, path in files.items()}
        manifests = kubernetes_manifests(
            cron, needs, contents, args.image, args.secret, args.config_map, settings.distributed
        )
        print(manifests, end="")
        return EXIT_OK
    names = dict.fromkeys(name for need in needs for name in (*need.variables, *need.required))
    found = read_variables(names)
    missing_variables(needs, found)
    environment = _crontab_settings(needs, settings)
    environment |= {name: value for name, value in found.items() if name not in environment}
    folder = Path.cwd()
    newstrack = Path(sys.executable).with_name("newstrack")
    if args.env_file is None:
        secrets = sorted(set(environment) & SECRET_VARIABLES)
        if parse_database_url(settings.database_url).password:
            secrets.insert(0, DATABASE_VARIABLE)
        if secrets:
            log.warning(
                "the crontab holds %s; --env-file PATH keeps them in a file only you can read",
                ", ".join(secrets),
            )
        print(crontab(cron, newstrack, folder, environment), end="")
        return EXIT_OK
    env_file = args.env_file.resolve()
    env_file.touch(mode=0o600)
    env_file.chmod(0o600)  # before the secrets go in
    env_file.write_text(env_file_text(environment), encoding="utf-8")
    print(crontab(cron, newstrack, folder, environment, env_file), end="")
    return EXIT_OK


def job_needs(job: CronJob, context: Context) -> JobNeeds:
    """What a cron.yaml job's command reads: its settings, files, and the variables it requires."""
    args = context.read_command(job.command)
    variables: tuple[str, ...] = getattr(args, "reads", ())
    sources = getattr(args, "sources", None) or context.settings.sources_path
    files = [(SOURCES_VARIABLE, sources)]
    required: list[str] = []
    if getattr(args, "mails", False):  # a digest: to its watchlists' recipients
        path = watchlists_file(args, context.settings)
        files.append((WATCHLISTS_VARIABLE, path))
        required = recipient_variables(path)
    return JobNeeds(job, variables, tuple(required), tuple(files))


def _crontab_settings(needs: list[JobNeeds], settings: Settings) -> dict[str, str]:
    """The database and files the jobs use here, absolute so that cron's folder does not matter."""
    database_url = settings.database_url
    url = parse_database_url(database_url)
    database = url.database or ""
    # A relative file is relative to where cron runs; a URI (file:...) names its own path.
    local_file = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and local_file:
        resolved = url.set(database=str(Path(database).expanduser().resolve()))
        database_url = resolved.render_as_string(hide_password=False)
    if settings.distributed and url.get_backend_name() != "postgresql":
        raise UsageError("NEWSTRACK_DISTRIBUTED needs NEWSTRACK_DB to be a PostgreSQL URL")
    found = {DATABASE_VARIABLE: database_url}
    if settings.distributed:
        found[DISTRIBUTED_VARIABLE] = "1"
    for need in needs:
        for name, path in need.files:
            found[name] = str(path.resolve())
    return found


def _config_text(path: Path) -> str:
    """A configuration file's text, for the ConfigMap; a missing one is a usage error."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
