"""`review export`: analysts' reviews as labelled examples that `make train` can learn from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.base import EXIT_OK, Context, open_database
from storage.reviews import reviewed_examples

if TYPE_CHECKING:
    from .base import Subcommands


def register(commands: Subcommands, common: SuggestingParser) -> None:
    """`review` and its actions."""
    review = commands.add_parser("review", help="what analysts reviewed on the board")
    actions = review.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        parents=[common],
        help="write every reviewed article as a labelled example (the corpus's JSON lines)",
    )
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="the file to write (default: standard output)"
    )
    export.set_defaults(handler=command_export)


def command_export(args: argparse.Namespace, context: Context) -> int:
    """Write the reviewed examples, one JSON object a line, sorted by URL."""
    with open_database(context.settings, existing=True) as database, database.session() as session:
        examples = reviewed_examples(session)
    lines = "".join(json.dumps(example.record, ensure_ascii=False) + "\n" for example in examples)
    if args.out is None:
        sys.stdout.write(lines)
    else:
        partial = args.out.with_name(args.out.name + ".partial")
        partial.write_text(lines, encoding="utf-8")
        partial.replace(args.out)  # whole or not at all
        events = sum(example.events for example in examples)
        context.summary(
            {"examples": len(examples), "events": events, "file": str(args.out)},
            f"wrote {len(examples)} reviewed article(s) with {events} event(s) to {args.out}",
        )
    return EXIT_OK
