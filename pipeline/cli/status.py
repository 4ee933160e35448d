"""`status`: where each measure stands on a day, with its dates and sources."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from models.errors import UsageError
from models.vocabulary import UnknownNameError, Vocabulary, load_vocabulary
from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.base import EXIT_OK, Context, open_database
from pipeline.cli.output import CELL_WIDTH, FORMATS, write_rows, write_table
from storage.measures import Report, measure_reports, measure_states

if TYPE_CHECKING:
    from .base import Subcommands

Resolved = TypeVar("Resolved")  # what the vocabulary resolves a name to


def add_status(commands: Subcommands, common: SuggestingParser) -> None:
    """`status`: what is in force, suspended or lifted on a day."""
    status = commands.add_parser(
        "status",
        parents=[common],
        help="what is in force, suspended or lifted on a day, with dates and sources",
    )
    status.add_argument(
        "--element",
        metavar="NAME",
        help="an element, symbol or group (dysprosium, Dy, heavy rare earths)",
    )
    status.add_argument(
        "--actor", metavar="WHO", help="who acts: a country code or name, or a body"
    )
    status.add_argument(
        "--target", metavar="WHO", help="whom it is aimed at: a country code or name"
    )
    status.add_argument(
        "--measure", metavar="TYPE", help="one type of measure (export_control ...)"
    )
    status.add_argument(
        "--on", type=_day, metavar="YYYY-MM-DD", help="the day to report on (default: today, UTC)"
    )
    status.add_argument("--format", choices=FORMATS, default="table")
    status.add_argument(
        "--wide", action="store_true", help="print table cells whole (URLs, long lists)"
    )
    status.set_defaults(handler=command_status)


def command_status(args: argparse.Namespace, context: Context) -> int:
    """Print where each matching measure stands on a day."""
    vocabulary = load_vocabulary()
    elements: tuple[str, ...] = ()
    if args.element:
        elements = _resolved(vocabulary.resolve_elements, "--element", args.element)
    actor, target = (
        _jurisdiction(vocabulary, option, value)
        for option, value in (("--actor", args.actor), ("--target", args.target))
    )
    measures = sorted({phrase.measure for phrase in vocabulary.measure_phrases})
    if args.measure and args.measure not in measures:
        raise UsageError(f"--measure {args.measure!r}: one of {', '.join(measures)}")
    on = args.on or datetime.now(UTC).date()
    output_format = "json" if context.as_json else args.format
    structured = output_format in ("json", "jsonl")
    # an older schema is brought up to date; none is never created
    with open_database(context.settings, existing=True) as database, database.session() as session:
        states = measure_states(session, on, elements, actor, target, args.measure)
        reports = (
            measure_reports(session, [state.measure_id for state in states]) if structured else {}
        )

    def day(moment: datetime | None) -> date | None:
        return moment.date() if moment else None

    def names(values: Sequence[str]) -> list[str] | str:
        return list(values) if structured else ", ".join(values)

    columns = [
        "measure_id", "actor", "actor_body", "measure", "state", "since", "confirmed", "until", "by",
        "elements", "targets", "sources", "articles", "first_reported", "first_url",
        "latest_reported", "latest_url", "reviewed",
    ]  # fmt: skip
    rows: list[tuple[Any, ...]] = [
        (
            state.measure_id,
            state.actor,
            state.actor_body,
            state.measure,
            state.state,
            state.since,
            state.confirmed,
            state.until,
            state.action,
            names(state.elements),
            names(state.targets),
            state.sources,
            state.articles,
            day(state.first_reported),
            state.first_url,
            day(state.latest_reported),
            state.latest_url,
            state.reviewed or None,
        )
        for state in states
    ]
    if structured:  # every report of the measure, earliest first
        columns.append("reports")
        rows = [
            (*row, [_report_json(report) for report in reports.get(state.measure_id, [])])
            for row, state in zip(rows, states, strict=True)
        ]
    if output_format == "table":
        print(f"status on {on.isoformat()}")
        write_table(sys.stdout, columns, rows, cell_width=None if args.wide else CELL_WIDTH)
    else:
        write_rows(sys.stdout, output_format, columns, rows)
    return EXIT_OK


def _report_json(report: Report) -> dict[str, Any]:
    """One report of a measure in `status --format json`."""
    return {
        "title": report.title,
        "url": report.url,
        "published": report.published.isoformat() if report.published else None,
        "source": report.source,
    }


def _jurisdiction(vocabulary: Vocabulary, option: str, value: str | None) -> str | None:
    if value is None:
        return None
    return _resolved(vocabulary.resolve_jurisdiction, option, value)


def _resolved(resolve: Callable[[str], Resolved], option: str, value: str) -> Resolved:
    """A name resolved by the vocabulary; an unknown one is a usage error naming the option."""
    try:
        return resolve(value)
    except UnknownNameError as error:
        raise UsageError(f"{option} {error}") from None


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
