"""`serve`: the board in a browser, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.arguments import SuggestingParser, whole
from pipeline.cli.base import EXIT_OK, Context, open_database
from pipeline.config.cron import CronJob, load_cron
from pipeline.config.sources import load_sources, select_sources
from storage.engine import open_engine, open_reader

if TYPE_CHECKING:
    from .base import Subcommands

DEFAULT_PORT = 8765
FETCHING = frozenset({"fetch", "run"})  # the commands that fetch sources
PORT = whole(1, 65535)


def add_serve(commands: Subcommands, common: SuggestingParser) -> None:
    """`serve`: measures, events, articles and sources as web pages and JSON."""
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="show measures, events, articles and sources in a browser (and as JSON under /api)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=PORT,
        default=DEFAULT_PORT,
        help=f"the port: {PORT.describe()} (default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name browsers may use besides 127.0.0.1 and localhost (repeatable)",
    )
    serve.add_argument(
        "--cron",
        type=Path,
        default=Path("cron.yaml"),
        metavar="PATH",
        help="the schedules, for when each source is fetched next (default: cron.yaml)",
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="take no reviews even when NEWSTRACK_REVIEW_TOKEN is set "
        "(without the token the board only reads)",
    )
    serve.set_defaults(handler=command_serve)


def command_serve(args: argparse.Namespace, context: Context) -> int:
    """Serve the board until interrupted."""
    import uvicorn  # only this command needs the server

    from pipeline.web import create_app
    from pipeline.web.app import LOCAL_HOSTS

    settings = context.settings
    url = settings.database_url
    with open_database(settings, existing=True):
        pass  # an older schema is brought up to date before the board reads it
    hosts = tuple(dict.fromkeys((*LOCAL_HOSTS, args.host, *args.allow_host)))
    schedule = fetch_schedule(context, args.cron)
    token = None if args.read_only else settings.review_token
    with open_reader(url) as engine, ExitStack() as stack:
        writer = stack.enter_context(open_engine(url)) if token else None
        mode = "takes reviews" if token else "read-only"
        logging.getLogger(__name__).info(
            "the board is on http://%s:%d/ (%s)", args.host, args.port, mode
        )
        uvicorn.run(
            create_app(engine, hosts, writer, token, schedule),
            host=args.host,
            port=args.port,
            log_level="warning",
            server_header=False,
        )
    return EXIT_OK


def fetch_schedule(context: Context, path: Path) -> dict[str, tuple[CronJob, ...]]:
    """The cron.yaml jobs that fetch each source of sources.yaml (none when either is missing)."""
    if not path.is_file() or not context.settings.sources_path.is_file():
        logging.getLogger(__name__).info("no %s or sources file: next fetches unknown", path)
        return {}
    sources = load_sources(context.settings.sources_path)
    found: dict[str, list[CronJob]] = {}
    for job in load_cron(path).jobs:
        words = context.read_command(job.command)
        if words.command not in FETCHING:
            continue
        for source in select_sources(sources, list(getattr(words, "source", None) or [])):
            found.setdefault(source.name, []).append(job)
    return {name: tuple(jobs) for name, jobs in found.items()}
