"""`watchlist list|add|remove`: the watchlists file, read and edited as its loader checks it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.vocabulary import load_vocabulary
from pipeline.cli.arguments import NumberType, SuggestingParser, watchlist_name
from pipeline.cli.base import EXIT_OK, Context
from pipeline.cli.output import write_rows
from pipeline.config.numbers import MIN_SOURCES
from pipeline.config.settings import Settings, environment
from pipeline.config.watchlists import (
    Watchlist,
    add_watchlist,
    load_watchlists,
    remove_watchlist,
    unset_variables,
)

if TYPE_CHECKING:
    from .base import Subcommands

MIN_SOURCES_OPTION = NumberType(MIN_SOURCES)
# The options of `watchlist add` that each add one filter, and the filter each fills.
FILTER_OPTIONS = {
    "element": "elements",
    "group": "groups",
    "measure": "measures",
    "action": "actions",
    "actor": "actors",
    "target": "targets",
    "modality": "modality",
}


def watchlists_file_option() -> SuggestingParser:
    """The --file option of the commands that read the watchlists."""
    option = SuggestingParser(add_help=False)
    option.add_argument(
        "--file",
        type=Path,
        default=None,
        metavar="PATH",
        help="default: NEWSTRACK_WATCHLISTS or watchlists.yaml",
    )
    return option


def watchlists_file(args: argparse.Namespace, settings: Settings) -> Path:
    """The watchlists file a command was given, or the settings' one."""
    path: Path = args.file or settings.watchlists_path
    return path


def register(commands: Subcommands, common: SuggestingParser) -> None:
    """`watchlist` and its actions."""
    parents = [common, watchlists_file_option()]
    watchlist = commands.add_parser("watchlist", help="list, add or remove watchlists")
    actions = watchlist.add_subparsers(dest="watchlist_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=parents, help="the watchlists and their filters")
    listing.set_defaults(handler=command_watchlist_list)
    adding = actions.add_parser("add", parents=parents, help="add a watchlist to the file")
    adding.add_argument("name", type=watchlist_name, help="a name for the watchlist")
    adding.add_argument(
        "--recipient", action="append", required=True, metavar="ADDRESS", help="repeatable"
    )
    for option in FILTER_OPTIONS:
        adding.add_argument(
            f"--{option}", action="append", default=[], metavar="NAME", help="filter (repeatable)"
        )
    adding.add_argument(
        "--min-sources",
        type=MIN_SOURCES_OPTION,
        default=1,
        metavar="N",
        help=MIN_SOURCES_OPTION.describe(),
    )
    adding.add_argument("--schedule", default="digest-daily", metavar="JOB", help="a cron.yaml job")
    adding.add_argument("--timezone", default="UTC", metavar="ZONE")
    adding.add_argument("--group-by", choices=("element", "measure"), default="element")
    adding.set_defaults(handler=command_watchlist_add)
    removing = actions.add_parser(
        "remove", parents=parents, help="remove a watchlist from the file"
    )
    removing.add_argument("name", type=watchlist_name)
    removing.set_defaults(handler=command_watchlist_remove)


def command_watchlist_list(args: argparse.Namespace, context: Context) -> int:
    """Print every watchlist with its recipients as written, schedule and filters."""
    path = watchlists_file(args, context.settings)
    watchlists = load_watchlists(path, load_vocabulary())  # `${VAR}` stays as written
    variables = environment()
    rows = []
    for item in watchlists:
        unset = unset_variables(item, variables)
        rows.append(
            (
                item.name,
                ", ".join(item.recipients),
                unset if context.as_json else ", ".join(unset),
                item.schedule,
                item.timezone,
                _described_filters(item),
            )
        )
    columns = ["name", "recipients", "unset_variables", "schedule", "timezone", "filters"]
    write_rows(sys.stdout, "json" if context.as_json else "table", columns, rows)
    return EXIT_OK


def _described_filters(watchlist: Watchlist) -> str:
    """A watchlist's filters in one line: each filter with its values, then the sources needed."""
    filters = watchlist.filters
    described = "; ".join(
        f"{name} {', '.join(sorted(values))}"
        for name, values in (
            ("elements", filters.elements),
            ("measures", filters.measures),
            ("actions", filters.actions),
            ("actors", filters.actors),
            ("targets", filters.targets),
            ("modality", filters.modality),
        )
        if values
    )
    if filters.min_sources > 1:
        described += f"; at least {filters.min_sources} sources"
    return described


def command_watchlist_add(args: argparse.Namespace, context: Context) -> int:
    """Add a watchlist, checked as the loader checks it."""
    path = watchlists_file(args, context.settings)
    filters: dict[str, Any] = {
        key: getattr(args, option)
        for option, key in FILTER_OPTIONS.items()
        if getattr(args, option)
    }
    if args.min_sources > 1:
        filters["min_sources"] = args.min_sources
    entry = {
        "name": args.name,
        "recipients": args.recipient,
        "filters": filters,
        "schedule": args.schedule,
        "timezone": args.timezone,
        "group_by": args.group_by,
    }
    add_watchlist(path, entry, load_vocabulary())
    print(f"added watchlist {args.name!r} to {path}")
    return EXIT_OK


def command_watchlist_remove(args: argparse.Namespace, context: Context) -> int:
    """Remove a watchlist by name."""
    path = watchlists_file(args, context.settings)
    remove_watchlist(path, args.name, load_vocabulary())
    print(f"removed watchlist {args.name!r} from {path}")
    return EXIT_OK
